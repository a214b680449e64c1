"""Property tests for votes and charters (DESIGN.md invariants 1 and 2 for the new kinds): random
interleavings of proposals, votes (and replacements), counts, closes, reclaims, checkpoints,
sends, receives and a chartered label's spending, delivered in any order, give the same state
hash and the same tallies; every asset is conserved counting vote locks; locked weight is never
spent or reused; a voter is counted at most once per proposal; a chartered feed's sends, mints
and signings each carry out one passed proposal.

Histories are drawn as operations; each is signed and offered to a reference ledger and kept only
if that ledger accepts it, so impossible operations (a vote after the closing time, a count of a
voter twice, an early unlock, a treasury send without a vote, moving locked tokens) are tried too
and must be refused, also on a replica that holds only their dependency closure.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.features.governance import CLOSE_WINDOW_MS, tally_result
from ledger.ledger import Ledger
from tests.ledger.governance import HOUR, label_world, rules
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

SETTINGS = property_settings(25)

OP_NAMES = [
    "propose",
    "vote",
    "vote",
    "vote",
    "vote",
    "count",
    "count",
    "close",
    "close",
    "checkpoint",
    "reclaim",
    "receive",
    "receive",
    "send",
    "execute",
    "wait",
]
OPS = drawn_ops(OP_NAMES, 5, 2_000)


class VoteHistory(DrawnHistory):
    """Interpret drawn operations into a history the reference ledger accepted entry by entry."""

    def __init__(self, ops: list[tuple[str, int, int, int]], ref: Ledger) -> None:
        super().__init__()
        self.sc, x = label_world()
        self.ref = ref
        assert not ref.ingest(self.sc.wires()).rejected
        self.x = x
        self.fans = x["fans"]
        self.people = [*self.fans, x["seeder"], x["label"], x["artist"]]
        self.now = self.sc.t0 + 10_000_000
        self.proposals: list[Entry] = []
        self.votes: list[Entry] = []
        self.run(ops)

    @property
    def state(self) -> Any:
        return self.ref.state

    def op_wait(self, a: int, b: int, n: int) -> bool:
        self.now += n * 600 * (1 + b % 3) + (CLOSE_WINDOW_MS if a == 5 else 0)
        return True

    def op_propose(self, a: int, b: int, n: int) -> bool:
        who = self.fans[a % 3]
        chartered = b % 3 == 0
        method = "token" if chartered else ("token", "quadratic", "member", "member")[b % 4]
        kw: dict[str, Any] = {"method": method, "asset": self.x["coop"], "quorum": 100}
        if method == "member":
            kw = (
                {"method": "member", "members": self.fans[:2]}
                if b % 2
                else {"method": "member", "asset": self.x["coop"], "min_holding": 50 + n % 100}
            )
        style, choices = (
            ("yes_no", ["yes", "no"])
            if chartered or a % 2
            else (("single", "approval")[b % 2], ["a", "b", "c"])
        )
        act = None
        if chartered:
            act = [
                {
                    "do": "send",
                    "asset": self.x["crd"].hash,
                    "to": self.x["artist"].public_key,
                    "amount": 1 + n,
                },
                {
                    "do": "mint",
                    "asset": self.x["coop"].hash,
                    "to": self.x["label"].public_key,
                    "amount": 1 + n,
                },
                {
                    "do": "sign",
                    "asset": None,
                    "to": self.x["artist"].public_key,
                    "amount": 1 + n % 10_000,
                },
            ][n % 3]
        body = {
            "title": f"p{len(self.proposals)}",
            "text": "",
            "style": style,
            "choices": choices,
            "closes": self.now + (1 + b % 3) * HOUR // 6 + (HOUR if chartered else 0),
            "settler": self.x["seeder"].public_key,
            "charter": self.x["charter"].hash if chartered else None,
            "action": act,
            **rules(**kw),
        }
        e = self.try_make(who, "proposal", body, [self.x["charter"]] if chartered else [])
        if e is not None:
            self.proposals.append(e)
        return e is not None

    def op_vote(self, a: int, b: int, n: int) -> bool:
        if not self.proposals:
            return False
        p = self.proposals[-1 - b % min(len(self.proposals), 4)]
        voter = self.people[a % 5] if a != 4 else self.fans[0]
        prop = self.state.proposals[p.hash]
        units = n % 700 + 1
        if prop.rules.method == "member":
            units = 0 if prop.rules.members else prop.rules.min_holding
        choices = (
            [n % len(prop.choices) if n % 3 == 0 else 0]
            if prop.style != "approval"
            else sorted({n % 3, b % 3})
        )
        e = self.try_make(
            voter,
            "vote",
            {"proposal": p.hash, "choices": choices, "units": units, "qualifier": None},
            [p],
        )
        if e is not None:
            self.votes.append(e)
        return e is not None

    def _count(self, b: int, final: bool) -> bool:
        if not self.proposals:
            return False
        due = [
            p
            for p in self.proposals
            if p.hash not in self.state.results and p.body["closes"] < self.now
        ]
        p = due[b % len(due)] if due and b % 4 else self.proposals[b % len(self.proposals)]
        pending = self.state.uncounted(p.hash)
        if b % 3 == 1:  # a settler that saw only the voters' first votes (replaced since)
            pending = [self.state.ballots[(p.hash, v.voter)][0] for v in pending]
        chosen = pending[:3] if b % 5 else pending[-2:] + pending[-1:]  # sometimes twice
        if b % 7 == 0 and self.votes:  # a vote already counted, or another proposal's
            mine = [
                v
                for v in self.state.votes.values()  # e.g. a counted voter's other vote
                if v.proposal == p.hash and v.counted_by is None
            ]
            pool = mine if mine and b % 2 else list(self.state.votes.values())
            chosen = [pool[len(chosen) % len(pool)]]
        refs = sorted({v.id for v in chosen})
        return (
            self.try_make(
                self.x["seeder"],
                "close" if final else "count",
                {"proposal": p.hash, "votes": refs},
                [p.hash, *refs],
            )
            is not None
        )

    def op_count(self, a: int, b: int, n: int) -> bool:
        return self._count(b, final=False)

    def op_close(self, a: int, b: int, n: int) -> bool:
        return self._count(b, final=True)

    def op_checkpoint(self, a: int, b: int, n: int) -> bool:
        return self.try_make(self.x["seeder"], "checkpoint", {"open": n % 10}) is not None

    def op_reclaim(self, a: int, b: int, n: int) -> bool:
        if not self.votes:
            return False
        open_votes = [
            v
            for v in self.votes
            if (lk := self.state.votes[v.hash].lock) is not None
            and self.state.locks[lk].closed_by is None
        ]
        v = (open_votes or self.votes)[n % len(open_votes or self.votes)]
        voter = next(p for p in self.people if p.public_key == v.author)
        seen = self.state.last_seen.get(self.x["seeder"].public_key)
        if seen is None:
            return False
        return (
            self.try_make(voter, "reclaim", {"of": v.hash, "proof": seen[1]}, [seen[1]]) is not None
        )

    def op_receive(self, a: int, b: int, n: int) -> bool:
        who = self.people[a % len(self.people)]
        sources = sorted({t.source for t in self.state.incoming(who.public_key)})[:64]
        if not sources:
            return False
        return self.try_make(who, "receive", {"transfers": sources}, sources) is not None

    def op_send(self, a: int, b: int, n: int) -> bool:
        """Fans move COOP between accounts (locked units must not move); the label tries to
        pay without a vote."""
        who = self.fans[a % 3] if a < 5 else self.x["label"]
        asset = self.x["coop"] if who is not self.x["label"] else self.x["crd"]
        to = self.fans[(a + 1) % 3] if who is not self.x["label"] else self.x["artist"]
        return (
            self.try_make(
                who,
                "send",
                {"asset": asset.hash, "to": to.public_key, "amount": 1 + n % 900, "memo": ""},
            )
            is not None
        )

    def op_execute(self, a: int, b: int, n: int) -> bool:
        """The label carries out a closed proposal (passed or not, exactly or not)."""
        closes = list(self.state.closes)
        if not closes:
            return False
        c = closes[n % len(closes)]
        prop = self.state.proposals[self.state.closes[c]]
        act = prop.action
        if act is None:
            return False
        amount = act.amount + (1 if b % 6 == 0 else 0)  # sometimes not exactly
        if act.do == "send":
            kind, body = "send", {"asset": act.asset, "to": act.to, "amount": amount, "memo": ""}
        elif act.do == "mint":
            kind, body = "asset.mint", {"asset": act.asset, "amount": amount}
        else:
            kind, body = "sign", {"artist": act.to, "share_bps": min(amount, 10_000)}
        return self.try_make(self.x["label"], kind, body, [c]) is not None


def tallies(led: Ledger) -> list[Any]:
    return sorted((r.proposal, r.tally, r.turnout, r.passed) for r in led.state.results.values())


def check_invariants(led: Ledger, label: bytes) -> None:
    check_accounting(led)
    state = led.state
    for pid, result in state.results.items():  # the result is the tally of what was counted
        counted = state.counted.get(pid, {})
        assert all(v.voter == voter and v.proposal == pid for voter, v in counted.items())
        again = tally_result(
            state.proposals[pid], result.close, sorted(counted.values(), key=lambda v: v.id)
        )
        assert again == result
    counted_per_voter = Counter(
        (v.proposal, v.voter) for v in state.votes.values() if v.counted_by is not None
    )
    assert all(n == 1 for n in counted_per_voter.values())  # a replaced vote is not counted too
    for (pid, voter), votes in state.ballots.items():
        # until its voter is counted, the locks of its votes hold the units of the largest vote
        if voter not in state.counted.get(pid, {}):
            held = sum(
                state.locks[v.lock].amount
                for v in votes
                if v.lock and state.locks[v.lock].closed_by is None
            )
            reclaimed = any(v.lock and state.locks[v.lock].closed_by is not None for v in votes)
            if not reclaimed:
                assert held == max(v.units for v in votes) * (
                    state.proposals[pid].rules.asset is not None
                )
    charter = state.charters.get(label)
    if charter is not None:  # every spend after the charter carries out one passed proposal
        done = list(state.executed.values())
        assert len(done) == len(set(done))
        for pid in state.executed:
            assert state.results[pid].passed


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_vote_histories_in_any_delivery_order_give_one_state_and_one_tally(
    ops: Any, seed: int
) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        ref = make("ref")
        h = VoteHistory(ops, ref)
        check_invariants(ref, h.x["label"].public_key)
        check_any_delivery_order(
            make,
            ref,
            h.sc.wires(),
            rnd,
            lambda led: check_invariants(led, h.x["label"].public_key),
            same=tallies,
        )


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_conservation_with_vote_locks_holds_for_any_part_of_a_history(ops: Any, seed: int) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        h = VoteHistory(ops, make("ref"))
        partial = make()
        ingest_a_random_part(partial, h.sc.wires(), rnd)
        check_invariants(partial, h.x["label"].public_key)


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 2**16))
def test_vote_validity_depends_only_on_the_feed_prefix_and_the_deps(ops: Any, pick: int) -> None:
    with ledgers() as make:
        h = VoteHistory(ops, make("ref"))
        kept = [
            e
            for e in h.sc.entries
            if e.kind in ("vote", "count", "close", "reclaim", "send", "asset.mint", "sign")
        ]
        check_judged_on_closure_alone(make, h, kept[pick % 5 :: 5], h.refused[pick % 5 :: 5])


def test_the_interpreter_exercises_every_operation() -> None:
    ops = fixed_ops(OP_NAMES, seed=5, count=500, a_max=5, n_max=2000)
    with ledgers() as make:
        h = VoteHistory(ops, make("ref"))
        check_invariants(h.ref, h.x["label"].public_key)
        for name in OP_NAMES:
            assert h.kept[name] > 0, (name, h.kept, h.tried)
        reasons = Counter(e.kind for e in h.refused)
        assert reasons["vote"] and reasons["close"] and reasons["send"], reasons
        assert h.state.results and any(r.passed for r in h.state.results.values())
        assert h.state.executed  # the label carried out at least one passed proposal
        check_refused_on_closure_alone(make, h, h.refused[::3])
