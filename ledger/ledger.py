"""The Ledger: validation in levels, the pending set, fork detection, storage and state.

Validation order, cheapest first: (1) size and canonical decoding, (2) kind schema, (3) signature,
(4) chain position, (5) causal dependencies present — otherwise the entry waits in a bounded
pending set and its missing dependencies are reported by ``wanted()`` — then (6) the kind's rules.
Nothing is written unless a whole batch validates and commits; a failed commit changes nothing.

Other processes may write the same store (the app, a seeder and CLI commands on one profile).
Every batch and every local append first takes the store's write lock and takes in what they
committed, so levels 4-6 and the next sequence number of our own feed are judged against the
whole store; ``refresh()`` takes their entries in between writes (a running node polls it).
"""

from __future__ import annotations

import gc
import heapq
import itertools
import logging
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ledger.entry import Entry, create_entry, decode_entry
from ledger.errors import LedgerError, SemanticError, VoidedError
from ledger.features import VOIDABLE
from ledger.forks import ForkProof, decode_fork_proof, make_fork_proof
from ledger.keys import Signer, verify_fast
from ledger.kinds import validate_body
from ledger.state import State
from ledger.store import Foreign, Row, Store
from ledger.verifier import VerifierDied, VerifierProcess

log = logging.getLogger(__name__)

MAX_PENDING = 20_000
# An entry dated more than this ahead of the local clock waits in the pending set until its time
# (so nobody passes a deadline early by writing the year 2099); see docs/PROTOCOL.md.
MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000
_VERIFY_CHUNK = 64
# Verifier processes: started by the first batch of at least _PROCESS_START entries, then used
# by every batch of at least _PROCESS_USE; smaller ones (gossip) are checked in this process.
_PROCESS_START = 512
_PROCESS_USE = 128
_PROCESS_CHUNK = 32  # entries per request: about 1.5 ms of work
_PROCESS_DEPTH = 4  # requests queued per process, so it never waits for the ingesting thread
_PROCESS_MAX_FAILURES = 3  # then this ledger stops starting verifier processes
# A switch interval short enough that verifier threads returning from libsodium are not parked
# for the default 5 ms while the ingesting thread decodes; see Ledger(switch_interval=...).
FAST_SWITCH_INTERVAL = 0.0002


_gc_lock = threading.Lock()
_gc_pauses = 0  # ingests running with the cyclic collector paused
_gc_resume = False  # whether the first of them found it enabled


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a batch is ingested.

    A batch keeps thousands of young containers alive until it commits (decoded entries, their
    bodies, the chunks in flight), so the collector would examine each of them in a young
    collection, again in a middle one, and then walk the whole long-lived heap (the replica's
    state) in the full collections that their promotion triggers: about 8 µs per entry at 100k
    entries, a sixth of the ingesting thread's work. Nothing an ingest creates is cyclic
    garbage; it is freed by reference counting as usual. The collector resumes when the last
    concurrent ingest ends, and its next young collection sees only what survived. A caller
    that disabled the collector itself keeps it disabled.
    """
    global _gc_pauses, _gc_resume
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_resume:
                gc.enable()


@dataclass(frozen=True)
class Rejection:
    hash: bytes | None  # None when the bytes did not even decode
    reason: str


@dataclass
class IngestReport:
    accepted: list[Entry] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    pending: int = 0  # entries of this batch now waiting for dependencies
    forks: list[ForkProof] = field(default_factory=list)
    voided: list[bytes] = field(default_factory=list)  # accepted (stored) but without effect


@dataclass(frozen=True)
class Wanted:
    hashes: frozenset[bytes]  # dependencies named by pending entries and not held
    feeds: Mapping[bytes, int]  # author -> first sequence number needed


@dataclass
class VerifyStats:
    """Where signatures were checked, counted over the ledger's lifetime."""

    by_ingesting_thread: int = 0  # small batches without a thread pool; a process's leftovers
    by_threads: int = 0  # the thread pool
    by_processes: int = 0  # verifier processes
    process_failures: int = 0  # verifier processes that died or broke the protocol
    last_mode: str = ""  # "processes", "threads" or "inline": how the last batch was checked


