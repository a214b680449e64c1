"""Referral and seeder shares of a sale, and gated listings: every rule and conflict case of
docs/PROTOCOL.md ("Referral and seeder shares", "Gated listings")."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.entry import Entry
from ledger.errors import SchemaError
from ledger.keys import Signer
from ledger.kinds import validate_body
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario
from tests.ledger.market import HOUR, market
from tests.ledger.test_gates import claim, gate, unlock
from tests.ledger.test_rules import accepted, deliver, refused

DAY = 24 * HOUR


def pk(x: Signer | bytes) -> bytes:
    return x.public_key if isinstance(x, Signer) else x


def shared_listing(
    sc: Scenario,
    x: dict[str, Any],
    *,
    seeders: int = 1_000,
    referrer: int = 500,
    price: int = 1_000,
    split: list[tuple[Signer, int]] | None = None,
    gate_term: dict[str, Any] | None = None,
    deps: list[Entry] = (),  # type: ignore[assignment]
    advance: bool = True,
) -> Entry:
    body = sc.listing_body(x["artist"], x["crd"], price=price, split=split)
    if seeders or referrer:
        body["shares"] = {"seeders": seeders, "referrer": referrer}
    if gate_term is not None:
        body["gate"] = gate_term
    e = sc.make(x["artist"], "listing", body, deps, advance=advance)
    if advance:
        sc.listings[e.hash] = body
        sc.listing_artist[e.hash] = x["artist"].public_key
    return e


def buy(
    sc: Scenario,
    buyer: Signer,
    listing: Entry,
    payouts: list[tuple[Signer | bytes, int]],
    *,
    amount: int | None = None,
    referrer: Signer | bytes | None = None,
    claim_of: Entry | None = None,
    deps: list[Entry] | None = None,
    **kw: Any,
) -> Entry:
    body: dict[str, Any] = {
        "listing": listing.hash,
        "track": None,
        "asset": listing.body["prices"][0]["asset"],
        "amount": listing.body["prices"][0]["amount"] if amount is None else amount,
        "payouts": [{"to": pk(to), "amount": a} for to, a in payouts],
    }
    if referrer is not None:
        body["referrer"] = pk(referrer)
    if claim_of is not None:
        body["claim"] = claim_of.hash
    default = [listing] + ([claim_of] if claim_of is not None else [])
    return sc.make(buyer, "purchase", body, default if deps is None else deps, **kw)


def receipt(
    sc: Scenario, buyer: Signer, purchase: Entry, seeders: list[tuple[Any, int]], **kw: Any
):
    body = {"purchase": purchase.hash, "seeders": [{"to": pk(t), "bytes": b} for t, b in seeders]}
    return sc.make(buyer, "receipt", body, **kw)


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    sc, x = market()
    x["label"] = sc.signer("label")
    x["seeder2"] = sc.signer("seeder2")
    x["friend"] = sc.signer("friend")
    deliver(led, sc)
    return sc, x


def crd(led: Ledger, who: Signer | bytes, x: dict[str, Any]) -> int:
    return led.state.balance(pk(who), x["crd"].hash)


def owed(led: Ledger, who: Signer | bytes) -> dict[bytes, int]:
    """Source entry -> amount in flight to ``who``."""
    return {t.source: t.amount for t in led.state.incoming(pk(who))}


# -- referral and seeder shares -------------------------------------------------------------------


def test_old_bodies_still_validate_and_new_terms_are_checked() -> None:
    base = {
        "listing": b"\x01" * 32,
        "track": None,
        "asset": b"\x02" * 32,
        "amount": 5,
        "payouts": [{"to": b"\x03" * 32, "amount": 5}],
    }
    validate_body("purchase", base)
    validate_body("purchase", {**base, "referrer": b"\x04" * 32, "claim": b"\x05" * 32})
    with pytest.raises(SchemaError, match="referrer"):
        validate_body("purchase", {**base, "referrer": b"\x04" * 31})
    with pytest.raises(SchemaError, match="unknown"):
        validate_body("purchase", {**base, "referer": b"\x04" * 32})
    sc, x = market()
    listing = sc.listing_body(x["artist"], x["crd"])
    validate_body("listing", {**listing, "shares": {"seeders": 500, "referrer": 500}})
    with pytest.raises(SchemaError, match="shares"):
        validate_body("listing", {**listing, "shares": {"seeders": 5_001, "referrer": 0}})
    with pytest.raises(SchemaError, match="discount_bps"):
        gate_term = {"gate": b"\x01" * 32, "holders_only": False, "discount_bps": 10_000}
        validate_body("listing", {**listing, "gate": gate_term})


def test_a_referred_purchase_pays_the_referrer_and_holds_the_seeders_share(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    artist, label, fan = x["artist"], x["label"], x["fan"]
    li = shared_listing(sc, x, split=[(artist, 7_000), (label, 3_000)], price=1_000)
    accepted(led, li)
    # referrer 5% = 50, seeders 10% = 100 held, the split shares the other 850: 595 / 255
    p = buy(sc, fan, li, [(artist, 595), (label, 255), (x["friend"], 50)], referrer=x["friend"])
    before = crd(led, fan, x)
    accepted(led, p)
    assert crd(led, fan, x) == before - 1_000
    assert owed(led, x["friend"]) == {p.hash: 50}
    assert owed(led, artist) == {p.hash: 595} and owed(led, label) == {p.hash: 255}
    assert led.state.seeders_share(p.hash) == 100
    assert led.state.locked(fan.public_key, x["crd"].hash) == 100
    assert led.state.awaiting_receipt(fan.public_key) == [p.hash]
    assert led.state.referrals_of(x["friend"].public_key) == [p.hash]
    acc = led.state.accounting(x["crd"].hash)
    assert acc.supply == acc.balances + acc.locked + acc.in_flight
    # the buyer's receipt pays the seeders pro rata by bytes, the rest to the remainder
    r = receipt(sc, fan, p, [(x["seeder"], 2_000_000), (x["seeder2"], 1_000_000)])
    accepted(led, r)
    assert owed(led, x["seeder"]) == {r.hash: 66} and owed(led, x["seeder2"]) == {r.hash: 33}
    assert owed(led, artist) == {p.hash: 595, r.hash: 1}  # the artist is the remainder
    assert led.state.seeders_share(p.hash) == 0 and led.state.locks[p.hash].closed_by == r.hash
    assert led.state.awaiting_receipt(fan.public_key) == []
    assert led.state.receipt_of(p.hash).id == r.hash  # type: ignore[union-attr]
    acc = led.state.accounting(x["crd"].hash)
    assert acc.supply == acc.balances + acc.locked + acc.in_flight and acc.locked == 0
    # paid once: a second receipt is refused, and the seeders receive what they were owed
    refused(led, receipt(sc, fan, p, [(x["seeder"], 1)], advance=False), "already has a receipt")
    accepted(led, sc.make(x["seeder"], "receive", {"transfers": [r.hash]}, [r]))
    assert crd(led, x["seeder"], x) == 66


def test_without_a_referrer_its_share_goes_through_the_split(led: Ledger, world: Any) -> None:
    sc, x = world
    li = shared_listing(sc, x, seeders=0, referrer=2_000, price=999)
    accepted(led, li)
    refused(led, buy(sc, x["fan"], li, [(x["artist"], 799)], advance=False), "split exactly")
    p = buy(sc, x["fan"], li, [(x["artist"], 999)])
    accepted(led, p)
    assert led.state.seeders_share(p.hash) == 0
    refused(led, receipt(sc, x["fan"], p, [], advance=False), "holds no seeders' share")


def test_a_receipt_without_seeders_pays_the_remainder_recipient(led: Ledger, world: Any) -> None:
    sc, x = world
    li = shared_listing(sc, x, split=[(x["label"], 10_000)], seeders=1_000, referrer=0)
    accepted(led, li)
    # the label has the whole split, the artist is the remainder: 900 to the label, 100 held
    p = buy(sc, x["fan"], li, [(x["label"], 900)])
    accepted(led, p)
    r = receipt(sc, x["fan"], p, [])
    accepted(led, r)
    assert owed(led, x["artist"]) == {r.hash: 100}


def test_self_dealing_is_refused_where_visible_and_bounded_where_not(
    led: Ledger, world: Any
) -> None:
    """The buyer's own key is refused as referrer or seeder; a second account of the buyer
    collects at most the reserved shares of the buyer's own purchase (here 15%)."""
    sc, x = world
    fan, alt = x["fan"], x["fan2"]  # say fan2 is the fan's second account
    li = shared_listing(sc, x, seeders=1_000, referrer=500, price=1_000)
    accepted(led, li)
    refused(
        led,
        buy(sc, fan, li, [(x["artist"], 850), (fan, 50)], referrer=fan, advance=False),
        "own referrer",
    )
    p = buy(sc, fan, li, [(x["artist"], 850), (alt, 50)], referrer=alt)
    accepted(led, p)
    refused(led, receipt(sc, fan, p, [(fan, 10)], advance=False), "itself as a seeder")
    refused(led, receipt(sc, fan, p, [(alt, 10), (alt, 20)], advance=False), "appears twice")
    r = receipt(sc, fan, p, [(alt, 10)])
    accepted(led, r)
    got = sum(owed(led, alt).values())
    assert got == 150 == 1_000 * 1_500 // 10_000  # the discount: at most the reserved bps
    # another buyer's purchase pays the alt account nothing it did not name
    p2 = buy(sc, x["fan2"], li, [(x["artist"], 900)])
    accepted(led, p2)
    assert sum(owed(led, alt).values()) == got


