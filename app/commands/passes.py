"""Holder pass commands: ``cooptracks pass gate | claim | show | check | tiers | list | unlock``.

A gate asks for holding some of a coin (optionally for some days); a claim locks those coins for
the gate's period; ``pass show`` prints the claim as a short signed text to show at a door, and
``pass check`` is what the door runs. Every command prints JSON with ``--json``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.commands._io import add_json_flag, emit, passphrase
from app.services.core import Core
from app.services.errors import UserError
from app.services.passes import DAY_MS, PassService
from ledger.state import Gate


def _with_service(
    fn: Callable[[argparse.Namespace, PassService], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with Core.open(args.profile_obj, passphrase(args)) as core:
            return fn(args, PassService(core))

    return run


def _gate_doc(g: Gate) -> dict[str, Any]:
    return {
        "gate": g.id.hex(),
        "title": g.title,
        "author": g.author.hex(),
        "asset": g.asset.hex(),
        "min": g.min,
        "held_days": g.held_ms / DAY_MS,
        "lock_days": g.lock_ms / DAY_MS,
    }


def _gate(args: argparse.Namespace, svc: PassService) -> int:
    gid = svc.create_gate(
        args.title,
        args.asset,
        args.min,
        held_days=args.held_days,
        lock_days=args.lock_days,
        description=args.description,
    )
    emit(args, _gate_doc(svc.gate(gid)), f"gate {gid.hex()} signed")
    return 0


def _claim(args: argparse.Namespace, svc: PassService) -> int:
    cid = svc.claim(args.gate, lock_days=args.lock_days)
    claim = svc.claim_of(cid)
    emit(
        args,
        {"claim": cid.hex(), "gate": claim.gate.hex(), "until": claim.until},
        f"claim {cid.hex()} signed; the coins stay locked until {claim.until} (ms)",
    )
    return 0


def _show(args: argparse.Namespace, svc: PassService) -> int:
    text = svc.show(args.claim, challenge=args.challenge)
    emit(args, {"pass": text}, text)
    return 0


def _check(args: argparse.Namespace, svc: PassService) -> int:
    result = svc.check(args.text, args.gate, args.challenge)
    emit(
        args,
        {
            "ok": result.ok,
            "confirmed": result.confirmed,
            "reason": result.reason,
            "holder": result.holder.hex() if result.holder else None,
            "gate": result.gate.hex() if result.gate else None,
            "until": result.until,
        },
        ("VALID: " if result.ok else "REFUSED: ") + result.reason,
    )
    return 0 if result.ok else 3


def _tiers(args: argparse.Namespace, svc: PassService) -> int:
    who = None
    if args.holder:
        try:
            who = bytes.fromhex(args.holder)
        except ValueError:
            who = b""
        if len(who) != 32:
            raise UserError(f"{args.holder!r} is not a public key (64 hex characters)")
    rows = svc.tiers(args.asset, who)
    emit(
        args,
        [{**_gate_doc(g), "qualifies": ok} for g, ok in rows],
        "\n".join(
            f"{g.id.hex()[:12]}  {g.title}: {g.min} held {g.held_ms / DAY_MS:g} days"
            f"  {'yes' if ok else 'no'}"
            for g, ok in rows
        )
        or "no gates on that coin",
    )
    return 0


def _list(args: argparse.Namespace, svc: PassService) -> int:
    rows = svc.my_claims()
    emit(
        args,
        [
            {"claim": c.id.hex(), "gate": c.gate.hex(), "until": c.until, "active": a}
            for c, a in rows
        ],
        "\n".join(
            f"{c.id.hex()[:12]}  gate {c.gate.hex()[:12]} until {c.until}"
            f"  {'active' if a else 'over'}"
            for c, a in rows
        )
        or "no claims",
    )
    return 0


def _unlock(args: argparse.Namespace, svc: PassService) -> int:
    entry = svc.unlock(args.claim)
    emit(args, {"entry": entry.hex()}, f"coins unlocked ({entry.hex()[:12]})")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    top = sub.add_parser(
        "pass",
        parents=[common],
        help="holder passes and tiers",
        description="Passes and tiers for holders of a coin: claim one by "
        "locking the coins, show it at a door as signed text.",
    )
    psub = top.add_subparsers(dest="pass_command", metavar="COMMAND")
    top.set_defaults(handler=lambda args: (top.print_help(), 2)[1])

    def cmd(
        name: str, fn: Callable[[argparse.Namespace, PassService], int], help: str
    ) -> argparse.ArgumentParser:
        p = psub.add_parser(name, parents=[common], help=help)
        add_json_flag(p)
        p.set_defaults(handler=_with_service(fn))
        return p

    p = cmd("gate", _gate, "define a pass or tier: hold MIN of a coin")
    p.add_argument("title")
    p.add_argument("min")
    p.add_argument("asset", help="the coin (symbol or ID)")
    p.add_argument("--held-days", type=float, default=0.0, help="held without a break this long")
    p.add_argument(
        "--lock-days",
        type=float,
        default=1.0,
        help="a claim locks the coins this long (default: a day)",
    )
    p.add_argument("--description", default="")
    p = cmd("claim", _claim, "claim a gate: lock its coins for its period")
    p.add_argument("gate", help="gate ID (a unique prefix is enough)")
    p.add_argument("--lock-days", type=float, default=None, help="longer than the gate asks")
    p = cmd("show", _show, "print a claim as a signed pass to show at a door")
    p.add_argument("claim")
    p.add_argument("--challenge", default="", help="the word the door asked you to sign")
    p = cmd("check", _check, "at the door: check a shown pass (exit 3 if refused)")
    p.add_argument("text")
    p.add_argument("--gate", default=None, help="the gate it must be for")
    p.add_argument("--challenge", default=None, help="the word you asked the holder to sign")
    p = cmd("tiers", _tiers, "the gates on a coin and whether a holder qualifies")
    p.add_argument("asset")
    p.add_argument("--holder", default=None, help="public key (default: you)")
    cmd("list", _list, "your claims")
    p = cmd("unlock", _unlock, "take back a claim's coins after its period")
    p.add_argument("claim")
