"""The checked-in vectors of referral and seeder shares and gated listings
(tests/vectors/shares.json) match the code; judged in order they give the listed outcomes,
transfers and state hash; delivered as a set in reverse or shuffled order they give the same
state."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.ledger.share_vectors import build_vectors

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "shares.json"


def load() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


def test_share_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.share_vectors"


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
    for symbol in ("CRD", "ART"):
        moving = sum(v for k, v in data["in_flight"].items() if k.split()[1] == symbol)
        assert moving == data["accounting"][symbol]["in_flight"]
    for asset in led.state.assets.values():
        acc = data["accounting"][asset.symbol]
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
