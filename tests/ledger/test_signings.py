"""Signing an artist has teeth, and a charter changes only as voted: every rule and conflict case
of docs/PROTOCOL.md ("Signings" and "Charter amendments" under "Votes and charters")."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.ledger import Ledger
from ledger.state import Share, compute_payouts
from tests.ledger.factory import Scenario
from tests.ledger.governance import (
    HOUR,
    accept,
    action,
    count,
    draft,
    label_world,
    listing,
    proposal,
    release,
    sign,
    vote,
)
from tests.ledger.histories import closure
from tests.ledger.test_properties import check_conservation, deliver_shuffled, ledgers
from tests.ledger.test_rules import accepted, deliver, refused


@pytest.fixture
def world(led: Ledger) -> tuple[Scenario, dict[str, Any]]:
    sc, x = label_world()
    deliver(led, sc)
    return sc, x


def passed(
    sc: Scenario,
    x: dict[str, Any],
    act: dict[str, Any],
    yes: bool = True,
    charter: Entry | None = None,
    deps: tuple[Entry, ...] = (),
    **rule_kw: Any,
) -> tuple[Entry, Entry]:
    """A proposal under the label's charter with ``act``, voted by fan1 (600 yes or no) and fan2
    (300 no), closed by the seeder; the fans receive their unlocked units."""
    fans = x["fans"]
    kw = {"method": "token", "asset": x["coop"], "quorum": 100, **rule_kw}
    p = proposal(
        sc,
        fans[0],
        settler=x["seeder"],
        charter=charter or x["charter"],
        act=act,
        deps=deps,
        **kw,
    )
    vs = [vote(sc, fans[1], p, [0 if yes else 1], units=600), vote(sc, fans[2], p, [1], units=300)]
    c = count(sc, x["seeder"], p, vs, timestamp=p.body["closes"] + 1)
    for fan in fans[1:]:
        sc.receive(fan, c)
    return p, c


def signed(sc: Scenario, x: dict[str, Any], bps: int = 2_000) -> Entry:
    """The chartered label signs the artist for ``bps``, as voted."""
    _, c = passed(sc, x, action("sign", x["artist"], bps))
    return sign(sc, x["label"], x["artist"], bps, c)


def shared(x: dict[str, Any], label_bps: int) -> list[tuple[Any, int]]:
    return [(x["artist"], 10_000 - label_bps), (x["label"], label_bps)]


# -- signings ------------------------------------------------------------------------------------


def test_a_signed_artists_later_listings_pay_the_label_its_share(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, label, crd = x["artist"], x["label"], x["crd"]
    s = signed(sc, x)
    before = listing(sc, artist, crd, title="Before")  # listed before the acceptance
    deliver(led, sc)
    a = accept(sc, artist, s)
    accepted(led, a)
    assert led.state.binding_shares(artist.public_key, a.timestamp + 1) == {label.public_key: 2_000}
    refused(led, listing(sc, artist, crd, title="Solo", advance=False), "signed to", "2000 bps")
    refused(
        led,
        listing(sc, artist, crd, title="Short", split=shared(x, 1_999), advance=False),
        "at least 2000",
    )
    refused(
        led,
        listing(sc, artist, crd, title="New", supersedes=before, advance=False),
        "signed to",
    )
    ok = listing(sc, artist, crd, title="Shared", price=999, split=shared(x, 2_000))
    more = listing(sc, artist, crd, title="Generous", split=shared(x, 5_000))
    accepted(led, ok)
    accepted(led, more)
    # the earlier listing is not bound, and purchases of the bound one pay the label 20 %
    fan = x["fans"][0]
    sc.receive(fan, sc.send(x["gw"], crd, fan, 5_000))
    buy = sc.purchase(fan, ok)
    old = sc.purchase(fan, before)
    deliver(led, sc, *sc.entries[-4:])
    to_label = {t.source: t.amount for t in led.state.incoming(label.public_key)}
    assert to_label[buy.hash] == 999 * 2_000 // 10_000
    assert old.hash not in to_label


def test_an_acceptance_is_the_artists_own_and_the_shares_fit_one_split(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    artist, other = x["artist"], sc.signer("other-label")
    s = signed(sc, x, 6_000)
    deliver(led, sc)
    refused(led, accept(sc, x["fans"][0], s, advance=False), "accepted by the artist")
    refused(
        led,
        sc.make(artist, "sign.accept", {"signing": s.hash, "until": None}, advance=False),
        "deps",
    )
    refused(
        led,
        sc.make(
            artist, "sign.accept", {"signing": x["charter"].hash, "until": None}, [x["charter"]]
        ),
        "not a signing",
    )
    sc.heads.pop(artist.public_key, None)  # the refused entry did not move the artist's head
    ts = sc.next_ts()
    refused(led, accept(sc, artist, s, ts, timestamp=ts, advance=False), "term ends")
    accepted(led, accept(sc, artist, s))
    refused(led, accept(sc, artist, s, advance=False), "already accepted")
    # an unchartered label signs freely; together the shares would pass the whole split
    s2 = sign(sc, other, artist, 4_001)
    accepted(led, s2)
    refused(led, accept(sc, artist, s2, advance=False), "whole split")
    s3 = sign(sc, other, artist, 4_000)
    accepted(led, s3)
    accepted(led, accept(sc, artist, s3))
    assert led.state.binding_shares(artist.public_key, sc.next_ts()) == {
        x["label"].public_key: 6_000,
        other.public_key: 4_000,
    }
    refused(led, listing(sc, artist, x["crd"], split=shared(x, 6_000), advance=False), "4000")


def test_a_signing_ends_with_its_term(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, crd = x["artist"], x["crd"]
    s = signed(sc, x)
    deliver(led, sc)
    a = accept(sc, artist, s, sc.t0 + 100 * HOUR)
    accepted(led, a)
    refused(led, listing(sc, artist, crd, advance=False), "signed to")
    body = sc.listing_body(artist, crd, title="Free again")
    late = sc.make(artist, "listing", body, timestamp=sc.t0 + 100 * HOUR)
    accepted(led, late)
    assert led.state.binding_shares(artist.public_key, late.timestamp) == {}


def test_a_chartered_label_releases_an_artist_only_as_voted(led: Ledger, world: Any) -> None:
    sc, x = world
    artist, label, crd = x["artist"], x["label"], x["crd"]
    s = signed(sc, x)
    deliver(led, sc)
    accepted(led, accept(sc, artist, s))
    refused(led, release(sc, label, s, advance=False), "passed proposal")
    _, wrong = passed(sc, x, action("sign", artist, 2_000))
    rel_act = action("release", artist, 2_000)
    rel_act["asset"] = s.hash
    _, c = passed(sc, x, rel_act)
    bad = passed(sc, x, {**rel_act, "amount": 1_999})[1]
    deliver(led, sc)
    refused(led, release(sc, label, s, wrong, advance=False), "exactly")
    refused(led, release(sc, label, s, bad, advance=False), "exactly")
    r = release(sc, label, s, c)
    accepted(led, r)
    assert led.state.releases[s.hash] == r.hash
    refused(led, release(sc, label, s, advance=False), "passed proposal")
    # the artist is free once its feed names the release; until then it is still bound
    refused(led, listing(sc, artist, crd, advance=False), "signed to")
    accepted(led, listing(sc, artist, crd, deps=[r], title="Free"))
    accepted(led, listing(sc, artist, crd, title="Still free"))
    refused(led, accept(sc, artist, s, None, r, advance=False), "already accepted")


def test_an_unchartered_label_releases_at_will_and_only_its_own_signings(
    led: Ledger, world: Any
) -> None:
    sc, x = world
    indie, artist = sc.signer("indie"), x["artist"]
    s = sign(sc, indie, artist, 1_000)
    deliver(led, sc)
    refused(led, release(sc, x["fans"][0], s, advance=False), "label that made it")
    r = release(sc, indie, s)
    accepted(led, r)
    refused(led, release(sc, indie, s, advance=False), "already released")
    refused(led, accept(sc, artist, s, None, r, advance=False), "released")


def test_signings_in_any_delivery_order_give_one_state(open_ledger: Any) -> None:
    sc, x = label_world()
    artist, crd = x["artist"], x["crd"]
    s = signed(sc, x)
    a = accept(sc, artist, s)
    li = listing(sc, artist, crd, split=shared(x, 2_500))
    rel_act = {**action("release", artist, 2_000), "asset": s.hash}
    _, c = passed(sc, x, rel_act)
    r = release(sc, x["label"], s, c)
    free = listing(sc, artist, crd, deps=[r], title="Free")
    fan = x["fans"][0]
    sc.receive(fan, sc.send(x["gw"], crd, fan, 5_000))
    sc.purchase(fan, li)
    sc.purchase(fan, free)
    hashes = set()
    for n in range(6):
        led = open_ledger(f"o{n}.sqlite")
        deliver_shuffled(led, sc.wires(), random.Random(n))
        assert led.pending_count() == 0
        assert led.state.engagements[artist.public_key][0].released_by == r.hash
        assert led.is_effective(a.hash)
        check_conservation(led)
        hashes.add(led.state_hash())
    assert len(hashes) == 1


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bps=st.integers(1, 9_000),
    extra=st.integers(0, 1_000),
    amounts=st.lists(st.integers(1, 10_000), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_every_purchase_of_a_bound_listing_pays_the_label_its_share(
    bps: int, extra: int, amounts: list[int], seed: int
) -> None:
    """Name-your-price purchases of any amount of a listing the signing binds: the label gets at
    least floor(amount x signed share), every asset is conserved, any order gives one state."""
    sc, x = label_world()
    artist, label, crd = x["artist"], x["label"], x["crd"]
    indie = sc.signer("indie")  # an unchartered label: no vote needed
    s = sign(sc, indie, artist, bps)
    accept(sc, artist, s)
    give = bps + extra
    li = listing(
        sc,
        artist,
        crd,
        price=1,
        nyp=True,
        split=[(artist, 10_000 - give), (indie, give)] if give < 10_000 else [(indie, 10_000)],
        remainder=label,
    )
    fan = x["fans"][0]
    sc.receive(fan, sc.send(x["gw"], crd, fan, sum(amounts)))
    buys = [sc.purchase(fan, li, amount=a) for a in amounts]
    with ledgers() as make:
        states = set()
        for n in range(2):
            led = make(f"p{n}")
            deliver_shuffled(led, sc.wires(), random.Random(seed + n))
            for b, amount in zip(buys, amounts, strict=True):
                got = sum(
                    t.amount for t in led.state.incoming(indie.public_key) if t.source == b.hash
                )
                assert got >= amount * bps // 10_000
                split = [Share(sh["to"], sh["bps"]) for sh in sc.listings[li.hash]["split"]]
                want = {p.to: p.amount for p in compute_payouts(amount, split, label.public_key)}
                assert got == want.get(indie.public_key, 0)
            check_conservation(led)
            states.add(led.state_hash())
        assert len(states) == 1


# -- charter amendments ----------------------------------------------------------------------------


def _amend(sc: Scenario, x: dict[str, Any], **rule_kw: Any) -> tuple[Entry, Entry, Entry]:
    """A draft (rules ``rule_kw``) put to a vote under the label's charter; it passes."""
    d = draft(sc, x["fans"][0], x["seeder"], **rule_kw)
    act = action("amend", x["label"], 1)
    act["asset"] = d.hash
    p, c = passed(sc, x, act, deps=(d,))
    return d, p, c


