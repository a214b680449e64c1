"""The exchange kinds and the settlement patterns: every rule and conflict case of
docs/PROTOCOL.md ("Settlement patterns", "Exchange")."""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.features.exchange import Offer, _book_key
from ledger.ledger import MAX_CLOCK_AHEAD_MS, Ledger
from tests.ledger.factory import Scenario
from tests.ledger.market import (
    HOUR,
    cancel,
    checkpoint,
    cost,
    fill,
    market,
    offer,
    reclaim,
    refuse,
    take,
)
from tests.ledger.test_rules import accepted, deliver, refused


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    sc, x = market()
    deliver(led, sc)
    return sc, x


def conserved(led: Ledger) -> None:
    for asset in led.state.assets:
        acc = led.state.accounting(asset)
        assert acc.supply == acc.balances + acc.locked + acc.in_flight, acc


def bal(led: Ledger, who: Any, asset: Entry) -> int:
    return led.state.balance(who.public_key, asset.hash)


# -- offers and locks ------------------------------------------------------------------------------


def test_an_offer_locks_what_it_sells(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 1000, x["crd"], 2500)
    accepted(led, o)
    assert bal(led, x["artist"], x["art"]) == 9000
    assert led.state.locked(x["artist"].public_key, x["art"].hash) == 1000
    assert led.state.remaining(led.state.offers[o.hash]) == 1000
    conserved(led)


def test_locked_units_cannot_be_sent_or_locked_again(led: Ledger, world: Any) -> None:
    sc, x = world
    accepted(led, offer(sc, x["artist"], x["art"], 9000, x["crd"], 100))
    send = sc.make(
        x["artist"],
        "send",
        {"asset": x["art"].hash, "to": x["fan"].public_key, "amount": 1001, "memo": ""},
        advance=False,
    )
    refused(led, send, "overdraft")
    refused(led, offer(sc, x["artist"], x["art"], 1001, x["crd"], 100, advance=False), "overdraft")
    accepted(led, offer(sc, x["artist"], x["art"], 1000, x["crd"], 100))


@pytest.mark.parametrize(
    "change,word",
    [
        ({"want": "sell"}, "another"),
        ({"min_fill": 2000}, "min_fill"),
        ({"fill_or_kill": True}, "fill-or-kill"),
        ({"expires": 0}, "expires"),
    ],
)
def test_malformed_offers_are_rejected(led: Ledger, world: Any, change: dict, word: str) -> None:
    sc, x = world
    body = dict(offer(sc, x["artist"], x["art"], 1000, x["crd"], 10, advance=False).body)
    for k, v in change.items():
        body[k] = body["sell"] if v == "sell" else v
    refused(led, sc.make(x["artist"], "offer", body), word)


# -- takes and fills -------------------------------------------------------------------------------


def test_take_and_fill_trade_at_the_offer_price(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 1000, x["crd"], 2500, min_fill=10)
    t = take(sc, x["fan"], o, 300)
    assert t.body["pay"] == 750
    deliver(led, sc, o, t)
    assert bal(led, x["fan"], x["crd"]) == 50_000 - 750
    assert led.state.take_status(led.state.takes[t.hash]) == "pending"
    conserved(led)
    f = fill(sc, x["artist"], t)
    accepted(led, f)
    conserved(led)
    # both sides are in flight, named by the fill; each side receives it in its own feed
    deliver(led, sc, sc.receive(x["fan"], f), sc.receive(x["artist"], f))
    assert bal(led, x["fan"], x["art"]) == 300
    assert bal(led, x["artist"], x["crd"]) == 750
    assert led.state.remaining(led.state.offers[o.hash]) == 700
    trade = led.state.trades[f.hash]
    assert (trade.amount, trade.paid) == (300, 750)
    assert led.state.last_price(x["art"].hash, x["crd"].hash) == 750 / 300
    conserved(led)


