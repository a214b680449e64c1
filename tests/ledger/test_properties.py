"""Property tests for the ledger invariants of DESIGN.md (1 order independence, 2 conservation,
3 no overdraft, 4 equivocation, 5 idempotence, 7 integrity). Durability (6) is in
test_durability.py.

Histories are random but valid: a small interpreter turns drawn operations into signed entries
with the scenario factory, skipping operations that would be invalid (it keeps a model of
balances), so the reference ledger must accept every entry.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.entry import Entry
from ledger.forks import decode_fork_proof
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario
from tests.ledger.histories import deliver_shuffled, ingest_a_random_part, ledgers

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OP_NAMES = [
    "send",
    "send",
    "receive",
    "receive",
    "buy",
    "buy",
    "grant",
    "delegate",
    "agent_grant",
    "revoke",
    "profile",
    "mint",
    "relist",
]
OPS = st.lists(
    st.tuples(
        st.sampled_from(OP_NAMES), st.integers(0, 4), st.integers(0, 4), st.integers(1, 10_000)
    ),
    min_size=12,
    max_size=40,
)


class History:
    """Interpret drawn operations into a valid multi-author history."""

    def __init__(self, ops: list[tuple[str, int, int, int]]) -> None:
        sc = self.sc = Scenario()
        self.people = p = [sc.signer(f"person{i}") for i in range(5)]
        gw, art1, art2, agent = p[0], p[1], p[2], p[3]
        self.crd = sc.issue(gw, "CRD", max_supply=10**9)
        sc.mint(gw, self.crd, 40_000)
        self.coin = sc.issue(art1, "ART", max_supply=50_000, flags=["artistcoin"])
        sc.mint(art1, self.coin, 10_000)
        self.assets = [self.crd.hash, self.coin.hash]
        for person in p[1:]:  # everyone starts with some credits
            sc.receive(person, sc.send(gw, self.crd, person, 3_000))
        self.artists = [art1, art2]
        self.agent = agent
        self.listings: list[Entry] = [
            sc.listing(
                art1,
                self.crd,
                price=700,
                split=[(art1, 6000), (art2, 4000)],
                remainder=agent,
                tracks=2,
                track_price=300,
                tag="l1",
            ),
            sc.listing(art2, self.crd, price=250, nyp=True, tag="l2"),
        ]
        self.ungranted: list[Entry] = []
        self.delegations: dict[bytes, Entry] = {}  # artist -> active delegation
        for name, a, b, n in ops:
            getattr(self, "op_" + name)(a, b, n)

    def op_send(self, a: int, b: int, n: int) -> None:
        who, to = self.people[a], self.people[b]
        asset = self.assets[n % 2]
        have = self.sc.balance(who, asset)
        if who is to or have <= 0:
            return
        self.sc.send(who, asset, to, 1 + n % have, memo=f"m{n}")

    def op_receive(self, a: int, b: int, n: int) -> None:
        who = self.people[a]
        incoming = self.sc.incoming(who)
        if incoming:
            self.sc.receive(who, *incoming[: 1 + n % len(incoming)])

    def op_buy(self, a: int, b: int, n: int) -> None:
        buyer = self.people[a]
        li = self.listings[b % len(self.listings)]
        body = self.sc.listings[li.hash]
        track = None if n % 3 or not body["tracks"][0]["prices"] else n % len(body["tracks"])
        asset, price = self.sc.price(li, track)
        amount = price + (n % 50 if body["prices"][0]["nyp"] and track is None else 0)
        if self.sc.balance(buyer, asset) < amount:
            return
        self.ungranted.append(self.sc.purchase(buyer, li, amount=amount, track=track))

    def _artist_of(self, purchase: Entry) -> Any:
        listing = self.sc.purchases[purchase.hash][1]
        artist_pk = self.sc.listing_artist[listing]
        return next(s for s in self.artists if s.public_key == artist_pk)

    def op_grant(self, a: int, b: int, n: int) -> None:
        if self.ungranted:
            buy = self.ungranted.pop(n % len(self.ungranted))
            self.sc.grant(self._artist_of(buy), buy)

    def op_delegate(self, a: int, b: int, n: int) -> None:
        artist = self.artists[a % 2]
        if artist.public_key not in self.delegations:
            self.delegations[artist.public_key] = self.sc.delegate(artist, self.agent)

    def op_agent_grant(self, a: int, b: int, n: int) -> None:
        for i, buy in enumerate(self.ungranted):
            d = self.delegations.get(self._artist_of(buy).public_key)
            if d is not None:
                self.sc.grant(self.agent, self.ungranted.pop(i), deps=[d])
                return

    def op_revoke(self, a: int, b: int, n: int) -> None:
        artist = self.artists[a % 2]
        d = self.delegations.pop(artist.public_key, None)
        if d is not None:
            self.sc.revoke(artist, d)

    def op_profile(self, a: int, b: int, n: int) -> None:
        self.sc.profile(self.people[a], name=f"name {n}")

    def op_mint(self, a: int, b: int, n: int) -> None:
        issuer, asset = (self.people[0], self.crd) if a % 2 else (self.artists[0], self.coin)
        cap = {self.crd.hash: 10**9, self.coin.hash: 50_000}[asset.hash]
        room = cap - self.sc.supply[asset.hash]
        if room > 0:
            self.sc.mint(issuer, asset, 1 + n % room)

    def op_relist(self, a: int, b: int, n: int) -> None:
        li = self.listings[b % len(self.listings)]
        artist_pk = self.sc.listing_artist[li.hash]
        if li.hash in self.superseded():
            return
        artist = next(s for s in self.artists if s.public_key == artist_pk)
        new = self.sc.listing(artist, self.crd, price=100 + n % 900, supersedes=li, tag=f"re{n}")
        self.listings.append(new)

    def superseded(self) -> set[bytes]:
        return {b["supersedes"] for b in self.sc.listings.values() if b["supersedes"]}


def reference(make: Any, h: History) -> Ledger:
    led = make("ref")
    report = led.ingest(h.sc.wires())
    assert not report.rejected, report.rejected
    assert led.pending_count() == 0 and led.count() == len(h.sc.entries)
    return led


def check_conservation(led: Ledger) -> None:
    for asset in led.state.assets:
        held, moving = led.state.circulating(asset)
        assert led.state.supply[asset] == held + moving, asset.hex()
        assert all(v >= 0 for (_, a), v in led.state.balances.items() if a == asset)


# -- 1. order independence -------------------------------------------------------------------------


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_any_delivery_order_gives_the_same_state(ops: Any, seed: int) -> None:
    h = History(ops)
    rnd = random.Random(seed)
    with ledgers() as make:
        ref = reference(make, h)
        # the model kept by the interpreter agrees with the ledger's derived state
        for (acct, asset), v in h.sc.balances.items():
            assert ref.state.balance(acct, asset) == v
        for _ in range(2):
            other = make()
            deliver_shuffled(other, h.sc.wires(), rnd)
            assert other.pending_count() == 0
            assert other.count() == ref.count()
            assert other.state_hash() == ref.state_hash()


# -- 2. conservation -------------------------------------------------------------------------------


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_conservation_per_asset_after_any_history_and_any_partial_delivery(
    ops: Any, seed: int
) -> None:
    h = History(ops)
    rnd = random.Random(seed)
    with ledgers() as make:
        check_conservation(reference(make, h))
        partial = make()
        ingest_a_random_part(partial, h.sc.wires(), rnd)
        check_conservation(partial)


# -- 3. no overdraft -------------------------------------------------------------------------------


@SETTINGS
@given(
    ops=OPS,
    who=st.integers(0, 4),
    extra=st.integers(1, 10**6),
    asset_i=st.integers(0, 1),
    via_purchase=st.booleans(),
)
def test_spending_beyond_balance_is_always_rejected(
    ops: Any, who: int, extra: int, asset_i: int, via_purchase: bool
) -> None:
    h = History(ops)
    with ledgers() as make:
        led = reference(make, h)
        spender = h.people[who]
        asset = h.assets[asset_i]
        have = led.state.balance(spender.public_key, asset)
        before = (led.state_hash(), led.count())
        if via_purchase:
            li = h.sc.listing(spender, asset, price=have + extra, tag="over")
            assert led.ingest([li.wire]).accepted
            before = (led.state_hash(), led.count())
            bad = h.sc.purchase(spender, li)
        else:
            to = h.people[(who + 1) % 5]
            bad = h.sc.send(spender, asset, to, have + extra)
        report = led.ingest([bad.wire])
        assert not report.accepted and "overdraft" in report.rejected[0].reason
        assert (led.state_hash(), led.count()) == before


# -- 4. equivocation -------------------------------------------------------------------------------


def _fork_of(h: History, pick: int) -> Entry:
    target = h.sc.entries[pick % len(h.sc.entries)]
    who = next(p for p in h.people if p.public_key == target.author)
    return h.sc.fork(who, target.seq, deps=target.deps)


def _check_forked(led: Ledger, h: History, fork: Entry) -> None:
    proofs = led.fork_proofs()
    assert len(proofs) == 1
    p = proofs[0]
    assert (p.author, p.seq) == (fork.author, fork.seq)
    assert led.quarantined() == {fork.author: fork.seq}
    tainted = {e.hash for e in h.sc.entries if e.author == fork.author and e.seq >= fork.seq}
    for e in h.sc.entries:  # taint follows dependencies (a victim's own feed goes on)
        if e.hash in tainted or set(e.deps) & tainted:
            tainted.add(e.hash)
            assert not led.is_effective(e.hash)
    check_conservation(led)


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 10**6), seed=st.integers(0, 2**32 - 1))
def test_equivocation_is_proven_stored_and_survives_reopen(ops: Any, pick: int, seed: int) -> None:
    """The same side of the fork arrives first everywhere; any order of everything else."""
    h = History(ops)
    fork = _fork_of(h, pick)
    rnd = random.Random(seed)
    with ledgers() as make:
        hashes = set()
        for _ in range(2):
            led = make()
            deliver_shuffled(led, h.sc.wires(), rnd)
            report = led.ingest([fork.wire])
            assert report.forks and report.voided == [fork.hash]
            _check_forked(led, h, fork)
            hashes.add(led.state_hash())
            proof = led.fork_proofs()[0]
            assert decode_fork_proof(proof.encode()) == proof
            assert {proof.hash_a, proof.hash_b} == {
                fork.hash,
                h.sc.entries[
                    next(
                        i
                        for i, e in enumerate(h.sc.entries)
                        if e.author == fork.author and e.seq == fork.seq
                    )
                ].hash,
            }
            path = led.store.path
            led.close()
            again = Ledger.open(path, verify_threads=1)
            try:
                assert [p.encoded for p in again.fork_proofs()] == [proof.encoded]
                assert again.state_hash() == next(iter(hashes))
                _check_forked(again, h, fork)
            finally:
                again.close()
        assert len(hashes) == 1


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 10**6), seed=st.integers(0, 2**32 - 1))
def test_equivocation_is_proven_quarantined_and_order_independent(
    ops: Any, pick: int, seed: int
) -> None:
    h = History(ops)
    fork = _fork_of(h, pick)
    rnd = random.Random(seed)
    wires = h.sc.wires()
    with ledgers() as make:
        # (a) the honest history in any order, then the other side of the fork
        a = make()
        deliver_shuffled(a, wires, rnd)
        report = a.ingest([fork.wire])
        assert report.forks and report.voided == [fork.hash]
        _check_forked(a, h, fork)
        # (b) the fork side first (with its feed prefix), then everything in any order
        b = make()
        b.ingest(_closure(h, fork))
        assert b.ingest([fork.wire]).accepted
        rest = [w for w in wires]
        rnd.shuffle(rest)
        for w in rest:
            b.ingest([w])
        _check_forked(b, h, fork)
        assert a.state_hash() == b.state_hash()
        # the proof survives reopening and verifies standalone
        path = b.store.path
        b.close()
        c = Ledger.open(path, verify_threads=1)
        try:
            assert [p.encoded for p in c.fork_proofs()] == [a.fork_proofs()[0].encoded] or {
                c.fork_proofs()[0].hash_a,
                c.fork_proofs()[0].hash_b,
            } == {a.fork_proofs()[0].hash_a, a.fork_proofs()[0].hash_b}
            assert c.state_hash() == a.state_hash()
        finally:
            c.close()


def _closure(h: History, entry: Entry) -> list[bytes]:
    """Wires of everything ``entry`` depends on (deps and their feed prefixes), in history order."""
    by_hash = {e.hash: e for e in h.sc.entries}
    need: set[bytes] = set()
    todo = list(entry.deps) + ([entry.prev] if entry.prev else [])
    while todo:
        d = todo.pop()
        if d in need or d not in by_hash:
            continue
        need.add(d)
        e = by_hash[d]
        todo.extend(e.deps)
        if e.prev:
            todo.append(e.prev)
    return [e.wire for e in h.sc.entries if e.hash in need]


@SETTINGS
@given(ops=OPS, pick=st.integers(0, 10**6), seed=st.integers(0, 2**32 - 1))
def test_forked_set_in_fully_random_orders(ops: Any, pick: int, seed: int) -> None:
    h = History(ops)
    fork = _fork_of(h, pick)
    rnd = random.Random(seed)
    with ledgers() as make:
        hashes = set()
        for _ in range(3):
            led = make()
            wires = [*h.sc.wires(), fork.wire]
            rnd.shuffle(wires)
            for i in range(0, len(wires), 3):
                led.ingest(wires[i : i + 3])
            _check_forked(led, h, fork)
            hashes.add(led.state_hash())
        assert len(hashes) == 1


# -- 5. idempotence --------------------------------------------------------------------------------


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_reingesting_any_subset_changes_nothing(ops: Any, seed: int) -> None:
    h = History(ops)
    rnd = random.Random(seed)
    with ledgers() as make:
        led = reference(make, h)
        before = (led.state_hash(), led.count(), led.store.count())
        wires = h.sc.wires()
        subset = rnd.sample(wires, rnd.randint(1, len(wires)))
        report = led.ingest(subset + subset[:2])
        assert not report.accepted and not report.rejected
        assert report.duplicates == len(subset) + len(subset[:2])
        assert (led.state_hash(), led.count(), led.store.count()) == before


# -- 7. integrity ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, pick=st.integers(0, 10**6), bit=st.integers(0, 10**7), held=st.booleans())
def test_a_flipped_bit_is_never_accepted_as_another_entry(
    ops: Any, pick: int, bit: int, held: bool
) -> None:
    h = History(ops[:8])
    target = h.sc.entries[pick % len(h.sc.entries)]
    wire = bytearray(target.wire)
    bit %= len(wire) * 8
    wire[bit // 8] ^= 1 << (bit % 8)
    with ledgers() as make:
        led = make()
        everything_else = [e.wire for e in h.sc.entries if e.hash != target.hash]
        led.ingest(everything_else + ([target.wire] if held else []))
        before = (led.state_hash(), led.count(), led.pending_count(), led.store.count())
        report = led.ingest([bytes(wire)])
        assert not report.accepted
        assert report.pending == 0
        assert len(report.rejected) == 1 or report.duplicates == 1
        if report.rejected:
            assert report.rejected[0].reason
        assert (led.state_hash(), led.count(), led.pending_count(), led.store.count()) == before


@settings(max_examples=200, deadline=None)
@given(
    garbage=st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda a, b: a + b,
            st.sampled_from([b"\x83", b"\x83\x88", b"\x83\x88\x01\x58\x20", b"\x9f", b"\xbf"]),
            st.binary(max_size=200),
        ),
    )
)
def test_garbage_is_rejected_with_a_reason_never_an_exception(garbage: bytes) -> None:
    with ledgers() as make:
        led = make()
        report = led.ingest([garbage])
        assert not report.accepted and len(report.rejected) == 1
        assert report.rejected[0].reason and report.rejected[0].hash is None
        assert led.count() == 0 and led.pending_count() == 0
