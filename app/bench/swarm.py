"""Swarm benchmark: transfer rate, catch-up sync, time to first chunk.

Every rate is reported next to a limit measured in the same run on the same machine: the raw
loopback TCP rate (one trio socket pair moving the same number of bytes). Goals: >= 150 MB/s
from one seeder, catch-up of 100k entries <= 10 s, first chunk p50 < 50 ms on a warm connection
and < 150 ms on a new one. Quick mode moves less data and syncs 10k entries; the 100k figure is
then extrapolated linearly (reported as such).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import trio

from ledger.chunkstore import ChunkStore
from ledger.content import CHUNK_SIZE, new_track_key, pack
from ledger.entry import create_entry
from ledger.keys import Signer
from ledger.ledger import Ledger
from p2p.content.messages import MAX_RESPONSE, PROTOCOL_ID, GetChunk
from p2p.host import build_host, full_addrs, parse_peer_addr, tcp_addr
from p2p.node import NodeConfig, open_node
from p2p.wire import FramedStream

MB = 1_000_000


async def _raw_tcp_rate(total: int) -> float:
    """Bytes/s through one loopback TCP connection with 256 KiB writes (the ceiling)."""
    block = b"\0" * CHUNK_SIZE
    done = trio.Event()
    received = 0

    async def server(stream: trio.SocketStream) -> None:
        nonlocal received
        while received < total:
            data = await stream.receive_some(1 << 20)
            if not data:
                break
            received += len(data)
        done.set()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, server, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        client = await trio.open_tcp_stream("127.0.0.1", port)
        t = time.perf_counter()
        sent = 0
        while sent < total:
            await client.send_all(block)
            sent += len(block)
        await done.wait()
        dt = time.perf_counter() - t
        await client.aclose()
        nursery.cancel_scope.cancel()
    return total / dt


def _peer(root: Path, name: str) -> tuple[Signer, Ledger, ChunkStore]:
    d = root / name
    d.mkdir()
    return Signer.generate(), Ledger.open(d / "ledger.sqlite"), ChunkStore(d / "content")


async def _transfer_rate(root: Path, size: int, seeders: int, tag: str) -> float:
    packed = pack(os.urandom(size), new_track_key(), "audio/flac")
    peers = [_peer(root, f"{tag}-seeder{i}") for i in range(seeders)]
    for _, _, store in peers:
        store.put_packed(packed.manifest_bytes, packed.chunks)
    fan = _peer(root, f"{tag}-fan")
    try:
        async with open_node(NodeConfig(seed=fan[0].seed), fan[1], fan[2]) as f:
            nodes = []
            from contextlib import AsyncExitStack

            async with AsyncExitStack() as stack:
                for signer, led, store in peers:
                    nodes.append(await stack.enter_async_context(
                        open_node(NodeConfig(seed=signer.seed), led, store)))
                for n in nodes:
                    await f.connect(n.addrs[0])
                t = time.perf_counter()
                await f.fetch(packed.content_id, providers=[n.peer_id for n in nodes])
                return size / (time.perf_counter() - t)
    finally:
        for _, led, _ in [*peers, fan]:
            led.close()


def _history(n: int) -> list[bytes]:
    """``n`` signed profile entries across 10 authors (what a catch-up pulls)."""
    wires: list[bytes] = []
    authors = [Signer.generate() for _ in range(10)]
    for a in authors:
        prev = None
        for seq in range(1, n // len(authors) + 1):
            e = create_entry(a, seq, prev, 1_700_000_000_000 + seq, "profile",
                             {"name": f"n{seq}", "bio": "", "links": []})
            prev = e.hash
            wires.append(e.wire)
    return wires


async def _catch_up(root: Path, n: int) -> tuple[float, int]:
    wires = _history(n)
    source = _peer(root, "sync-source")
    target = _peer(root, "sync-target")
    for i in range(0, len(wires), 4096):
        source[1].ingest(wires[i:i + 4096])
    try:
        async with open_node(NodeConfig(seed=source[0].seed), source[1], source[2]) as s, \
                open_node(NodeConfig(seed=target[0].seed, sync_interval=3600), target[1],
                          target[2]) as t:
            peer = await t.connect(s.addrs[0])
            start = time.perf_counter()
            await t.sync_with(peer)
            while target[1].count() < len(wires):  # the pull on connect may still be running
                await trio.sleep(0.01)
            return time.perf_counter() - start, target[1].count()
    finally:
        source[1].close()
        target[1].close()


async def _first_chunk(root: Path, samples: int) -> tuple[list[float], list[float]]:
    packed = pack(os.urandom(CHUNK_SIZE * samples), new_track_key())
    signer, led, store = _peer(root, "ttfc-seeder")
    store.put_packed(packed.manifest_bytes, packed.chunks)
    warm: list[float] = []
    cold: list[float] = []

    async def get(host: Any, peer: Any, chunk_id: bytes) -> None:
        from libp2p.custom_types import TProtocol

        stream = FramedStream(await host.new_stream(peer, [TProtocol(PROTOCOL_ID)]))
        await stream.write_frame(GetChunk(chunk_id).encode())
        await stream.read_frame(MAX_RESPONSE, 10)
        await stream.close()

    try:
        async with open_node(NodeConfig(seed=signer.seed), led, store) as seeder:
            info = parse_peer_addr(seeder.addrs[0])
            client = build_host(os.urandom(32))
            async with client.run([tcp_addr()]):
                await client.connect(info)
                await get(client, info.peer_id, packed.chunks and packed.manifest.chunks[0])
                for i in range(samples):
                    t = time.perf_counter()
                    await get(client, info.peer_id, packed.manifest.chunks[i])
                    warm.append(time.perf_counter() - t)
            for i in range(min(samples, 10)):
                fresh = build_host(os.urandom(32))
                async with fresh.run([tcp_addr()]):
                    t = time.perf_counter()
                    await fresh.connect(info)
                    await get(fresh, info.peer_id, packed.manifest.chunks[i])
                    cold.append(time.perf_counter() - t)
            _ = full_addrs
    finally:
        led.close()
    return warm, cold


async def _run(quick: bool) -> dict[str, Any]:
    track = (32 if quick else 128) * MB
    entries = 10_000 if quick else 100_000
    with tempfile.TemporaryDirectory(prefix="cooptracks-bench-swarm-") as d:
        root = Path(d)
        raw = await _raw_tcp_rate(track * 2)
        one = await _transfer_rate(root, track, 1, "one")
        three = await _transfer_rate(root, track, 3, "three")
        sync_s, synced = await _catch_up(root, entries)
        warm, cold = await _first_chunk(root, 20 if quick else 50)
    per_100k = sync_s * 100_000 / synced
    return {
        "benchmark": "swarm",
        "quick": quick,
        "track_mb": track / MB,
        "raw_loopback_tcp_mb_s": round(raw / MB, 1),
        "one_seeder_mb_s": round(one / MB, 1),
        "one_seeder_vs_raw_tcp": round(one / raw, 3),
        "three_seeders_mb_s": round(three / MB, 1),
        "three_seeders_vs_raw_tcp": round(three / raw, 3),
        "one_seeder_goal_mb_s": 150,
        "one_seeder_ok": one / MB >= 150,
        "catch_up_entries": synced,
        "catch_up_s": round(sync_s, 3),
        "catch_up_100k_s": round(per_100k, 2),
        "catch_up_100k_extrapolated": synced < 100_000,
        "catch_up_goal_s": 10,
        "catch_up_ok": per_100k <= 10,
        "first_chunk_warm_p50_ms": round(statistics.median(warm) * 1000, 2),
        "first_chunk_warm_goal_ms": 50,
        "first_chunk_new_conn_p50_ms": round(statistics.median(cold) * 1000, 2),
        "first_chunk_new_conn_max_ms": round(max(cold) * 1000, 2),
        "first_chunk_new_conn_goal_ms": 150,
        "first_chunk_ok": statistics.median(warm) < 0.05 and statistics.median(cold) < 0.15,
        "cores": os.cpu_count(),
    }


def run(quick: bool = True) -> dict[str, Any]:
    """Run the swarm benchmark (see the module docstring for what is measured)."""
    return trio.run(_run, quick)


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=1))
