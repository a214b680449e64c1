"""The artistcoin exchange: offers, takes and their settlement (kinds ``offer``, ``take``,
``fill``, ``refuse``, ``cancel``; reclaims are the settlement feature's ``reclaim``).

Nobody holds anybody's funds. A maker's ``offer`` locks the units it sells, at an integer limit
price (``sell_amount`` for at least ``want_amount``), and names its settler: the maker itself or
an agent such as an always-on seeder. A taker's ``take`` is a conditional transfer of the wanted
asset to the maker. Only the settler's feed decides: its ``fill`` releases that part of the lock
to the taker and makes the payment the maker's; its ``refuse`` sends the payment back; its
``cancel`` ends the offer (a maker that is not its own settler asks with a ``cancel`` of its own,
which moves nothing). What the settler did not do by a deadline is proven with a ``reclaim``.

The order book, trades and prices are views of what this replica holds; they never decide
whether an entry is valid. Rules and conflict cases: docs/PROTOCOL.md, "Exchange".
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features.base import DepIndex, Feature, require_dep
from ledger.features.settlement import (
    LOCK_CLOSED,
    Lock,
    accept_conditional,
    close_lock,
    lock_funds,
    pay_conditionally,
    refuse_conditional,
    release_lock,
    require_open,
    require_settler,
)
from ledger.schema import Kind, boolean, hash32, integer, public_key, record, text

if TYPE_CHECKING:
    from ledger.state import State

Pair = tuple[bytes, bytes]  # (asset sold, asset wanted)


@dataclass(slots=True)
class Offer:
    id: bytes
    maker: bytes
    sell: bytes
    sell_amount: int
    want: bytes
    want_amount: int
    min_fill: int
    expires: int
    fill_or_kill: bool
    settler: bytes
    timestamp: int
    cancel_requested: bytes | None = None  # the maker's request, when it is not the settler
    book_key: tuple[int, int, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.book_key = _book_key(self)

    @property
    def price(self) -> Fraction:
        """Units of the wanted asset per unit sold (exact)."""
        return Fraction(self.want_amount, self.sell_amount)

    def cost(self, amount: int) -> int:
        """What a taker pays for ``amount`` sold units: rounded up, in the maker's favour."""
        return -(-amount * self.want_amount // self.sell_amount)


@dataclass(slots=True)
class Take:
    id: bytes
    taker: bytes
    offer: bytes
    amount: int  # units of the offer's sold asset
    pay: int  # units of the offer's wanted asset, held as a conditional transfer
    deadline: int
    timestamp: int


@dataclass(slots=True)
class Trade:
    id: bytes  # the fill
    offer: bytes
    take: bytes
    maker: bytes
    taker: bytes
    sold: bytes  # asset the maker sold
    paid_in: bytes  # asset the taker paid
    amount: int
    paid: int
    timestamp: int


_BY_KEY = attrgetter("book_key")


def _book_key(offer: Offer) -> tuple[int, int, bytes]:
    """Sort key of the book: price, then time, then hash. The price is the exact rational
    want/sell scaled by 2^128 and floored: two different prices with denominators below 2^63
    differ by more than 2^-126, so this integer keeps their order (and equal prices stay equal),
    and sorting compares machine integers instead of fractions."""
    return ((offer.want_amount << 128) // offer.sell_amount, offer.timestamp, offer.id)


class ExchangeView:
    offers: dict[bytes, Offer]
    takes: dict[bytes, Take]
    trades: dict[bytes, Trade]
    _open_by_pair: dict[Pair, dict[bytes, Offer]]
    _sorted_books: dict[Pair, list[Offer]]  # built on the first query of a pair
    _trades_by_pair: dict[Pair, list[Trade]]
    _cancels: set[bytes]  # the settlers' cancel entries

    def remaining(self, offer: Offer) -> int:
        lock = self.locks[offer.id]  # type: ignore[attr-defined]
        return lock.amount if lock.closed_by is None else 0

    def offer_status(self, offer: Offer, now: int | None = None) -> str:
        """open, filled, cancelled, reclaimed, or expired (open but past its expiry)."""
        lock = self.locks[offer.id]  # type: ignore[attr-defined]
        if lock.closed_by is None:
            return "expired" if now is not None and now > offer.expires else "open"
        closer = lock.closed_by
        if closer in self.trades:
            return "filled"
        return "cancelled" if closer in self._cancels else "reclaimed"

    def take_status(self, take: Take) -> str:
        """pending, filled, refused or reclaimed."""
        outcome: str | None = self.conditional[take.id].outcome  # type: ignore[attr-defined]
        status = {None: "pending", "accepted": "filled"}.get(outcome, outcome)
        return cast(str, status)  # an outcome is never None here: None maps to "pending"

    def _ordered(self, pair: Pair) -> list[Offer]:
        ordered = self._sorted_books.get(pair)
        if ordered is None:  # keys were computed on ingest: this sort allocates next to nothing
            ordered = sorted(self._open_by_pair.get(pair, {}).values(), key=_BY_KEY)
            self._sorted_books[pair] = ordered
        return ordered

    def iter_book(self, sell: bytes, want: bytes, now: int | None = None) -> Iterator[Offer]:
        """Open offers selling ``sell`` for ``want``, best (lowest price) first, lazily; offers
        expired at ``now`` are skipped. A view: it decides nothing. (Finish iterating before
        ingesting more entries: the order is kept up to date in place.)"""
        for offer in self._ordered((sell, want)):
            if now is None or offer.expires >= now:
                yield offer

    def book(
        self, sell: bytes, want: bytes, now: int | None = None, limit: int = 50
    ) -> list[Offer]:
        """The best ``limit`` open offers selling ``sell`` for ``want`` (see ``iter_book``).

        Expired offers are left out when ``now`` is given and, once a query meets many of them,
        dropped from this pair's cached order for good: an expired offer never fills again."""
        pair = (sell, want)
        ordered = self._ordered(pair)
        out: list[Offer] = []
        expired = 0
        for offer in ordered:
            if now is not None and offer.expires < now:
                expired += 1
                continue
            out.append(offer)
            if len(out) >= limit:
                break
        if expired > 64 and now is not None:
            self._sorted_books[pair] = [o for o in ordered if o.expires >= now]
        return out

    def depth(
        self, sell: bytes, want: bytes, now: int | None = None, levels: int = 20
    ) -> list[tuple[Fraction, int]]:
        """(price, total units offered at that price) for the best ``levels`` prices."""
        out: list[tuple[Fraction, int]] = []
        for offer in self.iter_book(sell, want, now):
            units = self.remaining(offer)
            if out and out[-1][0] == offer.price:
                out[-1] = (offer.price, out[-1][1] + units)
            elif len(out) >= levels:
                break
            else:
                out.append((offer.price, units))
        return out

    def spread(
        self, base: bytes, quote: bytes, now: int | None = None
    ) -> tuple[Fraction | None, Fraction | None]:
        """(best ask, best bid) of ``base`` in units of ``quote`` per unit of ``base``."""
        asks = self.book(base, quote, now, limit=1)
        bids = self.book(quote, base, now, limit=1)
        ask = asks[0].price if asks else None
        bid = 1 / bids[0].price if bids else None
        return ask, bid

    def trades_of_pair(self, sell: bytes, want: bytes) -> list[Trade]:
        """Trades in which ``sell`` was sold for ``want``, oldest first."""
        return list(self._trades_by_pair.get((sell, want), []))

    def last_price(self, sell: bytes, want: bytes) -> Fraction | None:
        trades = self._trades_by_pair.get((sell, want))
        return Fraction(trades[-1].paid, trades[-1].amount) if trades else None

    def volume(self, sell: bytes, want: bytes, since: int) -> tuple[int, int]:
        """(units sold, units paid) in trades of the pair dated at or after ``since``."""
        trades = self._trades_by_pair.get((sell, want), [])
        i = bisect.bisect_left([t.timestamp for t in trades], since)
        return sum(t.amount for t in trades[i:]), sum(t.paid for t in trades[i:])

    def price_history(
        self, sell: bytes, want: bytes, bucket_ms: int
    ) -> list[tuple[int, Fraction, Fraction, Fraction, Fraction, int]]:
        """Per time bucket with trades: (bucket start, open, high, low, close, units sold), the
        prices exact (``want`` units per ``sell`` unit)."""
        out: list[tuple[int, Fraction, Fraction, Fraction, Fraction, int]] = []
        for t in self._trades_by_pair.get((sell, want), []):
            start = t.timestamp - t.timestamp % bucket_ms
            price = Fraction(t.paid, t.amount)
            if out and out[-1][0] == start:
                b = out[-1]
                out[-1] = (start, b[1], max(b[2], price), min(b[3], price), price, b[5] + t.amount)
            else:
                out.append((start, price, price, price, price, t.amount))
        return out

    def open_offers_of(self, maker: bytes) -> list[Offer]:
        offers = (self.offers.get(lk.id) for lk in self.open_locks(maker))  # type: ignore[attr-defined]
        return sorted(
            (o for o in offers if o is not None and o.maker == maker),
            key=lambda o: (o.timestamp, o.id),
        )

    def takes_of(self, taker: bytes) -> list[Take]:
        return sorted(
            (t for t in self.takes.values() if t.taker == taker), key=lambda t: (t.timestamp, t.id)
        )

    def trades_of(self, who: bytes) -> list[Trade]:
        return sorted(
            (t for t in self.trades.values() if who in (t.maker, t.taker)),
            key=lambda t: (t.timestamp, t.id),
        )

    def takes_to_settle(self, settler: bytes) -> list[Take]:
        """Pending takes of offers that ``settler`` settles, oldest first."""
        return [
            self.takes[c.source]
            for c in self.waiting_on(settler)  # type: ignore[attr-defined]
            if c.source in self.takes
        ]

    def cancels_to_settle(self, settler: bytes) -> list[Offer]:
        """Open offers whose maker asked ``settler`` to cancel them."""
        offers = (self.offers.get(lk.id) for lk in self.open_locks(settler))  # type: ignore[attr-defined]
        return sorted(
            (
                o
                for o in offers
                if o is not None and o.settler == settler and o.cancel_requested is not None
            ),
            key=lambda o: (o.timestamp, o.id),
        )


def _offer_closed(state: State, lock: Lock) -> None:
    offer = state.offers[lock.id]
    pair = (offer.sell, offer.want)
    book = state._open_by_pair.get(pair)
    if book is not None and book.pop(offer.id, None) is not None:
        ordered = state._sorted_books.get(pair)
        if ordered is not None:
            i = bisect.bisect_left(ordered, offer.book_key, key=_BY_KEY)
            if i < len(ordered) and ordered[i] is offer:
                del ordered[i]  # (an expired offer may have been left out already)


def apply_offer(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    if body["sell"] == body["want"]:
        raise SemanticError("an offer sells one asset for another")
    if body["min_fill"] > body["sell_amount"]:
        raise SemanticError("min_fill is more than the amount sold")
    if body["fill_or_kill"] and body["min_fill"] != body["sell_amount"]:
        raise SemanticError("a fill-or-kill offer has min_fill equal to the amount sold")
    if body["expires"] <= entry.timestamp:
        raise SemanticError("the offer expires before it is made")
    lock_funds(state, entry, body["sell"], body["sell_amount"], body["settler"], body["expires"])
    offer = Offer(
        entry.hash,
        entry.author,
        body["sell"],
        body["sell_amount"],
        body["want"],
        body["want_amount"],
        body["min_fill"],
        body["expires"],
        body["fill_or_kill"],
        body["settler"],
        entry.timestamp,
    )
    state.offers[entry.hash] = offer
    pair = (offer.sell, offer.want)
    state._open_by_pair.setdefault(pair, {})[offer.id] = offer
    ordered = state._sorted_books.get(pair)
    if ordered is not None:
        bisect.insort(ordered, offer, key=_BY_KEY)


def apply_take(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    require_dep(entry, body["offer"], "offer")
    offer = state.offers.get(body["offer"])
    if offer is None:
        raise SemanticError("the take names an entry that is not an offer")
    if entry.author == offer.maker:
        raise SemanticError("a maker cannot take its own offer")
    amount = body["amount"]
    if amount > offer.sell_amount:
        raise SemanticError(f"the offer sells {offer.sell_amount} at most")
    if amount < offer.min_fill or (offer.fill_or_kill and amount != offer.sell_amount):
        raise SemanticError(
            f"the offer fills {offer.min_fill} at least"
            + (" and only whole" if offer.fill_or_kill else "")
        )
    if body["pay"] != offer.cost(amount):
        raise SemanticError(f"{amount} units cost {offer.cost(amount)} at the offer's price")
    if entry.timestamp > offer.expires:
        raise SemanticError("the offer has expired")
    if body["deadline"] <= entry.timestamp:
        raise SemanticError("the take's deadline is before the take")
    pay_conditionally(
        state, entry, offer.want, body["pay"], offer.maker, offer.settler, body["deadline"]
    )
    state.takes[entry.hash] = Take(
        entry.hash, entry.author, offer.id, amount, body["pay"], body["deadline"], entry.timestamp
    )


def _take_for_settler(state: State, entry: Entry, ref: bytes) -> tuple[Take, Offer]:
    require_dep(entry, ref, "take")
    take = state.takes.get(ref)
    if take is None:
        raise SemanticError("that entry is not a take")
    offer = state.offers[take.offer]
    require_settler(entry, offer.settler, "offer")
    require_open(state.conditional[take.id])
    if entry.timestamp > take.deadline:
        raise SemanticError("the take's deadline has passed")
    return take, offer


def apply_fill(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """The fill rule: the settler, in its own order, releases ``take.amount`` of the offer's
    lock to the taker and accepts the taker's payment to the maker. Never beyond the lock."""
    take, offer = _take_for_settler(state, entry, body["take"])
    if entry.timestamp > offer.expires:
        raise SemanticError("the offer has expired")
    lock = state.locks[offer.id]
    if lock.closed_by is not None:
        raise SemanticError("the offer is closed")
    if take.amount > lock.amount:
        raise SemanticError(f"the offer has {lock.amount} left, the take wants {take.amount}")
    release_lock(state, lock, take.amount, entry, take.taker)
    accept_conditional(state, state.conditional[take.id], entry)
    trade = Trade(
        entry.hash,
        offer.id,
        take.id,
        offer.maker,
        take.taker,
        offer.sell,
        offer.want,
        take.amount,
        take.pay,
        entry.timestamp,
    )
    state.trades[entry.hash] = trade
    # Trades of a pair are kept in time order; fills of different settlers arrive in any order.
    trades = state._trades_by_pair.setdefault((offer.sell, offer.want), [])
    bisect.insort(trades, trade, key=lambda t: (t.timestamp, t.id))


def apply_refuse(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    take, _ = _take_for_settler(state, entry, body["take"])
    refuse_conditional(state, state.conditional[take.id], entry)


def apply_cancel(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """By the settler: end the offer, its remainder back to the maker. By a maker that is not
    its own settler: a request, which moves nothing until the settler cancels."""
    offer = state.offers.get(body["offer"])
    if offer is not None and entry.author != offer.maker:
        require_dep(entry, offer.id, "offer")
    if offer is None:
        raise SemanticError("that entry is not an offer")
    lock = state.locks[offer.id]
    if entry.author == offer.settler:
        if lock.closed_by is not None:
            raise SemanticError("the offer is already closed")
        if entry.timestamp > offer.expires:
            raise SemanticError("the offer has expired: its maker reclaims it")
        state._cancels.add(entry.hash)
        close_lock(state, lock, entry)
    elif entry.author == offer.maker:
        if offer.cancel_requested is not None:
            raise SemanticError("a cancel of this offer was already asked for")
        offer.cancel_requested = entry.hash
    else:
        raise SemanticError("only the offer's settler, or its maker asking, cancels it")


def _tables(state: State) -> None:
    state.offers = {}
    state.takes = {}
    state.trades = {}
    state._cancels = set()
    state._open_by_pair = {}
    state._sorted_books = {}
    state._trades_by_pair = {}


def _hash_sections(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.offers:
        out["offers"] = sorted(
            [o.id, o.maker, o.settler, o.cancel_requested] for o in state.offers.values()
        )
    if state.takes:
        out["takes"] = sorted(
            [t.id, t.taker, t.offer, t.amount, t.pay] for t in state.takes.values()
        )
    if state.trades:
        out["trades"] = sorted([t.id, t.take, t.amount, t.paid] for t in state.trades.values())
    return out


LOCK_CLOSED["offer"] = _offer_closed

MAX_REASON = 200

FEATURE = Feature(
    name="exchange",
    kinds=(
        Kind(
            "offer",
            record(
                sell=hash32,
                sell_amount=integer(1),
                want=hash32,
                want_amount=integer(1),
                min_fill=integer(1),
                expires=integer(0),
                fill_or_kill=boolean,
                settler=public_key,
            ),
            "Lock sell_amount of an asset for sale for at least want_amount of another.",
        ),
        Kind(
            "take",
            record(offer=hash32, amount=integer(1), pay=integer(1), deadline=integer(0)),
            "Pay for part of an offer: a conditional transfer to the maker.",
        ),
        Kind(
            "fill",
            record(take=hash32),
            "The offer's settler accepts a take: units to the taker, payment to the maker.",
        ),
        Kind(
            "refuse",
            record(take=hash32, reason=text(MAX_REASON)),
            "The offer's settler refuses a take: the payment goes back to the taker.",
        ),
        Kind(
            "cancel",
            record(offer=hash32),
            "End an offer (by its settler), or ask its settler to (by its maker).",
        ),
    ),
    rules={
        "offer": apply_offer,
        "take": apply_take,
        "fill": apply_fill,
        "refuse": apply_refuse,
        "cancel": apply_cancel,
    },
    tables=_tables,
    view=ExchangeView,
    hash_sections=_hash_sections,
)
