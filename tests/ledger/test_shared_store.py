"""One ledger file written by several processes at once (the app, a seeder and the CLI on one
profile): writes are serialized by SQLite, each writer takes in what the others committed before
it judges or numbers anything, and a long-running reader notices their entries with refresh().

Two ``Ledger`` objects on one file are two SQLite connections, exactly as two processes are; the
last test runs real processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario

ROOT = Path(__file__).resolve().parents[2]


def _issue(led: Ledger, sc: Scenario) -> bytes:
    gw = sc.signer("gw")
    return led.append(
        gw,
        "asset.issue",
        {
            "symbol": "CRD",
            "name": "Credits",
            "precision": 2,
            "max_supply": 10**12,
            "flags": ["stable"],
        },
    ).hash


def test_two_writers_on_one_file_extend_one_feed_without_a_fork(open_ledger):
    sc = Scenario()
    gw = sc.signer("gw")
    a, b = open_ledger(), open_ledger()
    asset = _issue(a, sc)
    for i in range(6):  # alternate: each writer's memory is stale before its every append
        writer = a if i % 2 == 0 else b
        writer.append(gw, "asset.mint", {"asset": asset, "amount": 10})
    assert b.head_seq(gw.public_key) == 7  # b wrote last
    assert a.refresh() == 1 and a.head_seq(gw.public_key) == 7
    assert not a.fork_proofs() and not b.fork_proofs()
    assert a.state_hash() == b.state_hash()
    assert open_ledger().state_hash() == a.state_hash()  # what a fresh open replays
    assert a.store.integrity_check() == "ok"


def test_refresh_takes_in_another_writers_entries_and_tells_the_listeners(open_ledger):
    sc = Scenario()
    gw = sc.signer("gw")
    node, cli = open_ledger(), open_ledger()
    heard: list[Entry] = []
    node.add_listener(heard.extend)
    assert node.refresh() == 0  # nothing changed: one PRAGMA, nothing heard
    asset = _issue(cli, sc)
    mint = cli.append(gw, "asset.mint", {"asset": asset, "amount": 500})
    assert node.refresh() == 2
    assert [e.hash for e in heard] == [asset, mint.hash]
    assert node.state.supply[asset] == 500
    assert node.state_hash() == cli.state_hash()
    assert node.refresh() == 0


def test_a_writer_takes_in_foreign_entries_before_judging_its_own(open_ledger):
    """The CLI sends funds received in the app's process: the app's next spend is judged
    against the CLI's send, not against its stale memory (no overdraft, no error)."""
    sc = Scenario()
    gw, fan = sc.signer("gw"), sc.signer("fan")
    app, cli = open_ledger(), open_ledger()
    asset = _issue(app, sc)
    app.append(gw, "asset.mint", {"asset": asset, "amount": 100})
    cli.refresh()
    cli.append(gw, "send", {"asset": asset, "to": fan.public_key, "amount": 70, "memo": ""})
    heard: list[Entry] = []
    app.add_listener(heard.extend)
    send = app.append(gw, "send", {"asset": asset, "to": fan.public_key, "amount": 30, "memo": ""})
    assert send.seq == 4
    assert [e.kind for e in heard] == ["send", "send"]  # the CLI's, then ours
    assert app.state.balance(gw.public_key, asset) == 0
    with pytest.raises(SemanticError, match="overdraft"):
        app.append(gw, "send", {"asset": asset, "to": fan.public_key, "amount": 1, "memo": ""})


def test_append_composed_reads_the_state_under_the_write_lock(open_ledger):
    """Two processes receiving the same incoming transfers: the second finds nothing left."""
    sc = Scenario()
    gw, fan = sc.signer("gw"), sc.signer("fan")
    setup, one, two = open_ledger(), open_ledger(), open_ledger()
    asset = _issue(setup, sc)
    setup.append(gw, "asset.mint", {"asset": asset, "amount": 100})
    setup.append(gw, "send", {"asset": asset, "to": fan.public_key, "amount": 5, "memo": ""})
    one.refresh()
    two.refresh()

    def receive(state):
        incoming = sorted(t.source for t in state.incoming(fan.public_key))
        return ({"transfers": incoming}, incoming) if incoming else None

    assert one.append_composed(fan, "receive", receive) is not None
    assert two.append_composed(fan, "receive", receive) is None  # stale memory, fresh state
    assert two.state.balance(fan.public_key, asset) == 5


def test_a_pending_entry_is_admitted_when_another_writer_stores_its_dependency(open_ledger):
    sc = Scenario()
    gw = sc.signer("gw")
    issue = sc.make(
        gw,
        "asset.issue",
        {"symbol": "CRD", "name": "Credits", "precision": 2, "max_supply": 10**12, "flags": []},
    )
    mint = sc.make(gw, "asset.mint", {"asset": issue.hash, "amount": 1})
    node, importer = open_ledger(), open_ledger()
    assert node.ingest([mint.wire]).pending == 1  # its predecessor is not here yet
    importer.ingest([issue.wire])
    heard: list[Entry] = []
    node.add_listener(heard.extend)
    assert node.refresh() == 1
    assert node.has(mint.hash) and node.pending_count() == 0
    assert {e.hash for e in heard} == {issue.hash, mint.hash}
    assert open_ledger().has(mint.hash)  # stored by the node once it could be admitted


WRITER = r"""
import sys
from ledger.keys import Signer
from ledger.ledger import Ledger
led = Ledger.open(sys.argv[1], verify_threads=1, verify_processes=0)
gw = Signer.from_seed(bytes([7]) * 32)
asset = bytes.fromhex(sys.argv[2])
sys.stdin.readline()  # start together
for _ in range(int(sys.argv[3])):
    e = led.append(gw, "asset.mint", {"asset": asset, "amount": 1})
    print(e.hash.hex(), flush=True)
led.close()
"""


def test_processes_appending_to_one_feed_at_once_all_succeed(tmp_path: Path):
    path = tmp_path / "ledger.sqlite"
    led = Ledger.open(path, verify_threads=1)
    gw_seed = bytes([7]) * 32
    from ledger.keys import Signer

    gw = Signer.from_seed(gw_seed)
    asset = led.append(
        gw,
        "asset.issue",
        {"symbol": "CRD", "name": "Credits", "precision": 0, "max_supply": 10**9, "flags": []},
    ).hash
    led.close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), asset.hex(), "15"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(4)
    ]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    acknowledged: list[bytes] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        acknowledged += [bytes.fromhex(line) for line in out.split()]
    assert len(acknowledged) == 60
    reopened = Ledger.open(path, verify_threads=1)
    try:
        assert all(reopened.has(h) for h in acknowledged)
        assert reopened.head_seq(gw.public_key) == 61
        assert not reopened.fork_proofs()
        assert reopened.state.supply[asset] == 60
        assert reopened.store.integrity_check() == "ok"
    finally:
        reopened.close()
