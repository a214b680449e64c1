"""The library: purchased tracks as rows, their downloads and streaming, and playlists."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from app.services.errors import UserError
from app.services.events import DownloadProgress
from app.services.session.artwork import ArtworkMixin
from app.services.session.network import ProgressFn
from app.services.session.views import LibraryRow


class LibraryMixin(ArtworkMixin):
    """What the Library view and the player show and do."""

    def _register_owned(self) -> None:
        """Put every unlocked purchased track in the library (idempotent)."""
        known = {t.content_id for t in self.library.tracks() if t.content_id}
        for status in self.shop.purchases():
            if not status.unlocked:
                continue
            li = status.listing
            idx = range(len(li.tracks)) if status.track is None else [status.track]
            for i in idx:
                t = li.tracks[i]
                if t.content in known:
                    continue
                self.library.add_purchase(
                    t.content,
                    title=t.title,
                    artist=self._artist(li),
                    album=li.title,
                    genre=li.genre,
                    tags=li.tags,
                    duration_ms=t.duration_ms,
                )

    def download(
        self, content: bytes, cancel: threading.Event, progress: ProgressFn | None = None
    ) -> None:
        """Fetch a purchased track; emits DownloadProgress events as chunks arrive."""
        if self.core.content_key(content) is None:
            raise UserError("you do not own this track yet")

        def report(have: int, total: int) -> None:
            self.downloads[content] = (have, total)
            self.core.events.emit(DownloadProgress(content, have, total))
            if progress:
                progress(have, total)

        self.network.fetch(self.core, content, report, cancel)
        manifest = self.core.chunks.manifest(content)
        if manifest is not None:
            n = len(manifest.chunks)
            report(n, n)

    def missing_downloads(self) -> list[bytes]:
        """Owned tracks whose chunks are not all here yet."""
        out = []
        for t in self.library.tracks():
            if (
                t.source == "purchase"
                and t.content_id
                and not self.core.chunks.is_complete(t.content_id)
            ):
                out.append(t.content_id)
        return out

    def stream_parts(self, content: bytes) -> tuple[Path, bytes | None, str]:
        """(chunk store root, key, mime) to open a DecryptingStream on a track."""
        manifest = self.core.chunks.manifest(content)
        if manifest is None:
            raise UserError("this track has not started downloading yet")
        return self.core.chunks.root, self.core.content_key(content), manifest.mime

    def want_chunks(self, content: bytes, index: int) -> None:
        """The player waits at chunk ``index`` (see ``Network.want_chunks``); any thread."""
        self.network.want_chunks(content, index)

    def stream_parts_many(self, contents: Sequence[bytes]) -> list[tuple[Path, bytes | None, str]]:
        return [self.stream_parts(c) for c in contents]

    def library_rows(self) -> list[LibraryRow]:
        state = self.core.ledger.state
        art_of: dict[bytes, bytes | None] = {}
        position: dict[bytes, int] = {}
        for li in state.listings.values():
            for i, lt in enumerate(li.tracks):
                art_of[lt.content] = li.artwork
                position[lt.content] = i
        rows = []
        seen = set()
        for t in self.library.tracks():
            if t.source != "purchase" or t.content_id is None:
                continue
            c = t.content_id
            seen.add(c)
            manifest = self.core.chunks.manifest(c)
            total = len(manifest.chunks) if manifest else 0
            have = total - len(self.core.chunks.missing_chunks(manifest)) if manifest else 0
            if manifest is None and c in self.downloads:
                have, total = self.downloads[c]
            st = "ready" if total and have >= total else ("downloading" if total else "queued")
            rows.append(
                LibraryRow(
                    c,
                    t.id,
                    t.title,
                    t.artist,
                    t.album,
                    t.duration_ms,
                    self.artwork(art_of.get(c)),
                    have,
                    total,
                    t.offline,
                    st,
                )
            )
        for s in self.shop.purchases():  # bought, grant not here yet
            if s.unlocked:
                continue
            li = s.listing
            for i, lt in enumerate(li.tracks):
                if (s.track is None or s.track == i) and lt.content not in seen:
                    rows.append(
                        LibraryRow(
                            lt.content,
                            None,
                            lt.title,
                            self._artist(li),
                            li.title,
                            lt.duration_ms,
                            self.artwork(li.artwork),
                            0,
                            0,
                            False,
                            "waiting",
                        )
                    )
        # albums together, in track order (as a music app lists them)
        rows.sort(key=lambda r: (r.artist.lower(), r.album.lower(), position.get(r.content, 0)))
        return rows

    def set_offline(self, track_id: int, offline: bool) -> None:
        self.library.set_offline(track_id, offline)

    def playlists(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(p.name, p.track_ids) for p in self.library.playlists()]

    def create_playlist(self, name: str, track_ids: Sequence[int]) -> None:
        if not name.strip():
            raise UserError("give the playlist a name")
        self.library.create_playlist(name.strip(), list(track_ids))

    def add_to_playlist(self, name: str, track_ids: Sequence[int]) -> None:
        self.library.add_to_playlist(name, list(track_ids))

    def remove_from_playlist(self, name: str, position: int | Sequence[int]) -> None:
        """Remove the item at ``position`` (0-based) of the playlist, or the items at each of
        several positions."""
        positions = [position] if isinstance(position, int) else list(position)
        for pos in sorted(set(positions), reverse=True):
            self.library.remove_from_playlist(name, pos)

    def move_in_playlist(self, name: str, from_pos: int, to_pos: int) -> None:
        self.library.move_in_playlist(name, from_pos, to_pos)

    def rename_playlist(self, name: str, new_name: str) -> None:
        if not new_name.strip():
            raise UserError("give the playlist a name")
        if new_name.strip() != name:
            self.library.rename_playlist(name, new_name.strip())

    def delete_playlist(self, name: str) -> None:
        self.library.delete_playlist(name)
