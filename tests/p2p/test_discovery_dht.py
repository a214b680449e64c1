"""Kademlia provider records between real hosts on 127.0.0.1."""

from __future__ import annotations

import pytest
import trio
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
    async with (
        swarm.run(seeder, dht_mode="server", **QUIET) as s,
        swarm.run(middle, dht_mode="server", **QUIET) as m,
        swarm.run(fan, dht_mode="client", **QUIET) as f,
    ):
        await s.connect(m.addrs[0])
        await wait_for(lambda: s.routing.routing_table_size() >= 1, what="routing table")
        # Only the DHT carries the record: no Provide gossip, and the middle node holds no data.
        stored = await s.routing.provide(cid, [Multiaddr(a) for a in s.addrs])
        assert stored == 1
        await wait_for(
            lambda: m.routing.dht.provider_store.get_providers(dht_key(cid)),
            what="provider record at the middle node",
        )
        assert [p.peer_id for p in m.routing.dht.provider_store.get_providers(dht_key(cid))] == [
            s.peer_id
        ]

        await f.connect(m.addrs[0])
        assert s.peer_id not in f.connected_peers()
        assert not f.providers.providers(cid)
        await f.fetch(cid)
        assert s.peer_id in f.connected_peers()
        assert read_back(fan, cid, key) == plain
        # (Once connected, the seeder may announce the content to the fan on gossip; before
        # the fetch the fan had heard of no provider, as asserted above.)


@trio_test
async def test_provide_puts_the_record_in_the_dht_and_a_lookup_returns_the_address(swarm):
    seeder, middle, fan = swarm.peer("seeder"), swarm.peer("middle"), swarm.peer("fan")
    cid, _, _ = publish(seeder)
    async with (
        swarm.run(seeder, dht_mode="server", **QUIET) as s,
        swarm.run(middle, dht_mode="server", **QUIET) as m,
        swarm.run(fan, dht_mode="server", **QUIET) as f,
    ):
        await s.connect(m.addrs[0])
        await wait_for(lambda: s.routing.routing_table_size() >= 1, what="routing table")
        await s.provide([cid])  # the node's own path: gossip now, DHT in the background
        await wait_for(
            lambda: m.routing.dht.provider_store.get_providers(dht_key(cid)),
            what="provider record at the middle node",
        )
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


# -- peer lookups: FIND_NODE of a peer ID ---------------------------------------------------------
def known_addrs(node, peer) -> list[str]:
    try:
        return [str(a) for a in node.host.get_peerstore().addrs(peer)]
    except Exception:
        return []


@trio_test
async def test_a_node_finds_a_peer_it_never_heard_of_by_its_id_through_the_dht(swarm):
    a, b, c = swarm.peer("a"), swarm.peer("b"), swarm.peer("c")
    c.append(2)
    async with (
        swarm.run(a, dht_mode="client", **QUIET) as na,
        swarm.run(b, dht_mode="server", **QUIET) as nb,
        swarm.run(c, dht_mode="client", **QUIET) as nc,
    ):
        await nc.connect(nb.addrs[0])  # C is a client: only B's peerstore knows where it is
        await na.connect(nb.addrs[0])
        await wait_for(lambda: nb.peer_id in na.connected_peers(), what="A connected to B")
        assert nc.peer_id not in na.connected_peers() and known_addrs(na, nc.peer_id) == []
        assert nc.peer_id not in nb.routing.dht.routing_table.get_peer_ids()

        info = await na.routing.find_peer(nc.peer_id)
        assert info is not None and info.peer_id == nc.peer_id
        assert {str(x) for x in info.addrs} == {x.rsplit("/p2p/", 1)[0] for x in nc.addrs}
        assert known_addrs(na, nc.peer_id) == []  # the lookup itself stores nothing for C

        assert await na.connect_peer(nc.peer_id) == nc.peer_id
        assert nc.peer_id in na.connected_peers()
        await na.sync_with(nc.peer_id)  # a working connection, not just an address
        assert a.ledger.count() == 2
        assert await na.connect_peer(nc.peer_id) == nc.peer_id  # connected: nothing to do


@trio_test
async def test_an_unknown_peer_id_fails_within_the_lookup_timeout(swarm):
    from p2p.context import DialError
    from p2p.host import peer_id_from_seed

    a, b = swarm.peer("a"), swarm.peer("b")
    nobody = peer_id_from_seed(b"\x09" * 32)
    async with swarm.run(a, **QUIET) as na, swarm.run(b, dht_mode="server", **QUIET) as nb:
        await na.connect(nb.addrs[0])
        started = trio.current_time()
        assert await na.routing.find_peer(nobody) is None
        with pytest.raises(DialError):
            await na.connect_peer(nobody)
        with pytest.raises(DialError):
            await na.connect_peer(na.peer_id)
        assert trio.current_time() - started < 2 * na.routing.query_timeout + 1


