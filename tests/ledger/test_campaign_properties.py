"""Property tests for campaigns (DESIGN.md invariants 1 and 2 for the new kinds): random
interleavings of campaigns, pledges, counts, closes (funded or failed), refunds with the close or
by deadline proof, checkpoints, sends and receives, delivered in any order, give one state hash;
every asset is conserved counting pledges in flight; a campaign either pays the artist (exactly
the pledges it accepted) or refunds every pledge, never both; a pledge is accepted or reclaimed
at most once.

As for the exchange, drawn operations are signed and kept only if a reference ledger accepts
them, so impossible ones (a success below the goal, a late close, a refund of a counted pledge)
are tried too and must be refused, also on their dependency closure alone.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.ledger import Ledger
from tests.ledger.funding import HOUR, TIERS, funding
from tests.ledger.histories import (
    DrawnHistory,
    check_accounting,
    check_any_delivery_order,
    check_judged_on_closure_alone,
    check_refused_on_closure_alone,
    drawn_ops,
    fixed_ops,
    ingest_a_random_part,
    ledgers,
    property_settings,
)

SETTINGS = property_settings(30)

OP_NAMES = [
    "campaign",
    "pledge",
    "pledge",
    "pledge",
    "pledge",
    "count",
    "close_success",
    "close_success",
    "close_fail",
    "refund",
    "refund",
    "refund_late",
    "checkpoint",
    "receive",
    "receive",
    "send",
    "wait",
    "wait",
]
OPS = drawn_ops(OP_NAMES, 5, 3_000)


class FundingHistory(DrawnHistory):
    def __init__(self, ops: list[tuple[str, int, int, int]], ref: Ledger) -> None:
        super().__init__()
        self.sc, x = funding()
        self.ref = ref
        assert not ref.ingest(self.sc.wires()).rejected
        self.x = x
        self.artists = [x["artist"], x["fans"][2]]  # a fan may run a campaign too
        self.people = [x["artist"], *x["fans"], x["seeder"]]
        self.now = self.sc.t0 + 10_000_000
        self.campaigns: list[Entry] = []
        self.pledges: list[Entry] = []
        self.run(ops)

    @staticmethod
    def pick(items: list[Entry], b: int, n: int) -> Entry:
        return items[n % len(items)] if b % 2 else items[-1 - n % min(len(items), 4)]

    def op_wait(self, a: int, b: int, n: int) -> bool:
        self.now += n * 300 * (1 + b % 4)  # up to an hour
        return True

    def op_campaign(self, a: int, b: int, n: int) -> bool:
        artist = self.artists[a % 2]
        settler = self.x["seeder"] if b % 3 else artist
        deadline = self.now + (1 + b % 3) * HOUR
        e = self.try_make(
            artist,
            "campaign",
            {
                "title": f"C{len(self.campaigns)}",
                "description": "",
                "asset": self.x["crd"].hash,
                "goal": 1 + n % 2_000,
                "deadline": deadline,
                "close_by": deadline + (1 + a % 2) * HOUR,
                "tiers": TIERS,
                "settler": settler.public_key,
            },
            [self.x["crd"]],
        )
        if e is not None:
            self.campaigns.append(e)
        return e is not None

    def op_pledge(self, a: int, b: int, n: int) -> bool:
        if not self.campaigns:
            return False
        c = self.pick(self.campaigns, b, n)
        backer = self.people[a % 5]
        e = self.try_make(backer, "pledge", {"campaign": c.hash, "amount": 1 + n % 700}, [c])
        if e is not None:
            self.pledges.append(e)
        return e is not None

    def _named(self, c: Entry, b: int, n: int) -> list[Entry]:
        mine = [p for p in self.pledges if p.body["campaign"] == c.hash]
        if b % 5 == 0:  # sometimes a pledge already counted or of another campaign
            mine = mine + self.pledges[-1:]
        rnd = random.Random(n)
        return sorted(rnd.sample(mine, min(len(mine), 1 + n % 6)), key=lambda p: p.hash)

    def _settler_entry(self, kind: str, a: int, b: int, n: int, **extra: Any) -> bool:
        if not self.campaigns:
            return False
        c = self.pick(self.campaigns, b, n)
        settler = self.who(c.body["settler"])
        named = list({p.hash: p for p in self._named(c, b, n)}.values())
        deps = [*([] if c.author == settler.public_key else [c]), *named]
        if kind == "campaign.count" and not named:
            return False
        return (
            self.try_make(
                settler,
                kind,
                {"campaign": c.hash, **extra, "pledges": [p.hash for p in named]},
                deps,
            )
            is not None
        )

    def op_count(self, a: int, b: int, n: int) -> bool:
        return self._settler_entry("campaign.count", a, b, n)

    def op_close_success(self, a: int, b: int, n: int) -> bool:
        return self._settler_entry("campaign.close", a, b, n, success=True)

    def op_close_fail(self, a: int, b: int, n: int) -> bool:
        return self._settler_entry("campaign.close", a, b, n, success=False)

    def op_refund(self, a: int, b: int, n: int) -> bool:
        if not self.pledges:
            return False
        p = self.pick(self.pledges, b, n)
        camp = self.ref.state.campaigns[p.body["campaign"]]
        proof = camp.closed_by
        if proof is None or b % 7 == 0:  # or name a close of some other campaign
            closes = [c.closed_by for c in self.ref.state.campaigns.values() if c.closed_by]
            if not closes:
                return False
            proof = closes[n % len(closes)]
        return (
            self.try_make(
                self.who(p.author),
                "reclaim",
                {"of": p.hash, "proof": proof},
                [self.ref.entry(proof)],
            )
            is not None
        )

    def op_refund_late(self, a: int, b: int, n: int) -> bool:
        if not self.pledges:
            return False
        p = self.pick(self.pledges, b, n)
        settler = self.ref.state.campaigns[p.body["campaign"]].settler
        seen = self.ref.state.last_seen.get(settler)
        if seen is None:
            return False
        return (
            self.try_make(
                self.who(p.author),
                "reclaim",
                {"of": p.hash, "proof": seen[1]},
                [self.ref.entry(seen[1])],
            )
            is not None
        )

    def op_checkpoint(self, a: int, b: int, n: int) -> bool:
        return (
            self.try_make(self.people[(0, 3, 4)[a % 3]], "checkpoint", {"open": n % 10}) is not None
        )

    def op_send(self, a: int, b: int, n: int) -> bool:
        who, to = self.people[a % 5], self.people[(a + 1 + b) % 5]
        return (
            self.try_make(
                who,
                "send",
                {"asset": self.x["crd"].hash, "to": to.public_key, "amount": 1 + n, "memo": ""},
            )
            is not None
        )

    def op_receive(self, a: int, b: int, n: int) -> bool:
        who = self.people[a % 5]
        sources = sorted({t.source for t in self.ref.state.incoming(who.public_key)})[:64]
        if not sources:
            return False
        return self.try_make(who, "receive", {"transfers": sources}, sources) is not None


def check_invariants(led: Ledger) -> None:
    check_accounting(led)
    state = led.state
    for camp in state.campaigns.values():
        pledges = state.pledges_of(camp.id)
        outcomes = Counter(state.conditional[p.id].outcome for p in pledges)
        accepted = sum(p.amount for p in pledges if state.conditional[p.id].outcome == "accepted")
        if camp.outcome == "funded":  # the artist gets exactly the accepted pledges, once
            assert accepted == camp.counted >= camp.goal
            paid = [t for (src, _), t in state.inflight.items() if src == camp.closed_by]
            # one transfer of the whole sum, in flight until the artist receives it
            assert [(t.to, t.amount) for t in paid] in ([], [(camp.artist, accepted)])
            assert state.stamps[camp.closed_by] > camp.deadline
        else:  # open, failed or lapsed: the artist got nothing, every pledge is the backer's
            assert outcomes["accepted"] == 0
        for p in pledges:  # never both accepted and reclaimed, and refused never
            assert state.conditional[p.id].outcome in (None, "accepted", "reclaimed")
            if state.conditional[p.id].outcome == "accepted":
                assert p.counted_by is not None and camp.outcome == "funded"


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_campaign_histories_in_any_delivery_order_give_one_state(ops: Any, seed: int) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        ref = make("ref")
        h = FundingHistory(ops, ref)
        check_invariants(ref)
        check_any_delivery_order(make, ref, h.sc.wires(), rnd, check_invariants)


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_conservation_and_all_or_nothing_hold_for_any_part_of_a_history(
    ops: Any, seed: int
) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        h = FundingHistory(ops, make("ref"))
        partial = make()
        ingest_a_random_part(partial, h.sc.wires(), rnd)
        check_invariants(partial)


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 2**16))
def test_validity_depends_only_on_the_feed_prefix_and_the_deps(ops: Any, pick: int) -> None:
    with ledgers() as make:
        h = FundingHistory(ops, make("ref"))
        kept = [
            e
            for e in h.sc.entries
            if e.kind in ("pledge", "campaign.count", "campaign.close", "reclaim")
        ]
        check_judged_on_closure_alone(make, h, kept[pick % 5 :: 5], h.refused[pick % 5 :: 5])


def test_the_interpreter_exercises_every_operation() -> None:
    ops = fixed_ops(OP_NAMES, seed=11, count=500, a_max=5, n_max=3000)
    with ledgers() as make:
        h = FundingHistory(ops, make("ref"))
        check_invariants(h.ref)
        for name in OP_NAMES:
            assert h.kept[name] > 0, (name, h.kept, h.tried)
        outcomes = Counter(c.outcome for c in h.ref.state.campaigns.values())
        assert outcomes["funded"] and outcomes["failed"], outcomes
        assert len(h.refused) > 30
        check_refused_on_closure_alone(make, h, h.refused)
