"""What the desktop app needs from the services, shaped for views (Qt-free, synchronous).

A :class:`Session` is one unlocked identity with its services (wallet, shop, studio, library) and
a :class:`Network` (the swarm, the in-process demo swarm, or nothing). Every method may block on
SQLite or hashing, so the GUI calls them only through ``app.bridge.Bridge`` on a worker thread;
the CLI-style headless demo check calls them directly. Results are frozen dataclasses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.profile import Profile
from app.services.artist_desk import ArtistDesk
from app.services.core import Core
from app.services.covers import ARTWORK_MAX_BYTES, check_cover_image
from app.services.errors import UserError
from app.services.events import DownloadProgress, Notice
from app.services.exchange_desk import ExchangeDesk
from app.services.funding_desk import FundingDesk
from app.services.identity import IdentityInfo, IdentityService
from app.services.library import LibraryService
from app.services.money import format_amount
from app.services.profiles import ProfileService, artist_name
from app.services.shop import ShopService
from app.services.wallet import WalletService
from ledger.content import Manifest, unpack
from ledger.features.selling import Price
from ledger.keys import Signer, peer_id
from ledger.state import Listing
from player.catalog import CatalogRelease, CatalogTrack

if TYPE_CHECKING:
    from app.services.studio import PublishResult, ReleaseDraft

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
ARTWORK_RETRY_S = 5.0  # a cover that could not be had is asked for again after this long ...
ARTWORK_RETRY_MAX_S = 3600.0  # ... doubling each time up to this
ARTWORK_CACHE_BYTES = 48 * 1024 * 1024  # covers kept in memory (least recently used go)


# -- the network seam ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PeerView:
    name: str
    peer_id: str
    address: str
    role: str  # "artist", "seeder", "gateway", "fan", "peer"
    online: bool
    latency_ms: float | None = None
    inbound: bool = False  # the peer dialled us
    bytes_in: int = 0  # received from this peer (this session)
    bytes_out: int = 0
    connection: str = "direct"  # or "relayed": through a relay, until hole punching upgrades it


@dataclass(frozen=True)
class NetworkStatus:
    mode: str  # "swarm", "demo swarm", "offline"
    listen: str
    reachability: str  # a sentence: "public: …", "private: …", "offline: …"
    peers: tuple[PeerView, ...] = ()
    seeding_items: int = 0
    seeding_bytes: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rate_in: float = 0.0  # bytes/s over the last few seconds
    rate_out: float = 0.0
    peer_id: str = ""
    downloads: int = 0  # transfers running now
    reach: str = "Offline"  # the reachability in a word or two, for a card
    discovery: str = ""  # DHT, LAN and relay state in a sentence
    relay_addrs: tuple[str, ...] = ()  # our addresses through relays

    @property
    def online(self) -> tuple[PeerView, ...]:
        return tuple(p for p in self.peers if p.online)


class Network(Protocol):
    """How a session reaches other peers.

    ``serve`` runs as a trio task for as long as the session is open (the app's runtime hosts
    it); the other methods block and are called from worker threads.
    """

    async def serve(self, core: Core, ready: Callable[[], None]) -> None:
        """Run until cancelled; call ``ready()`` once peers can reach us."""
        ...

    def sync(self, core: Core) -> int:
        """Exchange ledger entries with peers; returns how many entries we received."""
        ...

    def fetch(
        self,
        core: Core,
        content: bytes,
        progress: ProgressFn,
        cancel: threading.Event,
        max_bytes: int | None = None,
    ) -> None:
        """Download a content item's manifest and chunks into ``core.chunks``; with
        ``max_bytes``, refuse (UserError) content that needs more chunk bytes than that."""
        ...

    def status(self, core: Core) -> NetworkStatus: ...

    def want_chunks(self, content: bytes, index: int) -> None:
        """Playback waits at chunk ``index`` of ``content``: fetch it and the next few first.
        A hint; never blocks, callable from any thread."""
        ...

    def reach_soon(self, public_key: bytes) -> None:
        """Start connecting to the identity with this public key (an artist we just paid), so
        our new entries reach it directly. Never blocks; nothing happens if it is offline."""
        ...

    def set_bandwidth(self, upload_bps: int, download_bps: int) -> None:
        """Cap this node's total upload and download in bytes per second (0: no cap), from now
        on and for the rest of the session."""
        ...

    def close(self) -> None: ...


class OfflineNetwork:
    """No peers: the app works on the local replica; downloads say why they cannot start."""

    async def serve(self, core: Core, ready: Callable[[], None]) -> None:
        ready()

    def sync(self, core: Core) -> int:
        return 0

    def fetch(
        self,
        core: Core,
        content: bytes,
        progress: ProgressFn,
        cancel: threading.Event,
        max_bytes: int | None = None,
    ) -> None:
        if core.chunks.is_complete(content):
            return
        raise UserError(
            "no peers are reachable to download from",
            hint="the swarm connects when Cooptracks is online",
        )

    def status(self, core: Core) -> NetworkStatus:
        return NetworkStatus(
            "offline",
            "not listening",
            "offline: no swarm running",
            seeding_items=len(core.chunks.content_ids()),
            seeding_bytes=core.chunks.size_on_disk(),
        )

    def want_chunks(self, content: bytes, index: int) -> None:
        pass  # nothing is downloading

    def reach_soon(self, public_key: bytes) -> None:
        pass  # no peers

    def set_bandwidth(self, upload_bps: int, download_bps: int) -> None:
        pass  # nothing moves

    def close(self) -> None:
        pass


# -- view models -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseCard:
    id: bytes
    title: str
    artist: str
    genre: str
    tags: tuple[str, ...]
    price: str  # "4.00 CRED" or "from 3.00 CRED"
    artwork: bytes | None
    track_count: int
    owned: bool
    mine: bool
    timestamp: int
    artist_key: bytes = b""  # the listing's signer; ``artist`` is its published name


@dataclass(frozen=True)
class TrackRow:
    index: int
    title: str
    duration_ms: int
    content: bytes
    preview: bytes | None
    owned: bool
    price: str = ""  # "1.00 CRED" when the track is sold on its own, else ""
    bought: bool = False  # a purchase of this track (or of the release) is signed


@dataclass(frozen=True)
class ReleasePage:
    card: ReleaseCard
    description: str
    tracks: tuple[TrackRow, ...]
    min_price: str  # decimal text without symbol, e.g. "4.00"
    symbol: str
    nyp: bool
    asset_trusted: bool
    balance: str
    purchase_state: str  # "", "waiting", "granted", "owned"
    split: str = ""  # who a purchase pays what: "Neon Harbor (the artist) 5.00 CRED"


@dataclass(frozen=True)
class BuyQuote:
    """A purchase before it is signed, for the confirmation."""

    what: str  # the release's title, or "Track (from Release)"
    artist: str
    price: str  # "4.00 CRED"
    split: tuple[str, ...]  # one line per recipient: "Name (the artist): 3.60 CRED"
    balance_after: str


@dataclass(frozen=True)
class LibraryRow:
    content: bytes
    track_id: int | None
    title: str
    artist: str
    album: str
    duration_ms: int
    artwork: bytes | None
    have: int
    total: int
    offline: bool
    state: str  # "ready", "downloading", "waiting", "queued"

    @property
    def ready(self) -> bool:
        return self.total > 0 and self.have >= self.total


@dataclass(frozen=True)
class BalanceView:
    asset: bytes
    symbol: str
    name: str
    amount: str
    incoming: str
    trusted: bool
    issuer: bytes


@dataclass(frozen=True)
class HistoryView:
    timestamp: int
    kind: str
    change: str
    positive: bool
    what: str = ""  # what it was for: the release (and track) a purchase bought


@dataclass(frozen=True)
class WalletView:
    balances: tuple[BalanceView, ...]
    history: tuple[HistoryView, ...]
    me: bytes
    me_id: str = ""  # the peer ID: what the app shows and others paste to pay us


@dataclass(frozen=True)
class SaleView:
    timestamp: int
    release: str
    amount: str
    share: int  # smallest units (for the chart)
    fulfilled: bool


@dataclass(frozen=True)
class StudioView:
    releases: tuple[ReleaseCard, ...]
    sales: tuple[SaleView, ...]
    total: str
    assets: tuple[tuple[bytes, str], ...]  # (asset id, symbol) one may price in
    agents: tuple[AgentView, ...] = ()  # sales agents and what each can sell


@dataclass(frozen=True)
class AgentView:
    """A sales agent (a seeder) of ours: the releases it can sell while we are offline."""

    name: str
    peer_id: str
    can: tuple[str, ...]  # release titles
    cannot: tuple[str, ...]


@dataclass(frozen=True)
class SyncReport:
    received: int
    unlocked: list[bytes] = field(default_factory=list)


# -- the session ---------------------------------------------------------------------------------
class Session:
    """One unlocked identity with its services, for the GUI (through the bridge)."""

    def __init__(
        self,
        profile: Profile,
        signer: Signer,
        network: Network | None = None,
        identity: IdentityService | None = None,
    ) -> None:
        self.profile = profile
        self.identity = identity or IdentityService(profile)
        self.core = Core(profile, signer)
        self.network: Network = network or OfflineNetwork()
        self.shop = ShopService(self.core)
        self.wallet = WalletService(self.core)
        from app.services.studio import StudioService  # heavy (encoders): on unlock, off-GUI

        self.studio = StudioService(self.core)
        self.library = LibraryService(profile)
        self.profiles = ProfileService(self.core, self.identity)
        self._lock = threading.RLock()
        self.exchange = ExchangeDesk(self.core, lambda: self.network.sync(self.core), self._lock)
        self.artists = ArtistDesk(self.core, self.exchange, self._lock)
        self.funding = FundingDesk(self.core, lambda: self.network.sync(self.core), self._lock)
        self._art_cache: OrderedDict[bytes, bytes] = OrderedDict()  # LRU, ARTWORK_CACHE_BYTES
        self._art_cached_bytes = 0
        self._art_missed: dict[bytes, tuple[float, float, str]] = {}
        # ^ content -> (when to ask again, current wait, why it could not be had)
        self._catalog_hash: bytes | None = None
        self.downloads: dict[bytes, tuple[int, int]] = {}

    @property
    def me(self) -> bytes:
        return self.core.me

    def close(self) -> None:
        self.library.close()
        self.core.close()

    # -- identity --------------------------------------------------------------------------------
    def identity_info(self) -> IdentityInfo:
        return self.identity.info()

    def reveal_phrase(self, passphrase: str) -> str:
        return self.identity.export_phrase(passphrase)

    def set_profile(self, name: str, bio: str, links: Sequence[str]) -> str:
        """Publish the public profile (Settings, onboarding). Returns what to tell the user."""
        with self._lock:
            entry = self.profiles.publish(name, bio, links)
        if entry is None:
            return "Your public profile is unchanged."
        try:
            self.network.sync(self.core)
        except Exception as exc:
            log.info("the profile will sync later: %s", exc)
        return "Published: peers now see this profile."

    def _artist(self, li: Listing) -> str:
        return artist_name(self.core.ledger.state, li)

    # -- sync ------------------------------------------------------------------------------------
    def refresh(self) -> SyncReport:
        """Sync with peers, then do what a node does alone (receive, grant, collect keys).

        Entries that other processes on this profile wrote (a CLI command beside the app) are
        taken in first, also while the node is offline."""
        with self._lock:
            self.core.ledger.refresh()
            received = self.network.sync(self.core)
            report = self.core.settle()
            if report.received or report.granted:
                received += self.network.sync(self.core)
                report2 = self.core.settle()
                report.unlocked.extend(report2.unlocked)
            self._register_owned()
            self.exchange.watch()  # fills, refunds and cancels become notices
            return SyncReport(received, list(report.unlocked))

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

    # -- content ---------------------------------------------------------------------------------
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

    def preview_file(self, preview: bytes) -> tuple[bytes, str, int]:
        """The clear bytes, MIME type and duration (ms) of a preview clip."""
        data = self._clear_bytes(preview)
        manifest = self.core.chunks.manifest(preview)
        if data is None or manifest is None:
            raise UserError("this preview cannot be reached right now", hint="no peer has it")
        return data, manifest.mime, _duration_ms(data)

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

    # -- wallet ----------------------------------------------------------------------------------
    def wallet_view(self) -> WalletView:
        balances = tuple(
            BalanceView(
                b.asset.id,
                b.asset.symbol,
                b.asset.name,
                b.text,
                format_amount(b.incoming, b.asset.precision),
                b.trusted,
                b.asset.issuer,
            )
            for b in self.wallet.balances()
        )
        history = tuple(
            HistoryView(
                h.timestamp,
                h.kind,
                format_amount(h.change, h.asset.precision, h.asset.symbol),
                h.change >= 0,
                self._history_what(h.kind, h.entry),
            )
            for h in self.wallet.history()[:200]
        )
        return WalletView(balances, history, self.me, peer_id(self.me))

    def _history_what(self, kind: str, entry: bytes) -> str:
        """The release (and track) a purchase paid for, by its artist; "" for other kinds."""
        state = self.core.ledger.state
        purchase = state.purchases.get(entry) if kind == "purchase" else None
        if purchase is None or purchase.listing not in state.listings:
            return ""
        listing = state.listings[purchase.listing]
        title = f"“{listing.title}”"
        if purchase.track is not None and 0 <= purchase.track < len(listing.tracks):
            title = f"“{listing.tracks[purchase.track].title}” from {title}"
        return f"{title} by {listing.artist_name}" if listing.artist_name else title

    def send(self, to_text: str, asset: bytes, amount: str) -> bytes:
        """Send to a peer ID (12D3KooW…) or a 64-hex public key."""
        from app.services.identity import parse_public_key

        to = parse_public_key(to_text)
        with self._lock:
            entry = self.wallet.send(to, asset, decimal_text(amount) or amount)
        self.network.sync(self.core)
        return entry

    def set_trusted(self, issuer: bytes, trusted: bool) -> None:
        self.wallet.set_trusted(issuer, trusted)

    # -- studio ----------------------------------------------------------------------------------
    def studio_view(self) -> StudioView:
        state = self.core.ledger.state
        cards = tuple(self._card(li, set()) for li in self.studio.releases())
        sales = []
        totals: dict[str, int] = {}
        for s in self.studio.sales():
            asset = state.assets.get(s.asset)
            prec, sym = (asset.precision, asset.symbol) if asset else (0, "")
            sales.append(
                SaleView(
                    s.timestamp,
                    s.listing.title,
                    format_amount(s.my_share, prec, sym),
                    s.my_share,
                    s.fulfilled,
                )
            )
            totals[sym] = totals.get(sym, 0) + s.my_share
        total = ", ".join(format_amount(v, 2, k) for k, v in totals.items()) or "0.00"
        issuers = self.wallet.trusted_issuers()
        assets = tuple(
            (a.id, a.symbol)
            for a in state.assets.values()
            if self.wallet.is_trusted(a, issuers) or "stable" in a.flags
        )
        agents = []
        for agent, (can, cannot) in sorted(self.studio.agent_coverage().items()):
            profile = state.profiles.get(agent)
            agents.append(
                AgentView(
                    profile.name if profile else "",
                    peer_id(agent),
                    tuple(li.title for li in can),
                    tuple(li.title for li in cannot),
                )
            )
        return StudioView(cards, tuple(sales), total, assets, tuple(agents))

    def publish(
        self,
        draft: ReleaseDraft,
        progress: Callable[[int, int, str], None],
        cancel: threading.Event,
    ) -> PublishResult:
        def step(done: int, total: int, what: str) -> None:
            if cancel.is_set():
                raise UserError("publishing was cancelled; nothing was signed")
            progress(done, total, what)

        with self._lock:
            result = self.studio.publish(draft, step)
        self.core.events.emit(Notice(f"published {result.listing.title!r}"))
        try:
            self.network.sync(self.core)
        except Exception as exc:
            log.info("release will sync later: %s", exc)
        return result

    def sales_csv(self) -> str:
        return self.studio.sales_csv()

    def read_tags(self, paths: Sequence[Path]) -> list[dict[str, object]]:
        """Tags of local files for the publish wizard (title, artist, album, duration), one
        dict per path; a file that cannot be read gets ``{"path", "error"}`` instead (the
        reason), so one bad file costs only itself."""
        from player.formats import BadAudioFile, read_audio

        out: list[dict[str, object]] = []
        for p in paths:
            try:
                info = read_audio(Path(p))
            except (BadAudioFile, OSError) as exc:
                out.append({"path": str(p), "error": f"{Path(p).name}: {exc}"})
                continue
            out.append(
                {
                    "path": str(p),
                    "title": info.title or Path(p).stem,
                    "artist": info.artist,
                    "album": info.album,
                    "genre": info.genre,
                    "duration_ms": info.duration_ms,
                    "artwork": info.artwork.data if info.artwork else None,
                }
            )
        return out

    # -- network ---------------------------------------------------------------------------------
    def network_status(self) -> NetworkStatus:
        """The network's status, with peers the swarm knows only by ID named from the ledger
        (a seeder is an artist's sales agent, a gateway issues credits), and reachability not
        left at "Checking…" once a peer is connected."""
        from dataclasses import replace

        st = self.network.status(self.core)
        who = self._ledger_roles()
        peers = tuple(
            replace(p, role=who[p.peer_id][0], name=who[p.peer_id][1] or p.name)
            if p.role == "peer" and p.peer_id in who
            else p
            for p in st.peers
        )
        reach, sentence = st.reach, st.reachability
        if st.reach == "Checking…" and any(p.online for p in peers):
            reach = "Connected"
            sentence = (
                "connected to peers (outbound); whether they can dial this node is not "
                "known yet: no peer has made the dial-back check"
            )
        return replace(st, peers=peers, reach=reach, reachability=sentence)

    def _ledger_roles(self) -> dict[str, tuple[str, str]]:
        """Peer ID -> (role, name) of the identities the ledger says something about."""
        state = self.core.ledger.state
        roles: dict[str, tuple[str, str]] = {}

        def note(key: bytes, role: str, name: str = "") -> None:
            profile = state.profiles.get(key)
            roles.setdefault(peer_id(key), (role, (profile.name if profile else "") or name))

        for d in state.delegations.values():  # an artist's sales agent: a seeder
            if d.revoked_at is None:
                note(d.agent, "seeder", f"seeder {peer_id(d.agent)[-6:]}")
        for li in state.listings.values():
            note(li.artist, "artist", li.artist_name)
        for asset in state.assets.values():
            note(asset.issuer, "gateway")
        return roles

    def settings_view(self) -> dict[str, object]:
        info = self.identity.info()
        cfg = self.profile.read_config()
        public = self.profiles.mine()
        return {
            "name": public.name if public else info.name,
            "peer_id": info.peer_id,
            "public_key": info.public_key.hex(),
            "published": public is not None,
            "bio": public.bio if public else "",
            "links": list(public.links) if public else [],
            "profile": str(self.profile.root),
            "content": str(self.profile.content_dir),
            "content_bytes": self.core.chunks.size_on_disk(),
            "seeding_quota_gb": float(cfg.get("seeding_quota_gb", 5.0)),
            "created_ms": info.created_ms,
            **self.network_settings(),
        }

    def set_seeding_quota(self, gigabytes: float) -> None:
        if gigabytes < 0:
            raise UserError("the seeding quota cannot be negative")
        self.profile.update_config(seeding_quota_gb=round(float(gigabytes), 2))

    def network_settings(self) -> dict[str, object]:
        """The Settings page's network card: bandwidth caps (kbit/s, 0 = none) and LAN
        discovery, as saved in the profile's ``config.json``."""
        cfg = self.profile.read_config()
        return {
            "max_upload_kbps": kbps_setting(cfg, "max_upload_kbps"),
            "max_download_kbps": kbps_setting(cfg, "max_download_kbps"),
            "lan_discovery": bool(cfg.get("mdns", True)),
            "share_purchases": cfg.get("share_purchases", True) is not False,
        }

    def set_network_settings(
        self,
        upload_kbps: float,
        download_kbps: float,
        lan_discovery: bool,
        share_purchases: bool | None = None,
    ) -> str:
        """Save the caps and apply them to the running node at once; LAN discovery and
        sharing purchases change with the next unlock. Returns what the user should be told."""
        for name, value in (("upload", upload_kbps), ("download", download_kbps)):
            if not 0 <= value <= MAX_KBPS:
                raise UserError(
                    f"the {name} cap must be between 0 (no cap) and {MAX_KBPS // 1000:,} Mbit/s"
                )
        before = self.network_settings()
        share = before["share_purchases"] if share_purchases is None else bool(share_purchases)
        self.profile.update_config(
            max_upload_kbps=round(float(upload_kbps), 1),
            max_download_kbps=round(float(download_kbps), 1),
            mdns=bool(lan_discovery),
            share_purchases=share,
        )
        self.network.set_bandwidth(bytes_per_second(upload_kbps), bytes_per_second(download_kbps))
        later = []
        if bool(lan_discovery) != before["lan_discovery"]:
            later.append(f"LAN discovery {'starts' if lan_discovery else 'stops'}")
        if share != before["share_purchases"]:
            later.append(
                "peers are told of your purchases"
                if share
                else "your purchases are no longer announced or served"
            )
        if later:
            return (
                f"Saved. Bandwidth caps apply now; {' and '.join(later)} the next time you unlock."
            )
        return "Saved. Bandwidth caps apply now."


def decimal_text(amount: str | None) -> str | None:
    """An amount as typed, with a decimal comma read as a point ("3,50" is 3.50). "1,000"
    could be either, and a comma beside a point is a thousands separator: both are left for
    the parser to refuse rather than guessed."""
    if amount is None:
        return None
    text = amount.strip().replace(" ", "")
    whole, comma, frac = text.partition(",")
    if comma and "," not in frac and "." not in text and len(frac) != 3:
        text = f"{whole}.{frac}"
    return text


MAX_KBPS = 10_000_000  # 10 Gbit/s: anything above is a typing slip, not a cap


def bytes_per_second(kbps: float) -> int:
    """A rate in kilobits per second (how caps are set) as bytes per second (how they run)."""
    return round(kbps * 125)


def kbps_setting(cfg: dict[str, object], key: str) -> float:
    """A bandwidth cap in kbit/s from ``config.json``; 0 (no cap) when unset or not a number."""
    value = cfg.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_KBPS:
        return 0.0
    return float(value)


def open_session(
    profile: Profile,
    passphrase: str,
    network: Network | None = None,
    identity: IdentityService | None = None,
) -> Session:
    """Unlock a profile and open its session (blocking: argon2id and SQLite)."""
    identity = identity or IdentityService(profile)
    signer = identity.unlock(passphrase)
    return Session(profile, signer, network, identity)


def _duration_ms(data: bytes) -> int:
    """Duration of an encoded clip (0 if unknown)."""
    import io

    try:
        import av

        with av.open(io.BytesIO(data), "r") as container:
            return int((container.duration or 0) / 1000)
    except Exception:
        return 0


def short_id(key: bytes) -> str:
    return peer_id(key)[:8] + "…" + peer_id(key)[-6:]


def now_ms() -> int:
    return int(time.time() * 1000)


def _check_cover_manifest(manifest: Manifest) -> None:
    if manifest.encrypted:
        raise UserError("the cover is sealed, so nobody can show it")
    if manifest.size > ARTWORK_MAX_BYTES:
        raise UserError(
            f"the cover is {manifest.size} bytes, over the {ARTWORK_MAX_BYTES}-byte limit"
        )
