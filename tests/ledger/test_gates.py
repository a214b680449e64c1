"""Holder passes and tiers: every rule and conflict case of docs/PROTOCOL.md ("Holder passes")."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.entry import Entry
from ledger.keys import Signer
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario
from tests.ledger.market import HOUR, market
from tests.ledger.test_rules import accepted, deliver, refused

DAY = 24 * HOUR


def gate(
    sc: Scenario,
    who: Signer,
    asset: Entry,
    minimum: int,
    *,
    held_ms: int = 0,
    lock_ms: int = DAY,
    deps: list[Entry] | None = None,
    **kw: Any,
) -> Entry:
    own = asset.author == who.public_key
    return sc.make(
        who,
        "gate",
        {
            "title": "Backstage",
            "description": "",
            "asset": asset.hash,
            "min": minimum,
            "held_ms": held_ms,
            "lock_ms": lock_ms,
        },
        ([] if own else [asset]) if deps is None else deps,
        **kw,
    )


def claim(sc: Scenario, who: Signer, of: Entry, until: int | None = None, **kw: Any) -> Entry:
    head = sc.heads.get(who.public_key)
    ts = kw.pop("timestamp", None) or max(sc.next_ts(), head.timestamp + 1000 if head else 0)
    deps = [] if of.author == who.public_key else [of]
    return sc.make(
        who,
        "gate.claim",
        {"gate": of.hash, "until": until if until is not None else ts + of.body["lock_ms"]},
        deps,
        timestamp=ts,
        **kw,
    )


def unlock(sc: Scenario, who: Signer, of: Entry, **kw: Any) -> Entry:
    return sc.make(who, "reclaim", {"of": of.hash, "proof": of.hash}, **kw)


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    sc, x = market()
    t = sc.t0 + 100 * DAY
    sent = sc.make(
        x["artist"],
        "send",
        {"asset": x["art"].hash, "to": x["fan"].public_key, "amount": 150, "memo": ""},
        timestamp=t,
    )
    sc.make(x["fan"], "receive", {"transfers": [sent.hash]}, [sent], timestamp=t)
    deliver(led, sc)
    return sc, x


def art(led: Ledger, who: Any, x: dict[str, Any]) -> int:
    return led.state.balance(who.public_key, x["art"].hash)


def test_a_claim_locks_the_units_so_they_unlock_one_account_once(led: Ledger, world: Any) -> None:
    sc, x = world
    fan, fan2 = x["fan"], x["fan2"]
    g = gate(sc, x["artist"], x["art"], 100)
    accepted(led, g)
    c = claim(sc, fan, g)
    accepted(led, c)
    assert art(led, fan, x) == 50 and led.state.locked(fan.public_key, x["art"].hash) == 100
    held = led.state.claims[c.hash]
    assert led.state.claim_active(held, c.timestamp) and not led.state.claim_active(
        held, c.body["until"] + 1
    )
    # the same coins cannot unlock a second gate, nor move to another account to unlock it
    g2 = gate(sc, x["artist"], x["art"], 100, held_ms=0)
    accepted(led, g2)
    refused(led, claim(sc, fan, g2, advance=False), "held at least 50")
    refused(
        led,
        sc.make(
            fan,
            "send",
            {"asset": x["art"].hash, "to": fan2.public_key, "amount": 100, "memo": ""},
            advance=False,
        ),
        "overdraft",
    )
    # after the stated period the holder takes them back (its own witness)
    refused(led, unlock(sc, fan, c, timestamp=c.body["until"], advance=False), "after the deadline")
    accepted(led, unlock(sc, fan, c, timestamp=c.body["until"] + 1))
    assert art(led, fan, x) == 150 and led.state.locks[c.hash].closed_by is not None
    assert not led.state.claim_active(held, c.body["until"])


def test_holding_time_is_read_from_the_holders_own_feed(led: Ledger, world: Any) -> None:
    sc, x = world
    fan = x["fan"]
    g = gate(sc, x["artist"], x["art"], 100, held_ms=30 * DAY)
    accepted(led, g)
    received = sc.heads[fan.public_key].timestamp  # the fan received its 150 ART then
    refused(led, claim(sc, fan, g, timestamp=received + 29 * DAY, advance=False), "held at least 0")
    assert not led.state.qualifies(fan.public_key, led.state.gates[g.hash], received + 29 * DAY)
    assert led.state.qualifies(fan.public_key, led.state.gates[g.hash], received + 30 * DAY)
    # a dip below the minimum inside the window breaks the holding
    dip = sc.make(
        fan,
        "send",
        {"asset": x["art"].hash, "to": x["fan2"].public_key, "amount": 60, "memo": ""},
        timestamp=received + 10 * DAY,
    )
    accepted(led, dip)
    sent_back = sc.make(
        x["fan2"], "receive", {"transfers": [dip.hash]}, [dip], timestamp=received + 10 * DAY
    )
    back = sc.make(
        x["fan2"],
        "send",
        {"asset": x["art"].hash, "to": fan.public_key, "amount": 60, "memo": ""},
        timestamp=received + 11 * DAY,
    )
    again = sc.make(
        fan, "receive", {"transfers": [back.hash]}, [back], timestamp=received + 11 * DAY
    )
    deliver(led, sc, sent_back, back, again)
    refused(
        led, claim(sc, fan, g, timestamp=received + 35 * DAY, advance=False), "held at least 90"
    )
    accepted(led, claim(sc, fan, g, timestamp=received + 41 * DAY))


def test_borrowed_coins_give_no_pass_when_holding_time_counts(led: Ledger, world: Any) -> None:
    """fan2 lends its coins for a moment: a gate with a holding time refuses them, and a gate
    without one keeps them locked for the stated period, so they cannot go back to unlock a
    second account meanwhile."""
    sc, x = world
    fan, fan2 = x["fan"], x["fan2"]
    g_time = gate(sc, x["artist"], x["art"], 250, held_ms=7 * DAY)
    g_now = gate(sc, x["artist"], x["art"], 250, held_ms=0, lock_ms=2 * DAY)
    deliver(led, sc, g_time, g_now)
    t = sc.heads[fan.public_key].timestamp + 8 * DAY  # it has held 150 for eight days
    lend = sc.make(
        x["artist"],
        "send",
        {"asset": x["art"].hash, "to": fan.public_key, "amount": 100, "memo": "lend"},
        timestamp=t,
    )
    got = sc.make(fan, "receive", {"transfers": [lend.hash]}, [lend], timestamp=t)
    deliver(led, sc, lend, got)
    refused(led, claim(sc, fan, g_time, timestamp=t + 1, advance=False), "held at least 150")
    c = claim(sc, fan, g_now, timestamp=t + 1)
    accepted(led, c)
    refused(
        led,
        sc.make(
            fan,
            "send",
            {"asset": x["art"].hash, "to": fan2.public_key, "amount": 100, "memo": "back"},
            timestamp=t + 2,
            advance=False,
        ),
        "overdraft",
    )


def test_gate_and_claim_rules(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, gate(sc, x["fan"], x["art"], 10, deps=[], advance=False), "deps")
    g = gate(sc, x["artist"], x["art"], 10, lock_ms=DAY)
    accepted(led, g)
    ts = sc.heads[x["fan"].public_key].timestamp + 1000
    refused(
        led,
        claim(sc, x["fan"], g, until=ts + DAY - 1, timestamp=ts, advance=False),
        "at least timestamp",
    )
    refused(
        led,
        sc.make(
            x["fan"],
            "gate.claim",
            {"gate": g.hash, "until": ts + DAY},
            [],
            timestamp=ts,
            advance=False,
        ),
        "deps",
    )
    refused(led, claim(sc, x["fan2"], g, advance=False), "held at least 0")  # holds no ART
    accepted(led, claim(sc, x["fan"], g, until=ts + 5 * DAY, timestamp=ts))  # may lock longer


def test_tiers_are_the_gates_on_a_coin_by_requirement(led: Ledger, world: Any) -> None:
    sc, x = world
    founder = gate(sc, x["artist"], x["art"], 1_000, held_ms=365 * DAY)
    supporter = gate(sc, x["artist"], x["art"], 10)
    patron = gate(sc, x["artist"], x["art"], 100, held_ms=30 * DAY)
    deliver(led, sc, founder, supporter, patron)
    assert [g.id for g in led.state.gates_on(x["art"].hash)] == [
        supporter.hash,
        patron.hash,
        founder.hash,
    ]
    now = sc.heads[x["fan"].public_key].timestamp + 31 * DAY
    assert [
        g.id
        for g in led.state.gates_on(x["art"].hash)
        if led.state.qualifies(x["fan"].public_key, g, now)
    ] == [supporter.hash, patron.hash]
