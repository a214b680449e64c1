"""Level 6: the semantic rules of every kind and each conflict case (docs/PROTOCOL.md, "Kinds")."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.entry import Entry
from ledger.ledger import Ledger
from ledger.state import Share, compute_payouts
from tests.ledger.factory import Scenario, content_id, economy


def deliver(led: Ledger, sc: Scenario, *entries: Entry) -> None:
    """Ingest the given entries (default: all of the scenario) and require all accepted."""
    todo = list(entries) or sc.entries
    report = led.ingest([e.wire for e in todo])
    assert not report.rejected, report.rejected
    assert led.pending_count() == 0


def refused(led: Ledger, entry: Entry, *words: str) -> None:
    before = (led.state_hash(), led.count())
    report = led.ingest([entry.wire])
    assert not report.accepted and len(report.rejected) == 1, report
    reason = report.rejected[0].reason.lower()
    for w in words:
        assert w.lower() in reason, reason
    assert (led.state_hash(), led.count()) == before
    assert not led.has(entry.hash)


def accepted(led: Ledger, entry: Entry) -> None:
    report = led.ingest([entry.wire])
    assert [e.hash for e in report.accepted] == [entry.hash], report
    assert led.is_effective(entry.hash)


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    sc, x = economy()
    deliver(led, sc)
    return sc, x


# -- assets ----------------------------------------------------------------------------------------


def test_issue_creates_an_asset_named_by_the_entry_hash(led: Ledger, world: Any) -> None:
    _, x = world
    asset = led.state.assets[x["crd"].hash]
    assert asset.issuer == x["gw"].public_key and asset.symbol == "CRD"
    assert led.state.supply[x["crd"].hash] == 100_000


def test_mint_by_non_issuer_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.mint(x["fan"], x["crd"], 10), "issuer")


def test_mint_of_unknown_asset_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.mint(x["gw"], b"\x07" * 32, 10), "issuer")


def test_mint_up_to_max_supply_and_not_past_it(led: Ledger) -> None:
    sc = Scenario()
    gw = sc.signer("gw")
    a = sc.issue(gw, max_supply=1000)
    deliver(led, sc)
    accepted(led, sc.mint(gw, a, 1000))
    refused(led, sc.mint(gw, a, 1), "maximum supply")


# -- send and receive ------------------------------------------------------------------------------


def test_overdraft_is_rejected_and_exact_balance_is_fine(led: Ledger, world: Any) -> None:
    sc, x = world
    fan, gw = x["fan"], x["gw"]
    refused(
        led,
        sc.make(
            fan,
            "send",
            {"asset": x["crd"].hash, "to": gw.public_key, "amount": 5_001, "memo": ""},
            advance=False,
        ),
        "overdraft",
    )
    accepted(led, sc.send(fan, x["crd"], gw, 5_000))
    assert led.state.balance(fan.public_key, x["crd"].hash) == 0


def test_send_to_oneself_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.send(x["gw"], x["crd"], x["gw"], 1), "oneself")


def test_unknown_asset_cannot_be_sent(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.send(x["gw"], b"\x05" * 32, x["fan"], 1), "overdraft")


def test_incoming_funds_are_not_spendable_until_received(led: Ledger, world: Any) -> None:
    sc, x = world
    artist = x["artist"]
    s = sc.send(x["gw"], x["crd"], artist, 300)
    deliver(led, sc, s)
    assert [t.source for t in led.state.incoming(artist.public_key)] == [s.hash]
    refused(
        led,
        sc.make(
            artist,
            "send",
            {"asset": x["crd"].hash, "to": x["fan"].public_key, "amount": 1, "memo": ""},
            advance=False,
        ),
        "overdraft",
    )
    accepted(led, sc.receive(artist, s))
    assert led.state.balance(artist.public_key, x["crd"].hash) == 300
    assert led.state.incoming(artist.public_key) == []


def test_receive_of_a_transfer_to_someone_else_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    s = sc.send(x["gw"], x["crd"], x["fan"], 10)
    deliver(led, sc, s)
    refused(led, sc.receive(x["artist"], s), "no unreceived transfer")


def test_receive_twice_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    first_send = next(e for e in sc.entries if e.kind == "send")
    refused(led, sc.receive(x["fan"], first_send), "no unreceived transfer")


def test_receive_must_name_the_send_in_deps(led: Ledger, world: Any) -> None:
    sc, x = world
    s = sc.send(x["gw"], x["crd"], x["artist"], 10)
    deliver(led, sc, s)
    refused(led, sc.receive(x["artist"], s, deps=[]), "deps")


def test_receive_of_a_non_transfer_entry_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.receive(x["artist"], x["crd"]), "no unreceived transfer")


def test_receive_of_several_transfers_is_all_or_nothing(led: Ledger, world: Any) -> None:
    sc, x = world
    s1 = sc.send(x["gw"], x["crd"], x["artist"], 10)
    s2 = sc.send(x["gw"], x["crd"], x["fan"], 20)
    deliver(led, sc, s1, s2)
    refused(led, sc.receive(x["artist"], s1, s2), "no unreceived transfer")
    assert len(led.state.incoming(x["artist"].public_key)) == 1


# -- listings --------------------------------------------------------------------------------------


def _listing(sc: Scenario, x: dict[str, Any], **kw: Any) -> Entry:
    return sc.listing(x["artist"], x["crd"], **kw)


def test_split_must_sum_to_10000(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, _listing(sc, x, split=[(x["artist"], 6000), (x["agent"], 3999)]), "10000")


def test_split_recipient_may_not_appear_twice(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, _listing(sc, x, split=[(x["artist"], 5000), (x["artist"], 5000)]), "twice")


def test_track_content_ids_must_be_distinct(led: Ledger, world: Any) -> None:
    sc, x = world
    body = sc.listing_body(x["artist"], x["crd"], tracks=2)
    body["tracks"][1]["content"] = body["tracks"][0]["content"]
    refused(led, sc.listing(x["artist"], x["crd"], body=body), "content id")


def test_supersede_own_listing(led: Ledger, world: Any) -> None:
    sc, x = world
    old = x["listing"]
    new = _listing(sc, x, price=1500, supersedes=old, title="Album (remaster)")
    accepted(led, new)
    assert led.state.superseded[old.hash] == new.hash
    assert [li.id for li in led.state.current_listings()] == [new.hash]


def test_supersede_someone_elses_listing_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.listing(x["agent"], x["crd"], supersedes=x["listing"]), "its author")


def test_supersede_twice_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    accepted(led, _listing(sc, x, supersedes=x["listing"], title="v2"))
    refused(led, _listing(sc, x, supersedes=x["listing"], title="v3"), "already superseded")


def test_superseded_listing_stays_purchasable_at_its_own_terms(led: Ledger, world: Any) -> None:
    sc, x = world
    deliver(led, sc, _listing(sc, x, price=2000, supersedes=x["listing"], title="v2"))
    buy = sc.purchase(x["fan"], x["listing"])  # the old price, 999
    accepted(led, buy)
    assert led.state.purchases[buy.hash].amount == 999


# -- purchases -------------------------------------------------------------------------------------


def test_compute_payouts_floor_per_share_remainder_to_named_recipient() -> None:
    a, b, c, r = (bytes([i]) * 32 for i in (1, 2, 3, 4))
    split = [Share(a, 3333), Share(b, 3333), Share(c, 3334)]
    got = compute_payouts(100, split, b)
    assert [(p.to, p.amount) for p in got] == [(a, 33), (b, 34), (c, 33)]
    got = compute_payouts(100, split, r)
    assert [(p.to, p.amount) for p in got] == [(a, 33), (b, 33), (c, 33), (r, 1)]
    assert [(p.to, p.amount) for p in compute_payouts(1, split, r)] == [(r, 1)]


def test_purchase_with_a_split_pays_each_recipient_in_flight(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, agent = x["artist"], x["agent"]
    li = _listing(sc, x, price=1001, split=[(artist, 7000), (agent, 3000)], remainder=agent)
    buy = sc.purchase(x["fan"], li)
    deliver(led, sc, li, buy)
    assert {(t.to, t.amount) for t in led.state.inflight.values() if t.source == buy.hash} == {
        (artist.public_key, 700),
        (agent.public_key, 301),
    }
    accepted(led, sc.receive(agent, buy))
    assert led.state.balance(agent.public_key, x["crd"].hash) == 301


def test_purchase_at_the_wrong_price_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.purchase(x["fan"], x["listing"], amount=998), "price is 999")


def test_purchase_below_the_nyp_minimum_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    li = _listing(sc, x, price=500, nyp=True, title="NYP")
    deliver(led, sc, li)
    low = {
        "listing": li.hash,
        "track": None,
        "asset": x["crd"].hash,
        "amount": 499,
        "payouts": sc.payouts(li, 499),
    }
    refused(led, sc.make(x["fan"], "purchase", low, [li], advance=False), "minimum")
    accepted(led, sc.purchase(x["fan"], li, amount=500))
    accepted(led, sc.purchase(x["fan"], li, amount=750))


def test_purchase_in_an_unaccepted_asset_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.purchase(x["fan"], x["listing"], asset=b"\x09" * 32), "accept")


def test_purchase_with_wrong_payouts_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, agent = x["artist"], x["agent"]
    li = _listing(sc, x, price=1000, split=[(artist, 5000), (agent, 5000)])
    deliver(led, sc, li)
    right = sc.payouts(li, 1000)
    for wrong in (
        [right[1], right[0]],
        [{"to": artist.public_key, "amount": 600}, {"to": agent.public_key, "amount": 400}],
        [{"to": artist.public_key, "amount": 1000}],
    ):
        refused(
            led,
            sc.make(
                x["fan"],
                "purchase",
                {
                    "listing": li.hash,
                    "track": None,
                    "asset": x["crd"].hash,
                    "amount": 1000,
                    "payouts": wrong,
                },
                [li],
                advance=False,
            ),
            "split",
        )


def test_purchase_of_a_missing_track_index_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    body = {
        "listing": x["listing"].hash,
        "track": 2,
        "asset": x["crd"].hash,
        "amount": 500,
        "payouts": sc.payouts(x["listing"], 500),
    }
    bad = sc.make(x["fan"], "purchase", body, [x["listing"]], advance=False)
    refused(led, bad, "no such track")


def test_single_track_purchase_uses_the_track_price(led: Ledger, world: Any) -> None:
    sc, x = world
    buy = sc.purchase(x["fan"], x["listing"], track=1)
    accepted(led, buy)
    assert led.state.purchases[buy.hash].amount == 500


def test_track_without_own_prices_cannot_be_bought_alone(led: Ledger, world: Any) -> None:
    sc, x = world
    li = _listing(sc, x, title="No singles")
    deliver(led, sc, li)
    body = {
        "listing": li.hash,
        "track": 0,
        "asset": x["crd"].hash,
        "amount": 999,
        "payouts": sc.payouts(li, 999),
    }
    refused(led, sc.make(x["fan"], "purchase", body, [li], advance=False), "accept")


def test_purchase_must_name_the_listing_in_deps(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, sc.purchase(x["fan"], x["listing"], deps=[x["crd"]]), "deps")


def test_purchase_naming_a_non_listing_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    body = {
        "listing": x["crd"].hash,
        "track": None,
        "asset": x["crd"].hash,
        "amount": 999,
        "payouts": sc.payouts(x["listing"], 999),
    }
    refused(led, sc.make(x["fan"], "purchase", body, [x["crd"]], advance=False), "not a listing")


def test_purchase_beyond_balance_is_an_overdraft(led: Ledger, world: Any) -> None:
    sc, x = world
    li = _listing(sc, x, price=5_001, title="Expensive")
    deliver(led, sc, li)
    refused(led, sc.purchase(x["fan"], li), "overdraft")


# -- grants and sales agents -----------------------------------------------------------------------


def test_artist_grant_fulfils_the_purchase(led: Ledger, world: Any) -> None:
    sc, x = world
    buy = sc.purchase(x["fan"], x["listing"])
    deliver(led, sc, buy)
    assert [p.id for p in led.state.unfulfilled_for(x["artist"].public_key)] == [buy.hash]
    g = sc.grant(x["artist"], buy)
    accepted(led, g)
    assert led.state.purchases[buy.hash].granted_by == [g.hash]
    assert led.state.unfulfilled_for(x["artist"].public_key) == []
    sealed = led.state.grants[g.hash].sealed[content_id("a/Album/0")]
    assert len(sealed) == 80


def test_grant_by_a_stranger_is_rejected(led: Ledger, world: Any) -> None:
    sc, x = world
    buy = sc.purchase(x["fan"], x["listing"])
    deliver(led, sc, buy)
    refused(led, sc.grant(x["agent"], buy), "neither the artist nor an active sales agent")


def test_grant_must_seal_exactly_the_purchased_keys(led: Ledger, world: Any) -> None:
    sc, x = world
    artist = x["artist"]
    buy = sc.purchase(x["fan"], x["listing"])
    single = sc.purchase(x["fan"], x["listing"], track=0)
    deliver(led, sc, buy, single)
    keys = sc.keys_for(buy)
    for wrong in (keys[:1], [*keys, {"content": b"\x01" * 32, "sealed": b"x"}], [keys[0], keys[0]]):
        refused(
            led,
            sc.make(artist, "grant", {"purchase": buy.hash, "keys": wrong}, [buy], advance=False),
            "exactly",
        )
    refused(
        led,
        sc.make(artist, "grant", {"purchase": single.hash, "keys": keys}, [single], advance=False),
        "exactly",
    )
    accepted(led, sc.grant(artist, single))


def test_grant_must_name_the_purchase_in_deps(led: Ledger, world: Any) -> None:
    sc, x = world
    buy = sc.purchase(x["fan"], x["listing"])
    deliver(led, sc, buy)
    refused(
        led,
        sc.make(
            x["artist"],
            "grant",
            {"purchase": buy.hash, "keys": sc.keys_for(buy)},
            [],
            advance=False,
        ),
        "deps",
    )


def test_agent_grant_with_an_active_delegation(led: Ledger, world: Any) -> None:
    sc, x = world
    d = sc.delegate(x["artist"], x["agent"], [x["listing"]])
    buy = sc.purchase(x["fan"], x["listing"])
    deliver(led, sc, d, buy)
    assert [p.id for p in led.state.unfulfilled_for(x["agent"].public_key)] == [buy.hash]
    refused(
        led,
        sc.make(
            x["agent"],
            "grant",
            {"purchase": buy.hash, "keys": sc.keys_for(buy)},
            [buy],
            advance=False,
        ),
        "name the delegation in deps",
    )
    accepted(led, sc.grant(x["agent"], buy, deps=[d]))


def test_delegation_for_another_listing_does_not_cover(led: Ledger, world: Any) -> None:
    sc, x = world
    other = _listing(sc, x, title="Other")
    d = sc.delegate(x["artist"], x["agent"], [other])
    buy = sc.purchase(x["fan"], x["listing"])
    deliver(led, sc, other, d, buy)
    refused(led, sc.grant(x["agent"], buy, deps=[d]), "agent")


def test_delegate_rules(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(
        led,
        sc.make(
            x["artist"],
            "delegate",
            {"agent": x["artist"].public_key, "listings": [], "keys": []},
            advance=False,
        ),
        "itself",
    )
    refused(
        led,
        sc.make(
            x["agent"],
            "delegate",
            {"agent": x["fan"].public_key, "listings": [x["listing"].hash], "keys": []},
            advance=False,
        ),
        "own listings",
    )


def test_agent_grant_after_revoke_follows_the_prefix_rule(led: Ledger, world: Any) -> None:
    """An agent's grant is judged at the artist's feed prefix it names in deps."""
    sc, x = world
    artist, agent = x["artist"], x["agent"]
    d = sc.delegate(artist, agent)  # all listings
    buy = sc.purchase(x["fan"], x["listing"])
    before_revoke = sc.grant(agent, buy, deps=[d])  # names only the delegation (earlier prefix)
    r = sc.revoke(artist, d)
    later = sc.profile(artist, name="Artist")
    grant_body = {"purchase": buy.hash, "keys": sc.keys_for(buy)}
    # the agent's next entry, naming the revoke itself, or a later artist entry
    after_revoke = sc.make(agent, "grant", grant_body, [buy, d, r], advance=False)
    much_later = sc.make(agent, "grant", grant_body, [buy, d, later], advance=False)
    deliver(led, sc, d, buy, r, later)
    assert led.state.delegations[d.hash].revoked_at == r.seq
    assert led.state.unfulfilled_for(agent.public_key) == []
    accepted(led, before_revoke)  # delivered after the revoke, still valid: order independent
    refused(led, after_revoke, "agent")
    refused(led, much_later, "agent")


def test_revoke_rules(led: Ledger, world: Any) -> None:
    sc, x = world
    d = sc.delegate(x["artist"], x["agent"])
    deliver(led, sc, d)
    refused(led, sc.make(x["fan"], "revoke", {"delegation": d.hash}, advance=False), "own")
    refused(
        led, sc.make(x["artist"], "revoke", {"delegation": x["listing"].hash}, advance=False), "own"
    )
    accepted(led, sc.revoke(x["artist"], d))
    refused(led, sc.revoke(x["artist"], d), "already revoked")


def test_profile_latest_in_feed_wins(led: Ledger) -> None:
    sc = Scenario()
    a = sc.signer("a")
    sc.profile(a, name="One")
    sc.profile(a, name="Two", links=["https://two"])
    led.ingest(list(reversed(sc.wires())))
    p = led.state.profiles[a.public_key]
    assert (p.name, p.links, p.seq) == ("Two", ("https://two",), 2)


def test_append_refuses_semantic_errors_and_changes_nothing(led: Ledger, world: Any) -> None:
    _, x = world
    before = (led.state_hash(), led.count(), led.head_seq(x["fan"].public_key))
    with pytest.raises(Exception, match="overdraft"):
        led.append(
            x["fan"],
            "send",
            {"asset": x["crd"].hash, "to": x["gw"].public_key, "amount": 10**9, "memo": ""},
        )
    assert (led.state_hash(), led.count(), led.head_seq(x["fan"].public_key)) == before
