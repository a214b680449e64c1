"""Fan funding for people and for settlers (no Qt).

``CampaignService`` starts campaigns, pledges to them, closes one by hand (as its settler), takes
back refundable pledges, and reads campaigns, pledges, backers and their reward tiers.
``settle_campaigns`` is what a node does by itself, from ``Core.settle()`` (so a headless seeder
named as settler does it while the artist is offline): once a campaign's deadline has passed, it
counts the pledges it holds and closes the campaign, funded when they reach the goal, failed
otherwise; and it takes back our own pledges that a close left out or failed. Pledges of a
campaign nobody closed by ``close_by`` come back through the exchange's reclaim step
(``settle_market``), which reclaims every payment of ours whose deadline passed. Each campaign
and pledge is handled on its own: a failure is logged and the item skipped for a while.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from app.services.core import Core, register_settler_duty
from app.services.errors import UserError
from app.services.market import now_ms
from app.services.money import format_amount, parse_amount
from app.services.reports import FundingSettleReport
from app.services.wallet import WalletService
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.features.campaigns import MAX_NAMED, MAX_TIERS
from ledger.state import Asset, Backer, Campaign, Listing, Pledge, Reward

log = logging.getLogger(__name__)

DEFAULT_CLOSE_WINDOW_S = 7 * 24 * 3600  # the settler closes within this after the deadline
CLOSE_GRACE_MS = 10 * 60 * 1000  # wait this long after the deadline for late pledges to arrive
SKIP_FOR_MS = 60 * 1000
MAX_SKIPS = 1024


@dataclass(frozen=True)
class CampaignView:
    campaign: Campaign
    asset: Asset
    status: str
    pledged: int  # pledges this replica holds, not reclaimed
    backers: tuple[Backer, ...]  # once funded

    @property
    def id(self) -> bytes:
        return self.campaign.id

    def amount(self, units: int) -> str:
        return format_amount(units, self.asset.precision, self.asset.symbol)


def parse_tier(text: str, precision: int) -> tuple[str, int, str]:
    """``"Patron:10:the album and a pass"`` -> (name, minimum in smallest units, reward)."""
    name, sep, rest = text.partition(":")
    minimum, _, reward = rest.partition(":")
    if not sep or not name.strip() or not minimum.strip():
        raise UserError(f"{text!r} is not a tier like NAME:MINIMUM:REWARD")
    return name.strip(), parse_amount(minimum, precision), reward.strip()


class CampaignService:
    """Campaigns and pledges, for the identity of ``core``."""

    def __init__(self, core: Core, clock: Callable[[], int] = now_ms) -> None:
        self.core = core
        self.clock = clock
        self.wallet = WalletService(core)

    def _append(self, kind: str, body: dict, deps: Sequence[bytes] = ()) -> Entry:
        self.core.require_writable()
        try:
            return self.core.ledger.append(
                self.core.signer, kind, body, sorted(set(deps)), timestamp=self.clock()
            )
        except LedgerError as err:
            raise UserError(str(err)) from err

    # -- writing ---------------------------------------------------------------------------------
    def create(
        self,
        title: str,
        goal: str | int,
        asset_ref: str | bytes,
        *,
        deadline_in_s: float,
        close_window_s: float = DEFAULT_CLOSE_WINDOW_S,
        tiers: Sequence[tuple[str, str | int, str]] = (),
        description: str = "",
        settler: bytes | None = None,
        reward_coin: str | bytes | None = None,
        tier_coins: Mapping[str, str | int] | None = None,
        release_tiers: Sequence[str] = (),
        deadline_at: int | None = None,
    ) -> bytes:
        """Start an all-or-nothing campaign for ``goal`` of an asset; pledges are taken until
        ``deadline_in_s`` from now, and the settler closes it within ``close_window_s`` after.
        ``tiers``: (name, minimum, reward), the minimum in the asset's units. Rewards our node
        delivers on its own once the campaign is funded: ``tier_coins`` (tier name -> units of
        ``reward_coin`` each backer of it is sent) and ``release_tiers`` (tiers whose backers
        get the release we later publish for this campaign, ``ReleaseDraft.campaign``).
        ``deadline_at`` (ms) pins the deadline a confirmed plan showed instead."""
        asset = self.wallet.asset(asset_ref)
        units = parse_amount(goal, asset.precision)
        if units <= 0:
            raise UserError("a campaign's goal is positive")
        if not title.strip():
            raise UserError("a campaign needs a title")
        if deadline_in_s <= 0 or close_window_s <= 0:
            raise UserError("the deadline and the close window are in the future")
        if len(tiers) > MAX_TIERS:
            raise UserError(f"at most {MAX_TIERS} reward tiers")
        rows = sorted(
            ((name, parse_amount(m, asset.precision), reward) for name, m, reward in tiers),
            key=lambda t: t[1],
        )
        if any(m <= 0 for _, m, _ in rows) or len({m for _, m, _ in rows}) != len(rows):
            raise UserError("each tier has its own positive minimum")
        now = self.clock()
        deadline = now + int(deadline_in_s * 1000) if deadline_at is None else deadline_at
        if deadline <= now:
            raise UserError("the deadline has passed; set a new one")
        deps = [] if asset.issuer == self.core.me else [asset.id]
        tier_rows: list[dict[str, Any]] = [{"name": n, "min": m, "reward": r} for n, m, r in rows]
        names = {n for n, _, _ in rows}
        unknown = (set(tier_coins or {}) | set(release_tiers)) - names
        if unknown:
            raise UserError(f"no tier named {sorted(unknown)[0]!r}")
        body: dict = {
            "title": title.strip(),
            "description": description,
            "asset": asset.id,
            "goal": units,
            "deadline": deadline,
            "close_by": deadline + int(close_window_s * 1000),
            "tiers": tier_rows,
            "settler": settler or self.core.me,
        }
        if tier_coins:
            if reward_coin is None:
                raise UserError("coin rewards need the coin they are paid in")
            coin = self.wallet.asset(reward_coin)
            body["reward_asset"] = coin.id
            if coin.issuer != self.core.me:
                deps.append(coin.id)
            for row in tier_rows:
                if row["name"] in tier_coins:
                    amount = parse_amount(tier_coins[row["name"]], coin.precision)
                    if amount <= 0:
                        raise UserError("a tier's coin reward is positive")
                    row["coins"] = amount
        for row in tier_rows:
            if row["name"] in release_tiers:
                row["release"] = True
        return self._append("campaign", body, deps).hash

    def pledge(self, campaign_ref: str | bytes, amount: str | int) -> bytes:
        view = self.campaign_view(campaign_ref)
        camp = view.campaign
        if self.core.me in (camp.artist, camp.settler):
            raise UserError("you cannot pledge to a campaign you run or settle")
        if view.status != "open":
            raise UserError(f"that campaign is {view.status}; pledging has ended")
        units = parse_amount(amount, view.asset.precision)
        if units <= 0:
            raise UserError("pledge a positive amount")
        self.core.settle()  # incoming units become spendable first
        have = self.core.ledger.state.balance(self.core.me, camp.asset)
        if have < units:
            raise UserError(
                f"not enough {view.asset.symbol}: you have "
                f"{format_amount(have, view.asset.precision)}"
            )
        return self._append("pledge", {"campaign": camp.id, "amount": units}, [camp.id]).hash

    def close(self, campaign_ref: str | bytes, success: bool | None = None) -> list[bytes]:
        """As the campaign's settler: count the pledges we hold and close it, funded if they
        reach the goal (or as asked). Returns the entries written."""
        view = self.campaign_view(campaign_ref)
        camp = view.campaign
        if camp.settler != self.core.me:
            raise UserError("only the campaign's settler closes it")
        if camp.outcome is not None:
            raise UserError(f"that campaign is already {camp.outcome}")
        now = self.clock()
        if now > camp.close_by:
            raise UserError("it is past the campaign's close_by: its backers reclaim")
        state = self.core.ledger.state
        fresh = [
            p
            for p in state.pledges_of(camp.id)
            if p.counted_by is None and state.conditional[p.id].outcome is None
        ]
        reach = camp.counted + sum(p.amount for p in fresh)
        if success is None:
            success = reach >= camp.goal
        if success and now <= camp.deadline:
            raise UserError("a campaign succeeds only after its deadline")
        if success and reach < camp.goal:
            raise UserError(f"the pledges reach {view.amount(reach)} of {view.amount(camp.goal)}")
        head = [] if camp.artist == self.core.me else [camp.id]
        written = []
        if success:  # every pledge counts; batches of 63 before the close
            while len(fresh) > MAX_NAMED:
                batch, fresh = fresh[:MAX_NAMED], fresh[MAX_NAMED:]
                written.append(
                    self._append(
                        "campaign.count",
                        {"campaign": camp.id, "pledges": sorted(p.id for p in batch)},
                        head + [p.id for p in batch],
                    ).hash
                )
        else:
            fresh = []
        written.append(
            self._append(
                "campaign.close",
                {"campaign": camp.id, "success": success, "pledges": sorted(p.id for p in fresh)},
                head + [p.id for p in fresh],
            ).hash
        )
        return written

    def refund(self, pledge_ref: str | bytes) -> bytes:
        """Take back our pledge that a close left out or failed, or that nobody closed."""
        state = self.core.ledger.state
        pledge = self._pledge(pledge_ref)
        if pledge.backer != self.core.me:
            raise UserError("that is not your pledge")
        camp = state.campaigns[pledge.campaign]
        status = state.pledge_status(pledge)
        if status == "refundable":
            assert camp.closed_by is not None
            return self._append(
                "reclaim", {"of": pledge.id, "proof": camp.closed_by}, [camp.closed_by]
            ).hash
        if status in ("pending", "counted") and self.clock() > camp.close_by:
            proof = state.proof_after(camp.settler, camp.close_by)
            if proof is None:
                raise UserError(
                    "the settler has written nothing since the campaign's close_by",
                    hint="the pledge comes back once its next entry arrives",
                )
            return self._append("reclaim", {"of": pledge.id, "proof": proof}, [proof]).hash
        raise UserError(
            f"that pledge is {status}"
            + (
                "; it comes back if the campaign fails or nobody closes it"
                if status in ("pending", "counted")
                else ""
            )
        )

    # -- reading ---------------------------------------------------------------------------------
    def _find(self, ref: str | bytes, table: dict, what: str) -> bytes:
        if isinstance(ref, bytes):
            found = [ref] if ref in table else []
        else:
            prefix = ref.strip().lower()
            found = [k for k in table if k.hex().startswith(prefix)] if prefix else []
        if len(found) != 1:
            raise UserError(
                f"no {what} {ref if isinstance(ref, str) else ref.hex()[:12]}"
                if not found
                else f"{ref!r} matches several {what}s"
            )
        return found[0]

    def _pledge(self, ref: str | bytes) -> Pledge:
        state = self.core.ledger.state
        return state.pledges[self._find(ref, state.pledges, "pledge")]

    def campaign_view(self, ref: str | bytes) -> CampaignView:
        """A campaign by its ID (bytes, hex, or a unique hex prefix)."""
        state = self.core.ledger.state
        return self._view(state.campaigns[self._find(ref, state.campaigns, "campaign")])

    def _view(self, camp: Campaign) -> CampaignView:
        state = self.core.ledger.state
        return CampaignView(
            camp,
            state.assets[camp.asset],
            state.campaign_status(camp, self.clock()),
            state.pledged(camp.id),
            tuple(state.backers(camp)),
        )

    def campaigns(self) -> list[CampaignView]:
        """Every campaign this replica holds, newest first."""
        return [
            self._view(c)
            for c in sorted(
                self.core.ledger.state.campaigns.values(), key=lambda c: (-c.timestamp, c.id)
            )
        ]

    def my_pledges(self) -> list[tuple[Pledge, str]]:
        state = self.core.ledger.state
        return sorted(
            (
                (p, state.pledge_status(p))
                for p in state.pledges.values()
                if p.backer == self.core.me
            ),
            key=lambda x: (x[0].timestamp, x[0].id),
        )


# -- what a node does by itself ------------------------------------------------------------------


def settle_campaigns(core: Core, clock: Callable[[], int] = now_ms) -> FundingSettleReport:
    """Close the campaigns we settle once their deadline (and a grace for late pledges) has
    passed, and take back our pledges that a close left out or failed. Each item on its own."""
    report = FundingSettleReport()
    if core.awaiting_own_feed:
        return report
    service = CampaignService(core, clock)
    state = core.ledger.state
    skips: dict[bytes, int] = core.funding_skips

    def attempt(item: bytes, what: str, fn: Callable[[], object]) -> object | None:
        now = clock()
        if skips.get(item, 0) > now:
            return None
        try:
            return fn()
        except (UserError, LedgerError) as err:
            log.warning("funding: skipped %s %s: %s", what, item.hex()[:12], err)
            report.skipped.append((item, str(err)))
            if len(skips) >= MAX_SKIPS:
                for key in sorted(skips, key=skips.__getitem__)[: MAX_SKIPS // 4]:
                    del skips[key]
            skips[item] = now + SKIP_FOR_MS
            return None

    for camp in state.campaigns_to_settle(core.me):
        now = clock()
        grace = min(CLOSE_GRACE_MS, (camp.close_by - camp.deadline) // 2)
        if now <= camp.deadline + grace or now > camp.close_by:
            continue  # still open (or late pledges may still arrive); or too late to close
        written = attempt(camp.id, "campaign", lambda c=camp: service.close(c.id))  # type: ignore[misc]
        if isinstance(written, list):
            report.counted.extend(written[:-1])
            (
                report.funded if state.campaigns[camp.id].outcome == "funded" else report.failed
            ).append(camp.id)
    for pledge in state.refundable_pledges(core.me):
        if attempt(pledge.id, "refund", lambda p=pledge: service.refund(p.id)) is not None:  # type: ignore[misc]
            report.refunded.append(pledge.id)
    deliver_rewards(core, report, attempt)
    if report.anything:
        log.info(
            "funding: %d funded, %d failed, %d pledges refunded, %d rewards delivered",
            len(report.funded),
            len(report.failed),
            len(report.refunded),
            len(report.rewarded),
        )
    return report


def deliver_rewards(
    core: Core,
    report: FundingSettleReport,
    attempt: Callable[[bytes, str, Callable[[], object]], object | None],
) -> None:
    """The rewards of funded campaigns, each backer's on its own: as the artist, the tiers'
    coins; as the campaign's settler (the artist or its agent), the campaign's release once it
    is published; as a backer, the keys of releases delivered to us."""
    state = core.ledger.state
    me = core.me
    for camp in sorted(state.campaigns.values(), key=lambda c: (c.timestamp, c.id)):
        if camp.outcome != "funded" or me not in (camp.artist, camp.settler):
            continue
        assert camp.closed_by is not None
        release = state.release_of(camp.id)
        for backer in state.backers(camp):
            tier = backer.tier
            if tier is None:
                continue
            item = hashlib.blake2b(camp.id + backer.backer, digest_size=32).digest()
            if (
                me == camp.artist
                and tier.coins
                and state.reward_delivered(camp.id, backer.backer, "coins") is None
            ):
                done = attempt(item, "coin reward", partial(_send_coins, core, camp, backer.backer))
                if done is not None:
                    report.rewarded.append(done)  # type: ignore[arg-type]
            if (
                me == camp.settler
                and tier.release
                and release is not None
                and state.reward_delivered(camp.id, backer.backer, "release") is None
            ):
                done = attempt(
                    item, "release reward", partial(_grant_release, core, camp, release, backer)
                )
                if done is not None:
                    report.rewarded.append(done)  # type: ignore[arg-type]
    for reward in state.rewards_to(me):
        if (
            any(core.keys.get(content) is None for content in reward.sealed)
            and attempt(reward.id, "reward keys", partial(_take_keys, core, reward)) is not None
        ):
            report.unlocked.append(reward.id)


def _send_coins(core: Core, camp: Campaign, backer: bytes) -> bytes:
    assert camp.closed_by is not None
    body = {"campaign": camp.id, "close": camp.closed_by, "backer": backer}
    return core.append("campaign.reward", body, [camp.closed_by]).hash


def _grant_release(core: Core, camp: Campaign, release: Listing, backer: Backer) -> bytes:
    assert camp.closed_by is not None
    sealed = core.sealed_keys(release, release.contents(None), backer.backer)
    if sealed is None:
        raise UserError("we hold no delegation for the campaign's release")
    keys, delegation = sealed
    body = {
        "campaign": camp.id,
        "close": camp.closed_by,
        "backer": backer.backer,
        "listing": release.id,
        "keys": keys,
    }
    deps = [camp.closed_by, camp.id, release.id, *delegation]
    if camp.artist == core.me:
        deps = [camp.closed_by]
    return core.append("campaign.reward", body, deps).hash


def _take_keys(core: Core, reward: Reward) -> bytes:
    """Store the keys of a release delivered to us as a reward (kept if one already opens)."""
    for content, sealed in reward.sealed.items():
        try:
            key = core.signer.open_sealed(sealed)
        except LedgerError as err:
            raise UserError(f"a key of reward {reward.id.hex()[:12]} does not open") from err
        if core.keys.get(content) is None:
            core.keys.put(content, key, "reward")
    return reward.id


__all__ = [
    "CampaignService",
    "CampaignView",
    "FundingSettleReport",
    "parse_tier",
    "settle_campaigns",
]


register_settler_duty("funding", settle_campaigns, order=10)
