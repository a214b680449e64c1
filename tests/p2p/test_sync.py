"""Ledger replication between real hosts on loopback."""

from __future__ import annotations

import pytest

from tests.p2p.conftest import trio_test, wait_for

pytestmark = pytest.mark.network


@trio_test
async def test_a_new_peer_catches_up_on_connect_and_states_converge(swarm):
    artist, fan = swarm.peer("artist"), swarm.peer("fan")
    artist.append(50)
    async with swarm.run_all(artist, fan) as (a, f):
        await f.connect(a.addrs[0])
        await wait_for(lambda: fan.ledger.count() == 50)
        assert fan.ledger.state_hash() == artist.ledger.state_hash()


@trio_test
async def test_new_entries_are_announced_over_gossip(swarm):
    artist, fan = swarm.peer("artist"), swarm.peer("fan")
    async with swarm.run_all(artist, fan) as (a, f):
        await f.connect(a.addrs[0])
        await wait_for(lambda: a.gossip.mesh_peers() and f.gossip.mesh_peers(), what="mesh")
        before = f.replicator  # noqa: F841
        artist.append(3)
        await wait_for(lambda: fan.ledger.count() == 3)
        assert f.gossip.received >= 1
        assert fan.ledger.state_hash() == artist.ledger.state_hash()


@trio_test
async def test_a_peer_that_was_offline_catches_up_with_the_whole_history(swarm):
    artist, seeder, fan = swarm.peer("artist"), swarm.peer("seeder"), swarm.peer("fan")
    artist.append(5)
    async with swarm.run_all(artist, seeder, fan) as (a, s, f):
        await s.connect(a.addrs[0])
        await f.connect(s.addrs[0])
        await wait_for(lambda: fan.ledger.count() == 5)
    # The fan goes offline; the artist keeps publishing through the seeder, then leaves too.
    async with swarm.run_all(artist, seeder) as (a, s):
        await s.connect(a.addrs[0])
        artist.append(5000, start=5)
        await wait_for(lambda: seeder.ledger.count() == 5005, timeout=30)
    async with swarm.run_all(seeder, fan) as (s, f):
        await f.connect(s.addrs[0])
        await wait_for(lambda: fan.ledger.count() == 5005, timeout=30)
    assert fan.ledger.state_hash() == artist.ledger.state_hash()


@trio_test
async def test_after_a_partition_heals_every_node_reports_the_same_state_hash(swarm):
    peers = [swarm.peer(n) for n in ("a", "b", "c", "d")]
    async with swarm.run_all(*peers) as nodes:
        a, b, c, d = nodes
        await b.connect(a.addrs[0])
        await d.connect(c.addrs[0])
        # Two islands write concurrently.
        peers[0].append(20)
        peers[1].append(7)
        peers[2].append(13)
        peers[3].append(3)
        await wait_for(lambda: peers[1].ledger.count() == 27 and peers[3].ledger.count() == 16)
        assert peers[0].ledger.state_hash() != peers[2].ledger.state_hash()
        await c.connect(b.addrs[0])  # the partition heals
        await wait_for(lambda: len({p.ledger.state_hash() for p in peers}) == 1, timeout=20)
    assert all(p.ledger.count() == 43 for p in peers)
