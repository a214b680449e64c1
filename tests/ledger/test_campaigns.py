"""Campaigns (all-or-nothing fan funding): every rule and conflict case of docs/PROTOCOL.md
("Campaigns")."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.entry import Entry
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario
from tests.ledger.funding import HOUR, campaign, close, count, funding, pledge, refund
from tests.ledger.market import checkpoint
from tests.ledger.test_rules import accepted, deliver, refused


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    sc, x = funding()
    deliver(led, sc)
    return sc, x


def conserved(led: Ledger) -> None:
    for asset in led.state.assets:
        acc = led.state.accounting(asset)
        assert acc.supply == acc.balances + acc.locked + acc.in_flight, acc


def bal(led: Ledger, who: Any, x: dict[str, Any]) -> int:
    return led.state.balance(who.public_key, x["crd"].hash)


def status(led: Ledger, p: Entry) -> str:
    return led.state.pledge_status(led.state.pledges[p.hash])


# -- campaigns and pledges -------------------------------------------------------------------------


def test_a_pledge_is_a_conditional_transfer_to_the_artist(led: Ledger, world: Any) -> None:
    sc, x = world
    c = campaign(sc, x["artist"], x["crd"], 1_000)
    accepted(led, c)
    p = pledge(sc, x["fans"][0], c, 300)
    accepted(led, p)
    assert bal(led, x["fans"][0], x) == 9_700
    cond = led.state.conditional[p.hash]
    assert (cond.to, cond.settler, cond.deadline) == (
        x["artist"].public_key,
        x["artist"].public_key,
        c.body["close_by"],
    )
    assert status(led, p) == "pending" and led.state.pledged(c.hash) == 300
    camp = led.state.campaigns[c.hash]
    assert led.state.campaign_status(camp, c.body["deadline"]) == "open"
    assert led.state.campaign_status(camp, c.body["deadline"] + 1) == "closing"
    assert led.state.campaign_status(camp, c.body["close_by"] + 1) == "lapsed"
    conserved(led)


@pytest.mark.parametrize(
    "change,word",
    [
        ({"deadline": 0}, "deadline"),
        ({"close_by": "deadline"}, "close_by"),
        (
            {
                "tiers": [
                    {"name": "B", "min": 50, "reward": ""},
                    {"name": "A", "min": 10, "reward": ""},
                ]
            },
            "increasing",
        ),
    ],
)
def test_malformed_campaigns_are_rejected(led: Ledger, world: Any, change: dict, word: str) -> None:
    sc, x = world
    body = dict(campaign(sc, x["artist"], x["crd"], 100, advance=False).body)
    for k, v in change.items():
        body[k] = body[v] if v == "deadline" else v
    refused(led, sc.make(x["artist"], "campaign", body, [x["crd"]], advance=False), word)


def test_a_campaign_names_another_feeds_asset_in_deps(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, campaign(sc, x["artist"], x["crd"], 100, deps=[], advance=False), "deps")


def test_pledges_after_the_deadline_or_by_the_artist_or_settler_are_rejected(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    fan = x["fans"][0]
    sc.receive(x["artist"], sc.send(x["gw"], x["crd"], x["artist"], 100))
    sc.receive(x["seeder"], sc.send(x["gw"], x["crd"], x["seeder"], 100))
    deliver(led, sc, *sc.entries[-4:])
    c = campaign(sc, x["artist"], x["crd"], 100, settler=x["seeder"])
    accepted(led, c)
    refused(led, pledge(sc, x["artist"], c, 10, advance=False), "neither the artist")
    refused(led, pledge(sc, x["seeder"], c, 10, advance=False), "neither the artist")
    refused(led, pledge(sc, fan, c, 10_001, advance=False), "overdraft")
    refused(
        led,
        pledge(sc, fan, c, 10, timestamp=c.body["deadline"] + 1, advance=False),
        "deadline has passed",
    )
    accepted(led, pledge(sc, fan, c, 10, timestamp=c.body["deadline"]))


# -- the settler's close ---------------------------------------------------------------------------


def test_success_makes_the_counted_pledges_the_artists_in_one_transfer(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    artist, seeder = x["artist"], x["seeder"]
    f0, f1, f2 = x["fans"]
    c = campaign(sc, artist, x["crd"], 500, settler=seeder)
    p0, p1, p2 = pledge(sc, f0, c, 150), pledge(sc, f1, c, 350), pledge(sc, f2, c, 40)
    deliver(led, sc, c, p0, p1, p2)
    after = c.body["deadline"] + 1
    refused(led, count(sc, artist, c, [p0], advance=False), "settler")
    n = count(sc, seeder, c, [p0], timestamp=after)
    accepted(led, n)
    refused(led, count(sc, seeder, c, [p0], advance=False), "already counted")
    assert status(led, p0) == "counted" and led.state.campaigns[c.hash].counted == 150
    done = close(sc, seeder, c, True, [p1])
    accepted(led, done)
    camp = led.state.campaigns[c.hash]
    assert (camp.outcome, camp.closed_by, camp.counted) == ("funded", done.hash, 500)
    assert [status(led, p) for p in (p0, p1, p2)] == ["accepted", "accepted", "refundable"]
    transfer = led.state.inflight[(done.hash, artist.public_key)]
    assert transfer.amount == 500
    conserved(led)
    accepted(led, sc.receive(artist, done))
    assert bal(led, artist, x) == 500
    # the pledge the close left out goes back to its backer with the close as proof
    refused(led, refund(sc, f0, p0, done, advance=False), "already accepted")
    accepted(led, refund(sc, f2, p2, done))
    assert bal(led, f2, x) == 10_000 and status(led, p2) == "reclaimed"
    assert [(b.amount, b.tier.name) for b in led.state.backers(camp)] == [
        (350, "Patron"),
        (150, "Patron"),
    ]
    conserved(led)


def test_success_needs_the_goal_and_the_deadline(led: Ledger, world: Any) -> None:
    sc, x = world
    c = campaign(sc, x["artist"], x["crd"], 500)
    p0, p1 = pledge(sc, x["fans"][0], c, 300), pledge(sc, x["fans"][1], c, 300)
    deliver(led, sc, c, p0, p1)
    refused(led, close(sc, x["artist"], c, True, [p0, p1], advance=False), "after its deadline")
    after = c.body["deadline"] + 1
    refused(
        led,
        close(sc, x["artist"], c, True, [p0], timestamp=after, advance=False),
        "do not reach the goal",
    )
    accepted(led, close(sc, x["artist"], c, True, [p0, p1], timestamp=after))


def test_failure_makes_every_pledge_reclaimable_and_pays_the_artist_nothing(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    artist = x["artist"]
    c = campaign(sc, artist, x["crd"], 5_000)
    p0, p1 = pledge(sc, x["fans"][0], c, 300), pledge(sc, x["fans"][1], c, 200)
    deliver(led, sc, c, p0, p1)
    accepted(led, count(sc, artist, c, [p0]))
    failed = close(sc, artist, c, False)  # a failure may come before the deadline
    accepted(led, failed)
    assert led.state.campaigns[c.hash].outcome == "failed"
    assert [status(led, p) for p in (p0, p1)] == ["refundable", "refundable"]
    assert not [t for (src, _), t in led.state.inflight.items() if src == failed.hash]
    refused(led, close(sc, artist, c, True, [p1], advance=False), "already closed")
    refused(led, count(sc, artist, c, [p1], advance=False), "already closed")
    for fan, p in ((x["fans"][0], p0), (x["fans"][1], p1)):
        accepted(led, refund(sc, fan, p, failed))
        assert bal(led, fan, x) == 10_000
    refused(led, refund(sc, x["fans"][0], p0, failed, advance=False), "already reclaimed")
    conserved(led)


def test_no_close_by_close_by_makes_pledges_reclaimable_by_deadline_proof(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    seeder, fan = x["seeder"], x["fans"][0]
    c = campaign(sc, x["artist"], x["crd"], 100, settler=seeder)
    p = pledge(sc, fan, c, 100)
    deliver(led, sc, c, p)
    early = checkpoint(sc, seeder, 1, timestamp=c.body["close_by"])
    accepted(led, early)
    refused(led, refund(sc, fan, p, early, advance=False), "not dated after")
    late = checkpoint(sc, seeder, 1, timestamp=c.body["close_by"] + 1)
    accepted(led, late)
    refused(led, close(sc, seeder, c, True, [p], advance=False), "close_by has passed")
    accepted(led, refund(sc, fan, p, late))
    assert bal(led, fan, x) == 10_000 and status(led, p) == "reclaimed"
    conserved(led)


def test_a_close_of_another_campaign_proves_nothing(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, fan = x["artist"], x["fans"][0]
    c1 = campaign(sc, artist, x["crd"], 100)
    c2 = campaign(sc, artist, x["crd"], 100)
    p = pledge(sc, fan, c1, 50)
    deliver(led, sc, c1, c2, p)
    other = close(sc, artist, c2, False)
    accepted(led, other)
    refused(led, refund(sc, fan, p, other, advance=False), "not dated after")
    # and nobody reclaims someone else's pledge
    refused(led, refund(sc, x["fans"][1], p, other, advance=False), "author's own")


def test_a_pledge_counted_by_the_close_cannot_be_reclaimed_by_deadline_either(
    led: Ledger, world: Any
) -> None:
    """Close vs reclaim: the close is dated by close_by, the proof after it, so the close
    precedes the proof in the settler's feed and the reclaim finds the pledge accepted."""
    sc, x = world
    artist, fan = x["artist"], x["fans"][0]
    c = campaign(sc, artist, x["crd"], 100)
    p = pledge(sc, fan, c, 100)
    done = close(sc, artist, c, True, [p], timestamp=c.body["close_by"])
    late = checkpoint(sc, artist, 0, timestamp=c.body["close_by"] + 1)
    deliver(led, sc, c, p, done, late)
    refused(led, refund(sc, fan, p, late, advance=False), "already accepted")


