"""The artistcoin exchange for people and for settlers (no Qt).

``MarketService`` makes offers, takes them (a market or limit order split by the client across
the best live offers: matching is taker-driven), cancels, and reads the derived book, orders and
trades. ``settle_market`` is what a node does by itself as a settler, called from
``Core.settle()`` (so the headless seeder does it too): fill the takes of offers it settles at the
offer's terms, act on cancel requests, write checkpoints while it has open commitments, and
reclaim its own payments and offers after their deadlines. Every item is settled on its own: one
bad item is skipped with a logged reason, for a while, and never stops the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from app.services.core import Core, register_settler_duty
from app.services.errors import UserError
from app.services.money import format_amount, parse_amount
from app.services.reports import MarketSettleReport
from app.services.wallet import WalletService
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.state import Asset, Offer, Take, Trade

log = logging.getLogger(__name__)

DEFAULT_OFFER_LIFETIME_S = 7 * 24 * 3600
DEFAULT_TAKE_DEADLINE_S = 3600
LIVE_SETTLER_MS = 15 * 60 * 1000  # a settler seen within this is "live" for new takes
CHECKPOINT_EVERY_MS = 5 * 60 * 1000  # while a settler has open commitments
EXPIRY_MARGIN_MS = 60 * 1000  # do not take an offer that expires sooner than this
SKIP_FOR_MS = 60 * 1000  # an item that failed is not retried for this long
MAX_SKIPS = 1024  # bounded memory of failed items


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class OfferView:
    offer: Offer
    sell: Asset
    want: Asset
    remaining: int
    status: str

    @property
    def id(self) -> bytes:
        return self.offer.id

    def price_text(self) -> str:
        """The limit price in units people read: ``want`` per one whole ``sell``."""
        return price_text(self.offer.price, self.sell, self.want)


@dataclass(frozen=True)
class PlannedTake:
    offer: OfferView
    amount: int  # units of the offer's sold asset we get
    pay: int  # units of the offer's wanted asset we give


@dataclass(frozen=True)
class OrderResult:
    takes: tuple[bytes, ...]
    planned: tuple[PlannedTake, ...]
    got: int  # units asked for across the takes (received once filled)
    paid: int
    unfilled: int  # what no live offer within the limit could cover
    rest_offer: bytes | None = None  # our own offer for the rest, when asked for


@dataclass(frozen=True)
class BookLevel:
    price: Fraction  # quote per base, in smallest units
    amount: int  # units of base
    offers: int


@dataclass(frozen=True)
class BookView:
    base: Asset
    quote: Asset
    asks: tuple[BookLevel, ...]  # offers selling base, cheapest first
    bids: tuple[BookLevel, ...]  # offers buying base (selling quote), dearest first
    best_ask: Fraction | None
    best_bid: Fraction | None
    last_price: Fraction | None
    volume_24h: int  # units of base traded in the last 24 hours
    trades: tuple[Trade, ...]  # the latest trades of the pair, newest first


@dataclass(frozen=True)
class Candle:
    start: int  # ms
    open: Fraction  # quote units per base unit
    high: Fraction
    low: Fraction
    close: Fraction
    volume: int  # base units


def price_text(price: Fraction, base: Asset, quote: Asset) -> str:
    """``price`` (quote units per base unit) as a decimal of whole ``quote`` per whole ``base``."""
    whole = price * Fraction(10**base.precision, 10**quote.precision)
    units = round(whole * 10**quote.precision)
    return format_amount(units, quote.precision, f"{quote.symbol}/{base.symbol}")


def parse_price(text: str, base: Asset, quote: Asset) -> Fraction:
    """A price typed as whole ``quote`` per whole ``base`` (``"2.5"``), in smallest units."""
    try:
        value = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise UserError(f"{text!r} is not a price") from exc
    if value <= 0:
        raise UserError("a price is positive")
    return value * Fraction(10**quote.precision, 10**base.precision)


class MarketService:
    """Offers, takes, orders and the book, for the identity of ``core``."""

    def __init__(self, core: Core, clock: Callable[[], int] = now_ms) -> None:
        self.core = core
        self.clock = clock
        self.wallet = WalletService(core)

    # -- writing ---------------------------------------------------------------------------------
    def _append(self, kind: str, body: dict, deps: list[bytes] | tuple[bytes, ...] = ()) -> Entry:
        self.core.require_writable()
        try:
            return self.core.ledger.append(
                self.core.signer, kind, body, sorted(set(deps)), timestamp=self.clock()
            )
        except LedgerError as err:
            raise UserError(str(err)) from err

    def offer(
        self,
        sell_ref: str | bytes,
        sell_amount: str | int,
        want_ref: str | bytes,
        want_amount: str | int,
        *,
        min_fill: str | int | None = None,
        expires_in_s: float = DEFAULT_OFFER_LIFETIME_S,
        fill_or_kill: bool = False,
        settler: bytes | None = None,
    ) -> bytes:
        """Lock ``sell_amount`` of ``sell`` for sale for at least ``want_amount`` of ``want``."""
        sell, want = self.wallet.asset(sell_ref), self.wallet.asset(want_ref)
        if sell.id == want.id:
            raise UserError("an offer sells one asset for another")
        units = parse_amount(sell_amount, sell.precision)
        wanted = parse_amount(want_amount, want.precision)
        if units <= 0 or wanted <= 0:
            raise UserError("offer and ask positive amounts")
        least = (
            units
            if fill_or_kill
            else (1 if min_fill is None else parse_amount(min_fill, sell.precision))
        )
        if not 1 <= least <= units:
            raise UserError("the smallest fill is between one unit and the whole offer")
        self.core.settle()  # incoming units become spendable first
        have = self.core.ledger.state.balance(self.core.me, sell.id)
        if have < units:
            raise UserError(
                f"not enough {sell.symbol}: you have {format_amount(have, sell.precision)}"
            )
        now = self.clock()
        return self._append(
            "offer",
            {
                "sell": sell.id,
                "sell_amount": units,
                "want": want.id,
                "want_amount": wanted,
                "min_fill": least,
                "expires": now + int(expires_in_s * 1000),
                "fill_or_kill": fill_or_kill,
                "settler": settler or self.core.me,
            },
        ).hash

    def take(
        self,
        offer_ref: str | bytes,
        amount: str | int | None = None,
        deadline_s: float = DEFAULT_TAKE_DEADLINE_S,
        anyway: bool = False,
    ) -> bytes:
        """Take ``amount`` (default: all that is left) of one offer at its price.

        Refused when the offer's settler has not been seen recently (our payment would wait on
        it), unless ``anyway``."""
        view = self.offer_view(offer_ref)
        units = view.remaining if amount is None else parse_amount(amount, view.sell.precision)
        if not anyway and not self._live(view.offer.settler, self.clock()):
            raise UserError(
                "the offer's settler has not been seen in the last "
                f"{LIVE_SETTLER_MS // 60_000} minutes, so your payment could wait "
                "on it until the take's deadline and its next entry",
                hint="sync with peers first, or take it anyway",
            )
        return self._write_take(view, units, deadline_s)

    def _write_take(self, view: OfferView, units: int, deadline_s: float) -> bytes:
        offer = view.offer
        if offer.maker == self.core.me:
            raise UserError("that is your own offer")
        if view.status != "open":
            raise UserError(f"that offer is {view.status}")
        if units <= 0 or units > view.remaining:
            raise UserError(
                f"the offer has {format_amount(view.remaining, view.sell.precision)}"
                f" {view.sell.symbol} left"
            )
        if units < offer.min_fill or (offer.fill_or_kill and units != offer.sell_amount):
            raise UserError(
                "the offer is filled whole only"
                if offer.fill_or_kill
                else f"the offer fills at least "
                f"{format_amount(offer.min_fill, view.sell.precision)}"
            )
        pay = offer.cost(units)
        self.core.settle()  # incoming units become spendable first
        have = self.core.ledger.state.balance(self.core.me, offer.want)
        if have < pay:
            raise UserError(
                f"not enough {view.want.symbol}: the take costs "
                f"{format_amount(pay, view.want.precision)}, you have "
                f"{format_amount(have, view.want.precision)}"
            )
        now = self.clock()
        deadline = min(now + int(deadline_s * 1000), offer.expires)
        if deadline <= now:
            raise UserError("that offer expires too soon to take")
        return self._append(
            "take",
            {"offer": offer.id, "amount": units, "pay": pay, "deadline": deadline},
            [offer.id],
        ).hash

    def plan(
        self,
        get_ref: str | bytes,
        give_ref: str | bytes,
        *,
        get_amount: str | int | None = None,
        give_amount: str | int | None = None,
        limit: str | None = None,
    ) -> list[PlannedTake]:
        """Split an order across the best live offers selling ``get`` for ``give``.

        Give ``get_amount`` (buy that much) or ``give_amount`` (spend that much); ``limit`` is
        the worst price accepted, as whole ``give`` per whole ``get``. Offers of settlers not
        seen recently, offers about to expire, our own offers, and the part of each offer that
        known pending takes already claim are left out.
        """
        get, give = self.wallet.asset(get_ref), self.wallet.asset(give_ref)
        if (get_amount is None) == (give_amount is None):
            raise UserError("say how much to buy or how much to spend")
        need = None if get_amount is None else parse_amount(get_amount, get.precision)
        budget = None if give_amount is None else parse_amount(give_amount, give.precision)
        worst = None if limit is None else parse_price(limit, get, give)
        state = self.core.ledger.state
        now = self.clock()
        claimed: dict[bytes, int] = {}
        for cond in state.conditional.values():
            if cond.outcome is None and cond.source in state.takes:
                t = state.takes[cond.source]
                claimed[t.offer] = claimed.get(t.offer, 0) + t.amount
        out: list[PlannedTake] = []
        for offer in state.iter_book(get.id, give.id, now):
            if (need is not None and need <= 0) or (budget is not None and budget <= 0):
                break
            if worst is not None and offer.price > worst:
                break
            if (
                offer.maker == self.core.me
                or not self._live(offer.settler, now)
                or offer.expires < now + EXPIRY_MARGIN_MS
            ):
                continue
            left = state.remaining(offer) - claimed.get(offer.id, 0)
            if left <= 0:
                continue
            if need is not None:
                units = min(need, left)
            else:
                assert budget is not None
                units = min(left, budget * offer.sell_amount // offer.want_amount)
                while units > 0 and offer.cost(units) > budget:
                    units -= 1
            if offer.fill_or_kill and (units != offer.sell_amount or left != offer.sell_amount):
                continue
            if units <= 0 or units < offer.min_fill:
                continue
            view = self._view(offer)
            out.append(PlannedTake(view, units, offer.cost(units)))
            if need is not None:
                need -= units
            if budget is not None:
                budget -= offer.cost(units)
        return out

    def order(
        self,
        get_ref: str | bytes,
        give_ref: str | bytes,
        *,
        get_amount: str | int | None = None,
        give_amount: str | int | None = None,
        limit: str | None = None,
        rest: bool = False,
        deadline_s: float = DEFAULT_TAKE_DEADLINE_S,
    ) -> OrderResult:
        """Buy ``get`` with ``give`` up to ``limit``: one take per offer of the plan; with
        ``rest``, what no live offer covers rests as our own offer at the limit price."""
        planned = self.plan(
            get_ref, give_ref, get_amount=get_amount, give_amount=give_amount, limit=limit
        )
        takes = []
        for p in planned:
            takes.append(self._write_take(p.offer, p.amount, deadline_s))
        got = sum(p.amount for p in planned)
        paid = sum(p.pay for p in planned)
        get, give = self.wallet.asset(get_ref), self.wallet.asset(give_ref)
        if get_amount is not None:
            unfilled = parse_amount(get_amount, get.precision) - got
        else:
            unfilled = parse_amount(give_amount or 0, give.precision) - paid
        rest_offer = None
        if rest and unfilled > 0:
            if limit is None:
                raise UserError("resting the rest of an order needs a limit price")
            price = parse_price(limit, get, give)  # give per get, smallest units
            if get_amount is not None:  # we sell ``give`` for ``unfilled`` of ``get``
                give_units = -(-unfilled * price.numerator // price.denominator)
                rest_offer = self.offer(give.id, give_units, get.id, unfilled)
            else:
                get_units = unfilled * price.denominator // price.numerator
                if get_units > 0:
                    rest_offer = self.offer(give.id, unfilled, get.id, get_units)
        return OrderResult(tuple(takes), tuple(planned), got, paid, max(0, unfilled), rest_offer)

    def cancel(self, offer_ref: str | bytes) -> bytes:
        """Cancel our offer: at once when we settle it, else as a request to its settler."""
        view = self.offer_view(offer_ref)
        offer = view.offer
        if self.core.me not in (offer.maker, offer.settler):
            raise UserError("only the offer's maker or settler cancels it")
        if view.status not in ("open", "expired"):
            raise UserError(f"that offer is already {view.status}")
        if offer.settler == self.core.me:
            if self.clock() > offer.expires:
                return self._reclaim_offer(offer)
            deps = [] if offer.maker == self.core.me else [offer.id]
            if offer.cancel_requested is not None:
                deps.append(offer.cancel_requested)
            return self._append("cancel", {"offer": offer.id}, deps).hash
        if view.status == "expired":  # past its expiry only a reclaim ends it
            return self._reclaim_offer(offer)
        if offer.cancel_requested is not None:
            raise UserError("you already asked its settler to cancel this offer")
        return self._append("cancel", {"offer": offer.id}).hash

    def _reclaim_offer(self, offer: Offer) -> bytes:
        state = self.core.ledger.state
        if offer.settler == self.core.me:
            return self._append("reclaim", {"of": offer.id, "proof": offer.id}).hash
        proof = state.proof_after(offer.settler, offer.expires)
        if proof is None:
            raise UserError(
                "the settler has written nothing since the offer expired",
                hint="its units come back once the settler's next entry arrives",
            )
        return self._append("reclaim", {"of": offer.id, "proof": proof}, [proof]).hash

    # -- reading ---------------------------------------------------------------------------------
    def _live(self, settler: bytes, now: int) -> bool:
        if settler == self.core.me:
            return True
        seen = self.core.ledger.state.last_seen.get(settler)
        return seen is not None and now - seen[0] <= LIVE_SETTLER_MS

    def _view(self, offer: Offer) -> OfferView:
        state = self.core.ledger.state
        return OfferView(
            offer,
            state.assets[offer.sell],
            state.assets[offer.want],
            state.remaining(offer),
            state.offer_status(offer, self.clock()),
        )

    def offer_view(self, ref: str | bytes) -> OfferView:
        """An offer by its ID (bytes, hex, or a unique hex prefix)."""
        offers = self.core.ledger.state.offers
        if isinstance(ref, bytes):
            found = [ref] if ref in offers else []
        else:
            prefix = ref.strip().lower()
            found = [oid for oid in offers if oid.hex().startswith(prefix)] if prefix else []
        if len(found) != 1:
            raise UserError(
                f"no offer {ref if isinstance(ref, str) else ref.hex()[:12]}"
                if not found
                else f"{ref!r} matches several offers"
            )
        return self._view(offers[found[0]])

    def pair(self, text: str) -> tuple[Asset, Asset]:
        """``"ART/CRD"`` (symbols or IDs) as (base, quote)."""
        base, sep, quote = text.partition("/")
        if not sep:
            raise UserError(f"{text!r} is not a pair like ART/CRD")
        return self.wallet.asset(base), self.wallet.asset(quote)

    def book(self, base_ref: str | bytes, quote_ref: str | bytes, levels: int = 20) -> BookView:
        base, quote = self.wallet.asset(base_ref), self.wallet.asset(quote_ref)
        state = self.core.ledger.state
        now = self.clock()

        def levels_of(sell: bytes, want: bytes, invert: bool) -> tuple[BookLevel, ...]:
            out: list[BookLevel] = []
            for offer in state.iter_book(sell, want, now):
                price = 1 / offer.price if invert else offer.price
                amount = state.remaining(offer)
                if invert:  # an offer selling quote buys base
                    amount = amount * offer.want_amount // offer.sell_amount
                if out and out[-1].price == price:
                    last = out[-1]
                    out[-1] = BookLevel(price, last.amount + amount, last.offers + 1)
                elif len(out) >= levels:
                    break
                else:
                    out.append(BookLevel(price, amount, 1))
            return tuple(out)

        asks = levels_of(base.id, quote.id, False)
        bids = levels_of(quote.id, base.id, True)
        trades = state.trades_of_pair(base.id, quote.id)
        sold, _ = state.volume(base.id, quote.id, now - 24 * 3600 * 1000)
        bought_back = sum(
            t.paid
            for t in state.trades_of_pair(quote.id, base.id)
            if t.timestamp >= now - 24 * 3600 * 1000
        )
        last = state.last_price(base.id, quote.id)
        return BookView(
            base,
            quote,
            asks,
            bids,
            asks[0].price if asks else None,
            bids[0].price if bids else None,
            last,
            sold + bought_back,
            tuple(reversed(trades[-20:])),
        )

    def price_history(
        self, base_ref: str | bytes, quote_ref: str | bytes, bucket_s: float = 3600
    ) -> list[Candle]:
        """Trades of base sold for quote, per time bucket: open, high, low, close, volume."""
        base, quote = self.wallet.asset(base_ref), self.wallet.asset(quote_ref)
        return [
            Candle(start, o, h, lo, c, units)
            for start, o, h, lo, c, units in self.core.ledger.state.price_history(
                base.id, quote.id, int(bucket_s * 1000)
            )
        ]

    def my_offers(self) -> list[OfferView]:
        state = self.core.ledger.state
        return [
            self._view(o)
            for o in sorted(
                (o for o in state.offers.values() if o.maker == self.core.me),
                key=lambda o: (o.timestamp, o.id),
            )
        ]

    def my_takes(self) -> list[tuple[Take, str]]:
        state = self.core.ledger.state
        return [(t, state.take_status(t)) for t in state.takes_of(self.core.me)]

    def my_trades(self) -> list[Trade]:
        return self.core.ledger.state.trades_of(self.core.me)

    def waiting_on_settlers(self) -> dict[bytes, tuple[int, int]]:
        """Per settler: (how many of our payments and offers wait on it, since when)."""
        state = self.core.ledger.state
        out: dict[bytes, tuple[int, int]] = {}
        for cond in state.open_payments(self.core.me):
            if cond.payer == self.core.me:
                n, since = out.get(cond.settler, (0, cond.timestamp))
                out[cond.settler] = (n + 1, min(since, cond.timestamp))
        return out


# -- what a node does by itself ------------------------------------------------------------------


def settle_market(core: Core, clock: Callable[[], int] = now_ms) -> MarketSettleReport:
    """Settle what we are the settler of, and take back what deadlines returned to us.

    Each item is handled on its own; a failure is logged and the item skipped for a while.
    """
    report = MarketSettleReport()
    if core.awaiting_own_feed:
        return report
    market = MarketService(core, clock)
    state = core.ledger.state
    me = core.me
    skips: dict[bytes, int] = core.market_skips

    def attempt(item: bytes, what: str, fn: Callable[[], object]) -> bool:
        now = clock()
        if skips.get(item, 0) > now:
            return False
        try:
            fn()
            return True
        except Exception as err:  # one bad item never stops the others (LedgerError, UserError
            # or an unexpected fault, which is logged in full at debug level)
            log.warning("market: skipped %s %s: %s", what, item.hex()[:12], err)
            log.debug("market: %s %s failed", what, item.hex()[:12], exc_info=True)
            report.skipped.append((item, str(err)))
            if len(skips) >= MAX_SKIPS:
                for key in sorted(skips, key=skips.__getitem__)[: MAX_SKIPS // 4]:
                    del skips[key]
            skips[item] = now + SKIP_FOR_MS
            return False

    # 1. takes of offers we settle: fill at the offer's terms, or refuse what cannot be filled
    for take in state.takes_to_settle(me):
        offer = state.offers[take.offer]
        now = clock()
        if now > take.deadline or now > offer.expires:
            continue  # too late to decide: the taker reclaims it with our next entry
        lock = state.locks[offer.id]
        if lock.closed_by is None and take.amount <= lock.amount:
            if attempt(
                take.id,
                "fill",
                lambda t=take: market._append(  # type: ignore[misc]
                    "fill", {"take": t.id}, [t.id]
                ),
            ):
                report.filled.append(take.id)
        else:
            reason = "the offer is closed" if lock.closed_by else f"only {lock.amount} left"
            if attempt(
                take.id,
                "refusal",
                lambda t=take, r=reason: market._append(  # type: ignore[misc]
                    "refuse", {"take": t.id, "reason": r}, [t.id]
                ),
            ):
                report.refused.append(take.id)
    # 2. cancels the makers asked of us
    for offer in state.cancels_to_settle(me):
        if clock() > offer.expires:
            continue  # the maker reclaims it
        deps = [offer.id, offer.cancel_requested]  # a request exists: the maker is not us
        if attempt(
            offer.id,
            "cancel",
            lambda o=offer, d=deps: market._append(  # type: ignore[misc]
                "cancel", {"offer": o.id}, d
            ),
        ):
            report.cancelled.append(offer.id)
    # 3. our own payments and offers whose deadline passed without a decision
    for cond in state.open_payments(me):
        if cond.payer != me or clock() <= cond.deadline:
            continue
        proof = state.proof_after(cond.settler, cond.deadline)
        if proof is not None and attempt(
            cond.source,
            "reclaim",
            lambda c=cond, p=proof: (  # type: ignore[misc]
                market._append("reclaim", {"of": c.source, "proof": p}, [p])
            ),
        ):
            report.reclaimed.append(cond.source)
    for lock in state.open_locks(me):
        if lock.owner != me or clock() <= lock.deadline:
            continue
        expired = state.offers.get(lock.id)
        if expired is None or (
            expired.settler != me and state.proof_after(expired.settler, lock.deadline) is None
        ):
            continue  # no proof yet: the settler's next entry brings it
        if attempt(lock.id, "reclaim", lambda o=expired: market._reclaim_offer(o)):  # type: ignore[misc]
            report.reclaimed.append(lock.id)
    # 4. a checkpoint: proof that deadlines passed, and a sign of life for new takers
    now = clock()
    waiting = state.waiting_on(me)
    locks = [lk for lk in state.open_locks(me) if lk.settler == me and lk.owner != me]
    if waiting or locks:
        seen = state.last_seen.get(me)
        last = seen[0] if seen else 0
        overdue = any(c.deadline >= last and now > c.deadline for c in waiting) or any(
            lk.deadline >= last and now > lk.deadline for lk in locks
        )
        if (overdue or now - last >= CHECKPOINT_EVERY_MS) and attempt(
            me,
            "checkpoint",
            lambda: market._append("checkpoint", {"open": len(waiting) + len(locks)}),
        ):
            report.checkpoints += 1
    if report.anything:
        log.info(
            "market: %d filled, %d refused, %d cancelled, %d reclaimed, %d checkpoints",
            len(report.filled),
            len(report.refused),
            len(report.cancelled),
            len(report.reclaimed),
            report.checkpoints,
        )
    return report


__all__ = [
    "BookLevel",
    "BookView",
    "Candle",
    "MarketService",
    "MarketSettleReport",
    "OfferView",
    "OrderResult",
    "PlannedTake",
    "settle_market",
]


register_settler_duty("market", settle_market, order=90)  # last: its checkpoint covers
# every commitment the duties before it left open (pledges, vote locks)
