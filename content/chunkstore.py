"""A directory of content-addressed chunks and manifests.

Layout (shared by the swarm, which writes chunks as they arrive, the seeder, which serves them,
and the player, which reads them; other processes may use the same directory at the same time):

    <root>/<hex content id>.manifest     canonical manifest bytes (see content/format.py)
    <root>/packs/<hex content id>.pack   the chunks of that content, chunk i at i * stride
    <root>/packs/<hex content id>.have   one byte per chunk: 1 once chunk i is stored and durable
    <root>/<first 2 hex of chunk id>/<hex chunk id>   a loose chunk, exactly as hashed

A chunk whose content's manifest is stored goes into that content's pack; one that arrives
before any manifest naming it is stored loose, in a file of its own (stores written by earlier
versions hold every chunk loose, and are read as they are). A pack's ``stride`` is the chunk's
stored length rounded up to :data:`DIRECT_ALIGN`, so every chunk starts on a block boundary.

Why packs: a file per chunk costs the file system an inode for every 256 KiB, and allocating
inodes is not cheap everywhere (ext4 without a journal scans past every recently deleted inode
for each new one). Writing a chunk into a pack is one positioned write into a file that exists.

A chunk appears only once its bytes are complete, verified and durable: its bytes are written
and fdatasynced before its byte in the ``.have`` file is set (loose chunks: written to a temporary
name, fsynced, renamed). A reader checks that byte first, so it sees a whole, verified chunk or
nothing, even after a crash; a crash can only lose the mark of a chunk, which is then fetched
again.

Chunk bytes are written with ``O_DIRECT`` where the platform and the file system allow it: from a
page-aligned buffer straight to the disk, past the page cache. Buffered writes of new data cost
the kernel three to six times the CPU (allocating and later writing back cache pages), CPU that a
download needs for decrypting the next chunks; and a seeder pinning gigabytes would otherwise push
everything else out of the cache. A chunk's tail that is not a whole number of blocks, and every
chunk on a file system that refuses ``O_DIRECT`` (the first refusal switches the store to buffered
writes), are written buffered.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from content.format import ContentError, Manifest, content_hash, decode_manifest, manifest_id

try:
    import fcntl
except ImportError:  # Windows: no O_DIRECT either
    fcntl = None  # type: ignore[assignment]

#: Alignment of ``O_DIRECT`` writes (buffer address, file offset and length) and of chunks in a
#: pack: a page, which is a whole number of logical blocks on every common disk.
DIRECT_ALIGN = mmap.PAGESIZE
#: How often, at most, a lookup that misses rescans the directory for manifests written by
#: another process (a peer asking for chunks we lack must not make us list it every time).
RESCAN_INTERVAL = 1.0

_O_DIRECT: int = getattr(os, "O_DIRECT", 0)
_O_BINARY: int = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def _pwrite(fd: int, data: memoryview | bytes, offset: int) -> int:
    if hasattr(os, "pwrite"):
        return os.pwrite(fd, data, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows; every fd here belongs to one call
    return os.write(fd, data)


def _pread(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


log = logging.getLogger(__name__)


def stride(manifest: Manifest) -> int:
    """Bytes between the starts of two chunks in a pack of ``manifest``'s content."""
    return -(-manifest.stored_length(0) // DIRECT_ALIGN) * DIRECT_ALIGN


@dataclass(frozen=True)
class ChunkLocation:
    """Where a stored chunk's bytes are: ``length`` bytes at ``offset`` of ``path``."""

    path: Path
    offset: int
    length: int


class ChunkStore:
    """Content-addressed storage for manifests and chunks under one directory.

    Safe to use from several threads at once. ``direct_io``: write chunks with ``O_DIRECT``
    where possible (the default; ``False`` writes through the page cache)."""

    def __init__(self, root: Path, direct_io: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.packs = self.root / "packs"
        self.direct_io = bool(direct_io and _O_DIRECT and fcntl is not None)
        self._aligned = threading.local()  # one aligned buffer per writing thread
        self._lock = threading.Lock()  # guards the three maps below
        self._manifests: dict[bytes, Manifest] = {}  # content id -> manifest, as indexed
        self._where: dict[bytes, list[tuple[bytes, int]]] = {}  # chunk id -> (content, index)
        self._scan_lock = threading.Lock()  # one rescan at a time
        self._scanned_at = float("-inf")

    # -- paths -----------------------------------------------------------------------------------
    def manifest_path(self, content_id: bytes) -> Path:
        return self.root / f"{content_id.hex()}.manifest"

    def chunk_path(self, chunk_id: bytes) -> Path:
        """The path of ``chunk_id`` stored loose (see the module docstring)."""
        h = chunk_id.hex()
        return self.root / h[:2] / h

    def pack_path(self, content_id: bytes) -> Path:
        return self.packs / f"{content_id.hex()}.pack"

    def have_path(self, content_id: bytes) -> Path:
        return self.packs / f"{content_id.hex()}.have"

    # -- the index of manifests ------------------------------------------------------------------
    def _index(self, content_id: bytes, manifest: Manifest) -> None:
        with self._lock:
            if content_id in self._manifests:
                return
            self._manifests[content_id] = manifest
            for index, chunk_id in enumerate(manifest.chunks):
                self._where.setdefault(chunk_id, []).append((content_id, index))

    def _unindex(self, content_id: bytes) -> None:
        with self._lock:
            manifest = self._manifests.pop(content_id, None)
            if manifest is None:
                return
            for chunk_id in set(manifest.chunks):
                places = [p for p in self._where.get(chunk_id, ()) if p[0] != content_id]
                if places:
                    self._where[chunk_id] = places
                else:
                    self._where.pop(chunk_id, None)

    def _rescan(self, force: bool = False) -> None:
        """Index manifests that another process (or an earlier run) stored. A caller that
        finds a scan under way waits for it instead of starting another."""
        with self._scan_lock:
            if not force and time.monotonic() - self._scanned_at < RESCAN_INTERVAL:
                return
            for content_id in self.content_ids():
                if content_id not in self._manifests:
                    try:
                        self.manifest(content_id)
                    except ContentError as exc:  # damaged on disk: its chunks stay unknown
                        log.warning("skipping manifest %s: %s", content_id.hex(), exc)
            self._scanned_at = time.monotonic()

    def _places(self, chunk_id: bytes) -> list[tuple[bytes, int]]:
        places = self._where.get(chunk_id)
        if places is None:
            self._rescan()
            with self._lock:  # a manifest being indexed by another thread is then complete
                places = self._where.get(chunk_id, [])
        return list(places)

    # -- writing ---------------------------------------------------------------------------------
    def _write_atomic(self, path: Path, data: bytes | memoryview, direct: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            try:
                with memoryview(data) as view:
                    self._write_at(fd, view, 0, direct)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _write_at(self, fd: int, view: memoryview, offset: int, direct: bool) -> None:
        """Write all of ``view`` at ``offset`` of ``fd``: the whole blocks at its start with
        ``O_DIRECT`` when ``direct`` and the store allows it, the rest (or all) buffered, the
        latter straight from the caller's buffer."""
        written = self._write_direct(fd, view, offset) if direct and self.direct_io else 0
        while written < len(view):
            written += _pwrite(fd, view[written:], offset + written)

    def _write_direct(self, fd: int, view: memoryview, offset: int) -> int:
        """Write the whole blocks at the start of ``view`` at ``offset`` (block-aligned) of
        ``fd`` with ``O_DIRECT``; returns how many bytes were written (0 if the file system
        refused, after which this store writes buffered). ``fd`` is left without the flag."""
        assert fcntl is not None
        size = len(view) - len(view) % DIRECT_ALIGN
        if not size:
            return 0
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | _O_DIRECT)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                raise
            self.direct_io = False  # no direct I/O on this file system (tmpfs before Linux 6.6)
            return 0
        try:
            buffer = self._aligned_buffer(size)
            buffer[:size] = view[:size]
            with memoryview(buffer) as aligned:
                written = os.pwrite(fd, aligned[:size], offset)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self.direct_io = False  # took the flag, refused the write: write it buffered
            written = 0
        finally:
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)
        return written

    def _aligned_buffer(self, size: int) -> mmap.mmap:
        """A page-aligned buffer of at least ``size`` bytes, kept per thread (chunks are
        written from several worker threads at once)."""
        buffer: mmap.mmap | None = getattr(self._aligned, "buffer", None)
        if buffer is None or len(buffer) < size:
            buffer = mmap.mmap(-1, size)
            self._aligned.buffer = buffer
        return buffer

    def put_manifest(self, manifest_bytes: bytes, expected_id: bytes | None = None) -> Manifest:
        """Validate and store manifest bytes; returns the decoded manifest."""
        manifest = decode_manifest(manifest_bytes, expected_id)
        content_id = manifest_id(manifest_bytes)
        path = self.manifest_path(content_id)
        if not path.exists():
            self._write_atomic(path, manifest_bytes)
        self._index(content_id, manifest)
        return manifest

    def put_chunk(self, data: bytes | memoryview, expected_id: bytes | None = None) -> bytes:
        """Store one chunk; with ``expected_id`` a chunk whose hash differs is refused.

        ``data`` may be any bytes-like object (a view into a reused receive buffer); it is
        hashed and written where it is, without a copy. It is stored once: in the pack of the
        first stored content that names it (a loose copy is then removed), or loose if no stored
        manifest names it; other content naming it reads it from there (``locate``), so content
        that shares chunks with many others costs its chunks once, not once per manifest."""
        chunk_id = content_hash(data)
        if expected_id is not None and chunk_id != expected_id:
            raise ContentError("chunk does not match its expected hash")
        packed = False
        with memoryview(data) as view:
            places = [
                (content_id, index, manifest)
                for content_id, index in self._places(chunk_id)
                if (manifest := self._manifests.get(content_id)) is not None  # not removed
            ]
            if places:
                packed = True
                if not any(self._have(content_id, index) for content_id, index, _ in places):
                    content_id, index, manifest = places[0]
                    self._write_packed(content_id, manifest, index, view)
            loose = self.chunk_path(chunk_id)
            if packed:
                loose.unlink(missing_ok=True)  # it came before its manifest; now it is packed
            elif not loose.exists():
                self._write_atomic(loose, view, direct=True)
        return chunk_id

    def _write_packed(
        self, content_id: bytes, manifest: Manifest, index: int, view: memoryview
    ) -> None:
        self.packs.mkdir(exist_ok=True)
        fd = os.open(self.pack_path(content_id), os.O_RDWR | os.O_CREAT | _O_BINARY, 0o600)
        try:
            self._write_at(fd, view, index * stride(manifest), direct=True)
            os.fdatasync(fd)  # the bytes are durable before they are marked
        finally:
            os.close(fd)
        self._mark(content_id, index, True)

    def _mark(self, content_id: bytes, index: int, have: bool) -> None:
        fd = os.open(self.have_path(content_id), os.O_RDWR | os.O_CREAT | _O_BINARY, 0o600)
        try:
            _pwrite(fd, b"\x01" if have else b"\x00", index)
        finally:
            os.close(fd)

    def put_packed(self, manifest_bytes: bytes, chunks: list[bytes] | tuple[bytes, ...]) -> bytes:
        """Store a whole packed track (manifest and every chunk); returns its content ID."""
        manifest = self.put_manifest(manifest_bytes)
        for index, data in enumerate(chunks):
            manifest.check_chunk(index, data)
            self.put_chunk(data)
        return manifest_id(manifest_bytes)

    def discard_chunk(self, chunk_id: bytes) -> None:
        """Forget a stored chunk everywhere (its bytes came from a peer that was cut off)."""
        for content_id, index in self._places(chunk_id):
            if self._have(content_id, index):
                self._mark(content_id, index, False)
        self.chunk_path(chunk_id).unlink(missing_ok=True)

    def _hand_over_shared(self, content_id: bytes, manifest: Manifest, keep: set[bytes]) -> int:
        """Before ``content_id``'s pack goes: copy each chunk it holds that other stored content
        names (``keep``) and holds nowhere else into the first such content's pack, since a
        shared chunk is stored once. Returns the bytes copied."""
        have = self._have_map(content_id)
        moved = 0
        for index, chunk_id in enumerate(manifest.chunks):
            if chunk_id not in keep or index >= len(have) or have[index] != 1:
                continue
            others = [p for p in self._places(chunk_id) if p[0] != content_id]
            if any(self._have(c, i) for c, i in others):
                continue
            data = self.get_chunk(chunk_id)
            for other, other_index in others:
                other_manifest = self._manifests.get(other)
                if other_manifest is not None and data is not None:
                    with memoryview(data) as view:
                        self._write_packed(other, other_manifest, other_index, view)
                    moved += len(data)
                    break
        return moved

    # -- reading ---------------------------------------------------------------------------------
    def _have_map(self, content_id: bytes) -> bytes:
        try:
            return self.have_path(content_id).read_bytes()
        except FileNotFoundError:
            return b""

    def _packed_bytes(self, content_id: bytes, manifest: Manifest) -> int:
        """Bytes of the chunks marked whole in ``content_id``'s pack."""
        have = self._have_map(content_id)
        return sum(
            manifest.stored_length(i)
            for i in range(min(len(have), len(manifest.chunks)))
            if have[i] == 1
        )

    def _have(self, content_id: bytes, index: int) -> bool:
        try:
            fd = os.open(self.have_path(content_id), os.O_RDONLY | _O_BINARY)
        except FileNotFoundError:
            return False
        try:
            return _pread(fd, 1, index) == b"\x01"
        finally:
            os.close(fd)

    def has_manifest(self, content_id: bytes) -> bool:
        return self.manifest_path(content_id).exists()

    def manifest_bytes(self, content_id: bytes) -> bytes | None:
        try:
            return self.manifest_path(content_id).read_bytes()
        except FileNotFoundError:
            return None

    def manifest(self, content_id: bytes) -> Manifest | None:
        data = self.manifest_bytes(content_id)
        if data is None:
            return None
        manifest = decode_manifest(data, content_id)
        self._index(content_id, manifest)
        return manifest

    def holders(self, chunk_id: bytes) -> list[bytes]:
        """The stored content IDs whose manifests name ``chunk_id``."""
        return [content_id for content_id, _ in self._places(chunk_id)]

    def locate(self, chunk_id: bytes, besides: bytes | None = None) -> ChunkLocation | None:
        """Where the bytes of a stored chunk are; None if it is not stored. ``besides``: a
        content whose pack the caller has already looked in."""
        for content_id, index in self._places(chunk_id):
            if content_id == besides:
                continue
            manifest = self._manifests.get(content_id)
            if manifest is not None and self._have(content_id, index):
                return ChunkLocation(
                    self.pack_path(content_id),
                    index * stride(manifest),
                    manifest.stored_length(index),
                )
        path = self.chunk_path(chunk_id)
        try:
            return ChunkLocation(path, 0, path.stat().st_size)
        except FileNotFoundError:
            return None

    @staticmethod
    def read_into(where: ChunkLocation, view: memoryview) -> bool:
        """Fill ``view`` (at most ``where.length`` bytes) from the start of a located chunk;
        False if the file has gone or is shorter than it was when located."""
        try:
            with open(where.path, "rb", buffering=0) as file:
                file.seek(where.offset)
                at = 0
                while at < len(view):
                    got = file.readinto(view[at:])
                    if not got:
                        return False
                    at += got
        except FileNotFoundError:
            return False
        return True

    def has_chunk(self, chunk_id: bytes) -> bool:
        return self.locate(chunk_id) is not None

    def get_chunk(self, chunk_id: bytes) -> bytes | None:
        for _ in range(3):  # a loose chunk may be removed, and a packed one unmarked, meanwhile
            where = self.locate(chunk_id)
            if where is None:
                return None
            try:
                with open(where.path, "rb", buffering=0) as file:
                    data = _pread(file.fileno(), where.length, where.offset)
            except FileNotFoundError:
                continue
            if len(data) == where.length:
                return data
        return None

    def missing_chunks(self, manifest: Manifest) -> list[int]:
        """Indexes of the chunks of ``manifest`` not yet stored (the resume point of a download)."""
        content_id = manifest.content_id
        self._index(content_id, manifest)
        have = self._have_map(content_id)
        return [
            i
            for i, c in enumerate(manifest.chunks)
            if not (i < len(have) and have[i] == 1) and self.locate(c, besides=content_id) is None
        ]

    def is_complete(self, content_id: bytes) -> bool:
        manifest = self.manifest(content_id)
        return manifest is not None and not self.missing_chunks(manifest)

    def content_ids(self) -> list[bytes]:
        """Every content ID whose manifest is stored (files not named by one are ignored)."""
        found = []
        for path in self.root.glob("*.manifest"):
            try:
                found.append(bytes.fromhex(path.stem))
            except ValueError:
                continue
        return sorted(found)

    def size_on_disk(self) -> int:
        """Bytes of stored manifests and chunks (a pack counts the chunks it holds)."""
        total = 0
        for path in self.root.rglob("*"):
            if not path.is_file() or path.suffix == ".pack":
                continue
            if path.suffix == ".have":
                content_id = bytes.fromhex(path.stem)
                manifest = self._manifests.get(content_id) or self.manifest(content_id)
                if manifest is not None:
                    total += self._packed_bytes(content_id, manifest)
                continue
            total += path.stat().st_size
        return total

    def remove_content(self, content_id: bytes) -> int:
        """Unpin: delete a manifest, its pack and its loose chunks (loose chunks that other
        stored content names are kept). Returns the bytes freed, as size_on_disk counts them."""
        manifest = self.manifest(content_id)
        if manifest is None:
            return 0
        freed = self._packed_bytes(content_id, manifest)
        self._rescan(force=True)
        keep: set[bytes] = set()
        with self._lock:
            for other, m in self._manifests.items():
                if other != content_id:
                    keep.update(m.chunks)
        for chunk_id in set(manifest.chunks):
            path = self.chunk_path(chunk_id)
            if chunk_id not in keep and path.exists():
                freed += path.stat().st_size
                path.unlink()
        freed -= self._hand_over_shared(content_id, manifest, keep)
        self.have_path(content_id).unlink(missing_ok=True)  # unmarked first: no reader trusts
        self.pack_path(content_id).unlink(missing_ok=True)  # the pack once it goes
        self.manifest_path(content_id).unlink(missing_ok=True)
        self._unindex(content_id)
        return freed
