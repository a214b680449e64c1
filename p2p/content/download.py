"""Parallel, verified, resumable downloads of one content ID from several providers.

Chunks are requested in playback order: chunk 0, then the last chunk (Ogg keeps its length in
the last page and MP4 may keep its index at the end), then the rest from the start, so a track
can be played while it downloads. :meth:`Download.prioritize` moves chunks to the front, for a
player that seeks or waits for a chunk; each call replaces the previous wish. Each chunk is
checked against the manifest before it is written; a provider that sends a chunk that does not
match, an oversized or malformed reply, or nothing within the request timeout is cut off, and
every chunk it delivered during this download is deleted again (its other chunks are fetched
from the remaining providers). Requests are paced by the node's download caps (see
``p2p.limits.Limits``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import trio
from libp2p.peer.id import ID

from content.chunkstore import ChunkStore
from content.format import ContentError, Manifest
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
    decode_response,
)
from p2p.context import DialError, SwarmContext
from p2p.wire import FramedStream, PeerClosed, ProtocolViolation, decode_message

log = logging.getLogger(__name__)

STREAMS_PER_PROVIDER = 4  # requests in flight per provider (each on its own yamux stream)
READ_AHEAD = 4  # chunks fetched first after the one a blocked reader waits for
STORES_IN_FLIGHT = 8  # received chunks being verified and written while the next are fetched
MIN_POOLED_BUFFER = 1 << 16  # smaller reply buffers (NotFound, Busy) are not kept for reuse


class DownloadFailed(Exception):
    """No provider could supply the whole content."""


class TooLarge(DownloadFailed):
    """The content needs more bytes than the download was allowed to write (a quota or a size
    cap); nothing of it but the manifest was fetched, and that is removed again."""


class StorageFailed(DownloadFailed):
    """Chunks could not be written here (a full or failing disk). Every chunk stored before is
    kept, so a later fetch resumes; ``__cause__`` is the OSError."""


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
    chunk_index: int | None = None  # the chunk just stored (None for the first and last report)


@dataclass
class _Provider:
    peer: ID
    lacks: set[int] = field(default_factory=set)
    delivered: list[int] = field(default_factory=list)
    dropped: bool = False


async def fetch_manifest(
    ctx: SwarmContext, store: ChunkStore, content_id: bytes, providers: list[ID]
) -> Manifest:
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
                    return await trio.to_thread.run_sync(
                        store.put_manifest, reply.manifest, content_id
                    )
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

    def __init__(
        self,
        ctx: SwarmContext,
        store: ChunkStore,
        content_id: bytes,
        providers: list[ID],
        on_progress: Callable[[Progress], None] | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.max_bytes = max_bytes  # None: no cap on the bytes this download writes
        self.store = store
        self.content_id = content_id
        self.providers = [_Provider(p) for p in dict.fromkeys(providers)]
        self.on_progress = on_progress
        self.manifest: Manifest | None = None
        self._order: list[int] = []  # every chunk to fetch, in the default order
        self._first = 0  # no chunk before this position of _order is still pending
        self._position: dict[int, int] = {}
        self._pending: set[int] = set()  # not stored, not being fetched
        self._urgent: list[int] = []  # the latest prioritize() wish, fetched before _order
        self._in_flight: set[int] = set()
        self._done: set[int] = set()
        self._present_before: set[int] = set()
        self._changed = trio.Event()
        self._finished = trio.Event()
        self.bytes_done = 0
        self._bytes_total = 0
        self._nursery: trio.Nursery | None = None
        self._storage_error: OSError | None = None  # the write that stopped the download
        # A chunk write ends in an fsync (several ms on many disks), so chunks are stored in the
        # background while the worker asks for the next one; this bounds the memory it holds.
        self._store_slots = trio.Semaphore(STORES_IN_FLIGHT)
        # Replies are read into buffers that are reused chunk after chunk (at most one per
        # worker plus one per store in flight): fresh memory for every 256 KiB reply costs
        # more in page faults than the copy into a warm buffer.
        self._free_buffers: list[bytearray] = []

    # -- public ------------------------------------------------------------------------------------
    def uses(self, peer: ID) -> bool:
        """Whether this download still fetches from ``peer``."""
        return any(p.peer == peer and not p.dropped for p in self.providers)

    async def run(self) -> Manifest:
        try:
            return await self._run()
        finally:
            self._finished.set()
            self._notify()

    async def wait_complete(self) -> Manifest:
        """The manifest, once every chunk is stored (DownloadFailed if the download gave up).
        For a second caller that wants the same content while ``run()`` is going."""
        await self._finished.wait()
        if self.manifest is None or len(self._done) < len(self.manifest.chunks):
            raise DownloadFailed(f"the download of {self.content_id.hex()} did not complete")
        return self.manifest

    def has_chunk(self, index: int) -> bool:
        return index in self._done

    def served(self) -> dict[ID, int]:
        """Stored bytes each provider delivered in this download (a cut-off provider's chunks
        were forgotten, so they count for nothing): what a buyer's receipt names."""
        if self.manifest is None:
            return {}
        out: dict[ID, int] = {}
        for p in self.providers:
            if p.delivered and not p.dropped:
                out[p.peer] = sum(self.manifest.stored_length(i) for i in p.delivered)
        return out

    def prioritize(self, indexes: Iterable[int]) -> None:
        """Fetch these chunks next, in the given order (a player seeking or waiting for them).

        Replaces the previous wish: the playhead is in one place at a time. Chunks already
        stored or being fetched, and indexes outside the track, are ignored. Safe to call before
        ``run()`` has loaded the manifest.
        """
        wanted = list(dict.fromkeys(indexes))
        if self.manifest is not None:
            wanted = [i for i in wanted if i in self._pending]
        self._urgent = wanted
        self._notify()

    def reading_at(self, index: int) -> None:
        """A reader waits at chunk ``index``: it and the few after it are fetched next."""
        if index not in self._done:
            self.prioritize(range(index, index + READ_AHEAD + 1))

    async def wait_chunk(self, index: int, urgent: bool = False) -> None:
        """Return once chunk ``index`` is stored (DownloadFailed if the download gave up).

        ``urgent``: a reader is blocked on this chunk, so it and the few after it are fetched
        before anything else.
        """
        if urgent:
            self.reading_at(index)
        while index not in self._done:
            if self._finished.is_set():
                raise DownloadFailed(f"chunk {index} was not fetched")
            await self._changed.wait()

    # -- private -----------------------------------------------------------------------------------
    async def _run(self) -> Manifest:
        manifest = await fetch_manifest(
            self.ctx, self.store, self.content_id, [p.peer for p in self.providers]
        )
        self.manifest = manifest
        missing = await trio.to_thread.run_sync(self.store.missing_chunks, manifest)
        count = len(manifest.chunks)
        self._bytes_total = sum(manifest.stored_length(i) for i in range(count))
        playback = [0, count - 1, *range(1, count - 1)] if count > 1 else [0]
        missing_set = set(missing)
        self._order = [i for i in playback if i in missing_set]
        self._position = {index: pos for pos, index in enumerate(self._order)}
        self._pending = set(missing_set)
        self._urgent = [i for i in self._urgent if i in self._pending]
        self._present_before = set(range(count)) - missing_set
        needed = sum(manifest.stored_length(i) for i in missing_set)
        if self.max_bytes is not None and needed > self.max_bytes:
            if len(missing_set) == count:  # nothing of it was here: forget the manifest too
                await trio.to_thread.run_sync(self.store.remove_content, self.content_id)
            raise TooLarge(
                f"{self.content_id.hex()} needs {needed} bytes, over the {self.max_bytes} allowed"
            )
        self._done = set(self._present_before)
        self.bytes_done = sum(manifest.stored_length(i) for i in self._done)
        self._report()
        if self._pending:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for provider in self.providers:
                    for _ in range(STREAMS_PER_PROVIDER):
                        nursery.start_soon(self._worker, provider)
        if self._storage_error is not None:
            error = self._storage_error
            raise StorageFailed(
                f"chunks of {self.content_id.hex()} could not be stored: "
                f"{error.strerror or error}; {len(self._done)} of {count} are "
                f"kept for a later resume"
            ) from error
        if len(self._done) < count:
            missing_now = count - len(self._done)
            raise DownloadFailed(
                f"{missing_now} chunks of {self.content_id.hex()} could not be "
                f"fetched from {len(self.providers)} providers"
            )
        self._report(finished=True)
        return manifest

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _report(self, finished: bool = False, index: int | None = None) -> None:
        if self.on_progress is None or self.manifest is None:
            return
        self.on_progress(
            Progress(
                self.content_id,
                len(self._done),
                len(self.manifest.chunks),
                self.bytes_done,
                self._bytes_total,
                sum(not p.dropped for p in self.providers),
                finished,
                index,
            )
        )

    def _take(self, index: int) -> int:
        self._pending.discard(index)
        self._in_flight.add(index)
        return index

    def _next_index(self, provider: _Provider) -> int | None:
        if self._urgent:
            self._urgent = [i for i in self._urgent if i in self._pending]
            for index in self._urgent:
                if index not in provider.lacks:
                    return self._take(index)
        order, pending = self._order, self._pending
        pos = self._first
        while pos < len(order) and order[pos] not in pending:
            pos += 1
        self._first = pos
        for index in itertools.islice(order, pos, None):
            if index in pending and index not in provider.lacks:
                return self._take(index)
        return None

    def _anything_left_for(self, provider: _Provider) -> bool:
        return any(i not in provider.lacks for i in self._pending) or bool(
            self._in_flight - provider.lacks
        )

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
            self._pending.add(index)
            self._first = min(self._first, self._position.get(index, 0))
        self._notify()

    async def _fetch_one(self, stream: FramedStream, provider: _Provider, index: int) -> bool:
        assert self.manifest is not None
        manifest = self.manifest
        chunk_id = manifest.chunks[index]
        await self.ctx.guard.pace_download(str(provider.peer), manifest.stored_length(index))
        await stream.write_frame(GetChunk(chunk_id).encode())
        body = await stream.read_frame_into(
            MAX_RESPONSE, self.ctx.limits.request_timeout, self._buffer_for
        )
        try:
            reply = decode_response(body)
        except ProtocolViolation:
            self._recycle(body)
            raise
        if isinstance(reply, NotFound):
            provider.lacks.add(index)
            self._recycle(body)
            return False
        if isinstance(reply, Busy):
            self._recycle(body)
            await trio.sleep(reply.retry_ms / 1000)
            return False
        if not isinstance(reply, ChunkReply):
            self._recycle(body)
            raise ProtocolViolation(f"unexpected {type(reply).__name__} to GetChunk")
        if provider.dropped:
            self._recycle(body)
            return False
        try:
            await self._store_slots.acquire()
        except BaseException:
            self._recycle(body)
            raise
        assert self._nursery is not None
        self._nursery.start_soon(self._store, provider, index, reply.data, body)
        return True

    def _buffer_for(self, size: int) -> bytearray:
        """A reply buffer of at least ``size`` bytes (a reused one if one is large enough)."""
        for i, buffer in enumerate(self._free_buffers):
            if len(buffer) >= size:
                return self._free_buffers.pop(i)
        return bytearray(size)

    def _recycle(self, body: memoryview) -> None:
        """Give the buffer under ``body`` back; nothing may use a view of it afterwards."""
        buffer = body.obj
        if (
            isinstance(buffer, bytearray)
            and len(buffer) >= MIN_POOLED_BUFFER
            and len(self._free_buffers)
            < STORES_IN_FLIGHT + STREAMS_PER_PROVIDER * len(self.providers)
        ):
            self._free_buffers.append(buffer)

    async def _store(
        self, provider: _Provider, index: int, data: memoryview | bytes, body: memoryview
    ) -> None:
        """Verify and write one received chunk (in the background of its worker); ``data`` is
        a view into the reply buffer under ``body``, given back once the chunk is written."""
        assert self.manifest is not None
        chunk_id = self.manifest.chunks[index]
        try:
            try:
                # Hashing (which releases the GIL) and the fsync run on a worker thread;
                # put_chunk checks the hash before it writes anything.
                await trio.to_thread.run_sync(self._verify_and_store, index, data)
            except ContentError as exc:
                self._give_back(index)
                if not provider.dropped:
                    await self._drop(provider, f"corrupt chunk: {exc}")
                return
            except OSError as exc:  # a full or failing disk: stop; what is stored stays
                self._give_back(index)
                if self._storage_error is None:
                    self._storage_error = exc
                    log.warning("cannot store chunks of %s: %s", self.content_id.hex(), exc)
                assert self._nursery is not None
                self._nursery.cancel_scope.cancel()
                return
            if provider.dropped:  # cut off while we were writing: keep nothing from it
                if index not in self._present_before and index not in self._done:
                    await trio.to_thread.run_sync(self.store.discard_chunk, chunk_id)
                self._give_back(index)
                return
            self._in_flight.discard(index)
            self._done.add(index)
            provider.delivered.append(index)
            self.bytes_done += len(data)
            self._report(index=index)
            self._notify()
        finally:
            self._store_slots.release()
            self._recycle(body)

    def _verify_and_store(self, index: int, data: memoryview | bytes) -> None:
        assert self.manifest is not None
        expected = self.manifest.stored_length(index)
        if len(data) != expected:
            raise ContentError(f"chunk {index} has {len(data)} bytes, expected {expected}")
        try:
            self.store.put_chunk(data, self.manifest.chunks[index])
        except ContentError as exc:
            raise ContentError(f"chunk {index} does not match its hash") from exc

    async def _drop(self, provider: _Provider, reason: str) -> None:
        """Cut a provider off and forget everything it delivered in this download."""
        provider.dropped = True
        assert self.manifest is not None
        for index in provider.delivered:
            if index in self._present_before:
                continue
            self._done.discard(index)
            self.bytes_done -= self.manifest.stored_length(index)
            self.store.discard_chunk(self.manifest.chunks[index])
            self._give_back(index)
        provider.delivered.clear()
        await self.ctx.guard.ban(str(provider.peer), f"content: {reason}")
