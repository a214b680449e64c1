"""Artistcoins tied to sales: every rule and conflict case of docs/PROTOCOL.md ("Coins tied to
sales")."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.entry import Entry
from ledger.keys import Signer
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario, economy
from tests.ledger.market import HOUR, checkpoint
from tests.ledger.test_rules import accepted, deliver, refused

DAY = 24 * HOUR


def charter(
    sc: Scenario, issuer: Signer, coin: Entry, sales: Entry, bps: int = 2_000, **kw: Any
) -> Entry:
    return sc.make(
        issuer,
        "coin.charter",
        {"asset": coin.hash, "sales_asset": sales.hash, "bps": bps},
        [sales],
        **kw,
    )


def stake(
    sc: Scenario,
    who: Signer,
    of: Entry,
    amount: int,
    *,
    accept_by: int | None = None,
    until: int | None = None,
    **kw: Any,
) -> Entry:
    head = sc.heads.get(who.public_key)
    ts = kw.pop("timestamp", None) or max(sc.next_ts(), head.timestamp if head else 0)
    return sc.make(
        who,
        "stake",
        {
            "charter": of.hash,
            "amount": amount,
            "accept_by": accept_by or ts + HOUR,
            "until": until or ts + 30 * DAY,
        },
        [of],
        timestamp=ts,
        **kw,
    )


def answer(sc: Scenario, issuer: Signer, of: Entry, accept: bool = True, **kw: Any) -> Entry:
    return sc.make(
        issuer, "stake.accept" if accept else "stake.refuse", {"stake": of.hash}, [of], **kw
    )


def distribute(sc: Scenario, issuer: Signer, of: Entry, amount: int, **kw: Any) -> Entry:
    return sc.make(issuer, "distribute", {"charter": of.hash, "amount": amount}, **kw)


def collect(sc: Scenario, who: Signer, of: Entry, *dists: Entry, **kw: Any) -> Entry:
    return sc.make(
        who,
        "collect",
        {"stake": of.hash, "distributions": [d.hash for d in dists]},
        list(dists),
        **kw,
    )


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    """The artist's ART coin with a charter: 20 % of its CRD sales to stakers; two fans hold ART,
    and a buyer has credits."""
    sc, x = economy()
    artist, fan, gw = x["artist"], x["fan"], x["gw"]
    fan2, buyer = sc.signer("fan2"), sc.signer("buyer")
    art = sc.issue(
        artist, "ART", max_supply=10**6, flags=["artistcoin"], precision=0, name="Artist coin"
    )
    sc.mint(artist, art, 10_000)
    for who, n in ((fan, 300), (fan2, 100)):
        sc.receive(who, sc.send(artist, art, who, n))
    sc.receive(buyer, sc.send(gw, x["crd"], buyer, 5_000))
    ch = charter(sc, artist, art, x["crd"])
    deliver(led, sc)
    return sc, {**x, "fan2": fan2, "buyer": buyer, "art": art, "charter": ch}


def crd(led: Ledger, who: Any, x: dict[str, Any]) -> int:
    return led.state.balance(who.public_key, x["crd"].hash)


def conserved(led: Ledger) -> None:
    for asset in led.state.assets:
        acc = led.state.accounting(asset)
        assert acc.supply == acc.balances + acc.locked + acc.in_flight, acc


def sell(led: Ledger, sc: Scenario, x: dict[str, Any], price: int = 999) -> None:
    """The buyer buys the artist's release; the artist receives the sale."""
    p = sc.purchase(x["buyer"], x["listing"], amount=price)
    deliver(led, sc, p, sc.receive(x["artist"], p))


