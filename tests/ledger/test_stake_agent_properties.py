"""Property tests for stakes answered by the issuer's agent: the coin histories of
tests/ledger/test_coin_properties.py, with an agent the issuer delegated, stakes that name it as
their settler, answers by the right or the wrong settler, agent checkpoints as deadline proofs,
and distributions that name (or not) the agent's feed: one state hash in any delivery order;
conservation; every distribution's total recomputed from the entries alone (an issuer's stake
counts when accepted earlier in its feed, an agent's when accepted at or below the highest agent
seq any distribution of the charter named so far); an entry is judged the same on its dependency
closure alone."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.ledger import Ledger
from tests.ledger.histories import (
    check_accounting,
    check_any_delivery_order,
    check_judged_on_closure_alone,
    drawn_ops,
    fixed_ops,
    ledgers,
)
from tests.ledger.test_coin_properties import OP_NAMES, SETTINGS, CoinHistory

AGENT_OPS = [*OP_NAMES, "agent_checkpoint"]
OPS = drawn_ops(AGENT_OPS, 5, 3_000)


class AgentCoinHistory(CoinHistory):
    def __init__(self, ops: list[tuple[str, int, int, int]], ref: Ledger) -> None:
        self.deleg: Entry | None = None
        super().__init__([], ref)
        self.agent = self.x["agent"]
        self.people.append(self.agent)
        self.deleg = self.try_make(
            self.artist, "delegate", {"agent": self.agent.public_key, "listings": [], "keys": []}
        )
        assert self.deleg is not None
        self.run(ops)

    def stake_settler(self, a: int, b: int) -> tuple[dict[str, Any], list[Entry]]:
        if self.deleg is None or a % 2 == 0:
            return {}, []
        # sometimes without the delegation
        return {"settler": self.agent.public_key}, [self.deleg] if b % 7 else []

    def _answer(self, kind: str, b: int, n: int) -> bool:
        if not self.stakes:
            return False
        s = self.stakes[n % len(self.stakes)]
        settler = self.ref.state.stakes[s.hash].settler
        who = self.agent if settler == self.agent.public_key else self.artist
        if b % 5 == 4:  # the other one: refused
            who = self.artist if who is self.agent else self.agent
        return self.try_make(who, kind, {"stake": s.hash}, [s]) is not None

    def distribution_deps(self, a: int) -> list[Entry]:
        seen = self.ref.state.last_seen.get(self.agent.public_key)
        return [self.ref.entry(seen[1])] if seen and a % 2 else []

    def deadline_witness(self, a: int) -> Any:
        return self.agent if a % 2 else self.artist

    def op_agent_checkpoint(self, a: int, b: int, n: int) -> bool:
        return self.try_make(self.agent, "checkpoint", {"open": n % 3}) is not None


def check(led: Ledger, h: AgentCoinHistory) -> None:
    check_accounting(led)
    state = led.state
    entries = {e.hash: e for e in h.sc.entries}
    agent = h.agent.public_key
    dists = sorted((e for e in h.sc.entries if e.kind == "distribute"), key=lambda e: e.seq)
    answers = {e.body["stake"]: e for e in h.sc.entries if e.kind == "stake.accept"}
    named = 0
    for d in dists:
        named = max([named, *(entries[x].seq for x in d.deps if entries[x].author == agent)])
        counted = 0
        for sid, ok in answers.items():
            s = entries[sid]
            if s.body["until"] < d.timestamp:
                continue
            if ok.author == agent:
                counted += s.body["amount"] if ok.seq <= named else 0
            elif ok.seq < d.seq:
                counted += s.body["amount"]
        assert state.distributions[d.hash].total_staked == counted
    for sid, ok in answers.items():  # answered by the settler the stake names, and only by it
        assert ok.author == entries[sid].body.get("settler", h.artist.public_key)


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_agent_histories_in_any_delivery_order_give_one_state(ops: Any, seed: int) -> None:
    rnd = random.Random(seed)
    with ledgers() as make:
        ref = make("ref")
        h = AgentCoinHistory(ops, ref)
        check(ref, h)
        check_any_delivery_order(make, ref, h.sc.wires(), rnd, lambda led: check(led, h))


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 2**16))
def test_validity_depends_only_on_the_feed_prefix_and_the_deps(ops: Any, pick: int) -> None:
    kinds = ("stake", "stake.accept", "stake.refuse", "distribute", "collect", "reclaim")
    with ledgers() as make:
        h = AgentCoinHistory(ops, make("ref"))
        kept = [e for e in h.sc.entries if e.kind in kinds]
        refused = [e for e in h.refused if e.kind in kinds]
        check_judged_on_closure_alone(make, h, kept[pick % 5 :: 5], refused[pick % 5 :: 5])


def test_the_interpreter_exercises_agent_stakes() -> None:
    ops = fixed_ops(AGENT_OPS, seed=11, count=500, a_max=5, n_max=3000)
    with ledgers() as make:
        h = AgentCoinHistory(ops, make("ref"))
        check(h.ref, h)
        state = h.ref.state
        by_agent = [s for s in state.stakes.values() if s.settler == h.agent.public_key]
        assert any(s.accepted_seq is not None for s in by_agent)
        assert any(
            d.agent_seqs and d.total_staked and d.collected for d in state.distributions.values()
        )
        assert any(e.kind == "stake.accept" and e.author == h.artist.public_key for e in h.refused)