def _charter_entry(sc: Scenario, x: dict[str, Any], d: Entry, *deps: Entry, **kw: Any) -> Entry:
    return sc.make(x["label"], "charter", dict(d.body), deps, **kw)


NEW_RULES = {"method": "member", "members": (), "min_holding": 0, "quorum": 2}


def test_a_charter_changes_only_by_a_passed_amendment(led: Ledger, world: Any) -> None:
    sc, x = world
    fans = x["fans"]
    new = dict(NEW_RULES, members=fans[:2])
    d, _, c = _amend(sc, x, **new)
    other = draft(sc, fans[0], x["seeder"], period_ms=2 * HOUR, **new)
    _, pay = passed(sc, x, action("send", x["artist"], 1_000, x["crd"]))
    deliver(led, sc)
    refused(led, _charter_entry(sc, x, d, advance=False), "already has a charter")
    refused(led, _charter_entry(sc, x, other, c, advance=False), "exactly")
    refused(led, _charter_entry(sc, x, d, pay, advance=False), "exactly")
    amended = _charter_entry(sc, x, d, c)
    accepted(led, amended)
    charter = led.state.charters[x["label"].public_key]
    assert charter.id == amended.hash and charter.rules.method == "member"
    # carried out once: the amendment itself was voted under the charter it replaced
    refused(led, _charter_entry(sc, x, d, c, advance=False), "not under")
    # what passed under the old charter and was not carried out is void
    send = {"asset": x["crd"].hash, "to": x["artist"].public_key, "amount": 1_000, "memo": ""}
    refused(led, sc.make(x["label"], "send", send, [pay], advance=False), "not under")
    # proposals under the new charter vote by its rules: one member one vote
    kw = dict(charter=amended, settler=x["seeder"], method="member", members=fans[:2], quorum=2)
    p = proposal(sc, fans[0], act=action("send", x["artist"], 1_000, x["crd"]), **kw)
    accepted(led, p)
    vs = [vote(sc, f, p, [0]) for f in fans[:2]]
    refused(led, vote(sc, fans[2], p, [0], advance=False), "member list")
    c2 = count(sc, x["seeder"], p, vs, timestamp=p.body["closes"] + 1)
    deliver(led, sc, *vs, c2)
    assert led.state.results[p.hash].passed
    accepted(led, sc.make(x["label"], "send", send, [c2]))


