"""The store (append-only, migrations, reopen) and equivocation (fork proofs, quarantine, taint)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import LedgerError, StorageError
from ledger.forks import decode_fork_proof, make_fork_proof
from ledger.ledger import Ledger
from ledger.migrations import Migration, applied, migrate
from ledger.store import MIGRATIONS, Store
from tests.ledger.factory import Scenario, economy

# -- append-only -----------------------------------------------------------------------------------


def _filled(led: Ledger) -> Scenario:
    sc, _ = economy()
    assert len(led.ingest(sc.wires()).accepted) == len(sc.entries)
    return sc


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE entries SET kind = 'send'",
        "UPDATE entries SET wire = x'00' WHERE seq = 1",
        "DELETE FROM entries",
        "DELETE FROM entries WHERE seq = 2",
    ],
)
def test_entries_can_never_be_updated_or_deleted(led: Ledger, sql: str) -> None:
    _filled(led)
    before = [tuple(r) for r in led.store.conn.execute("SELECT * FROM entries ORDER BY rowid")]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        led.store.conn.execute(sql)
    after = [tuple(r) for r in led.store.conn.execute("SELECT * FROM entries ORDER BY rowid")]
    assert before == after


def test_fork_proofs_can_never_be_updated_or_deleted(led: Ledger) -> None:
    sc = Scenario()
    a = sc.signer("a")
    one = sc.profile(a)
    led.ingest([one.wire])
    led.ingest([sc.fork(a, 1).wire])
    assert len(led.fork_proofs()) == 1
    for sql in ("UPDATE fork_proofs SET seq = 9", "DELETE FROM fork_proofs"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            led.store.conn.execute(sql)


def test_state_and_entries_survive_reopen(open_ledger: Any) -> None:
    led = open_ledger()
    sc = _filled(led)
    h, n = led.state_hash(), led.count()
    led.close()
    again = open_ledger()
    assert (again.state_hash(), again.count()) == (h, n)
    assert again.frontier()[sc.entries[0].author][0] >= 1
    assert again.store.integrity_check() == "ok"


# -- migrations ------------------------------------------------------------------------------------


def test_fresh_file_records_every_migration_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.sqlite")
    names = [m.name for m in MIGRATIONS]
    assert applied(store.conn) == names
    rows = store.conn.execute("SELECT name, count(*) FROM _migrations GROUP BY name").fetchall()
    assert sorted(rows) == sorted((n, 1) for n in names)
    store.close()
    again = Store(tmp_path / "m.sqlite")
    assert migrate(again.conn, MIGRATIONS) == []
    assert applied(again.conn) == names
    again.close()


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "f.sqlite", isolation_level=None)
    good = Migration("0001_t", "CREATE TABLE t (x INTEGER)")
    bad = Migration("0002_bad", "CREATE TABLE u (y INTEGER);\nINSERT INTO nowhere VALUES (1)")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, [good, bad])
    assert applied(conn) == ["0001_t"]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "u" not in tables and "t" in tables
    conn.close()


def test_a_ledger_from_before_the_log_schema_keeps_every_entry(tmp_path: Path) -> None:
    """A file written with the indexed entries table (migrations up to 0003) is rebuilt as the
    log: same rows in the same order, lookups by hash and by feed position work, still append-
    only, and the ledger over it has the same state as one that ingested the entries itself."""
    sc, _ = economy()
    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, MIGRATIONS[:3])
    conn.executemany(
        "INSERT INTO entries (hash, author, seq, kind, wire) VALUES (?, ?, ?, ?, ?)",
        [(e.hash, e.author, e.seq, e.kind, e.wire) for e in sc.entries],
    )
    conn.close()
    fresh = Ledger.open(tmp_path / "fresh.sqlite", verify_threads=1)
    fresh.ingest(sc.wires())
    led = Ledger.open(old, verify_threads=1)
    try:
        assert led.store.count() == len(sc.entries)
        assert list(led.store.iter_wires()) == [e.wire for e in sc.entries]
        assert led.state_hash() == fresh.state_hash()
        last = sc.entries[-1]
        assert led.get_wire(last.hash) == last.wire
        assert led.store.wire_at(last.author, last.seq) == last.wire
        assert led.feed(last.author) == fresh.feed(last.author)
        assert led.store.conn.execute("PRAGMA index_list(entries)").fetchall() == []
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            led.store.conn.execute("DELETE FROM entries")
        assert led.store.integrity_check() == "ok"
    finally:
        led.close()
        fresh.close()


def test_store_refuses_an_entry_it_holds_and_changes_nothing(tmp_path: Path) -> None:
    sc, _ = economy()
    rows = [(e.hash, e.author, e.seq, e.kind, e.wire) for e in sc.entries]
    store = Store(tmp_path / "s.sqlite")
    store.append(rows[:3])
    with pytest.raises(StorageError, match="already stored"):
        store.append([rows[3], rows[1]])  # a new row, then one held: neither goes in
    with pytest.raises(StorageError, match="already stored"):
        store.append([rows[4], rows[4]])  # twice in one batch
    assert store.count() == 3 and not store.has(rows[3][0]) and not store.has(rows[4][0])
    store.append(rows[3:5])  # the next rows get the next rowids, with no gap
    assert store.conn.execute("SELECT rowid FROM entries ORDER BY rowid").fetchall() == [
        (i,) for i in range(1, 6)
    ]
    store.close()
    again = Store(tmp_path / "s.sqlite")
    assert [again.wire(r[0]) for r in rows[:5]] == [r[4] for r in rows[:5]]
    assert again.wire(bytes(32)) is None and again.count() == 5
    again.close()


# -- equivocation ----------------------------------------------------------------------------------


def test_equivocation_makes_a_verifiable_stored_proof(open_ledger: Any) -> None:
    led = open_ledger()
    sc = Scenario()
    eve = sc.signer("eve")
    one = sc.profile(eve, name="one")
    two = sc.profile(eve, name="two")
    alt = sc.fork(eve, 2)
    led.ingest([one.wire, two.wire])
    report = led.ingest([alt.wire])
    # the other branch is kept (so entries naming it resolve the same way everywhere), voided
    assert report.voided == [alt.hash] and led.has(alt.hash) and not led.is_effective(alt.hash)
    assert len(report.forks) == 1
    proof = report.forks[0]
    assert (proof.author, proof.seq) == (eve.public_key, 2)
    assert {proof.hash_a, proof.hash_b} == {two.hash, alt.hash}
    assert led.fork_proofs() == [proof]
    assert led.quarantined() == {eve.public_key: 2}
    assert not led.is_effective(two.hash) and led.is_effective(one.hash)
    # standalone: decodes and verifies from bytes alone
    again = decode_fork_proof(proof.encode())
    assert again == proof
    assert make_fork_proof(alt, two).encoded == proof.encoded  # argument order does not matter
    led.close()
    reopened = open_ledger()
    assert [p.encoded for p in reopened.fork_proofs()] == [proof.encoded]
    assert reopened.quarantined() == {eve.public_key: 2}
    with pytest.raises(LedgerError, match="quarantined"):
        reopened.append(eve, "profile", {"name": "x", "bio": "", "links": []})


def test_fork_proof_is_gossiped_to_another_ledger(open_ledger: Any) -> None:
    a, b = open_ledger("a.sqlite"), open_ledger("b.sqlite")
    sc = Scenario()
    eve = sc.signer("eve")
    one = sc.profile(eve)
    a.ingest([one.wire])
    a.ingest([sc.fork(eve, 1).wire])
    b.ingest([one.wire])
    proof = a.fork_proofs()[0]
    assert b.ingest_fork_proof(proof.encode()) == proof
    assert b.ingest_fork_proof(proof.encode()) is None
    assert b.quarantined() == {eve.public_key: 1}
    assert b.state_hash() == a.state_hash()


def test_tampered_fork_proof_is_rejected() -> None:
    sc = Scenario()
    eve = sc.signer("eve")
    one = sc.profile(eve)
    proof = make_fork_proof(one, sc.fork(eve, 1)).encode()
    for i in range(0, len(proof), 7):
        bad = bytearray(proof)
        bad[i] ^= 0x10
        with pytest.raises(LedgerError):
            decode_fork_proof(bytes(bad))
    with pytest.raises(LedgerError):
        decode_fork_proof(b"\x82\x80\x80")


def test_two_forking_entries_in_one_batch(led: Ledger) -> None:
    """Regression: the second entry used to look up the first in the store before the batch
    was committed, raising LedgerError out of ingest() and leaving the index ahead of the store."""
    sc = Scenario()
    eve = sc.signer("eve")
    a, b = sc.profile(eve), sc.fork(eve, 1)
    report = led.ingest([a.wire, b.wire])
    assert len(report.forks) == 1
    assert led.count() == led.store.count() == 2
    assert not led.is_effective(a.hash) and not led.is_effective(b.hash)
    assert led.quarantined() == {eve.public_key: 1}


def test_victims_receive_from_a_quarantined_branch_has_no_effect(led: Ledger) -> None:
    sc, x = economy()
    gw, fan, artist = x["gw"], x["fan"], x["artist"]
    # the gateway pays the artist on one branch, and signs a different seq on the other
    pay = sc.send(gw, x["crd"], artist, 700)
    alt = sc.fork(gw, pay.seq)
    got = sc.receive(artist, pay)
    led.ingest(sc.wires())
    assert led.state.balance(artist.public_key, x["crd"].hash) == 700
    report = led.ingest([alt.wire])
    assert report.forks
    assert not led.is_effective(pay.hash) and not led.is_effective(got.hash)
    assert led.state.balance(artist.public_key, x["crd"].hash) == 0
    # entries before the fork point keep their effect (the fan's welcome credits)
    assert led.state.balance(fan.public_key, x["crd"].hash) == 5_000


def test_victims_later_entries_keep_their_effect(led: Ledger) -> None:
    """Regression: taint used to follow `prev`, so one receive from a sender who later forked
    voided every later entry of the recipient forever (a cheap denial of service)."""
    sc, x = economy()
    gw, artist = x["gw"], x["artist"]
    pay = sc.send(gw, x["crd"], artist, 700)
    alt = sc.fork(gw, pay.seq)
    sc.receive(artist, pay)
    relisted = sc.listing(artist, x["crd"], title="After the fork")
    led.ingest(sc.wires())
    led.ingest([alt.wire])
    assert led.is_effective(relisted.hash)


def test_forked_set_in_orders_where_the_fork_sides_arrive_apart(open_ledger: Any) -> None:
    sc, x = economy()
    gw, artist = x["gw"], x["artist"]
    pay = sc.send(gw, x["crd"], artist, 700)
    alt = sc.fork(
        gw,
        pay.seq,
        kind="send",
        body={
            "asset": x["crd"].hash,
            "to": x["fan"].public_key,
            "amount": 700,
            "memo": "double spend",
        },
    )
    got = sc.receive(artist, pay)
    wires = sc.wires()
    hashes = set()
    for i, order in enumerate(
        [
            [*wires, alt.wire],
            [w for w in wires if w != got.wire] + [alt.wire, got.wire],
            [*wires[::-1], alt.wire],
        ]
    ):
        led = open_ledger(f"o{i}.sqlite")
        for w in order:
            led.ingest([w])
        assert len(led.fork_proofs()) == 1
        assert not led.is_effective(pay.hash)
        hashes.add(led.state_hash())
    assert len(hashes) == 1


def test_forked_set_gives_the_same_state_in_any_order(open_ledger: Any) -> None:
    sc, x = economy()
    gw, artist = x["gw"], x["artist"]
    pay = sc.send(gw, x["crd"], artist, 700)
    alt = sc.fork(
        gw,
        pay.seq,
        kind="send",
        body={
            "asset": x["crd"].hash,
            "to": x["fan"].public_key,
            "amount": 700,
            "memo": "double spend",
        },
    )
    sc.receive(artist, pay)
    wires = [*sc.wires(), alt.wire]
    hashes = set()
    for i, order in enumerate([wires, wires[::-1], wires[-1:] + wires[:-1]]):
        led = open_ledger(f"o{i}.sqlite")
        for w in order:
            led.ingest([w])
        assert len(led.fork_proofs()) == 1
        hashes.add(led.state_hash())
    assert len(hashes) == 1


def test_victims_spend_of_voided_funds_loses_its_effect_in_any_order(open_ledger: Any) -> None:
    sc, x = economy()
    gw, artist, fan = x["gw"], x["artist"], x["fan"]
    pay = sc.send(gw, x["crd"], artist, 700)
    alt = sc.fork(gw, pay.seq)
    sc.receive(artist, pay)
    spend = sc.send(artist, x["crd"], fan, 600)  # spends the funds that will not count
    wires = sc.wires()
    early, late = open_ledger("early.sqlite"), open_ledger("late.sqlite")
    early.ingest([w for w in wires if w != spend.wire])
    early.ingest([alt.wire])  # fork known before the spend arrives
    early.ingest([spend.wire])
    late.ingest(wires)
    late.ingest([alt.wire])  # fork known after
    for led in (early, late):
        assert led.has(spend.hash) and not led.is_effective(spend.hash)
        assert led.state.balance(artist.public_key, x["crd"].hash) == 0
        assert led.state.incoming(fan.public_key) == []
    assert early.state_hash() == late.state_hash()


def test_dependents_of_either_fork_side_end_in_the_same_state(open_ledger: Any) -> None:
    sc, x = economy()
    gw, artist = x["gw"], x["artist"]
    pay = sc.send(gw, x["crd"], artist, 700)
    alt = sc.fork(gw, pay.seq)
    got = sc.receive(artist, pay)
    later = sc.profile(artist, name="Artist after the fork")
    honest_first, fork_first = open_ledger("a.sqlite"), open_ledger("b.sqlite")
    honest_first.ingest(sc.wires())
    honest_first.ingest([alt.wire])
    fork_first.ingest([e.wire for e in sc.entries if e.author == gw.public_key and e.seq < pay.seq])
    fork_first.ingest([alt.wire])
    fork_first.ingest(sc.wires())
    assert not honest_first.is_effective(got.hash) and not fork_first.is_effective(got.hash)
    assert honest_first.is_effective(later.hash) == fork_first.is_effective(later.hash)
    assert honest_first.state_hash() == fork_first.state_hash()


OLD_0001 = """
    CREATE TABLE entries (rowid INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
        author BLOB NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, wire BLOB NOT NULL);
    CREATE UNIQUE INDEX entries_feed ON entries (author, seq);
    CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
    CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END
"""


def test_a_file_made_by_the_first_release_keeps_both_fork_branches(tmp_path: Path) -> None:
    """A file made when (author, seq) was unique is migrated (0003) so that a quarantined feed
    can keep both branches of a fork."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, [Migration("0001_entries", OLD_0001)])
    conn.close()
    led = Ledger.open(path, verify_threads=1)
    try:
        sc = Scenario()
        eve = sc.signer("eve")
        led.ingest([sc.profile(eve).wire])
        report = led.ingest([sc.fork(eve, 1).wire])
        assert report.forks and led.count() == 2
    finally:
        led.close()
