"""A seeder stays open for weeks: any number of lifetime connections, and room for an honest peer
while its table is full. A real ``cooptracks seed`` process on loopback, raw clients, a real fan.

Before connections gave back their inbound slot on close, the 301st session ever opened failed
its security negotiation and so did every later one, honest fans included.
"""

from __future__ import annotations

import gc
import os
import tracemalloc

import pytest
import trio

from app.bench.soak import (
    SeederProcess,
    churn,
    hold_raw,
    hold_sessions,
    honest_fetch,
    provide_flood,
)
from content.chunkstore import ChunkStore
from ledger.ledger import Ledger
from p2p.node import NodeConfig, open_node
from tests.p2p.conftest import trio_test

pytestmark = [pytest.mark.network, pytest.mark.slow]

SESSIONS = 1_200  # more than py-libp2p's hard cap of 1,024 connections


def test_a_seeder_serves_an_honest_fan_after_1200_closed_sessions(tmp_path):
    with SeederProcess(tmp_path) as seeder:

        async def step(done: int) -> None:
            if done == 400:  # past the old lifetime limit of 300
                await honest_fetch(tmp_path, seeder.addr, seeder.content_id, seeder.track)

        async def main() -> tuple[int, float]:
            failed = await churn(seeder.addr, SESSIONS, step, every=200)
            took = await honest_fetch(tmp_path, seeder.addr, seeder.content_id, seeder.track)
            return failed, took

        failed, _ = trio.run(main)
        assert seeder.alive(), seeder.log()[-3000:]
    assert failed == 0  # the stock handler refused every session past its 1,024 slots


@trio_test
async def test_a_node_keeps_nothing_per_closed_session(tmp_path):
    """What a node keeps per connection is released when it closes: the Python heap of a node
    (and of the clients, in this process too) stays level over 400 sessions. With py-libp2p's
    handler, which kept each connection's task until the node stopped, it grew by tens of KB
    per session. The heap, not the process's resident size, is measured: the allocator keeps
    freed pages under load, which made resident size noisy on a loaded machine."""
    led = Ledger.open(tmp_path / "ledger.sqlite")
    traced: dict[int, int] = {}

    async def step(done: int) -> None:
        gc.collect()
        traced[done] = tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        async with open_node(
            NodeConfig(seed=os.urandom(32)), led, ChunkStore(tmp_path / "content")
        ) as node:
            failed = await churn(node.addrs[0], 600, step, every=200)
    finally:
        tracemalloc.stop()
        led.close()
    assert failed == 0
    growth = traced[600] - traced[200]
    assert growth < 1e6, {k: round(v / 1e6, 2) for k, v in traced.items()}


def _held_by_router(node) -> dict[str, float]:
    """What the node's GossipSub keeps, read from py-libp2p's own attributes (so the same
    figures can be read from the stock router)."""
    router, pubsub = node.gossip.router, node.gossip.pubsub
    return {
        "heartbeat_s": router.heartbeat_interval,
        "mcache_bytes": sum(len(m.data) for m in router.mcache.msgs.values()),
        "whole_messages_for_equivocation": len(router.equivocation_detection),
        "seen_ids": len(pubsub.seen_messages.cache),
        "delivery_log": sum(len(t) for t in router.recent_message_deliveries.values()),
    }


@trio_test
async def test_a_provide_flood_leaves_the_gossip_caches_bounded(tmp_path):
    """Flooders announce random content IDs for longer than py-libp2p's 30 s health timer.
    py-libp2p 0.8.1's adaptive gossip then stretched the heartbeat from 1 s to 30-60 s (a mesh
    of one peer scores as unhealthy), so its message cache, five heartbeats long, kept
    minutes of messages, and its equivocation check kept up to 1,000 whole messages: about
    3 MB of resident memory per round of `bench soak`, outside the Python heap. Now the
    heartbeat stays, the message cache has a byte budget and empties a few heartbeats after
    the flood, and equivocation is checked against digests."""
    budget = 256 * 1024  # the node's budget is 4 MiB; a smaller one is reached in test time
    led = Ledger.open(tmp_path / "ledger.sqlite")
    held: list[dict[str, float]] = []
    try:
        async with open_node(
            NodeConfig(seed=os.urandom(32)), led, ChunkStore(tmp_path / "content")
        ) as node:
            node.gossip.router.mcache.max_bytes = budget
            started = trio.current_time()
            while trio.current_time() - started < 36:  # past py-libp2p's health check at 30 s
                await provide_flood(tmp_path, node.addrs[0], flooders=2, ids=4096)
                held.append(_held_by_router(node))
            with trio.fail_after(15):  # five heartbeats of 1 s, with room for a loaded machine
                while _held_by_router(node)["mcache_bytes"]:
                    await trio.sleep(0.2)
            assert len(node.providers) > 0  # the flood did arrive
    finally:
        led.close()
    for figures in held:
        assert figures["heartbeat_s"] == 1.0, held
        assert figures["mcache_bytes"] <= budget, held
        assert figures["whole_messages_for_equivocation"] == 0, held
        assert figures["delivery_log"] <= 4096, held


@trio_test
async def test_the_gossip_seen_cache_is_bounded_by_count(tmp_path):
    """A flooder's messages are remembered by ID for two minutes, and at most a fixed number
    of IDs (16,384 in a node; 300 here) whatever the rate: py-libp2p's cache had only the
    expiry, so memory grew with the flood's rate."""
    led = Ledger.open(tmp_path / "ledger.sqlite")
    try:
        async with open_node(
            NodeConfig(seed=os.urandom(32)), led, ChunkStore(tmp_path / "content")
        ) as node:
            node.gossip.pubsub.seen_messages.max_size = 300
            await provide_flood(tmp_path, node.addrs[0], flooders=1, ids=256 * 1000 // 8, batch=32)
            with trio.fail_after(60):
                while node.gossip.received < 400:  # well past the cap; the rest may be late
                    await trio.sleep(0.1)
            seen = len(node.gossip.pubsub.seen_messages.cache)
    finally:
        led.close()
    assert 0 < seen <= 300


def test_an_honest_fan_is_served_while_more_connections_are_held_than_the_table_allows(tmp_path):
    # A table of 24 connections (trimmed to 19), 16 handshakes per IP: 200 silent TCP
    # connections and 40 idle sessions are far more than it holds.
    with SeederProcess(tmp_path, "--max-peers", "24") as seeder:

        async def main() -> tuple[int, float]:
            async with hold_raw(seeder.addr, 200), hold_sessions(seeder.addr, 40) as finished:
                took = await honest_fetch(tmp_path, seeder.addr, seeder.content_id, seeder.track)
            return finished, took

        finished, _ = trio.run(main)
        assert seeder.alive(), seeder.log()[-3000:]
        assert "idle connections" in seeder.log()  # the table was trimmed
    # every idle session got through its handshake despite the silent connections
    assert finished == 40


def test_max_peers_is_checked(tmp_path):
    from app.commands.swarm import connection_limits
    from app.services.errors import UserError

    assert connection_limits(None).high_water == 200
    limits = connection_limits(50)
    assert (limits.high_water, limits.low_water) == (50, 40)
    for bad in (0, 3, 901, "12", True, 2.5):
        with pytest.raises(UserError, match="max_peers"):
            connection_limits(bad)
