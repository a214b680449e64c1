"""The library service: the one place the GUI, the CLI and the seeder reach the music library.

Plain, Qt-free and synchronous (the GUI calls it through ``trio.to_thread.run_sync`` because
imports and SQLite block). Every user-facing failure is a :class:`UserError`; results are the
immutable dataclasses of ``player.library`` and ``player.search``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from app.profile import Profile
from app.services.errors import UserError
from player.catalog import CatalogRelease, CatalogSyncResult
from player.library import ImportProblem, ImportReport, Library, LibraryError, Playlist, Track
from player.search import Scope, SearchResults

_T = TypeVar("_T")


class LibraryService:
    """Library operations for one profile. Opens the database lazily; call :meth:`close`."""

    def __init__(self, profile: Profile) -> None:
        self._profile = profile
        self._library: Library | None = None
        self._open_lock = threading.Lock()

    @property
    def library(self) -> Library:
        with self._open_lock:
            if self._library is None:
                self._profile.ensure()
                self._library = Library(self._profile.library_db)
            return self._library

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None

    # -- collection ---------------------------------------------------------------------------

    def import_folder(
        self,
        folder: Path | str,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ImportReport:
        """Import (or re-import) a folder; broken files are in ``report.failed``."""
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise UserError(f"{folder} is not a folder", hint="give the folder holding your music")
        return self._call(self.library.import_folder, path, progress, cancel)

    def tracks(self, include_missing: bool = True) -> list[Track]:
        return self.library.tracks(include_missing)

    def track(self, ref: int | str) -> Track:
        """A track by id, or by a search that matches exactly one library track."""
        return self.resolve_track(ref)

    def problems(self) -> list[ImportProblem]:
        """Files that could not be imported, with the reason."""
        return self.library.problems()

    def set_offline(self, ref: int | str, offline: bool) -> Track:
        return self._call(self.library.set_offline, self.resolve_track(ref).id, offline)

    def add_purchase(
        self,
        content_id: bytes,
        *,
        title: str,
        artist: str,
        album: str = "",
        genre: str = "",
        tags: Iterable[str] = (),
        duration_ms: int = 0,
        mime: str = "",
    ) -> Track:
        """Record a bought track in the collection (called when a grant arrives)."""
        return self.library.add_purchase(
            content_id,
            title=title,
            artist=artist,
            album=album,
            genre=genre,
            tags=tuple(tags),
            duration_ms=duration_ms,
            mime=mime,
        )

    def artwork(self, track: Track) -> tuple[str, bytes] | None:
        """(mime, bytes) of a track's cover, if it has one."""
        if track.artwork_hash is None:
            return None
        art = self.library.artwork(track.artwork_hash)
        return None if art is None else (art.mime, art.data)

    # -- search -------------------------------------------------------------------------------

    def search(
        self, query: str, limit: int = 50, scopes: tuple[Scope, ...] = ("library", "catalog")
    ) -> SearchResults:
        """Prefix-matching, ranked full-text search over the library and the store catalog."""
        if limit < 1:
            raise UserError("the result limit must be at least 1")
        return self.library.search(query, limit, scopes)

    def sync_catalog(self, releases: Iterable[CatalogRelease]) -> CatalogSyncResult:
        """Replace the searchable catalog with the ledger replica's current listings."""
        return self.library.sync_catalog(releases)

    # -- playlists ----------------------------------------------------------------------------

    def playlists(self) -> list[Playlist]:
        return self.library.playlists()

    def playlist(self, name: str) -> Playlist:
        return self._call(self.library.playlist, name)

    def create_playlist(self, name: str, tracks: Iterable[int | str] = ()) -> Playlist:
        ids = [self.resolve_track(t).id for t in tracks]
        return self._call(self.library.create_playlist, name, ids)

    def add_to_playlist(
        self, name: str, tracks: Iterable[int | str], position: int | None = None
    ) -> Playlist:
        """Add tracks; ``position`` is 0-based (None appends)."""
        ids = [self.resolve_track(t).id for t in tracks]
        return self._call(self.library.add_to_playlist, name, ids, position)

    def remove_from_playlist(self, name: str, position: int) -> Playlist:
        return self._call(self.library.remove_from_playlist, name, position)

    def move_in_playlist(self, name: str, from_pos: int, to_pos: int) -> Playlist:
        return self._call(self.library.move_in_playlist, name, from_pos, to_pos)

    def rename_playlist(self, name: str, new_name: str) -> Playlist:
        return self._call(self.library.rename_playlist, name, new_name)

    def delete_playlist(self, name: str) -> None:
        self._call(self.library.delete_playlist, name)

    # -- helpers ------------------------------------------------------------------------------

    def resolve_track(self, ref: int | str) -> Track:
        """Accept a track id (int or digits) or words that match exactly one library track."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            return self._call(self.library.track, int(ref))
        hits = self.library.search(str(ref), limit=2, scopes=("library",)).library
        if not hits:
            raise UserError(f"no track matches {ref!r}")
        if len(hits) > 1:
            raise UserError(
                f"{ref!r} matches several tracks",
                hint="use the track id from 'cooptracks library list'",
            )
        return self.library.track(hits[0].track_id)

    @staticmethod
    def _call(fn: Callable[..., _T], *args: Any) -> _T:
        try:
            return fn(*args)
        except LibraryError as exc:
            raise UserError(str(exc)) from exc
