"""Fan funding commands: ``cooptracks campaign new | list | show | close | refund | pledges |
settle`` and ``cooptracks pledge CAMPAIGN AMOUNT``.

They work on the local replica; the swarm (``cooptracks peers --sync``, a running seeder or the
app) carries pledges to the campaign's settler and brings back its close. Every command prints
JSON with ``--json``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.commands._io import add_json_flag, emit, passphrase
from app.services.core import Core
from app.services.errors import UserError
from app.services.funding import CampaignService, CampaignView, parse_tier


def _with_service(
    fn: Callable[[argparse.Namespace, CampaignService], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with Core.open(args.profile_obj, passphrase(args)) as core:
            return fn(args, CampaignService(core))

    return run


def _key(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise UserError(f"{text!r} is not a public key (64 hex characters)")
    return raw


def _doc(v: CampaignView) -> dict[str, Any]:
    c = v.campaign
    return {
        "campaign": c.id.hex(),
        "title": c.title,
        "artist": c.artist.hex(),
        "settler": c.settler.hex(),
        "asset": c.asset.hex(),
        "symbol": v.asset.symbol,
        "goal": c.goal,
        "deadline": c.deadline,
        "close_by": c.close_by,
        "status": v.status,
        "pledged": v.pledged,
        "counted": c.counted,
        "closed_by": c.closed_by.hex() if c.closed_by else None,
        "tiers": [{"name": t.name, "min": t.min, "reward": t.reward} for t in c.tiers],
        "backers": [
            {"backer": b.backer.hex(), "amount": b.amount, "tier": b.tier.name if b.tier else None}
            for b in v.backers
        ],
    }


def _line(v: CampaignView) -> str:
    c = v.campaign
    return (
        f"{c.id.hex()[:12]}  {c.title}: {v.amount(v.pledged)} pledged of "
        f"{v.amount(c.goal)}  {v.status}"
    )


def _name_amount(text: str) -> tuple[str, str]:
    name, sep, amount = text.rpartition("=")
    if not sep or not name.strip():
        raise UserError(f"{text!r} is not NAME=AMOUNT")
    return name.strip(), amount.strip()


def _new(args: argparse.Namespace, svc: CampaignService) -> int:
    asset = svc.wallet.asset(args.asset)
    tiers = [parse_tier(t, asset.precision) for t in args.tier]
    cid = svc.create(
        args.title,
        args.goal,
        asset.id,
        deadline_in_s=args.deadline_in * 3600,
        close_window_s=args.close_within * 3600,
        tiers=[(n, m, r) for n, m, r in tiers],
        description=args.description,
        settler=_key(args.settler) if args.settler else None,
        reward_coin=args.reward_coin,
        tier_coins=dict(_name_amount(t) for t in args.tier_coins),
        release_tiers=tuple(args.tier_release),
    )
    view = svc.campaign_view(cid)
    emit(args, _doc(view), f"campaign {cid.hex()} started: {_line(view)}")
    return 0


def _list(args: argparse.Namespace, svc: CampaignService) -> int:
    views = svc.campaigns()
    emit(args, [_doc(v) for v in views], "\n".join(_line(v) for v in views) or "no campaigns")
    return 0


def _show(args: argparse.Namespace, svc: CampaignService) -> int:
    v = svc.campaign_view(args.campaign)
    lines = [
        _line(v),
        *(f"  tier {t.name}: from {v.amount(t.min)}: {t.reward}" for t in v.campaign.tiers),
        *(
            f"  backer {b.backer.hex()[:12]}: {v.amount(b.amount)}"
            + (f" ({b.tier.name})" if b.tier else "")
            for b in v.backers
        ),
    ]
    emit(args, _doc(v), "\n".join(lines))
    return 0


def _pledge(args: argparse.Namespace, svc: CampaignService) -> int:
    pid = svc.pledge(args.campaign, args.amount)
    emit(
        args,
        {"pledge": pid.hex()},
        f"pledge {pid.hex()} signed; it is the artist's only if the campaign is funded",
    )
    return 0


def _close(args: argparse.Namespace, svc: CampaignService) -> int:
    written = svc.close(args.campaign, success=False if args.fail else None)
    view = svc.campaign_view(args.campaign)
    emit(
        args,
        {"entries": [w.hex() for w in written], "status": view.status},
        f"campaign {view.status} ({len(written)} entries signed)",
    )
    return 0


def _refund(args: argparse.Namespace, svc: CampaignService) -> int:
    entry = svc.refund(args.pledge)
    emit(args, {"entry": entry.hex()}, f"pledge taken back ({entry.hex()[:12]})")
    return 0


def _pledges(args: argparse.Namespace, svc: CampaignService) -> int:
    mine = svc.my_pledges()
    emit(
        args,
        [
            {"pledge": p.id.hex(), "campaign": p.campaign.hex(), "amount": p.amount, "status": s}
            for p, s in mine
        ],
        "\n".join(f"{p.id.hex()[:12]}  {p.amount} to {p.campaign.hex()[:12]}  {s}" for p, s in mine)
        or "no pledges",
    )
    return 0


def _settle(args: argparse.Namespace, svc: CampaignService) -> int:
    report = svc.core.settle().funding
    assert report is not None
    emit(
        args,
        {
            "funded": len(report.funded),
            "failed": len(report.failed),
            "refunded": len(report.refunded),
            "skipped": len(report.skipped),
        },
        f"funded {len(report.funded)}, failed {len(report.failed)}, refunded "
        f"{len(report.refunded)}",
    )
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    top = sub.add_parser(
        "campaign",
        parents=[common],
        help="all-or-nothing fan funding",
        description="Fund a project with pledges that become the artist's "
        "only if the goal is reached by the deadline.",
    )
    csub = top.add_subparsers(dest="campaign_command", metavar="COMMAND")
    top.set_defaults(handler=lambda args: (top.print_help(), 2)[1])

    def cmd(
        parent: Any, name: str, fn: Callable[[argparse.Namespace, CampaignService], int], help: str
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[common], help=help)
        add_json_flag(p)
        p.set_defaults(handler=_with_service(fn))
        return p

    p = cmd(csub, "new", _new, "start a campaign for GOAL of an asset")
    p.add_argument("title")
    p.add_argument("goal")
    p.add_argument("asset", help="asset pledged (symbol or ID)")
    p.add_argument(
        "--deadline-in",
        type=float,
        default=720.0,
        help="hours until pledging ends (default: 30 days)",
    )
    p.add_argument(
        "--close-within",
        type=float,
        default=168.0,
        help="hours after the deadline within which the settler closes "
        "(default: a week); after that backers take their pledges back",
    )
    p.add_argument(
        "--tier",
        action="append",
        default=[],
        help="NAME:MINIMUM:REWARD, e.g. 'Patron:50:the album and a pass'",
    )
    p.add_argument("--description", default="")
    p.add_argument("--settler", help="the key that closes it (e.g. your seeder); default: you")
    p.add_argument("--reward-coin", help="the coin --tier-coins are paid in (e.g. your ANN)")
    p.add_argument(
        "--tier-coins",
        action="append",
        default=[],
        metavar="NAME=AMOUNT",
        help="each backer of tier NAME is sent AMOUNT of --reward-coin once it is funded",
    )
    p.add_argument(
        "--tier-release",
        action="append",
        default=[],
        metavar="NAME",
        help="backers of tier NAME get the release you publish with --campaign",
    )
    cmd(csub, "list", _list, "campaigns this replica knows")
    p = cmd(csub, "show", _show, "one campaign, its tiers and backers")
    p.add_argument("campaign", help="campaign ID (a unique prefix is enough)")
    p = cmd(csub, "close", _close, "as its settler: count the pledges and close it")
    p.add_argument("campaign")
    p.add_argument("--fail", action="store_true", help="close it as failed (refund everyone)")
    p = cmd(csub, "refund", _refund, "take back a pledge the campaign did not use")
    p.add_argument("pledge")
    cmd(csub, "pledges", _pledges, "your pledges")
    cmd(csub, "settle", _settle, "close campaigns you settle; take back refundable pledges")
    p = cmd(sub, "pledge", _pledge, "pledge AMOUNT to a campaign")
    p.add_argument("campaign")
    p.add_argument("amount")
