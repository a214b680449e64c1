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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.profile import Profile
from app.services.core import Core
from app.services.errors import UserError
from app.services.events import DownloadProgress, Notice
from app.services.identity import IdentityInfo, IdentityService
from app.services.library import LibraryService
from app.services.money import format_amount
from app.services.profiles import ProfileService, artist_name
from app.services.shop import ShopService
from app.services.wallet import WalletService
from ledger.content import unpack
from ledger.keys import Signer, peer_id
from ledger.state import Listing
from player.catalog import CatalogRelease, CatalogTrack

if TYPE_CHECKING:
    from app.services.studio import PublishResult, ReleaseDraft

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
ARTWORK_RETRY_S = 5.0  # a cover no peer could supply is asked for again after this long


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

    def fetch(self, core: Core, content: bytes, progress: ProgressFn,
              cancel: threading.Event) -> None:
        """Download a content item's manifest and chunks into ``core.chunks``."""
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

    def fetch(self, core: Core, content: bytes, progress: ProgressFn,
              cancel: threading.Event) -> None:
        if core.chunks.is_complete(content):
            return
        raise UserError("no peers are reachable to download from",
                        hint="the swarm connects when Cooptracks is online")

    def status(self, core: Core) -> NetworkStatus:
        return NetworkStatus("offline", "not listening", "offline: no swarm running",
                             seeding_items=len(core.chunks.content_ids()),
                             seeding_bytes=core.chunks.size_on_disk())

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