def _auto_processes() -> int:
    """One verifier process per core beside the ingesting thread's (none on one core)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, 4))


def _close_verifiers(verifiers: list[VerifierProcess]) -> None:
    while verifiers:
        verifiers.pop().close()


class _Head(NamedTuple):
    seq: int
    hash: bytes
    timestamp: int


def _rows(entries: Sequence[Entry]) -> list[Row]:
    """Store rows ``(hash, author, seq, kind, wire)`` of accepted entries."""
    return [(e.hash, e.author, e.seq, e.kind, e.wire) for e in entries]


def now_ms() -> int:
    return int(time.time() * 1000)


class Ledger:
    """A replica of every feed this node has seen, with the derived state."""

    def __init__(
        self,
        store: Store,
        verify_threads: int = 2,
        switch_interval: float | None = None,
        verify_processes: int | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        """``clock``: the local time in ms (default: the system clock), against which entries
        dated too far ahead wait.

        ``verify_processes``: how many verifier processes large batches use (see
        ledger/verifier.py); None picks one per core beyond the first, 0 keeps all checking in
        this process (on ``verify_threads`` threads). They start on the first batch of at least
        512 entries and end with ``close()``.

        ``switch_interval``: while ``ingest`` runs, lower Python's thread switch interval
        (``sys.setswitchinterval``) to this many seconds, e.g. ``FAST_SWITCH_INTERVAL``. Verifier
        threads then get the GIL back quickly between signatures, so a large ingest is faster;
        but the setting is process-wide and makes every other thread (a GUI) wait longer for the
        GIL, so it is off by default and meant for callers that own the process (an import
        command, a benchmark). The previous interval is restored when ingest returns.
        """
        self.store = store
        self._clock = clock or now_ms
        self._switch_interval = switch_interval
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(verify_threads) if verify_threads > 1 else None
        self._max_processes = (
            _auto_processes() if verify_processes is None else max(0, verify_processes)
        )
        self._verifiers: list[VerifierProcess] = []
        self._verifiers_finalizer = weakref.finalize(self, _close_verifiers, self._verifiers)
        self.verify_stats = VerifyStats()
        self._listeners: list[Callable[[list[Entry]], None]] = []
        self._fork_listeners: list[Callable[[ForkProof], None]] = []
        self._absorbed: list[Entry] = []  # written by other processes; listeners not told yet
        self._woken: list[Entry] = []  # pending entries whose dependencies they wrote
        self._replay()

    @classmethod
    def open(
        cls,
        path: Path | str,
        verify_threads: int = 2,
        switch_interval: float | None = None,
        verify_processes: int | None = None,
        clock: Callable[[], int] | None = None,
    ) -> Ledger:
        return cls(Store(path), verify_threads, switch_interval, verify_processes, clock)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        with self._lock:
            self._verifiers_finalizer()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state rebuilt from the store ------------------------------------------------------------
    def _replay(self) -> None:
        """Rebuild every in-memory structure from the stored entries and fork proofs.

        Entries waiting for dependencies are kept: they were never stored.
        """
        waiting = list(getattr(self, "_pending", {}).values())
        self.state = State()
        self._index: dict[bytes, tuple[bytes, int]] = {}  # hash -> (author, seq)
        self._pos: dict[tuple[bytes, int], bytes] = {}  # (author, seq) -> hash
        self._heads: dict[bytes, _Head] = {}
        self._tainted: set[bytes] = set()  # stored entries without effect
        self.state.voided = self._tainted  # rules that tolerate void deps skip these
        self._voided_authors: set[bytes] = set()  # authors with such an entry in their feed
        self._batch: dict[bytes, Entry] = {}  # accepted in the batch being processed
        self._pending: OrderedDict[bytes, Entry] = OrderedDict()
        self._wait_time: list[tuple[int, bytes]] = []  # heap of (due ms, hash): future-dated
        self._wait_hash: dict[bytes, set[bytes]] = {}
        self._wait_pos: dict[tuple[bytes, int], set[bytes]] = {}
        self._forks: dict[tuple[bytes, int], ForkProof] = {}
        self._quarantine: dict[bytes, int] = {}  # author -> first quarantined seq
        for data in self.store.fork_proofs():
            proof = decode_fork_proof(data)
            self._note_fork(proof)
        for wire in self.store.iter_wires():
            entry = decode_entry(wire)  # stored entries were verified when they arrived
            self._register(entry, self._effect(entry, replaying=True))
        for entry in waiting:
            if entry.hash not in self._index:
                missing = [d for d in entry.deps if d not in self._index]
                position = entry.seq > 1 and self.head_seq(entry.author) < entry.seq - 1
                self._wait(
                    entry,
                    missing,
                    position=position,
                    until=None if missing or position else entry.timestamp,
                )

    def _note_fork(self, proof: ForkProof) -> None:
        self._forks[(proof.author, proof.seq)] = proof
        first = self._quarantine.get(proof.author)
        if first is None or proof.seq < first:
            self._quarantine[proof.author] = proof.seq

    def _effect(self, entry: Entry, replaying: bool = False) -> bool:
        """Apply ``entry`` to the state if it has an effect; False if it is kept without one.

        An entry has no effect when its feed is quarantined at its seq or one of its
        dependencies has none. A voided entry earlier in the same feed does not void the rest of
        the feed (that would let any forker freeze every recipient); instead each later entry is
        judged by the rules against the state without the voided effects, and one that now fails
        (a spend of funds that never counted) has no effect. Otherwise a rule failure raises
        SemanticError: the entry is rejected.
        """
        q = self._quarantine.get(entry.author)
        if q is not None and entry.seq >= q:
            return False
        if entry.deps and self._tainted and not self._tainted.isdisjoint(entry.deps):
            # A void dependency voids the entry, except where its kind tolerates it (a close
            # naming a vote that a fork in the voter's feed voided: that vote counts nothing).
            tolerated = VOIDABLE.get(entry.kind)
            if tolerated is None or not self._tainted.intersection(entry.deps) <= set(
                tolerated(entry.body)
            ):
                return False
        try:
            # Every dependency is indexed by now; the rules look up only the entry's own deps.
            self.state.check_and_apply(entry, self._index)
        except VoidedError:
            return False  # valid when written; a fork voided what it relied on
        except SemanticError:
            # Stored entries passed these rules once; after a quarantine voided something they
            # relied on, they stay stored but count for nothing.
            if replaying or entry.author in self._voided_authors:
                return False
            raise
        return True

    def _register(self, entry: Entry, effective: bool) -> None:
        slot = (entry.author, entry.seq)
        self._index[entry.hash] = slot
        if slot not in self._pos:  # the first branch seen names the slot
            self._pos[slot] = entry.hash
            head = self._heads.get(entry.author)
            if head is None or entry.seq == head.seq + 1:
                self._heads[entry.author] = _Head(entry.seq, entry.hash, entry.timestamp)
        if not effective:
            self._tainted.add(entry.hash)
            self._voided_authors.add(entry.author)

    # -- ingest ----------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[list[Entry]], None]) -> None:
        """Call ``fn(entries)`` after each commit that accepted entries."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[list[Entry]], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def add_fork_listener(self, fn: Callable[[ForkProof], None]) -> None:
        self._fork_listeners.append(fn)

    def remove_fork_listener(self, fn: Callable[[ForkProof], None]) -> None:
        if fn in self._fork_listeners:
            self._fork_listeners.remove(fn)

    def _verify_chunk(self, batch: Sequence[Entry]) -> list[bool]:
        return [verify_fast(e.author, e.signed_bytes, e.signature) for e in batch]

    def ingest(self, wires: Iterable[bytes]) -> IngestReport:
        """Validate and store a batch of entries from anywhere. Never raises for bad input.

        Signatures are checked in a verifier process (large batches) or on worker threads
        (libsodium releases the GIL) while this thread decodes the next entries and applies the
        ones already verified: a pipeline, so the verification of one chunk overlaps the
        decoding and rule checks of others.
        """
        report = IngestReport()
        with self._lock, _collector_paused():
            interval = sys.getswitchinterval()
            target = self._switch_interval
            lower = target is not None and target < interval
            if target is not None and lower:
                sys.setswitchinterval(target)  # opted in; see __init__
            try:
                self._process_chunks(self._verified_chunks(wires, report), report)
            finally:
                if lower:
                    sys.setswitchinterval(interval)
        return report

    def _verified_chunks(
        self, wires: Iterable[bytes], report: IngestReport
    ) -> Iterator[list[Entry]]:
        """Levels 1–3: decode, schema, signature. Yields lists of verified entries in order."""
        if not isinstance(wires, Sized):
            wires = list(wires)
        entries = self._decoded(wires, report)
        verifiers = self._verifiers_for(len(wires))
        if verifiers:
            self.verify_stats.last_mode = "processes"
            return self._checked_by_processes(entries, report, verifiers)
        self.verify_stats.last_mode = "threads" if self._pool is not None else "inline"
        return self._checked_here(entries, report)

    def _decoded(self, wires: Iterable[bytes], report: IngestReport) -> Iterator[Entry]:
        """Levels 1–2: the batch's decoded entries that are new, in order; rejects the rest."""
        seen: set[bytes] = set()
        for wire in wires:
            entry: Entry | None = None
            try:
                entry = decode_entry(wire)
                validate_body(entry.kind, entry.body)
            except LedgerError as err:  # a decoded entry is named by its hash in the report
                report.rejected.append(Rejection(entry.hash if entry else None, str(err)))
                continue
            except Exception as err:  # defence in depth: garbage never escapes as a crash
                report.rejected.append(Rejection(None, f"undecodable entry: {err}"))
                continue
            if entry.hash in seen:
                report.duplicates += 1
                continue
            seen.add(entry.hash)
            if self._is_fresh(entry, report):
                yield entry

    @staticmethod
    def _keep_verified(
        batch: Sequence[Entry], oks: Sequence[Any], report: IngestReport
    ) -> list[Entry]:
        good = []
        for entry, ok in zip(batch, oks, strict=True):
            if ok:
                good.append(entry)
            else:
                report.rejected.append(Rejection(entry.hash, "signature does not verify"))
        return good

    def _checked_here(
        self, entries: Iterable[Entry], report: IngestReport
    ) -> Iterator[list[Entry]]:
        """Level 3 in this process, on the thread pool if there is one."""
        in_flight: deque[tuple[list[Entry], Any]] = deque()
        chunk: list[Entry] = []
        stats = self.verify_stats

        def submit(batch: list[Entry]) -> None:
            if self._pool is None:
                stats.by_ingesting_thread += len(batch)
                in_flight.append((batch, self._verify_chunk(batch)))
            else:
                stats.by_threads += len(batch)
                in_flight.append((batch, self._pool.submit(self._verify_chunk, batch)))

        def finish(batch: list[Entry], result: Any) -> list[Entry]:
            oks = result if isinstance(result, list) else result.result()
            return self._keep_verified(batch, oks, report)

        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= _VERIFY_CHUNK:
                submit(chunk)
                chunk = []
                while (
                    in_flight and not isinstance(in_flight[0][1], list) and in_flight[0][1].done()
                ):
                    yield finish(*in_flight.popleft())
        if chunk:
            submit(chunk)
        while in_flight:
            yield finish(*in_flight.popleft())

    def _verifiers_for(self, size: int) -> list[VerifierProcess]:
        """The verifier processes a batch of ``size`` wires uses, started if need be."""
        if self._max_processes == 0 or size < _PROCESS_USE:
            return []
        stats = self.verify_stats
        if size >= _PROCESS_START and stats.process_failures < _PROCESS_MAX_FAILURES:
            while len(self._verifiers) < self._max_processes:
                try:
                    self._verifiers.append(VerifierProcess())
                except Exception as err:  # no pipes, no poll() on this platform, ...
                    stats.process_failures += 1
                    log.warning(
                        "cannot start a signature verifier process (%s); "
                        "checking signatures in this process",
                        err,
                    )
                    break
        return list(self._verifiers)

    def _checked_by_processes(
        self, entries: Iterable[Entry], report: IngestReport, live: list[VerifierProcess]
    ) -> Iterator[list[Entry]]:
        """Level 3 in verifier processes, with this thread checking what they have not started.

        Chunks go to the processes a few at a time, in order. This thread decodes, then applies
        each chunk as its answer arrives; when it has nothing else to do it checks the last
        unsent chunks itself, so both cores stay busy until the batch is done. A process that
        dies or breaks the protocol is dropped and its unanswered chunks are checked here.
        """
        chunks: list[list[Entry]] = []
        results: dict[int, Sequence[int]] = {}
        unsent: deque[int] = deque()
        stats = self.verify_stats
        out = 0  # the next chunk to hand on

        def check_here(i: int) -> None:
            results[i] = self._verify_chunk(chunks[i])
            stats.by_ingesting_thread += len(chunks[i])

        def lost(v: VerifierProcess, err: Exception) -> None:
            stats.process_failures += 1
            log.warning(
                "signature verifier process %d lost (%s); checking its %d unanswered "
                "chunks in this process",
                v.pid,
                err,
                len(v.in_flight),
            )
            for i in v.in_flight:
                check_here(i)
            v.in_flight.clear()
            v.close(timeout=0.5)
            live.remove(v)
            if v in self._verifiers:
                self._verifiers.remove(v)

        def take(v: VerifierProcess) -> None:
            i, oks = v.receive()
            if len(oks) != len(chunks[i]):
                v.in_flight.insert(0, i)
                raise VerifierDied(f"answered {len(oks)} of {len(chunks[i])} signatures")
            results[i] = oks
            stats.by_processes += len(oks)

        def pump() -> None:
            for v in list(live):
                try:
                    while v.in_flight and v.poll():
                        take(v)
                    while unsent and len(v.in_flight) < _PROCESS_DEPTH:
                        i = unsent[0]
                        v.send(i, [(e.author, e.signature, e.signed_bytes) for e in chunks[i]])
                        unsent.popleft()
                except VerifierDied as err:
                    lost(v, err)

        def hand_on() -> list[Entry]:
            nonlocal out
            good = self._keep_verified(chunks[out], results.pop(out), report)
            chunks[out] = []
            out += 1
            return good

        try:
            chunk: list[Entry] = []
            for entry in entries:
                chunk.append(entry)
                if len(chunk) >= _PROCESS_CHUNK:
                    chunks.append(chunk)
                    unsent.append(len(chunks) - 1)
                    chunk = []
                    pump()
                    while out in results:
                        yield hand_on()
                        pump()  # refill before the next chunk's rules, or a process idles
            if chunk:
                chunks.append(chunk)
                unsent.append(len(chunks) - 1)
            while out < len(chunks):
                pump()
                if out in results:
                    yield hand_on()
                elif unsent:
                    check_here(unsent.pop())  # the tail: the processes take from the head
                else:  # a process holds chunk ``out``: wait for its answer
                    holder = next(v for v in live if out in v.in_flight)
                    try:
                        take(holder)
                    except VerifierDied as err:
                        lost(holder, err)
        finally:  # abandoned early: collect what is due so the next batch starts clean
            for v in list(live):
                try:
                    while v.in_flight:
                        v.receive()
                except VerifierDied as err:
                    lost(v, err)

    def _is_fresh(self, entry: Entry, report: IngestReport) -> bool:
        """False for an entry already held (a replay) or a copy with a broken signature."""
        held = self._pending.get(entry.hash)
        if held is None and entry.hash not in self._index:
            return True
        held_wire = held.wire if held is not None else self.store.wire(entry.hash)
        if held_wire == entry.wire or verify_fast(
            entry.author, entry.signed_bytes, entry.signature
        ):
            report.duplicates += 1  # a replay (or a re-signing) changes nothing
        else:
            report.rejected.append(Rejection(entry.hash, "signature does not verify"))
        return False

    def _process(self, entries: Sequence[Entry], report: IngestReport, begun: bool = False) -> None:
        self._process_chunks([list(entries)] if entries else [], report, begun)

    def _process_chunks(
        self, chunks: Iterable[list[Entry]], report: IngestReport, begun: bool = False
    ) -> None:
        """Levels 4–6 for signature-checked entries, then one durable commit for all of them.

        The store's write transaction opens before the first entry is judged (``begun``: the
        caller opened it with ``_begin_write``), so entries other processes committed are taken
        in first; a batch with nothing fresh after levels 1-3 opens none. With verifier
        processes, each chunk's accepted rows are written (inside the
        batch's one transaction) as soon as the chunk is judged, while the processes check later
        chunks, so only the commit itself is left when the last chunk is done. Signatures
        checked on threads of this process get their rows written after the last chunk instead:
        a row-by-row insert releases and retakes the GIL for every row, and would hand it back
        and forth with the verifier threads and stall both.
        """
        accepted: list[Entry] = []
        new_proofs: list[ForkProof] = []
        work: deque[Entry] = deque()
        self._batch = {}
        pending_before = len(self._pending)
        store = self.store
        stream = self.verify_stats.last_mode == "processes"
        written = 0  # rows of ``accepted`` inserted so far
        pieces = iter(chunks)
        due = bool(self._wait_time) and self._wait_time[0][0] <= self._clock()
        if not begun and not self._woken and not due:
            # Levels 1-3 need no lock: a batch of replays (gossip repeats itself) takes no
            # write lock at all, and a fresh batch takes it once its first entries are checked.
            first = next((c for c in pieces if c), None)
            if first is None:
                self._notify([])
                return
            pieces = itertools.chain([first], pieces)
        if not begun:
            self._begin_write()  # raises StorageError before anything in memory changed
        try:
            work.extend(self._woken)
            self._woken = []
            work.extend(self._due())
            self._drain(work, accepted, report, new_proofs)
            for chunk in pieces:
                work.extend(chunk)
                self._drain(work, accepted, report, new_proofs)
                if stream and len(accepted) > written:
                    store.insert(_rows(accepted[written:]))
                    written = len(accepted)
            self._drain(work, accepted, report, new_proofs)  # entries woken with no chunk
            store.insert(_rows(accepted[written:]))
            store.commit([(p.author, p.seq, p.encoded) for p in new_proofs])
        except BaseException:
            store.rollback()
            self._batch = {}
            self._woken = []
            self._replay()  # the in-memory state ran ahead of a commit that failed
            raise
        self._batch = {}
        report.accepted.extend(accepted)
        report.pending = max(0, len(self._pending) - pending_before)
        report.forks.extend(new_proofs)
        if new_proofs:
            self._replay()  # quarantine voids effects already applied; rebuild deterministically
            for proof in new_proofs:
                for on_fork in self._fork_listeners:
                    on_fork(proof)
        self._notify(accepted)

    def _notify(self, accepted: list[Entry]) -> None:
        """Tell listeners about entries taken in from other processes and ``accepted`` here."""
        entries = self._absorbed + accepted if self._absorbed else accepted
        self._absorbed = []
        if entries:
            for on_entries in self._listeners:
                on_entries(entries)

    # -- other processes writing the same store --------------------------------------------------
    def _begin_write(self) -> None:
        """Open the store's write transaction (waiting while another process writes) and take
        in the entries that other processes committed before it."""
        self._take_in(self.store.begin())

    def _take_in(self, foreign: Foreign) -> None:
        """Add entries another process stored (and validated) to the in-memory state.

        They are applied as a replay applies stored entries: in the store's order, which
        respects dependencies. Pending entries that waited for them are queued in ``_woken``
        for the next batch; the entries themselves wait in ``_absorbed`` for the listeners.
        """
        if not foreign.wires and not foreign.proofs:
            return
        entries = [decode_entry(w) for w in foreign.wires]
        new_forks = [
            p
            for p in map(decode_fork_proof, foreign.proofs)
            if (p.author, p.seq) not in self._forks
        ]
        if new_forks:  # another process proved a fork: rebuild deterministically
            self._replay()
            self._absorbed.extend(entries)
            self._woken.extend(
                e
                for e in self._pending.values()
                if all(d in self._index for d in e.deps)
                and (e.seq == 1 or self.head_seq(e.author) >= e.seq - 1)
            )
            for proof in new_forks:
                for on_fork in self._fork_listeners:
                    on_fork(proof)
            return
        pending = self._pending
        for entry in entries:
            if entry.hash in self._index:
                continue
            if pending.pop(entry.hash, None) is not None:
                self._forget_waits(entry)
            self._register(entry, self._effect(entry, replaying=True))
            self._absorbed.append(entry)
            for waiter in self._wait_hash.pop(entry.hash, ()):
                if waiter in pending:
                    self._woken.append(pending[waiter])
            for waiter in self._wait_pos.pop((entry.author, entry.seq), ()):
                if waiter in pending:
                    self._woken.append(pending[waiter])

    def refresh(self) -> int:
        """Take in entries that other processes wrote to the store since we last looked.

        A long-running node (the app, a seeder) calls this every fraction of a second: when
        nothing changed it costs one ``PRAGMA data_version``. Listeners hear of the new entries
        as of any commit; pending entries they complete are admitted (a write). Returns how
        many entries were taken in."""
        with self._lock:
            if not self.store.changed_elsewhere():
                return 0
            foreign = self.store.catch_up()
            before = len(self._absorbed)
            self._take_in(foreign)
            count = len(self._absorbed) - before
            if self._woken:
                self._process_chunks([], IngestReport())
            else:
                self._notify([])
            return count

    def _drain(
        self,
        work: deque[Entry],
        accepted: list[Entry],
        report: IngestReport,
        new_proofs: list[ForkProof],
    ) -> None:
        """Admit queued entries; each acceptance wakes the pending entries that waited on it."""
        while work:
            entry = work.popleft()
            if self._pending.pop(entry.hash, None) is not None:
                self._forget_waits(entry)  # re-registered below if it must wait again
            if self._admit(entry, report, new_proofs) != "accepted":
                continue
            accepted.append(entry)
            self._batch[entry.hash] = entry
            for waiter in self._wait_hash.pop(entry.hash, ()):
                if waiter in self._pending:
                    work.append(self._pending[waiter])
            for waiter in self._wait_pos.pop((entry.author, entry.seq), ()):
                if waiter in self._pending:
                    work.append(self._pending[waiter])

    def _admit(self, entry: Entry, report: IngestReport, proofs: list[ForkProof]) -> str:
        """Run levels 4–6 for one signature-checked entry: accepted, pending or rejected."""
        index = self._index
        if entry.hash in index:
            report.duplicates += 1
            return "duplicate"
        author, seq = entry.author, entry.seq
        held = self._pos.get((author, seq))
        if held is not None and (author, seq) not in self._forks:
            proof = make_fork_proof(decode_entry(self._wire_of(held)), entry)
            self._note_fork(proof)
            proofs.append(proof)
        q = self._quarantine.get(author)
        if q is not None and seq >= q:
            return self._admit_quarantined(entry, report)
        missing_prev = False
        if seq > 1:
            head = self._heads.get(author)
            if head is None or head.seq < seq - 1:
                missing_prev = True
            elif entry.prev != (head.hash if head.seq == seq - 1 else self._pos[(author, seq - 1)]):
                # Another entry at seq - 1 exists: wait for it by hash; it will prove the fork.
                self._wait(entry, hashes=[entry.prev] if entry.prev else [])
                return "pending"
            elif entry.timestamp < head.timestamp:
                report.rejected.append(Rejection(entry.hash, "timestamp goes backwards in feed"))
                return "rejected"
        deps = entry.deps
        missing = [d for d in deps if d not in index] if deps else deps
        if deps and entry.hash in deps:
            report.rejected.append(Rejection(entry.hash, "an entry cannot depend on itself"))
            return "rejected"
        if missing_prev or missing:
            self._wait(entry, hashes=missing, position=missing_prev)
            return "pending"
        if entry.timestamp > self._clock() + MAX_CLOCK_AHEAD_MS:
            self._wait(entry, hashes=(), until=entry.timestamp)
            return "pending"
        try:
            effective = self._effect(entry)
        except SemanticError as err:
            report.rejected.append(Rejection(entry.hash, str(err)))
            return "rejected"
        self._register(entry, effective)
        return "accepted"

    def _admit_quarantined(self, entry: Entry, report: IngestReport) -> str:
        """Keep an entry of a quarantined feed (either branch) without effect.

        Holding both branches lets other authors' entries that name them as dependencies be
        judged the same way on every replica, whichever branch it saw first.
        """
        missing = [d for d in entry.deps if d not in self._index]
        if entry.seq > 1 and entry.prev not in self._index:
            missing.append(entry.prev)  # type: ignore[arg-type]
        if missing:
            self._wait(entry, hashes=missing)
            return "pending"
        self._register(entry, effective=False)
        report.voided.append(entry.hash)
        return "accepted"

    def _wait(
        self,
        entry: Entry,
        hashes: Sequence[bytes],
        position: bool = False,
        until: int | None = None,
    ) -> None:
        """Hold ``entry`` in the pending set until ``hashes`` (and, with ``position``, its
        predecessor) are held, or, with ``until``, until the clock reaches that time."""
        if until is not None:
            heapq.heappush(self._wait_time, (until - MAX_CLOCK_AHEAD_MS, entry.hash))
            if len(self._wait_time) > 2 * MAX_PENDING:  # forget evicted waiters: stay bounded
                self._wait_time = [
                    (t, h) for t, h in self._wait_time if h in self._pending or h == entry.hash
                ]
                heapq.heapify(self._wait_time)
        if entry.hash in self._pending:
            return
        while len(self._pending) >= MAX_PENDING:  # bounded: the oldest waiter is dropped
            _, evicted = self._pending.popitem(last=False)
            self._forget_waits(evicted)
        self._pending[entry.hash] = entry
        for h in hashes:
            self._wait_hash.setdefault(h, set()).add(entry.hash)
        if position:
            self._wait_pos.setdefault((entry.author, entry.seq - 1), set()).add(entry.hash)

    def _due(self) -> list[Entry]:
        """Pending future-dated entries whose time has come."""
        now = self._clock()
        due = []
        while self._wait_time and self._wait_time[0][0] <= now:
            _, h = heapq.heappop(self._wait_time)
            entry = self._pending.get(h)
            if entry is not None:
                due.append(entry)
        return due

    def release_due(self) -> IngestReport:
        """Judge the pending entries that were dated ahead of the clock and whose time has come
        (``ingest`` does this too, on every batch)."""
        report = IngestReport()
        with self._lock, _collector_paused():
            self._process_chunks([], report)
        return report

    def _forget_waits(self, entry: Entry) -> None:
        """Drop an evicted entry's registrations so wanted() stops asking on its behalf."""
        keys: list[bytes] = [*entry.deps, *([entry.prev] if entry.prev else [])]
        for h in keys:
            waiters = self._wait_hash.get(h)
            if waiters is not None:
                waiters.discard(entry.hash)
                if not waiters:
                    del self._wait_hash[h]
        pos = (entry.author, entry.seq - 1)
        waiters = self._wait_pos.get(pos)
        if waiters is not None:
            waiters.discard(entry.hash)
            if not waiters:
                del self._wait_pos[pos]

    def _wire_of(self, entry_hash: bytes) -> bytes:
        if entry_hash in self._batch:  # accepted earlier in this batch, not yet committed
            return self._batch[entry_hash].wire
        wire = self.store.wire(entry_hash)
        if wire is None:
            raise LedgerError("entry indexed but not stored")
        return wire

    # -- local authoring -------------------------------------------------------------------------
    def append(
        self,
        signer: Signer,
        kind: str,
        body: Mapping[str, Any],
        deps: Iterable[bytes] = (),
        timestamp: int | None = None,
    ) -> Entry:
        """Sign and durably add a new entry to ``signer``'s own feed. Raises LedgerError."""
        deps = tuple(deps)
        entry = self.append_composed(signer, kind, lambda _state: (body, deps), timestamp)
        assert entry is not None
        return entry

    def append_composed(
        self,
        signer: Signer,
        kind: str,
        compose: Callable[[State], tuple[Mapping[str, Any], Iterable[bytes]] | None],
        timestamp: int | None = None,
    ) -> Entry | None:
        """Like ``append``, with the body and deps composed from the state while the store's
        write lock is held, entries of other processes included, so what the entry is based
        on (transfers not yet received, a balance) cannot change before it is stored. Returns
        None, writing nothing, when ``compose`` returns None."""
        with self._lock:
            report = IngestReport()
            self._begin_write()
            entry: Entry | None = None
            error: BaseException | None = None
            try:
                entry = self._compose(signer, kind, compose, timestamp)
            except BaseException as exc:  # after the commit below: woken entries are admitted
                error = exc
            self._process([entry] if entry is not None else [], report, begun=True)
            if error is not None:
                raise error
            if entry is None:
                return None
            reasons = [r.reason for r in report.rejected if r.hash == entry.hash]
            if reasons:
                raise SemanticError(reasons[0])
            if not any(e.hash == entry.hash for e in report.accepted):
                missing = [d.hex()[:12] for d in entry.deps if d not in self._index]
                if self._pending.pop(entry.hash, None) is not None:
                    self._forget_waits(entry)
                raise LedgerError(f"dependencies not held: {', '.join(missing)}")
            return entry

    def _compose(
        self,
        signer: Signer,
        kind: str,
        compose: Callable[[State], tuple[Mapping[str, Any], Iterable[bytes]] | None],
        timestamp: int | None,
    ) -> Entry | None:
        """Our feed's next entry, signed; the store's write lock is held."""
        author = signer.public_key
        if author in self._quarantine:
            raise LedgerError("this feed is quarantined after equivocation")
        composed = compose(self.state)
        if composed is None:
            return None
        body, deps = composed
        head = self._heads.get(author)
        seq = 1 if head is None else head.seq + 1
        ts = max(timestamp if timestamp is not None else now_ms(), head.timestamp if head else 0)
        validate_body(kind, body)
        if ts > self._clock() + MAX_CLOCK_AHEAD_MS:
            raise LedgerError("the timestamp is more than 5 minutes ahead of the clock")
        return create_entry(signer, seq, head.hash if head else None, ts, kind, body, tuple(deps))

    # -- queries ---------------------------------------------------------------------------------
    def state_hash(self) -> bytes:
        with self._lock:
            return self.state.state_hash()

    def frontier(self) -> dict[bytes, tuple[int, bytes]]:
        """For every author held: the highest contiguous seq and that entry's hash."""
        with self._lock:
            return {a: (h.seq, h.hash) for a, h in self._heads.items()}

    def head_seq(self, author: bytes) -> int:
        head = self._heads.get(author)
        return 0 if head is None else head.seq

    def feed_range(self, author: bytes, first_seq: int, limit: int) -> list[bytes]:
        with self._lock:
            return self.store.feed_range(author, first_seq, limit)

    def get_wire(self, entry_hash: bytes) -> bytes | None:
        with self._lock:
            return self.store.wire(entry_hash)

    def has(self, entry_hash: bytes) -> bool:
        return entry_hash in self._index

    def is_effective(self, entry_hash: bytes) -> bool:
        return entry_hash in self._index and entry_hash not in self._tainted

    def entry(self, entry_hash: bytes) -> Entry | None:
        wire = self.get_wire(entry_hash)
        return None if wire is None else decode_entry(wire)

    def feed(self, author: bytes) -> list[Entry]:
        return [decode_entry(w) for w in self.feed_range(author, 1, 1 << 62)]

    def wanted(self) -> Wanted:
        """What pending entries wait for, so the swarm can ask peers for it."""
        with self._lock:
            # An entry held in the pending set (future-dated, or waiting itself) is not asked
            # for again: what it waits for is asked for on its behalf.
            hashes = frozenset(
                h
                for h, waiters in self._wait_hash.items()
                if waiters and h not in self._index and h not in self._pending
            )
            feeds: dict[bytes, int] = {}
            for (author, seq), waiters in self._wait_pos.items():
                if waiters:
                    need = self.head_seq(author) + 1
                    if need <= seq:
                        feeds[author] = min(feeds.get(author, need), need)
            return Wanted(hashes, feeds)

    def pending_count(self) -> int:
        return len(self._pending)

    def count(self) -> int:
        return len(self._index)

    def fork_proofs(self) -> list[ForkProof]:
        with self._lock:
            return list(self._forks.values())

    def quarantined(self) -> dict[bytes, int]:
        return dict(self._quarantine)

    def ingest_fork_proof(self, data: bytes) -> ForkProof | None:
        """Verify and store a fork proof from a peer. Returns it if it was new."""
        proof = decode_fork_proof(data)
        with self._lock:
            if (proof.author, proof.seq) in self._forks:
                return None
            self._begin_write()
            if (proof.author, proof.seq) in self._forks:  # another process stored it first
                self.store.rollback()
                return None
            self.store.commit([(proof.author, proof.seq, proof.encoded)])
            self._replay()
            self._notify([])
        for fn in self._fork_listeners:
            fn(proof)
        return proof
