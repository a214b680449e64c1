"""The exchange as the desktop app shows it (Qt-free, synchronous, called on worker threads).

``ExchangeDesk`` shapes ``MarketService`` for the Exchange view and the wallet: the pairs with a
market, one pair's book (levels with their depth and settlers), its price history and trades,
a quote of what an order would get (the taker-driven split across the best live offers) before
it is placed, placing and cancelling, the user's orders and trades, the settlers of a pair with
when each was last seen, and the wallet's available / locked / in-flight breakdown. ``watch``
turns the user's fills, refunds and cancels into notices as they arrive.

Prices are shown as whole ``quote`` per whole ``base`` (``0.32 CRED`` per ``MOSS``); a pair's
quote is the stable asset (credits) when one side is, else the asset whose symbol sorts last.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from app.services.core import Core
from app.services.errors import UserError
from app.services.events import Notice
from app.services.market import MarketService, PlannedTake, parse_price
from app.services.money import format_amount, parse_amount
from app.services.profiles import display_name
from app.services.watch import StatusWatch
from ledger.keys import peer_id
from ledger.state import Asset, Offer, State, Take, Trade

HISTORY_TRADES = 400  # trades of a pair the price chart and the trade list look at
MY_TRADES = 200


def now_ms() -> int:
    return int(time.time() * 1000)


def ago(ms: int) -> str:
    """A duration in words: ``"40 s"``, ``"12 min"``, ``"3 h"``, ``"2 days"``."""
    s = max(0, ms // 1000)
    if s < 90:
        return f"{s} s"
    if s < 90 * 60:
        return f"{s // 60} min"
    if s < 48 * 3600:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


def whole_price(price: Fraction, base: Asset, quote: Asset) -> Fraction:
    """``price`` in smallest units (quote per base) as whole ``quote`` per whole ``base``."""
    return price * Fraction(10**base.precision, 10**quote.precision)


def price_str(price: Fraction, quote: Asset) -> str:
    """A whole price as a decimal: the quote's decimals, up to two more when they matter."""
    digits = quote.precision + 2
    units = round(price * 10**digits)
    text = format_amount(units, digits)
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0")
        frac = frac + "0" * (quote.precision - len(frac)) if len(frac) < quote.precision else frac
        text = f"{whole}.{frac}" if frac else whole
    return text


CHART_POINTS = 120  # a price chart shows at most this many points (the last price of each span)


