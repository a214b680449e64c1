"""Property tests for referral and seeder shares and gated listings: random histories of listings
with shares and gates, purchases with and without referrers and claims, receipts, claims, unlocks,
sends and receives, delivered in any order, give one state hash; every asset is conserved with the
seeders' shares and claims locked; every purchase pays exactly its amount (split, referrer, held
share), computed here independently of the ledger; no seeders' share is paid twice (one receipt
per purchase, paying exactly what was held); every gated purchase names an active claim of its
buyer; an entry is judged the same on its dependency closure alone."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.ledger import Ledger
from tests.ledger.test_exchange_properties import closure
from tests.ledger.test_gate_properties import GateHistory, check_invariants
from tests.ledger.test_properties import deliver_shuffled, ledgers

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BPS = 10_000

OP_NAMES = [
    "gate",
    "claim",
    "listing",
    "listing",
    "purchase",
    "purchase",
    "purchase",
    "purchase",
    "receipt",
    "receipt",
    "receipt",
    "unlock",
    "send",
    "receive",
    "receive",
    "wait",
]
OPS = st.lists(
    st.tuples(
        st.sampled_from(OP_NAMES), st.integers(0, 5), st.integers(0, 50), st.integers(1, 3_000)
    ),
    min_size=20,
    max_size=70,
)


def expected_payouts(
    listing: dict[str, Any], amount: int, referrer: bytes | None
) -> tuple[list[dict[str, Any]], int]:
    """The payouts and the held seeders' share of a purchase, computed from the listing's body
    alone (an oracle independent of ledger/features)."""
    shares = listing.get("shares", {"seeders": 0, "referrer": 0})
    ref = amount * shares["referrer"] // BPS if referrer is not None else 0
    held = amount * shares["seeders"] // BPS
    base = amount - ref - held
    paid: dict[bytes, int] = {}
    for s in listing["split"]:
        paid[s["to"]] = paid.get(s["to"], 0) + base * s["bps"] // BPS
    rest = base - sum(paid.values())
    paid[listing["remainder"]] = paid.get(listing["remainder"], 0) + rest
    if referrer is not None:
        paid[referrer] = paid.get(referrer, 0) + ref
    return [{"to": to, "amount": a} for to, a in paid.items() if a > 0], held


class ShareHistory(GateHistory):
    def __init__(self, ops: list[tuple[str, int, int, int]], ref: Ledger) -> None:
        self.listings: list[Entry] = []
        self.purchases: list[Entry] = []
        self.held: dict[bytes, int] = {}  # purchase -> seeders' share, by the oracle
        super().__init__(ops, ref)

    def everyone(self) -> list[Any]:
        return [*self.people, self.x["gw"]]

    def op_listing(self, a: int, b: int, n: int) -> bool:
        x = self.x
        split = [{"to": x["artist"].public_key, "bps": 10_000}]
        if a % 2:
            split = [
                {"to": x["artist"].public_key, "bps": 7_001},
                {"to": x["seeder"].public_key, "bps": 2_999},
            ]
        body = self.sc.listing_body(x["artist"], x["crd"], price=1 + n, tag=str(len(self.listings)))
        body["split"] = split
        if b % 3:
            body["shares"] = {"seeders": (n * 7) % 3_001, "referrer": (n * 13) % 2_500}
        deps: list[Entry] = []
        if self.gates and b % 4 == 0:
            g = self.gates[n % len(self.gates)]
            body["gate"] = {
                "gate": g.hash,
                "holders_only": bool(a % 2),
                "discount_bps": (n * 3) % 10_000,
            }
        e = self.try_make(x["artist"], "listing", body, deps)
        if e is not None:
            self.listings.append(e)
        return e is not None

    def active_claim(self, who: Any, gate: bytes) -> Entry | None:
        for c in reversed(self.claims_made()):
            held = self.ref.state.claims.get(c.hash)
            if (
                c.author == who.public_key
                and c.body["gate"] == gate
                and held is not None
                and self.ref.state.claim_active(held, self.now)
            ):
                return c
        return None

    def op_purchase(self, a: int, b: int, n: int) -> bool:
        if not self.listings:
            return False
        li = self.listings[n % len(self.listings)]
        body = li.body
        buyer = self.people[1 + a % 3]  # fan, fan2 or the seeder (who may hold nothing)
        others = [p for p in self.everyone() if p.public_key != buyer.public_key]
        referrer = None
        if b % 3 == 1:
            referrer = others[n % len(others)].public_key
        elif b % 7 == 6:
            referrer = buyer.public_key  # refused: a buyer is not its own referrer
        amount = body["prices"][0]["amount"]
        extra: dict[str, Any] = {}
        deps: list[Any] = [li]
        term = body.get("gate")
        if term is not None and b % 5:
            c = self.active_claim(buyer, term["gate"])
            if c is None and b % 2:  # claim the listing's gate first
                g = next(g for g in self.gates if g.hash == term["gate"])
                until = self.now + g.body["lock_ms"]
                c = self.try_make(buyer, "gate.claim", {"gate": g.hash, "until": until}, [g])
            if c is None and self.claims_made():
                c = self.claims_made()[n % len(self.claims_made())]  # maybe someone else's
            if c is not None:
                extra["claim"] = c.hash
                deps.append(c)
                if self.active_claim(buyer, term["gate"]) is c:
                    amount = max(1, amount - amount * term["discount_bps"] // BPS)
        payouts, held = expected_payouts(body, amount, referrer)
        full = {
            "listing": li.hash,
            "track": None,
            "asset": self.x["crd"].hash,
            "amount": amount,
            "payouts": payouts,
            **extra,
        }
        if referrer is not None:
            full["referrer"] = referrer
        e = self.try_make(buyer, "purchase", full, deps)
        if e is not None:
            self.purchases.append(e)
            self.held[e.hash] = held
        return e is not None

    def op_receipt(self, a: int, b: int, n: int) -> bool:
        if not self.purchases:
            return False
        p = self.purchases[n % len(self.purchases)]
        buyer = next(x for x in self.people if x.public_key == p.author)
        if a == 5:  # someone else's receipt: refused
            buyer = self.people[(self.people.index(buyer) + 1) % 4]
        pool = self.everyone()
        seeders = [
            {
                "to": pool[(n + i * (b + 1)) % len(pool)].public_key,
                "bytes": 1 + (n * (i + 3)) % 5_000,
            }
            for i in range(b % 4)
        ]
        return self.try_make(buyer, "receipt", {"purchase": p.hash, "seeders": seeders}) is not None

    def op_send(self, a: int, b: int, n: int) -> bool:
        if a % 2:
            return super().op_send(a, b, n)
        who, to = self.people[a % 4], self.people[(a + 1 + b) % 4]
        body = {"asset": self.x["crd"].hash, "to": to.public_key, "amount": 1 + n * 7, "memo": ""}
        return self.try_make(who, "send", body) is not None


def check_shares(led: Ledger, h: ShareHistory) -> None:
    check_invariants(led, h)
    state = led.state
    entries = {e.hash: e for e in h.sc.entries}
    receipts_per: Counter[bytes] = Counter()
    for r in state.receipts.values():
        receipts_per[r.purchase] += 1
        held = h.held[r.purchase]
        assert sum(p.amount for p in r.payouts) == held  # exactly what was held, once
        total = sum(b for _, b in r.seeders)
        listing = entries[entries[r.purchase].body["listing"]].body
        for to, b in r.seeders:
            want = held * b // total + (
                held - sum(held * c // total for _, c in r.seeders)
                if to == listing["remainder"]
                else 0
            )
            assert {p.to: p.amount for p in r.payouts}.get(to, 0) == want
    assert all(n == 1 for n in receipts_per.values())
    for pid, purchase in state.purchases.items():
        e = entries[pid]
        paid = sum(p["amount"] for p in e.body["payouts"])
        assert paid + h.held[pid] == purchase.amount  # the whole amount, split once
        lock = state.locks.get(pid)
        assert (lock.amount if lock else 0) == (0 if pid in receipts_per else h.held[pid])
        listing = entries[purchase.listing].body
        if "gate" in listing and "claim" in e.body:
            claim = state.claims[e.body["claim"]]
            assert claim.holder == purchase.buyer and claim.gate == listing["gate"]["gate"]
            assert claim.timestamp <= e.timestamp <= claim.until
        elif "gate" in listing:
            assert not listing["gate"]["holders_only"]


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_share_histories_in_any_delivery_order_give_one_state(ops: Any, seed: int) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        ref = make("ref")
        h = ShareHistory(ops, ref)
        check_shares(ref, h)
        for _ in range(2):
            other = make()
            deliver_shuffled(other, h.sc.wires(), rnd)
            assert other.pending_count() == 0 and other.state_hash() == ref.state_hash()
            check_shares(other, h)


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 2**16))
def test_validity_depends_only_on_the_feed_prefix_and_the_deps(ops: Any, pick: int) -> None:
    with ledgers() as make:
        h = ShareHistory(ops, make("ref"))
        kept = [e for e in h.sc.entries if e.kind in ("purchase", "receipt", "listing")]
        refused = [e for e in h.refused if e.kind in ("purchase", "receipt", "listing")]
        for entry, should_accept in [
            *((e, True) for e in kept[pick % 4 :: 4]),
            *((e, False) for e in refused[pick % 3 :: 3]),
        ]:
            led = make()
            assert not led.ingest(closure(h, entry)).rejected
            assert bool(led.ingest([entry.wire]).accepted) == should_accept, entry.kind


def test_the_interpreter_exercises_every_operation() -> None:
    rnd = random.Random(7)
    ops = [
        (rnd.choice(OP_NAMES), rnd.randint(0, 5), rnd.randint(0, 50), rnd.randint(1, 3000))
        for _ in range(500)
    ]
    with ledgers() as make:
        h = ShareHistory(ops, make("ref"))
        check_shares(h.ref, h)
        for name in OP_NAMES:
            assert h.kept[name] > 0, (name, h.kept, h.tried)
        state = h.ref.state
        assert len(state.receipts) > 5
        assert any(p.terms.get("referrer") for p in state.purchases.values())
        assert any(p.terms.get("claim") for p in state.purchases.values())
        assert sum(1 for e in h.refused if e.kind in ("purchase", "receipt")) > 5
