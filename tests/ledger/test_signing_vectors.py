"""The checked-in signing and charter-amendment vectors (tests/vectors/signings.json) match the
code; judged in order they give the listed outcomes, results, engagements and state hash;
delivered as a set in other orders they give the same state."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.ledger.signing_vectors import build_vectors

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "signings.json"


def load() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


def test_signing_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.signing_vectors"


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
        assert (list(r.tally), r.turnout, r.voters, r.passed) == (
            want["tally"],
            want["turnout"],
            want["voters"],
            want["passed"],
        )
    for acc in data["accounting"].values():
        assert acc["supply"] == acc["balances"] + acc["locked"] + acc["in_flight"]


def test_the_accepted_entries_in_any_order_give_the_same_state(open_ledger: Any) -> None:
    data = load()
    wires = [bytes.fromhex(s["wire"]) for s in data["steps"] if s["expect"] == "accepted"]
    for n, order in enumerate([list(reversed(wires)), random.Random(7).sample(wires, len(wires))]):
        led = open_ledger(f"r{n}.sqlite")
        for w in order:
            assert not led.ingest([w]).rejected
        assert led.pending_count() == 0
        assert led.state_hash().hex() == data["state_hash"]


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