def test_trades_give_the_last_price_volume_and_a_price_history(led: Ledger, world: Any) -> None:
    sc, x = world
    cheap = offer(sc, x["artist"], x["art"], 100, x["crd"], 200, expires=sc.t0 + 50 * HOUR)
    dear = offer(sc, x["artist"], x["art"], 100, x["crd"], 500, expires=sc.t0 + 50 * HOUR)
    t1 = take(sc, x["fan"], cheap, 50, timestamp=sc.t0 + HOUR)
    t2 = take(sc, x["fan2"], dear, 10, timestamp=sc.t0 + HOUR + 10)
    t3 = take(sc, x["fan"], cheap, 20, timestamp=sc.t0 + 3 * HOUR)
    deliver(led, sc, cheap, dear, t1, t2, t3)
    for t, at in ((t1, 1.5), (t2, 1.6), (t3, 3.5)):
        accepted(led, fill(sc, x["artist"], t, timestamp=sc.t0 + int(at * HOUR)))
    pair = (x["art"].hash, x["crd"].hash)
    assert led.state.last_price(*pair) == 2
    assert led.state.volume(*pair, since=sc.t0 + 2 * HOUR) == (20, 40)
    history = led.state.price_history(*pair, bucket_ms=2 * HOUR)
    assert [(h[1], h[2], h[3], h[4], h[5]) for h in history] == [(2, 5, 2, 5, 60), (2, 2, 2, 2, 20)]
    assert [o.id for o in led.state.book(*pair)] == [cheap.hash, dear.hash]
    assert led.state.depth(*pair) == [(2, 30), (5, 90)]
    assert led.state.spread(*pair) == (2, None)


def test_the_price_rounds_up_in_the_makers_favour(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 3, x["crd"], 10)  # 3.33... CRD per ART
    accepted(led, o)
    assert cost(o, 1) == 4 and cost(o, 2) == 7 and cost(o, 3) == 10
    refused(led, take(sc, x["fan"], o, 1, pay=3, advance=False), "cost 4")
    refused(led, take(sc, x["fan"], o, 1, pay=5, advance=False), "cost 4")
    accepted(led, take(sc, x["fan"], o, 1))


@pytest.mark.parametrize(
    "amount,kw,word",
    [
        (5, {}, "at least"),
        (2000, {}, "at most"),
        (500, {"fok": True}, "only whole"),
    ],
)
def test_take_amount_rules(led: Ledger, world: Any, amount: int, kw: dict, word: str) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 1000, x["crd"], 1000, min_fill=10, **kw)
    accepted(led, o)
    refused(led, take(sc, x["fan"], o, amount, advance=False), word)


def test_a_take_needs_the_funds_and_a_live_offer(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 10_000, x["crd"], 100_000)
    accepted(led, o)
    refused(led, take(sc, x["fan"], o, 10_000, advance=False), "overdraft")
    refused(led, take(sc, x["artist"], o, 10, advance=False), "own offer")
    late = take(sc, x["fan"], o, 10, timestamp=o.body["expires"] + 1, advance=False)
    refused(led, late, "expired")


def test_double_fill_beyond_the_lock_is_impossible(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 100, x["crd"], 100)
    t1, t2 = take(sc, x["fan"], o, 60), take(sc, x["fan2"], o, 60)
    deliver(led, sc, o, t1, t2)
    accepted(led, fill(sc, x["artist"], t1))
    refused(led, fill(sc, x["artist"], t2, advance=False), "40 left")
    refused(led, fill(sc, x["artist"], t1, advance=False), "already accepted")
    r = refuse(sc, x["artist"], t2, "sold out")
    accepted(led, r)
    deliver(led, sc, sc.receive(x["fan2"], r))
    assert bal(led, x["fan2"], x["crd"]) == 50_000
    assert led.state.take_status(led.state.takes[t2.hash]) == "refused"
    conserved(led)


def test_only_the_settler_fills_and_a_seeder_can_settle_for_the_maker(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 100, x["crd"], 100, settler=x["seeder"])
    t = take(sc, x["fan"], o, 100)
    deliver(led, sc, o, t)
    refused(led, fill(sc, x["artist"], t, advance=False), "settler")
    refused(led, fill(sc, x["fan2"], t, advance=False), "settler")
    f = fill(sc, x["seeder"], t)
    accepted(led, f)
    assert led.state.offer_status(led.state.offers[o.hash]) == "filled"
    deliver(led, sc, sc.receive(x["artist"], f), sc.receive(x["fan"], f))
    assert bal(led, x["artist"], x["crd"]) == 100 and bal(led, x["fan"], x["art"]) == 100
    assert led.state.open_commitments(x["seeder"].public_key) == 0


def test_fill_after_the_offer_expired_or_the_take_deadline_is_rejected(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 100, x["crd"], 100, expires=sc.t0 + 10 * HOUR)
    t = take(sc, x["fan"], o, 10, deadline=sc.t0 + 20 * HOUR)
    t2 = take(sc, x["fan2"], o, 10, deadline=sc.t0 + 5 * HOUR)
    deliver(led, sc, o, t, t2)
    refused(led, fill(sc, x["artist"], t2, timestamp=sc.t0 + 6 * HOUR, advance=False), "deadline")
    refused(led, fill(sc, x["artist"], t, timestamp=sc.t0 + 11 * HOUR, advance=False), "expired")


