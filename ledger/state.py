"""Derived state and the semantic rules of each kind (validation level 6).

The state is a pure function of the set of effective entries. That holds because an entry's
validity and effect depend only on its author's feed prefix and on its declared dependencies:

* only the author's own feed debits the author, and a feed is applied in sequence order;
* credits arrive as in-flight transfers and become spendable only when the recipient's own feed
  records a ``receive`` naming the sending entries, which must be among its dependencies;
* a rule that looks at another author's feed (an agent's grant checking that the artist has not
  revoked the delegation) looks only at the prefix of that feed named in the dependencies.

The rules, tables and queries live per feature in ``ledger/features/`` (the purchase rule, for
instance, is ``ledger.features.selling.apply_purchase``); this module composes them. Every rule
and conflict case is written down in docs/PROTOCOL.md ("Kinds").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.encoding import encode, hash32
from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features import FEATURES, RULES
from ledger.features.agents import AgentsView, Delegation
from ledger.features.campaigns import Backer, Campaign, CampaignsView, Pledge, Tier
from ledger.features.coins import Charter as CoinCharter
from ledger.features.coins import CoinsView, Distribution, Stake
from ledger.features.exchange import ExchangeView, Offer, Take, Trade
from ledger.features.gates import Claim, Gate, GatesView
from ledger.features.governance import Charter, GovernanceView, Proposal, Result, Vote
from ledger.features.money import Asset, MoneyView, Transfer
from ledger.features.profiles import Profile, ProfilesView
from ledger.features.reviews import Reply, Review, ReviewsView
from ledger.features.rewards import Reward, RewardsView
from ledger.features.selling import (
    Grant,
    Listing,
    Payout,
    Price,
    Purchase,
    SellingView,
    Share,
    Track,
    compute_payouts,
)
from ledger.features.settlement import Accounting, Conditional, Lock, SettlementView
from ledger.features.shares import Receipt, SharesView

__all__ = [
    "Accounting",
    "Asset",
    "Backer",
    "Campaign",
    "Charter",
    "Claim",
    "CoinCharter",
    "Conditional",
    "Delegation",
    "Distribution",
    "Gate",
    "Grant",
    "Listing",
    "Lock",
    "Offer",
    "Payout",
    "Pledge",
    "Price",
    "Profile",
    "Proposal",
    "Purchase",
    "Receipt",
    "Reply",
    "Result",
    "Review",
    "Reward",
    "Share",
    "Stake",
    "State",
    "Take",
    "Tier",
    "Track",
    "Trade",
    "Transfer",
    "Vote",
    "compute_payouts",
]


class State(
    ProfilesView,
    MoneyView,
    SellingView,
    AgentsView,
    SettlementView,
    ExchangeView,
    GovernanceView,
    CampaignsView,
    GatesView,
    CoinsView,
    ReviewsView,
    SharesView,
    RewardsView,
):
    """Balances, assets, listings, purchases, grants, delegations, profiles, ...: one view per
    feature, each with its tables and queries (``ledger/features/``)."""

    def __init__(self) -> None:
        for feature in FEATURES:
            feature.tables(self)

    def circulating(self, asset: bytes) -> tuple[int, int]:
        """(sum of balances, sum of what is locked or in flight) of an asset, for conservation
        checks: supply == held + the rest. ``accounting(asset)`` tells locked and in flight
        apart."""
        acc = self.accounting(asset)
        return acc.balances, acc.locked + acc.in_flight

    def state_hash(self) -> bytes:
        """A hash of the whole derived state, equal on every replica holding the same entries."""
        doc: dict[str, Any] = {}
        for feature in FEATURES:
            doc.update(feature.hash_sections(self))
        return hash32(b"cooptracks.state.v1\x00" + encode(doc))

    def check_and_apply(self, entry: Entry, dep_seq: Mapping[bytes, tuple[bytes, int]]) -> None:
        """Apply ``entry`` or raise SemanticError without changing anything.

        ``dep_seq`` maps (at least) each of the entry's dependencies to (author, seq); every
        dependency is already applied. Each rule checks everything first and mutates only at the
        end.
        """
        rule = RULES.get(entry.kind)
        if rule is None:  # the registry and the rules are kept in step by a test
            raise SemanticError(f"no rules for kind {entry.kind}")
        rule(self, entry, entry.body, dep_seq)
        # For deadline proofs (ledger/features/settlement.py): when each entry was written.
        self.stamps[entry.hash] = entry.timestamp
        self.last_seen[entry.author] = (entry.timestamp, entry.hash)
