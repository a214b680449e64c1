"""The ledger's features, registered in one place.

Each module keeps one capability together: its kinds' schemas, its rules, its derived tables and
queries, and its part of the state hash. To find how something works, open its module:

========================  =====================================================================
``profiles``              ``profile``
``money``                 ``asset.issue``, ``asset.mint``, ``send``, ``receive``
``selling``               ``listing``, ``purchase``, ``grant``
``agents``                ``delegate``, ``revoke``
``settlement``            ``checkpoint``, ``reclaim``; locks, settlers, conditional transfers
                          and deadline proofs as rules the economic features reuse
``exchange``              ``offer``, ``take``, ``fill``, ``refuse``, ``cancel``; the order book
``governance``            ``proposal``, ``vote``, ``count``, ``close``, ``charter``,
                          ``charter.draft``, ``sign``, ``sign.accept``, ``sign.release``;
                          tallies, and the guard binding a chartered feed to its votes
``campaigns``             ``campaign``, ``pledge``, ``campaign.count``, ``campaign.close``:
                          all-or-nothing fan funding
``gates``                 ``gate``, ``gate.claim``: holder passes and tiers
``coins``                 ``coin.charter``, ``stake``, ``stake.accept``, ``stake.refuse``,
                          ``distribute``, ``collect``: artistcoins tied to sales
``reviews``               ``review``, ``review.reply``: reviews by verified buyers
``shares``                ``receipt``; a listing's shares for seeders and a referrer
``rewards``               ``campaign.reward``: a funded campaign's coins and release delivered
========================  =====================================================================

``ledger/kinds.py`` builds the closed kind registry from ``FEATURES`` and ``ledger/state.py`` the
state and its rule table. A new feature is a new module added to ``FEATURES`` (and its view to
``ledger.state.State``'s bases).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.features import (
    agents,
    campaigns,
    coins,
    exchange,
    gates,
    governance,
    money,
    profiles,
    reviews,
    rewards,
    selling,
    settlement,
    shares,
)
from ledger.features.base import DepIndex, Feature, Guard, Rule

if TYPE_CHECKING:
    from ledger.state import State

FEATURES: tuple[Feature, ...] = (
    profiles.FEATURE,
    money.FEATURE,
    selling.FEATURE,
    agents.FEATURE,
    settlement.FEATURE,
    exchange.FEATURE,
    governance.FEATURE,
    campaigns.FEATURE,
    gates.FEATURE,
    coins.FEATURE,
    reviews.FEATURE,
    shares.FEATURE,
    rewards.FEATURE,
)


def _rules() -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for feature in FEATURES:
        for name, rule in feature.rules.items():
            if name in table:
                raise RuntimeError(f"kind {name} has rules in two features")
            table[name] = rule
    for feature in FEATURES:
        for name, guard in feature.guards.items():
            if name not in table:
                raise RuntimeError(f"{feature.name} guards kind {name}, which has no rules")
            table[name] = _guarded(guard, table[name])
    return table


def _guarded(guard: Guard, rule: Rule) -> Rule:
    """``rule`` behind ``guard``: the guard checks first, its follow-up runs once the rule
    succeeded (so a rule that fails leaves nothing changed)."""

    def check_then_apply(
        state: State, entry: Entry, body: Mapping[str, Any], dep_seq: DepIndex
    ) -> None:
        after = guard(state, entry, body, dep_seq)
        rule(state, entry, body, dep_seq)
        if after is not None:
            after()

    return check_then_apply


RULES: dict[str, Rule] = _rules()
# kind -> which deps named in its body may be void without voiding the entry (see Feature)
VOIDABLE = {kind: fn for feature in FEATURES for kind, fn in feature.voidable.items()}
