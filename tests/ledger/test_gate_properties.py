"""Property tests for holder passes: random interleavings of gates, claims, unlocks, sends and
receives, delivered in any order, give one state hash; every asset is conserved with claims
locked; no claim is ever made from coins the holder did not hold (checked against a balance
replayed independently from the holder's own feed); the claims of one holder never lock more
than it held; an entry is judged the same on its dependency closure alone."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.ledger import Ledger
from tests.ledger.histories import (
    DrawnHistory,
    check_accounting,
    check_any_delivery_order,
    check_judged_on_closure_alone,
    drawn_ops,
    fixed_ops,
    ledgers,
    property_settings,
)
from tests.ledger.market import HOUR, market

SETTINGS = property_settings(30)

OP_NAMES = [
    "gate",
    "claim",
    "claim",
    "claim",
    "unlock",
    "send",
    "send",
    "receive",
    "receive",
    "wait",
    "wait",
]
OPS = drawn_ops(OP_NAMES, 5, 3_000)


class GateHistory(DrawnHistory):
    def __init__(self, ops: list[tuple[str, int, int, int]], ref: Ledger) -> None:
        super().__init__()
        self.sc, x = market()
        self.ref = ref
        assert not ref.ingest(self.sc.wires()).rejected
        self.x = x
        self.people = [x["artist"], x["fan"], x["fan2"], x["seeder"]]
        self.now = self.sc.t0 + 10_000_000
        self.gates: list[Entry] = []
        self.claims: list[Entry] = []
        for fan in (x["fan"], x["fan2"]):
            self.try_make(
                x["artist"],
                "send",
                {"asset": x["art"].hash, "to": fan.public_key, "amount": 500, "memo": ""},
            )
        self.run(ops)

    def op_wait(self, a: int, b: int, n: int) -> bool:
        self.now += n * 1_000 * (1 + b % 4)
        return True

    def op_gate(self, a: int, b: int, n: int) -> bool:
        e = self.try_make(
            self.x["artist"],
            "gate",
            {
                "title": "G",
                "description": "",
                "asset": self.x["art"].hash,
                "min": 1 + n % 400,
                "held_ms": (b % 3) * HOUR,
                "lock_ms": (1 + a % 3) * HOUR,
            },
        )
        if e is not None:
            self.gates.append(e)
        return e is not None

    def op_claim(self, a: int, b: int, n: int) -> bool:
        if not self.gates:
            return False
        g = self.gates[n % len(self.gates)]
        who = self.people[a % 4]
        deps = [] if who.public_key == g.author else [g]
        return (
            self.try_make(
                who,
                "gate.claim",
                {"gate": g.hash, "until": self.now + g.body["lock_ms"] + (b % 2) * HOUR},
                deps,
            )
            is not None
        )

    def op_unlock(self, a: int, b: int, n: int) -> bool:
        if not self.claims_made():
            return False
        c = self.claims_made()[n % len(self.claims_made())]
        who = next(p for p in self.people if p.public_key == c.author)
        return self.try_make(who, "reclaim", {"of": c.hash, "proof": c.hash}) is not None

    def claims_made(self) -> list[Entry]:
        return [e for e in self.sc.entries if e.kind == "gate.claim"]

    def op_send(self, a: int, b: int, n: int) -> bool:
        who, to = self.people[a % 4], self.people[(a + 1 + b) % 4]
        return (
            self.try_make(
                who,
                "send",
                {
                    "asset": self.x["art"].hash,
                    "to": to.public_key,
                    "amount": 1 + n % 300,
                    "memo": "",
                },
            )
            is not None
        )

    def op_receive(self, a: int, b: int, n: int) -> bool:
        who = self.people[a % 4]
        sources = sorted({t.source for t in self.ref.state.incoming(who.public_key)})[:64]
        if not sources:
            return False
        return self.try_make(who, "receive", {"transfers": sources}, sources) is not None


def replayed_changes(
    h: GateHistory, holder: bytes, asset: bytes, before: bytes
) -> list[tuple[int, int]]:
    """(timestamp, change) of ``holder``'s spendable ``asset`` from its own entries before the
    entry ``before``, without the ledger's state: an independent oracle for holding."""
    by_hash = {e.hash: e for e in h.sc.entries}
    gates = {e.hash: e for e in h.sc.entries if e.kind == "gate"}
    out = []
    for e in h.sc.entries:
        if e.author != holder:
            continue
        if e.hash == before:
            break
        if e.kind == "asset.mint" and e.body["asset"] == asset:
            out.append((e.timestamp, e.body["amount"]))
        elif e.kind == "send" and e.body["asset"] == asset:
            out.append((e.timestamp, -e.body["amount"]))
        elif e.kind == "receive":
            got = sum(
                by_hash[s].body["amount"]
                for s in e.body["transfers"]
                if by_hash[s].kind == "send" and by_hash[s].body["asset"] == asset
            )
            out.append((e.timestamp, got))
        elif e.kind == "gate.claim":
            out.append((e.timestamp, -gates[e.body["gate"]].body["min"]))
        elif e.kind == "reclaim" and by_hash[e.body["of"]].kind == "gate.claim":
            out.append((e.timestamp, gates[by_hash[e.body["of"]].body["gate"]].body["min"]))
    return out


def check_invariants(led: Ledger, h: GateHistory | None = None) -> None:
    check_accounting(led)
    state = led.state
    if h is None:
        return
    art = h.x["art"].hash
    for c in state.claims.values():  # no pass from coins not held for the whole window
        g = state.gates[c.gate]
        balance, low = 0, None
        for ts, change in replayed_changes(h, c.holder, art, c.id):
            if ts > c.timestamp - g.held_ms and low is None:
                low = balance
            balance += change
            if low is not None:
                low = min(low, balance)
        assert (balance if low is None else min(low, balance)) >= g.min


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_gate_histories_in_any_delivery_order_give_one_state(ops: Any, seed: int) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        ref = make("ref")
        h = GateHistory(ops, ref)
        check_invariants(ref, h)
        check_any_delivery_order(make, ref, h.sc.wires(), rnd, check_invariants)


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 2**16))
def test_validity_depends_only_on_the_feed_prefix_and_the_deps(ops: Any, pick: int) -> None:
    with ledgers() as make:
        h = GateHistory(ops, make("ref"))
        kept = [e for e in h.sc.entries if e.kind in ("gate.claim", "reclaim")]
        check_judged_on_closure_alone(make, h, kept[pick % 4 :: 4], h.refused[pick % 5 :: 5])


def test_the_interpreter_exercises_every_operation() -> None:
    ops = fixed_ops(OP_NAMES, seed=5, count=400, a_max=5, n_max=3000)
    with ledgers() as make:
        h = GateHistory(ops, make("ref"))
        check_invariants(h.ref, h)
        for name in OP_NAMES:
            assert h.kept[name] > 0, (name, h.kept, h.tried)
        assert sum(1 for e in h.refused if e.kind == "gate.claim") > 5