def test_an_equivocating_settler_cannot_both_fund_and_fail(tmp_path: Any) -> None:
    """Two closes at one seq (funded and failed): any replica holding both proves the fork and
    neither close has effect, whichever arrived first."""
    sc, x = funding()
    artist, seeder, fan = x["artist"], x["seeder"], x["fans"][0]
    c = campaign(sc, artist, x["crd"], 100, settler=seeder)
    p = pledge(sc, fan, c, 100)
    after = c.body["deadline"] + 1
    funded = close(sc, seeder, c, True, [p], timestamp=after)
    failed = sc.fork(
        seeder,
        funded.seq,
        kind="campaign.close",
        body={"campaign": c.hash, "success": False, "pledges": []},
        deps=[c],
    )
    hashes = set()
    for n, pair in enumerate(((funded, failed), (failed, funded))):
        led = Ledger.open(tmp_path / f"e{n}.sqlite", verify_threads=1)
        try:
            assert not led.ingest([e.wire for e in sc.entries if e is not funded]).rejected
            assert led.ingest([pair[0].wire]).accepted
            assert led.ingest([pair[1].wire]).forks
            assert led.state.campaigns[c.hash].outcome is None
            assert led.state.conditional[p.hash].outcome is None
            conserved(led)
            hashes.add(led.state_hash())
        finally:
            led.close()
    assert len(hashes) == 1


