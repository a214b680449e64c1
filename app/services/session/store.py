"""The store: the catalog and its search, a release's page, previews, quoting and buying."""

from __future__ import annotations

import logging
import threading

from app.services.errors import UserError
from app.services.money import format_amount
from app.services.session.artwork import ArtworkMixin
from app.services.session.views import (
    BuyQuote,
    ReleaseCard,
    ReleasePage,
    TrackRow,
    decimal_text,
)
from content.format import unpack
from ledger.features.selling import Price
from ledger.keys import peer_id
from ledger.state import Listing
from player.catalog import CatalogRelease, CatalogTrack

log = logging.getLogger(__name__)


class StoreMixin(ArtworkMixin):
    """What the Store view shows and does."""

    def sync_search_index(self) -> None:
        state_hash = self.core.ledger.state_hash()
        if state_hash == self._catalog_hash:
            return
        releases = [
            CatalogRelease(
                li.id,
                li.artist,
                self._artist(li),
                li.title,
                li.genre,
                li.tags,
                tuple(
                    CatalogTrack(t.title, t.content, t.preview, t.duration_ms) for t in li.tracks
                ),
                li.timestamp,
            )
            for li in self.shop.catalog()
        ]
        self.library.sync_catalog(releases)
        self._catalog_hash = state_hash

    # -- store -----------------------------------------------------------------------------------
    def _card(self, li: Listing, owned: set[bytes]) -> ReleaseCard:
        return ReleaseCard(
            li.id,
            li.title,
            self._artist(li),
            li.genre,
            li.tags,
            self.shop.price_text(li).shown,
            self.artwork(li.artwork) if li.artwork else None,
            len(li.tracks),
            li.id in owned,
            li.artist == self.me,
            li.timestamp,
            li.artist,
        )

    def _owned_listings(self) -> set[bytes]:
        return {s.listing.id for s in self.shop.purchases() if s.track is None}

    def catalog(self) -> list[ReleaseCard]:
        owned = self._owned_listings()
        return [self._card(li, owned) for li in self.shop.catalog()]

    def search(self, query: str) -> list[bytes]:
        """Listing IDs matching ``query`` (titles, artists, tracks, genres, tags)."""
        query = query.strip()
        if not query:
            return [li.id for li in self.shop.catalog()]
        ids: list[bytes] = []
        try:
            self.sync_search_index()
            for hit in self.library.search(query, limit=200, scopes=("catalog",)).catalog:
                if hit.listing_id not in ids:
                    ids.append(hit.listing_id)
        except (UserError, Exception) as exc:  # the index is a convenience; fall back below
            log.debug("catalog search fell back to substring matching: %s", exc)
        words = query.lower().split()
        for li in self.shop.catalog():
            hay = " ".join(
                [
                    li.title,
                    self._artist(li),
                    li.artist_name,
                    li.genre,
                    *li.tags,
                    *(t.title for t in li.tracks),
                ]
            ).lower()
            if all(w in hay for w in words) and li.id not in ids:
                ids.append(li.id)
        return ids

    def release(self, listing_id: bytes) -> ReleasePage:
        li = self.shop.listing(listing_id)
        state = self.core.ledger.state
        statuses = [s for s in self.shop.purchases() if s.listing.id == li.id]
        whole = [s for s in statuses if s.track is None]
        if whole and whole[0].unlocked:
            pstate = "owned"
        elif whole and whole[0].granted:
            pstate = "granted"
        elif whole:
            pstate = "waiting"
        else:
            pstate = ""
        owned = {li.id} if whole else set()
        singles = {s.track for s in statuses if s.track is not None}
        tracks = tuple(
            TrackRow(
                i,
                t.title,
                t.duration_ms,
                t.content,
                t.preview,
                self.shop.owns(t.content),
                self._track_price(t.prices),
                bool(whole) or i in singles,
            )
            for i, t in enumerate(li.tracks)
        )
        price = self.shop.price_text(li)
        asset = state.assets.get(li.prices[0].asset)
        balance = (
            format_amount(state.balance(self.me, asset.id), asset.precision, asset.symbol)
            if asset
            else "0"
        )
        trusted = bool(asset) and self.wallet.is_trusted(asset)  # type: ignore[arg-type]
        return ReleasePage(
            self._card(li, owned),
            li.description,
            tracks,
            price.plain,
            price.symbol,
            price.nyp,
            trusted,
            balance,
            pstate,
            self._split_text(li),
        )

    def _split_text(self, li: Listing) -> str:
        """Who a purchase at the (minimum) price pays what, shown before buying."""
        from ledger.state import compute_payouts

        state = self.core.ledger.state
        price = li.prices[0]
        asset = state.assets.get(price.asset)
        precision, symbol = (asset.precision, asset.symbol) if asset else (0, "?")
        parts = []
        for p in compute_payouts(price.amount, li.split, li.remainder):
            profile = state.profiles.get(p.to)
            who = (profile.name if profile and profile.name else "") or peer_id(p.to)[:12] + "…"
            if p.to == li.artist:
                who = f"{li.artist_name or who} (the artist)"
            parts.append(f"{who} {format_amount(p.amount, precision, symbol)}")
        return ", ".join(parts)

    def _track_price(self, prices: tuple[Price, ...]) -> str:
        if not prices:
            return ""
        asset = self.core.ledger.state.assets.get(prices[0].asset)
        precision, symbol = (asset.precision, asset.symbol) if asset else (0, "?")
        return ("from " if prices[0].nyp else "") + format_amount(
            prices[0].amount, precision, symbol
        )

    def quote(self, listing_id: bytes, amount: str | None, track: int | None = None) -> BuyQuote:
        """What ``buy`` with the same arguments would pay, to whom, and the balance after; signs
        nothing. Raises the UserError ``buy`` would (not enough credit, below the minimum…)."""
        with self._lock:
            q = self.shop.quote(listing_id, track=track, amount=decimal_text(amount) or None)
            state = self.core.ledger.state
            asset = state.assets.get(q.asset)
            precision, symbol = (asset.precision, asset.symbol) if asset else (0, "?")
            after = state.balance(self.me, q.asset) - q.amount
        li = q.listing
        what = li.title if track is None else f"{li.tracks[track].title} (from {li.title})"
        return BuyQuote(
            what, li.artist_name, q.shown, q.split_text, format_amount(after, precision, symbol)
        )

    def buy(self, listing_id: bytes, amount: str | None, track: int | None = None) -> bytes:
        """Buy the release, or one of its tracks (``track``: its index) where sold alone."""
        with self._lock:
            purchase = self.shop.buy(listing_id, track=track, amount=decimal_text(amount) or None)
            artist = self.core.ledger.state.listings[listing_id].artist
        self.network.reach_soon(artist)  # the artist grants: reach it directly if we can
        try:  # tell peers right away; the grant comes back on a later sync
            self.network.sync(self.core)
        except Exception as exc:
            log.info("purchase will sync later: %s", exc)
        return purchase

    def _clear_bytes(self, content: bytes, fetch: bool = True) -> bytes | None:
        chunks = self.core.chunks
        manifest = chunks.manifest(content)
        if manifest is None or not chunks.is_complete(content):
            if not fetch:
                return None
            try:
                self.network.fetch(self.core, content, lambda d, t: None, threading.Event())
            except UserError:
                return None
            manifest = chunks.manifest(content)
            if manifest is None:
                return None
        data = [chunks.get_chunk(c) for c in manifest.chunks]
        if any(d is None for d in data):
            return None
        return unpack(manifest, data, None)  # type: ignore[arg-type]

    def preview_file(self, preview: bytes) -> tuple[bytes, str, int]:
        """The clear bytes, MIME type and duration (ms) of a preview clip."""
        data = self._clear_bytes(preview)
        manifest = self.core.chunks.manifest(preview)
        if data is None or manifest is None:
            raise UserError("this preview cannot be reached right now", hint="no peer has it")
        return data, manifest.mime, _duration_ms(data)


def _duration_ms(data: bytes) -> int:
    """Duration of an encoded clip (0 if unknown)."""
    import io

    try:
        import av

        with av.open(io.BytesIO(data), "r") as container:
            return int((container.duration or 0) / 1000)
    except Exception:
        return 0