def test_amendments_that_do_not_hold(led: Ledger, world: Any) -> None:
    sc, x = world
    fans = x["fans"]
    new = dict(NEW_RULES, members=fans[:2])
    _amend(sc, x, **new)  # one passes; a second one fails
    d2 = draft(sc, fans[0], x["seeder"], period_ms=3 * HOUR, **new)
    act = {**action("amend", x["label"], 1), "asset": d2.hash}
    _, lost = passed(sc, x, act, yes=False, deps=(d2,))
    deliver(led, sc)
    refused(led, _charter_entry(sc, x, d2, lost, advance=False), "did not pass")
    kw: dict[str, Any] = dict(
        settler=x["seeder"], charter=x["charter"], method="token", asset=x["coop"], quorum=100
    )
    refused(led, proposal(sc, fans[0], act=act, advance=False, **kw), "deps")
    refused(
        led,
        proposal(
            sc, fans[0], act={**act, "to": fans[0].public_key}, deps=[d2], advance=False, **kw
        ),
        "amendment names",
    )
    not_draft = {**act, "asset": x["charter"].hash}
    refused(
        led,
        proposal(sc, fans[0], act=not_draft, deps=[x["charter"]], advance=False, **kw),
        "not a charter draft",
    )
    refused(led, draft(sc, fans[0], x["seeder"], method="token"), "names an asset")