def test_stakes_distribution_and_pull_collection(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, fan, fan2 = x["artist"], x["fan"], x["fan2"]
    s1, s2 = stake(sc, fan, x["charter"], 300), stake(sc, fan2, x["charter"], 100)
    deliver(led, sc, s1, s2)
    assert led.state.locked(fan.public_key, x["art"].hash) == 300
    deliver(led, sc, answer(sc, artist, s1), answer(sc, artist, s2))
    assert [led.state.stake_status(led.state.stakes[s.hash]) for s in (s1, s2)] == [
        "staked",
        "staked",
    ]
    sell(led, sc, x)
    ch = led.state.coin_charters[x["charter"].hash]
    assert (ch.sales, ch.committed, ch.owed) == (999, 199, 199)  # 20 %, rounded down
    # behind on the charter: the issuer cannot send or buy until it distributes
    refused(
        led,
        sc.make(
            artist,
            "send",
            {"asset": x["crd"].hash, "to": fan.public_key, "amount": 1, "memo": ""},
            advance=False,
        ),
        "behind on its charter by 199",
    )
    d = distribute(sc, artist, x["charter"], 199)
    accepted(led, d)
    dist = led.state.distributions[d.hash]
    assert (dist.total_staked, dist.paid) == (400, 198)  # 149 + 49; one unit of dust stays
    assert crd(led, artist, x) == 999 - 198 and ch.owed == 0
    conserved(led)
    accepted(led, sc.send(artist, x["crd"], fan, 1))
    accepted(led, collect(sc, fan, s1, d))
    refused(led, collect(sc, fan, s1, d, advance=False), "already collected")
    refused(led, collect(sc, fan2, s1, d, advance=False), "stake of its author")
    accepted(led, collect(sc, fan2, s2, d))
    assert led.state.locks[d.hash].closed_by is not None  # the pool is empty
    assert crd(led, fan2, x) == 49 and led.state.uncollected(fan2.public_key) == []
    conserved(led)


def test_a_stake_counts_only_from_its_acceptance_on(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, fan, fan2 = x["artist"], x["fan"], x["fan2"]
    s1, s2 = stake(sc, fan, x["charter"], 300), stake(sc, fan2, x["charter"], 100)
    deliver(led, sc, s1, s2, answer(sc, artist, s1))
    sell(led, sc, x)
    d = distribute(sc, artist, x["charter"], 199)
    deliver(led, sc, d, answer(sc, artist, s2))
    assert led.state.distributions[d.hash].total_staked == 300
    refused(led, collect(sc, fan2, s2, d, advance=False), "does not count")
    accepted(led, collect(sc, fan, s1, d))
    assert crd(led, fan, x) == 5_000 + 199  # the fan had 5 000 CRD from the gateway


def test_refused_and_unanswered_stakes_go_back(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, fan, fan2 = x["artist"], x["fan"], x["fan2"]
    s1 = stake(sc, fan, x["charter"], 300)
    s2 = stake(sc, fan2, x["charter"], 100)
    deliver(led, sc, s1, s2)
    refused(led, answer(sc, fan, s1, advance=False), "only the coin's issuer")
    no = answer(sc, artist, s1, accept=False)
    accepted(led, no)
    refused(led, answer(sc, artist, s1, advance=False), "already answered")
    accepted(led, sc.receive(fan, no))
    assert led.state.balance(fan.public_key, x["art"].hash) == 300
    assert led.state.stake_status(led.state.stakes[s1.hash]) == "refused"
    # the issuer says nothing by accept_by: a deadline proof takes the stake back
    late = checkpoint(sc, artist, 0, timestamp=s2.body["accept_by"] + 1)
    accepted(led, late)
    refused(led, answer(sc, artist, s2, advance=False), "accept_by has passed")
    accepted(led, sc.make(fan2, "reclaim", {"of": s2.hash, "proof": late.hash}, [late]))
    assert led.state.balance(fan2.public_key, x["art"].hash) == 100
    conserved(led)


def test_unstaking_after_the_term_is_the_stakers_own(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, fan = x["artist"], x["fan"]
    s = stake(sc, fan, x["charter"], 300)
    acc = answer(sc, artist, s)
    deliver(led, sc, s, acc)
    until = s.body["until"]
    mine = {"of": s.hash, "proof": s.hash}
    refused(led, sc.make(fan, "reclaim", mine, [acc], timestamp=until, advance=False), "after the")
    # the acceptance made the lock the staker's own: an unstake names it, so a replica holding
    # only the unstake's dependencies judges it the same
    refused(
        led,
        sc.make(fan, "reclaim", mine, timestamp=until + 1, advance=False),
        "stake's acceptance",
    )
    accepted(led, sc.make(fan, "reclaim", mine, [acc], timestamp=until + 1))
    assert led.state.balance(fan.public_key, x["art"].hash) == 300
    assert led.state.stake_status(led.state.stakes[s.hash]) == "withdrawn"
    # a distribution dated after the term does not count the stake (one dated within it does,
    # and its share stays the staker's to collect, whenever the staker took its coins back)
    sell(led, sc, x)
    d = distribute(sc, artist, x["charter"], 199, timestamp=until + 2)
    accepted(led, d)
    assert led.state.distributions[d.hash].paid == 0  # nobody staked: nothing to pay
    refused(led, collect(sc, fan, s, d, advance=False), "does not count")


def test_charter_and_stake_rules(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, fan = x["artist"], x["fan"]
    refused(led, charter(sc, artist, x["art"], x["crd"], advance=False), "already has")
    refused(led, charter(sc, fan, x["art"], x["crd"], advance=False), "only a coin's issuer")
    coin2 = sc.issue(artist, "ART2", flags=["artistcoin"], precision=0)
    accepted(led, coin2)
    refused(
        led,
        sc.make(
            artist,
            "coin.charter",
            {"asset": coin2.hash, "sales_asset": x["crd"].hash, "bps": 10},
            advance=False,
        ),
        "deps",
    )
    refused(led, charter(sc, artist, coin2, coin2, advance=False), "another asset")
    refused(led, stake(sc, artist, x["charter"], 10, advance=False), "does not stake")
    refused(led, stake(sc, fan, x["charter"], 301, advance=False), "overdraft")
    head = sc.heads[fan.public_key].timestamp + 1000
    refused(
        led,
        stake(
            sc,
            fan,
            x["charter"],
            10,
            timestamp=head,
            accept_by=head + 10,
            until=head + 5,
            advance=False,
        ),
        "accept_by",
    )


def test_a_pool_emptied_by_collects_in_either_order_gives_one_state(
    led: Ledger, world: Any, open_ledger: Any
) -> None:
    """The last collect that empties a pool differs by arrival order; the pool is named closed
    by its distribution, so the state does not (found by the vectors in reverse order)."""
    sc, x = world
    artist, fan, fan2 = x["artist"], x["fan"], x["fan2"]
    s1, s2 = stake(sc, fan, x["charter"], 300), stake(sc, fan2, x["charter"], 100)
    deliver(led, sc, s1, s2, answer(sc, artist, s1), answer(sc, artist, s2))
    sell(led, sc, x)
    d = distribute(sc, artist, x["charter"], 199)
    c1, c2 = collect(sc, fan, s1, d), collect(sc, fan2, s2, d)
    before = [e.wire for e in sc.entries if e.hash not in (c1.hash, c2.hash)]
    hashes = set()
    for n, order in enumerate(((c1, c2), (c2, c1))):
        other = open_ledger(f"o{n}.sqlite")
        assert not other.ingest(before).rejected
        for e in order:
            accepted(other, e)
        assert other.state.locks[d.hash].closed_by == d.hash
        hashes.add(other.state_hash())
    assert len(hashes) == 1
