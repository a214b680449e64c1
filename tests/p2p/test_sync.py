"""Ledger replication between real hosts on loopback."""

from __future__ import annotations

import pytest
import trio

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
