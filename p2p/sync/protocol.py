"""Replicating the ledger with one peer: serve our feeds, pull what we lack from theirs.

A pull (``Replicator.pull``) runs on one stream: GetFrontier; for every author where the peer is
ahead, GetFeed batches from our head + 1 (the next request is sent before the previous batch is
ingested, so the network and signature checks overlap); then rounds of GetEntries / GetFeed for
what pending entries still wait for; then GetForkProofs. Both sides pull, so two peers converge.

A peer that serves an entry that does not decode or whose signature does not verify is cut off:
an honest replica only holds entries it has verified. Semantic rejections are not held against
the relaying peer (the author signed them), and an equivocating entry is welcome: it yields a fork
proof.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio
from libp2p.peer.id import ID

from ledger.errors import LedgerError
from ledger.ledger import IngestReport, Ledger
from p2p.context import SwarmContext
from p2p.sync.messages import (
    MAX_FRONTIER,
    MAX_HASHES,
    MAX_PROOFS,
    MAX_RANGE,
    MAX_RANGE_BYTES,
    MAX_REQUEST,
    MAX_RESPONSE,
    PROTOCOL_ID,
    REQUESTS,
    RESPONSES,
    Entries,
    ForkProofs,
    Frontier,
    GetEntries,
    GetFeed,
    GetForkProofs,
    GetFrontier,
)
from p2p.wire import FramedStream, Message, ProtocolViolation, decode_message

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=Message)
WANTED_ROUNDS = 8


@dataclass
class SyncResult:
    """What one pull brought in."""

    peer: str
    accepted: int = 0
    rejected: int = 0
    forks: int = 0
    requests: int = 0
    authors: set[bytes] = field(default_factory=set)  # feeds that grew


class LedgerAccess:
    """Runs ledger calls in a worker thread, one at a time (SQLite work must not block trio)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._limiter = trio.CapacityLimiter(1)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def ingest(self, wires: Sequence[bytes]) -> IngestReport:
        return await self.call(self.ledger.ingest, list(wires))


def is_forgery(report: IngestReport) -> str | None:
    """A reason to cut off the peer that relayed this batch, or None."""
    for rejection in report.rejected:
        if rejection.hash is None or "signature does not verify" in rejection.reason:
            return rejection.reason
    return None


