"""The checked-in governance vectors (tests/vectors/governance.json) match the code; judged in
order they give the listed outcomes, result, balances and state hash; delivered as a set in
other orders they give the same state."""

from __future__ import annotations

from typing import Any

from tests.ledger.governance_vectors import build_vectors
from tests.ledger.histories import (
    check_accepted_in_any_order,
    check_documented_accounting,
    check_outcomes_in_order,
    load_vectors,
)


def load() -> dict[str, Any]:
    return load_vectors("governance.json")


def test_governance_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.governance_vectors"


def test_each_step_has_the_documented_outcome(open_ledger: Any) -> None:
    data = load()
    led = open_ledger()
    check_outcomes_in_order(data, led)
    for pid, want in data["results"].items():
        r = led.state.results[bytes.fromhex(pid)]
        assert (list(r.tally), r.turnout, r.passed) == (
            want["tally"],
            want["turnout"],
            want["passed"],
        )
    check_documented_accounting(data, led)


def test_the_accepted_entries_in_any_order_give_the_same_state(open_ledger: Any) -> None:
    check_accepted_in_any_order(load(), open_ledger, seed=5)


def test_the_result_follows_from_the_counted_votes_in_the_json() -> None:
    """From the JSON alone: the close's tally is the sum of the weights of the votes it names."""
    steps = load()["steps"]
    votes = {
        s["hash"]: s["body"] for s in steps if s["kind"] == "vote" and s["expect"] == "accepted"
    }
    close = next(s for s in steps if s["kind"] == "close" and s["expect"] == "accepted")
    tally = [0, 0]
    for ref in close["body"]["votes"]:
        body = votes[ref["$hex"]]
        for c in body["choices"]:
            tally[c] += body["units"]  # token-weighted
    result = load()["results"][close["body"]["proposal"]["$hex"]]
    assert result["tally"] == tally and result["passed"]
