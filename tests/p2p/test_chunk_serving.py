"""How a seeder frames the chunks it serves: read from disk straight behind the frame's head."""

from __future__ import annotations

import os

import pytest
from libp2p.custom_types import TProtocol

from content.format import new_track_key, pack
from p2p.content.messages import (
    MAX_CHUNK_BYTES,
    MAX_RESPONSE,
    PROTOCOL_ID,
    RESPONSES,
    ChunkReply,
    GetChunk,
    NotFound,
)
from p2p.host import build_host, parse_peer_addr, tcp_addr
from p2p.wire import FramedStream, decode_message, frame
from tests.p2p.conftest import trio_test

SIZES = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 262_160, MAX_CHUNK_BYTES]


@pytest.mark.parametrize("size", SIZES)
def test_the_frame_head_and_the_chunk_are_the_encoded_chunk_reply(size):
    data = os.urandom(size)
    assert ChunkReply.frame_head(size) + data == frame(ChunkReply(data).encode())


@pytest.mark.network
@trio_test
async def test_served_chunks_are_the_stored_bytes_and_odd_files_are_not_served(swarm):
    seeder = swarm.peer("seeder")
    packed = pack(os.urandom(300_000), new_track_key(), "audio/ogg", chunk_size=64 * 1024)
    seeder.store.put_packed(packed.manifest_bytes, packed.chunks)
    oversized = os.urandom(32)
    path = seeder.store.chunk_path(oversized)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * (MAX_CHUNK_BYTES + 1))  # not something a reply could carry
    client = build_host(os.urandom(32))
    async with swarm.run_all(seeder) as (node,), client.run([tcp_addr()]):
        info = parse_peer_addr(node.addrs[0])
        await client.connect(info)
        stream = FramedStream(await client.new_stream(info.peer_id, [TProtocol(PROTOCOL_ID)]))
        # twice over, so that the second round is served from reused buffers
        for chunk_id, data in [*zip(packed.manifest.chunks, packed.chunks, strict=True)] * 2:
            await stream.write_frame(GetChunk(chunk_id).encode())
            reply = decode_message(await stream.read_frame(MAX_RESPONSE, 10), RESPONSES)
            assert reply == ChunkReply(data)
        for missing in (oversized, os.urandom(32)):
            await stream.write_frame(GetChunk(missing).encode())
            reply = decode_message(await stream.read_frame(MAX_RESPONSE, 10), RESPONSES)
            assert reply == NotFound()
        await stream.close()
        assert node.content.chunks_served == 2 * len(packed.chunks)
