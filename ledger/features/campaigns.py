"""All-or-nothing fan funding (kinds ``campaign``, ``pledge``, ``campaign.count``,
``campaign.close``; refunds are the settlement feature's ``reclaim``).

An artist's ``campaign`` names a goal in one asset, the last moment to pledge (``deadline``), the
last moment its settler may close it (``close_by``), reward tiers and the settler: the artist
itself or an agent such as an always-on seeder. A ``pledge`` is a conditional transfer to the
artist that only the settler decides on. The settler names the pledges it counts (in a
``campaign.count`` or in the close itself, at most 63 per entry since each is in ``deps``) and
then closes: a *successful* close, dated after the deadline, needs the counted pledges to reach
the goal and makes all of them the artist's at once (one in-flight transfer to the artist); a
*failed* close makes every pledge reclaimable. A pledge the close did not accept is reclaimed by
its backer with the close as proof; with no close by ``close_by``, by a deadline proof. Nobody
holds pledged money in between: it is in flight, counted by conservation.

Rules and conflict cases: docs/PROTOCOL.md, "Campaigns".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features.base import DepIndex, Feature, require_dep
from ledger.features.money import Transfer
from ledger.features.settlement import (
    CONDITIONAL_ENDED,
    Conditional,
    pay_conditionally,
    require_open,
    require_settler,
)
from ledger.schema import (
    Kind,
    array,
    boolean,
    hash32,
    integer,
    optional,
    public_key,
    record,
    text,
)

if TYPE_CHECKING:
    from ledger.state import State

MAX_TIERS = 16
MAX_NAMED = 63  # pledges per count or close: each is in deps, next to the campaign (64 in all)


@dataclass(frozen=True)
class Tier:
    name: str
    min: int  # the least a backer's accepted pledges add up to, to get this tier
    reward: str
    coins: int = 0  # units of the campaign's reward_asset each backer of the tier is sent
    release: bool = False  # the release the artist publishes for the campaign, granted


@dataclass
class Campaign:
    id: bytes
    artist: bytes
    title: str
    description: str
    asset: bytes
    goal: int
    deadline: int  # last moment to pledge
    close_by: int  # last moment the settler may close
    tiers: tuple[Tier, ...]
    settler: bytes
    timestamp: int
    counted: int = 0  # sum of the pledges the settler counted
    outcome: str | None = None  # "funded" or "failed"
    closed_by: bytes | None = None
    reward_asset: bytes | None = None  # the coin the tiers' ``coins`` are paid in


@dataclass
class Pledge:
    id: bytes
    backer: bytes
    campaign: bytes
    amount: int
    timestamp: int
    counted_by: bytes | None = None  # the settler's count or close that named it


@dataclass(frozen=True)
class Backer:
    backer: bytes
    amount: int  # accepted pledges, summed
    tier: Tier | None


class CampaignsView:
    campaigns: dict[bytes, Campaign]
    pledges: dict[bytes, Pledge]
    _pledges_of: dict[bytes, list[bytes]]  # campaign -> its pledges, in arrival order
    conditional: dict[bytes, Conditional]  # kept by SettlementView, the state's other part

    def campaign_status(self, campaign: Campaign, now: int | None = None) -> str:
        """open, closing (pledging ended, the settler may still close), funded, failed, or
        lapsed (no close by ``close_by``: every pledge is reclaimable by deadline proof)."""
        if campaign.outcome is not None:
            return campaign.outcome
        if now is None or now <= campaign.deadline:
            return "open"
        return "closing" if now <= campaign.close_by else "lapsed"

    def pledges_of(self, campaign: bytes) -> list[Pledge]:
        return sorted(
            (self.pledges[p] for p in self._pledges_of.get(campaign, [])),
            key=lambda p: (p.timestamp, p.id),
        )

    def pledge_status(self, pledge: Pledge) -> str:
        """pending, counted, accepted (the artist's), refundable (the close left it out or
        failed) or reclaimed."""
        cond: Conditional = self.conditional[pledge.id]
        if cond.outcome is not None:
            return cond.outcome
        if self.campaigns[pledge.campaign].outcome is not None:
            return "refundable"
        return "counted" if pledge.counted_by is not None else "pending"

    def pledged(self, campaign: bytes) -> int:
        """What this replica holds of pledges not reclaimed (informative: the settler counts)."""
        return sum(
            p.amount
            for p in self.pledges_of(campaign)
            if self.conditional[p.id].outcome in (None, "accepted")
        )

    def backers(self, campaign: Campaign) -> list[Backer]:
        """Backers of a funded campaign with the accepted sum and the tier it earns, largest
        first. Empty until the campaign is funded."""
        if campaign.outcome != "funded":
            return []
        sums: dict[bytes, int] = {}
        for p in self.pledges_of(campaign.id):
            if self.conditional[p.id].outcome == "accepted":
                sums[p.backer] = sums.get(p.backer, 0) + p.amount
        return sorted(
            (Backer(b, n, tier_for(campaign, n)) for b, n in sums.items()),
            key=lambda b: (-b.amount, b.backer),
        )

    def reward_of(self, campaign: Campaign, backer: bytes) -> Backer | None:
        return next((b for b in self.backers(campaign) if b.backer == backer), None)

    def campaigns_of(self, artist: bytes) -> list[Campaign]:
        return sorted(
            (c for c in self.campaigns.values() if c.artist == artist),
            key=lambda c: (c.timestamp, c.id),
        )

    def campaigns_to_settle(self, settler: bytes) -> list[Campaign]:
        return sorted(
            (c for c in self.campaigns.values() if c.settler == settler and c.outcome is None),
            key=lambda c: (c.deadline, c.id),
        )

    def refundable_pledges(self, backer: bytes) -> list[Pledge]:
        """The backer's pledges that a close left out or failed: reclaim with the close."""
        return sorted(
            (
                p
                for p in self.pledges.values()
                if p.backer == backer and self.pledge_status(p) == "refundable"
            ),
            key=lambda p: (p.timestamp, p.id),
        )