def test_share_rules(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, shared_listing(sc, x, seeders=3_000, referrer=2_001, advance=False), "at most")
    plain = sc.listing(x["artist"], x["crd"], price=1_000)
    accepted(led, plain)
    refused(
        led,
        buy(
            sc,
            x["fan"],
            plain,
            [(x["artist"], 950), (x["friend"], 50)],
            referrer=x["friend"],
            advance=False,
        ),
        "no referrer share",
    )
    li = shared_listing(sc, x, seeders=1_000, referrer=0)
    accepted(led, li)
    p = buy(sc, x["fan"], li, [(x["artist"], 900)])
    accepted(led, p)
    refused(led, receipt(sc, x["fan2"], p, [(x["seeder"], 5)], advance=False), "of its author")
    refused(led, receipt(sc, x["fan"], li, [(x["seeder"], 5)], advance=False), "of its author")
    # the held share is locked: not spendable by the buyer
    have = crd(led, x["fan"], x)
    refused(
        led,
        sc.make(
            x["fan"],
            "send",
            {"asset": x["crd"].hash, "to": x["fan2"].public_key, "amount": have + 1, "memo": ""},
            advance=False,
        ),
        "overdraft",
    )
    # a lock that only a receipt ends: no reclaim takes it back
    refused(
        led,
        sc.make(x["fan"], "reclaim", {"of": p.hash, "proof": p.hash}, advance=False),
        "after the deadline",
    )


