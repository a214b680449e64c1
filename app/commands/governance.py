"""Governance commands: ``cooptracks charter | draft-charter | propose | vote | proposals |
tally | close | carry-out | accept-signing``.

They work on the local replica; the swarm (``cooptracks sync``, a running seeder or the app)
carries votes to the proposal's settler and brings back its close. Every command prints JSON with
``--json``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.commands._io import add_json_flag, emit, passphrase
from app.services.core import Core
from app.services.errors import UserError
from app.services.governance import GovernanceService, ProposalView
from ledger.state import Result, Vote


def _with_service(
    fn: Callable[[argparse.Namespace, GovernanceService], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with Core.open(args.profile_obj, passphrase(args)) as core:
            return fn(args, GovernanceService(core))

    return run


def _key(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise UserError(f"{text!r} is not a public key (64 hex characters)")
    return raw


def _result_doc(r: Result, choices: tuple[str, ...]) -> dict[str, Any]:
    return {
        "tally": dict(zip(choices, r.tally, strict=True)),
        "turnout": r.turnout,
        "voters": r.voters,
        "quorum_met": r.quorum_met,
        "winner": None if r.winner is None else choices[r.winner],
        "passed": r.passed,
        "close": r.close.hex() if r.close else None,
    }


def _vote_doc(v: Vote, choices: tuple[str, ...]) -> dict[str, Any]:
    return {
        "vote": v.id.hex(),
        "voter": v.voter.hex(),
        "choices": [choices[c] for c in v.choices],
        "units": v.units,
        "weight": v.weight,
        "timestamp": v.timestamp,
    }


def _doc(v: ProposalView) -> dict[str, Any]:
    p = v.proposal
    action = None
    if p.action is not None:
        action = {
            "do": p.action.do,
            "asset": p.action.asset.hex() if p.action.asset else None,
            "to": p.action.to.hex(),
            "amount": p.action.amount,
        }
    return {
        "proposal": p.id.hex(),
        "title": p.title,
        "text": p.text,
        "proposer": p.proposer.hex(),
        "community": p.community.hex(),
        "style": p.style,
        "choices": list(p.choices),
        "method": p.rules.method,
        "asset": p.rules.asset.hex() if p.rules.asset else None,
        "quorum": p.rules.quorum,
        "threshold_bps": p.rules.threshold_bps,
        "closes": p.closes,
        "settler": p.settler.hex(),
        "charter": p.charter.hex() if p.charter else None,
        "action": action,
        "status": v.status,
        "result": _result_doc(v.tally, p.choices),
        "omitted": [_vote_doc(o, p.choices) for o in v.omitted],
        "my_vote": _vote_doc(v.my_vote, p.choices) if v.my_vote else None,
        "carried_out_by": v.carried_out_by.hex() if v.carried_out_by else None,
    }


def _line(v: ProposalView) -> str:
    p, r = v.proposal, v.tally
    counts = ", ".join(f"{c} {t}" for c, t in zip(p.choices, r.tally, strict=True))
    return f"{p.id.hex()[:12]}  {v.status:<9} {p.title}  ({counts}; turnout {r.turnout})"


def _charter(args: argparse.Namespace, gov: GovernanceService) -> int:
    entry = gov.charter(
        method=args.method,
        asset=args.asset,
        members=[_key(m) for m in args.member],
        min_holding=args.min_holding,
        quorum=args.quorum,
        threshold=args.threshold,
        period_s=args.period * 3600,
        settler=_key(args.settler) if args.settler else None,
    )
    emit(
        args,
        {"charter": entry.hex()},
        f"charter {entry.hex()} signed: from now on this identity sends, mints and signs "
        f"artists only as its members vote",
    )
    return 0


def _draft_charter(args: argparse.Namespace, gov: GovernanceService) -> int:
    entry = gov.draft_charter(
        method=args.method,
        asset=args.asset,
        members=[_key(m) for m in args.member],
        min_holding=args.min_holding,
        quorum=args.quorum,
        threshold=args.threshold,
        period_s=args.period * 3600,
        settler=_key(args.settler) if args.settler else None,
    )
    emit(
        args,
        {"draft": entry.hex()},
        f"charter draft {entry.hex()} signed: propose it with "
        f"`cooptracks propose TITLE --charter LABEL --amend {entry.hex()[:12]}`",
    )
    return 0


def _accept_signing(args: argparse.Namespace, gov: GovernanceService) -> int:
    entry = gov.accept_signing(args.signing, None if args.term is None else args.term * 86400)
    shares = {k.hex(): bps for k, bps in gov.label_shares().items()}
    emit(
        args,
        {"accept": entry.hex(), "label_shares_bps": shares},
        f"signing accepted ({entry.hex()[:12]}): your listings from now on give "
        + ", ".join(f"{k[:12]} {bps} bps" for k, bps in shares.items()),
    )
    return 0


def _action(args: argparse.Namespace) -> dict[str, Any] | None:
    chosen = [a for a in (args.send, args.mint, args.sign, args.release, args.amend) if a]
    if len(chosen) > 1:
        raise UserError(
            "a proposal carries one action: --send, --mint, --sign, --release or --amend"
        )
    if args.release:
        return {"do": "release", "signing": args.release}
    if args.amend:
        return {"do": "amend", "draft": args.amend}
    if args.send:
        amount, asset, to = args.send
        return {"do": "send", "asset": asset, "to": _key(to), "amount": amount}
    if args.mint:
        amount, asset = args.mint
        return {"do": "mint", "asset": asset, "amount": amount}
    if args.sign:
        artist, bps = args.sign
        return {"do": "sign", "to": _key(artist), "amount": bps}
    return None


def _propose(args: argparse.Namespace, gov: GovernanceService) -> int:
    choices = [c for c in args.choices.split(",") if c.strip()]
    entry = gov.propose(
        args.title,
        text=args.text,
        choices=choices,
        approval=args.approval,
        method=args.method,
        asset=args.asset,
        members=[_key(m) for m in args.member],
        min_holding=args.min_holding,
        quorum=args.quorum,
        threshold=args.threshold,
        closes_in_s=None if args.closes_in is None else args.closes_in * 3600,
        settler=_key(args.settler) if args.settler else None,
        community=_key(args.charter) if args.charter else None,
        action=_action(args),
    )
    view = gov.proposal_view(entry)
    emit(args, _doc(view), f"proposal {entry.hex()} signed: {_line(view)}")
    return 0


def _vote(args: argparse.Namespace, gov: GovernanceService) -> int:
    entry = gov.vote(args.proposal, args.choice.split(","), args.units)
    view = gov.proposal_view(args.proposal)
    mine = view.my_vote
    emit(
        args,
        {
            "vote": entry.hex(),
            "weight": mine.weight if mine else None,
            "units": mine.units if mine else None,
        },
        f"vote {entry.hex()[:12]} signed (weight {mine.weight if mine else '?'}); the "
        f"proposal's settler counts it after the closing time",
    )
    return 0


def _proposals(args: argparse.Namespace, gov: GovernanceService) -> int:
    views = gov.proposals(_key(args.community) if args.community else None)
    if not args.all:
        views = [v for v in views if v.status in ("open", "counting") or args.all]
    emit(args, [_doc(v) for v in views], "\n".join(_line(v) for v in views) or "no proposals")
    return 0


def _tally(args: argparse.Namespace, gov: GovernanceService) -> int:
    view = gov.proposal_view(args.proposal)
    doc = _doc(view)
    lines = [_line(view)]
    r = doc["result"]
    lines.append(
        f"  quorum {'met' if r['quorum_met'] else 'not met'}; "
        f"{'passed' if r['passed'] else 'not passed'}"
        if view.status in ("passed", "failed")
        else "  running tally of the votes held here (the settler's close decides)"
    )
    lines += [
        f"  omitted: {o['vote'][:12]} by {o['voter'][:12]} ({', '.join(o['choices'])}, "
        f"weight {o['weight']})"
        for o in doc["omitted"]
    ]
    emit(args, doc, "\n".join(lines))
    return 0


def _close(args: argparse.Namespace, gov: GovernanceService) -> int:
    result = gov.close(args.proposal)
    p = gov.proposal_view(args.proposal).proposal
    emit(
        args,
        _result_doc(result, p.choices),
        f"closed {p.id.hex()[:12]}: {'passed' if result.passed else 'not passed'} "
        f"(turnout {result.turnout})",
    )
    return 0


def _carry_out(args: argparse.Namespace, gov: GovernanceService) -> int:
    entry = gov.carry_out(args.proposal)
    emit(args, {"entry": entry.hex()}, f"carried out as voted ({entry.hex()[:12]})")
    return 0


def _governance_rules(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method",
        default="token",
        choices=("token", "quadratic", "member", "buyer"),
        help="token-weighted, quadratic, one member one vote, one buyer one vote",
    )
    p.add_argument("--asset", help="the asset whose holders vote (symbol or ID)")
    p.add_argument("--member", action="append", default=[], help="a member's key (repeat)")
    p.add_argument(
        "--min-holding", default="0", help="member votes by holding: the units each vote locks"
    )
    p.add_argument("--quorum", default="0", help="least turnout (weight, or voters)")
    p.add_argument(
        "--threshold", default="50.01", help="per cent of turnout the leading choice (yes) needs"
    )
    p.add_argument("--settler", help="the key that counts votes (e.g. your seeder)")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    def cmd(name: str, fn: Callable[[argparse.Namespace, GovernanceService], int], help: str):
        p = sub.add_parser(name, parents=[common], help=help)
        add_json_flag(p)
        p.set_defaults(handler=_with_service(fn))
        return p

    p = cmd("charter", _charter, "bind this identity (a label) to its members' votes")
    _governance_rules(p)
    p.add_argument(
        "--period",
        type=float,
        default=72.0,
        help="hours a proposal under the charter stays open, at least",
    )
    p = cmd("propose", _propose, "ask a community a question")
    p.add_argument("title")
    p.add_argument("--text", default="")
    p.add_argument("--choices", default="yes,no", help="comma separated (default: yes,no)")
    p.add_argument("--approval", action="store_true", help="voters may approve several")
    _governance_rules(p)
    p.add_argument(
        "--closes-in",
        type=float,
        default=None,
        help="hours (default: the charter's period, else three days)",
    )
    p.add_argument(
        "--charter",
        metavar="LABEL",
        help="propose under this label's charter (its rules and settler apply)",
    )
    p.add_argument(
        "--send",
        nargs=3,
        metavar=("AMOUNT", "ASSET", "TO"),
        help="if it passes, the label pays AMOUNT of ASSET to TO",
    )
    p.add_argument(
        "--mint",
        nargs=2,
        metavar=("AMOUNT", "ASSET"),
        help="if it passes, the label mints AMOUNT of its ASSET",
    )
    p.add_argument(
        "--sign",
        nargs=2,
        metavar=("ARTIST", "BPS"),
        help="if it passes, the label signs ARTIST for a share of BPS basis points",
    )
    p.add_argument(
        "--release",
        metavar="SIGNING",
        help="if it passes, the label releases the artist of its signing SIGNING",
    )
    p.add_argument(
        "--amend",
        metavar="DRAFT",
        help="if it passes, the label's charter becomes the charter draft DRAFT",
    )
    p = cmd("draft-charter", _draft_charter, "write a charter's new text for an amendment")
    _governance_rules(p)
    p.add_argument("--period", type=float, default=72.0, help="hours a proposal stays open")
    p = cmd(
        "accept-signing",
        _accept_signing,
        "as an artist: accept a label's signing (your listings then give it its share)",
    )
    p.add_argument("signing", help="the label's sign entry (a unique prefix is enough)")
    p.add_argument("--term", type=float, default=None, help="days (default: until released)")
    p = cmd("vote", _vote, "vote on a proposal (again, to change your vote)")
    p.add_argument("proposal", help="proposal ID (a unique prefix is enough)")
    p.add_argument("choice", help="a choice (name or number); approval: comma separated")
    p.add_argument(
        "--units",
        default=None,
        help="what a token vote locks until the count (default: all you hold)",
    )
    p = cmd("proposals", _proposals, "open proposals (--all: every one)")
    p.add_argument("--all", action="store_true")
    p.add_argument("--community", help="only this identity's (or label's) proposals")
    p = cmd("tally", _tally, "a proposal's tally, result and omitted votes")
    p.add_argument("proposal")
    p = cmd("close", _close, "as its settler: count the votes and close a proposal")
    p.add_argument("proposal")
    p = cmd("carry-out", _carry_out, "as a chartered label: do what a passed proposal says")
    p.add_argument("proposal")