def test_state_hash_has_campaign_sections_only_when_used(led: Ledger, world: Any) -> None:
    sc, x = world
    from ledger.features.campaigns import FEATURE

    assert FEATURE.hash_sections(led.state) == {}
    c = campaign(sc, x["artist"], x["crd"], 100)
    accepted(led, c)
    assert set(FEATURE.hash_sections(led.state)) == {"campaigns"}
    before = led.state_hash()
    accepted(led, pledge(sc, x["fans"][0], c, 5))
    assert led.state_hash() != before


def test_a_large_campaign_is_counted_in_batches(led: Ledger) -> None:
    sc, x = funding()
    fans = [sc.signer(f"many{i}") for i in range(70)]
    for fan in fans:
        sc.receive(fan, sc.send(x["gw"], x["crd"], fan, 10))
    c = campaign(sc, x["artist"], x["crd"], 700, deadline=sc.t0 + 1000 * HOUR)
    ps = [pledge(sc, fan, c, 10) for fan in fans]
    deliver(led, sc)
    after = c.body["deadline"] + 1
    accepted(led, count(sc, x["artist"], c, ps[:63], timestamp=after))
    accepted(led, close(sc, x["artist"], c, True, ps[63:]))
    assert led.state.campaigns[c.hash].counted == 700
    assert {status(led, p) for p in ps} == {"accepted"}
    conserved(led)
