"""What the session's methods return, shaped for views: frozen dataclasses, and how amounts
typed into a view are read."""

from __future__ import annotations

from dataclasses import dataclass, field


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