# -- cancel ----------------------------------------------------------------------------------------


def test_cancel_by_the_settler_returns_the_remainder_and_no_fill_follows(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 100, x["crd"], 100)
    t1 = take(sc, x["fan"], o, 30)
    t2 = take(sc, x["fan2"], o, 30)
    deliver(led, sc, o, t1, t2)
    accepted(led, fill(sc, x["artist"], t1))
    accepted(led, cancel(sc, x["artist"], o))
    assert bal(led, x["artist"], x["art"]) == 9970
    assert led.state.offer_status(led.state.offers[o.hash]) == "cancelled"
    refused(led, fill(sc, x["artist"], t2, advance=False), "closed")
    refused(led, cancel(sc, x["artist"], o, advance=False), "already closed")
    conserved(led)


def test_a_makers_cancel_request_moves_nothing_until_the_settler_cancels(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 100, x["crd"], 100, settler=x["seeder"])
    t = take(sc, x["fan"], o, 40)
    ask = cancel(sc, x["artist"], o)
    deliver(led, sc, o, t, ask)
    assert bal(led, x["artist"], x["art"]) == 9900
    assert [of.id for of in led.state.cancels_to_settle(x["seeder"].public_key)] == [o.hash]
    # cancel vs fill: the settler's order decides; here the fill came first
    accepted(led, fill(sc, x["seeder"], t))
    c = cancel(sc, x["seeder"], o)
    accepted(led, c)
    deliver(led, sc, sc.receive(x["artist"], c))
    assert bal(led, x["artist"], x["art"]) == 9960
    refused(led, cancel(sc, x["fan"], o, advance=False), "settler")
    conserved(led)


def test_cancel_after_expiry_is_left_to_the_makers_reclaim(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 100, x["crd"], 100, expires=sc.t0 + HOUR)
    accepted(led, o)
    refused(led, cancel(sc, x["artist"], o, timestamp=sc.t0 + 2 * HOUR, advance=False), "reclaim")


# -- reclaims by deadline proof --------------------------------------------------------------------