def test_a_referrer_in_the_split_gets_one_merged_payout(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, label = x["artist"], x["label"]
    li = shared_listing(sc, x, split=[(artist, 5_000), (label, 5_000)], seeders=0, referrer=1_000)
    accepted(led, li)
    refused(
        led,
        buy(
            sc,
            x["fan"],
            li,
            [(artist, 450), (label, 450), (label, 100)],
            referrer=label,
            advance=False,
        ),
        "split exactly",
    )
    p = buy(sc, x["fan"], li, [(artist, 450), (label, 550)], referrer=label)
    accepted(led, p)
    assert owed(led, label) == {p.hash: 550}


# -- gated listings -------------------------------------------------------------------------------


@pytest.fixture
def holders(led: Ledger, world: Any) -> tuple[Scenario, dict[str, Any]]:
    """The fan holds 150 ART (the artist's coin); the artist has a gate of 100 ART."""
    sc, x = world
    t = sc.heads[x["fan"].public_key].timestamp + DAY
    sent = sc.make(
        x["artist"],
        "send",
        {"asset": x["art"].hash, "to": x["fan"].public_key, "amount": 150, "memo": ""},
        timestamp=t,
    )
    got = sc.make(x["fan"], "receive", {"transfers": [sent.hash]}, [sent], timestamp=t)
    x["gate"] = gate(sc, x["artist"], x["art"], 100, lock_ms=DAY)
    deliver(led, sc, sent, got, x["gate"])
    return sc, x


def gated(sc: Scenario, x: dict[str, Any], only: bool, discount: int, **kw: Any) -> Entry:
    term = {"gate": x["gate"].hash, "holders_only": only, "discount_bps": discount}
    return shared_listing(sc, x, seeders=0, referrer=0, gate_term=term, **kw)


def test_a_holders_only_release_needs_an_active_claim(led: Ledger, holders: Any) -> None:
    sc, x = holders
    fan = x["fan"]
    li = gated(sc, x, True, 0)
    accepted(led, li)
    refused(led, buy(sc, fan, li, [(x["artist"], 1_000)], advance=False), "holders only")
    c = claim(sc, fan, x["gate"])
    accepted(led, c)
    refused(
        led,
        buy(sc, fan, li, [(x["artist"], 1_000)], claim_of=c, deps=[li], advance=False),
        "deps",
    )
    p = buy(sc, fan, li, [(x["artist"], 1_000)], claim_of=c)
    accepted(led, p)
    assert led.state.locked(fan.public_key, x["art"].hash) == 100  # the claim's units
    # the claim does not serve another buyer, nor outlive its period
    refused(
        led,
        buy(sc, x["fan2"], li, [(x["artist"], 1_000)], claim_of=c, advance=False),
        "not the buyer's",
    )
    after = c.body["until"] + 1
    refused(
        led,
        buy(sc, fan, li, [(x["artist"], 1_000)], claim_of=c, timestamp=after, advance=False),
        "not active",
    )
    accepted(led, unlock(sc, fan, c, timestamp=after))
    refused(
        led,
        buy(sc, fan, li, [(x["artist"], 1_000)], claim_of=c, timestamp=after, advance=False),
        "not active",
    )


def test_a_holders_discount_applies_only_with_a_claim(led: Ledger, holders: Any) -> None:
    sc, x = holders
    fan = x["fan"]
    li = gated(sc, x, False, 2_500)
    accepted(led, li)
    refused(led, buy(sc, fan, li, [(x["artist"], 750)], amount=750, advance=False), "price is 1000")
    accepted(led, buy(sc, x["fan2"], li, [(x["artist"], 1_000)]))  # no claim: full price
    c = claim(sc, fan, x["gate"])
    accepted(led, c)
    refused(
        led,
        buy(sc, fan, li, [(x["artist"], 1_000)], claim_of=c, advance=False),
        "price is 750",
    )
    accepted(led, buy(sc, fan, li, [(x["artist"], 750)], amount=750, claim_of=c))


def test_gated_listing_rules(led: Ledger, holders: Any) -> None:
    sc, x = holders
    refused(led, gated(sc, x, False, 0, advance=False), "holders only or")
    other = gate(sc, x["label"], x["art"], 10, deps=[x["art"]])
    accepted(led, other)
    term = {"gate": other.hash, "holders_only": True, "discount_bps": 0}
    refused(
        led,
        shared_listing(sc, x, seeders=0, referrer=0, gate_term=term, advance=False),
        "gate",
        "deps",
    )
    accepted(led, shared_listing(sc, x, seeders=0, referrer=0, gate_term=term, deps=[other]))
    term = {"gate": x["crd"].hash, "holders_only": True, "discount_bps": 0}
    refused(
        led,
        shared_listing(
            sc, x, seeders=0, referrer=0, gate_term=term, deps=[x["crd"]], advance=False
        ),
        "not a gate",
    )
    # a claim on another gate does not open this listing; an ungated listing takes no claim
    li = gated(sc, x, True, 0)
    accepted(led, li)
    g2 = gate(sc, x["artist"], x["art"], 20, lock_ms=DAY)
    accepted(led, g2)
    c2 = claim(sc, x["fan"], g2)
    accepted(led, c2)
    refused(
        led,
        buy(sc, x["fan"], li, [(x["artist"], 1_000)], claim_of=c2, advance=False),
        "another gate",
    )
    plain = sc.listing(x["artist"], x["crd"], price=10)
    accepted(led, plain)
    refused(
        led, buy(sc, x["fan"], plain, [(x["artist"], 10)], claim_of=c2, advance=False), "not gated"
    )


def test_a_gated_listing_with_shares_discounts_first(led: Ledger, holders: Any) -> None:
    sc, x = holders
    term = {"gate": x["gate"].hash, "holders_only": False, "discount_bps": 5_000}
    li = shared_listing(sc, x, seeders=1_000, referrer=1_000, gate_term=term, price=1_001)
    accepted(led, li)
    c = claim(sc, x["fan"], x["gate"])
    accepted(led, c)
    # 1001 - 500 = 501; referrer 50, seeders 50 held, split 401
    p = buy(
        sc,
        x["fan"],
        li,
        [(x["artist"], 401), (x["friend"], 50)],
        amount=501,
        referrer=x["friend"],
        claim_of=c,
    )
    accepted(led, p)
    assert led.state.seeders_share(p.hash) == 50
