"""A fork in a counted voter's feed (docs/PROTOCOL.md, "Votes and charters", "A voter forks"):
the vote is void and counts nothing, the close keeps its effect and its result is computed
without it, on every replica, whichever arrived first: the close or the fork proof."""

from __future__ import annotations

import random
from typing import Any

from ledger.entry import Entry
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario
from tests.ledger.governance import action, count, label_world, proposal, vote
from tests.ledger.test_properties import check_conservation, deliver_shuffled
from tests.ledger.test_rules import deliver


def _voted(yes_units: int = 600) -> tuple[Scenario, dict[str, Any], dict[str, Entry]]:
    """A treasury send put to a vote: fan0 yes 100, fan1 yes ``yes_units``, fan2 no 300; the
    seeder counts all three and closes; the label pays as voted."""
    sc, x = label_world()
    fans = x["fans"]
    p = proposal(
        sc,
        fans[0],
        settler=x["seeder"],
        charter=x["charter"],
        act=action("send", x["artist"], 1_000, x["crd"]),
        method="token",
        asset=x["coop"],
        quorum=100,
    )
    v0 = vote(sc, fans[0], p, [0], units=100)
    v1 = vote(sc, fans[1], p, [0], units=yes_units)
    v2 = vote(sc, fans[2], p, [1], units=300)
    c = count(sc, x["seeder"], p, [v0, v1, v2], timestamp=p.body["closes"] + 1)
    pay = sc.make(
        x["label"],
        "send",
        {"asset": x["crd"].hash, "to": x["artist"].public_key, "amount": 1_000, "memo": ""},
        [c],
    )
    return sc, x, {"p": p, "v0": v0, "v1": v1, "v2": v2, "close": c, "pay": pay}


def _fork_of(sc: Scenario, who: Any, at: Entry) -> Entry:
    return sc.fork(who, at.seq)


def test_a_forked_voters_vote_counts_nothing_and_the_close_stands(led: Ledger) -> None:
    sc, x, e = _voted()
    deliver(led, sc)
    r = led.state.results[e["p"].hash]
    assert (r.tally, r.passed) == ((700, 300), True)
    assert led.is_effective(e["pay"].hash)
    # fan1 equivocates at the seq of its vote: the vote is void from the fork point
    led.ingest([_fork_of(sc, x["fans"][1], e["v1"]).wire])
    assert led.quarantined()
    assert not led.is_effective(e["v1"].hash)
    assert led.is_effective(e["close"].hash)  # before: the close was void, no result at all
    r = led.state.results[e["p"].hash]
    assert (r.tally, r.turnout, r.voters, r.passed) == ((100, 300), 400, 2, False)
    # the proposal no longer passed: the label's payment carried out nothing and is void
    assert not led.is_effective(e["pay"].hash)
    assert e["p"].hash not in led.state.executed
    check_conservation(led)


def test_a_fork_that_leaves_the_result_keeps_the_carry_out(led: Ledger) -> None:
    sc, x, e = _voted()
    deliver(led, sc)
    led.ingest([_fork_of(sc, x["fans"][2], e["v2"]).wire])  # the "no" voter forks
    r = led.state.results[e["p"].hash]
    assert (r.tally, r.passed) == ((700, 0), True)
    assert led.is_effective(e["pay"].hash)
    assert led.state.executed[e["p"].hash] == e["pay"].hash
    check_conservation(led)


def test_every_replica_agrees_whether_the_fork_or_the_close_came_first(open_ledger: Any) -> None:
    sc, x, e = _voted()
    fork = _fork_of(sc, x["fans"][1], e["v1"])
    wires = sc.wires()
    first = open_ledger("close-first.sqlite")
    deliver(first, sc)
    first.ingest([fork.wire])
    second = open_ledger("fork-first.sqlite")
    fan1 = x["fans"][1].public_key
    # the fork's branch arrives before the original vote and the close
    head = [
        w
        for w, en in zip(wires, sc.entries, strict=True)
        if en.seq < e["v1"].seq or en.author != fan1
    ]
    before_vote = [w for w in head if w not in {e["close"].wire, e["pay"].wire}]
    second.ingest(before_vote)
    second.ingest([fork.wire])
    second.ingest(wires)
    hashes = {first.state_hash(), second.state_hash()}
    for n in range(3):
        led = open_ledger(f"r{n}.sqlite")
        order = [*wires, fork.wire]
        deliver_shuffled(led, order, random.Random(n))
        hashes.add(led.state_hash())
        assert led.state.results[e["p"].hash].tally == (100, 300)
    assert len(hashes) == 1
