"""Property tests for the exchange (DESIGN.md invariants 1 and 2 for the new kinds): random
interleavings of offers, takes, fills, refusals, cancels, reclaims, checkpoints, sends and
receives, delivered in any order, give the same state hash and the same order book; every asset
is conserved counting locks; no offer is filled beyond its lock; a take is settled at most once
(filled, refused or reclaimed); expired or cancelled offers fill nothing.

Histories are drawn as operations; each is signed and offered to a reference ledger, and kept only
if that ledger accepts it, so impossible operations (a fill beyond the lock, a late fill, a
reclaim before the deadline) are tried too and must be refused.
"""

from __future__ import annotations

import random
from collections import Counter
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
    check_refused_on_closure_alone,
    closure,  # noqa: F401 - importable from here, as it was
    drawn_ops,
    fixed_ops,
    ingest_a_random_part,
    ledgers,
    property_settings,
)
from tests.ledger.market import HOUR, market

SETTINGS = property_settings(30)

OP_NAMES = [
    "offer",
    "offer",
    "take",
    "take",
    "take",
    "fill",
    "fill",
    "fill",
    "refuse",
    "cancel",
    "ask_cancel",
    "checkpoint",
    "reclaim_take",
    "reclaim_offer",
    "receive",
    "receive",
    "wait",
]
OPS = drawn_ops(OP_NAMES, 4, 5_000)


