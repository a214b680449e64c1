"""Serving manifests and chunks from the local chunk store."""

from __future__ import annotations

from collections.abc import Callable

import trio
from libp2p.peer.id import ID

from content.chunkstore import ChunkStore
from p2p.content.messages import (
    HAS_COMPLETE,
    HAS_NOTHING,
    HAS_PARTIAL,
    MAX_CHUNK_BYTES,
    MAX_REQUEST,
    PROTOCOL_ID,
    REQUESTS,
    Busy,
    ChunkReply,
    GetChunk,
    GetManifest,
    Has,
    HasReply,
    ManifestReply,
    NotFound,
)
from p2p.context import SwarmContext
from p2p.limits import TooBusy
from p2p.wire import FramedStream


class ContentServer:
    """Answers ``/cooptracks/content/1.0.0`` requests; any number of requests per stream.

    A chunk is read from its pack (or loose file) straight into a reply buffer behind the
    frame's head (``ChunkReply.frame_head``) and written from there: no copy of it is encoded,
    and the buffers are reused, one per upload slot, instead of allocating a fresh quarter-megabyte
    (and faulting its pages in) three times for every chunk served.
    """

    def __init__(
        self, ctx: SwarmContext, store: ChunkStore, share: Callable[[bytes], bool] | None = None
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.share = share  # which content IDs we admit to holding (None: all)
        self.chunks_served = 0
        self.bytes_served = 0
        self.busy_replies = 0
        self._buffers: list[bytearray] = []  # reply buffers not in use
        ctx.serve(PROTOCOL_ID, self._serve)

    async def _serve(self, stream: FramedStream, peer: ID) -> None:
        async for request in stream.requests(MAX_REQUEST, self.ctx.limits.idle_timeout, REQUESTS):
            if isinstance(request, GetChunk):
                try:
                    async with self.ctx.guard.upload_slot(str(peer)):
                        await self._send_chunk(stream, peer, request.chunk_id)
                except TooBusy as busy:
                    self.busy_replies += 1
                    await stream.write_frame(Busy(round(busy.retry_after * 1000)).encode())
            elif isinstance(request, GetManifest):
                data = (
                    None
                    if not self._shared(request.content_id)
                    else await trio.to_thread.run_sync(
                        self.store.manifest_bytes, request.content_id
                    )
                )
                await stream.write_frame(
                    (NotFound() if data is None else ManifestReply(data)).encode()
                )
            elif isinstance(request, Has):
                states = await trio.to_thread.run_sync(self._states, request.content_ids)
                await stream.write_frame(HasReply(tuple(states)).encode())

    async def _send_chunk(self, stream: FramedStream, peer: ID, chunk_id: bytes) -> None:
        buffer = self._buffers.pop() if self._buffers else bytearray()
        try:
            framed = await trio.to_thread.run_sync(self._read_framed, chunk_id, buffer)
            if framed is None:
                await stream.write_frame(NotFound().encode())
                return
            buffer, length, size = framed
            await self.ctx.guard.pace_upload(str(peer), size)
            with memoryview(buffer) as view:
                await stream.write_framed(view[:length])
            self.chunks_served += 1
            self.bytes_served += size
        finally:
            if len(self._buffers) < self.ctx.limits.upload_slots:
                self._buffers.append(buffer)

    def _read_framed(self, chunk_id: bytes, buffer: bytearray) -> tuple[bytearray, int, int] | None:
        """Read a stored chunk into ``buffer`` (or a larger one) behind its frame head, on a
        worker thread. Returns the buffer, the frame's length and the chunk's size; None if
        the chunk is not stored (or is not a chunk this protocol could carry)."""
        if self.share is not None and not any(map(self.share, self.store.holders(chunk_id))):
            return None  # only in content we keep to ourselves
        where = self.store.locate(chunk_id)
        if where is None or where.length > MAX_CHUNK_BYTES:
            return None
        size = where.length
        head = ChunkReply.frame_head(size)
        length = len(head) + size
        if len(buffer) < length:
            buffer = bytearray(length)
        with memoryview(buffer) as view:
            view[: len(head)] = head
            if not self.store.read_into(where, view[len(head) : length]):
                return None  # gone or shorter than a moment ago: not a stored chunk
        return buffer, length, size

    def _shared(self, content_id: bytes) -> bool:
        return self.share is None or self.share(content_id)

    def _states(self, content_ids: tuple[bytes, ...]) -> list[int]:
        out = []
        for cid in content_ids:
            manifest = self.store.manifest(cid) if self._shared(cid) else None
            if manifest is None:
                out.append(HAS_NOTHING)
            else:
                out.append(HAS_PARTIAL if self.store.missing_chunks(manifest) else HAS_COMPLETE)
        return out