def test_a_take_is_reclaimed_after_its_deadline_with_the_settlers_later_entry(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    o = offer(
        sc,
        x["artist"],
        x["art"],
        100,
        x["crd"],
        100,
        settler=x["seeder"],
        expires=sc.t0 + 50 * HOUR,
    )
    t = take(sc, x["fan"], o, 50, deadline=sc.t0 + 10 * HOUR)
    early = checkpoint(sc, x["seeder"], 1, timestamp=sc.t0 + 9 * HOUR)
    deliver(led, sc, o, t, early)
    refused(led, reclaim(sc, x["fan"], t, early, advance=False), "not dated after")
    other = checkpoint(sc, x["fan2"], timestamp=sc.t0 + 11 * HOUR)
    accepted(led, other)
    refused(led, reclaim(sc, x["fan"], t, other, advance=False), "settler's feed")
    proof = checkpoint(sc, x["seeder"], 1, timestamp=sc.t0 + 11 * HOUR)
    accepted(led, proof)
    no_dep = sc.make(x["fan"], "reclaim", {"of": t.hash, "proof": proof.hash}, advance=False)
    refused(led, no_dep, "deps")
    refused(led, reclaim(sc, x["fan2"], t, proof, advance=False), "own")
    r = reclaim(sc, x["fan"], t, proof)
    accepted(led, r)
    assert bal(led, x["fan"], x["crd"]) == 50_000
    assert led.state.take_status(led.state.takes[t.hash]) == "reclaimed"
    # the settler cannot fill late: every entry after the proof is dated after the deadline
    refused(led, fill(sc, x["seeder"], t, advance=False), "already reclaimed")
    refused(led, reclaim(sc, x["fan"], t, proof, advance=False), "already reclaimed")
    conserved(led)


def test_a_filled_take_cannot_be_reclaimed(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 100, x["crd"], 100, settler=x["seeder"])
    t = take(sc, x["fan"], o, 50, deadline=sc.t0 + 10 * HOUR)
    f = fill(sc, x["seeder"], t)
    proof = checkpoint(sc, x["seeder"], timestamp=sc.t0 + 11 * HOUR)
    deliver(led, sc, o, t, f, proof)
    refused(led, reclaim(sc, x["fan"], t, proof, advance=False), "already accepted")


def test_an_expired_offer_is_reclaimed_by_its_maker(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(
        sc,
        x["artist"],
        x["art"],
        100,
        x["crd"],
        100,
        settler=x["seeder"],
        expires=sc.t0 + 10 * HOUR,
    )
    t = take(sc, x["fan"], o, 30)
    f = fill(sc, x["seeder"], t)
    proof = checkpoint(sc, x["seeder"], timestamp=sc.t0 + 11 * HOUR)
    deliver(led, sc, o, t, f, proof)
    assert led.state.offer_status(led.state.offers[o.hash], now=sc.t0 + 11 * HOUR) == "expired"
    refused(led, reclaim(sc, x["fan"], o, proof, advance=False), "own")
    r = reclaim(sc, x["artist"], o, proof)
    accepted(led, r)
    assert bal(led, x["artist"], x["art"]) == 9970
    assert led.state.offer_status(led.state.offers[o.hash]) == "reclaimed"
    conserved(led)


def test_a_self_settled_maker_is_its_own_witness(led: Ledger, world: Any) -> None:
    sc, x = world
    o = offer(sc, x["artist"], x["art"], 100, x["crd"], 100, expires=sc.t0 + 10 * HOUR)
    accepted(led, o)
    refused(
        led,
        reclaim(sc, x["artist"], o, None, timestamp=sc.t0 + 9 * HOUR, advance=False),
        "after the deadline",
    )
    accepted(led, reclaim(sc, x["artist"], o, None, timestamp=sc.t0 + 11 * HOUR))
    assert bal(led, x["artist"], x["art"]) == 10_000


# -- order independence of the conflict cases ------------------------------------------------------


def test_every_delivery_order_of_a_contested_offer_gives_one_state(open_ledger: Any) -> None:
    sc, x = market()
    base = list(sc.entries)
    o = offer(
        sc,
        x["artist"],
        x["art"],
        100,
        x["crd"],
        100,
        settler=x["seeder"],
        expires=sc.t0 + 10 * HOUR,
    )
    t1 = take(sc, x["fan"], o, 60, deadline=sc.t0 + 8 * HOUR)
    t2 = take(sc, x["fan2"], o, 60, deadline=sc.t0 + 8 * HOUR)
    ask = cancel(sc, x["artist"], o)
    f1 = fill(sc, x["seeder"], t1)
    c = cancel(sc, x["seeder"], o)
    proof = checkpoint(sc, x["seeder"], timestamp=sc.t0 + 12 * HOUR)
    r2 = reclaim(sc, x["fan2"], t2, proof)
    late = [o, t1, t2, ask, f1, c, proof, r2]
    hashes = set()
    for n, order in enumerate(itertools.islice(itertools.permutations(late), 0, 5040, 97)):
        led = open_ledger(f"o{n}.sqlite")
        led.ingest([e.wire for e in base])
        for e in order:
            assert not led.ingest([e.wire]).rejected
        assert led.pending_count() == 0
        hashes.add(led.state_hash())
        conserved(led)
    assert len(hashes) == 1


# -- entries from the future -----------------------------------------------------------------------


def test_an_entry_dated_ahead_of_the_clock_waits_until_its_time(tmp_path: Any) -> None:
    sc, x = market()
    now = [sc.t0 + 100 * HOUR]
    led = Ledger.open(tmp_path / "clock.sqlite", verify_threads=1, clock=lambda: now[0])
    try:
        deliver(led, sc)
        o = offer(
            sc,
            x["artist"],
            x["art"],
            100,
            x["crd"],
            100,
            settler=x["seeder"],
            timestamp=now[0],
            expires=now[0] + HOUR,
        )
        accepted(led, o)
        # a settler entry "from 2099" would prove any deadline passed: it must wait
        future = checkpoint(sc, x["seeder"], timestamp=now[0] + 2 * HOUR)
        r = reclaim(sc, x["artist"], o, future)
        report = led.ingest([future.wire, r.wire])
        assert not report.accepted and report.pending == 2 and not report.rejected
        assert bal(led, x["artist"], x["art"]) == 9900
        now[0] += MAX_CLOCK_AHEAD_MS  # not yet: still more than five minutes ahead
        assert not led.release_due().accepted
        now[0] += 2 * HOUR
        report = led.release_due()
        assert {e.hash for e in report.accepted} == {future.hash, r.hash}
        assert bal(led, x["artist"], x["art"]) == 10_000
    finally:
        led.close()


# -- the book's order ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 2**63 - 1), st.integers(1, 2**63 - 1)), min_size=2, max_size=30
    )
)
def test_the_book_orders_offers_by_their_exact_price(amounts: list[tuple[int, int]]) -> None:
    offers = [
        Offer(
            bytes([i]) * 32, b"m" * 32, b"s" * 32, sell, b"w" * 32, want, 1, 1, False, b"m" * 32, 0
        )
        for i, (sell, want) in enumerate(amounts)
    ]
    by_key = sorted(offers, key=_book_key)
    exact = sorted(offers, key=lambda o: (Fraction(o.want_amount, o.sell_amount), o.id))
    assert [o.id for o in by_key] == [o.id for o in exact]