class MarketHistory(DrawnHistory):
    """Interpret drawn operations into a history the reference ledger accepted entry by entry."""

    def __init__(self, ops: list[tuple[str, int, int, int]], ref: Ledger) -> None:
        super().__init__()
        self.sc, x = market()
        self.ref = ref
        assert not ref.ingest(self.sc.wires()).rejected
        self.x = x
        self.people = [x["artist"], x["fan"], x["fan2"], x["seeder"], x["gw"]]
        self.assets = [x["crd"], x["art"]]
        self.now = self.sc.t0 + 10_000_000
        # the artist's coin reaches the fans, so both sides of the pair have makers
        for fan in (x["fan"], x["fan2"]):
            self.try_make(
                x["artist"],
                "send",
                {"asset": x["art"].hash, "to": fan.public_key, "amount": 2_000, "memo": ""},
            )
        self.offers: list[Entry] = []
        self.takes: list[Entry] = []
        self.run(ops)

    @staticmethod
    def pick(items: list[Entry], b: int, n: int) -> Entry:
        """Mostly one of the latest (live) items; sometimes any, to seek conflicts with old
        ones (a cancel after a reclaim, a fill after a refusal)."""
        if b % 2:
            return items[n % len(items)]
        return items[-1 - n % min(len(items), 6)]

    def state(self) -> Any:
        return self.ref.state

    def op_wait(self, a: int, b: int, n: int) -> bool:
        self.now += n * 1_000 * (1 + b % 4)  # up to about five and a half hours
        return True

    def op_offer(self, a: int, b: int, n: int) -> bool:
        maker = self.people[a % 3]
        sell = self.assets[(a + b) % 2]
        want = self.assets[1 - (a + b) % 2]
        amount = 1 + n % 500
        settler = self.x["seeder"] if b % 3 else maker
        fok = b % 7 == 0
        body = {
            "sell": sell.hash,
            "sell_amount": amount,
            "want": want.hash,
            "want_amount": 1 + (n * 7 + b) % 900,
            "min_fill": amount if fok else 1 + b % 5,
            "expires": self.now + (1 + b % 6) * HOUR,
            "fill_or_kill": fok,
            "settler": settler.public_key,
        }
        e = self.try_make(maker, "offer", body)
        if e is not None:
            self.offers.append(e)
        return e is not None

    def op_take(self, a: int, b: int, n: int) -> bool:
        if not self.offers:
            return False
        o = self.pick(self.offers, b, n)  # mostly live ones
        taker = self.people[a % 4]
        amount = (
            o.body["sell_amount"]
            if o.body["fill_or_kill"]
            else max(o.body["min_fill"], 1 + n % o.body["sell_amount"])
        )
        pay = -(-amount * o.body["want_amount"] // o.body["sell_amount"])
        e = self.try_make(
            taker,
            "take",
            {
                "offer": o.hash,
                "amount": amount,
                "pay": pay,
                "deadline": self.now + (1 + b % 4) * HOUR,
            },
            [o],
        )
        if e is not None:
            self.takes.append(e)
        return e is not None

    def _settler_of(self, take: Entry) -> Any:
        o = self.state().offers[take.body["offer"]]
        return next(p for p in self.people if p.public_key == o.settler)

    def op_fill(self, a: int, b: int, n: int) -> bool:
        if not self.takes:
            return False
        t = self.pick(self.takes, b, n)
        return self.try_make(self._settler_of(t), "fill", {"take": t.hash}, [t]) is not None

    def op_refuse(self, a: int, b: int, n: int) -> bool:
        if not self.takes:
            return False
        t = self.pick(self.takes, b, n)
        return (
            self.try_make(self._settler_of(t), "refuse", {"take": t.hash, "reason": "no"}, [t])
            is not None
        )

    def op_cancel(self, a: int, b: int, n: int) -> bool:
        if not self.offers:
            return False
        o = self.pick(self.offers, b, n)
        settler = next(p for p in self.people if p.public_key == o.body["settler"])
        deps = [] if settler.public_key == o.author else [o]
        return self.try_make(settler, "cancel", {"offer": o.hash}, deps) is not None

    def op_ask_cancel(self, a: int, b: int, n: int) -> bool:
        if not self.offers:
            return False
        o = self.offers[n % len(self.offers)]
        maker = next(p for p in self.people if p.public_key == o.author)
        return self.try_make(maker, "cancel", {"offer": o.hash}) is not None

    def op_checkpoint(self, a: int, b: int, n: int) -> bool:
        who = self.people[(3, 0, 1)[a % 3]]
        return self.try_make(who, "checkpoint", {"open": n % 10}) is not None

    def _reclaim(self, who: Any, target: Entry, settler: bytes) -> bool:
        if settler == who.public_key:
            return (
                self.try_make(who, "reclaim", {"of": target.hash, "proof": target.hash}) is not None
            )
        seen = self.state().last_seen.get(settler)
        if seen is None:
            return False
        return (
            self.try_make(
                who, "reclaim", {"of": target.hash, "proof": seen[1]}, [self.ref.entry(seen[1])]
            )
            is not None
        )

    def op_reclaim_take(self, a: int, b: int, n: int) -> bool:
        if not self.takes:
            return False
        t = self.pick(self.takes, b, n)
        taker = next(p for p in self.people if p.public_key == t.author)
        return self._reclaim(taker, t, self._settler_of(t).public_key)

    def op_reclaim_offer(self, a: int, b: int, n: int) -> bool:
        if not self.offers:
            return False
        o = self.pick(self.offers, b, n)
        maker = next(p for p in self.people if p.public_key == o.author)
        return self._reclaim(maker, o, o.body["settler"])

    def op_receive(self, a: int, b: int, n: int) -> bool:
        who = self.people[a]
        sources = sorted({t.source for t in self.state().incoming(who.public_key)})[:64]
        if not sources:
            return False
        return self.try_make(who, "receive", {"transfers": sources}, sources) is not None


def books(led: Ledger, h: MarketHistory) -> list[list[bytes]]:
    crd, art = h.x["crd"].hash, h.x["art"].hash
    return [[o.id for o in led.state.book(s, w, limit=1000)] for s, w in ((crd, art), (art, crd))]


def check_invariants(led: Ledger) -> None:
    check_accounting(led)
    state = led.state
    filled: Counter[bytes] = Counter()
    for trade in state.trades.values():
        filled[trade.offer] += trade.amount
        offer = state.offers[trade.offer]
        assert trade.timestamp <= offer.expires  # an expired offer fills nothing
        lock = state.locks[offer.id]
        if lock.closed_by is not None and lock.closed_by not in state.trades:
            closed_at = state.stamps[lock.closed_by]  # nothing filled after a cancel/reclaim
            assert trade.timestamp <= closed_at
    for offer in state.offers.values():
        assert filled[offer.id] <= offer.sell_amount  # never beyond the lock
        lock = state.locks[offer.id]
        if lock.closed_by is None:
            assert lock.amount == offer.sell_amount - filled[offer.id]
    keys = {lk.owner for lk in state.locks.values()} | {lk.settler for lk in state.locks.values()}
    keys |= {c.payer for c in state.conditional.values()}
    keys |= {c.settler for c in state.conditional.values()}
    for key in keys:  # the per-party index of open items agrees with a full scan
        assert {lk.id for lk in state.open_locks(key)} == {
            lk.id
            for lk in state.locks.values()
            if lk.closed_by is None and key in (lk.owner, lk.settler)
        }
        assert {c.source for c in state.open_payments(key)} == {
            c.source
            for c in state.conditional.values()
            if c.outcome is None and key in (c.payer, c.settler)
        }
    settled_by: Counter[bytes] = Counter()
    for trade in state.trades.values():
        settled_by[trade.take] += 1
    for take in state.takes.values():  # filled, refused or reclaimed: at most one of them
        cond = state.conditional[take.id]
        assert settled_by[take.id] == (1 if cond.outcome == "accepted" else 0)


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_exchange_histories_in_any_delivery_order_give_one_state_and_one_book(
    ops: Any, seed: int
) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        ref = make("ref")
        h = MarketHistory(ops, ref)
        check_invariants(ref)
        check_any_delivery_order(
            make, ref, h.sc.wires(), rnd, check_invariants, same=lambda led: books(led, h)
        )


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_conservation_and_no_overfill_hold_for_any_part_of_a_history(ops: Any, seed: int) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        h = MarketHistory(ops, make("ref"))
        partial = make()
        ingest_a_random_part(partial, h.sc.wires(), rnd)
        check_invariants(partial)


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 2**16))
def test_validity_depends_only_on_the_feed_prefix_and_the_deps(ops: Any, pick: int) -> None:
    """What makes the state order independent, checked entry by entry: an entry is judged the
    same on a replica that holds only its dependency closure as on one that holds everything.
    An attempt the full replica refused (a cancel after a reclaim, a fill after a refusal) must
    be refused on its closure alone, or two replicas could keep different entries."""
    with ledgers() as make:
        h = MarketHistory(ops, make("ref"))
        kept = [
            e for e in h.sc.entries if e.kind in ("fill", "refuse", "cancel", "reclaim", "take")
        ]
        check_judged_on_closure_alone(make, h, kept[pick % 7 :: 7], h.refused[pick % 5 :: 5])


