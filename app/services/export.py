"""Export: owned music out of the app as plain, unencrypted audio files.

A fan owns what they bought; an artist owns what they published. :class:`ExportService` turns a
release, one track, a selection of library tracks or the whole owned collection into files under
a folder, named ``Artist/Album/NN Title.ext``, in the format the user chose: ``original`` (the
file the artist published, byte for byte) or one encoded here through PyAV (``player.transcode``),
tagged in that format's own tag family with the release cover embedded.

Two steps, so that the GUI can show what will happen before it happens:

- :meth:`ExportService.plan_release`, :meth:`~ExportService.plan_contents` and
  :meth:`~ExportService.plan_all` check ownership against the ledger and the key store (a
  granted purchase of the release or of the track, or the artist's own release) and return an
  :class:`ExportPlan`. They read the ledger and the keys, so the GUI runs them on the worker
  that owns the core.
- :meth:`ExportService.export` writes the files. It touches only the chunk store, the network
  fetch and the destination folder, so it may run beside the node's own work.

Every file is written under a temporary name beside its final one, synced and then renamed: a
cancelled export, a full disk or a crash leaves no half file behind. A stored chunk that fails its
hash is discarded and fetched again, never written out. An export run again skips files that are
already there and identical: for ``original`` the bytes are compared; an encoded file carries a
marker tag naming its source content, format and tags, and is kept when the marker matches and
the file still opens.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.profile import Profile
from app.services.core import Core
from app.services.errors import UserError
from content.chunkstore import ChunkStore
from content.format import ContentError, Manifest
from ledger.state import Listing

if TYPE_CHECKING:  # PyAV loads on first use
    from player.transcode import OutputFormat, Tags

log = logging.getLogger(__name__)

#: Formats a user may choose, in the order menus list them (keys of ``player.transcode.FORMATS``).
FORMAT_KEYS = ("original", "flac", "mp3", "mp3-320", "aac", "alac", "opus", "wav")
DEFAULT_FORMAT = "flac"
#: Bumped when what an encoded file holds changes, so older exports are made again.
MARKER_VERSION = 1
#: How often a track whose chunks keep failing their hash is fetched again before giving up.
REFETCH_ATTEMPTS = 3

FetchFn = Callable[[bytes, Callable[[int, int], None], threading.Event], None]
ProgressFn = Callable[["ExportProgress"], None]

_LOSSY_MIMES = {"audio/mpeg", "audio/ogg", "audio/opus", "audio/aac"}
_LOSSLESS_MIMES = {"audio/flac", "audio/wav", "audio/x-wav", "audio/aiff", "audio/x-aiff"}
_ORIGINAL_EXT = {
    "audio/mpeg": ".mp3",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/mp4": ".m4a",
    "audio/wav": ".wav",
    "audio/aiff": ".aiff",
}


@dataclass(frozen=True)
class ExportItem:
    """One track to write: where it comes from and what its file is called and says."""

    content: bytes
    listing: bytes
    index: int  # 0-based position in the release
    title: str
    artist: str
    album: str
    genre: str
    track_no: int
    track_total: int
    year: int | None
    duration_ms: int
    artwork: bytes | None  # the release cover's content ID
    folder: str  # "Artist/Album", already made safe
    stem: str  # "01 Title", already made safe
    mime: str  # of the published file, "" while its manifest is not here


@dataclass(frozen=True)
class ExportPlan:
    """What an export will write. ``keys`` stay inside the service (not shown, not compared)."""

    items: tuple[ExportItem, ...]
    what: str  # "Debut by Ann", "First Light by Ann", "your collection"
    keys: Mapping[bytes, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def seconds(self) -> float:
        return sum(i.duration_ms for i in self.items) / 1000

    def lossy_sources(self) -> list[ExportItem]:
        """Tracks published in a lossy format (MP3, AAC, Vorbis, Opus)."""
        return [i for i in self.items if i.mime in _LOSSY_MIMES]


@dataclass(frozen=True)
class ExportProgress:
    """Where a running export is: the track being written and the whole."""

    track: int  # 0-based index into the plan
    tracks: int
    title: str
    stage: str  # "downloading", "writing", "encoding", "skipped", "written"
    track_fraction: float  # 0..1 of this track
    total_fraction: float  # 0..1 of the whole export

    @property
    def percent(self) -> int:
        return int(self.total_fraction * 100)


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    content: bytes
    title: str
    skipped: bool  # already there and identical
    size: int


@dataclass(frozen=True)
class ExportReport:
    folder: Path
    format: str
    files: tuple[ExportedFile, ...]
    audio_seconds: float
    wall_seconds: float

    @property
    def written(self) -> int:
        return sum(not f.skipped for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.files)

    def summary(self) -> str:
        parts = [f"{self.written} file{'s' if self.written != 1 else ''} written"]
        if self.skipped:
            parts.append(f"{self.skipped} already there")
        return f"{', '.join(parts)} in {self.folder}"


# -- names ----------------------------------------------------------------------------------------

_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')  # Windows' list covers macOS and Linux
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
NAME_MAX_BYTES = 120  # well under every file system's 255, leaving room for the extension


def safe_name(text: str, fallback: str = "Unknown") -> str:
    """``text`` as one path component that Windows, macOS and Linux all accept."""
    name = unicodedata.normalize("NFC", text)
    name = " ".join(name.split())  # tabs, newlines, runs of spaces
    name = _FORBIDDEN.sub("_", name)
    name = name.rstrip(". ")  # Windows drops trailing dots and spaces
    if name.startswith("."):
        name = "_" + name[1:]  # no hidden files, no "." or ".."
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    encoded = name.encode("utf-8")[:NAME_MAX_BYTES]
    name = encoded.decode("utf-8", errors="ignore").rstrip(". ")
    return name or fallback


def track_stem(number: int, total: int, title: str) -> str:
    width = max(2, len(str(total)))
    return safe_name(f"{number:0{width}d} {title}", f"{number:0{width}d}")


# -- settings -------------------------------------------------------------------------------------


def default_folder() -> Path:
    try:
        import platformdirs

        return Path(platformdirs.user_music_dir()) / "Cooptracks"
    except Exception:  # no music folder known on this system
        return Path.home() / "Music" / "Cooptracks"


def export_settings(profile: Profile) -> tuple[str, Path]:
    """The format and folder this profile last exported to (or the defaults)."""
    cfg = profile.read_config()
    fmt = cfg.get("export_format")
    folder = cfg.get("export_folder")
    return (
        fmt if fmt in FORMAT_KEYS else DEFAULT_FORMAT,
        Path(folder) if isinstance(folder, str) and folder else default_folder(),
    )


def remember_export_settings(profile: Profile, fmt: str, folder: Path | str) -> None:
    check_format(fmt)
    profile.update_config(export_format=fmt, export_folder=str(Path(folder).expanduser()))


def check_format(fmt: str) -> str:
    if fmt not in FORMAT_KEYS:
        raise UserError(f"unknown format {fmt!r}", hint="choose one of " + ", ".join(FORMAT_KEYS))
    return fmt


def format_label(fmt: str) -> str:
    from player.transcode import FORMATS

    return FORMATS[check_format(fmt)].label


def lossless_warning(plan: ExportPlan, fmt: str) -> str | None:
    """What to tell the user before making lossless files from lossy originals (or None)."""
    from player.transcode import FORMATS

    if not FORMATS[check_format(fmt)].lossless:
        return None
    lossy = plan.lossy_sources()
    if not lossy:
        return None
    which = (
        "All of these tracks were"
        if len(lossy) == len(plan.items)
        else f"{len(lossy)} of these {len(plan.items)} tracks were"
    )
    return (
        f"{which} published in a lossy format (such as MP3). A {fmt.upper()} file made from "
        'them is not lossless: it is bigger but sounds no better. Choose "original" to get '
        "the files as the artist published them."
    )


# -- the service ----------------------------------------------------------------------------------


class ExportService:
    """Export for one identity. ``fetch(content, progress, cancel)`` downloads a track that is
    owned but not here yet (the session's network); without it such a track is an error.
    ``fetch_clear`` downloads a release cover (clear content); it defaults to ``fetch``."""

    def __init__(
        self, core: Core, fetch: FetchFn | None = None, fetch_clear: FetchFn | None = None
    ) -> None:
        self.core = core
        self.fetch = fetch
        self.fetch_clear = fetch_clear or fetch

    # -- what may come out ---------------------------------------------------------------------
    def owned(self) -> dict[bytes, tuple[Listing, int]]:
        """content -> (release, track index) for every track this identity may export."""
        state = self.core.ledger.state
        out: dict[bytes, tuple[Listing, int]] = {}
        for li in state.current_listings():
            if li.artist == self.core.me:
                for i, t in enumerate(li.tracks):
                    out.setdefault(t.content, (li, i))
        for p in state.purchases_by(self.core.me):
            if not p.granted_by:
                continue
            li = state.listings[p.listing]
            for i, t in enumerate(li.tracks):
                if (p.track is None or p.track == i) and self.core.content_key(t.content):
                    out.setdefault(t.content, (li, i))
        return out

    def plan_release(self, ref: str | bytes, track: int | None = None) -> ExportPlan:
        """A release (or its 0-based ``track``) that this identity owns."""
        from app.services.shop import ShopService

        li = ShopService(self.core).listing(ref)
        if track is not None and not 0 <= track < len(li.tracks):
            raise UserError(
                f"the release has no track {track + 1}", hint=f"it has {len(li.tracks)}"
            )
        indexes = range(len(li.tracks)) if track is None else [track]
        owned = self.owned()
        missing = [i for i in indexes if li.tracks[i].content not in owned]
        if missing:
            raise UserError(self._why_not(li, track, missing))
        what = (
            f"{li.title} by {li.artist_name}"
            if track is None
            else f"{li.tracks[track].title} by {li.artist_name}"
        )
        return self._plan([(li, i) for i in indexes], what)

    def plan_contents(self, contents: Iterable[bytes]) -> ExportPlan:
        """Library tracks by content ID (the Library's selection)."""
        owned = self.owned()
        pairs = []
        state = self.core.ledger.state
        for c in dict.fromkeys(contents):
            if c not in owned:
                waiting = [
                    p
                    for p in state.purchases_by(self.core.me)
                    if c in state.listings[p.listing].contents(p.track)
                ]
                if waiting:
                    li = state.listings[waiting[0].listing]
                    raise UserError(self._why_not(li, None, list(range(len(li.tracks)))))
                raise UserError("you have not bought this track")
            pairs.append(owned[c])
        if not pairs:
            raise UserError("pick the tracks to save first")
        if len(pairs) == 1:
            li, i = pairs[0]
            what = f"{li.tracks[i].title} by {li.artist_name}"
        else:
            what = f"{len(pairs)} tracks"
        return self._plan(pairs, what)

    def plan_album(self, content: bytes) -> ExportPlan:
        """The whole release that an owned library track belongs to."""
        owned = self.owned()
        if content not in owned:
            raise UserError("you have not bought this track")
        return self.plan_release(owned[content][0].id)

    def plan_all(self) -> ExportPlan:
        """Everything this identity owns: purchases and its own releases."""
        owned = self.owned()
        if not owned:
            raise UserError("you own no music yet", hint="buy a release in the Store first")
        return self._plan(list(owned.values()), "your collection")

    def _why_not(self, li: Listing, track: int | None, missing: list[int]) -> str:
        state = self.core.ledger.state
        mine = [p for p in state.purchases_by(self.core.me) if p.listing == li.id]
        if any(not p.granted_by for p in mine):
            return (
                "your purchase is not granted yet: it is fulfilled when the artist's node or "
                "a seeder sees it"
            )
        if mine:
            if (
                any(p.granted_by for p in mine)
                and all(not self.core.content_key(li.tracks[i].content) for i in missing)
                and any(p.track is None or p.track in missing for p in mine)
            ):
                return "the keys of this purchase are not unlocked yet (sync with peers first)"
            return (
                "you bought only some tracks of this release, not this one"
                if track is not None
                else "you bought only some tracks of this release; export "
                "them one by one with --track or from the Library"
            )
        return (
            "you have not bought this release"
            if track is None
            else "you have not bought this track"
        )

    def _plan(self, pairs: list[tuple[Listing, int]], what: str) -> ExportPlan:
        items = []
        keys: dict[bytes, bytes] = {}
        folders: dict[str, bytes] = {}  # "Artist/Album" -> the release that has it
        for li, i in pairs:
            t = li.tracks[i]
            key = self.core.content_key(t.content)
            if key is None:
                raise UserError(f"the key of {t.title!r} is not in this profile")
            keys[t.content] = key
            folder = f"{safe_name(li.artist_name)}/{safe_name(li.title, 'Untitled')}"
            n = 2
            base = folder
            while folders.setdefault(folder, li.id) != li.id:  # two releases, one name
                folder = f"{base} ({n})"
                n += 1
            manifest = self.core.chunks.manifest(t.content)
            items.append(
                ExportItem(
                    t.content,
                    li.id,
                    i,
                    t.title,
                    li.artist_name,
                    li.title,
                    li.genre,
                    i + 1,
                    len(li.tracks),
                    dt.datetime.fromtimestamp(li.timestamp / 1000, dt.UTC).year,
                    t.duration_ms,
                    li.artwork,
                    folder,
                    track_stem(i + 1, len(li.tracks), t.title),
                    manifest.mime if manifest else "",
                )
            )
        items.sort(key=lambda it: (it.folder.lower(), it.track_no))
        return ExportPlan(tuple(items), what, keys)

    # -- writing -------------------------------------------------------------------------------
    def export(
        self,
        plan: ExportPlan,
        fmt: str,
        folder: Path | str,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> ExportReport:
        """Write ``plan`` under ``folder`` in ``fmt``. Raises :class:`UserError` for a folder
        that cannot be written, a full disk, a track no peer has, or a cancel; the files
        finished before that are kept (and skipped by the next run)."""
        from player.transcode import FORMATS

        out_format = FORMATS[check_format(fmt)]
        root = Path(folder).expanduser()
        cancel = cancel or threading.Event()
        started = time.perf_counter()
        self._make_dir(root)
        files: list[ExportedFile] = []
        n = len(plan.items)
        covers: dict[bytes | None, tuple[bytes, str] | None] = {}
        for k, item in enumerate(plan.items):
            if cancel.is_set():
                raise self._cancelled(files)

            def report(stage: str, fraction: float, k: int = k, item: ExportItem = item) -> None:
                if progress is not None:
                    progress(
                        ExportProgress(
                            k, n, item.title, stage, fraction, (k + fraction) / n if n else 1.0
                        )
                    )

            if item.artwork not in covers:
                covers[item.artwork] = self._cover(item.artwork, cancel)
            directory = root / item.folder
            self._make_dir(directory)
            done = self._write_one(
                item,
                plan.keys[item.content],
                out_format,
                directory,
                covers[item.artwork],
                report,
                cancel,
                files,
            )
            files.append(done)
            report("skipped" if done.skipped else "written", 1.0)
        return ExportReport(root, fmt, tuple(files), plan.seconds, time.perf_counter() - started)

    def _cancelled(self, files: list[ExportedFile]) -> UserError:
        kept = sum(not f.skipped for f in files)
        return UserError(
            "the export was cancelled",
            hint=f"{kept} finished file{'s' if kept != 1 else ''} kept; "
            "running it again continues where it stopped",
        )

    @staticmethod
    def _make_dir(path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _disk_error(exc, path) from exc
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(
                f"cannot write to {path}: permission denied",
                hint="choose a folder you can write to",
            )

    # -- reading the track ---------------------------------------------------------------------
    def _plaintext(
        self,
        item: ExportItem,
        key: bytes,
        report: Callable[[str, float], None],
        cancel: threading.Event,
        files: list[ExportedFile],
    ) -> bytes:
        """The published file's bytes: fetched if needed, every chunk verified before use."""
        chunks = self.core.chunks
        for _attempt in range(REFETCH_ATTEMPTS):
            manifest = chunks.manifest(item.content)
            if manifest is None or chunks.missing_chunks(manifest):
                self._fetch(item, report, cancel, files)
                manifest = chunks.manifest(item.content)
                if manifest is None or chunks.missing_chunks(manifest):
                    raise UserError(
                        f"{item.title!r} is not downloaded yet and no peer has it right now",
                        hint="try again when a peer that has it is online",
                    )
            plain, bad = _open_all(chunks, manifest, key)
            if not bad:
                return plain
            log.warning(
                "%s: %d stored chunks failed their hash; fetching them again", item.title, len(bad)
            )
            for chunk_id in bad:
                chunks.discard_chunk(chunk_id)
        raise UserError(
            f"{item.title!r}: its stored chunks keep failing their check",
            hint="the copy on this computer is damaged and no peer sent a good one",
        )

    def _fetch(
        self,
        item: ExportItem,
        report: Callable[[str, float], None],
        cancel: threading.Event,
        files: list[ExportedFile],
    ) -> None:
        if self.fetch is None:
            raise UserError(
                f"{item.title!r} is not downloaded yet and no peer has it right now",
                hint="connect to the swarm and try again",
            )

        def on_progress(have: int, total: int) -> None:
            report("downloading", have / total * 0.5 if total else 0.0)

        report("downloading", 0.0)
        try:
            self.fetch(item.content, on_progress, cancel)
        except UserError as err:
            if cancel.is_set():
                raise self._cancelled(files) from err
            raise UserError(f"{item.title!r} is not downloaded yet: {err}") from err

    def _cover(self, artwork: bytes | None, cancel: threading.Event) -> tuple[bytes, str] | None:
        """The release cover (bytes, mime), fetched if needed; None if it cannot be had."""
        if artwork is None:
            return None
        from content.format import unpack
        from player.artwork import sniff_image

        chunks = self.core.chunks
        if not chunks.is_complete(artwork) and self.fetch_clear is not None:
            try:
                self.fetch_clear(artwork, lambda h, t: None, cancel)
            except UserError as err:
                log.info("no cover for the export: %s", err)
        manifest = chunks.manifest(artwork)
        if manifest is None or chunks.missing_chunks(manifest):
            return None
        data = [chunks.get_chunk(c) for c in manifest.chunks]
        if any(d is None for d in data):
            return None
        try:
            image = unpack(manifest, data, None)  # type: ignore[arg-type]
        except ContentError:
            return None
        mime = sniff_image(image)
        return (image, mime) if mime in ("image/jpeg", "image/png") else None

    # -- writing one file ----------------------------------------------------------------------
    def _write_one(
        self,
        item: ExportItem,
        key: bytes,
        fmt: OutputFormat,
        directory: Path,
        cover: tuple[bytes, str] | None,
        report: Callable[[str, float], None],
        cancel: threading.Event,
        files: list[ExportedFile],
    ) -> ExportedFile:
        from player.transcode import (
            Tags,
            TranscodeCancelled,
            TranscodeError,
            read_marker,
            transcode,
            write_tags,
        )

        if not fmt.codec:  # the original, byte for byte
            plain = self._plaintext(item, key, report, cancel, files)
            dest = directory / (item.stem + _original_ext(plain))
            if _same_bytes(dest, plain):
                return ExportedFile(dest, item.content, item.title, True, len(plain))
            report("writing", 0.5)
            self._atomic_write(dest, lambda tmp: tmp.write_bytes(plain), files)
            return ExportedFile(dest, item.content, item.title, False, len(plain))
        dest = directory / (item.stem + fmt.ext)
        tags = Tags(
            item.title,
            item.artist,
            item.album,
            item.track_no,
            item.track_total,
            item.genre,
            item.year,
            cover[0] if cover else None,
            cover[1] if cover else "image/jpeg",
        )
        marker = _marker(item, fmt.key, tags)
        if dest.exists() and read_marker(dest, fmt) == marker:
            return ExportedFile(dest, item.content, item.title, True, dest.stat().st_size)
        plain = self._plaintext(item, key, report, cancel, files)
        if cover is None:  # no release cover here: the one embedded in the published file
            embedded = _embedded_cover(plain)
            if embedded is not None:
                tags = dataclasses.replace(tags, cover=embedded[0], cover_mime=embedded[1])

        def make(tmp: Path) -> None:
            try:
                transcode(plain, fmt, tmp, lambda f: report("encoding", 0.5 + f * 0.5), cancel)
            except TranscodeCancelled as exc:
                raise self._cancelled(files) from exc
            except TranscodeError as exc:
                raise UserError(f"{item.title!r}: {exc}") from exc
            try:
                write_tags(tmp, fmt, dataclasses.replace(tags, marker=marker))
            except TranscodeError as exc:
                raise UserError(f"{item.title!r}: {exc}") from exc

        report("encoding", 0.5)
        self._atomic_write(dest, make, files)
        return ExportedFile(dest, item.content, item.title, False, dest.stat().st_size)

    @staticmethod
    def _atomic_write(
        dest: Path, make: Callable[[Path], object], files: list[ExportedFile]
    ) -> None:
        """``make(tmp)`` writes the file; it becomes ``dest`` only once complete and synced."""
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            make(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _disk_error(exc, dest.parent) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _open_all(chunks: ChunkStore, manifest: Manifest, key: bytes) -> tuple[bytes, list[bytes]]:
    """Verify and decrypt every chunk: (plaintext, ids of chunks that failed)."""
    parts: list[bytes] = []
    bad: list[bytes] = []
    for index, chunk_id in enumerate(manifest.chunks):
        data = chunks.get_chunk(chunk_id)
        if data is None:
            bad.append(chunk_id)
            continue
        try:
            parts.append(manifest.open_chunk(index, data, key))
        except ContentError:
            bad.append(chunk_id)
    return b"".join(parts), bad


def _original_ext(plain: bytes) -> str:
    from player.formats import BadAudioFile, read_audio

    try:
        info = read_audio(Path("original"), data=plain)
    except BadAudioFile:
        return ".bin"
    return "." + info.format


def _embedded_cover(plain: bytes) -> tuple[bytes, str] | None:
    from player.formats import BadAudioFile, read_audio

    try:
        art = read_audio(Path("original"), data=plain).artwork
    except BadAudioFile:
        return None
    if art is None or art.mime not in ("image/jpeg", "image/png"):
        return None
    return art.data, art.mime


def _same_bytes(dest: Path, plain: bytes) -> bool:
    try:
        if dest.stat().st_size != len(plain):
            return False
        return _digest(dest.read_bytes()) == _digest(plain)
    except OSError:
        return False


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def _marker(item: ExportItem, fmt: str, tags: Tags) -> str:
    """Source content, format, marker version and a digest of the tags written."""
    cover = _digest(tags.cover).hex() if tags.cover else ""
    fields = (
        tags.title,
        tags.artist,
        tags.album,
        tags.track,
        tags.tracks,
        tags.genre,
        tags.year,
        cover,
        tags.cover_mime,
    )
    digest = hashlib.blake2b(repr(fields).encode("utf-8"), digest_size=8).hexdigest()
    return f"v{MARKER_VERSION} {item.content.hex()} {fmt} {digest}"


def _disk_error(exc: OSError, where: Path) -> UserError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(
            f"the disk holding {where} is full",
            hint="free some space or choose another folder; the files already "
            "written are kept and skipped next time",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(
            f"cannot write to {where}: {(exc.strerror or str(exc)).lower()}",
            hint="choose a folder you can write to",
        )
    return UserError(f"cannot write to {where}: {exc.strerror or exc}")
