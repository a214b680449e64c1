"""Property tests for coins tied to sales: random interleavings of sales, receives, stakes,
acceptances, refusals, distributions, collections, unstakes and sends, delivered in any order,
give one state hash; every asset is conserved with stakes and distribution pools locked; no
distribution pays out more than it put in its pool, and no stake collects one twice; each
collected share is ⌊amount × stake / total⌋ of a distribution the stake counts in; an entry is
judged the same on its dependency closure alone."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.ledger import Ledger
from tests.ledger.factory import economy
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
from tests.ledger.market import HOUR

SETTINGS = property_settings(25)

OP_NAMES = [
    "buy",
    "buy",
    "receive",
    "receive",
    "stake",
    "stake",
    "accept",
    "accept",
    "refuse",
    "distribute",
    "distribute",
    "collect",
    "collect",
    "unstake",
    "reclaim_late",
    "send",
    "checkpoint",
    "wait",
]
OPS = drawn_ops(OP_NAMES, 5, 3_000)


class CoinHistory(DrawnHistory):
    def __init__(self, ops: list[tuple[str, int, int, int]], ref: Ledger) -> None:
        super().__init__()
        self.sc, x = economy()
        sc = self.sc
        self.artist = x["artist"]
        self.fans = [x["fan"], sc.signer("fan2"), sc.signer("fan3")]
        self.art = sc.issue(
            self.artist,
            "ART",
            max_supply=10**6,
            flags=["artistcoin"],
            precision=0,
            name="Artist coin",
        )
        sc.mint(self.artist, self.art, 10_000)
        for i, fan in enumerate(self.fans):
            sc.receive(fan, sc.send(self.artist, self.art, fan, 300 + 100 * i))
            if i:
                sc.receive(fan, sc.send(x["gw"], x["crd"], fan, 5_000))
        self.charter = sc.make(
            self.artist,
            "coin.charter",
            {"asset": self.art.hash, "sales_asset": x["crd"].hash, "bps": 2_500},
            [x["crd"]],
        )
        self.x = x
        self.ref = ref
        assert not ref.ingest(sc.wires()).rejected
        self.people = [self.artist, *self.fans]
        self.now = sc.t0 + 10_000_000
        self.stakes: list[Entry] = []
        self.dists: list[Entry] = []
        self.run(ops)

    def op_wait(self, a: int, b: int, n: int) -> bool:
        self.now += n * 1_000 * (1 + b % 4)
        return True

    def op_buy(self, a: int, b: int, n: int) -> bool:
        fan = self.fans[a % 3]
        listing = self.x["listing"]
        return (
            self.try_make(
                fan,
                "purchase",
                {
                    "listing": listing.hash,
                    "track": None,
                    "asset": self.x["crd"].hash,
                    "amount": 999,
                    "payouts": self.sc.payouts(listing, 999),
                },
                [listing],
            )
            is not None
        )

    def op_receive(self, a: int, b: int, n: int) -> bool:
        who = self.people[a % 4]
        sources = sorted({t.source for t in self.ref.state.incoming(who.public_key)})[:64]
        if not sources:
            return False
        return self.try_make(who, "receive", {"transfers": sources}, sources) is not None

    def op_stake(self, a: int, b: int, n: int) -> bool:
        fan = self.fans[a % 3]
        settler, deps = self.stake_settler(a, b)
        e = self.try_make(
            fan,
            "stake",
            {
                "charter": self.charter.hash,
                "amount": 1 + n % 200,
                "accept_by": self.now + (1 + b % 2) * HOUR,
                "until": self.now + (3 + b % 5) * HOUR,
                **settler,
            },
            [self.charter, *deps],
        )
        if e is not None:
            self.stakes.append(e)
        return e is not None

    def _answer(self, kind: str, b: int, n: int) -> bool:
        if not self.stakes:
            return False
        s = (
            self.stakes[-1 - n % min(len(self.stakes), 4)]
            if b % 2
            else self.stakes[n % len(self.stakes)]
        )
        return self.try_make(self.artist, kind, {"stake": s.hash}, [s]) is not None

    def op_accept(self, a: int, b: int, n: int) -> bool:
        return self._answer("stake.accept", b, n)

    def op_refuse(self, a: int, b: int, n: int) -> bool:
        return self._answer("stake.refuse", b, n)

    def op_distribute(self, a: int, b: int, n: int) -> bool:
        owed = self.ref.state.coin_charters[self.charter.hash].owed
        amount = owed if b % 3 else 1 + n % 400
        if amount <= 0:
            return False
        e = self.try_make(
            self.artist,
            "distribute",
            {"charter": self.charter.hash, "amount": amount},
            self.distribution_deps(a),
        )
        if e is not None:
            self.dists.append(e)
        return e is not None

    def stake_settler(self, a: int, b: int) -> tuple[dict[str, Any], list[Entry]]:
        """A stake's settler term and the deps it needs (none: the issuer answers)."""
        return {}, []

    def distribution_deps(self, a: int) -> list[Entry]:
        """What a distribution names besides its charter (a subclass names other feeds)."""
        return []

    def deadline_witness(self, a: int) -> Any:
        """Whose last entry proves a stake's term over."""
        return self.artist

    def op_collect(self, a: int, b: int, n: int) -> bool:
        if not self.stakes or not self.dists:
            return False
        due = self.ref.state.uncollected(self.fans[a % 3].public_key)
        if due and b % 3:  # mostly what is due; sometimes anything, to try the impossible
            stake, _, _ = due[n % len(due)]
            dists = sorted({d.id for s, d, _ in due if s.id == stake.id})[: 1 + b % 3]
            return (
                self.try_make(
                    self.fans[a % 3],
                    "collect",
                    {"stake": stake.id, "distributions": dists},
                    [self.ref.entry(d) for d in dists],
                )
                is not None
            )
        done = [
            (sid, d.id)
            for d in self.ref.state.distributions.values()
            for sid in sorted(d.collected)
        ]
        if done and b % 2:  # a stake collecting a distribution again
            sid, did = done[n % len(done)]
            return (
                self.try_make(
                    self.who(self.ref.state.stakes[sid].staker),
                    "collect",
                    {"stake": sid, "distributions": [did]},
                    [self.ref.entry(did)],
                )
                is not None
            )
        s = self.stakes[n % len(self.stakes)]
        rnd = random.Random(n)
        picked = sorted(
            rnd.sample(self.dists, min(len(self.dists), 1 + b % 3)), key=lambda d: d.hash
        )
        return (
            self.try_make(
                self.who(s.author),
                "collect",
                {"stake": s.hash, "distributions": [d.hash for d in picked]},
                picked,
            )
            is not None
        )

    def op_unstake(self, a: int, b: int, n: int) -> bool:
        if not self.stakes:
            return False
        s = self.stakes[n % len(self.stakes)]
        answer = self.ref.state.stakes[s.hash].answer  # an unstake names the acceptance
        deps = [answer] if answer is not None and n % 7 else []  # sometimes it forgets
        return (
            self.try_make(self.who(s.author), "reclaim", {"of": s.hash, "proof": s.hash}, deps)
            is not None
        )

    def op_reclaim_late(self, a: int, b: int, n: int) -> bool:
        if not self.stakes:
            return False
        s = self.stakes[n % len(self.stakes)]
        seen = self.ref.state.last_seen.get(self.deadline_witness(a).public_key)
        if seen is None:
            return False
        return (
            self.try_make(
                self.who(s.author),
                "reclaim",
                {"of": s.hash, "proof": seen[1]},
                [self.ref.entry(seen[1])],
            )
            is not None
        )

    def op_send(self, a: int, b: int, n: int) -> bool:
        who, to = self.people[a % 4], self.people[(a + 1 + b) % 4]
        return (
            self.try_make(
                who,
                "send",
                {"asset": self.x["crd"].hash, "to": to.public_key, "amount": 1 + n, "memo": ""},
            )
            is not None
        )

    def op_checkpoint(self, a: int, b: int, n: int) -> bool:
        return self.try_make(self.artist, "checkpoint", {"open": n % 5}) is not None


