"""The checked-in signing and charter-amendment vectors (tests/vectors/signings.json) match the
code; judged in order they give the listed outcomes, results, engagements and state hash;
delivered as a set in other orders they give the same state."""

from __future__ import annotations

from typing import Any

from tests.ledger.histories import (
    check_accepted_in_any_order,
    check_documented_accounting,
    check_outcomes_in_order,
    load_vectors,
)
from tests.ledger.signing_vectors import build_vectors


def load() -> dict[str, Any]:
    return load_vectors("signings.json")


def test_signing_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.signing_vectors"


def test_each_step_has_the_documented_outcome(open_ledger: Any) -> None:
    data = load()
    led = open_ledger()
    check_outcomes_in_order(data, led)
    for pid, want in data["results"].items():
        r = led.state.results[bytes.fromhex(pid)]
        assert (list(r.tally), r.turnout, r.voters, r.passed) == (
            want["tally"],
            want["turnout"],
            want["voters"],
            want["passed"],
        )
    check_documented_accounting(data, led)


def test_the_accepted_entries_in_any_order_give_the_same_state(open_ledger: Any) -> None:
    check_accepted_in_any_order(load(), open_ledger, seed=7)


def test_the_label_is_paid_its_share_by_the_purchase_in_the_json() -> None:
    """From the JSON alone: the purchase of the bound listing pays the label at least the
    signed share of its price; the purchase of the earlier listing pays it nothing."""
    steps = load()["steps"]
    signing = next(s for s in steps if s["kind"] == "sign" and s["expect"] == "accepted")
    share = signing["body"]["share_bps"]
    buys = [s for s in steps if s["kind"] == "purchase" and s["expect"] == "accepted"]
    listings = {s["hash"]: s for s in steps if s["kind"] == "listing"}
    paid = []
    for b in buys:
        li = listings[b["body"]["listing"]["$hex"]]
        split = {sh["to"]["$hex"]: sh["bps"] for sh in li["body"]["split"]}
        outs = {p["to"]["$hex"]: p["amount"] for p in b["body"]["payouts"]}
        paid.append((li["body"]["title"], split, outs))
    titles = [t for t, _, _ in paid]
    assert titles == ["Signed", "Before"]
    (_, split, outs), (_, before_split, before_outs) = paid
    label_hex = next(k for k, bps in split.items() if bps == share)
    assert outs[label_hex] >= 999 * share // 10_000
    assert label_hex not in before_outs and label_hex not in before_split
