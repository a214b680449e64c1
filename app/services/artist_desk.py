"""An artist as the desktop app shows it (Qt-free, synchronous, called on worker threads).

``ArtistDesk.page`` gathers one artist's page from the local replica: the public profile, the
releases, the artist's coins (the price the exchange shows, how many hold it, the share staked,
what the charter commits to holders), the user's tier and passes on each coin, the artist's
proposals and campaigns, and the reviews of verified buyers with the artist's replies.
``review`` writes the user's review of a release bought and granted.

An artist is found by public key (a release's signer) or by the name the library and the player
show (``find``): the published profile name first, then the name a listing carries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from app.services.coins import CoinService
from app.services.core import Core
from app.services.errors import UserError
from app.services.exchange_desk import ExchangeDesk, ago, now_ms
from app.services.money import format_amount
from app.services.passes import DAY_MS
from app.services.profiles import artist_name, display_name, profile_of
from app.services.reviews import ReviewService
from app.services.shop import ShopService
from ledger.keys import peer_id
from ledger.state import Asset, Listing, State

BPS_TOTAL = 10_000


# -- view models ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseLine:
    id: bytes
    title: str
    genre: str
    tracks: int
    price: str
    owned: bool
    rating: str  # "★ 4.5 (2 reviews)" or ""
    can_review: bool  # the user holds a granted purchase of it


@dataclass(frozen=True)
class TierLine:
    gate: bytes
    title: str
    need: str  # "10 MOSS held for 7 days; locks them 1 day"
    qualifies: bool
    claimed_until: int | None  # an active claim of the user's


@dataclass(frozen=True)
class CoinLine:
    id: bytes
    symbol: str
    name: str
    price: str  # "0.32 CRED (last trade)" or "no trades yet"
    holders: int
    supply: str
    staked: str  # "120 MOSS staked by 3 holders (3.0 % of the supply)"
    charter: str  # what the charter commits to holders, in a sentence
    mine: str  # "You hold 12 MOSS" (spendable)
    tier: str  # the user's tier: the highest pass the user qualifies for, or what it takes
    tiers: tuple[TierLine, ...]


@dataclass(frozen=True)
class ProposalLine:
    id: bytes
    title: str
    status: str
    closes: int


@dataclass(frozen=True)
class CampaignLine:
    id: bytes
    title: str
    status: str
    progress: str  # "85.00 of 150.00 CRED"
    fraction: float
    deadline: int


@dataclass(frozen=True)
class ReviewView:
    id: bytes
    release: str
    reviewer: str
    rating: int
    text: str
    timestamp: int
    reply: str  # the artist's reply, or ""
    mine: bool


@dataclass(frozen=True)
class ArtistPage:
    key: bytes
    name: str
    bio: str
    links: tuple[str, ...]
    peer_id: str
    is_me: bool
    releases: tuple[ReleaseLine, ...]
    coins: tuple[CoinLine, ...]
    proposals: tuple[ProposalLine, ...]
    campaigns: tuple[CampaignLine, ...]
    reviews: tuple[ReviewView, ...]
    rating: str  # over every release: "★ 4.3 from 6 verified buyers" or "no reviews yet"
    last_seen: str  # "seen 40 s ago" / "not seen yet"


def stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def _rating(total: int, count: int) -> str:
    if not count:
        return ""
    return f"★ {total / count:.1f} ({count} review{'s' if count != 1 else ''})"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "0 %"


# -- the desk --------------------------------------------------------------------------------------
class ArtistDesk:
    """The artist page's services for one identity (``core``)."""

    def __init__(
        self,
        core: Core,
        exchange: ExchangeDesk | None = None,
        lock: threading.RLock | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.core = core
        self.exchange = exchange
        self.clock = clock
        self._lock = lock or threading.RLock()
        self.shop = ShopService(core)
        self.reviews = ReviewService(core)

    @property
    def state(self) -> State:
        return self.core.ledger.state

    def find(self, name: str) -> bytes:
        """The public key of the artist called ``name`` (a published name, else the name a
        release carries); a UserError when nobody or several artists have it."""
        wanted = name.strip().casefold()
        if not wanted:
            raise UserError("no artist named")
        state = self.state
        artists = {li.artist for li in state.current_listings()}
        by_profile = {a for a in artists if display_name(state, a).casefold() == wanted}
        found = by_profile or {
            li.artist for li in state.current_listings() if li.artist_name.casefold() == wanted
        }
        if len(found) != 1:
            raise UserError(
                f"no artist called {name.strip()!r} in the catalog"
                if not found
                else f"several artists are called {name.strip()!r}"
            )
        return found.pop()

    def page(self, artist: bytes | str) -> ArtistPage:
        """The artist page of ``artist`` (a public key, or a name for ``find``)."""
        with self._lock:
            key = artist if isinstance(artist, bytes) else self.find(artist)
            state = self.state
            listings = [li for li in state.current_listings() if li.artist == key]
            prof = profile_of(state, key)
            if prof is None and not listings and not state.charters_by(key):
                raise UserError("this artist has published nothing this replica holds yet")
            name = prof.name if prof else (artist_name(state, listings[0]) if listings else "")
            now = self.clock()
            seen = state.last_seen.get(key)
            reviews, total, count = self._reviews(listings)
            return ArtistPage(
                key,
                name or display_name(state, key),
                prof.bio if prof else "",
                prof.links if prof else (),
                peer_id(key),
                key == self.core.me,
                tuple(self._release(li) for li in listings),
                tuple(self._coin(a, now) for a in self._coins(key)),
                tuple(
                    ProposalLine(p.id, p.title, state.proposal_status(p, now), p.closes)
                    for p in sorted(
                        (p for p in state.proposals.values() if p.proposer == key),
                        key=lambda p: -p.timestamp,
                    )
                ),
                tuple(self._campaign(c.id, now) for c in reversed(state.campaigns_of(key))),
                tuple(reviews),
                (
                    f"★ {total / count:.1f} from {count} verified buyer{'s' if count != 1 else ''}"
                    if count
                    else "no reviews yet"
                ),
                ("you" if key == self.core.me else f"seen {ago(now - seen[0])} ago")
                if seen
                else "not seen yet",
            )

    # -- parts -------------------------------------------------------------------------------------
    def _granted(self, listing: bytes) -> bool:
        return any(
            p.listing == listing and p.granted_by for p in self.state.purchases_by(self.core.me)
        )

    def _release(self, li: Listing) -> ReleaseLine:
        owned = any(
            p.listing == li.id and p.track is None for p in self.state.purchases_by(self.core.me)
        )
        return ReleaseLine(
            li.id,
            li.title,
            li.genre,
            len(li.tracks),
            self.shop.price_text(li).shown,
            owned,
            _rating(*self.state.rating_of(li.id)),
            self._granted(li.id) and li.artist != self.core.me,
        )

    def _coins(self, key: bytes) -> list[Asset]:
        state = self.state
        return sorted(
            (
                a
                for a in state.assets.values()
                if a.issuer == key and ("artistcoin" in a.flags or state.charter_of(a.id))
            ),
            key=lambda a: a.symbol,
        )

    def _price(self, coin: Asset) -> str:
        if self.exchange is None:
            return "not traded"
        pairs = [p for p in self.exchange.pairs() if p.base == coin.id]
        if not pairs:
            return "not traded yet"
        p = max(pairs, key=lambda p: p.open_offers)
        if p.last not in ("", "—"):
            return f"{p.last} {p.quote_symbol} (last trade)"
        if p.best_ask not in ("", "—"):
            return f"offered at {p.best_ask} {p.quote_symbol}"
        return "no trades yet"

    def _coin(self, coin: Asset, now: int) -> CoinLine:
        state = self.state
        holders = {
            acct for (acct, asset), v in state.balances.items() if asset == coin.id and v > 0
        }
        holders |= {
            lk.owner
            for lk in state.locks.values()
            if lk.asset == coin.id and lk.closed_by is None and lk.amount > 0
        }
        holders.discard(coin.issuer)
        supply = state.supply.get(coin.id, 0)
        units = lambda n: format_amount(n, coin.precision, coin.symbol)  # noqa: E731
        charter = state.charter_of(coin.id)
        if charter is None:
            staked_text = "no charter: staking earns nothing"
            charter_text = "No charter: the artist has not committed any of its sales to holders."
        else:
            view = CoinService(self.core, self.clock).view(coin.id)
            staked_text = (
                f"{units(view.staked)} staked by {view.stakers} holder"
                f"{'s' if view.stakers != 1 else ''} ({percent(view.staked, supply)} of the supply)"
            )
            charter_text = (
                f"{charter.bps / 100:g} % of the artist's {view.sales_asset.symbol} sales go to "
                f"the holders who stake {coin.symbol}, pro rata; so far "
                f"{view.money(charter.committed)} committed, {view.money(charter.distributed)} "
                "paid out" + (f", {view.money(charter.owed)} owed." if charter.owed else ".")
            )
        mine = state.balance(self.core.me, coin.id)
        claims = {
            c.gate: c.until for c in state.claims_of(self.core.me) if state.claim_active(c, now)
        }
        tiers = []
        for g in state.gates_on(coin.id):
            held = f" held for {g.held_ms / DAY_MS:g} days" if g.held_ms else ""
            tiers.append(
                TierLine(
                    g.id,
                    g.title,
                    f"{units(g.min)}{held}; claiming locks them {g.lock_ms / DAY_MS:g} "
                    f"day{'s' if g.lock_ms != DAY_MS else ''}",
                    state.qualifies(self.core.me, g, now),
                    claims.get(g.id),
                )
            )
        reached = [t for t in tiers if t.qualifies or t.claimed_until]
        if reached:
            tier = "Your tier: " + reached[-1].title
        elif tiers:
            tier = f"Hold {tiers[0].need.split(';')[0]} for “{tiers[0].title}”"
        else:
            tier = "No holder tiers on this coin yet"
        return CoinLine(
            coin.id,
            coin.symbol,
            coin.name,
            self._price(coin),
            len(holders),
            units(supply),
            staked_text,
            charter_text,
            f"You hold {units(mine)}" if mine else f"You hold no {coin.symbol}",
            tier,
            tuple(tiers),
        )

    def _campaign(self, cid: bytes, now: int) -> CampaignLine:
        state = self.state
        c = state.campaigns[cid]
        asset = state.assets[c.asset]
        pledged = state.pledged(c.id)
        return CampaignLine(
            c.id,
            c.title,
            state.campaign_status(c, now),
            f"{format_amount(pledged, asset.precision)} of "
            f"{format_amount(c.goal, asset.precision, asset.symbol)}",
            min(1.0, pledged / c.goal) if c.goal else 0.0,
            c.deadline,
        )

    def _reviews(self, listings: list[Listing]) -> tuple[list[ReviewView], int, int]:
        state = self.state
        out = []
        total = count = 0
        for li in listings:
            lines, (s, n) = self.reviews.reviews(li.id)
            total, count = total + s, count + n
            for line in lines:
                r = line.review
                out.append(
                    ReviewView(
                        r.id,
                        li.title,
                        display_name(state, r.buyer),
                        r.rating,
                        r.text,
                        r.timestamp,
                        line.reply.text if line.reply else "",
                        r.buyer == self.core.me,
                    )
                )
        out.sort(key=lambda r: -r.timestamp)
        return out, total, count

    # -- writing -----------------------------------------------------------------------------------
    def review(self, listing: bytes, rating: int, text: str) -> str:
        """Rate a release the user bought and was granted; returns what to tell the user."""
        with self._lock:
            self.reviews.review(listing, rating, text.strip())
        return "Review signed: peers see it with your verified purchase."

    def reply(self, review: bytes, text: str) -> str:
        """As the release's artist, answer a review."""
        with self._lock:
            self.reviews.reply(review.hex(), text.strip())
        return "Reply signed."


__all__ = [
    "ArtistDesk",
    "ArtistPage",
    "CampaignLine",
    "CoinLine",
    "ProposalLine",
    "ReleaseLine",
    "ReviewView",
    "TierLine",
    "stars",
]
