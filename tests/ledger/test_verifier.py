"""Signatures checked in verifier processes give exactly the answers of checking them here.

* A large batch with forged signatures at various places yields the same report and state with
  a verifier process as with checking in this process, and the process really did the checking.
* Killing the verifier process between batches, or in the middle of one, loses nothing and
  accepts nothing unchecked: its unanswered work is checked here, the loss is logged, and the
  next large batch starts a new process.
* Small batches (gossip) never start a process; ``verify_processes=0`` never does; ``close()``
  ends the process.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from ledger.ledger import IngestReport, Ledger
from tests.ledger.factory import Scenario

FORGED_AT = (5, 90, 333, 600, 1001)  # indexes of wires whose signature is broken


def _history(fans: int = 40, rounds: int = 13) -> list[bytes]:
    """A multi-author history of 1,120 entries: sends from a gateway, receives by each fan."""
    sc = Scenario()
    gw = sc.signer("gw")
    people = [sc.signer(f"fan{i}") for i in range(fans)]
    crd = sc.issue(gw, "CRD", max_supply=10**12)
    sc.mint(gw, crd, 10**9)
    for r in range(rounds):
        sends = [sc.send(gw, crd, p, 10 + r, memo="m") for p in people]
        for p, s in zip(people, sends, strict=True):
            sc.receive(p, s)
        for p in people[: 40 // (r + 1)]:
            sc.profile(p, name=f"n{r}")
    return sc.wires()


def _forge(wires: list[bytes], at: Sequence[int] = FORGED_AT) -> list[bytes]:
    out = list(wires)
    for i in at:
        wire = bytearray(out[i])
        wire[-7] ^= 0x10  # inside the signature: decodes fine, does not verify
        out[i] = bytes(wire)
    return out


def _summary(report: IngestReport) -> tuple[frozenset[bytes], list[tuple[str, str]], int, int]:
    return (
        frozenset(e.hash for e in report.accepted),
        sorted(((r.hash or b"").hex(), r.reason) for r in report.rejected),
        report.duplicates,
        report.pending,
    )


@pytest.fixture(scope="module")
def wires() -> list[bytes]:
    return _history()


@pytest.fixture
def open_with(tmp_path: Path) -> Iterator[Callable[..., Ledger]]:
    opened: list[Ledger] = []

    def _open(processes: int, name: str = "l.sqlite") -> Ledger:
        led = Ledger.open(tmp_path / name, verify_threads=1, verify_processes=processes)
        opened.append(led)
        return led

    yield _open
    for led in opened:
        led.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("processes", [1, 2])
def test_verifier_processes_give_the_same_answers(
    wires: list[bytes], processes: int, open_with: Callable[..., Ledger]
) -> None:
    assert len(wires) >= 1000
    forged = _forge(wires)
    here, there = open_with(0, "here.sqlite"), open_with(processes, "there.sqlite")
    expected = _summary(here.ingest(forged))
    got = _summary(there.ingest(forged))
    assert here.verify_stats.last_mode == "inline" and here.verify_stats.by_processes == 0
    assert there.verify_stats.last_mode == "processes"
    assert there.verify_stats.by_processes > 0
    assert (
        there.verify_stats.by_processes + there.verify_stats.by_ingesting_thread
        == here.verify_stats.by_ingesting_thread
    )
    assert got == expected
    rejected = {h for h, reason in got[1] if reason == "signature does not verify"}
    assert len(rejected) == len(FORGED_AT)
    assert there.state_hash() == here.state_hash() and there.count() == here.count()
    assert there.pending_count() == here.pending_count() > 0  # receives of forged sends wait
    assert there.verify_stats.process_failures == 0
    assert len(there._verifiers) == processes


def test_replayed_and_repaired_entries_after_a_large_batch(
    wires: list[bytes], open_with: Callable[..., Ledger]
) -> None:
    led = open_with(1)
    first = led.ingest(_forge(wires))
    assert len(first.accepted) < len(wires)
    again = led.ingest(wires)  # the genuine copies of the forged entries, and replays
    assert led.verify_stats.last_mode == "processes"
    assert not again.rejected and led.pending_count() == 0
    assert len(first.accepted) + len(again.accepted) == len(wires) == led.count()


def test_killed_between_batches_nothing_is_lost(
    wires: list[bytes], open_with: Callable[..., Ledger], caplog: pytest.LogCaptureFixture
) -> None:
    forged = _forge(wires)
    reference = open_with(0, "ref.sqlite")
    expected = [_summary(reference.ingest(forged[:560])), _summary(reference.ingest(forged[560:]))]
    led = open_with(1)
    assert _summary(led.ingest(forged[:560])) == expected[0]
    [worker] = led._verifiers
    os.kill(worker.pid, signal.SIGKILL)
    worker.proc.wait()
    with caplog.at_level(logging.WARNING, logger="ledger.ledger"):
        assert _summary(led.ingest(forged[560:])) == expected[1]
    assert led.verify_stats.process_failures == 1
    assert "verifier process" in caplog.text and str(worker.pid) in caplog.text
    assert led.state_hash() == reference.state_hash()
    assert led._verifiers == []  # a new one starts with the next large batch
    led.ingest(wires)
    assert len(led._verifiers) == 1 and led._verifiers[0].pid != worker.pid
    assert led.count() == len(wires)


class _KillingWires(Sequence[bytes]):
    """Wires that kill the ledger's verifier process once ``at`` of them have been read."""

    def __init__(self, wires: list[bytes], led: Ledger, at: int) -> None:
        self.wires, self.led, self.at = wires, led, at
        self.killed: int | None = None

    def __len__(self) -> int:
        return len(self.wires)

    def __getitem__(self, i: int) -> bytes:  # type: ignore[override]
        return self.wires[i]

    def __iter__(self) -> Iterator[bytes]:
        for i, wire in enumerate(self.wires):
            if i == self.at:
                [worker] = self.led._verifiers
                self.killed = worker.pid
                os.kill(worker.pid, signal.SIGKILL)
            yield wire


