"""Serving manifests and chunks from the local chunk store."""

from __future__ import annotations

import trio
from libp2p.peer.id import ID

from ledger.chunkstore import ChunkStore
from p2p.content.messages import (
    HAS_COMPLETE,
    HAS_NOTHING,
    HAS_PARTIAL,
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
    """Answers ``/cooptracks/content/1.0.0`` requests; any number of requests per stream."""

    def __init__(self, ctx: SwarmContext, store: ChunkStore) -> None:
        self.ctx = ctx
        self.store = store
        self.chunks_served = 0
        self.bytes_served = 0
        self.busy_replies = 0
        ctx.serve(PROTOCOL_ID, self._serve)

    async def _serve(self, stream: FramedStream, peer: ID) -> None:
        async for request in stream.requests(MAX_REQUEST, self.ctx.limits.idle_timeout, REQUESTS):
            if isinstance(request, GetChunk):
                try:
                    async with self.ctx.guard.upload_slot(str(peer)):
                        data = await trio.to_thread.run_sync(self.store.get_chunk, request.chunk_id)
                        if data is None:
                            await stream.write_frame(NotFound().encode())
                            continue
                        await self.ctx.guard.pace_upload(str(peer), len(data))
                        await stream.write_frame(ChunkReply(data).encode())
                        self.chunks_served += 1
                        self.bytes_served += len(data)
                except TooBusy as busy:
                    self.busy_replies += 1
                    await stream.write_frame(Busy(round(busy.retry_after * 1000)).encode())
            elif isinstance(request, GetManifest):
                data = await trio.to_thread.run_sync(self.store.manifest_bytes, request.content_id)
                await stream.write_frame((NotFound() if data is None else ManifestReply(data))
                                         .encode())
            elif isinstance(request, Has):
                states = await trio.to_thread.run_sync(self._states, request.content_ids)
                await stream.write_frame(HasReply(tuple(states)).encode())

    def _states(self, content_ids: tuple[bytes, ...]) -> list[int]:
        out = []
        for cid in content_ids:
            manifest = self.store.manifest(cid)
            if manifest is None:
                out.append(HAS_NOTHING)
            else:
                out.append(HAS_PARTIAL if self.store.missing_chunks(manifest) else HAS_COMPLETE)
        return out
