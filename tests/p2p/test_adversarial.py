"""Peers that misbehave are cut off, and nothing they sent is kept."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import pytest
import trio
from libp2p.custom_types import TProtocol

from content.format import new_track_key, pack
from ledger.keys import Signer
from p2p.content.messages import (
    MAX_RESPONSE,
    RESPONSES,
    ChunkReply,
    GetChunk,
    GetManifest,
    ManifestReply,
)
from p2p.content.messages import PROTOCOL_ID as CONTENT
from p2p.host import build_host, full_addrs, parse_peer_addr, tcp_addr
from p2p.limits import Limits
from p2p.sync.messages import PROTOCOL_ID as SYNC
from p2p.sync.messages import Entries, Frontier, GetFeed, GetFrontier
from p2p.wire import FramedStream, PeerClosed, decode_message, encode_varint
from tests.p2p.conftest import trio_test, wait_for

pytestmark = pytest.mark.network


class RawPeer:
    """A bare libp2p host (Noise, yamux) that we script byte by byte."""

    def __init__(self) -> None:
        self.host = build_host(os.urandom(32))

    def serve(self, protocol: str, fn: Callable[[FramedStream], Awaitable[None]]) -> None:
        async def handler(stream):
            try:
                await fn(FramedStream(stream))
            except Exception:
                pass

        self.host.set_stream_handler(TProtocol(protocol), handler)

    async def open(self, node, protocol: str):
        await self.host.connect(parse_peer_addr(node.addrs[0]))
        return await self.host.new_stream(node.peer_id, [TProtocol(protocol)])

    @property
    def addr(self) -> str:
        return full_addrs(self.host)[0]


async def cut_off(node, raw: RawPeer, timeout: float = 8.0) -> None:
    await wait_for(lambda: str(raw.host.get_id()) in node.guard.banned(), timeout)
    await wait_for(lambda: raw.host.get_id() not in node.connected_peers(), timeout)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x05hello",  # a frame that is not CBOR
        encode_varint(3) + b"\x83\x01\x02\x03",  # CBOR, but an unknown message shape
        encode_varint(1 << 30),  # announces a 1 GiB frame
        b"\xff\xff\xff\xff\xff\xff\x01",  # a length prefix longer than 5 bytes
    ],
    ids=["garbage", "bad-message", "oversized", "long-varint"],
)
@trio_test
async def test_a_peer_sending_garbage_to_the_sync_server_is_cut_off(swarm, payload):
    target = swarm.peer("target")
    raw = RawPeer()
    async with swarm.run_all(target) as (node,), raw.host.run([tcp_addr()]):
        stream = await raw.open(node, SYNC)
        await stream.write(payload)
        await cut_off(node, raw)
        # and it stays out: a new dial gets nowhere useful
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            s2 = await raw.open(node, SYNC)
            await s2.write(encode_varint(2) + GetFrontier().encode()[:2])
            await s2.read(1)


@trio_test
async def test_a_slow_drip_request_is_cut_off_at_the_deadline(swarm):
    target = swarm.peer("target")
    raw = RawPeer()
    from p2p.limits import Limits

    async with (
        swarm.run_all(target, limits=Limits(idle_timeout=1.0, request_timeout=1.0)) as (node,),
        raw.host.run([tcp_addr()]),
    ):
        stream = await raw.open(node, SYNC)
        body = GetFeed(os.urandom(32), 1, 10).encode()
        data = encode_varint(len(body)) + body
        with trio.move_on_after(6), pytest.raises(Exception):  # noqa: B017 - reset by the node
            for byte in data:
                await stream.write(bytes([byte]))
                await trio.sleep(0.3)
        assert str(raw.host.get_id()) in node.guard.banned()


@trio_test
async def test_a_sync_server_serving_a_forged_entry_is_cut_off_and_nothing_is_kept(swarm):
    fan = swarm.peer("fan")
    author = swarm.peer("author")
    author.append(5)
    wires = author.ledger.feed_range(author.signer.public_key, 1, 10)
    forged = bytearray(wires[3])
    forged[-10] ^= 0x01  # a flipped bit inside the signature
    served = [*wires[:3], bytes(forged), *wires[4:]]
    raw = RawPeer()

    async def server(stream: FramedStream) -> None:
        await stream.read_frame(1000, 5)  # GetFrontier
        head = author.ledger.frontier()[author.signer.public_key]
        await stream.write_frame(Frontier(((author.signer.public_key, head[0], head[1]),)).encode())
        await stream.read_frame(1000, 5)  # GetFeed
        await stream.write_frame(Entries(tuple(served)).encode())
        await trio.sleep(5)

    raw.serve(SYNC, server)
    async with swarm.run_all(fan) as (node,), raw.host.run([tcp_addr()]):
        await node.connect(raw.addr)
        await cut_off(node, raw)
    # The three entries before the forgery are genuine and signed by their author, so they may
    # stay; the forged one and everything after it from that peer are not held.
    assert fan.ledger.count() <= 3
    held = {e.hash for e in fan.ledger.feed(author.signer.public_key)}
    assert author.ledger.feed(author.signer.public_key)[3].hash not in held


@trio_test
async def test_a_provider_sending_an_oversized_chunk_is_cut_off(swarm):
    fan = swarm.peer("fan")
    packed = pack(os.urandom(40_000), new_track_key(), chunk_size=16 * 1024)
    raw = RawPeer()

    async def server(stream: FramedStream) -> None:
        while True:
            body = await stream.read_frame(1000, 5)
            if body == GetManifest(packed.content_id).encode():
                await stream.write_frame(ManifestReply(packed.manifest_bytes).encode())
            else:
                await stream.write_frame(ChunkReply(b"x" * (5 * 1024 * 1024)).encode())

    raw.serve(CONTENT, server)
    async with swarm.run_all(fan) as (node,), raw.host.run([tcp_addr()]):
        await node.connect(raw.addr)
        from p2p.content.download import DownloadFailed

        with pytest.raises(DownloadFailed):
            await node.fetch(packed.content_id, providers=[raw.host.get_id()])
        assert str(raw.host.get_id()) in node.guard.banned()
    assert fan.store.missing_chunks(fan.store.manifest(packed.content_id)) == [0, 1, 2]


@trio_test
async def test_a_provider_that_drips_a_chunk_too_slowly_is_dropped_for_another(swarm):
    fan, good = swarm.peer("fan"), swarm.peer("good")
    packed = pack(os.urandom(100_000), new_track_key(), chunk_size=16 * 1024)
    good.store.put_packed(packed.manifest_bytes, packed.chunks)
    raw = RawPeer()

    async def server(stream: FramedStream) -> None:
        while True:
            body = await stream.read_frame(1000, 5)
            if body == GetManifest(packed.content_id).encode():
                await stream.write_frame(ManifestReply(packed.manifest_bytes).encode())
                continue
            reply = ChunkReply(packed.chunks[0]).encode()
            data = encode_varint(len(reply)) + reply
            for i in range(0, len(data), 100):
                await stream.stream.write(data[i : i + 100])
                await trio.sleep(0.5)

    raw.serve(CONTENT, server)
    async with swarm.run_all(fan, good) as (node, g), raw.host.run([tcp_addr()]):
        await node.connect(raw.addr)
        await node.connect(g.addrs[0])
        with trio.fail_after(20):
            await node.fetch(packed.content_id, providers=[raw.host.get_id(), g.peer_id])
        assert str(raw.host.get_id()) in node.guard.banned()
    assert not fan.store.missing_chunks(fan.store.manifest(packed.content_id))


@trio_test
async def test_a_greedy_peer_cannot_starve_a_polite_one_of_upload_slots(swarm):
    """A peer pulling on every stream it may open gets no more than its share of a seeder whose
    uplink is the bottleneck; a polite fan arriving later still gets about half of it."""
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    packed = pack(os.urandom(24 * 16 * 1024 - 100), new_track_key(), chunk_size=16 * 1024)
    seeder.store.put_packed(packed.manifest_bytes, packed.chunks)
    limits = Limits(
        request_timeout=3.0,
        ban_seconds=60,
        upload_rate=512 * 1024,
        upload_slots=6,
        upload_slots_per_peer=3,
        inbound_streams_per_peer=16,
    )
    greedy = RawPeer()
    greedy_got = 0

    async def pull(node) -> None:
        nonlocal greedy_got
        stream = FramedStream(await greedy.open(node, CONTENT))
        try:
            while True:
                for chunk_id in packed.manifest.chunks:
                    await stream.write_frame(GetChunk(chunk_id).encode())
                    reply = decode_message(await stream.read_frame(MAX_RESPONSE, 10), RESPONSES)
                    if isinstance(reply, ChunkReply):
                        greedy_got += len(reply.data)
        except PeerClosed:
            pass

    async with (
        swarm.run(seeder, limits=limits) as s,
        swarm.run(fan) as f,
        greedy.host.run([tcp_addr()]),
    ):
        await f.connect(s.addrs[0])
        greedy_peer = str(greedy.host.get_id())
        async with trio.open_nursery() as nursery:
            for _ in range(limits.inbound_streams_per_peer):
                nursery.start_soon(pull, s)
            await wait_for(lambda: greedy_got > 256 * 1024)  # the uplink is saturated
            greedy_before = s.counters.per_peer[greedy_peer][1]
            await f.fetch(packed.content_id, providers=[s.peer_id])
            greedy_during = s.counters.per_peer[greedy_peer][1] - greedy_before
            polite = s.counters.per_peer[str(f.peer_id)][1]
            nursery.cancel_scope.cancel()
        assert greedy_peer not in s.guard.banned()  # greedy, but within the protocol
    share = polite / (polite + greedy_during)
    # A fair split is 0.5; one queue for all slots would give the polite fan 4 of 20 (0.2).
    assert share > 0.4, (share, polite, greedy_during)


@trio_test
async def test_a_forked_feed_yields_a_fork_proof_that_spreads_to_every_node(swarm):
    """The author signs two different entries at seq 2 and shows each to a different peer."""
    seed = os.urandom(32)
    signer = Signer.from_seed(seed)
    left, right, third = swarm.peer("left"), swarm.peer("right"), swarm.peer("third")
    for peer, name in ((left, "one"), (right, "two")):
        peer.ledger.append(
            signer, "profile", {"name": "author", "bio": "", "links": []}, timestamp=1000
        )
        peer.ledger.append(
            signer, "profile", {"name": name, "bio": "", "links": []}, timestamp=2000
        )
    assert (
        left.ledger.frontier()[signer.public_key][1]
        != right.ledger.frontier()[signer.public_key][1]
    )
    async with swarm.run_all(left, right, third) as (left_node, r, t):
        await t.connect(left_node.addrs[0])
        await left_node.connect(r.addrs[0])
        await wait_for(
            lambda: all(p.ledger.fork_proofs() for p in (left, right, third)), timeout=10
        )
        # The honest relays of the fork are not punished: the author equivocated, not them.
        assert not left_node.guard.banned() and not r.guard.banned() and not t.guard.banned()
    for p in (left, right, third):
        assert signer.public_key in p.ledger.quarantined()
    assert left.ledger.state_hash() == right.ledger.state_hash() == third.ledger.state_hash()