def tier_for(campaign: Campaign, amount: int) -> Tier | None:
    """The highest tier whose minimum ``amount`` reaches (tiers are kept by minimum)."""
    best = None
    for tier in campaign.tiers:
        if tier.min <= amount:
            best = tier
    return best


def _campaign_for_settler(state: State, entry: Entry, ref: bytes) -> Campaign:
    campaign = state.campaigns.get(ref)
    if campaign is None:
        raise SemanticError("that entry is not a campaign")
    if entry.author != campaign.artist:
        require_dep(entry, ref, "campaign")
    require_settler(entry, campaign.settler, "campaign")
    if campaign.outcome is not None:
        raise SemanticError(f"the campaign is already closed ({campaign.outcome})")
    if entry.timestamp > campaign.close_by:
        raise SemanticError("the campaign's close_by has passed: its backers reclaim")
    return campaign


def _to_count(state: State, entry: Entry, campaign: Campaign, refs: list[bytes]) -> list[Pledge]:
    out = []
    for ref in refs:
        require_dep(entry, ref, "pledge")
        pledge = state.pledges.get(ref)
        if pledge is None or pledge.campaign != campaign.id:
            raise SemanticError(f"{ref.hex()[:12]} is not a pledge to this campaign")
        if pledge.counted_by is not None:
            raise SemanticError(f"the pledge {ref.hex()[:12]} is already counted")
        require_open(state.conditional[ref])
        out.append(pledge)
    return out