# -- random histories against an independent oracle ------------------------------------------------

SIGNING_OPS = st.lists(
    st.tuples(
        st.sampled_from(["sign", "sign", "accept", "accept", "release", "list", "list", "buy"]),
        st.integers(0, 7),
        st.integers(0, 6_000),
        st.integers(0, 3),
    ),
    min_size=8,
    max_size=30,
)


class SigningHistory:
    """Random signings, acceptances (with or without a term), releases, listings (splits that
    do or do not pay) and purchases, each kept only if a reference ledger accepts it. An oracle
    computes, from the artist's own accepted entries alone, which listings must be accepted."""

    def __init__(self, led: Ledger) -> None:
        self.led = led
        self.sc, x = label_world()
        self.x = x
        self.artist, self.crd = x["artist"], x["crd"]
        self.labels = [self.sc.signer(f"indie{i}") for i in range(2)]
        self.buyer = x["fans"][0]
        self.sc.receive(self.buyer, self.sc.send(x["gw"], self.crd, self.buyer, 50_000))
        deliver(led, self.sc)
        self.signings: list[Entry] = []
        self.releases: dict[bytes, Entry] = {}  # sign entry -> release
        self.listings: list[tuple[Entry, dict[bytes, int]]] = []  # with what they must give
        self.buys: list[tuple[Entry, Entry, int]] = []  # purchase, listing, amount
        # the oracle's view of the artist's feed: accepted signings and releases it named
        self.accepted: list[tuple[Entry, int | None]] = []
        self.named: set[bytes] = set()
        self.decisions = 0

    def mark(self) -> tuple[int, dict[bytes, Any]]:
        return len(self.sc.entries), dict(self.sc.heads)

    def offer(self, mark: tuple[int, dict[bytes, Any]], e: Entry) -> Entry | None:
        """Keep ``e`` if the reference ledger accepts it, else forget it in the scenario."""
        if self.led.ingest([e.wire]).accepted:
            return e
        del self.sc.entries[mark[0] :]
        self.sc.heads = mark[1]
        return None

    def required(self, ts: int, deps: set[bytes]) -> dict[bytes, int]:
        out: dict[bytes, int] = {}
        for s, until in self.accepted:
            rel = self.releases.get(s.hash)
            if until is not None and ts >= until:
                continue
            if rel is not None and (rel.hash in self.named or rel.hash in deps):
                continue
            label = s.author
            out[label] = out.get(label, 0) + s.body["share_bps"]
        return out

    def run(self, ops: list[tuple[str, int, int, int]]) -> None:
        sc, artist = self.sc, self.artist
        for op, a, b, c in ops:
            if op == "sign":
                label = self.labels[a % 2]
                e = self.offer(self.mark(), sign(sc, label, artist, max(1, b)))
                if e is not None:
                    self.signings.append(e)
            elif op == "accept" and self.signings:
                s = self.signings[a % len(self.signings)]
                ts = sc.next_ts()
                until = None if c == 0 else ts + c * 3 * sc.step
                rel = self.releases.get(s.hash)
                deps = [rel] if rel is not None and b % 2 else []
                e = self.offer(self.mark(), accept(sc, artist, s, until, *deps, timestamp=ts))
                total = sum(self.required(ts, {d.hash for d in deps}).values())
                ok = (
                    s.hash not in {x.hash for x, _ in self.accepted}
                    and not deps
                    and total + s.body["share_bps"] <= 10_000
                )
                assert (e is not None) == ok, (op, total, s.body)
                self.decisions += 1
                if e is not None:
                    self.accepted.append((s, until))
            elif op == "release" and self.signings:
                s = self.signings[a % len(self.signings)]
                e = self.offer(self.mark(), release(sc, sc_author(self.labels, s), s))
                assert (e is not None) == (s.hash not in self.releases)
                if e is not None:
                    self.releases[s.hash] = e
            elif op == "list":
                ts = sc.next_ts()
                rels = list(self.releases.values())
                deps = [rels[c % len(rels)]] if rels and c else []
                l0, l1 = (lb.public_key for lb in self.labels)
                give0, give1 = b % 5_001, (b * 7 + a * 991) % 5_001
                split = [(artist, 10_000 - give0 - give1)]
                split += [(lb, g) for lb, g in ((l0, give0), (l1, give1)) if g]
                split = [(to, bps) for to, bps in split if bps]
                need = self.required(ts, {d.hash for d in deps})
                given = dict(
                    (to if isinstance(to, bytes) else to.public_key, bps) for to, bps in split
                )
                ok = all(given.get(lb, 0) >= bps for lb, bps in need.items())
                body = sc.listing_body(
                    artist, self.crd, price=1, nyp=True, split=split, title=f"L{ts}"
                )
                mark = self.mark()
                e = self.offer(mark, sc.make(artist, "listing", body, deps, timestamp=ts))
                assert (e is not None) == ok, (need, given)
                self.decisions += 1
                if e is not None:
                    sc.listings[e.hash] = body
                    self.named |= {d.hash for d in deps}
                    self.listings.append((e, need))
            elif op == "buy" and self.listings:
                li, _ = self.listings[a % len(self.listings)]
                amount = 1 + b
                mark = self.mark()
                e = self.offer(mark, sc.purchase(self.buyer, li, amount=amount))
                if e is not None:
                    self.buys.append((e, li, amount))


