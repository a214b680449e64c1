"""The music library: imported files, purchased tracks, playlists, offline marks, search.

:class:`Library` is Qt-free and synchronous; every method is short except
:meth:`Library.import_folder`, which a GUI runs on a worker thread (it takes a ``progress``
callback and a ``cancel`` event). One lock serialises access to the single SQLite connection, so
the object may be shared between threads.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from player import catalog as _catalog
from player import db as _db
from player import search as _search
from player.artwork import (
    FOLDER_IMAGE_EXTENSIONS,
    BadImage,
    CoverArt,
    Thumbnail,
    folder_image,
    image_hash,
    make_thumbnail,
    probe_image,
    read_image_file,
)
from player.formats import (
    AUDIO_EXTENSIONS,
    WHOLE_FILE_LIMIT,
    Artwork,
    AudioInfo,
    BadAudioFile,
    read_audio,
)

_BATCH = 200  # files per write transaction during an import
_RECENT_COVERS = 16  # distinct embedded covers remembered while importing


class LibraryError(Exception):
    """A request the library cannot honour (unknown playlist, duplicate name, ...)."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def hash_file(path: Path) -> bytes:
    """BLAKE2b-256 of a file's bytes (identifies a file across renames and moves)."""
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.digest()


def _read_and_hash(path: Path, size: int) -> tuple[bytes, bytes | None]:
    """(hash, content): one read serves both the hash and the tag parser for ordinary files.

    Files larger than WHOLE_FILE_LIMIT are hashed in blocks and their content is not kept.
    """
    if size > WHOLE_FILE_LIMIT:
        return hash_file(path), None
    with open(path, "rb") as fh:
        data = fh.read()
    return hashlib.blake2b(data, digest_size=32).digest(), data


@dataclass(frozen=True)
class Track:
    """One track of the collection: a local file or a purchase."""

    id: int
    source: str  # "file" or "purchase"
    path: str | None
    content_id: bytes | None
    title: str
    artist: str
    album: str
    album_artist: str
    genre: str
    tags: str
    track_no: int | None
    disc_no: int | None
    year: int | None
    duration_ms: int
    format: str
    codec: str
    mime: str
    artwork_hash: bytes | None
    offline: bool
    missing: bool

    @classmethod
    def from_row(cls, row: Any) -> Track:
        return cls(
            id=row["id"],
            source=row["source"],
            path=row["path"],
            content_id=row["content_id"],
            title=row["title"],
            artist=row["artist"],
            album=row["album"],
            album_artist=row["album_artist"],
            genre=row["genre"],
            tags=row["tags"],
            track_no=row["track_no"],
            disc_no=row["disc_no"],
            year=row["year"],
            duration_ms=row["duration_ms"],
            format=row["format"],
            codec=row["codec"],
            mime=row["mime"],
            artwork_hash=row["artwork_hash"],
            offline=bool(row["offline"]),
            missing=bool(row["missing"]),
        )


@dataclass(frozen=True)
class ImportProblem:
    path: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """What one import did. ``failed`` files were not imported; ``warnings`` were."""

    folder: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    missing: int = 0
    ignored: int = 0
    failed: tuple[ImportProblem, ...] = ()
    warnings: tuple[ImportProblem, ...] = ()
    cancelled: bool = False

    @property
    def scanned(self) -> int:
        return self.added + self.updated + self.unchanged + self.moved + len(self.failed)


@dataclass(frozen=True)
class Playlist:
    id: int
    name: str
    track_ids: tuple[int, ...]


