"""Selling: release listings, purchases and their fulfilment (kinds ``listing``, ``purchase``,
``grant``).

A purchase is a payment that follows the listing's split exactly; its payouts are in-flight
transfers the recipients ``receive``. The artist's node, or a sales agent it delegated
(``ledger/features/agents.py``), answers with a grant sealing the content keys to the buyer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features.agents import agent_may_grant
from ledger.features.base import DepIndex, Feature, log_change, require_dep, require_funds
from ledger.features.money import send_in_flight
from ledger.keys import can_receive_sealed
from ledger.schema import (
    SEALED_KEY,
    Kind,
    array,
    boolean,
    hash32,
    integer,
    nullable,
    optional,
    public_key,
    record,
    text,
)

if TYPE_CHECKING:
    from ledger.state import State

BPS_TOTAL = 10_000
MAX_TRACKS = 100
MAX_SPLIT = 16
MAX_RESERVED_BPS = 5_000  # a listing's shares for seeders and a referrer, together


@dataclass(frozen=True)
class Price:
    asset: bytes
    amount: int  # the price, or the minimum when ``nyp`` (name your price)
    nyp: bool


@dataclass(frozen=True)
class Track:
    title: str
    content: bytes
    preview: bytes | None
    duration_ms: int
    prices: tuple[Price, ...]


@dataclass(frozen=True)
class Share:
    to: bytes
    bps: int


@dataclass(frozen=True)
class Listing:
    id: bytes
    artist: bytes
    seq: int
    timestamp: int
    title: str
    artist_name: str
    genre: str
    tags: tuple[str, ...]
    description: str
    artwork: bytes | None
    tracks: tuple[Track, ...]
    prices: tuple[Price, ...]
    split: tuple[Share, ...]
    remainder: bytes
    supersedes: bytes | None
    terms: Mapping[str, Any] = field(default_factory=dict)  # optional: shares, gate, campaign

    def price_for(self, asset: bytes, track: int | None) -> Price | None:
        prices = self.prices if track is None else self.tracks[track].prices
        return next((p for p in prices if p.asset == asset), None)

    def contents(self, track: int | None) -> tuple[bytes, ...]:
        """Content IDs a purchase of the release (None) or of one track unlocks."""
        if track is None:
            return tuple(t.content for t in self.tracks)
        return (self.tracks[track].content,)


@dataclass(frozen=True)
class Payout:
    to: bytes
    amount: int


@dataclass
class Purchase:
    id: bytes
    buyer: bytes
    listing: bytes
    track: int | None
    asset: bytes
    amount: int
    timestamp: int
    granted_by: list[bytes] = field(default_factory=list)  # grant entry hashes
    terms: Mapping[str, Any] = field(default_factory=dict)  # optional fields: referrer, claim


# Terms other features add to a sale, read from the listing's and the purchase's optional fields
# (docs/PROTOCOL.md, "Referral and seeder shares" and "Gated listings"). Each raises SemanticError
# to refuse the entry without changing anything.
@dataclass(frozen=True)
class Reserve:
    """What a feature takes out of a purchase's amount before the split: ``payouts`` paid by
    the purchase itself, ``held`` kept locked in the buyer's feed; ``after`` runs once the
    purchase is applied."""

    payouts: tuple[Payout, ...] = ()
    held: int = 0
    after: Callable[[], None] | None = None


LISTING_TERMS: list[Callable[[State, Entry, Mapping[str, Any]], None]] = []
PRICE_TERMS: list[Callable[[State, Entry, Mapping[str, Any], Listing, Price], Price]] = []
RESERVE_TERMS: list[Callable[[State, Entry, Mapping[str, Any], Listing, int], Reserve]] = []


@dataclass(frozen=True)
class Grant:
    id: bytes
    granter: bytes
    purchase: bytes
    buyer: bytes
    sealed: Mapping[bytes, bytes]  # content ID -> content key sealed to the buyer
    timestamp: int


def compute_payouts(amount: int, split: Iterable[Share], remainder: bytes) -> list[Payout]:
    """The exact payouts of ``amount`` under a split: floor per share, the rest to ``remainder``.

    Payouts keep the split's order; the remainder recipient's payout is increased in place, or
    appended if it has no share. Zero payouts are left out.
    """
    shares = list(split)
    amounts = {s.to: amount * s.bps // BPS_TOTAL for s in shares}
    rest = amount - sum(amounts.values())
    order = [s.to for s in shares]
    if remainder not in amounts:
        amounts[remainder] = 0
        order.append(remainder)
    amounts[remainder] += rest
    return [Payout(to, amounts[to]) for to in order if amounts[to] > 0]


def merge_payouts(payouts: Iterable[Payout], extra: Iterable[Payout]) -> list[Payout]:
    """``payouts`` with ``extra`` added, one payout per recipient (an extra payout to a recipient
    already paid is added to its payout; others are appended in order); zero payouts left out."""
    amounts: dict[bytes, int] = {}
    for p in (*payouts, *extra):
        amounts[p.to] = amounts.get(p.to, 0) + p.amount
    return [Payout(to, amount) for to, amount in amounts.items() if amount > 0]


def sale_payouts(
    state: State, entry: Entry, body: Mapping[str, Any], listing: Listing, amount: int
) -> tuple[list[Payout], list[Reserve]]:
    """A purchase's exact payouts: what other features reserve (``RESERVE_TERMS``), then the
    split of the rest."""
    reserves = [term(state, entry, body, listing, amount) for term in RESERVE_TERMS]
    base = amount - sum(sum(p.amount for p in r.payouts) + r.held for r in reserves)
    split = compute_payouts(base, listing.split, listing.remainder)
    return merge_payouts(split, (p for r in reserves for p in r.payouts)), reserves


def _prices(raw: Iterable[Mapping[str, Any]]) -> tuple[Price, ...]:
    return tuple(Price(p["asset"], p["amount"], p["nyp"]) for p in raw)


class SellingView:
    listings: dict[bytes, Listing]
    superseded: dict[bytes, bytes]  # old listing -> newer listing
    purchases: dict[bytes, Purchase]
    grants: dict[bytes, Grant]

    def current_listings(self) -> list[Listing]:
        """Listings not superseded by a newer version, newest first."""
        live = [li for lid, li in self.listings.items() if lid not in self.superseded]
        return sorted(live, key=lambda li: (-li.timestamp, li.id))

    def purchases_by(self, buyer: bytes) -> list[Purchase]:
        return sorted(
            (p for p in self.purchases.values() if p.buyer == buyer),
            key=lambda p: (p.timestamp, p.id),
        )

    def sales_of(self, artist: bytes) -> list[Purchase]:
        mine = {
            lid
            for lid, li in self.listings.items()
            if artist in ({s.to for s in li.split} | {li.artist})
        }
        return sorted(
            (p for p in self.purchases.values() if p.listing in mine),
            key=lambda p: (p.timestamp, p.id),
        )

    def unfulfilled_for(self, seller: bytes) -> list[Purchase]:
        """Purchases that ``seller`` may fulfil (as artist or active agent) and nobody has."""
        out = []
        for purchase in self.purchases.values():
            if purchase.granted_by:
                continue
            listing = self.listings[purchase.listing]
            if listing.artist == seller or self.agent_delegation(seller, listing) is not None:  # type: ignore[attr-defined]
                out.append(purchase)
        return sorted(out, key=lambda p: (p.timestamp, p.id))


def apply_listing(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    split = tuple(Share(s["to"], s["bps"]) for s in body["split"])
    if sum(s.bps for s in split) != BPS_TOTAL:
        raise SemanticError(f"split must sum to {BPS_TOTAL} basis points")
    if len({s.to for s in split}) != len(split):
        raise SemanticError("a recipient appears twice in the split")
    if len({t["content"] for t in body["tracks"]}) != len(body["tracks"]):
        raise SemanticError("a content ID appears twice in the track list")
    for term in LISTING_TERMS:
        term(state, entry, body)
    old = body["supersedes"]
    if old is not None:
        previous = state.listings.get(old)
        if previous is None or previous.artist != entry.author:
            raise SemanticError("a listing supersedes only an earlier listing of its author")
        if old in state.superseded:
            raise SemanticError("that listing was already superseded")
    tracks = tuple(
        Track(t["title"], t["content"], t["preview"], t["duration_ms"], _prices(t["prices"]))
        for t in body["tracks"]
    )
    state.listings[entry.hash] = Listing(
        entry.hash,
        entry.author,
        entry.seq,
        entry.timestamp,
        body["title"],
        body["artist_name"],
        body["genre"],
        tuple(body["tags"]),
        body["description"],
        body["artwork"],
        tracks,
        _prices(body["prices"]),
        split,
        body["remainder"],
        old,
        {k: body[k] for k in ("shares", "gate", "campaign") if k in body},
    )
    if old is not None:
        state.superseded[old] = entry.hash


def apply_purchase(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """The purchase rule (docs/PROTOCOL.md, ``purchase``): a buyer key that can receive a
    sealed content key, price, exact split, funds."""
    if not can_receive_sealed(entry.author):
        raise SemanticError(
            "the buyer's key cannot receive a sealed content key (it does not convert to X25519)"
        )
    require_dep(entry, body["listing"], "listing")
    listing = state.listings.get(body["listing"])
    if listing is None:
        raise SemanticError("the purchase names an entry that is not a listing")
    track = body["track"]
    if track is not None and track >= len(listing.tracks):
        raise SemanticError("no such track in the listing")
    price = listing.price_for(body["asset"], track)
    if price is None:
        raise SemanticError("the listing does not accept that asset for this item")
    for term in PRICE_TERMS:
        price = term(state, entry, body, listing, price)
    amount = body["amount"]
    if price.nyp and amount < price.amount:
        raise SemanticError(f"name-your-price minimum is {price.amount}")
    if not price.nyp and amount != price.amount:
        raise SemanticError(f"the price is {price.amount}")
    expected, reserves = sale_payouts(state, entry, body, listing, amount)
    given = [Payout(p["to"], p["amount"]) for p in body["payouts"]]
    if given != expected:
        raise SemanticError("payouts do not follow the listing's split exactly")
    require_funds(state, entry, body["asset"], amount)
    state.balances[(entry.author, body["asset"])] -= amount
    for payout in expected:
        send_in_flight(state, entry, payout.to, body["asset"], payout.amount)
    state.purchases[entry.hash] = Purchase(
        entry.hash,
        entry.author,
        listing.id,
        track,
        body["asset"],
        amount,
        entry.timestamp,
        terms={k: body[k] for k in ("referrer", "claim") if k in body},
    )
    log_change(state, entry.author, entry, body["asset"], -amount)
    for reserve in reserves:
        if reserve.after is not None:
            reserve.after()


def apply_grant(state: State, entry: Entry, body: Mapping[str, Any], dep_seq: DepIndex) -> None:
    require_dep(entry, body["purchase"], "purchase")
    purchase = state.purchases.get(body["purchase"])
    if purchase is None:
        raise SemanticError("the grant names an entry that is not a purchase")
    listing = state.listings[purchase.listing]
    if entry.author != listing.artist and not agent_may_grant(state, entry, listing, dep_seq):
        raise SemanticError(
            "the author is neither the artist nor an active sales agent "
            "(name the delegation in deps)"
        )
    sealed = {k["content"]: k["sealed"] for k in body["keys"]}
    if len(sealed) != len(body["keys"]) or set(sealed) != set(listing.contents(purchase.track)):
        raise SemanticError("the grant must seal exactly the purchased tracks' keys")
    state.grants[entry.hash] = Grant(
        entry.hash, entry.author, purchase.id, purchase.buyer, sealed, entry.timestamp
    )
    purchase.granted_by.append(entry.hash)


def _tables(state: State) -> None:
    state.listings = {}
    state.superseded = {}
    state.purchases = {}
    state.grants = {}


def _hash_sections(state: State) -> dict[str, Any]:
    return {
        "listings": sorted(
            [li.id, li.artist, state.superseded.get(li.id)] for li in state.listings.values()
        ),
        "purchases": sorted(
            [p.id, p.buyer, p.listing, p.amount, sorted(p.granted_by)]
            for p in state.purchases.values()
        ),
    }


PRICE = record(asset=hash32, amount=integer(0), nyp=boolean)
TRACK = record(
    title=text(200, 1),
    content=hash32,
    preview=nullable(hash32),
    duration_ms=integer(0, 24 * 3600 * 1000),
    prices=array(PRICE, 8, unique=True),
)
SHARE = record(to=public_key, bps=integer(1, BPS_TOTAL))
PAYOUT = record(to=public_key, amount=integer(1))
# Optional terms, read by other features: ledger/features/shares.py (shares) and gates.py (gate).
LISTING_SHARES = record(seeders=integer(0, MAX_RESERVED_BPS), referrer=integer(0, MAX_RESERVED_BPS))
LISTING_GATE = record(gate=hash32, holders_only=boolean, discount_bps=integer(0, BPS_TOTAL - 1))

FEATURE = Feature(
    name="selling",
    kinds=(
        Kind(
            "listing",
            record(
                title=text(200, 1),
                artist_name=text(80, 1),
                genre=text(60),
                tags=array(text(40, 1), 16, unique=True),
                description=text(4000),
                artwork=nullable(hash32),
                tracks=array(TRACK, MAX_TRACKS, 1),
                prices=array(PRICE, 8, 1, unique=True),
                split=array(SHARE, MAX_SPLIT, 1),
                remainder=public_key,
                supersedes=nullable(hash32),
                shares=optional(LISTING_SHARES),
                gate=optional(LISTING_GATE),
                campaign=optional(hash32),  # the release of that campaign (rewards.py)
            ),
            "Offer a release for sale: tracks, prices per accepted asset, and the split.",
        ),
        Kind(
            "purchase",
            record(
                listing=hash32,
                track=nullable(integer(0, MAX_TRACKS - 1)),
                asset=hash32,
                amount=integer(1),
                payouts=array(PAYOUT, MAX_SPLIT + 2, 1),
                referrer=optional(public_key),
                claim=optional(hash32),
            ),
            "Pay for a release (track = null) or one track, following the listing's split.",
        ),
        Kind(
            "grant",
            record(purchase=hash32, keys=array(SEALED_KEY, MAX_TRACKS, 1)),
            "The seller (artist or delegated agent) seals the content keys to the buyer.",
        ),
    ),
    rules={"listing": apply_listing, "purchase": apply_purchase, "grant": apply_grant},
    tables=_tables,
    view=SellingView,
    hash_sections=_hash_sections,
)