@trio_test
async def test_a_provider_heard_of_only_on_gossip_is_reached_by_its_peer_id(swarm):
    from p2p.gossip import Provide

    seeder, middle, fan = swarm.peer("seeder"), swarm.peer("middle"), swarm.peer("fan")
    cid, plain, key = publish(seeder)
    async with (
        swarm.run(seeder, dht_mode="client", **QUIET) as s,
        swarm.run(middle, dht_mode="server", **QUIET) as m,
        swarm.run(fan, dht_mode="client", **QUIET) as f,
    ):
        await s.connect(m.addrs[0])
        await f.connect(m.addrs[0])
        await wait_for(
            lambda: len(s.gossip.topic_peers()) >= 1 and len(f.gossip.topic_peers()) >= 1,
            what="gossip mesh",
        )

        # No DHT record: the seeder only says so on gossip, which the middle node relays.
        async def announced() -> bool:
            await s.gossip.publish(Provide((cid,)))
            return str(s.peer_id) in f.providers.providers(cid)

        with trio.fail_after(10):
            while not await announced():
                await trio.sleep(0.3)
        assert s.peer_id not in f.connected_peers() and known_addrs(f, s.peer_id) == []
        await f.fetch(cid)
        assert s.peer_id in f.connected_peers()
        assert read_back(fan, cid, key) == plain


def test_only_tcp_and_relay_addresses_in_our_scope_are_kept():
    from p2p.discovery.dcutr import LOOPBACK, PRIVATE, PUBLIC
    from p2p.discovery.dht import usable_addrs
    from p2p.host import peer_id_from_seed

    peer, relay = peer_id_from_seed(b"\x01" * 32), peer_id_from_seed(b"\x02" * 32)
    circuit = f"/ip4/8.8.4.1/tcp/4001/p2p/{relay}/p2p-circuit"
    good = ["/ip4/8.8.4.7/tcp/4001", "/ip6/2606:4700::7/tcp/4001", circuit]
    junk = [
        "/ip4/8.8.4.7/udp/4001/quic-v1",
        "/dns4/example.com/tcp/4001",
        "/ip4/0.0.0.0/tcp/4001",
        "/ip4/224.0.0.1/tcp/4001",
        "/ip4/8.8.4.7/tcp/4001/ws",
        f"/ip4/8.8.4.7/tcp/4001/p2p/{relay}",  # another peer's address
        f"/ip4/8.8.4.1/tcp/4001/p2p/{peer}/p2p-circuit",  # a circuit through itself
        f"{circuit}/p2p/{relay}/p2p-circuit",
    ]
    got = usable_addrs([Multiaddr(x) for x in junk + good], peer, PUBLIC)
    assert [str(x) for x in got] == good
    # A trailing /p2p/<peer> is dropped; raw bytes are read as well, truncated ones are not.
    assert [
        str(x)
        for x in usable_addrs(
            [Multiaddr(f"{good[0]}/p2p/{peer}").to_bytes(), b"\x04\xc6\x33"], peer, PUBLIC
        )
    ] == good[:1]
    # Loopback and LAN addresses only for a node that has such addresses itself.
    lan, loop = Multiaddr("/ip4/192.168.1.9/tcp/1"), Multiaddr("/ip4/127.0.0.1/tcp/1")
    assert usable_addrs([lan, loop], peer, PUBLIC) == []
    assert usable_addrs([lan, loop], peer, PRIVATE) == [lan]
    assert usable_addrs([lan, loop], peer, LOOPBACK) == [lan, loop]
    many = [Multiaddr(f"/ip4/8.8.4.{i}/tcp/1") for i in range(1, 20)]
    assert len(usable_addrs(many, peer)) == MAX_ADDRS_PER_PROVIDER


@trio_test
async def test_reach_soon_connects_in_the_background_once(swarm):
    """What a purchase uses to reach the artist: started from the node's thread, returns at
    once, dials by peer ID through the DHT, and is not started twice for the same peer."""
    a, b, c = swarm.peer("a"), swarm.peer("b"), swarm.peer("c")
    async with (
        swarm.run(a, dht_mode="client", **QUIET) as na,
        swarm.run(b, dht_mode="server", **QUIET) as nb,
        swarm.run(c, dht_mode="client", **QUIET) as nc,
    ):
        await nc.connect(nb.addrs[0])
        await na.connect(nb.addrs[0])
        assert nc.peer_id not in na.connected_peers()
        assert na.reach_soon(nc.peer_id) is True
        assert na.reach_soon(nc.peer_id) is False  # already being reached
        assert na.reach_soon(na.peer_id) is False  # this node
        await wait_for(
            lambda: nc.peer_id in na.connected_peers() and not na._reaching, what="A reached C"
        )  # without reach_soon they stay apart (checked)
        assert na.reach_soon(nc.peer_id) is False  # connected


@trio_test
async def test_a_peer_the_peerstore_knows_is_not_dialled_on_its_own(swarm):
    """py-libp2p's auto-connector dials peerstore entries after every disconnect (up to 150
    connections); ours is off, so a node talks only to peers that discovery, downloads or
    purchases chose, and a peer it cut off is not redialled behind its back."""
    a, b, c = swarm.peer("a"), swarm.peer("b"), swarm.peer("c")
    async with (
        swarm.run(a, **QUIET) as na,
        swarm.run(b, **QUIET) as nb,
        swarm.run(c, **QUIET) as nc,
    ):
        from multiaddr import Multiaddr

        addrs = [Multiaddr(x.rsplit("/p2p/", 1)[0]) for x in nc.addrs]
        na.host.get_peerstore().add_addrs(nc.peer_id, addrs, 600)
        await na.connect(nb.addrs[0])
        await na.host.disconnect(nb.peer_id)  # a disconnect is what triggers the auto-connector
        await trio.sleep(2.0)
        assert nc.peer_id not in na.connected_peers()