def check_invariants(led: Ledger) -> None:
    check_accounting(led)
    state = led.state
    for dist in state.distributions.values():
        counted = [
            s
            for s in state.stakes.values()
            if s.charter == dist.charter
            and s.accepted_seq is not None
            and s.accepted_seq < dist.seq
            and s.until >= dist.timestamp
        ]
        assert dist.total_staked == sum(s.amount for s in counted)
        assert (
            dist.paid
            == sum(dist.amount * s.amount // dist.total_staked for s in counted)
            <= dist.amount
        )
        taken = sum(dist.share(state.stakes[s]) for s in dist.collected)
        assert dist.collected <= {s.id for s in counted}  # only stakes that count collect
        pool = state.locks.get(dist.id)
        assert (pool.amount if pool else 0) == dist.paid - taken  # never more than the pool
    for charter in state.coin_charters.values():
        assert charter.committed == charter.sales * charter.bps // 10_000


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_coin_histories_in_any_delivery_order_give_one_state(ops: Any, seed: int) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        ref = make("ref")
        h = CoinHistory(ops, ref)
        check_invariants(ref)
        check_any_delivery_order(make, ref, h.sc.wires(), rnd, check_invariants)


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 2**16))
def test_validity_depends_only_on_the_feed_prefix_and_the_deps(ops: Any, pick: int) -> None:
    with ledgers() as make:
        h = CoinHistory(ops, make("ref"))
        kept = [
            e
            for e in h.sc.entries
            if e.kind
            in (
                "stake",
                "stake.accept",
                "stake.refuse",
                "distribute",
                "collect",
                "reclaim",
                "send",
                "purchase",
            )
        ]
        check_judged_on_closure_alone(make, h, kept[pick % 6 :: 6], h.refused[pick % 6 :: 6])


def test_the_interpreter_exercises_every_operation() -> None:
    ops = fixed_ops(OP_NAMES, seed=3, count=500, a_max=5, n_max=3000)
    with ledgers() as make:
        h = CoinHistory(ops, make("ref"))
        check_invariants(h.ref)
        for name in OP_NAMES:
            assert h.kept[name] > 0, (name, h.kept, h.tried)
        reasons = " ".join(e.kind for e in h.refused)
        assert "send" in reasons and "collect" in reasons  # behind issuers, double collects
        paid = [d for d in h.ref.state.distributions.values() if d.collected]
        assert paid, "some distribution was collected"
