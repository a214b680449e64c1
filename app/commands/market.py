"""Exchange commands: ``cooptracks market offer | take | buy | sell | cancel | book | orders |
trades | settle``.

Like the store commands they work on the local replica; the swarm (``cooptracks peers --sync``,
a running seeder or the app) carries the entries to the offers' settlers and brings back fills.
Every command prints JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from app.commands._io import add_json_flag, emit, passphrase
from app.services.core import Core
from app.services.errors import UserError
from app.services.market import BookLevel, MarketService, OfferView, price_text
from app.services.money import format_amount
from ledger.state import Asset, Trade


def _with_market(
    fn: Callable[[argparse.Namespace, MarketService], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with Core.open(args.profile_obj, passphrase(args)) as core:
            return fn(args, MarketService(core))

    return run


def _key(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise UserError(f"{text!r} is not a public key (64 hex characters)")
    return raw


def _ratio(price: Fraction | None) -> str | None:
    return None if price is None else f"{price.numerator}/{price.denominator}"


def _offer_doc(v: OfferView) -> dict[str, Any]:
    o = v.offer
    return {
        "offer": o.id.hex(),
        "maker": o.maker.hex(),
        "settler": o.settler.hex(),
        "sell": v.sell.symbol,
        "sell_asset": o.sell.hex(),
        "sell_amount": o.sell_amount,
        "want": v.want.symbol,
        "want_asset": o.want.hex(),
        "want_amount": o.want_amount,
        "remaining": v.remaining,
        "min_fill": o.min_fill,
        "fill_or_kill": o.fill_or_kill,
        "expires": o.expires,
        "status": v.status,
        "price": v.price_text(),
    }


def _offer_line(v: OfferView) -> str:
    return (
        f"{v.id.hex()[:12]}  sell {format_amount(v.remaining, v.sell.precision)}"
        f"/{format_amount(v.offer.sell_amount, v.sell.precision)} {v.sell.symbol} "
        f"at {v.price_text()}  {v.status}"
    )


def _trade_doc(t: Trade) -> dict[str, Any]:
    return {
        "fill": t.id.hex(),
        "offer": t.offer.hex(),
        "take": t.take.hex(),
        "maker": t.maker.hex(),
        "taker": t.taker.hex(),
        "sold": t.sold.hex(),
        "paid_in": t.paid_in.hex(),
        "amount": t.amount,
        "paid": t.paid,
        "timestamp": t.timestamp,
    }


def _offer(args: argparse.Namespace, market: MarketService) -> int:
    entry = market.offer(
        args.sell,
        args.amount,
        args.want,
        args.want_amount,
        min_fill=args.min_fill,
        expires_in_s=args.expires_in * 3600,
        fill_or_kill=args.fok,
        settler=_key(args.settler) if args.settler else None,
    )
    view = market.offer_view(entry)
    emit(args, _offer_doc(view), f"offer {entry.hex()} signed: {_offer_line(view)}")
    return 0


def _take(args: argparse.Namespace, market: MarketService) -> int:
    entry = market.take(
        args.offer, args.amount, deadline_s=args.deadline_minutes * 60, anyway=args.anyway
    )
    emit(
        args,
        {"take": entry.hex()},
        f"take {entry.hex()} signed; the offer's settler fills it when it sees it",
    )
    return 0


def _order(args: argparse.Namespace, market: MarketService, buying: bool) -> int:
    base, quote = market.pair(args.pair)
    # buy: get base, give quote, limit in quote per base; sell: get quote, give base
    get, give = (base, quote) if buying else (quote, base)
    limit = args.limit
    if limit is not None and not buying:  # a sell limit is the least quote per base
        limit = str(1 / Fraction(limit))
    kw = {"get_amount": args.amount} if buying else {"give_amount": args.amount}
    if args.dry_run:
        planned = market.plan(get.id, give.id, limit=limit, **kw)
        emit(
            args,
            {
                "planned": [
                    {"offer": p.offer.id.hex(), "amount": p.amount, "pay": p.pay} for p in planned
                ]
            },
            "\n".join(
                f"{p.offer.id.hex()[:12]}  get {format_amount(p.amount, get.precision)} "
                f"{get.symbol} for {format_amount(p.pay, give.precision)} {give.symbol}"
                for p in planned
            )
            or "no live offer within the limit",
        )
        return 0
    result = market.order(
        get.id, give.id, limit=limit, rest=args.rest, deadline_s=args.deadline_minutes * 60, **kw
    )
    emit(
        args,
        {
            "takes": [t.hex() for t in result.takes],
            "got": result.got,
            "paid": result.paid,
            "unfilled": result.unfilled,
            "rest_offer": result.rest_offer.hex() if result.rest_offer else None,
        },
        f"{len(result.takes)} takes signed: {format_amount(result.got, get.precision)} "
        f"{get.symbol} for {format_amount(result.paid, give.precision)} {give.symbol}"
        + (f"; {result.unfilled} units unfilled" if result.unfilled else "")
        + (f"; the rest rests as offer {result.rest_offer.hex()}" if result.rest_offer else ""),
    )
    return 0


def _cancel(args: argparse.Namespace, market: MarketService) -> int:
    entry = market.cancel(args.offer)
    emit(args, {"entry": entry.hex()}, f"cancel signed ({entry.hex()[:12]})")
    return 0


def _levels(levels: tuple[BookLevel, ...], base: Asset, quote: Asset) -> list[dict[str, Any]]:
    return [
        {
            "price": _ratio(lv.price),
            "price_text": price_text(lv.price, base, quote),
            "amount": lv.amount,
            "offers": lv.offers,
        }
        for lv in levels
    ]


def _book(args: argparse.Namespace, market: MarketService) -> int:
    base, quote = market.pair(args.pair)
    book = market.book(base.id, quote.id, levels=args.levels)
    doc = {
        "base": base.id.hex(),
        "quote": quote.id.hex(),
        "asks": _levels(book.asks, base, quote),
        "bids": _levels(book.bids, base, quote),
        "best_ask": _ratio(book.best_ask),
        "best_bid": _ratio(book.best_bid),
        "last_price": _ratio(book.last_price),
        "volume_24h": book.volume_24h,
        "trades": [_trade_doc(t) for t in book.trades],
    }
    lines = [f"{base.symbol}/{quote.symbol}"]
    lines += [
        f"  ask {price_text(lv.price, base, quote):>22}  "
        f"{format_amount(lv.amount, base.precision)} ({lv.offers})"
        for lv in reversed(book.asks)
    ]
    lines += [
        f"  bid {price_text(lv.price, base, quote):>22}  "
        f"{format_amount(lv.amount, base.precision)} ({lv.offers})"
        for lv in book.bids
    ]
    if book.last_price is not None:
        lines.append(
            f"  last {price_text(book.last_price, base, quote)}, 24 h volume "
            f"{format_amount(book.volume_24h, base.precision)} {base.symbol}"
        )
    emit(args, doc, "\n".join(lines))
    return 0


def _orders(args: argparse.Namespace, market: MarketService) -> int:
    offers = market.my_offers()
    takes = market.my_takes()
    waiting = market.waiting_on_settlers()
    doc = {
        "offers": [_offer_doc(v) for v in offers],
        "takes": [
            {
                "take": t.id.hex(),
                "offer": t.offer.hex(),
                "amount": t.amount,
                "pay": t.pay,
                "deadline": t.deadline,
                "status": status,
            }
            for t, status in takes
        ],
        "waiting_on": {k.hex(): {"count": n, "since": since} for k, (n, since) in waiting.items()},
    }
    lines = [_offer_line(v) for v in offers]
    lines += [
        f"{t.id.hex()[:12]}  take {t.amount} of {t.offer.hex()[:12]} for {t.pay}  {status}"
        for t, status in takes
    ]
    lines += [f"{n} payment(s) wait on settler {k.hex()[:12]}" for k, (n, _) in waiting.items()]
    emit(args, doc, "\n".join(lines) or "no orders")
    return 0


def _trades(args: argparse.Namespace, market: MarketService) -> int:
    if args.candles:
        if not args.pair:
            raise UserError("--candles needs a pair, like ANN/CRD")
        base, quote = market.pair(args.pair)
        candles = market.price_history(base.id, quote.id, args.candles * 60)
        emit(
            args,
            [
                {
                    "start": c.start,
                    "open": _ratio(c.open),
                    "high": _ratio(c.high),
                    "low": _ratio(c.low),
                    "close": _ratio(c.close),
                    "volume": c.volume,
                }
                for c in candles
            ],
            "\n".join(
                f"{c.start}  open {price_text(c.open, base, quote)}  high "
                f"{price_text(c.high, base, quote)}  low {price_text(c.low, base, quote)}"
                f"  close {price_text(c.close, base, quote)}  volume {c.volume}"
                for c in candles
            )
            or "no trades",
        )
        return 0
    if args.pair:
        base, quote = market.pair(args.pair)
        state = market.core.ledger.state
        trades = sorted(
            state.trades_of_pair(base.id, quote.id) + state.trades_of_pair(quote.id, base.id),
            key=lambda t: (t.timestamp, t.id),
        )
    else:
        trades = market.my_trades()
    emit(
        args,
        [_trade_doc(t) for t in trades],
        "\n".join(f"{t.id.hex()[:12]}  {t.amount} for {t.paid}" for t in trades) or "no trades",
    )
    return 0


def _settle(args: argparse.Namespace, market: MarketService) -> int:
    report = market.core.settle().market
    assert report is not None
    emit(
        args,
        {
            "filled": len(report.filled),
            "refused": len(report.refused),
            "cancelled": len(report.cancelled),
            "reclaimed": len(report.reclaimed),
            "checkpoints": report.checkpoints,
            "skipped": len(report.skipped),
        },
        f"filled {len(report.filled)}, refused {len(report.refused)}, cancelled "
        f"{len(report.cancelled)}, reclaimed {len(report.reclaimed)}",
    )
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    top = sub.add_parser(
        "market",
        parents=[common],
        help="the artistcoin exchange",
        description="Trade artistcoins and credits peer to peer: offers lock "
        "what they sell, and each offer's settler fills takes.",
    )
    msub = top.add_subparsers(dest="market_command", metavar="COMMAND")
    top.set_defaults(handler=lambda args: (top.print_help(), 2)[1])

    def cmd(name: str, fn: Callable[[argparse.Namespace, MarketService], int], help: str):
        p = msub.add_parser(name, parents=[common], help=help)
        add_json_flag(p)
        p.set_defaults(handler=_with_market(fn))
        return p

    p = cmd("offer", _offer, "offer AMOUNT of an asset for at least WANT_AMOUNT of another")
    p.add_argument("amount")
    p.add_argument("sell", help="asset sold (symbol or ID)")
    p.add_argument("want_amount")
    p.add_argument("want", help="asset wanted (symbol or ID)")
    p.add_argument("--min-fill", default=None, help="smallest part a taker may take")
    p.add_argument("--fok", action="store_true", help="fill or kill: taken whole or not at all")
    p.add_argument("--expires-in", type=float, default=168.0, help="hours (default: a week)")
    p.add_argument("--settler", help="the key that fills it (e.g. your seeder); default: you")
    p = cmd("take", _take, "take (part of) one offer at its price")
    p.add_argument("offer", help="offer ID (a unique prefix is enough)")
    p.add_argument("--amount", default=None, help="how much of what it sells (default: all)")
    p.add_argument(
        "--anyway", action="store_true", help="even if its settler has not been seen recently"
    )
    p.add_argument("--deadline-minutes", type=float, default=60.0)
    for name, buying in (("buy", True), ("sell", False)):
        p = cmd(
            name,
            functools.partial(_order, buying=buying),
            f"{name} AMOUNT of the pair's base across the best live offers",
        )
        p.add_argument("pair", help="BASE/QUOTE, e.g. ART/CRD")
        p.add_argument(
            "amount",
            help="units of the base asset" if buying else "units of the base asset to sell",
        )
        p.add_argument(
            "--limit",
            default=None,
            help="worst price in QUOTE per BASE (most you pay / least you get)",
        )
        p.add_argument(
            "--rest",
            action="store_true",
            help="what no offer covers rests as your own offer at the limit",
        )
        p.add_argument("--dry-run", action="store_true", help="show the split, sign nothing")
        p.add_argument("--deadline-minutes", type=float, default=60.0)
    p = cmd("cancel", _cancel, "cancel your offer (or ask its settler to)")
    p.add_argument("offer")
    p = cmd("book", _book, "the order book of a pair")
    p.add_argument("pair", help="BASE/QUOTE, e.g. ART/CRD")
    p.add_argument("--levels", type=int, default=20)
    cmd("orders", _orders, "your offers and takes")
    p = cmd("trades", _trades, "your trades, or a pair's")
    p.add_argument("pair", nargs="?")
    p.add_argument(
        "--candles",
        type=float,
        metavar="MINUTES",
        help="the pair's price history in buckets of this many minutes",
    )
    cmd("settle", _settle, "fill takes of offers you settle; reclaim what deadlines returned")
