"""The checked-in vectors of referral and seeder shares and gated listings
(tests/vectors/shares.json) match the code; judged in order they give the listed outcomes,
transfers and state hash; delivered as a set in reverse or shuffled order they give the same
state."""

from __future__ import annotations

from typing import Any

from tests.ledger.histories import (
    check_accepted_in_any_order,
    check_documented_accounting,
    check_outcomes_in_order,
    load_vectors,
)
from tests.ledger.share_vectors import build_vectors


def load() -> dict[str, Any]:
    return load_vectors("shares.json")


def test_share_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.share_vectors"


def test_each_step_has_the_documented_outcome(open_ledger: Any) -> None:
    data = load()
    led = open_ledger()
    check_outcomes_in_order(data, led)
    for symbol in ("CRD", "ART"):
        moving = sum(v for k, v in data["in_flight"].items() if k.split()[1] == symbol)
        assert moving == data["accounting"][symbol]["in_flight"]
    check_documented_accounting(data, led)


def test_the_accepted_entries_in_any_order_give_the_same_state(open_ledger: Any) -> None:
    check_accepted_in_any_order(load(), open_ledger, seed=5)