def sc_author(labels: list[Any], s: Entry) -> Any:
    return next(lb for lb in labels if lb.public_key == s.author)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=SIGNING_OPS, seed=st.integers(0, 2**16))
def test_random_signing_histories_follow_the_oracle_in_any_order(ops: Any, seed: int) -> None:
    """The ledger accepts exactly the acceptances and listings the oracle allows; every purchase
    of a bound listing pays each label at least its share; any delivery order gives one state;
    each listing is judged the same on a replica holding only its dependency closure."""
    with ledgers() as make:
        h = SigningHistory(make("ref"))
        h.run(ops)
        for buy, li, amount in h.buys:
            need = next(n for e, n in h.listings if e.hash == li.hash)
            for label, bps in need.items():
                got = sum(t.amount for t in h.led.state.incoming(label) if t.source == buy.hash)
                assert got >= amount * bps // 10_000
        check_conservation(h.led)
        want = h.led.state_hash()
        other = make("shuffled")
        deliver_shuffled(other, h.sc.wires(), random.Random(seed))
        assert other.state_hash() == want
        if h.listings:
            li, _ = h.listings[seed % len(h.listings)]
            alone = make("closure")
            assert not alone.ingest(closure(h, li)).rejected
            assert [e.hash for e in alone.ingest([li.wire]).accepted] == [li.hash]