@dataclass(frozen=True)
class WalletView:
    balances: tuple[BalanceView, ...]
    history: tuple[HistoryView, ...]
    me: bytes


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

    def __init__(self, profile: Profile, signer: Signer, network: Network | None = None,
                 identity: IdentityService | None = None) -> None:
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
        self._art_cache: dict[bytes, bytes] = {}
        self._art_missed: dict[bytes, float] = {}  # content -> when it could not be fetched
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
                self.library.add_purchase(t.content, title=t.title, artist=self._artist(li),
                                          album=li.title, genre=li.genre, tags=li.tags,
                                          duration_ms=t.duration_ms)

    def sync_search_index(self) -> None:
        state_hash = self.core.ledger.state_hash()
        if state_hash == self._catalog_hash:
            return
        releases = [CatalogRelease(li.id, li.artist, self._artist(li), li.title, li.genre, li.tags,
                                   tuple(CatalogTrack(t.title, t.content, t.preview,
                                                      t.duration_ms) for t in li.tracks),
                                   li.timestamp)
                    for li in self.shop.catalog()]
        self.library.sync_catalog(releases)
        self._catalog_hash = state_hash

    # -- store -----------------------------------------------------------------------------------
    def _card(self, li: Listing, owned: set[bytes]) -> ReleaseCard:
        return ReleaseCard(li.id, li.title, self._artist(li), li.genre, li.tags,
                           self.shop.price_text(li).shown,
                           self.artwork(li.artwork) if li.artwork else None, len(li.tracks),
                           li.id in owned, li.artist == self.me, li.timestamp, li.artist)

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
            hay = " ".join([li.title, self._artist(li), li.artist_name, li.genre, *li.tags,
                            *(t.title for t in li.tracks)]).lower()
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
        tracks = tuple(TrackRow(i, t.title, t.duration_ms, t.content, t.preview,
                                self.shop.owns(t.content), self._track_price(t.prices),
                                bool(whole) or i in singles)
                       for i, t in enumerate(li.tracks))
        price = self.shop.price_text(li)
        asset = state.assets.get(li.prices[0].asset)
        balance = (format_amount(state.balance(self.me, asset.id), asset.precision, asset.symbol)
                   if asset else "0")
        trusted = bool(asset) and self.wallet.is_trusted(asset)  # type: ignore[arg-type]
        return ReleasePage(self._card(li, owned), li.description, tracks, price.plain,
                           price.symbol, price.nyp, trusted, balance, pstate)

    def _track_price(self, prices: tuple) -> str:  # type: ignore[type-arg]
        if not prices:
            return ""
        asset = self.core.ledger.state.assets.get(prices[0].asset)
        precision, symbol = (asset.precision, asset.symbol) if asset else (0, "?")
        return ("from " if prices[0].nyp else "") + format_amount(prices[0].amount, precision,
                                                                  symbol)

    def buy(self, listing_id: bytes, amount: str | None, track: int | None = None) -> bytes:
        """Buy the release, or one of its tracks (``track``: its index) where sold alone."""
        with self._lock:
            purchase = self.shop.buy(listing_id, track=track, amount=amount or None)
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
        """A cover, if it is here (never waits on the network: ``fetch_artwork`` brings it)."""
        if content is None:
            return None
        if content not in self._art_cache:
            data = self._clear_bytes(content, fetch=False)
            if data is None:
                return None
            self._art_cache[content] = data
        return self._art_cache[content]

    def fetch_artwork(self) -> int:
        """Download the covers of the catalog that are not here yet; returns how many arrived.
        A cover no peer could supply is asked for again after ``ARTWORK_RETRY_S``."""
        arrived = 0
        for li in self.shop.catalog():
            content = li.artwork
            if content is None or self.artwork(content) is not None:
                continue
            missed = self._art_missed.get(content)
            if missed is not None and time.monotonic() - missed < ARTWORK_RETRY_S:
                continue
            if self._clear_bytes(content) is None:
                self._art_missed[content] = time.monotonic()
            else:
                arrived += 1
        return arrived

    def preview_file(self, preview: bytes) -> tuple[bytes, str, int]:
        """The clear bytes, MIME type and duration (ms) of a preview clip."""
        data = self._clear_bytes(preview)
        manifest = self.core.chunks.manifest(preview)
        if data is None or manifest is None:
            raise UserError("this preview cannot be reached right now", hint="no peer has it")
        return data, manifest.mime, _duration_ms(data)

    def download(self, content: bytes, cancel: threading.Event,
                 progress: ProgressFn | None = None) -> None:
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
            if t.source == "purchase" and t.content_id and not self.core.chunks.is_complete(
                    t.content_id):
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

    def stream_parts_many(self, contents: Sequence[bytes]) -> list[tuple[Path, bytes | None,
                                                                           str]]:
        return [self.stream_parts(c) for c in contents]

    def library_rows(self) -> list[LibraryRow]:
        state = self.core.ledger.state
        art_of: dict[bytes, bytes | None] = {}
        position: dict[bytes, int] = {}
        for li in state.listings.values():
            for i, t in enumerate(li.tracks):
                art_of[t.content] = li.artwork
                position[t.content] = i
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
            rows.append(LibraryRow(c, t.id, t.title, t.artist, t.album, t.duration_ms,
                                   self.artwork(art_of.get(c)), have, total, t.offline, st))
        for s in self.shop.purchases():  # bought, grant not here yet
            if s.unlocked:
                continue
            li = s.listing
            for i, t in enumerate(li.tracks):
                if (s.track is None or s.track == i) and t.content not in seen:
                    rows.append(LibraryRow(t.content, None, t.title, self._artist(li), li.title,
                                           t.duration_ms, self.artwork(li.artwork), 0, 0, False,
                                           "waiting"))
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

    def remove_from_playlist(self, name: str, position: int) -> None:
        """Remove the item at ``position`` (0-based) of the playlist."""
        self.library.remove_from_playlist(name, position)

    def remove_items_from_playlist(self, name: str,
                                   items: Sequence[tuple[int, int]]) -> None:
        """Remove the items at these ``(position, track_id)`` pairs, all or none: a position
        that no longer holds its track (the playlist changed since it was shown) is refused."""
        current = dict(self.playlists()).get(name)
        if current is None:
            raise UserError(f"there is no playlist {name!r}")
        for position, track_id in items:
            if not 0 <= position < len(current) or current[position] != track_id:
                raise UserError("the playlist changed since it was shown; try again")
        for position, _ in sorted(items, reverse=True):  # later positions first
            self.library.remove_from_playlist(name, position)

    def move_in_playlist(self, name: str, from_pos: int, to_pos: int) -> None:
        self.library.move_in_playlist(name, from_pos, to_pos)

    def rename_playlist(self, name: str, new_name: str) -> None:
        if not new_name.strip():
            raise UserError("give the playlist a name")
        self.library.rename_playlist(name, new_name.strip())

    def delete_playlist(self, name: str) -> None:
        self.library.delete_playlist(name)

    # -- wallet ----------------------------------------------------------------------------------
    def wallet_view(self) -> WalletView:
        balances = tuple(BalanceView(b.asset.id, b.asset.symbol, b.asset.name, b.text,
                                     format_amount(b.incoming, b.asset.precision),
                                     b.trusted, b.asset.issuer)
                         for b in self.wallet.balances())
        history = tuple(HistoryView(h.timestamp, h.kind,
                                    format_amount(h.change, h.asset.precision, h.asset.symbol),
                                    h.change >= 0)
                        for h in self.wallet.history()[:200])
        return WalletView(balances, history, self.me)

    def send(self, to_text: str, asset: bytes, amount: str) -> bytes:
        """Send to a peer ID (12D3KooW…) or a 64-hex public key."""
        from app.services.identity import parse_public_key

        to = parse_public_key(to_text)
        with self._lock:
            entry = self.wallet.send(to, asset, amount)
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
            sales.append(SaleView(s.timestamp, s.listing.title,
                                  format_amount(s.my_share, prec, sym), s.my_share, s.fulfilled))
            totals[sym] = totals.get(sym, 0) + s.my_share
        total = ", ".join(format_amount(v, 2, k) for k, v in totals.items()) or "0.00"
        issuers = self.wallet.trusted_issuers()
        assets = tuple((a.id, a.symbol) for a in state.assets.values()
                       if self.wallet.is_trusted(a, issuers) or "stable" in a.flags)
        agents = []
        for agent, (can, cannot) in sorted(self.studio.agent_coverage().items()):
            profile = state.profiles.get(agent)
            agents.append(AgentView(profile.name if profile else "", peer_id(agent),
                                    tuple(li.title for li in can),
                                    tuple(li.title for li in cannot)))
        return StudioView(cards, tuple(sales), total, assets, tuple(agents))

    def publish(self, draft: ReleaseDraft, progress: Callable[[int, int, str], None],
                cancel: threading.Event) -> PublishResult:
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
        """Tags of local files for the publish wizard (title, artist, album, duration)."""
        from player.formats import BadAudioFile, read_audio

        out: list[dict[str, object]] = []
        for p in paths:
            try:
                info = read_audio(Path(p))
            except (BadAudioFile, OSError) as exc:
                raise UserError(f"{Path(p).name}: {exc}") from exc
            out.append({"path": str(p), "title": info.title or Path(p).stem,
                        "artist": info.artist, "album": info.album, "genre": info.genre,
                        "duration_ms": info.duration_ms,
                        "artwork": info.artwork.data if info.artwork else None})
        return out

    # -- network ---------------------------------------------------------------------------------
    def network_status(self) -> NetworkStatus:
        return self.network.status(self.core)

    def settings_view(self) -> dict[str, object]:
        info = self.identity.info()
        cfg = self.profile.read_config()
        public = self.profiles.mine()
        return {"name": public.name if public else info.name, "peer_id": info.peer_id,
                "public_key": info.public_key.hex(), "published": public is not None,
                "bio": public.bio if public else "", "links": list(public.links) if public else [],
                "profile": str(self.profile.root), "content": str(self.profile.content_dir),
                "content_bytes": self.core.chunks.size_on_disk(),
                "seeding_quota_gb": float(cfg.get("seeding_quota_gb", 5.0)),
                "created_ms": info.created_ms, **self.network_settings()}

    def set_seeding_quota(self, gigabytes: float) -> None:
        if gigabytes < 0:
            raise UserError("the seeding quota cannot be negative")
        self.profile.update_config(seeding_quota_gb=round(float(gigabytes), 2))

    def network_settings(self) -> dict[str, object]:
        """The Settings page's network card: bandwidth caps (kbit/s, 0 = none) and LAN
        discovery, as saved in the profile's ``config.json``."""
        cfg = self.profile.read_config()
        return {"max_upload_kbps": kbps_setting(cfg, "max_upload_kbps"),
                "max_download_kbps": kbps_setting(cfg, "max_download_kbps"),
                "lan_discovery": bool(cfg.get("mdns", True))}

    def set_network_settings(self, upload_kbps: float, download_kbps: float,
                             lan_discovery: bool) -> str:
        """Save the caps and apply them to the running node at once; LAN discovery changes
        with the next unlock. Returns what the user should be told."""
        for name, value in (("upload", upload_kbps), ("download", download_kbps)):
            if not 0 <= value <= MAX_KBPS:
                raise UserError(f"the {name} cap must be between 0 (no cap) and "
                                f"{MAX_KBPS // 1000:,} Mbit/s")
        before = self.network_settings()
        self.profile.update_config(max_upload_kbps=round(float(upload_kbps), 1),
                                   max_download_kbps=round(float(download_kbps), 1),
                                   mdns=bool(lan_discovery))
        self.network.set_bandwidth(bytes_per_second(upload_kbps), bytes_per_second(download_kbps))
        if bool(lan_discovery) != before["lan_discovery"]:
            return ("Saved. Bandwidth caps apply now; LAN discovery "
                    f"{'starts' if lan_discovery else 'stops'} the next time you unlock.")
        return "Saved. Bandwidth caps apply now."


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


def open_session(profile: Profile, passphrase: str, network: Network | None = None,
                 identity: IdentityService | None = None) -> Session:
    """Unlock a profile and open its session (blocking: argon2id and SQLite)."""
    identity = identity or IdentityService(profile)
    signer = identity.unlock(passphrase)
    return Session(profile, signer, network, identity)


def _duration_ms(data: bytes) -> int:
    """Duration of an encoded clip (0 if unknown)."""
    import io

    try:
        import av

        with av.open(io.BytesIO(data)) as container:
            return int((container.duration or 0) / 1000)
    except Exception:
        return 0


def short_id(key: bytes) -> str:
    return peer_id(key)[:8] + "…" + peer_id(key)[-6:]


def now_ms() -> int:
    return int(time.time() * 1000)