@pytest.mark.parametrize("at", [200, 600])
def test_killed_in_the_middle_of_a_batch_nothing_is_lost_or_wrongly_accepted(
    wires: list[bytes], open_with: Callable[..., Ledger], at: int, caplog: pytest.LogCaptureFixture
) -> None:
    forged = _forge(wires)
    reference = open_with(0, "ref.sqlite")
    expected = _summary(reference.ingest(forged))
    led = open_with(1)
    killing = _KillingWires(forged, led, at)
    with caplog.at_level(logging.WARNING, logger="ledger.ledger"):
        got = _summary(led.ingest(killing))
    assert killing.killed is not None and not _alive_unreaped(killing.killed)
    assert led.verify_stats.process_failures == 1
    assert str(killing.killed) in caplog.text
    assert got == expected
    assert led.state_hash() == reference.state_hash() and led.count() == reference.count()


def _alive_unreaped(pid: int) -> bool:
    """Whether ``pid`` still runs (a killed child not yet reaped is a zombie: not running)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] not in "ZX"
    except FileNotFoundError:
        return False
    except OSError:
        return _alive(pid)


def test_small_batches_never_start_a_process(
    wires: list[bytes], open_with: Callable[..., Ledger]
) -> None:
    led = open_with(1)
    for i in range(0, 600, 100):
        led.ingest(wires[i : i + 100])
    assert led._verifiers == [] and led.verify_stats.by_processes == 0
    assert led.verify_stats.last_mode == "inline"
    led.ingest(wires[600:])
    assert len(led._verifiers) == 1
    led.ingest(wires[:200])  # all replays: checked nowhere, but a running process may serve it
    assert led.count() == len(wires)


def test_no_process_when_turned_off_and_close_ends_it(
    wires: list[bytes], open_with: Callable[..., Ledger]
) -> None:
    off = open_with(0, "off.sqlite")
    off.ingest(wires)
    assert off._verifiers == [] and off.verify_stats.by_processes == 0
    on = open_with(1, "on.sqlite")
    on.ingest(wires)
    [worker] = on._verifiers
    assert _alive(worker.pid)
    on.close()
    assert worker.proc.returncode is not None and not _alive(worker.pid)
    assert on._verifiers == []


def test_without_poll_the_batch_is_checked_here_with_the_same_answers(
    wires: list[bytes],
    open_with: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A platform without ``select.poll`` (Windows) cannot start a verifier process: the ledger
    says so once in the log, checks every signature itself with the same report, and stops
    trying after a few batches."""
    import select

    forged = _forge(wires)
    expected = _summary(open_with(0, "here.sqlite").ingest(forged))
    monkeypatch.delattr(select, "poll")
    led = open_with(1)
    with caplog.at_level(logging.WARNING, logger="ledger.ledger"):
        assert _summary(led.ingest(forged)) == expected
    assert led.verify_stats.by_processes == 0 and led._verifiers == []
    assert led.verify_stats.last_mode != "processes"
    assert led.verify_stats.process_failures == 1
    assert any("cannot start a signature verifier process" in r.message for r in caplog.records)
    for _ in range(4):  # later large batches (replays here): a few more tries, then none
        led.ingest(forged)
    assert led.verify_stats.process_failures == 3 and led._verifiers == []
