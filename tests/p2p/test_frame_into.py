"""Frames read into reused buffers, and chunk replies decoded without a copy."""

from __future__ import annotations

import os

import cbor2
import pytest
import trio
from libp2p.custom_types import TProtocol

from content.chunkstore import ChunkStore
from content.format import content_hash
from p2p.content.messages import MAX_RESPONSE, Busy, ChunkReply, NotFound, decode_response
from p2p.host import build_host, full_addrs, parse_peer_addr, tcp_addr
from p2p.wire import FramedStream, ProtocolViolation, encode_varint, frame
from tests.p2p.conftest import trio_test

pytestmark = pytest.mark.network

PROTO = TProtocol("/cooptracks/test-frames/1.0.0")


@pytest.mark.parametrize("size", [0, 5, 23, 24, 255, 256, 65535, 65536, 256 * 1024 + 16])
def test_a_chunk_reply_decodes_to_a_view_of_the_frame_body(size):
    data = os.urandom(size)
    body = bytearray(ChunkReply(data).encode())
    reply = decode_response(memoryview(body))
    assert isinstance(reply, ChunkReply)
    assert isinstance(reply.data, memoryview) and reply.data.obj is body
    assert bytes(reply.data) == data
    assert frame(ChunkReply(data).encode()) == ChunkReply.frame_head(size) + data


def test_other_replies_and_odd_encodings_go_through_cbor():
    assert decode_response(memoryview(NotFound().encode())) == NotFound()
    assert decode_response(Busy(250).encode()) == Busy(250)
    # a non-minimal length head is still a ChunkReply
    odd = b"\x82\x11\x5a" + (3).to_bytes(4, "big") + b"abc"
    assert bytes(decode_response(odd).data) == b"abc"
    # a byte string that does not fill the frame is not taken as chunk bytes
    assert ChunkReply.data_offset(cbor2.dumps([17, b"ab"]) + b"x") is None
    with pytest.raises(ProtocolViolation):
        decode_response(b"\x82\x11\x5a\x00\x00\x00\x09abc")  # announces more than it holds


@trio_test
async def test_frames_split_and_batched_arbitrarily_are_read_into_reused_buffers():
    bodies = [os.urandom(n) for n in (300_000, 1, 70_000, 262_160, 0, 5)]
    wire = b"".join(frame(b) for b in bodies)
    server, client = build_host(os.urandom(32)), build_host(os.urandom(32))
    done = trio.Event()

    async def handler(stream):
        at = 0
        for size in (3, 100_000, 7, 500_000, 1):  # cut through prefixes and bodies
            await stream.write(wire[at : at + size])
            at += size
            await trio.sleep(0.01)
        await stream.write(wire[at:])
        await stream.write(encode_varint(10) + b"short")  # ends inside a frame
        await stream.close()
        await done.wait()

    server.set_stream_handler(PROTO, handler)
    async with server.run([tcp_addr()]), client.run([tcp_addr()]):
        info = parse_peer_addr(full_addrs(server)[0])
        await client.connect(info)
        stream = FramedStream(await client.new_stream(info.peer_id, [PROTO]))
        pool = [bytearray(400_000)]
        given: list[bytearray] = []

        def buffer_for(size: int) -> bytearray:
            buffer = pool[0] if size <= len(pool[0]) else bytearray(size)
            given.append(buffer)
            return buffer

        for expected in bodies:
            body = await stream.read_frame_into(MAX_RESPONSE, 10, buffer_for)
            assert bytes(body) == expected
            assert body.obj is given[-1]
        assert all(b is pool[0] for b in given)
        with pytest.raises(ProtocolViolation):
            await stream.read_frame_into(MAX_RESPONSE, 10, buffer_for)
        done.set()


def test_a_chunk_is_stored_from_a_view_without_changing_its_bytes(tmp_path):
    store = ChunkStore(tmp_path)
    buffer = bytearray(os.urandom(1000))
    view = memoryview(buffer)[100:900]
    chunk_id = store.put_chunk(view, content_hash(bytes(view)))
    assert store.get_chunk(chunk_id) == bytes(buffer[100:900])