class Replicator:
    """The sync protocol of one node: a server for peers and a client that pulls from them."""

    def __init__(self, ctx: SwarmContext, ledger: LedgerAccess) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self._pulling: dict[str, trio.Event] = {}
        ctx.serve(PROTOCOL_ID, self._serve)

    # -- server ------------------------------------------------------------------------------------
    async def _serve(self, stream: FramedStream, peer: ID) -> None:
        async for request in stream.requests(MAX_REQUEST, self.ctx.limits.idle_timeout, REQUESTS):
            reply = await self.ledger.call(self._answer, request)
            await stream.write_frame(reply.encode())

    def _answer(self, request: Message) -> Message:
        led = self.ledger.ledger
        if isinstance(request, GetFrontier):
            heads = sorted((a, s, h) for a, (s, h) in led.frontier().items())
            return Frontier(tuple(heads[:MAX_FRONTIER]))
        if isinstance(request, GetFeed):
            wires = led.feed_range(request.author, request.first_seq, request.limit)
            out: list[bytes] = []
            size = 0
            for w in wires:
                if out and size + len(w) > MAX_RANGE_BYTES:
                    break
                out.append(w)
                size += len(w)
            return Entries(tuple(out))
        if isinstance(request, GetEntries):
            got = (led.get_wire(h) for h in request.hashes)
            return Entries(tuple(w for w in got if w is not None))
        if isinstance(request, GetForkProofs):
            return ForkProofs(tuple(p.encode() for p in led.fork_proofs()[:MAX_PROOFS]))
        raise ProtocolViolation(f"unexpected {type(request).__name__}")

    # -- client ------------------------------------------------------------------------------------
    async def remote_frontier(self, peer: ID) -> dict[bytes, tuple[int, bytes]]:
        """The peer's frontier (one GetFrontier round trip)."""
        stream = await self.ctx.open(peer, PROTOCOL_ID)
        try:
            got = await self._ask(stream, GetFrontier(), Frontier, SyncResult(str(peer)))
        finally:
            await stream.close()
        return {a: (s, h) for a, s, h in got.heads}

    async def pull(self, peer: ID) -> SyncResult:
        """Bring our replica up to ``peer``'s. Concurrent pulls from one peer are merged."""
        key = str(peer)
        running = self._pulling.get(key)
        if running is not None:
            await running.wait()
            return SyncResult(key)
        done = self._pulling[key] = trio.Event()
        try:
            return await self._pull(peer)
        finally:
            del self._pulling[key]
            done.set()

    async def _pull(self, peer: ID) -> SyncResult:
        result = SyncResult(str(peer))
        stream = await self.ctx.open(peer, PROTOCOL_ID)
        try:
            theirs = await self._ask(stream, GetFrontier(), Frontier, result)
            mine = await self.ledger.call(self.ledger.ledger.frontier)
            for author, seq, head_hash in theirs.heads:
                my_seq, my_hash = mine.get(author, (0, b""))
                if seq > my_seq:
                    await self._pull_feed(stream, author, my_seq + 1, seq, result)
                elif seq == my_seq and head_hash != my_hash:
                    # Same height, different head: their entry proves a fork.
                    await self._pull_feed(stream, author, seq, seq, result)
            for _ in range(WANTED_ROUNDS):
                before = result.accepted
                wanted = await self.ledger.call(self.ledger.ledger.wanted)
                if not wanted.hashes and not wanted.feeds:
                    break
                hashes = sorted(wanted.hashes)
                for i in range(0, len(hashes), MAX_HASHES):
                    got = await self._ask(
                        stream, GetEntries(tuple(hashes[i : i + MAX_HASHES])), Entries, result
                    )
                    await self._ingest(peer, got.wires, result)
                for author, first in wanted.feeds.items():
                    got = await self._ask(
                        stream, GetFeed(author, first, MAX_RANGE), Entries, result
                    )
                    await self._ingest(peer, got.wires, result)
                if result.accepted == before:
                    break
            proofs = await self._ask(stream, GetForkProofs(), ForkProofs, result)
            if proofs.proofs:
                await self._ingest_proofs(peer, proofs.proofs, result)
        except ProtocolViolation as exc:
            await stream.reset()
            await self.ctx.guard.ban(str(peer), f"sync: {exc}")
            raise
        finally:
            await stream.close()
        return result

    async def _ask(
        self, stream: FramedStream, request: Message, expect: type[M], result: SyncResult
    ) -> M:
        await stream.write_frame(request.encode())
        return await self._read(stream, expect, result)

    async def _read(self, stream: FramedStream, expect: type[M], result: SyncResult) -> M:
        body = await stream.read_frame(MAX_RESPONSE, self.ctx.limits.request_timeout)
        reply = decode_message(body, RESPONSES)
        result.requests += 1
        if not isinstance(reply, expect):
            raise ProtocolViolation(f"expected {expect.__name__}, got {type(reply).__name__}")
        return reply

    async def _pull_feed(
        self, stream: FramedStream, author: bytes, first: int, last: int, result: SyncResult
    ) -> None:
        peer = stream.stream.muxed_conn.peer_id
        next_seq = first
        await stream.write_frame(
            GetFeed(author, next_seq, min(MAX_RANGE, last - next_seq + 1)).encode()
        )
        while True:
            got = await self._read(stream, Entries, result)
            next_seq += len(got.wires)
            more = bool(got.wires) and next_seq <= last
            if more:  # ask for the next batch before checking this one
                await stream.write_frame(
                    GetFeed(author, next_seq, min(MAX_RANGE, last - next_seq + 1)).encode()
                )
            if got.wires:
                await self._ingest(peer, got.wires, result)
            if not more:
                return

    async def _ingest(self, peer: ID, wires: Sequence[bytes], result: SyncResult) -> None:
        if not wires:
            return
        report = await self.ledger.ingest(wires)
        result.accepted += len(report.accepted)
        result.authors.update(e.author for e in report.accepted)
        result.rejected += len(report.rejected)
        result.forks += len(report.forks)
        reason = is_forgery(report)
        if reason is not None:
            raise ProtocolViolation(f"served a forged entry ({reason})")

    async def _ingest_proofs(self, peer: ID, proofs: Sequence[bytes], result: SyncResult) -> None:
        for data in proofs:
            try:
                new = await self.ledger.call(self.ledger.ledger.ingest_fork_proof, data)
            except LedgerError as exc:
                raise ProtocolViolation(f"served an invalid fork proof ({exc})") from exc
            result.forks += new is not None