def chart_points(
    points: list[tuple[int, float]], most: int = CHART_POINTS
) -> list[tuple[int, float]]:
    """``points`` (time order) thinned to at most ``most``: the time range cut into equal
    spans, each span's last point kept (so the last trade is always the last point)."""
    if len(points) <= most:
        return points
    t0, t1 = points[0][0], points[-1][0]
    width = max(1, -(-(t1 - t0 + 1) // most))
    out: list[tuple[int, float]] = []
    for t, v in points:
        if out and (out[-1][0] - t0) // width == (t - t0) // width:
            out[-1] = (t, v)
        else:
            out.append((t, v))
    return out


# -- view models ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairView:
    base: bytes
    quote: bytes
    base_symbol: str
    quote_symbol: str
    base_name: str
    last: str  # "0.31" or "—"
    best_ask: str
    best_bid: str
    open_offers: int
    trusted: bool  # the base asset's issuer is trusted (or ours)

    @property
    def label(self) -> str:
        return f"{self.base_symbol}/{self.quote_symbol}"


@dataclass(frozen=True)
class LevelView:
    price: float  # whole quote per whole base (for the charts)
    price_text: str
    amount: float  # whole base at this price
    amount_text: str
    total: float  # cumulative whole base from the best price (the depth)
    offers: int
    settlers: str  # names, a "⚠" before those not seen recently
    stale: bool  # every offer at this level waits on a settler not seen recently


@dataclass(frozen=True)
class TradeView:
    timestamp: int
    side: str  # "buy" or "sell": what the taker did with the base
    price: float
    price_text: str
    amount_text: str  # base
    total_text: str  # quote
    mine: bool


@dataclass(frozen=True)
class SettlerView:
    name: str
    peer_id: str
    offers: int
    last_seen: int | None  # ms
    live: bool
    seen_text: str  # "seen 40 s ago", "not seen for 6 h", "never seen", "you"


@dataclass(frozen=True)
class OrderView:
    id: bytes
    pair: str
    side: str  # "buy" / "sell" (of the pair's base)
    price_text: str
    amount_text: str  # base, as offered
    left_text: str  # base still open
    status: str  # open, expired, cancel asked
    settler: str
    expires: int


@dataclass(frozen=True)
class MyTradeView:
    timestamp: int
    pair: str
    side: str
    role: str  # "taker" / "maker"
    amount_text: str
    price_text: str
    total_text: str
    status: str  # filled, waiting, refunded, reclaimed


@dataclass(frozen=True)
class ExchangePage:
    pair: PairView
    asks: tuple[LevelView, ...]  # cheapest first
    bids: tuple[LevelView, ...]  # dearest first
    spread_text: str
    last_text: str
    volume_text: str  # base traded in the last 24 h
    history: tuple[tuple[int, float], ...]  # (timestamp, price) per trade, oldest first
    trades: tuple[TradeView, ...]  # newest first
    orders: tuple[OrderView, ...]  # the user's open orders, all pairs
    my_trades: tuple[MyTradeView, ...]  # newest first, all pairs
    settlers: tuple[SettlerView, ...]
    base_available: str
    quote_available: str
    warning: str  # e.g. the base's issuer is not trusted


@dataclass(frozen=True)
class QuoteFill:
    price_text: str
    amount_text: str  # base
    total_text: str  # quote
    settler: str


@dataclass(frozen=True)
class Quote:
    side: str
    fills: tuple[QuoteFill, ...]
    base_units: int  # base bought or sold across the fills
    quote_units: int  # quote paid or received
    base_text: str
    quote_text: str
    average_text: str  # "0.3275 CRED per MOSS" or ""
    worst: str  # the worst price of the fills, whole, exact ("8/25"): the placing limit
    unfilled_text: str  # what no live offer covers ("" when all)
    rests: bool  # the unfilled part would rest as the user's own offer
    summary: str  # one sentence for the confirm step
    can_place: bool


@dataclass(frozen=True)
class LockLine:
    purpose: str  # "offer", …
    what: str  # "selling 20 MOSS for CRED"
    amount_text: str
    unlocks: int  # ms: the deadline after which it comes back unless settled
    settler: str


@dataclass(frozen=True)
class FlightLine:
    direction: str  # "in" (arriving) or "out" (paid, waiting on a settler)
    what: str
    amount_text: str
    until: int | None  # ms: a payment waiting on a settler comes back after this


@dataclass(frozen=True)
class HoldingView:
    asset: bytes
    symbol: str
    name: str
    available: str
    locked: str
    in_flight: str
    locks: tuple[LockLine, ...]
    flights: tuple[FlightLine, ...]


# -- the desk --------------------------------------------------------------------------------------
class ExchangeDesk:
    """The Exchange view's services for one identity (``core``)."""

    def __init__(
        self,
        core: Core,
        sync: Callable[[], object] | None = None,
        lock: threading.RLock | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.core = core
        self.market = MarketService(core, clock)
        self.clock = clock
        self._sync = sync
        self._lock = lock or threading.RLock()
        self._watch = StatusWatch()  # the user's takes, offers and trades -> last status

    @property
    def state(self) -> State:
        return self.core.ledger.state

    # -- pairs ---------------------------------------------------------------------------------
    def _asset(self, ref: bytes | str) -> Asset:
        return self.market.wallet.asset(ref)

    def orient(self, a: bytes, b: bytes) -> tuple[Asset, Asset]:
        """(base, quote) of the pair of assets ``a`` and ``b``."""
        x, y = self.state.assets[a], self.state.assets[b]
        xs, ys = "stable" in x.flags, "stable" in y.flags
        if xs != ys:
            return (y, x) if xs else (x, y)
        return (x, y) if (x.symbol, x.id) < (y.symbol, y.id) else (y, x)

    def pairs(self) -> list[PairView]:
        """Pairs with offers or trades, and each held artistcoin against credits."""
        state = self.state
        found: dict[tuple[bytes, bytes], None] = {}
        for o in state.offers.values():
            base, quote = self.orient(o.sell, o.want)
            found[(base.id, quote.id)] = None
        stables = [a for a in state.assets.values() if "stable" in a.flags]
        trusted = self.market.wallet.trusted_issuers()
        stables.sort(key=lambda a: (not self.market.wallet.is_trusted(a, trusted), a.symbol))
        if stables:
            for asset_id in state.balances_of(self.core.me):
                asset = state.assets[asset_id]
                if "stable" not in asset.flags:
                    found.setdefault((asset.id, stables[0].id), None)
        now = self.clock()
        out = [
            self._pair_view(state.assets[b], state.assets[q], trusted, self._books(b, q, now))
            for b, q in found
        ]
        out.sort(key=lambda p: (-p.open_offers, p.label))
        return out

    def _books(self, base: bytes, quote: bytes, now: int) -> tuple[list[Offer], list[Offer]]:
        """The open offers of the pair, best first: (selling base, selling quote)."""
        state = self.state
        return (
            state.book(base, quote, now, limit=1 << 30),
            state.book(quote, base, now, limit=1 << 30),
        )

    def _pair_view(
        self, base: Asset, quote: Asset, trusted: set[bytes], books: tuple[list[Offer], list[Offer]]
    ) -> PairView:
        now = self.clock()
        ask, bid = self._best(books[0], now), self._best(books[1], now)
        bid = None if bid is None else 1 / bid
        last = self._last(base, quote)
        count = len(books[0]) + len(books[1])

        def show(p: Fraction | None) -> str:
            return "—" if p is None else price_str(whole_price(p, base, quote), quote)

        return PairView(
            base.id,
            quote.id,
            base.symbol,
            quote.symbol,
            base.name,
            show(last),
            show(ask),
            show(bid),
            count,
            self.market.wallet.is_trusted(base, trusted),
        )

    def _best(self, offers: list[Offer], now: int) -> Fraction | None:
        """The best price of ``offers`` (one side, best first) whose settler is live."""
        for offer in offers:
            if self._live(offer.settler, now):
                return offer.price
        return None

    def _last(self, base: Asset, quote: Asset) -> Fraction | None:
        trades = self._pair_trades(base, quote)
        return self._trade_price(trades[-1], base)[0] if trades else None

    def _pair_trades(self, base: Asset, quote: Asset) -> list[Trade]:
        state = self.state
        # each side is kept in time order: the latest of the two are the latest of the pair
        both = (
            state.trades_of_pair(base.id, quote.id)[-HISTORY_TRADES:]
            + state.trades_of_pair(quote.id, base.id)[-HISTORY_TRADES:]
        )
        both.sort(key=lambda t: (t.timestamp, t.id))
        return both[-HISTORY_TRADES:]

    @staticmethod
    def _trade_price(t: Trade, base: Asset) -> tuple[Fraction, int, int, str]:
        """(quote per base in smallest units, base units, quote units, the taker's side)."""
        if t.sold == base.id:  # the maker sold base: the taker bought it
            return Fraction(t.paid, t.amount), t.amount, t.paid, "buy"
        return Fraction(t.amount, t.paid), t.paid, t.amount, "sell"

    # -- one pair ------------------------------------------------------------------------------
    def _settler_name(self, key: bytes) -> str:
        return "you" if key == self.core.me else display_name(self.state, key)

    def _live(self, key: bytes, now: int) -> bool:
        return self.market._live(key, now)

    def _levels(
        self, offers: list[Offer], invert: bool, base: Asset, quote: Asset, levels: int
    ) -> tuple[LevelView, ...]:
        state = self.state
        now = self.clock()
        rows: list[tuple[Fraction, int, list[Offer]]] = []
        for offer in offers:
            price = 1 / offer.price if invert else offer.price
            amount = state.remaining(offer)
            if invert:
                amount = amount * offer.want_amount // offer.sell_amount
            if rows and rows[-1][0] == price:
                rows[-1] = (price, rows[-1][1] + amount, rows[-1][2] + [offer])
            elif len(rows) >= levels:
                break
            else:
                rows.append((price, amount, [offer]))
        out: list[LevelView] = []
        total = 0
        for price, amount, offers in rows:
            total += amount
            settlers: dict[bytes, bool] = {}
            for o in offers:
                settlers[o.settler] = self._live(o.settler, now)
            names = ", ".join(
                ("" if live else "⚠ ") + self._settler_name(k) for k, live in settlers.items()
            )
            wp = whole_price(price, base, quote)
            out.append(
                LevelView(
                    float(wp),
                    price_str(wp, quote),
                    amount / 10**base.precision,
                    format_amount(amount, base.precision),
                    total / 10**base.precision,
                    len(offers),
                    names,
                    not any(settlers.values()),
                )
            )
        return tuple(out)

    def page(self, base_ref: bytes | str, quote_ref: bytes | str, levels: int = 12) -> ExchangePage:
        """Everything the Exchange view shows for the pair ``base``/``quote``."""
        with self._lock:
            base, quote = self._asset(base_ref), self._asset(quote_ref)
            if base.id == quote.id:
                raise UserError("a pair is two different assets")
            state = self.state
            now = self.clock()
            trusted = self.market.wallet.trusted_issuers()
            books = self._books(base.id, quote.id, now)
            pair = self._pair_view(base, quote, trusted, books)
            asks = self._levels(books[0], False, base, quote, levels)
            bids = self._levels(books[1], True, base, quote, levels)
            spread = "—"
            live_asks = [lv for lv in asks if not lv.stale]
            live_bids = [lv for lv in bids if not lv.stale]
            if live_asks and live_bids:
                spread = price_str(
                    Fraction(live_asks[0].price_text) - Fraction(live_bids[0].price_text), quote
                )
            history: list[tuple[int, float]] = []
            trades: list[TradeView] = []
            volume = 0
            for t in self._pair_trades(base, quote):
                price, b_units, q_units, side = self._trade_price(t, base)
                wp = whole_price(price, base, quote)
                history.append((t.timestamp, float(wp)))
                if t.timestamp >= now - 24 * 3600 * 1000:
                    volume += b_units
                trades.append(
                    TradeView(
                        t.timestamp,
                        side,
                        float(wp),
                        price_str(wp, quote),
                        format_amount(b_units, base.precision),
                        format_amount(q_units, quote.precision),
                        self.core.me in (t.maker, t.taker),
                    )
                )
            trades.reverse()
            history = chart_points(history)
            # the settlers of this pair's open offers, and when each was last seen
            counts: dict[bytes, int] = {}
            for book in books:
                for o in book:
                    counts[o.settler] = counts.get(o.settler, 0) + 1
            settlers = []
            for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                seen = state.last_seen.get(key)
                live = self._live(key, now)
                if key == self.core.me:
                    text = "you: your node settles these while it runs"
                elif seen is None:
                    text = "never seen: orders skip its offers"
                elif live:
                    text = f"seen {ago(now - seen[0])} ago"
                else:
                    text = f"not seen for {ago(now - seen[0])}: orders skip its offers"
                settlers.append(
                    SettlerView(
                        self._settler_name(key),
                        peer_id(key),
                        n,
                        seen[0] if seen else None,
                        live,
                        text,
                    )
                )
            warning = (
                ""
                if pair.trusted
                else (
                    f"⚠ You have not chosen to trust the issuer of {base.symbol}: anyone can "
                    "issue a token with this name. Its value is only what its issuer stands behind."
                )
            )
            mine = state.balances_of(self.core.me)
            return ExchangePage(
                pair,
                asks,
                bids,
                spread,
                pair.last,
                format_amount(volume, base.precision, base.symbol),
                tuple(history),
                tuple(trades[:60]),
                tuple(self.orders()),
                tuple(self.my_trades()),
                tuple(settlers),
                format_amount(mine.get(base.id, 0), base.precision, base.symbol),
                format_amount(mine.get(quote.id, 0), quote.precision, quote.symbol),
                warning,
            )

    # -- orders ----------------------------------------------------------------------------------
    def _plan(
        self, base: Asset, quote: Asset, side: str, amount: str, limit: str
    ) -> list[PlannedTake]:
        if side == "buy":
            return self.market.plan(base.id, quote.id, get_amount=amount, limit=limit or None)
        if side == "sell":
            inverse = None
            if limit:
                inverse = str(1 / Fraction(limit)) if Fraction(limit) > 0 else limit
            return self.market.plan(quote.id, base.id, give_amount=amount, limit=inverse)
        raise UserError(f"an order buys or sells, not {side!r}")

    @staticmethod
    def _check_limit(limit: str) -> str:
        limit = limit.strip()
        if not limit:
            return ""
        try:
            if Fraction(limit) <= 0:
                raise UserError("a limit price is positive")
        except (ValueError, ZeroDivisionError) as exc:
            raise UserError(f"{limit!r} is not a price") from exc
        return limit

    def quote(
        self,
        base_ref: bytes | str,
        quote_ref: bytes | str,
        side: str,
        amount: str,
        limit: str = "",
        rest: bool = False,
    ) -> Quote:
        """What a buy (``amount`` of base) or a sell (``amount`` of base) would get now, split
        across the best live offers, at no worse than ``limit`` (whole quote per base) if
        given; nothing is written."""
        with self._lock:
            base, quote = self._asset(base_ref), self._asset(quote_ref)
            limit = self._check_limit(limit)
            if not amount.strip():
                raise UserError(f"say how much {base.symbol} to {side}")
            units = parse_amount(amount, base.precision)
            if units <= 0:
                raise UserError("an order is for a positive amount")
            plan = self._plan(base, quote, side, amount, limit)
            fills, b_total, q_total, worst = [], 0, 0, None
            for p in plan:
                if side == "buy":
                    b, q, price = p.amount, p.pay, p.offer.offer.price
                else:
                    b, q, price = p.pay, p.amount, 1 / p.offer.offer.price
                b_total += b
                q_total += q
                if worst is None or (price > worst if side == "buy" else price < worst):
                    worst = price
                fills.append(
                    QuoteFill(
                        price_str(whole_price(price, base, quote), quote),
                        format_amount(b, base.precision),
                        format_amount(q, quote.precision),
                        self._settler_name(p.offer.offer.settler),
                    )
                )
            unfilled = units - b_total
            rests = bool(rest and limit and unfilled > 0)
            average = ""
            if b_total:
                avg = whole_price(Fraction(q_total, b_total), base, quote)
                average = f"{price_str(avg, quote)} {quote.symbol} per {base.symbol}"
            worst_text = str(whole_price(worst, base, quote)) if worst is not None else ""
            b_text = format_amount(b_total, base.precision, base.symbol)
            q_text = format_amount(q_total, quote.precision, quote.symbol)
            left = format_amount(unfilled, base.precision, base.symbol) if unfilled > 0 else ""
            if b_total:
                verb = "You buy" if side == "buy" else "You sell"
                how = "pay" if side == "buy" else "get"
                summary = (
                    f"{verb} {b_text} and {how} {q_text} (average {average}) in "
                    f"{len(fills)} take{'s' if len(fills) != 1 else ''}"
                )
                if left:
                    summary += (
                        f"; {left} rest as your offer at {limit} {quote.symbol}"
                        if rests
                        else f"; no live offer covers the other {left}"
                    )
                summary += "."
            elif rests:
                summary = (
                    f"Nothing to take at {limit} {quote.symbol} or better: your {side} "
                    f"offer for {left} rests in the book until someone takes it."
                )
            else:
                summary = (
                    "No live offer"
                    + (f" at {limit} {quote.symbol} or better" if limit else "")
                    + f" to {side} {base.symbol} from."
                )
            can = bool(b_total) or rests
            if can and side == "buy":
                need = q_total
                if rests and limit:
                    need += -(
                        -unfilled
                        * parse_price(limit, base, quote).numerator
                        // parse_price(limit, base, quote).denominator
                    )
                have = self._spendable(quote.id)
                if have < need:
                    can = False
                    summary += (
                        f" You have {format_amount(have, quote.precision, quote.symbol)}"
                        f", not enough."
                    )
            elif can and side == "sell":
                have = self._spendable(base.id)
                if have < units if rests else have < b_total:
                    can = False
                    summary += (
                        f" You have {format_amount(have, base.precision, base.symbol)}, not enough."
                    )
            return Quote(
                side,
                tuple(fills),
                b_total,
                q_total,
                b_text,
                q_text,
                average,
                worst_text,
                left,
                rests,
                summary,
                can,
            )

    def _spendable(self, asset: bytes) -> int:
        """The balance, with what is arriving (an order receives it before it pays)."""
        state = self.state
        return state.balance(self.core.me, asset) + sum(
            t.amount for t in state.incoming(self.core.me) if t.asset == asset
        )

    def place(
        self,
        base_ref: bytes | str,
        quote_ref: bytes | str,
        side: str,
        amount: str,
        limit: str = "",
        rest: bool = False,
        expect: Quote | None = None,
    ) -> str:
        """Place the order; with ``expect`` (the quote the user confirmed), refuse when the
        book changed so that the fills would differ. Returns what to tell the user."""
        with self._lock:
            base, quote = self._asset(base_ref), self._asset(quote_ref)
            limit = self._check_limit(limit)
            now_quote = self.quote(base_ref, quote_ref, side, amount, limit, rest)
            if expect is not None and (now_quote.base_units, now_quote.quote_units) != (
                expect.base_units,
                expect.quote_units,
            ):
                raise UserError(
                    "the book changed since the quote: "
                    + now_quote.summary
                    + " Check it and confirm again."
                )
            if not now_quote.can_place:
                raise UserError(now_quote.summary)
            # never worse than the quoted fills: their worst price is the limit
            cap = limit or now_quote.worst or None
            if side == "buy":
                result = self.market.order(
                    base.id, quote.id, get_amount=amount, limit=cap, rest=rest and bool(limit)
                )
            else:
                inverse = str(1 / Fraction(cap)) if cap else None
                result = self.market.order(
                    quote.id, base.id, give_amount=amount, limit=inverse, rest=rest and bool(limit)
                )
            self._watch.remember((t, "pending") for t in result.takes)
            if result.rest_offer is not None:
                self._watch.remember([(result.rest_offer, "open")])
        self._sync_soon()
        parts = []
        if result.takes:
            parts.append(
                f"{len(result.takes)} take{'s' if len(result.takes) != 1 else ''} "
                f"sent for {now_quote.base_text}; each fills when its settler "
                "confirms"
            )
        if result.rest_offer is not None:
            parts.append("the rest is your offer in the book")
        return "Order placed: " + "; ".join(parts) + "."

    def cancel(self, offer_ref: bytes | str) -> str:
        with self._lock:
            view = self.market.offer_view(offer_ref)
            self.market.cancel(offer_ref)
            done = view.offer.settler == self.core.me
        self._sync_soon()
        return (
            "Offer cancelled; its units are back in your balance."
            if done
            else "Cancel asked of the offer's settler; the units come back once it acts."
        )

    def _sync_soon(self) -> None:
        if self._sync is not None:
            try:
                self._sync()
            except Exception:  # the next sync round carries it
                pass

    def _side(self, offer: Offer) -> tuple[str, Asset, Asset]:
        base, quote = self.orient(offer.sell, offer.want)
        return ("sell" if offer.sell == base.id else "buy"), base, quote

    def orders(self) -> list[OrderView]:
        """The user's offers that are still open (or expired and not yet reclaimed)."""
        state = self.state
        now = self.clock()
        out = []
        for o in reversed(state.open_offers_of(self.core.me)):
            side, base, quote = self._side(o)
            left = state.remaining(o)
            if side == "sell":
                price, amount, rest = o.price, o.sell_amount, left
            else:
                price = 1 / o.price
                amount = o.want_amount
                rest = left * o.want_amount // o.sell_amount
            status = (
                "expired" if now > o.expires else ("cancel asked" if o.cancel_requested else "open")
            )
            out.append(
                OrderView(
                    o.id,
                    f"{base.symbol}/{quote.symbol}",
                    side,
                    price_str(whole_price(price, base, quote), quote),
                    format_amount(amount, base.precision),
                    format_amount(rest, base.precision),
                    status,
                    self._settler_name(o.settler),
                    o.expires,
                )
            )
        return out

    def my_trades(self) -> list[MyTradeView]:
        """The user's takes (filled, waiting, refunded) and the fills of the user's offers."""
        state = self.state
        rows: list[MyTradeView] = []
        for take in state.takes_of(self.core.me)[-MY_TRADES:]:
            offer = state.offers[take.offer]
            side, base, quote = self._side(offer)
            if side == "sell":  # the offer sold base: the taker bought it
                b, q, mine = take.amount, take.pay, "buy"
            else:
                b, q, mine = take.pay, take.amount, "sell"
            status = {"pending": "waiting", "refused": "refunded"}.get(
                state.take_status(take), state.take_status(take)
            )
            rows.append(
                MyTradeView(
                    take.timestamp,
                    f"{base.symbol}/{quote.symbol}",
                    mine,
                    "taker",
                    format_amount(b, base.precision, base.symbol),
                    price_str(whole_price(Fraction(q, b), base, quote), quote),
                    format_amount(q, quote.precision, quote.symbol),
                    status,
                )
            )
        for t in state.trades_of(self.core.me)[-MY_TRADES:]:
            if t.maker != self.core.me:
                continue
            base, quote = self.orient(t.sold, t.paid_in)
            price, b, q, taker_side = self._trade_price(t, base)
            rows.append(
                MyTradeView(
                    t.timestamp,
                    f"{base.symbol}/{quote.symbol}",
                    "sell" if taker_side == "buy" else "buy",
                    "maker",
                    format_amount(b, base.precision, base.symbol),
                    price_str(whole_price(price, base, quote), quote),
                    format_amount(q, quote.precision, quote.symbol),
                    "filled",
                )
            )
        rows.sort(key=lambda r: r.timestamp, reverse=True)
        return rows[:MY_TRADES]

    # -- notices -----------------------------------------------------------------------------------
    def _statuses(self) -> dict[bytes, str]:
        state = self.state
        out: dict[bytes, str] = {t.id: state.take_status(t) for t in state.takes_of(self.core.me)}
        for o in state.offers.values():
            if o.maker == self.core.me:
                out[o.id] = state.offer_status(o)
        for t in state.trades_of(self.core.me):
            if t.maker == self.core.me:
                out[t.id] = "filled"
        return out

    def watch(self) -> list[str]:
        """Sentences for the user's fills, refunds and cancels since the last call (the first
        call only looks); each is also emitted as a ``Notice``."""
        with self._lock:
            state = self.state
            texts = []
            for item, was, status in self._watch.changes(self._statuses()):
                if item in state.takes and status != "pending":
                    texts.append(self._take_notice(state.takes[item], status))
                elif item in state.trades and was is None:
                    texts.append(self._maker_notice(state.trades[item]))
                elif item in state.offers and status == "cancelled":
                    o = state.offers[item]
                    side, base, _ = self._side(o)
                    texts.append(
                        f"Your {side} offer on {base.symbol} was cancelled; what was "
                        "left of it is back in your balance."
                    )
        for text in texts:
            self.core.events.emit(Notice(text))
        return texts

    def _take_notice(self, take: Take, status: str) -> str:
        offer = self.state.offers[take.offer]
        side, base, quote = self._side(offer)
        b, q = (take.amount, take.pay) if side == "sell" else (take.pay, take.amount)
        paid = (
            format_amount(q, quote.precision, quote.symbol)
            if side == "sell"
            else format_amount(b, base.precision, base.symbol)
        )
        got_b = format_amount(b, base.precision, base.symbol)
        got_q = format_amount(q, quote.precision, quote.symbol)
        if status == "filled":
            return (
                f"Filled: you bought {got_b} for {got_q}."
                if side == "sell"
                else f"Filled: you sold {got_b} for {got_q}."
            )
        if status == "refused":
            return (
                f"Refunded: {self._settler_name(offer.settler)} could not fill your take; "
                f"your {paid} is on its way back."
            )
        return f"Refunded: your take was not settled in time; your {paid} is back."

    def _maker_notice(self, t: Trade) -> str:
        base, quote = self.orient(t.sold, t.paid_in)
        _, b, q, taker_side = self._trade_price(t, base)
        verb = "sold" if taker_side == "buy" else "bought"
        return (
            f"Your offer filled: you {verb} {format_amount(b, base.precision, base.symbol)}"
            f" for {format_amount(q, quote.precision, quote.symbol)}."
        )

    # -- the wallet's breakdown ------------------------------------------------------------------
    def holdings(self) -> list[HoldingView]:
        """Per asset: available, locked (per purpose, with when each unlocks), in flight."""
        with self._lock:
            state = self.state
            me = self.core.me
            avail = state.balances_of(me)
            locks: dict[bytes, list[LockLine]] = {}
            locked: dict[bytes, int] = {}
            for lk in state.locks.values():
                if lk.owner != me or lk.closed_by is not None or lk.amount <= 0:
                    continue
                asset = state.assets[lk.asset]
                what = lk.purpose
                offer = state.offers.get(lk.id)
                if offer is not None:
                    want = state.assets[offer.want]
                    what = f"offer selling {asset.symbol} for {want.symbol}"
                vote = state.votes.get(lk.id) if lk.purpose == "vote" else None
                if vote is not None:
                    what = f"vote on “{state.proposals[vote.proposal].title}”"
                locks.setdefault(lk.asset, []).append(
                    LockLine(
                        lk.purpose,
                        what,
                        format_amount(lk.amount, asset.precision, asset.symbol),
                        lk.deadline,
                        self._settler_name(lk.settler),
                    )
                )
                locked[lk.asset] = locked.get(lk.asset, 0) + lk.amount
            flights: dict[bytes, list[FlightLine]] = {}
            moving: dict[bytes, int] = {}
            for t in state.incoming(me):
                asset = state.assets[t.asset]
                src = "from " + (
                    "your own offer" if t.sender == me else display_name(state, t.sender)
                )
                flights.setdefault(t.asset, []).append(
                    FlightLine(
                        "in",
                        f"arriving {src}",
                        format_amount(t.amount, asset.precision, asset.symbol),
                        None,
                    )
                )
                moving[t.asset] = moving.get(t.asset, 0) + t.amount
            for c in state.conditional.values():
                if c.payer != me or c.outcome is not None:
                    continue
                asset = state.assets[c.asset]
                flights.setdefault(c.asset, []).append(
                    FlightLine(
                        "out",
                        f"paid, waiting on {self._settler_name(c.settler)}",
                        format_amount(c.amount, asset.precision, asset.symbol),
                        c.deadline,
                    )
                )
                moving[c.asset] = moving.get(c.asset, 0) + c.amount
            out = []
            for asset_id in sorted(
                set(avail) | set(locked) | set(moving), key=lambda a: state.assets[a].symbol
            ):
                a = state.assets[asset_id]
                out.append(
                    HoldingView(
                        a.id,
                        a.symbol,
                        a.name,
                        format_amount(avail.get(a.id, 0), a.precision),
                        format_amount(locked.get(a.id, 0), a.precision),
                        format_amount(moving.get(a.id, 0), a.precision),
                        tuple(sorted(locks.get(a.id, []), key=lambda x: x.unlocks)),
                        tuple(flights.get(a.id, [])),
                    )
                )
            return out


__all__ = [
    "ExchangeDesk",
    "ExchangePage",
    "HoldingView",
    "LevelView",
    "OrderView",
    "PairView",
    "Quote",
    "SettlerView",
    "TradeView",
    "ago",
    "price_str",
    "whole_price",
]
