"""The checked-in exchange vectors (tests/vectors/exchange.json) match the code; judged in order
they give the listed outcomes, balances and state hash; delivered as a set in reverse order they
give the same state."""

from __future__ import annotations

from typing import Any

from tests.ledger.exchange_vectors import build_vectors
from tests.ledger.histories import (
    check_accepted_in_any_order,
    check_documented_accounting,
    check_outcomes_in_order,
    load_vectors,
)


def load() -> dict[str, Any]:
    return load_vectors("exchange.json")


def test_exchange_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.exchange_vectors"


def test_each_step_has_the_documented_outcome(open_ledger: Any) -> None:
    data = load()
    led = open_ledger()
    check_outcomes_in_order(data, led)
    check_documented_accounting(data, led)


def test_the_accepted_entries_in_any_order_give_the_same_state(open_ledger: Any) -> None:
    check_accepted_in_any_order(load(), open_ledger, seed=3)


def test_takes_pay_the_documented_price_rounded_up() -> None:
    """From the JSON alone: pay = ceil(amount × want_amount / sell_amount) for accepted takes."""
    steps = load()["steps"]
    offers = {s["hash"]: s["body"] for s in steps if s["kind"] == "offer"}
    for s in steps:
        if s["kind"] == "take" and s["expect"] == "accepted":
            o = offers[s["body"]["offer"]["$hex"]]
            want = -(-s["body"]["amount"] * o["want_amount"] // o["sell_amount"])
            assert s["body"]["pay"] == want
