"""Kademlia provider records between real hosts on 127.0.0.1."""

from __future__ import annotations

import pytest
from libp2p.peer.peerinfo import PeerInfo
from multiaddr import Multiaddr

from p2p.discovery.dht import (
    MAX_ADDRS_PER_PROVIDER,
    MAX_PROVIDER_KEYS,
    BoundedProviderStore,
    dht_key,
)
from tests.p2p.conftest import trio_test, wait_for
from tests.p2p.test_content import publish, read_back

pytestmark = pytest.mark.network

QUIET = {"provide_interval": 3600.0, "sync_interval": 3600.0}


def test_the_dht_key_is_the_blake2b_256_multihash_of_the_content_id():
    assert dht_key(b"\x33" * 32) == bytes.fromhex("a0e40220") + b"\x33" * 32
    with pytest.raises(ValueError):
        dht_key(b"short")


@trio_test
async def test_a_fan_finds_a_seeder_it_never_met_through_the_dht_and_downloads(swarm):
    seeder, middle, fan = swarm.peer("seeder"), swarm.peer("middle"), swarm.peer("fan")
    cid, plain, key = publish(seeder)
    async with swarm.run(seeder, dht_mode="server", **QUIET) as s, \
            swarm.run(middle, dht_mode="server", **QUIET) as m, \
            swarm.run(fan, dht_mode="client", **QUIET) as f:
        await s.connect(m.addrs[0])
        await wait_for(lambda: s.routing.routing_table_size() >= 1, what="routing table")
        # Only the DHT carries the record: no Provide gossip, and the middle node holds no data.
        stored = await s.routing.provide(cid, [Multiaddr(a) for a in s.addrs])
        assert stored == 1
        await wait_for(lambda: m.routing.dht.provider_store.get_providers(dht_key(cid)),
                       what="provider record at the middle node")
        assert [p.peer_id for p in m.routing.dht.provider_store.get_providers(dht_key(cid))] \
            == [s.peer_id]

        await f.connect(m.addrs[0])
        assert s.peer_id not in f.connected_peers()
        assert cid not in f._providers
        await f.fetch(cid)
        assert s.peer_id in f.connected_peers()
        assert read_back(fan, cid, key) == plain
        # The fan did not learn of the seeder any other way.
        assert str(s.peer_id) not in f._providers.get(cid, {})


@trio_test
async def test_provide_puts_the_record_in_the_dht_and_a_lookup_returns_the_address(swarm):
    seeder, middle, fan = swarm.peer("seeder"), swarm.peer("middle"), swarm.peer("fan")
    cid, _, _ = publish(seeder)
    async with swarm.run(seeder, dht_mode="server", **QUIET) as s, \
            swarm.run(middle, dht_mode="server", **QUIET) as m, \
            swarm.run(fan, dht_mode="server", **QUIET) as f:
        await s.connect(m.addrs[0])
        await wait_for(lambda: s.routing.routing_table_size() >= 1, what="routing table")
        await s.provide([cid])  # the node's own path: gossip now, DHT in the background
        await wait_for(lambda: m.routing.dht.provider_store.get_providers(dht_key(cid)),
                       what="provider record at the middle node")
        await f.connect(m.addrs[0])
        infos = await f.routing.find_providers(cid)
        assert [i.peer_id for i in infos] == [s.peer_id]
        assert {str(a) for a in infos[0].addrs} >= {a.rsplit("/p2p/", 1)[0] for a in s.addrs}
        # Unknown content has no providers.
        assert await f.routing.find_providers(b"\x44" * 32) == []


def test_the_provider_store_is_bounded(tmp_path):
    class FakeHost:  # the store only asks the host for its ID
        def get_id(self):
            from p2p.host import peer_id_from_seed

            return peer_id_from_seed(b"\x01" * 32)

    from p2p.host import peer_id_from_seed

    store = BoundedProviderStore(FakeHost())  # type: ignore[arg-type]
    peer = peer_id_from_seed(b"\x02" * 32)
    many = [Multiaddr(f"/ip4/10.0.0.{i}/tcp/4417") for i in range(20)]
    store.add_provider(dht_key(b"\x00" * 32), PeerInfo(peer, many))
    assert len(store.get_providers(dht_key(b"\x00" * 32))[0].addrs) == MAX_ADDRS_PER_PROVIDER
    for i in range(1, MAX_PROVIDER_KEYS + 10):
        store.add_provider(dht_key(i.to_bytes(32, "big")), PeerInfo(peer, many[:1]))
    assert len(store.providers) == MAX_PROVIDER_KEYS
    # A record with no address is useless and is not kept.
    store.providers.clear()
    store.add_provider(dht_key(b"\x05" * 32), PeerInfo(peer, []))
    assert store.size() == 0
