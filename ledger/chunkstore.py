"""A directory of content-addressed chunks and manifests.

Layout (shared by the swarm, which writes chunks as they arrive, and the player, which reads them):

    <root>/<hex content id>.manifest     canonical manifest bytes (see ledger/content.py)
    <root>/<first 2 hex of chunk id>/<hex chunk id>   one stored chunk, exactly as hashed

A chunk file appears only once its bytes are complete and verified: it is written to a temporary
name in the same folder, fsynced, then renamed. A reader therefore either sees a whole, verified
chunk or nothing, even after a crash.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ledger.content import ContentError, Manifest, content_hash, decode_manifest, manifest_id


class ChunkStore:
    """Content-addressed storage for manifests and chunks under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- paths -----------------------------------------------------------------------------------
    def manifest_path(self, content_id: bytes) -> Path:
        return self.root / f"{content_id.hex()}.manifest"

    def chunk_path(self, chunk_id: bytes) -> Path:
        h = chunk_id.hex()
        return self.root / h[:2] / h

    # -- writing ---------------------------------------------------------------------------------
    def _write_atomic(self, path: Path, data: bytes | memoryview) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            try:
                with memoryview(data) as view:  # written straight from the caller's buffer
                    written = 0
                    while written < len(view):
                        written += os.write(fd, view[written:])
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_manifest(self, manifest_bytes: bytes, expected_id: bytes | None = None) -> Manifest:
        """Validate and store manifest bytes; returns the decoded manifest."""
        manifest = decode_manifest(manifest_bytes, expected_id)
        path = self.manifest_path(manifest_id(manifest_bytes))
        if not path.exists():
            self._write_atomic(path, manifest_bytes)
        return manifest

    def put_chunk(self, data: bytes | memoryview, expected_id: bytes | None = None) -> bytes:
        """Store one chunk; with ``expected_id`` a chunk whose hash differs is refused.

        ``data`` may be any bytes-like object (a view into a reused receive buffer); it is
        hashed and written where it is, without a copy."""
        chunk_id = content_hash(data)
        if expected_id is not None and chunk_id != expected_id:
            raise ContentError("chunk does not match its expected hash")
        path = self.chunk_path(chunk_id)
        if not path.exists():
            self._write_atomic(path, data)
        return chunk_id

    def put_packed(self, manifest_bytes: bytes, chunks: list[bytes] | tuple[bytes, ...]) -> bytes:
        """Store a whole packed track (manifest and every chunk); returns its content ID."""
        manifest = self.put_manifest(manifest_bytes)
        for index, data in enumerate(chunks):
            manifest.check_chunk(index, data)
            self.put_chunk(data)
        return manifest_id(manifest_bytes)

    # -- reading ---------------------------------------------------------------------------------
    def has_manifest(self, content_id: bytes) -> bool:
        return self.manifest_path(content_id).exists()

    def manifest_bytes(self, content_id: bytes) -> bytes | None:
        try:
            return self.manifest_path(content_id).read_bytes()
        except FileNotFoundError:
            return None

    def manifest(self, content_id: bytes) -> Manifest | None:
        data = self.manifest_bytes(content_id)
        return None if data is None else decode_manifest(data, content_id)

    def has_chunk(self, chunk_id: bytes) -> bool:
        return self.chunk_path(chunk_id).exists()

    def get_chunk(self, chunk_id: bytes) -> bytes | None:
        try:
            return self.chunk_path(chunk_id).read_bytes()
        except FileNotFoundError:
            return None

    def missing_chunks(self, manifest: Manifest) -> list[int]:
        """Indexes of the chunks of ``manifest`` not yet stored (the resume point of a download)."""
        return [i for i, c in enumerate(manifest.chunks) if not self.has_chunk(c)]

    def is_complete(self, content_id: bytes) -> bool:
        manifest = self.manifest(content_id)
        return manifest is not None and not self.missing_chunks(manifest)

    def content_ids(self) -> list[bytes]:
        """Every content ID whose manifest is stored."""
        return sorted(bytes.fromhex(p.stem) for p in self.root.glob("*.manifest"))

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def remove_content(self, content_id: bytes) -> int:
        """Unpin: delete a manifest and its chunks (chunks shared with other content are kept)."""
        manifest = self.manifest(content_id)
        if manifest is None:
            return 0
        keep: set[bytes] = set()
        for other in self.content_ids():
            if other != content_id and (m := self.manifest(other)) is not None:
                keep.update(m.chunks)
        freed = 0
        for chunk_id in manifest.chunks:
            path = self.chunk_path(chunk_id)
            if chunk_id not in keep and path.exists():
                freed += path.stat().st_size
                path.unlink()
        self.manifest_path(content_id).unlink(missing_ok=True)
        return freed
