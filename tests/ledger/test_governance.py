"""Proposals, votes, counts and closes, and a label bound by its charter: every rule and conflict
case of docs/PROTOCOL.md ("Votes and charters")."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ledger.entry import Entry
from ledger.features.governance import CLOSE_WINDOW_MS
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario
from tests.ledger.governance import (
    HOUR,
    action,
    count,
    label_world,
    proposal,
    vote,
)
from tests.ledger.market import checkpoint, offer, reclaim
from tests.ledger.test_rules import accepted, deliver, refused


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    sc, x = label_world()
    deliver(led, sc)
    return sc, x


def conserved(led: Ledger) -> None:
    for asset in led.state.assets:
        acc = led.state.accounting(asset)
        assert acc.supply == acc.balances + acc.locked + acc.in_flight, acc


def bal(led: Ledger, who: Any, asset: Entry) -> int:
    return led.state.balance(who.public_key, asset.hash)


def poll(sc: Scenario, x: dict[str, Any], **kw: Any) -> Entry:
    """A plain token-weighted question of fan0, counted by the seeder."""
    kw.setdefault("method", "token")
    kw.setdefault("asset", x["coop"])
    return proposal(sc, x["fans"][0], settler=x["seeder"], **kw)


# -- votes and their locks -------------------------------------------------------------------------


def test_a_token_vote_locks_its_weight_until_counted(led: Ledger, world: Any) -> None:
    sc, x = world
    fan = x["fans"][1]
    p = poll(sc, x)
    v = vote(sc, fan, p, [0], units=600)
    accepted(led, p)
    accepted(led, v)
    assert bal(led, fan, x["coop"]) == 400
    assert led.state.locked(fan.public_key, x["coop"].hash) == 600
    assert led.state.votes[v.hash].weight == 600
    conserved(led)
    # locked units cannot be sent: moving them to another account to vote again is an overdraft
    send = sc.make(
        fan,
        "send",
        {"asset": x["coop"].hash, "to": x["fans"][2].public_key, "amount": 401, "memo": ""},
        advance=False,
    )
    refused(led, send, "overdraft")
    c = count(sc, x["seeder"], p, [v], timestamp=p.body["closes"] + 1)
    accepted(led, c)
    assert led.state.locked(fan.public_key, x["coop"].hash) == 0
    assert led.state.incoming(fan.public_key)[0].amount == 600  # in flight back to the voter
    conserved(led)
    r = led.state.results[p.hash]
    assert (r.tally, r.turnout, r.quorum_met, r.passed, r.winner) == ((600, 0), 600, True, True, 0)


def test_locked_weight_cannot_vote_in_another_proposal(led: Ledger, world: Any) -> None:
    sc, x = world
    fan = x["fans"][1]
    p1, p2 = poll(sc, x), poll(sc, x, title="Another")
    for e in (p1, p2):
        accepted(led, e)
    accepted(led, vote(sc, fan, p1, [0], units=700))
    refused(led, vote(sc, fan, p2, [0], units=301, advance=False), "overdraft")
    accepted(led, vote(sc, fan, p2, [1], units=300))
    conserved(led)


def test_quadratic_weight_is_the_integer_square_root(led: Ledger, world: Any) -> None:
    sc, x = world
    p = poll(sc, x, method="quadratic")
    accepted(led, p)
    for fan, units in zip(x["fans"], (1, 99, 1000), strict=True):
        v = vote(sc, fan, p, [0], units=units)
        accepted(led, v)
    assert sorted(v.weight for v in led.state.votes.values()) == [1, 9, 31]


def test_member_list_votes_one_each_and_lock_nothing(led: Ledger, world: Any) -> None:
    sc, x = world
    fans = x["fans"]
    p = proposal(sc, fans[0], settler=x["seeder"], method="member", members=fans[:2])
    accepted(led, p)
    accepted(led, vote(sc, fans[1], p, [1]))
    refused(led, vote(sc, fans[2], p, [0], advance=False), "member list")
    refused(led, vote(sc, fans[0], p, [0], units=5, advance=False), "units 0")
    assert led.state.votes and all(
        v.weight == 1 and v.lock is None for v in led.state.votes.values()
    )


def test_member_by_holding_locks_exactly_the_minimum(led: Ledger, world: Any) -> None:
    sc, x = world
    fan = x["fans"][2]
    p = poll(sc, x, method="member", min_holding=250)
    accepted(led, p)
    refused(led, vote(sc, fan, p, [0], units=249, advance=False), "minimum holding 250")
    accepted(led, vote(sc, fan, p, [0], units=250))
    assert led.state.locked(fan.public_key, x["coop"].hash) == 250


def test_a_buyer_votes_with_a_granted_purchase_of_the_proposers_release(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    artist, fan = x["artist"], x["fans"][0]
    sc.receive(fan, sc.send(x["gw"], x["crd"], fan, 5_000))
    li = sc.listing(artist, x["crd"], price=300)
    other = sc.listing(x["label"], x["crd"], price=300, title="Other")
    pu, pu2 = sc.purchase(fan, li), sc.purchase(fan, other)
    g, g2 = sc.grant(artist, pu), sc.grant(x["label"], pu2)
    ungranted = sc.purchase(fan, li)
    p = proposal(sc, artist, method="buyer", title="Next album: acoustic?")
    deliver(led, sc)
    refused(led, vote(sc, fan, p, [0], advance=False), "names a grant")
    refused(led, vote(sc, fan, p, [0], qualifier=g2, advance=False), "community")
    refused(led, vote(sc, fan, p, [0], qualifier=ungranted, advance=False), "not a grant")
    refused(led, vote(sc, x["fans"][1], p, [0], qualifier=g, advance=False), "voter's purchase")
    v = vote(sc, fan, p, [0], qualifier=g)
    accepted(led, v)
    assert led.state.votes[v.hash].weight == 1


@pytest.mark.parametrize(
    "style,choices,given,word",
    [
        ("yes_no", ["yes", "no"], [0, 1], "exactly one"),
        ("single", ["a", "b", "c"], [3], "3 choices"),
        ("single", ["a", "b", "c"], [0, 2], "exactly one"),
    ],
)
def test_choices_must_fit_the_proposal(
    led: Ledger, world: Any, style: str, choices: list, given: list, word: str
) -> None:
    sc, x = world
    p = poll(sc, x, style=style, choices=choices)
    accepted(led, p)
    refused(led, vote(sc, x["fans"][1], p, given, units=10, advance=False), word)


@pytest.mark.parametrize(
    "kw,word",
    [
        ({"style": "yes_no", "choices": ["no", "yes"]}, "yes/no"),
        ({"method": "token", "asset": None}, "names an asset"),
        ({"method": "member", "members": [], "min_holding": 0}, "member list"),
        ({"method": "buyer", "min_holding": 3, "asset": None}, "no asset"),
        ({"closes": 5}, "closes before"),
    ],
)
def test_malformed_proposals_are_rejected(led: Ledger, world: Any, kw: dict, word: str) -> None:
    sc, x = world
    refused(led, poll(sc, x, advance=False, **kw), word)


def test_a_later_vote_replaces_the_earlier_and_locks_only_what_is_new(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    fan = x["fans"][1]
    p = poll(sc, x)
    v1 = vote(sc, fan, p, [0], units=500)
    v2 = vote(sc, fan, p, [1], units=200)  # less: nothing new is locked, nothing unlocked
    v3 = vote(sc, fan, p, [1], units=800)  # more: 300 more are locked
    deliver(led, sc)
    assert led.state.locked(fan.public_key, x["coop"].hash) == 800
    assert led.state.latest_votes(p.hash)[fan.public_key].id == v3.hash
    assert led.state.running_tally(led.state.proposals[p.hash]).tally == (0, 800)
    # the settler counts the latest vote once: all the voter's locks up to it are released
    accepted(led, count(sc, x["seeder"], p, [v3], timestamp=p.body["closes"] + 1))
    assert led.state.locked(fan.public_key, x["coop"].hash) == 0
    assert led.state.results[p.hash].tally == (0, 800)
    assert led.state.omitted(p.hash) == []
    refused(led, count(sc, x["seeder"], p, [v1], advance=False), "already closed")
    assert v2.hash in led.state.votes
    conserved(led)


def test_a_settler_counting_a_replaced_vote_shows_the_latest_as_omitted(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    fan = x["fans"][1]
    p = poll(sc, x)
    v1 = vote(sc, fan, p, [0], units=500)
    v2 = vote(sc, fan, p, [1], units=700)
    accepted(led, p)
    accepted(led, v1)
    c = count(sc, x["seeder"], p, [v1], timestamp=p.body["closes"] + 1)
    accepted(led, c)
    accepted(led, v2)  # made before the closing time: valid, arrives after the close
    assert [v.id for v in led.state.omitted(p.hash)] == [v2.hash]
    # v1's 500 came back with the close; v2's extra 200 waits for a deadline proof
    assert led.state.locked(fan.public_key, x["coop"].hash) == 200
    refused(led, reclaim(sc, fan, v2, c, advance=False), "not dated after")
    proof = checkpoint(sc, x["seeder"], timestamp=p.body["closes"] + CLOSE_WINDOW_MS + 1)
    accepted(led, proof)
    accepted(led, reclaim(sc, fan, v2, proof))
    # 300 never locked + 200 reclaimed; the 500 the close released wait to be received
    assert bal(led, fan, x["coop"]) == 500
    assert led.state.locked(fan.public_key, x["coop"].hash) == 0
    assert led.state.incoming(fan.public_key)[0].amount == 500
    conserved(led)


# -- counting and closing --------------------------------------------------------------------------


def test_only_the_settler_counts_after_the_closing_time_within_the_window(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    p = poll(sc, x)
    v = vote(sc, x["fans"][1], p, [0], units=100)
    deliver(led, sc)
    closes = p.body["closes"]
    refused(led, count(sc, x["fans"][0], p, [v], advance=False, timestamp=closes + 1), "settler")
    refused(
        led, vote(sc, x["fans"][2], p, [0], units=1, timestamp=closes + 1, advance=False), "closed"
    )
    too_late = count(sc, x["seeder"], p, [v], advance=False, timestamp=closes + CLOSE_WINDOW_MS + 1)
    refused(led, too_late, "window")
    # the seeder's clock in the scenario is far before ``closes``: an early close is refused
    refused(led, count(sc, x["seeder"], p, [v], advance=False, timestamp=closes), "window")


def test_a_close_counting_an_invalid_vote_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    fans, seeder = x["fans"], x["seeder"]
    p, other = poll(sc, x), poll(sc, x, title="Other")
    a = vote(sc, fans[1], p, [0], units=100)
    b = vote(sc, fans[1], p, [1], units=100)
    elsewhere = vote(sc, fans[2], other, [0], units=100)
    deliver(led, sc)
    t = p.body["closes"] + 1
    refused(led, count(sc, seeder, p, [a, b], advance=False, timestamp=t), "counted once")
    refused(
        led,
        count(sc, seeder, p, [elsewhere], advance=False, timestamp=t),
        "not a vote on this proposal",
    )
    refused(led, count(sc, seeder, p, [x["charter"]], advance=False, timestamp=t), "not a vote")
    hidden = sc.make(
        seeder, "close", {"proposal": p.hash, "votes": [a.hash]}, [p], timestamp=t, advance=False
    )
    refused(led, hidden, "deps")
    accepted(led, count(sc, seeder, p, [a], final=False, timestamp=t))
    refused(led, count(sc, seeder, p, [b], advance=False, timestamp=t + 1), "counted once")
    accepted(led, count(sc, seeder, p, [], timestamp=t + 2))
    assert led.state.results[p.hash].tally == (100, 0)


def test_quorum_and_threshold(led: Ledger, world: Any) -> None:
    sc, x = world
    fans, seeder = x["fans"], x["seeder"]
    low = poll(sc, x, quorum=1_000)
    split = poll(sc, x, threshold_bps=6_667, title="Two thirds")
    votes = [vote(sc, fans[1], low, [0], units=500), vote(sc, fans[2], low, [0], units=499)]
    votes2 = [vote(sc, fans[1], split, [0], units=200), vote(sc, fans[2], split, [1], units=100)]
    t = max(low.body["closes"], split.body["closes"]) + 1
    count(sc, seeder, low, votes, timestamp=t)
    count(sc, seeder, split, votes2, timestamp=t)
    deliver(led, sc)
    r = led.state.results[low.hash]
    assert (r.turnout, r.quorum_met, r.passed) == (999, False, False)
    r = led.state.results[split.hash]  # 200/300 = 66.66 % < 66.67 %
    assert (r.tally, r.quorum_met, r.winner, r.passed) == ((200, 100), True, 0, False)


def test_approval_counts_each_approved_choice_and_turnout_once(led: Ledger, world: Any) -> None:
    sc, x = world
    fans = x["fans"]
    p = poll(sc, x, style="approval", choices=["a", "b", "c"])
    vs = [vote(sc, fans[1], p, [0, 2], units=300), vote(sc, fans[2], p, [2], units=100)]
    count(sc, x["seeder"], p, vs, timestamp=p.body["closes"] + 1)
    deliver(led, sc)
    r = led.state.results[p.hash]
    assert (r.tally, r.turnout, r.winner, r.passed) == ((300, 0, 400), 400, 2, True)


def test_votes_are_unlocked_by_a_deadline_proof_when_nobody_closes(led: Ledger, world: Any) -> None:
    sc, x = world
    fan = x["fans"][1]
    p = poll(sc, x)
    v = vote(sc, fan, p, [0], units=900)
    deliver(led, sc)
    early = checkpoint(sc, x["seeder"], timestamp=p.body["closes"] + HOUR)
    accepted(led, early)
    refused(led, reclaim(sc, fan, v, early, advance=False), "not dated after")
    late = checkpoint(sc, x["seeder"], timestamp=p.body["closes"] + CLOSE_WINDOW_MS + 1)
    accepted(led, late)
    # a close after the window would race the reclaim: it is refused
    refused(led, count(sc, x["seeder"], p, [v], advance=False), "window")
    accepted(led, reclaim(sc, fan, v, late))
    assert bal(led, fan, x["coop"]) == 1_000
    assert led.state.proposal_status(led.state.proposals[p.hash], late.timestamp) == "unsettled"
    conserved(led)


# -- a label bound by its charter ------------------------------------------------------------------


def _passed(
    sc: Scenario, x: dict[str, Any], act: dict[str, Any], yes: bool = True
) -> tuple[Entry, Entry]:
    fans = x["fans"]
    p = proposal(
        sc,
        fans[0],
        settler=x["seeder"],
        charter=x["charter"],
        act=act,
        method="token",
        asset=x["coop"],
        quorum=100,
    )
    vs = [vote(sc, fans[1], p, [0 if yes else 1], units=600), vote(sc, fans[2], p, [1], units=300)]
    c = count(sc, x["seeder"], p, vs, timestamp=p.body["closes"] + 1)
    for fan in fans[1:]:
        sc.receive(fan, c)  # the units the close unlocked
    return p, c


def _send(sc: Scenario, x: dict[str, Any], amount: int, deps: list[Entry], **kw: Any) -> Entry:
    return sc.make(
        x["label"],
        "send",
        {"asset": x["crd"].hash, "to": x["artist"].public_key, "amount": amount, "memo": "advance"},
        deps,
        **kw,
    )


def test_a_chartered_treasury_moves_only_as_voted(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, _send(sc, x, 10_000, [], advance=False), "passed proposal")
    p, c = _passed(sc, x, action("send", x["artist"], 10_000, x["crd"]))
    deliver(led, sc)
    assert led.state.results[p.hash].passed
    refused(led, _send(sc, x, 10_001, [c], advance=False), "exactly")
    refused(led, _send(sc, x, 10_000, [p], advance=False), "passed proposal")  # not the close
    s = _send(sc, x, 10_000, [c])
    accepted(led, s)
    assert led.state.executed[p.hash] == s.hash
    refused(led, _send(sc, x, 10_000, [c], advance=False), "already carried out")
    assert bal(led, x["label"], x["crd"]) == 90_000
    conserved(led)


def test_a_failed_proposal_moves_nothing(led: Ledger, world: Any) -> None:
    sc, x = world
    p, c = _passed(sc, x, action("send", x["artist"], 10_000, x["crd"]), yes=False)
    deliver(led, sc)
    assert not led.state.results[p.hash].passed
    refused(led, _send(sc, x, 10_000, [c], advance=False), "did not pass")


def test_a_chartered_feed_mints_and_signs_only_as_voted(led: Ledger, world: Any) -> None:
    sc, x = world
    label, artist = x["label"], x["artist"]
    mint = {"asset": x["coop"].hash, "amount": 500}
    refused(led, sc.make(label, "asset.mint", mint, advance=False), "passed proposal")
    _, cm = _passed(sc, x, action("mint", label, 500, x["coop"]))
    _, cs = _passed(sc, x, action("sign", artist, 2_000))
    deliver(led, sc)
    refused(
        led,
        sc.make(
            label, "sign", {"artist": artist.public_key, "share_bps": 2_500}, [cs], advance=False
        ),
        "exactly",
    )
    refused(led, sc.make(label, "asset.mint", mint, [cs], advance=False), "exactly")
    accepted(led, sc.make(label, "asset.mint", mint, [cm]))
    accepted(led, sc.make(label, "sign", {"artist": artist.public_key, "share_bps": 2_000}, [cs]))
    assert led.state.signed_artists(label.public_key) == {artist.public_key: 2_000}
    # the artist's listings then pay the label its share through their split (a view)
    shared = sc.listing(artist, x["crd"], split=[(artist, 8_000), (label, 2_000)])
    alone = sc.listing(artist, x["crd"], title="Solo")
    deliver(led, sc, shared, alone)
    assert led.state.label_shares(shared.hash) == [(label.public_key, 2_000, 2_000)]
    assert led.state.label_shares(alone.hash) == [(label.public_key, 2_000, 0)]


def test_a_chartered_feed_cannot_spend_by_other_kinds(led: Ledger, world: Any) -> None:
    sc, x = world
    label = x["label"]
    li = sc.listing(x["artist"], x["crd"], price=300)
    accepted(led, li)
    buy = sc.make(
        label,
        "purchase",
        {
            "listing": li.hash,
            "track": None,
            "asset": x["crd"].hash,
            "amount": 300,
            "payouts": sc.payouts(li, 300),
        },
        [li],
        advance=False,
    )
    refused(led, buy, "chartered")
    refused(led, offer(sc, label, x["crd"], 10, x["coop"], 10, advance=False), "chartered")
    p = poll(sc, x)
    accepted(led, p)
    refused(led, vote(sc, label, p, [0], units=10, advance=False), "chartered")
    refused(
        led,
        sc.make(label, "charter", dict(x["charter"].body), advance=False),
        "already has a charter",
    )


def test_proposals_under_a_charter_follow_its_rules(led: Ledger, world: Any) -> None:
    sc, x = world
    fans = x["fans"]
    kw = dict(
        settler=x["seeder"],
        charter=x["charter"],
        method="token",
        asset=x["coop"],
        quorum=100,
        advance=False,
    )
    refused(led, proposal(sc, fans[0], **{**kw, "quorum": 1}), "charter's rules")
    refused(led, proposal(sc, fans[0], **{**kw, "settler": fans[0]}), "charter's settler")
    ts = sc.next_ts()
    refused(led, proposal(sc, fans[0], timestamp=ts, closes=ts + 1, **kw), "voting period")
    refused(
        led,
        proposal(sc, fans[0], act=action("send", fans[0], 1, x["crd"]), **{**kw, "charter": None}),
        "under a charter",
    )
    refused(
        led,
        proposal(sc, fans[0], act=action("mint", fans[0], 1, x["coop"]), **kw),
        "chartered feed itself",
    )


def test_a_send_before_the_charter_stays_valid(led: Ledger) -> None:
    sc, x = label_world()
    # the fans' COOP came from the label before it chartered itself; all of it is accepted
    deliver(led, sc)
    assert all(led.state.balance(f.public_key, x["coop"].hash) == 1_000 for f in x["fans"])
    assert led.state.charters[x["label"].public_key].id == x["charter"].hash


def test_a_count_unlocks_only_up_to_the_vote_it_names_in_any_delivery_order(
    open_ledger: Any,
) -> None:
    """The settler counted a voter's first vote; the voter's larger second vote (made before
    the closing time) reaches replicas before or after the count. Every order gives one state:
    the count releases the first vote's lock only, the second's extra stays locked."""
    sc, x = label_world()
    base = list(sc.entries)
    fan = x["fans"][1]
    p = poll(sc, x)
    v1 = vote(sc, fan, p, [0], units=300)
    v2 = vote(sc, fan, p, [1], units=900)
    c = count(sc, x["seeder"], p, [v1], timestamp=p.body["closes"] + 1)
    hashes = set()
    for n, order in enumerate(itertools.permutations([p, v1, v2, c])):
        led = open_ledger(f"o{n}.sqlite")
        deliver(led, sc, *base)
        assert not led.ingest([e.wire for e in order]).rejected
        assert led.state.locked(fan.public_key, x["coop"].hash) == 600
        hashes.add(led.state_hash())
    assert len(hashes) == 1