def test_future_entries_are_judged_by_the_next_ingest_and_their_wait_is_bounded(
    tmp_path: Any, monkeypatch: Any
) -> None:
    import ledger.ledger as ledger_mod

    monkeypatch.setattr(ledger_mod, "MAX_PENDING", 10)
    sc, x = market()
    now = [sc.t0 + 100 * HOUR]
    led = Ledger.open(tmp_path / "clock.sqlite", verify_threads=1, clock=lambda: now[0])
    try:
        deliver(led, sc)
        spam = [
            checkpoint(sc, sc.signer(f"spammer{i}"), timestamp=now[0] + 365 * 24 * HOUR)
            for i in range(60)
        ]
        led.ingest([e.wire for e in spam])
        assert led.pending_count() == 10  # the oldest waiters were dropped
        assert len(led._wait_time) <= 2 * 10 + 1  # and so were their timers
        soon = checkpoint(sc, x["seeder"], timestamp=now[0] + HOUR)
        report = led.ingest([soon.wire])
        assert not report.accepted and not report.rejected and not led.has(soon.hash)
        now[0] += HOUR
        other = checkpoint(sc, x["fan"], timestamp=now[0])
        report = led.ingest([other.wire])  # any later batch judges what is due
        assert {e.hash for e in report.accepted} == {soon.hash, other.hash}
    finally:
        led.close()


def test_an_entry_held_until_its_time_is_not_asked_for_again(tmp_path: Any) -> None:
    sc, x = market()
    now = [sc.t0 + 100 * HOUR]
    led = Ledger.open(tmp_path / "clock.sqlite", verify_threads=1, clock=lambda: now[0])
    try:
        deliver(led, sc)
        future = checkpoint(sc, x["seeder"], timestamp=now[0] + 2 * HOUR)
        after = checkpoint(sc, x["seeder"], timestamp=now[0] + 2 * HOUR)
        waiter = sc.make(x["fan"], "receive", {"transfers": [future.hash]}, [future], advance=False)
        led.ingest([future.wire, waiter.wire, after.wire])
        assert led.pending_count() == 3
        assert future.hash not in led.wanted().hashes
    finally:
        led.close()


def test_expired_offers_leave_the_book_and_stop_costing_queries(led: Ledger, world: Any) -> None:
    sc, x = world
    short = [
        offer(sc, x["artist"], x["art"], 10, x["crd"], 10, expires=sc.t0 + HOUR) for _ in range(100)
    ]  # the best prices, soon expired
    lasting = offer(sc, x["artist"], x["art"], 10, x["crd"], 20, expires=sc.t0 + 99 * HOUR)
    deliver(led, sc, *short, lasting)
    pair = (x["art"].hash, x["crd"].hash)
    assert len(led.state.book(*pair, now=sc.t0, limit=1000)) == 101
    assert [o.id for o in led.state.book(*pair, now=sc.t0 + 2 * HOUR)] == [lasting.hash]
    assert len(led.state._sorted_books[pair]) == 1  # pruned from the cached order
    # the expired offers' locks still close normally when their maker reclaims them
    accepted(led, reclaim(sc, x["artist"], short[0], None, timestamp=sc.t0 + 3 * HOUR))
    assert led.state.offer_status(led.state.offers[short[0].hash]) == "reclaimed"
    assert [o.id for o in led.state.book(*pair, now=sc.t0 + 3 * HOUR)] == [lasting.hash]


def test_an_append_is_judged_alone_when_a_due_entry_is_judged_with_it(tmp_path: Any) -> None:
    """A pending future entry that comes due during a local append and fails its rules does
    not make the append fail, and vice versa."""
    sc, x = market()
    now = [sc.t0 + 100 * HOUR]
    led = Ledger.open(tmp_path / "clock.sqlite", verify_threads=1, clock=lambda: now[0])
    try:
        deliver(led, sc)
        overdraft = sc.make(
            x["fan"],
            "send",
            {"asset": x["crd"].hash, "to": x["gw"].public_key, "amount": 10**9, "memo": ""},
            timestamp=now[0] + HOUR,
            advance=False,
        )
        assert not led.ingest([overdraft.wire]).rejected  # waits until its time
        now[0] += HOUR
        entry = led.append(x["fan2"], "checkpoint", {"open": 0}, timestamp=now[0])
        assert led.is_effective(entry.hash) and not led.has(overdraft.hash)
    finally:
        led.close()
