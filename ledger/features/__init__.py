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
``campaigns``             ``campaign``, ``pledge``, ``campaign.count``, ``campaign.close``:
                          all-or-nothing fan funding
``gates``                 ``gate``, ``gate.claim``: holder passes and tiers
``coins``                 ``coin.charter``, ``stake``, ``stake.accept``, ``stake.refuse``,
                          ``distribute``, ``collect``: artistcoins tied to sales
``reviews``               ``review``, ``review.reply``: reviews by verified buyers
========================  =====================================================================

``ledger/kinds.py`` builds the closed kind registry from ``FEATURES`` and ``ledger/state.py`` the
state and its rule table. A new feature is a new module added to ``FEATURES`` (and its view to
``ledger.state.State``'s bases).
"""

from __future__ import annotations

from ledger.features import (
    agents,
    campaigns,
    coins,
    exchange,
    gates,
    money,
    profiles,
    reviews,
    selling,
    settlement,
)
from ledger.features.base import Feature, Rule

FEATURES: tuple[Feature, ...] = (
    profiles.FEATURE,
    money.FEATURE,
    selling.FEATURE,
    agents.FEATURE,
    settlement.FEATURE,
    exchange.FEATURE,
    campaigns.FEATURE,
    gates.FEATURE,
    coins.FEATURE,
    reviews.FEATURE,
)


def _rules() -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for feature in FEATURES:
        for name, rule in feature.rules.items():
            if name in table:
                raise RuntimeError(f"kind {name} has rules in two features")
            table[name] = rule
    return table


RULES: dict[str, Rule] = _rules()
