"""The checked-in governance vectors (tests/vectors/governance.json) match the code; judged in
order they give the listed outcomes, result, balances and state hash; delivered as a set in
other orders they give the same state."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.ledger.governance_vectors import build_vectors

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "governance.json"


def load() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


def test_governance_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.governance_vectors"


def test_each_step_has_the_documented_outcome(open_ledger: Any) -> None:
    data = load()
    led = open_ledger()
    for step in data["steps"]:
        report = led.ingest([bytes.fromhex(step["wire"])])
        if step["expect"] == "accepted":
            assert [e.hash.hex() for e in report.accepted] == [step["hash"]], step["case"]
        else:
            assert not report.accepted and step["expect"] in report.rejected[0].reason, (
                step["case"],
                report,
            )
    assert led.state_hash().hex() == data["state_hash"]
    for pid, want in data["results"].items():
        r = led.state.results[bytes.fromhex(pid)]
        assert (list(r.tally), r.turnout, r.passed) == (
            want["tally"],
            want["turnout"],
            want["passed"],
        )
    for acc in data["accounting"].values():
        assert acc["supply"] == acc["balances"] + acc["locked"] + acc["in_flight"]


def test_the_accepted_entries_in_any_order_give_the_same_state(open_ledger: Any) -> None:
    data = load()
    wires = [bytes.fromhex(s["wire"]) for s in data["steps"] if s["expect"] == "accepted"]
    for n, order in enumerate([list(reversed(wires)), random.Random(5).sample(wires, len(wires))]):
        led = open_ledger(f"r{n}.sqlite")
        for w in order:
            assert not led.ingest([w]).rejected
        assert led.pending_count() == 0
        assert led.state_hash().hex() == data["state_hash"]


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