def test_the_interpreter_exercises_every_operation() -> None:
    """Guard against a generator that silently keeps nothing: a fixed long history keeps every
    kind of operation at least once and refuses some impossible ones."""
    ops = fixed_ops(OP_NAMES, seed=7, count=600, a_max=4, n_max=5000)
    with ledgers() as make:
        h = MarketHistory(ops, make("ref"))
        check_invariants(h.ref)
        for name in OP_NAMES:
            assert h.kept[name] > 0, (name, h.kept, h.tried)
        assert len(h.refused) > 50  # impossible ones were tried and refused ...
        # ... and are refused on their dependency closure alone
        check_refused_on_closure_alone(make, h, h.refused)


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 10**6), seed=st.integers(0, 2**32 - 1))
def test_an_equivocation_anywhere_in_a_market_gives_one_state_in_any_order(
    ops: Any, pick: int, seed: int
) -> None:
    """Fork any entry of a market history (most often the settler's): every replica that holds
    both branches quarantines the author, voids what depended on it, conserves every asset and
    reaches the same state, whatever the delivery order."""
    rnd = random.Random(seed)
    with ledgers() as make:
        h = MarketHistory(ops, make("ref"))
        market_entries = [
            e
            for e in h.sc.entries
            if e.kind in ("offer", "take", "fill", "refuse", "cancel", "reclaim", "checkpoint")
        ]
        target = (market_entries or h.sc.entries)[pick % len(market_entries or h.sc.entries)]
        who = next(p for p in h.people if p.public_key == target.author)
        fork = h.sc.fork(who, target.seq, deps=target.deps)
        hashes = set()
        for _ in range(2):
            led = make()
            wires = [*h.sc.wires(), fork.wire]
            rnd.shuffle(wires)
            for i in range(0, len(wires), 4):
                assert not led.ingest(wires[i : i + 4]).rejected
            assert led.pending_count() == 0
            assert led.quarantined() == {fork.author: fork.seq}
            check_invariants(led)
            hashes.add(led.state_hash())
        assert len(hashes) == 1


def test_an_equivocating_settler_is_proven_and_its_double_fill_voided(tmp_path: Any) -> None:
    """The settler signs two different fills at one seq that together exceed the lock: any
    replica holding both proves the fork, and neither fill has effect, in either order."""
    sc, x = market()
    o = sc.make(
        x["artist"],
        "offer",
        {
            "sell": x["art"].hash,
            "sell_amount": 100,
            "want": x["crd"].hash,
            "want_amount": 100,
            "min_fill": 1,
            "expires": sc.t0 + 100 * HOUR,
            "fill_or_kill": False,
            "settler": x["seeder"].public_key,
        },
    )
    t1 = sc.make(
        x["fan"],
        "take",
        {"offer": o.hash, "amount": 80, "pay": 80, "deadline": sc.t0 + 50 * HOUR},
        [o],
    )
    t2 = sc.make(
        x["fan2"],
        "take",
        {"offer": o.hash, "amount": 80, "pay": 80, "deadline": sc.t0 + 50 * HOUR},
        [o],
    )
    f1 = sc.make(x["seeder"], "fill", {"take": t1.hash}, [t1])
    f2 = sc.fork(x["seeder"], f1.seq, kind="fill", body={"take": t2.hash}, deps=[t2])
    hashes = set()
    for n, pair in enumerate(((f1, f2), (f2, f1))):
        led = Ledger.open(tmp_path / f"e{n}.sqlite", verify_threads=1)
        try:
            assert not led.ingest([e.wire for e in sc.entries if e is not f1]).rejected
            assert led.ingest([pair[0].wire]).accepted
            report = led.ingest([pair[1].wire])
            assert report.forks and led.quarantined() == {x["seeder"].public_key: f1.seq}
            assert not led.is_effective(f1.hash) and not led.is_effective(f2.hash)
            assert led.state.trades == {}
            assert led.state.remaining(led.state.offers[o.hash]) == 100
            check_invariants(led)
            hashes.add(led.state_hash())
        finally:
            led.close()
    assert len(hashes) == 1
