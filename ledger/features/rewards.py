"""Campaign rewards delivered (kind ``campaign.reward``; a listing's optional ``campaign`` term).

A funded campaign's tiers may give each backer ``coins`` of the campaign's ``reward_asset`` and
the campaign's ``release``: the listing the artist publishes naming the campaign in its
``campaign`` term. A ``campaign.reward`` delivers one of them to one backer:

* coins: written by the artist (only its feed can debit it): the tier's coins in flight to the
  backer, received like a send;
* the release: written by the campaign's settler (the artist, or the agent it named, which holds
  the release's keys through the artist's delegation): the content keys sealed to the backer, a
  grant without a purchase.

Each (campaign, backer, coins | release) is delivered once, and only one feed may deliver each
kind, so "once" is decided in that feed's order on every replica. The reward names the close in
``deps`` (and its campaign), so whether the campaign was funded and which tier the backer earned
follow from the reward's dependency closure alone.

Rules and conflict cases: docs/PROTOCOL.md, "Campaign rewards".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features import selling
from ledger.features.agents import agent_may_grant
from ledger.features.base import DepIndex, Feature, log_change, require_dep, require_funds
from ledger.features.money import send_in_flight
from ledger.features.selling import MAX_TRACKS, Listing
from ledger.keys import can_receive_sealed
from ledger.schema import SEALED_KEY, Kind, array, hash32, optional, public_key, record

if TYPE_CHECKING:
    from ledger.features.campaigns import Campaign
    from ledger.state import State


@dataclass(frozen=True)
class Reward:
    id: bytes
    campaign: bytes
    backer: bytes
    by: bytes  # the author: the artist (coins) or the campaign's settler (the release)
    coins: int  # 0 for a release
    listing: bytes | None  # the release granted, or None for coins
    sealed: Mapping[bytes, bytes]  # content ID -> key sealed to the backer (a release)
    timestamp: int


class RewardsView:
    rewards: dict[bytes, Reward]
    _rewarded: dict[tuple[bytes, bytes, str], bytes]  # (campaign, backer, what) -> reward

    def reward_delivered(self, campaign: bytes, backer: bytes, what: str) -> bytes | None:
        """The reward entry that delivered ``what`` ("coins" or "release"), if any."""
        return self._rewarded.get((campaign, backer, what))

    def rewards_to(self, backer: bytes) -> list[Reward]:
        return sorted(
            (r for r in self.rewards.values() if r.backer == backer),
            key=lambda r: (r.timestamp, r.id),
        )

    def release_of(self, campaign: bytes) -> Listing | None:
        """The campaign's release: the earliest listing of its artist that names it."""
        camp = self.campaigns.get(campaign)  # type: ignore[attr-defined]
        if camp is None:
            return None
        found = [
            li
            for li in self.listings.values()  # type: ignore[attr-defined]
            if li.terms.get("campaign") == campaign and li.artist == camp.artist
        ]
        return min(found, key=lambda li: (li.seq, li.id), default=None)


def _check_listing(state: State, entry: Entry, body: Mapping[str, Any]) -> None:
    """LISTING_TERMS: a listing names as its campaign one of its author's campaigns."""
    ref = body.get("campaign")
    if ref is None:
        return
    campaign = state.campaigns.get(ref)
    if campaign is None or campaign.artist != entry.author:
        raise SemanticError("a listing names a campaign of its own author")


def _funded(state: State, entry: Entry, body: Mapping[str, Any]) -> Campaign:
    campaign = state.campaigns.get(body["campaign"])
    if campaign is None:
        raise SemanticError("the reward names an entry that is not a campaign")
    if campaign.artist != entry.author:
        require_dep(entry, campaign.id, "campaign")
    require_dep(entry, body["close"], "close")
    if campaign.closed_by != body["close"] or campaign.outcome != "funded":
        raise SemanticError("the reward names the close that funded the campaign")
    return campaign


def apply_reward(state: State, entry: Entry, body: Mapping[str, Any], dep_seq: DepIndex) -> None:
    campaign = _funded(state, entry, body)
    backer = state.reward_of(campaign, body["backer"])
    if backer is None or backer.tier is None:
        raise SemanticError("the backer earned no reward tier in this campaign")
    tier = backer.tier
    ref = body.get("listing")
    what = "coins" if ref is None else "release"
    if (campaign.id, backer.backer, what) in state._rewarded:
        raise SemanticError(f"the backer's {what} reward was already delivered")
    coins, sealed = 0, {}
    if ref is None:
        if entry.author != campaign.artist:
            raise SemanticError("only the artist delivers coin rewards (its feed pays them)")
        if "keys" in body:
            raise SemanticError("a coin reward carries no keys")
        if not tier.coins or campaign.reward_asset is None:
            raise SemanticError("the backer's tier gives no coins")
        coins = tier.coins
        require_funds(state, entry, campaign.reward_asset, coins)
        state.balances[(entry.author, campaign.reward_asset)] -= coins
        send_in_flight(state, entry, backer.backer, campaign.reward_asset, coins)
        log_change(state, entry.author, entry, campaign.reward_asset, -coins)
    else:
        if entry.author != campaign.settler:
            raise SemanticError("only the campaign's settler delivers its release")
        if not tier.release:
            raise SemanticError("the backer's tier does not give the release")
        listing = state.listings.get(ref)
        release = state.release_of(campaign.id)
        if listing is None or release is None or release.id != listing.id:
            raise SemanticError("the listing is not the campaign's release")
        if listing.artist != entry.author:
            require_dep(entry, ref, "listing")
            if not agent_may_grant(state, entry, listing, dep_seq):
                raise SemanticError("the settler holds no delegation for the release (name it)")
        if not can_receive_sealed(backer.backer):
            raise SemanticError("the backer's key cannot receive a sealed content key")
        sealed = {k["content"]: k["sealed"] for k in body.get("keys", [])}
        if len(sealed) != len(body.get("keys", [])) or set(sealed) != set(listing.contents(None)):
            raise SemanticError("the reward must seal exactly the release's keys")
    state.rewards[entry.hash] = Reward(
        entry.hash, campaign.id, backer.backer, entry.author, coins, ref, sealed, entry.timestamp
    )
    state._rewarded[(campaign.id, backer.backer, what)] = entry.hash


def _tables(state: State) -> None:
    state.rewards = {}
    state._rewarded = {}


def _hash_sections(state: State) -> dict[str, Any]:
    if not state.rewards:
        return {}
    return {
        "rewards": sorted(
            [r.id, r.campaign, r.backer, r.coins, r.listing] for r in state.rewards.values()
        )
    }


selling.LISTING_TERMS.append(_check_listing)

FEATURE = Feature(
    name="rewards",
    kinds=(
        Kind(
            "campaign.reward",
            record(
                campaign=hash32,
                close=hash32,
                backer=public_key,
                listing=optional(hash32),
                keys=optional(array(SEALED_KEY, MAX_TRACKS, 1)),
            ),
            "Deliver a funded campaign's reward to a backer: its tier's coins (by the artist) "
            "or the campaign's release, sealed to the backer (by the campaign's settler).",
        ),
    ),
    rules={"campaign.reward": apply_reward},
    tables=_tables,
    view=RewardsView,
    hash_sections=_hash_sections,
)
