"""Reviews from verified buyers: every rule and conflict case of docs/PROTOCOL.md ("Reviews")."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.ledger import Ledger
from tests.ledger.factory import Scenario, economy
from tests.ledger.histories import deliver_shuffled, ledgers
from tests.ledger.test_rules import accepted, deliver, refused


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    sc, x = economy()
    p = sc.purchase(x["fan"], x["listing"])
    g = sc.grant(x["artist"], p)
    deliver(led, sc)
    return sc, {**x, "purchase": p, "grant": g}


def review(sc: Scenario, who: Any, grant: Any, rating: int, text: str = "", **kw: Any) -> Any:
    return sc.make(
        who, "review", {"grant": grant.hash, "rating": rating, "text": text}, [grant], **kw
    )


def test_a_granted_buyer_reviews_and_its_latest_review_counts(led: Ledger, world: Any) -> None:
    sc, x = world
    first = review(sc, x["fan"], x["grant"], 2, "too short")
    accepted(led, first)
    assert led.state.rating_of(x["listing"].hash) == (2, 1)
    later = review(sc, x["fan"], x["grant"], 5, "grew on me")
    accepted(led, later)
    assert [r.id for r in led.state.reviews_of(x["listing"].hash)] == [later.hash]
    assert led.state.rating_of(x["listing"].hash) == (5, 1)


def test_only_the_granted_buyer_reviews(led: Ledger, world: Any) -> None:
    sc, x = world
    refused(led, review(sc, x["agent"], x["grant"], 5, advance=False), "only the buyer")
    refused(
        led,
        sc.make(
            x["fan"],
            "review",
            {"grant": x["grant"].hash, "rating": 5, "text": ""},
            [],
            advance=False,
        ),
        "deps",
    )
    refused(
        led,
        sc.make(
            x["fan"],
            "review",
            {"grant": x["purchase"].hash, "rating": 5, "text": ""},
            [x["purchase"]],
            advance=False,
        ),
        "not a grant",
    )


def test_the_artist_replies_and_its_latest_reply_counts(led: Ledger, world: Any) -> None:
    sc, x = world
    r = review(sc, x["fan"], x["grant"], 4)
    accepted(led, r)
    refused(
        led,
        sc.make(x["agent"], "review.reply", {"review": r.hash, "text": "hi"}, [r], advance=False),
        "only the listing's artist",
    )
    accepted(led, sc.make(x["artist"], "review.reply", {"review": r.hash, "text": "thanks"}, [r]))
    again = sc.make(x["artist"], "review.reply", {"review": r.hash, "text": "thank you!"}, [r])
    accepted(led, again)
    assert led.state.reply_to(r.hash).text == "thank you!"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 5)), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
)
def test_reviews_in_any_delivery_order_give_one_state_and_the_latest_counts(
    ops: Any, seed: int
) -> None:
    sc, x = economy()
    fan2 = sc.signer("fan2")
    sc.receive(fan2, sc.send(x["gw"], x["crd"], fan2, 2_000))
    grants = {}
    for who in (x["fan"], fan2):
        grants[who.public_key] = sc.grant(x["artist"], sc.purchase(who, x["listing"]))
    latest: dict[bytes, int] = {}
    reviews = []
    for kind, rating in ops:
        if kind < 2:
            who = (x["fan"], fan2)[kind]
            reviews.append(review(sc, who, grants[who.public_key], rating))
            latest[who.public_key] = rating
        elif reviews:
            r = reviews[rating % len(reviews)]
            sc.make(x["artist"], "review.reply", {"review": r.hash, "text": f"{rating}"}, [r])
    rnd = random.Random(seed)
    with ledgers() as make:
        hashes = set()
        for _ in range(2):
            led = make()
            deliver_shuffled(led, sc.wires(), rnd)
            assert led.pending_count() == 0
            assert led.state.rating_of(x["listing"].hash) == (sum(latest.values()), len(latest))
            hashes.add(led.state_hash())
        assert len(hashes) == 1
