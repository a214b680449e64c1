"""Observed external addresses as hole-punching candidates, with real hosts on loopback.

The node under test listens on 127.0.0.2. Linux gives connections to 127.0.0.1 the source address
127.0.0.1, so a relay or dial-back peer on 127.0.0.1 observes the node at 127.0.0.1: an address
the node never listed as its own, as an external address behind NAT would be. The candidate is
that IP with the node's listen port.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from multiaddr import Multiaddr

from p2p.discovery import autonat, dcutr, observed
from p2p.discovery.dcutr import CONNECT, MAX_ADDRS, HolePunch, HolePunchLimits
from p2p.discovery.observed import MAX_REPORTERS, ObservedAddrs, candidate_from
from p2p.host import peer_id_from_seed
from tests.p2p.conftest import trio_test, wait_for
from tests.p2p.test_discovery_dcutr import FAST, NoNetwork, dead_addr

pytestmark = pytest.mark.network

ALIAS = "/ip4/127.0.0.2/tcp/0"  # the node's only listen address
UDP_ONLY = "/ip4/127.0.0.1/udp/9"


def listen_port(node: Any) -> int:
    return int(node.host.get_transport_addrs()[0].value_for_protocol("tcp"))


def sent(node: Any) -> list[str]:
    """The addresses the node's next CONNECT carries."""
    return [str(Multiaddr(b)) for b in node.hole_punch._advertised()]


@trio_test
async def test_the_address_a_relay_observes_goes_into_connect_with_our_listen_port(swarm):
    relay, hidden, probe = swarm.peer("relay"), swarm.peer("hidden"), swarm.peer("probe")
    # It announces no TCP address, so it is private without asking anyone to dial back: the
    # relay is trusted here only because the node holds a reservation on it.
    async with (
        swarm.run(relay, relay_service=True) as r,
        swarm.run(hidden, listen=(ALIAS,), announce=(UDP_ONLY,), hole_punch=FAST) as h,
        swarm.run(probe, hole_punching=False) as x,
    ):
        port = listen_port(h)
        candidate = f"/ip4/127.0.0.1/tcp/{port}"
        assert candidate not in sent(h)  # nothing observed yet: only what the node lists
        await h.connect(r.addrs[0])
        await wait_for(lambda: h.status().relay_addrs, what="reservation on the relay")
        assert r.peer_id in h.relay.reservations and h.autonat.answers == {}
        await wait_for(lambda: bool(h.external.addrs()), what="candidate learned")
        assert [str(a) for a in h.external.addrs()] == [candidate]
        # After the confirmed addresses, never instead of them; not advertised anywhere else.
        assert sent(h) == [f"/ip4/127.0.0.2/tcp/{port}", candidate]
        assert all(candidate not in a for a in h.addrs)
        assert all(not str(a).startswith(candidate) for a in h.host.get_addrs())

        # And it is what goes on the wire: a peer reaching the node through the relay receives
        # it in the CONNECT the node leads with.
        received: list[HolePunch] = []

        async def record(stream: Any) -> None:
            data = await stream.read(4096)
            received.append(HolePunch.decode(data[1:]))  # a one-byte length prefix
            await stream.close()

        x.host.set_stream_handler(dcutr.PROTOCOL_ID, record)
        await x.connect(r.addrs[0])
        await x.connect(h.status().relay_addrs[0])
        await wait_for(lambda: bool(received), what="CONNECT from the node")
        assert received[0].type == CONNECT
        assert [str(Multiaddr(a)) for a in received[0].addrs] == sent(h)