@dataclass
class _ImportState:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    failed: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)
    relinked: set[int] = field(default_factory=set)  # track ids whose file moved in this run
    # Artwork already stored (or rejected) by hash, so each distinct image is decoded once.
    known_art: set[bytes] = field(default_factory=set)
    bad_art: set[bytes] = field(default_factory=set)
    # Folder -> its cover image file's (hash, bytes), or None; read when first needed.
    folder_art: dict[str, tuple[bytes, bytes] | None] = field(default_factory=dict)
    folder_images: dict[str, str] = field(default_factory=dict)  # folder -> image file name
    # The last few embedded covers seen (bytes -> hash): an album's files follow one another
    # and usually embed the same picture, which then is hashed once, not once per file.
    recent_covers: OrderedDict[bytes, bytes] = field(default_factory=OrderedDict)

    def cover_hash(self, data: bytes) -> bytes:
        digest = self.recent_covers.get(data)  # equal bytes, compared in full
        if digest is None:
            digest = image_hash(data)
            self.recent_covers[data] = digest
            if len(self.recent_covers) > _RECENT_COVERS:
                self.recent_covers.popitem(last=False)
        return digest


@dataclass(frozen=True)
class _NewArt:
    """An image not yet in the library, its header read off the lock."""

    hash: bytes
    mime: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class _Fresh:
    """A new or changed file, read: what _store needs to insert or update its row."""

    file_hash: bytes
    info: AudioInfo
    artwork_hash: bytes | None
    new_art: _NewArt | None


# What _prepare found: None (unchanged by size and mtime), the hash alone (same bytes),
# a _Fresh (new or changed content), or "failed" (recorded in the import state).
_Prepared = _Fresh | bytes | str | None

_TRACK_FIELDS = (
    "format",
    "codec",
    "mime",
    "title",
    "artist",
    "album",
    "album_artist",
    "genre",
    "track_no",
    "disc_no",
    "year",
    "duration_ms",
    "sample_rate",
    "channels",
    "bitrate",
)
_INSERT_COLUMNS = (
    *_TRACK_FIELDS,
    "size",
    "mtime_ns",
    "file_hash",
    "artwork_hash",
    "missing",
    "updated_ms",
    "source",
    "path",
    "added_ms",
)
_INSERT_SQL = (
    f"INSERT INTO tracks ({', '.join(_INSERT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"
)


def _info_values(info: AudioInfo, path: Path) -> dict[str, Any]:
    values = {name: getattr(info, name) for name in _TRACK_FIELDS}
    # An untagged file still needs a findable, displayable title.
    values["title"] = values["title"] or path.stem
    return values


