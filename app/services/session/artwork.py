"""Covers: fetched in the background, checked (clear, bounded size, a sane image), kept in an
LRU cache, and asked for again with a back-off when they cannot be had."""

from __future__ import annotations

import logging
import threading
import time

from app.services.covers import ARTWORK_MAX_BYTES, check_cover_image
from app.services.errors import UserError
from app.services.session.base import SessionBase
from content.format import Manifest, unpack

log = logging.getLogger(__name__)

ARTWORK_RETRY_S = 5.0  # a cover that could not be had is asked for again after this long ...
ARTWORK_RETRY_MAX_S = 3600.0  # ... doubling each time up to this
ARTWORK_CACHE_BYTES = 48 * 1024 * 1024  # covers kept in memory (least recently used go)


class ArtworkMixin(SessionBase):
    """The covers of the catalog, for every view that shows a release."""

    def artwork(self, content: bytes | None) -> bytes | None:
        """A cover, if it is here (never waits on the network: ``fetch_artwork`` brings it).
        Covers that are sealed, too large or not an image of sane size are never returned."""
        if content is None:
            return None
        with self._lock:
            data = self._art_cache.get(content)
            if data is not None:
                self._art_cache.move_to_end(content)
                return data
        if content in self._art_missed:
            return None
        try:
            data = self._cover_bytes(content, fetch=False)
        except UserError as err:
            self._art_failed(content, str(err))
            return None
        if data is not None:
            self._remember_art(content, data)
        return data

    def _cover_bytes(self, content: bytes, fetch: bool) -> bytes | None:
        """The clear bytes of a cover, checked: clear, at most ``ARTWORK_MAX_BYTES``, an image
        of at most ``ARTWORK_MAX_PIXELS``. None if not here (and ``fetch`` is false or no peer
        has it); UserError for a cover that will never do."""
        manifest = self.core.chunks.manifest(content)
        if manifest is not None:
            _check_cover_manifest(manifest)
        if manifest is None or not self.core.chunks.is_complete(content):
            if not fetch:
                return None
            try:
                self.network.fetch(
                    self.core,
                    content,
                    lambda d, t: None,
                    threading.Event(),
                    max_bytes=ARTWORK_MAX_BYTES + 64 * 1024,
                )
            except UserError:
                return None
            manifest = self.core.chunks.manifest(content)
            if manifest is None or not self.core.chunks.is_complete(content):
                return None
            _check_cover_manifest(manifest)
        chunks = [self.core.chunks.get_chunk(c) for c in manifest.chunks]
        if any(c is None for c in chunks):
            return None
        try:
            data = unpack(manifest, chunks, None)  # type: ignore[arg-type]
        except ValueError as exc:  # ContentError: a chunk does not match
            raise UserError(f"the cover is damaged: {exc}") from exc
        check_cover_image(data)
        return data

    def _remember_art(self, content: bytes, data: bytes) -> None:
        with self._lock:
            if content in self._art_cache:
                return
            self._art_cache[content] = data
            self._art_cached_bytes += len(data)
            while self._art_cached_bytes > ARTWORK_CACHE_BYTES and len(self._art_cache) > 1:
                _, old = self._art_cache.popitem(last=False)
                self._art_cached_bytes -= len(old)

    def _art_failed(self, content: bytes, reason: str) -> None:
        previous = self._art_missed.get(content)
        wait = ARTWORK_RETRY_S if previous is None else min(previous[1] * 2, ARTWORK_RETRY_MAX_S)
        self._art_missed[content] = (time.monotonic() + wait, wait, reason)
        while len(self._art_missed) > 4096:
            del self._art_missed[next(iter(self._art_missed))]
        if previous is None or previous[2] != reason:
            log.info("cover %s: %s (asked for again in %.0f s)", content.hex()[:12], reason, wait)

    def covers(self) -> list[bytes]:
        """The covers of the catalog that are here (for decoding ahead of drawing)."""
        out = []
        for li in self.shop.catalog():
            data = self.artwork(li.artwork) if li.artwork else None
            if data is not None:
                out.append(data)
        return out

    def artwork_problem(self, content: bytes) -> str | None:
        """Why a cover is not shown, while it backs off (None if nothing is known against it)."""
        missed = self._art_missed.get(content)
        return None if missed is None else missed[2]

    def fetch_artwork(self) -> int:
        """Download the covers of the catalog that are not here yet; returns how many arrived.
        Each cover is isolated: one that cannot be had (no peer has it, sealed, too large, not
        an image) is asked for again after ``ARTWORK_RETRY_S``, doubling up to
        ``ARTWORK_RETRY_MAX_S``; nothing it does stops the others or the sync pass."""
        arrived = 0
        for li in self.shop.catalog():
            content = li.artwork
            if content is None or content in self._art_cache:
                continue
            missed = self._art_missed.get(content)
            if missed is not None and time.monotonic() < missed[0]:
                continue
            try:
                data = self._cover_bytes(content, fetch=True)
            except UserError as err:
                self._art_failed(content, str(err))
                continue
            except Exception as exc:  # a hostile cover never stops the pass
                self._art_failed(content, repr(exc))
                continue
            if data is None:
                self._art_failed(content, "no peer has it")
            else:
                self._art_missed.pop(content, None)
                self._remember_art(content, data)
                arrived += 1
        return arrived


def _check_cover_manifest(manifest: Manifest) -> None:
    if manifest.encrypted:
        raise UserError("the cover is sealed, so nobody can show it")
    if manifest.size > ARTWORK_MAX_BYTES:
        raise UserError(
            f"the cover is {manifest.size} bytes, over the {ARTWORK_MAX_BYTES}-byte limit"
        )