@trio_test
async def test_a_peer_that_ran_the_dial_back_check_is_trusted_and_one_that_refused_is_not(swarm):
    checker, hidden = swarm.peer("checker"), swarm.peer("hidden")
    async with (
        swarm.run(checker) as c,
        swarm.run(hidden, listen=(ALIAS,), announce=(dead_addr(),)) as h,
    ):
        await h.connect(c.addrs[0])
        await wait_for(lambda: h.reachability() == "private", what="dial-back failed")
        await wait_for(lambda: bool(h.external.addrs()), what="candidate learned")
        assert [str(a) for a in h.external.addrs()] == [f"/ip4/127.0.0.1/tcp/{listen_port(h)}"]

    other, stranger = swarm.peer("other"), swarm.peer("stranger")
    # It names an address at another IP than the one the checker sees: the check is refused,
    # so the checker never dialled and its word on our address is not taken.
    async with (
        swarm.run(other) as o,
        swarm.run(stranger, listen=(ALIAS,), announce=("/ip4/192.0.2.1/tcp/4417",)) as s,
    ):
        await s.connect(o.addrs[0])
        await wait_for(lambda: str(o.peer_id) in s.autonat.answers, what="check answered")
        assert s.autonat.answers[str(o.peer_id)] == autonat.REFUSED
        await s.check_reachability()
        await trio.sleep(0.3)
        assert s.external.addrs() == [] and s._observers() == []
        # Asked directly, the same peer would have told us: only trust kept it out.
        assert str(await s.external.learn_from(o.peer_id)) == f"/ip4/127.0.0.1/tcp/{listen_port(s)}"


@trio_test
async def test_public_addresses_are_dialled_from_the_listen_socket_of_their_family(swarm):
    node = swarm.peer("dual")
    async with swarm.run(node, listen=("/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0")) as n:
        ports = {
            str(a).split("/")[1]: int(a.value_for_protocol("tcp"))
            for a in n.host.get_transport_addrs()
        }
        assert n.hole_punch._source(Multiaddr("/ip6/2606:4700::7/tcp/4001")) == (
            "::1",
            ports["ip6"],
        )
        assert n.hole_punch._source(Multiaddr("/ip4/8.8.8.8/tcp/4001")) == (
            "127.0.0.1",
            ports["ip4"],
        )
    async with swarm.run(node, listen=("/ip4/127.0.0.1/tcp/0",)) as n:
        assert n.hole_punch._source(Multiaddr("/ip6/2606:4700::7/tcp/4001")) is None


# -- the rules, without a network ------------------------------------------------------------------
LISTEN4 = [Multiaddr("/ip4/0.0.0.0/tcp/4417"), Multiaddr("/ip6/::/tcp/4418")]


def test_the_candidate_is_the_observed_ip_with_our_listen_port_of_that_family():
    assert (
        str(candidate_from(Multiaddr("/ip4/203.0.113.7/tcp/51234"), LISTEN4))
        == "/ip4/203.0.113.7/tcp/4417"
    )
    assert (
        str(candidate_from(Multiaddr("/ip6/2001:db8::7/tcp/51234"), LISTEN4))
        == "/ip6/2001:db8::7/tcp/4418"
    )
    # No listen address of that family: nothing to offer.
    assert candidate_from(Multiaddr("/ip6/2001:db8::7/tcp/1"), LISTEN4[:1]) is None


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x04\x7f",  # truncated
        b"\xff\xff\xff",
        Multiaddr("/ip4/203.0.113.7/udp/4001/quic-v1").to_bytes(),
        Multiaddr("/ip4/203.0.113.7/udp/4001").to_bytes(),
        Multiaddr("/ip4/224.0.0.251/tcp/4001").to_bytes(),  # multicast
        Multiaddr("/ip6/ff02::1/tcp/4001").to_bytes(),
        Multiaddr("/ip4/0.0.0.0/tcp/4001").to_bytes(),
        Multiaddr("/ip4/169.254.3.3/tcp/4001").to_bytes(),
        Multiaddr("/dns4/example.com/tcp/4001").to_bytes(),
        Multiaddr("/ip4/203.0.113.7/tcp/4001/p2p-circuit").to_bytes(),
        Multiaddr("/ip4/203.0.113.7/tcp/4001/ws").to_bytes(),
        Multiaddr("/ip4/203.0.113.7/tcp/4001").to_bytes() + b"\x00" * 64,  # too long
        Multiaddr("/dns4/" + ".".join(["a" * 60] * 3) + "/tcp/1").to_bytes(),
    ],
)
def test_junk_observed_addresses_are_ignored(junk):
    book = ObservedAddrs()
    assert candidate_from(junk, LISTEN4) is None
    assert book.add("peer", junk, LISTEN4) is None
    assert len(book) == 0 and book.addrs() == []


