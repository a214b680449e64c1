"""Campaign rewards delivered: every rule and conflict case of docs/PROTOCOL.md ("Campaign
rewards"): a funded campaign's tiers give coins (sent by the artist) and the campaign's release
(sealed to the backer by the campaign's settler), each once per backer."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ledger.entry import Entry
from ledger.keys import Signer, seal_to
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario
from tests.ledger.funding import HOUR, campaign, close, funding, pledge
from tests.ledger.test_rules import accepted, deliver, refused

TIERS = [
    {"name": "Supporter", "min": 10, "reward": "20 ANN", "coins": 20},
    {"name": "Patron", "min": 100, "reward": "50 ANN and the album", "coins": 50, "release": True},
]


def keys(listing: Entry, to: bytes) -> list[dict[str, Any]]:
    return [
        {"content": t["content"], "sealed": seal_to(to, hashlib.sha256(t["content"]).digest())}
        for t in listing.body["tracks"]
    ]


def reward(
    sc: Scenario,
    who: Signer,
    camp: Entry,
    shut: Entry,
    backer: Signer,
    listing: Entry | None = None,
    deps: list[Entry] | None = None,
    **kw: Any,
) -> Entry:
    body: dict[str, Any] = {"campaign": camp.hash, "close": shut.hash, "backer": backer.public_key}
    if listing is not None:
        body["listing"] = listing.hash
        body["keys"] = kw.pop("sealed", None) or keys(listing, backer.public_key)
    default = [shut] + ([] if camp.author == who.public_key else [camp])
    if listing is not None and listing.author != who.public_key:
        default.append(listing)
    return sc.make(who, "campaign.reward", body, default if deps is None else deps, **kw)


@pytest.fixture
def funded(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    """A campaign with coin and release tiers, settled by the seeder (the artist's agent):
    fan0 pledges 150 (Patron), fan1 pledges 50 (Supporter), fan2 5 (no tier); funded."""
    sc, x = funding()
    artist, seeder, fans = x["artist"], x["seeder"], x["fans"]
    ann = sc.issue(artist, "ANN", max_supply=10**6, flags=["artistcoin"], precision=0, name="Ann")
    sc.mint(artist, ann, 1_000)
    deleg = sc.delegate(artist, seeder)
    t = sc.next_ts()
    c = sc.make(
        artist,
        "campaign",
        {
            "title": "Second album",
            "description": "",
            "asset": x["crd"].hash,
            "goal": 200,
            "deadline": t + 2 * HOUR,
            "close_by": t + 3 * HOUR,
            "tiers": TIERS,
            "settler": seeder.public_key,
            "reward_asset": ann.hash,
        },
        [x["crd"]],
        timestamp=t,
    )
    ps = [pledge(sc, f, c, n) for f, n in zip(fans, (150, 50, 5), strict=True)]
    shut = close(sc, seeder, c, True, ps, timestamp=t + 2 * HOUR + 1)
    deliver(led, sc)
    return sc, {**x, "ann": ann, "campaign": c, "close": shut, "delegation": deleg}


def release(sc: Scenario, x: dict[str, Any], **kw: Any) -> Entry:
    body = sc.listing_body(x["artist"], x["crd"], title="Second album", tag="r")
    body["campaign"] = x["campaign"].hash
    return sc.make(x["artist"], "listing", body, **kw)


def ann(led: Ledger, who: Signer, x: dict[str, Any]) -> int:
    return led.state.balance(who.public_key, x["ann"].hash)


def test_coin_rewards_go_to_each_backer_once_by_their_tier(led: Ledger, funded: Any) -> None:
    sc, x = funded
    artist, seeder, (f0, f1, f2) = x["artist"], x["seeder"], x["fans"]
    c, shut = x["campaign"], x["close"]
    assert [(b.amount, b.tier.name if b.tier else None) for b in
            led.state.backers(led.state.campaigns[c.hash])] == [
        (150, "Patron"), (50, "Supporter"), (5, None)]  # fmt: skip
    r0 = reward(sc, artist, c, shut, f0)
    accepted(led, r0)
    assert ann(led, artist, x) == 1_000 - 50
    assert {t.source: t.amount for t in led.state.incoming(f0.public_key)} == {r0.hash: 50}
    refused(led, reward(sc, artist, c, shut, f0, advance=False), "already delivered")
    refused(led, reward(sc, artist, c, shut, f2, advance=False), "no reward tier")
    refused(led, reward(sc, seeder, c, shut, f1, advance=False), "only the artist")
    accepted(led, reward(sc, artist, c, shut, f1))
    assert ann(led, artist, x) == 1_000 - 70
    assert led.state.reward_delivered(c.hash, f1.public_key, "coins") is not None
    for asset in led.state.assets:
        acc = led.state.accounting(asset)
        assert acc.supply == acc.balances + acc.locked + acc.in_flight


def test_the_release_is_sealed_to_patrons_by_the_campaigns_settler(
    led: Ledger, funded: Any
) -> None:
    sc, x = funded
    artist, seeder, (f0, f1, _f2) = x["artist"], x["seeder"], x["fans"]
    c, shut, deleg = x["campaign"], x["close"], x["delegation"]
    li = release(sc, x)
    accepted(led, li)
    assert led.state.release_of(c.hash).id == li.hash  # type: ignore[union-attr]
    refused(led, reward(sc, artist, c, shut, f0, li, advance=False), "only the campaign's settler")
    refused(
        led, reward(sc, seeder, c, shut, f0, li, deps=[shut, c, li], advance=False), "delegation"
    )
    refused(
        led,
        reward(sc, seeder, c, shut, f1, li, deps=[shut, c, li, deleg], advance=False),
        "does not give the release",
    )
    wrong = [{"content": b"\x01" * 32, "sealed": b"\x00" * 80}]
    refused(
        led,
        reward(sc, seeder, c, shut, f0, li, deps=[shut, c, li, deleg], sealed=wrong,
               advance=False),
        "exactly the release's keys",
    )  # fmt: skip
    r = reward(sc, seeder, c, shut, f0, li, deps=[shut, c, li, deleg])
    accepted(led, r)
    got = led.state.rewards[r.hash]
    assert set(got.sealed) == {t["content"] for t in li.body["tracks"]}
    opened = f0.open_sealed(got.sealed[li.body["tracks"][0]["content"]])
    assert opened == hashlib.sha256(li.body["tracks"][0]["content"]).digest()
    refused(
        led,
        reward(sc, seeder, c, shut, f0, li, deps=[shut, c, li, deleg], advance=False),
        "already delivered",
    )
    # another listing naming the campaign later is not its release
    later = release(sc, x)
    accepted(led, later)
    accepted(led, reward(sc, artist, c, shut, f0))  # the coins are a reward of their own


def test_rewards_need_the_funding_close_in_deps(led: Ledger, funded: Any) -> None:
    sc, x = funded
    artist, (f0, _f1, _f2) = x["artist"], x["fans"]
    c, shut = x["campaign"], x["close"]
    refused(led, reward(sc, artist, c, shut, f0, deps=[], advance=False), "deps")
    refused(led, reward(sc, artist, c, c, f0, deps=[c], advance=False), "funded the campaign")
    # a campaign that failed gives nothing
    t = sc.next_ts()
    failed = campaign(sc, artist, x["crd"], 10_000, tiers=TIERS, timestamp=t,
                      deps=[x["crd"]], advance=False)  # fmt: skip
    refused(led, failed, "reward_asset")  # coin tiers without a reward asset


def test_a_listing_names_only_its_authors_campaign(led: Ledger, funded: Any) -> None:
    sc, x = funded
    body = sc.listing_body(x["fans"][0], x["crd"], tag="x")
    body["campaign"] = x["campaign"].hash
    refused(led, sc.make(x["fans"][0], "listing", body, advance=False), "its own author")