class Library:
    """The library database of one profile."""

    def __init__(self, db_path: Path | str) -> None:
        self._conn = _db.connect(db_path)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def connection(self) -> Any:
        """The underlying connection, for read-only tools such as the benchmark."""
        return self._conn

    # -- import -----------------------------------------------------------------------------

    def import_folder(
        self,
        folder: Path | str,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ImportReport:
        """Import every audio file under ``folder``; re-imports skip unchanged files.

        A file is unchanged when its size and modification time match the last import; it is
        then not opened at all. Otherwise the file is read once, for both its hash and its
        tags: the same bytes (a copy restored with a new mtime) are not parsed again. A new
        path whose bytes match a track whose file has disappeared is a move, so playlists keep
        it. Tracks under ``folder`` whose files are gone are marked missing. Cover art comes
        from the file's tags, else from an image such as ``cover.jpg`` in its folder; each
        distinct image is stored once, with a thumbnail. Broken files are listed in the report
        (and in :meth:`problems`) and never stop the import.
        """
        root = Path(folder).expanduser().resolve()
        if not root.is_dir():
            raise LibraryError(f"{folder} is not a folder")
        state = _ImportState()
        files, ignored = self._scan(root, state.folder_images)
        prefix = str(root) + os.sep
        with self._lock:
            known = {
                row["path"]: row
                for row in self._conn.execute(
                    "SELECT id, path, size, mtime_ns, file_hash FROM tracks"
                    " WHERE source = 'file' AND substr(path, 1, ?) = ?",
                    (len(prefix), prefix),
                )
            }
            state.known_art.update(r[0] for r in self._conn.execute("SELECT hash FROM artwork"))
        seen: set[str] = set()
        cancelled = False
        for start in range(0, len(files), _BATCH):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            batch = files[start : start + _BATCH]
            prepared = [self._prepare(path, st, known.get(str(path)), state) for path, st in batch]
            with self._lock, _db.transaction(self._conn):
                self._store_batch(batch, prepared, known, state)
            seen.update(str(path) for path, _ in batch)
            if progress is not None:
                progress(min(start + _BATCH, len(files)), len(files))
        missing = 0
        if not cancelled:
            with self._lock, _db.transaction(self._conn):
                gone = [
                    (row["id"],)
                    for p, row in known.items()
                    if p not in seen and row["id"] not in state.relinked
                ]
                missing = self._conn.executemany(
                    "UPDATE tracks SET missing = 1 WHERE id = ? AND missing = 0", gone
                ).rowcount
                self._conn.execute(
                    "DELETE FROM import_problems WHERE substr(path, 1, ?) = ?",
                    (len(prefix), prefix),
                )
                self._conn.executemany(
                    "INSERT OR REPLACE INTO import_problems (path, reason, seen_ms)"
                    " VALUES (?, ?, ?)",
                    [(p.path, p.reason, _now_ms()) for p in state.failed],
                )
        return ImportReport(
            folder=str(root),
            added=state.added,
            updated=state.updated,
            unchanged=state.unchanged,
            moved=state.moved,
            missing=missing,
            ignored=ignored,
            failed=tuple(state.failed),
            warnings=tuple(state.warnings),
            cancelled=cancelled,
        )

    @staticmethod
    def _scan(
        root: Path,
        folder_images: dict[str, str],
    ) -> tuple[list[tuple[Path, os.stat_result]], int]:
        """Audio files under ``root`` with their stat, sorted; the count of other files.

        Fills ``folder_images`` with each folder's cover image file name, if it has one.
        """
        files: list[tuple[Path, os.stat_result]] = []
        ignored = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            images: list[str] = []
            for name in sorted(filenames):
                path = Path(dirpath) / name
                suffix = path.suffix.lower()
                if name.startswith(".") or suffix not in AUDIO_EXTENSIONS:
                    ignored += 1
                    if suffix in FOLDER_IMAGE_EXTENSIONS:
                        images.append(name)
                    continue
                try:
                    st = path.stat()
                except OSError:
                    ignored += 1
                    continue
                files.append((path, st))
            cover = folder_image(images) if images else None
            if cover is not None:
                folder_images[dirpath] = cover
        return files, ignored

    @classmethod
    def _prepare(cls, path: Path, st: os.stat_result, row: Any, state: _ImportState) -> _Prepared:
        """The slow, lock-free part: read, hash and parse only when needed.

        Returns None when unchanged (by size and mtime), the hash alone when the bytes are
        unchanged, or a :class:`_Fresh` for new or changed content. Failures are recorded in
        ``state.failed`` and return ``"failed"``.
        """
        if row is not None and row["size"] == st.st_size and row["mtime_ns"] == st.st_mtime_ns:
            return None
        try:
            file_hash, data = _read_and_hash(path, st.st_size)
            if row is not None and row["file_hash"] == file_hash:
                return file_hash
            info = read_audio(path, st.st_size, data=data)
        except BadAudioFile as exc:
            state.failed.append(ImportProblem(str(path), str(exc)))
            return "failed"
        except OSError as exc:
            state.failed.append(ImportProblem(str(path), f"cannot read: {exc.strerror or exc}"))
            return "failed"
        for warning in info.warnings:
            state.warnings.append(ImportProblem(str(path), warning))
        artwork_hash, new_art = cls._prepare_artwork(path, info.artwork, state)
        return _Fresh(file_hash, info, artwork_hash, new_art)

    @staticmethod
    def _prepare_artwork(
        path: Path, embedded: Artwork | None, state: _ImportState
    ) -> tuple[bytes | None, _NewArt | None]:
        """The cover of one file: its embedded picture, else its folder's image file."""
        if embedded is not None:
            data, source = embedded.data, str(path)
            digest = state.cover_hash(data)
            problem = "its embedded cover is not a readable image ({}); imported without it"
        else:
            folder = str(path.parent)
            name = state.folder_images.get(folder)
            if name is None:
                return None, None
            if folder not in state.folder_art:
                try:
                    image = read_image_file(path.parent / name)
                    state.folder_art[folder] = (image_hash(image), image)
                except BadImage as exc:
                    state.folder_art[folder] = None
                    state.warnings.append(
                        ImportProblem(str(path.parent / name), f"cover image not used: {exc}")
                    )
            found = state.folder_art[folder]
            if found is None:
                return None, None
            digest, data = found
            source = str(path.parent / name)
            problem = "cover image not used: {}"
        if digest in state.known_art:
            return digest, None
        if digest in state.bad_art:
            return None, None
        try:
            mime, width, height = probe_image(data)
        except BadImage as exc:
            state.bad_art.add(digest)
            state.warnings.append(ImportProblem(source, problem.format(exc)))
            return None, None
        state.known_art.add(digest)
        return digest, _NewArt(digest, mime, width, height, data)

    def _store_batch(
        self,
        batch: list[tuple[Path, os.stat_result]],
        prepared: list[_Prepared],
        known: dict[str, Any],
        state: _ImportState,
    ) -> None:
        """Write one batch in the caller's transaction, with one statement per kind of change."""
        conn = self._conn
        now = _now_ms()
        new_art = [
            (a.hash, a.mime, a.data, a.width, a.height)
            for item in prepared
            if isinstance(item, _Fresh) and (a := item.new_art)
        ]
        if new_art:
            conn.executemany(
                "INSERT OR IGNORE INTO artwork (hash, mime, data, width, height)"
                " VALUES (?, ?, ?, ?, ?)",
                new_art,
            )
        back: list[tuple[int]] = []  # unchanged files that had been marked missing
        touched: list[tuple[int, int, int]] = []  # same bytes, new size or mtime
        inserts: list[tuple[Any, ...]] = []
        candidates = self._moved_candidates(
            [
                item.file_hash
                for (path, _), item in zip(batch, prepared, strict=True)
                if isinstance(item, _Fresh) and str(path) not in known
            ]
        )
        for (path, st), item in zip(batch, prepared, strict=True):
            row = known.get(str(path))
            if item == "failed":
                continue
            if item is None:
                if row is not None:
                    state.unchanged += 1
                    back.append((row["id"],))
                continue
            if isinstance(item, bytes):  # same bytes, new mtime: no need to re-read the tags
                assert row is not None  # only a known file's hash is compared
                state.unchanged += 1
                touched.append((st.st_size, st.st_mtime_ns, row["id"]))
                continue
            assert isinstance(item, _Fresh)
            values = _info_values(item.info, path)
            values.update(
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                file_hash=item.file_hash,
                artwork_hash=item.artwork_hash,
                missing=0,
                updated_ms=now,
            )
            assignments = ", ".join(f"{k} = :{k}" for k in values)
            if row is not None:
                conn.execute(
                    f"UPDATE tracks SET {assignments} WHERE id = :id", {**values, "id": row["id"]}
                )
                state.updated += 1
                continue
            moved_from = self._take_moved(candidates.get(item.file_hash), state)
            if moved_from is not None:
                conn.execute(
                    f"UPDATE tracks SET {assignments}, path = :path WHERE id = :id",
                    {**values, "path": str(path), "id": moved_from},
                )
                state.moved += 1
                continue
            values.update(source="file", path=str(path), added_ms=now)
            inserts.append(tuple(values[c] for c in _INSERT_COLUMNS))
            state.added += 1
        conn.executemany("UPDATE tracks SET missing = 0 WHERE id = ? AND missing = 1", back)
        conn.executemany(
            "UPDATE tracks SET size = ?, mtime_ns = ?, missing = 0 WHERE id = ?", touched
        )
        if inserts:
            before = _db.max_track_id(conn)
            conn.executemany(_INSERT_SQL, inserts)
            _db.index_new_tracks(conn, before)

    def _moved_candidates(self, hashes: list[bytes]) -> dict[bytes, list[Any]]:
        """Existing file tracks with any of these hashes (where a new path may have come from)."""
        found: dict[bytes, list[Any]] = {}
        for start in range(0, len(hashes), 500):  # SQLite's limit on bound parameters
            chunk = hashes[start : start + 500]
            for r in self._conn.execute(
                "SELECT id, path, file_hash, missing FROM tracks WHERE source = 'file'"
                f" AND file_hash IN ({', '.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            ):
                found.setdefault(r["file_hash"], []).append(r)
        return found

    @staticmethod
    def _take_moved(rows: list[Any] | None, state: _ImportState) -> int | None:
        """The track a new file was moved from: same bytes, and its old file is gone."""
        if not rows:
            return None
        free = [r for r in rows if r["id"] not in state.relinked]
        chosen = next((r for r in free if r["missing"]), None)
        if chosen is None:
            chosen = next((r for r in free if not os.path.exists(r["path"])), None)
        if chosen is None:
            return None
        state.relinked.add(chosen["id"])
        return int(chosen["id"])

    def problems(self) -> list[ImportProblem]:
        """Files the last imports could not read, with the reason."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT path, reason FROM import_problems ORDER BY path"
            ).fetchall()
        return [ImportProblem(r["path"], r["reason"]) for r in rows]

    # -- collection -------------------------------------------------------------------------

    def tracks(self, include_missing: bool = True) -> list[Track]:
        """All tracks, ordered by album artist, album, disc, track number, title."""
        where = "" if include_missing else "WHERE missing = 0"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM tracks {where} ORDER BY"
                " lower(coalesce(nullif(album_artist, ''), artist)), lower(album),"
                " disc_no, track_no, lower(title), id"
            ).fetchall()
        return [Track.from_row(r) for r in rows]

    def track(self, track_id: int) -> Track:
        """One track by id; LibraryError if unknown."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM tracks WHERE id = ?", (track_id,)).fetchone()
        if row is None:
            raise LibraryError(f"no track with id {track_id}")
        return Track.from_row(row)

    def artwork(self, artwork_hash: bytes) -> Artwork | None:
        """Cover image bytes by hash (as stored on a :class:`Track`)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT mime, data FROM artwork WHERE hash = ?", (artwork_hash,)
            ).fetchone()
        return None if row is None else Artwork(row["mime"], bytes(row["data"]))

    def cover(self, artwork_hash: bytes) -> CoverArt | None:
        """A stored image with its dimensions and thumbnail, by hash; None if unknown.

        An image imported since the last :meth:`make_thumbnails` is thumbnailed now.
        """
        thumb = self.thumbnail(artwork_hash)  # first, as making it may correct the facts below
        with self._lock:
            row = self._conn.execute(
                "SELECT mime, width, height, data FROM artwork WHERE hash = ?", (artwork_hash,)
            ).fetchone()
        if row is None:
            return None
        return CoverArt(
            artwork_hash, row["mime"], row["width"], row["height"], bytes(row["data"]), thumb
        )

    def thumbnail(self, artwork_hash: bytes) -> Thumbnail | None:
        """The small rendition of a stored image, for lists and grids.

        None if the hash is unknown or the image cannot be decoded. Only the thumbnail's bytes
        are read, unless it still has to be made.
        """
        with self._lock:
            row = self._conn.execute(
                "SELECT hash, thumb_mime, thumb_width, thumb_height, thumb FROM artwork"
                " WHERE hash = ?",
                (artwork_hash,),
            ).fetchone()
        return None if row is None else self._thumbnail_of(row)

    def make_thumbnails(
        self,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """Thumbnail every stored image that has none yet; returns how many were made.

        Import stores images with their header facts only (decoding every new cover would
        slow it down several times), so a caller runs this on a worker thread after an import;
        :meth:`thumbnail` makes any still missing on request. Decoding runs outside the lock.
        """
        with self._lock:
            pending = [
                r[0]
                for r in self._conn.execute(
                    "SELECT hash FROM artwork WHERE thumb_mime IS NULL ORDER BY rowid"
                )
            ]
        made = 0
        for done, digest in enumerate(pending, start=1):
            if cancel is not None and cancel.is_set():
                break
            if self._make_thumbnail(digest) is not None:
                made += 1
            if progress is not None:
                progress(done, len(pending))
        return made

    def _art_data(self, artwork_hash: bytes) -> bytes:
        with self._lock:
            row = self._conn.execute(
                "SELECT data FROM artwork WHERE hash = ?", (artwork_hash,)
            ).fetchone()
        return bytes(row["data"]) if row is not None else b""

    def _thumbnail_of(self, row: Any) -> Thumbnail | None:
        if row["thumb_mime"] is None:  # not made yet
            return self._make_thumbnail(row["hash"])
        if row["thumb"] is None:  # tried, and the image could not be decoded
            return None
        return Thumbnail(
            row["thumb_mime"], row["thumb_width"], row["thumb_height"], bytes(row["thumb"])
        )

    def _make_thumbnail(self, artwork_hash: bytes) -> Thumbnail | None:
        """Decode one stored image and keep its thumbnail (or the fact that it has none)."""
        data = self._art_data(artwork_hash)
        try:
            mime, width, height, thumb = make_thumbnail(data)
        except BadImage:
            # An empty thumb_mime with no thumb records "undecodable", so it is not retried.
            with self._lock, _db.transaction(self._conn):
                self._conn.execute(
                    "UPDATE artwork SET thumb_mime = '' WHERE hash = ?", (artwork_hash,)
                )
            return None
        with self._lock, _db.transaction(self._conn):
            # Images stored before thumbnails existed also lack their dimensions.
            self._conn.execute(
                "UPDATE artwork SET mime = ?, width = ?, height = ?, thumb_mime = ?,"
                " thumb_width = ?, thumb_height = ?, thumb = ? WHERE hash = ?",
                (
                    mime,
                    width,
                    height,
                    thumb.mime,
                    thumb.width,
                    thumb.height,
                    thumb.data,
                    artwork_hash,
                ),
            )
        return thumb

    def add_purchase(
        self,
        content_id: bytes,
        *,
        title: str,
        artist: str,
        album: str = "",
        genre: str = "",
        tags: Sequence[str] = (),
        duration_ms: int = 0,
        mime: str = "",
        track_no: int | None = None,
    ) -> Track:
        """Add (or refresh) a purchased track, identified by its content ID."""
        now = _now_ms()
        with self._lock, _db.transaction(self._conn):
            before = _db.max_track_id(self._conn)
            self._conn.execute(
                "INSERT INTO tracks (source, content_id, title, artist, album, genre, tags,"
                " duration_ms, mime, track_no, added_ms, updated_ms)"
                " VALUES ('purchase', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (content_id) DO UPDATE SET title = excluded.title,"
                " artist = excluded.artist, album = excluded.album, genre = excluded.genre,"
                " tags = excluded.tags, duration_ms = excluded.duration_ms,"
                " mime = excluded.mime, track_no = excluded.track_no,"
                " updated_ms = excluded.updated_ms",
                (
                    content_id,
                    title,
                    artist,
                    album,
                    genre,
                    " ".join(tags),
                    duration_ms,
                    mime,
                    track_no,
                    now,
                    now,
                ),
            )
            _db.index_new_tracks(self._conn, before)  # nothing when it was an update
            row = self._conn.execute(
                "SELECT * FROM tracks WHERE content_id = ?", (content_id,)
            ).fetchone()
        return Track.from_row(row)

    def set_offline(self, track_id: int, offline: bool) -> Track:
        """Mark a track as wanted offline (its content is kept and pinned locally)."""
        with self._lock, _db.transaction(self._conn):
            if (
                self._conn.execute(
                    "UPDATE tracks SET offline = ? WHERE id = ?", (int(offline), track_id)
                ).rowcount
                == 0
            ):
                raise LibraryError(f"no track with id {track_id}")
        return self.track(track_id)

    def offline_tracks(self) -> list[Track]:
        """Tracks marked available offline."""
        return [t for t in self.tracks() if t.offline]

    def remove_track(self, track_id: int) -> None:
        """Forget a track (the file on disk is untouched); it leaves every playlist."""
        with self._lock, _db.transaction(self._conn):
            self._conn.execute("DELETE FROM tracks WHERE id = ?", (track_id,))
            self._renumber_all()

    # -- playlists --------------------------------------------------------------------------

    def playlists(self) -> list[Playlist]:
        """Every playlist with its track ids in order."""
        with self._lock:
            rows = self._conn.execute("SELECT id, name FROM playlists ORDER BY lower(name)")
            return [Playlist(r["id"], r["name"], self._items(r["id"])) for r in rows.fetchall()]

    def playlist(self, name_or_id: str | int) -> Playlist:
        """One playlist by name (case-insensitive) or id; LibraryError if unknown."""
        with self._lock:
            row = self._find_playlist(name_or_id)
            return Playlist(row["id"], row["name"], self._items(row["id"]))

    def create_playlist(self, name: str, track_ids: Iterable[int] = ()) -> Playlist:
        """A new playlist; names are unique regardless of case."""
        name = name.strip()
        if not name:
            raise LibraryError("a playlist needs a name")
        now = _now_ms()
        with self._lock, _db.transaction(self._conn):
            if self._conn.execute("SELECT 1 FROM playlists WHERE name = ?", (name,)).fetchone():
                raise LibraryError(f"a playlist named {name!r} already exists")
            cur = self._conn.execute(
                "INSERT INTO playlists (name, created_ms, updated_ms) VALUES (?, ?, ?)",
                (name, now, now),
            )
            playlist_id = int(cur.lastrowid or 0)
            self._append(playlist_id, list(track_ids))
        return self.playlist(playlist_id)

    def rename_playlist(self, name_or_id: str | int, new_name: str) -> Playlist:
        new_name = new_name.strip()
        if not new_name:
            raise LibraryError("a playlist needs a name")
        with self._lock, _db.transaction(self._conn):
            row = self._find_playlist(name_or_id)
            clash = self._conn.execute(
                "SELECT id FROM playlists WHERE name = ?", (new_name,)
            ).fetchone()
            if clash is not None and clash["id"] != row["id"]:
                raise LibraryError(f"a playlist named {new_name!r} already exists")
            self._conn.execute(
                "UPDATE playlists SET name = ?, updated_ms = ? WHERE id = ?",
                (new_name, _now_ms(), row["id"]),
            )
        return self.playlist(row["id"])

    def delete_playlist(self, name_or_id: str | int) -> None:
        with self._lock, _db.transaction(self._conn):
            row = self._find_playlist(name_or_id)
            self._conn.execute("DELETE FROM playlists WHERE id = ?", (row["id"],))

    def add_to_playlist(
        self, name_or_id: str | int, track_ids: Iterable[int], position: int | None = None
    ) -> Playlist:
        """Insert tracks at ``position`` (default: the end). A track may appear twice."""
        with self._lock, _db.transaction(self._conn):
            row = self._find_playlist(name_or_id)
            items = list(self._items(row["id"]))
            new = list(track_ids)
            for track_id in new:
                if not self._conn.execute(
                    "SELECT 1 FROM tracks WHERE id = ?", (track_id,)
                ).fetchone():
                    raise LibraryError(f"no track with id {track_id}")
            at = len(items) if position is None else max(0, min(position, len(items)))
            items[at:at] = new
            self._rewrite(row["id"], items)
        return self.playlist(row["id"])

    def remove_from_playlist(self, name_or_id: str | int, position: int) -> Playlist:
        """Remove the entry at ``position`` (0-based)."""
        with self._lock, _db.transaction(self._conn):
            row = self._find_playlist(name_or_id)
            items = list(self._items(row["id"]))
            if not 0 <= position < len(items):
                raise LibraryError(
                    f"position {position} is outside the playlist (it has {len(items)} entries)"
                )
            del items[position]
            self._rewrite(row["id"], items)
        return self.playlist(row["id"])

    def move_in_playlist(self, name_or_id: str | int, from_pos: int, to_pos: int) -> Playlist:
        """Reorder: the entry at ``from_pos`` ends up at ``to_pos`` (both 0-based)."""
        with self._lock, _db.transaction(self._conn):
            row = self._find_playlist(name_or_id)
            items = list(self._items(row["id"]))
            if not (0 <= from_pos < len(items) and 0 <= to_pos < len(items)):
                raise LibraryError(f"positions must be between 0 and {len(items) - 1}")
            items.insert(to_pos, items.pop(from_pos))
            self._rewrite(row["id"], items)
        return self.playlist(row["id"])

    def _find_playlist(self, name_or_id: str | int) -> Any:
        if isinstance(name_or_id, int):
            row = self._conn.execute(
                "SELECT id, name FROM playlists WHERE id = ?", (name_or_id,)
            ).fetchone()
        else:
            row = self._conn.execute(
                "SELECT id, name FROM playlists WHERE name = ?", (name_or_id.strip(),)
            ).fetchone()
        if row is None:
            raise LibraryError(f"no playlist {name_or_id!r}")
        return row

    def _items(self, playlist_id: int) -> tuple[int, ...]:
        rows = self._conn.execute(
            "SELECT track_id FROM playlist_items WHERE playlist_id = ? ORDER BY position",
            (playlist_id,),
        ).fetchall()
        return tuple(r[0] for r in rows)

    def _append(self, playlist_id: int, track_ids: list[int]) -> None:
        self._rewrite(playlist_id, list(self._items(playlist_id)) + track_ids)

    def _rewrite(self, playlist_id: int, track_ids: list[int]) -> None:
        # Playlists are short; rewriting positions 0..n-1 keeps them dense and the SQL trivial.
        self._conn.execute("DELETE FROM playlist_items WHERE playlist_id = ?", (playlist_id,))
        self._conn.executemany(
            "INSERT INTO playlist_items (playlist_id, position, track_id) VALUES (?, ?, ?)",
            [(playlist_id, pos, tid) for pos, tid in enumerate(track_ids)],
        )
        self._conn.execute(
            "UPDATE playlists SET updated_ms = ? WHERE id = ?", (_now_ms(), playlist_id)
        )

    def _renumber_all(self) -> None:
        for (playlist_id,) in self._conn.execute("SELECT id FROM playlists").fetchall():
            self._rewrite(playlist_id, list(self._items(playlist_id)))

    # -- search and catalog -----------------------------------------------------------------

    def search(
        self,
        text: str,
        limit: int = 50,
        scopes: tuple[_search.Scope, ...] = ("library", "catalog"),
    ) -> _search.SearchResults:
        """Full-text, prefix-matching, ranked search over the library and the store catalog."""
        with self._lock:
            return _search.search(self._conn, text, limit, scopes)

    def sync_catalog(
        self,
        releases: Iterable[_catalog.CatalogRelease],
    ) -> _catalog.CatalogSyncResult:
        """Make the searchable store catalog equal to the ledger's current listings."""
        with self._lock:
            return _catalog.sync_catalog(self._conn, releases)

    def upsert_catalog(self, releases: Iterable[_catalog.CatalogRelease]) -> int:
        with self._lock:
            return _catalog.upsert_releases(self._conn, releases)

    def remove_catalog(self, listing_ids: Iterable[bytes]) -> int:
        with self._lock:
            return _catalog.remove_releases(self._conn, listing_ids)