def test_the_set_is_bounded_ranked_and_expires():
    now = [0.0]
    book = ObservedAddrs(ttl=100.0, clock=lambda: now[0])
    for i in range(3 * MAX_REPORTERS):
        now[0] += 1
        book.add(f"peer{i}", Multiaddr(f"/ip4/203.0.113.{i}/tcp/9"), LISTEN4)
    assert len(book) == MAX_REPORTERS
    assert len(book.addrs()) == observed.MAX_CANDIDATES
    # The newest reports were kept.
    assert str(book.addrs()[0]) == f"/ip4/203.0.113.{3 * MAX_REPORTERS - 1}/tcp/4417"
    # One reporter holds one candidate: a new report replaces its old one.
    book.add("peer0", Multiaddr("/ip4/198.51.100.1/tcp/9"), LISTEN4)
    book.add("peer0", Multiaddr("/ip4/198.51.100.2/tcp/9"), LISTEN4)
    assert len(book) == MAX_REPORTERS
    # What more reporters agree on ranks first, whatever the port each observed.
    now[0] += 1
    book.add("a", Multiaddr("/ip4/198.51.100.9/tcp/1111"), LISTEN4)
    book.add("b", Multiaddr("/ip4/198.51.100.9/tcp/2222"), LISTEN4)
    assert str(book.addrs()[0]) == "/ip4/198.51.100.9/tcp/4417"
    now[0] += 101
    assert book.addrs() == [] and len(book) == 0


def test_candidates_follow_the_confirmed_addresses_and_keep_their_room():
    candidates: list[Multiaddr] = []

    def puncher(own: list[str]) -> dcutr.HolePuncher:
        return dcutr.HolePuncher(
            NoNetwork(),
            lambda: own,  # type: ignore[arg-type]
            HolePunchLimits(),
            candidates=lambda: candidates,
        )

    public = [f"/ip4/198.51.100.{i}/tcp/9" for i in range(1, 6)]
    lan = "/ip4/192.168.1.5/tcp/9"
    candidates[:] = [
        Multiaddr("/ip4/203.0.113.7/tcp/9"),
        Multiaddr("/ip4/203.0.113.8/tcp/9"),
        Multiaddr("/ip4/203.0.113.9/tcp/9"),
    ]
    many = puncher(public)
    assert [str(Multiaddr(b)) for b in many._advertised()] == [
        *public[: MAX_ADDRS - 2],
        "/ip4/203.0.113.7/tcp/9",
        "/ip4/203.0.113.8/tcp/9",
    ]
    one = puncher([lan])
    assert [str(Multiaddr(b)) for b in one._advertised()] == [
        lan,
        "/ip4/203.0.113.7/tcp/9",
        "/ip4/203.0.113.8/tcp/9",
    ]
    # A candidate we already list is not repeated; none at all leaves CONNECT as it was.
    candidates[:] = [Multiaddr(lan)]
    assert [str(Multiaddr(b)) for b in one._advertised()] == [lan]
    candidates[:] = []
    assert [str(Multiaddr(b)) for b in many._advertised()] == public[:MAX_ADDRS]
    # A loopback candidate does not make a node on a LAN dial loopback addresses.
    candidates[:] = [Multiaddr("/ip4/127.0.0.1/tcp/9")]
    peer = peer_id_from_seed(b"\x01" * 32)
    loop = Multiaddr("/ip4/127.0.0.1/tcp/4017").to_bytes()
    assert one.dialable([loop], peer) == []