def apply_campaign(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    if body["deadline"] <= entry.timestamp:
        raise SemanticError("the campaign's deadline is before the campaign")
    if body["close_by"] <= body["deadline"]:
        raise SemanticError("close_by comes after the deadline")
    asset = state.assets.get(body["asset"])
    if body["asset"] not in entry.deps and (asset is None or asset.issuer != entry.author):
        raise SemanticError("the campaign's asset must be listed in deps")
    if asset is None:
        raise SemanticError("the campaign's asset is not an asset")
    tiers = tuple(
        Tier(t["name"], t["min"], t["reward"], t.get("coins", 0), t.get("release", False))
        for t in body["tiers"]
    )
    if any(a.min >= b.min for a, b in pairwise(tiers)):
        raise SemanticError("tiers are listed by strictly increasing minimum")
    reward_asset = body.get("reward_asset")
    if any(t.coins for t in tiers) and reward_asset is None:
        raise SemanticError("tiers that give coins need the campaign's reward_asset")
    if reward_asset is not None:
        coin = state.assets.get(reward_asset)
        if reward_asset not in entry.deps and (coin is None or coin.issuer != entry.author):
            raise SemanticError("the campaign's reward_asset must be listed in deps")
        if coin is None:
            raise SemanticError("the campaign's reward_asset is not an asset")
    state.campaigns[entry.hash] = Campaign(
        entry.hash,
        entry.author,
        body["title"],
        body["description"],
        body["asset"],
        body["goal"],
        body["deadline"],
        body["close_by"],
        tiers,
        body["settler"],
        entry.timestamp,
        reward_asset=reward_asset,
    )
    state._pledges_of[entry.hash] = []


def apply_pledge(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    require_dep(entry, body["campaign"], "campaign")
    campaign = state.campaigns.get(body["campaign"])
    if campaign is None:
        raise SemanticError("the pledge names an entry that is not a campaign")
    if entry.author in (campaign.artist, campaign.settler):
        raise SemanticError("neither the artist nor the settler pledges to its campaign")
    if entry.timestamp > campaign.deadline:
        raise SemanticError("the campaign's deadline has passed")
    pay_conditionally(
        state,
        entry,
        campaign.asset,
        body["amount"],
        campaign.artist,
        campaign.settler,
        campaign.close_by,
    )
    state.pledges[entry.hash] = Pledge(
        entry.hash, entry.author, campaign.id, body["amount"], entry.timestamp
    )
    state._pledges_of[campaign.id].append(entry.hash)


def apply_count(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    campaign = _campaign_for_settler(state, entry, body["campaign"])
    pledges = _to_count(state, entry, campaign, body["pledges"])
    for pledge in pledges:
        pledge.counted_by = entry.hash
    campaign.counted += sum(p.amount for p in pledges)


def apply_close(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """The settler ends the campaign. Success (after the deadline, the counted pledges reaching
    the goal): every counted pledge is accepted and their sum is one in-flight transfer
    ``(close, artist)``. Failure: nothing moves; every pledge is reclaimable with the close."""
    campaign = _campaign_for_settler(state, entry, body["campaign"])
    pledges = _to_count(state, entry, campaign, body["pledges"])
    counted = campaign.counted + sum(p.amount for p in pledges)
    if body["success"]:
        if entry.timestamp <= campaign.deadline:
            raise SemanticError("a campaign succeeds only after its deadline")
        if counted < campaign.goal:
            raise SemanticError(
                f"the pledges counted ({counted}) do not reach the goal {campaign.goal}"
            )
    for pledge in pledges:
        pledge.counted_by = entry.hash
    campaign.counted = counted
    campaign.outcome, campaign.closed_by = ("funded" if body["success"] else "failed"), entry.hash
    if not body["success"]:
        return
    for ref in state._pledges_of[campaign.id]:
        pledge = state.pledges[ref]
        if pledge.counted_by is not None:
            cond = state.conditional[ref]
            cond.outcome, cond.settled_by = "accepted", entry.hash
    state.inflight[(entry.hash, campaign.artist)] = Transfer(
        entry.hash, campaign.settler, campaign.artist, campaign.asset, counted, entry.timestamp
    )


def _ended_by(state: State, cond: Conditional, proof: bytes) -> bool:
    """A reclaim of a pledge may name the campaign's close: the close ended the campaign
    without accepting the pledge (settlement's ``CONDITIONAL_ENDED`` hook)."""
    pledge = state.pledges.get(cond.source)
    if pledge is None:
        return False
    campaign = state.campaigns[pledge.campaign]
    return campaign.closed_by == proof


def _tables(state: State) -> None:
    state.campaigns = {}
    state.pledges = {}
    state._pledges_of = {}


def _hash_sections(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.campaigns:
        out["campaigns"] = sorted(
            [c.id, c.artist, c.settler, c.counted, c.outcome, c.closed_by]
            for c in state.campaigns.values()
        )
    if state.pledges:
        out["pledges"] = sorted(
            [p.id, p.backer, p.campaign, p.amount, p.counted_by] for p in state.pledges.values()
        )
    return out


CONDITIONAL_ENDED.append(_ended_by)

TIER = record(
    name=text(80, 1),
    min=integer(1),
    reward=text(200),
    coins=optional(integer(1)),  # delivered by ``campaign.reward`` (ledger/features/rewards.py)
    release=optional(boolean),
)

FEATURE = Feature(
    name="campaigns",
    kinds=(
        Kind(
            "campaign",
            record(
                title=text(200, 1),
                description=text(4000),
                asset=hash32,
                goal=integer(1),
                deadline=integer(0),
                close_by=integer(0),
                tiers=array(TIER, MAX_TIERS),
                settler=public_key,
                reward_asset=optional(hash32),
            ),
            "All-or-nothing fan funding: a goal in one asset, pledges until the deadline, "
            "closed by the settler by close_by.",
        ),
        Kind(
            "pledge",
            record(campaign=hash32, amount=integer(1)),
            "Back a campaign: a conditional transfer to the artist that its settler decides.",
        ),
        Kind(
            "campaign.count",
            record(campaign=hash32, pledges=array(hash32, MAX_NAMED, 1, unique=True)),
            "The campaign's settler counts pledges towards the goal, before it closes.",
        ),
        Kind(
            "campaign.close",
            record(campaign=hash32, success=boolean, pledges=array(hash32, MAX_NAMED, unique=True)),
            "The settler ends a campaign: funded (the counted pledges become the artist's) "
            "or failed (every pledge is reclaimable).",
        ),
    ),
    rules={
        "campaign": apply_campaign,
        "pledge": apply_pledge,
        "campaign.count": apply_count,
        "campaign.close": apply_close,
    },
    tables=_tables,
    view=CampaignsView,
    hash_sections=_hash_sections,
)
