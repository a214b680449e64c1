"""Parallel, verified, resumable downloads of one content ID from several providers.

Chunks are requested lowest index first, so the start of a track arrives first and can be played
while the rest downloads. Each chunk is checked against the manifest before it is written; a
provider that sends a chunk that does not match, an oversized or malformed reply, or nothing
within the request timeout is cut off, and every chunk it delivered during this download is
deleted again (its other chunks are fetched from the remaining providers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import trio
from libp2p.peer.id import ID

from ledger.chunkstore import ChunkStore
from ledger.content import ContentError, Manifest
from p2p.content.messages import (
    MAX_RESPONSE,
    PROTOCOL_ID,
    RESPONSES,
    Busy,
    ChunkReply,
    GetChunk,
    GetManifest,
    ManifestReply,
    NotFound,
)
from p2p.context import DialError, SwarmContext
from p2p.wire import FramedStream, PeerClosed, ProtocolViolation, decode_message

log = logging.getLogger(__name__)

STREAMS_PER_PROVIDER = 4  # requests in flight per provider (each on its own yamux stream)


class DownloadFailed(Exception):
    """No provider could supply the whole content."""


@dataclass(frozen=True)
class Progress:
    """A snapshot of one download, sent to the progress callback after every chunk."""

    content_id: bytes
    chunks_done: int
    chunks_total: int
    bytes_done: int
    bytes_total: int
    providers: int
    finished: bool = False


@dataclass
class _Provider:
    peer: ID
    lacks: set[int] = field(default_factory=set)
    delivered: list[int] = field(default_factory=list)
    dropped: bool = False


async def fetch_manifest(ctx: SwarmContext, store: ChunkStore, content_id: bytes,
                         providers: list[ID]) -> Manifest:
    """The manifest of ``content_id``, from the store or from the first provider that has it."""
    manifest = await trio.to_thread.run_sync(store.manifest, content_id)
    if manifest is not None:
        return manifest
    for peer in providers:
        try:
            stream = await ctx.open(peer, PROTOCOL_ID)
        except DialError:
            continue
        try:
            await stream.write_frame(GetManifest(content_id).encode())
            body = await stream.read_frame(MAX_RESPONSE, ctx.limits.request_timeout)
            reply = decode_message(body, RESPONSES)
            if isinstance(reply, ManifestReply):
                try:
                    return await trio.to_thread.run_sync(store.put_manifest, reply.manifest,
                                                         content_id)
                except ContentError as exc:
                    raise ProtocolViolation(f"bad manifest: {exc}") from exc
            if not isinstance(reply, NotFound | Busy):
                raise ProtocolViolation(f"unexpected {type(reply).__name__} to GetManifest")
        except ProtocolViolation as exc:
            await stream.reset()
            await ctx.guard.ban(str(peer), f"content: {exc}")
        except PeerClosed:
            pass
        finally:
            await stream.close()
    raise DownloadFailed(f"no provider has the manifest of {content_id.hex()}")


class Download:
    """One content download; ``run()`` returns when every chunk is stored and verified."""

    def __init__(self, ctx: SwarmContext, store: ChunkStore, content_id: bytes,
                 providers: list[ID],
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.ctx = ctx
        self.store = store
        self.content_id = content_id
        self.providers = [_Provider(p) for p in dict.fromkeys(providers)]
        self.on_progress = on_progress
        self.manifest: Manifest | None = None
        self._todo: list[int] = []
        self._in_flight: set[int] = set()
        self._done: set[int] = set()
        self._present_before: set[int] = set()
        self._changed = trio.Event()
        self._finished = trio.Event()
        self.bytes_done = 0

    # -- public ------------------------------------------------------------------------------------
    async def run(self) -> Manifest:
        manifest = await fetch_manifest(self.ctx, self.store, self.content_id,
                                        [p.peer for p in self.providers])
        self.manifest = manifest
        missing = await trio.to_thread.run_sync(self.store.missing_chunks, manifest)
        self._todo = sorted(missing)
        self._present_before = set(range(len(manifest.chunks))) - set(missing)
        self._done = set(self._present_before)
        self.bytes_done = sum(manifest.stored_length(i) for i in self._done)
        self._report()
        if self._todo:
            async with trio.open_nursery() as nursery:
                for provider in self.providers:
                    for _ in range(STREAMS_PER_PROVIDER):
                        nursery.start_soon(self._worker, provider)
        self._finished.set()
        if len(self._done) < len(manifest.chunks):
            missing_now = len(manifest.chunks) - len(self._done)
            raise DownloadFailed(f"{missing_now} chunks of {self.content_id.hex()} could not be "
                                 f"fetched from {len(self.providers)} providers")
        self._report(finished=True)
        return manifest

    def has_chunk(self, index: int) -> bool:
        return index in self._done

    async def wait_chunk(self, index: int) -> None:
        """Return once chunk ``index`` is stored (DownloadFailed if the download gave up)."""
        while index not in self._done:
            if self._finished.is_set():
                raise DownloadFailed(f"chunk {index} was not fetched")
            await self._changed.wait()

    # -- private -----------------------------------------------------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _report(self, finished: bool = False) -> None:
        if self.on_progress is None or self.manifest is None:
            return
        m = self.manifest
        total = sum(m.stored_length(i) for i in range(len(m.chunks)))
        self.on_progress(Progress(self.content_id, len(self._done), len(m.chunks),
                                  self.bytes_done, total,
                                  sum(not p.dropped for p in self.providers), finished))

    def _next_index(self, provider: _Provider) -> int | None:
        for i, index in enumerate(self._todo):
            if index not in provider.lacks:
                del self._todo[i]
                self._in_flight.add(index)
                return index
        return None

    def _anything_left_for(self, provider: _Provider) -> bool:
        return any(i not in provider.lacks for i in self._todo) or bool(
            self._in_flight - provider.lacks)

    async def _worker(self, provider: _Provider) -> None:
        stream: FramedStream | None = None
        try:
            while not provider.dropped:
                index = self._next_index(provider)
                if index is None:
                    if not self._anything_left_for(provider) or not self._in_flight:
                        return
                    await self._changed.wait()  # an in-flight chunk may come back to the queue
                    continue
                if stream is None:
                    try:
                        stream = await self.ctx.open(provider.peer, PROTOCOL_ID)
                    except DialError as exc:
                        log.info("provider %s unreachable: %s", provider.peer, exc)
                        self._give_back(index)
                        provider.dropped = True
                        return
                try:
                    ok = await self._fetch_one(stream, provider, index)
                except ProtocolViolation as exc:
                    self._give_back(index)
                    await self._drop(provider, str(exc))
                    await stream.reset()
                    return
                except PeerClosed:
                    self._give_back(index)
                    provider.dropped = True
                    return
                if not ok:
                    self._give_back(index)
        finally:
            if stream is not None:
                await stream.close()
            self._notify()

    def _give_back(self, index: int) -> None:
        self._in_flight.discard(index)
        if index not in self._done:
            self._todo.append(index)
            self._todo.sort()
        self._notify()

    async def _fetch_one(self, stream: FramedStream, provider: _Provider, index: int) -> bool:
        assert self.manifest is not None
        chunk_id = self.manifest.chunks[index]
        await stream.write_frame(GetChunk(chunk_id).encode())
        body = await stream.read_frame(MAX_RESPONSE, self.ctx.limits.request_timeout)
        reply = decode_message(body, RESPONSES)
        if isinstance(reply, NotFound):
            provider.lacks.add(index)
            return False
        if isinstance(reply, Busy):
            await trio.sleep(reply.retry_ms / 1000)
            return False
        if not isinstance(reply, ChunkReply):
            raise ProtocolViolation(f"unexpected {type(reply).__name__} to GetChunk")
        try:
            self.manifest.check_chunk(index, reply.data)
        except ContentError as exc:
            raise ProtocolViolation(f"corrupt chunk: {exc}") from exc
        if provider.dropped:
            return False
        await trio.to_thread.run_sync(self.store.put_chunk, reply.data, chunk_id)
        if provider.dropped:  # cut off while we were writing: keep nothing from it
            if index not in self._present_before and index not in self._done:
                self.store.chunk_path(chunk_id).unlink(missing_ok=True)
            return False
        self._in_flight.discard(index)
        self._done.add(index)
        provider.delivered.append(index)
        self.bytes_done += len(reply.data)
        self._report()
        self._notify()
        return True

    async def _drop(self, provider: _Provider, reason: str) -> None:
        """Cut a provider off and forget everything it delivered in this download."""
        provider.dropped = True
        assert self.manifest is not None
        for index in provider.delivered:
            if index in self._present_before:
                continue
            self._done.discard(index)
            self.bytes_done -= self.manifest.stored_length(index)
            path = self.store.chunk_path(self.manifest.chunks[index])
            path.unlink(missing_ok=True)
            self._give_back(index)
        provider.delivered.clear()
        await self.ctx.guard.ban(str(provider.peer), f"content: {reason}")
