"""Coin commands: ``cooptracks coin charter | status | stakes | accept | refuse | collect |
unstake | settle``, and ``cooptracks stake COIN AMOUNT`` and ``cooptracks distribute COIN``.

A charter shares part of the artist's sales with the holders who stake its coin; the artist's
node accepts stakes and distributes on its own (``cooptracks settle``, a running node), and a
staker's node collects. Every command prints JSON with ``--json``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.commands._io import add_json_flag, emit, passphrase
from app.services.coins import CoinService
from app.services.core import Core


def _with_service(
    fn: Callable[[argparse.Namespace, CoinService], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with Core.open(args.profile_obj, passphrase(args)) as core:
            return fn(args, CoinService(core))

    return run


def _buyback(args: argparse.Namespace, svc: CoinService) -> int:
    policy = svc.set_buyback(args.coin, args.percent, args.price)
    said = (
        f"{args.percent} % of the sales counted from now on become a standing bid for "
        f"{args.coin} at {args.price} per coin (placed by your node as sales arrive)"
        if policy["bps"]
        else f"no buyback for {args.coin}"
    )
    emit(args, policy, said)
    return 0


def _charter(args: argparse.Namespace, svc: CoinService) -> int:
    cid = svc.write_charter(args.coin, args.sales_asset, args.percent)
    emit(
        args,
        {"charter": cid.hex()},
        f"charter {cid.hex()} signed: {args.percent} % of your sales go to the stakers",
    )
    return 0


def _status(args: argparse.Namespace, svc: CoinService) -> int:
    v = svc.view(args.coin)
    c = v.charter
    doc = {
        "charter": c.id.hex(),
        "issuer": c.issuer.hex(),
        "coin": v.coin.symbol,
        "sales_asset": v.sales_asset.symbol,
        "bps": c.bps,
        "sales": c.sales,
        "committed": c.committed,
        "distributed": c.distributed,
        "owed": c.owed,
        "staked": v.staked,
        "stakers": v.stakers,
    }
    emit(
        args,
        doc,
        f"{v.coin.symbol}: {c.bps / 100:g} % of {v.money(c.sales)} sales = "
        f"{v.money(c.committed)} committed, {v.money(c.distributed)} distributed"
        f"{', ' + v.money(c.owed) + ' owed' if c.owed else ''}; {v.staked} "
        f"{v.coin.symbol} staked by {v.stakers}",
    )
    return 0


def _stake(args: argparse.Namespace, svc: CoinService) -> int:
    sid = svc.stake(args.coin, args.amount, args.days, via_agent=args.via_agent)
    who = "the issuer's agent" if args.via_agent else "the issuer's node"
    emit(args, {"stake": sid.hex()}, f"stake {sid.hex()} signed; {who} accepts it")
    return 0


def _stakes(args: argparse.Namespace, svc: CoinService) -> int:
    rows = svc.my_stakes()
    docs: list[dict[str, Any]] = [
        {
            "stake": s.id.hex(),
            "charter": s.charter.hex(),
            "amount": s.amount,
            "until": s.until,
            "status": st,
            "collected": got,
        }
        for s, st, got in rows
    ]
    emit(
        args,
        docs,
        "\n".join(
            f"{s.id.hex()[:12]}  {s.amount} staked until {s.until}  {st}, {got} collected"
            for s, st, got in rows
        )
        or "no stakes",
    )
    return 0


def _answer(accept: bool) -> Callable[[argparse.Namespace, CoinService], int]:
    def run(args: argparse.Namespace, svc: CoinService) -> int:
        entry = svc.accept(args.stake, accept)
        emit(args, {"entry": entry.hex()}, f"stake {'accepted' if accept else 'refused'}")
        return 0

    return run


def _distribute(args: argparse.Namespace, svc: CoinService) -> int:
    entry = svc.distribute(args.coin, args.amount)
    dist = svc.core.ledger.state.distributions[entry]
    emit(
        args,
        {
            "distribution": entry.hex(),
            "amount": dist.amount,
            "paid": dist.paid,
            "total_staked": dist.total_staked,
        },
        f"distributed {dist.paid} of {dist.amount} to {dist.total_staked} staked "
        f"(the rest is rounding)",
    )
    return 0


def _collect(args: argparse.Namespace, svc: CoinService) -> int:
    written = svc.collect()
    emit(args, {"entries": [w.hex() for w in written]}, f"{len(written)} collect entries signed")
    return 0


def _unstake(args: argparse.Namespace, svc: CoinService) -> int:
    entry = svc.unstake(args.stake)
    emit(args, {"entry": entry.hex()}, "stake taken back")
    return 0


def _settle(args: argparse.Namespace, svc: CoinService) -> int:
    report = svc.core.settle().coins
    assert report is not None
    emit(
        args,
        {
            "accepted": len(report.accepted),
            "distributed": len(report.distributed),
            "collected": len(report.collected),
            "unstaked": len(report.unstaked),
            "skipped": len(report.skipped),
        },
        f"accepted {len(report.accepted)}, distributed {len(report.distributed)}, collected "
        f"{len(report.collected)}, unstaked {len(report.unstaked)}",
    )
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    top = sub.add_parser(
        "coin",
        parents=[common],
        help="artistcoins tied to sales",
        description="Share part of your sales with the holders who stake your "
        "coin; stake, collect and unstake as a holder.",
    )
    csub = top.add_subparsers(dest="coin_command", metavar="COMMAND")
    top.set_defaults(handler=lambda args: (top.print_help(), 2)[1])

    def cmd(
        parent: Any, name: str, fn: Callable[[argparse.Namespace, CoinService], int], help: str
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[common], help=help)
        add_json_flag(p)
        p.set_defaults(handler=_with_service(fn))
        return p

    p = cmd(csub, "charter", _charter, "share PERCENT of your sales in an asset with stakers")
    p.add_argument("coin", help="your coin (symbol or ID)")
    p.add_argument("sales_asset", help="the asset your sales are paid in, e.g. CRD")
    p.add_argument("percent")
    p = cmd(csub, "buyback", _buyback, "keep PERCENT of your sales as a standing bid for the coin")
    p.add_argument("coin", help="your coin (symbol or ID), which has a charter")
    p.add_argument("percent", help="0 stops it")
    p.add_argument("--price", required=True, help="the bid: sales asset per whole coin")
    p = cmd(csub, "status", _status, "a coin's charter: sales, committed, distributed, staked")
    p.add_argument("coin")
    cmd(csub, "stakes", _stakes, "your stakes")
    for name, accept in (("accept", True), ("refuse", False)):
        p = cmd(csub, name, _answer(accept), f"as the issuer: {name} a stake")
        p.add_argument("stake")
    cmd(csub, "collect", _collect, "collect your shares of distributions")
    p = cmd(csub, "unstake", _unstake, "take back a stake after its term")
    p.add_argument("stake")
    cmd(csub, "settle", _settle, "accept stakes, distribute what you owe, collect, unstake")
    p = cmd(sub, "stake", _stake, "stake AMOUNT of a coin with its issuer")
    p.add_argument("coin")
    p.add_argument("amount")
    p.add_argument("--days", type=float, default=90.0, help="the stake's term (default: 90)")
    p.add_argument(
        "--via-agent",
        action="store_true",
        help="answered by the agent the issuer delegated (its seeder), while the issuer is away",
    )
    p = cmd(sub, "distribute", _distribute, "as an issuer: pay stakers what the charter owes")
    p.add_argument("coin")
    p.add_argument("amount", nargs="?", default=None, help="default: all that is owed")
