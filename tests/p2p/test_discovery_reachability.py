"""Reachability (dial-back) and circuit relay v2 between real hosts on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from p2p.discovery import autonat
from p2p.discovery.autonat import DialBack, DialBackReply
from p2p.wire import ProtocolViolation, decode_message
from tests.p2p.conftest import trio_test, wait_for

pytestmark = pytest.mark.network


def closed_port() -> int:
    """A loopback port nobody listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@trio_test
async def test_a_node_that_listens_reachably_is_public(swarm):
    a, b = swarm.peer("a"), swarm.peer("b")
    async with swarm.run_all(a, b) as (na, nb):
        assert na.status().reachability == "unknown"
        await nb.connect(na.addrs[0])
        await wait_for(
            lambda: nb.reachability() == "public" and na.reachability() == "public",
            what="both nodes checked",
        )
        st = nb.status()
        assert st.reachability == "public" and st.dht_mode == "server"  # auto mode follows
        assert autonat.OK in na.autonat.answers.values()


@trio_test
async def test_a_node_whose_advertised_address_refuses_connections_is_private(swarm):
    a, b = swarm.peer("a"), swarm.peer("b")
    dead = f"/ip4/127.0.0.1/tcp/{closed_port()}"
    async with swarm.run(a) as na, swarm.run(b, announce=(dead,)) as nb:
        assert nb.addrs[0].startswith(dead)
        await nb.connect(na.addrs[0])
        await wait_for(lambda: nb.reachability() == "private", what="dial-back failed")
        assert nb.autonat.answers[str(na.peer_id)] == autonat.DIAL_FAILED
        assert nb.status().dht_mode == "client"


@trio_test
async def test_dial_back_is_rate_limited_per_peer_and_refuses_foreign_ips(swarm):
    a, b = swarm.peer("a"), swarm.peer("b")
    from multiaddr import Multiaddr

    async with swarm.run_all(a, b) as (na, nb):
        await nb.connect(na.addrs[0])
        # Another IP than the one the request comes from: not dialled (no reflection attacks).
        assert await nb.autonat.ask(na.peer_id, [Multiaddr("/ip4/192.0.2.1/tcp/4417")]) in (
            autonat.REFUSED,
            autonat.BUSY,
        )
        own = [Multiaddr(x.rsplit("/p2p/", 1)[0]) for x in nb.addrs]
        first = await nb.autonat.ask(na.peer_id, own)
        second = await nb.autonat.ask(na.peer_id, own)
        assert autonat.BUSY in (first, second)


def test_dial_back_messages_are_bounded():
    addr = bytes.fromhex("047f000001060fb1")  # /ip4/127.0.0.1/tcp/4017
    assert decode_message(DialBack((addr,)).encode(), autonat.REQUESTS) == DialBack((addr,))
    assert decode_message(DialBackReply(0, addr).encode(), autonat.RESPONSES) == DialBackReply(
        0, addr
    )
    with pytest.raises(ProtocolViolation):
        decode_message(DialBack((addr,) * 9).encode(), autonat.REQUESTS)
    with pytest.raises(ProtocolViolation):
        decode_message(DialBack((b"\x00" * 257,)).encode(), autonat.REQUESTS)
    with pytest.raises(ProtocolViolation):
        decode_message(DialBack(()).encode(), autonat.REQUESTS)
    with pytest.raises(ProtocolViolation):
        decode_message(DialBackReply(7, b"").encode(), autonat.RESPONSES)


@trio_test
async def test_a_node_nobody_can_dial_is_reached_through_a_relay_and_syncs(swarm):
    relay, hidden, other = swarm.peer("relay"), swarm.peer("hidden"), swarm.peer("other")
    hidden.append(7)
    async with (
        swarm.run(relay, relay_service=True, dht_mode="server") as r,
        swarm.run(hidden, listen=()) as h,
        swarm.run(other) as o,
    ):
        assert h.direct_addrs() == []  # it listens on nothing: no direct inbound at all
        await h.connect(r.addrs[0])
        await wait_for(lambda: h.status().relay_addrs, what="reservation on the relay")
        st = h.status()
        assert st.reachability == "private"
        circuit = st.relay_addrs[0]
        assert circuit.startswith(r.addrs[0]) and circuit.endswith(f"/p2p-circuit/p2p/{h.peer_id}")
        assert st.addrs == st.relay_addrs

        await o.connect(r.addrs[0])
        peer = await o.connect(circuit)
        assert peer == h.peer_id
        await o.sync_with(h.peer_id)
        assert other.ledger.count() == 7
        assert other.ledger.state_hash() == hidden.ledger.state_hash()
        # The connection really goes through the relay.
        conns = o.host.get_network().get_connections(h.peer_id)
        assert any("/p2p-circuit" in str(a) for c in conns for a in c.get_transport_addresses())


@trio_test
async def test_a_node_without_relay_service_refuses_reservations(swarm):
    plain, hidden = swarm.peer("plain"), swarm.peer("hidden")
    async with swarm.run(plain) as p, swarm.run(hidden, listen=()) as h:
        await h.connect(p.addrs[0])
        await wait_for(lambda: h.reachability() == "private", what="private verdict")
        assert not h.relay.offers_hop(p.peer_id)
        assert not await h.relay.reserve(p.peer_id)
        assert h.status().relay_addrs == ()
