"""The checked-in coin-feature vectors (tests/vectors/coins.json) match the code; judged in order
they give the listed outcomes, balances and state hash; delivered as a set in reverse order they
give the same state."""

from __future__ import annotations

from typing import Any

from tests.ledger.coin_vectors import build_vectors
from tests.ledger.histories import (
    check_accepted_in_any_order,
    check_documented_accounting,
    check_outcomes_in_order,
    load_vectors,
)


def load() -> dict[str, Any]:
    return load_vectors("coins.json")


def test_coin_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.coin_vectors"


def test_each_step_has_the_documented_outcome(open_ledger: Any) -> None:
    data = load()
    led = open_ledger()
    check_outcomes_in_order(data, led)
    check_documented_accounting(data, led)


def test_the_accepted_entries_in_any_order_give_the_same_state(open_ledger: Any) -> None:
    check_accepted_in_any_order(load(), open_ledger, seed=3)


def test_every_campaign_either_pays_its_artist_or_refunds_every_pledge(open_ledger: Any) -> None:
    data = load()
    led = open_ledger()
    led.ingest([bytes.fromhex(s["wire"]) for s in data["steps"] if s["expect"] == "accepted"])
    state = led.state
    outcomes = {}
    for camp in state.campaigns.values():
        got = {state.conditional[p.id].outcome for p in state.pledges_of(camp.id)}
        outcomes[camp.outcome] = got
    assert outcomes == {
        "funded": {"accepted", "reclaimed"},
        "failed": {"reclaimed"},
        None: {"reclaimed"},
    }
