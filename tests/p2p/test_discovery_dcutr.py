"""Direct connection upgrade through relay (DCUtR) between real hosts on 127.0.0.1.

What these tests prove, and what they cannot: every host runs on loopback, so there is no NAT.
They prove the protocol flow (CONNECT, CONNECT, SYNC on ``/libp2p/dcutr`` over a relayed
connection, the answering side dialling the leader's addresses on SYNC), the switch-over (new
streams, and so ledger sync and content, use the direct connection; the relayed one is closed),
the failure path (undialable addresses leave the relayed connection working, counted as failed)
and that a peer sending malformed messages is cut off. They do not prove NAT traversal itself:
the crossing SYNs of a TCP simultaneous open, dials from the listen port, and the Noise role
split on such a connection only matter behind real NATs, which loopback does not have.

The "hidden" node listens on loopback but announces a closed port, so the dial-back check finds
it private; it reserves a slot on the relay and others reach it through its circuit address.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.relay.circuit_v2.pb.dcutr_pb2 import HolePunch as LibHolePunch
from multiaddr import Multiaddr

from p2p.content.messages import PROTOCOL_ID as CONTENT_PROTOCOL
from p2p.discovery import dcutr
from p2p.discovery.dcutr import CONNECT, SYNC, HolePunch, HolePunchLimits, is_relayed
from p2p.sync.protocol import PROTOCOL_ID as SYNC_PROTOCOL
from p2p.wire import ProtocolViolation, encode_varint, frame
from tests.p2p.conftest import trio_test, wait_for
from tests.p2p.test_content import publish, read_back

pytestmark = pytest.mark.network

FAST = HolePunchLimits(
    message_timeout=2.0,
    dial_timeout=1.0,
    attempts=2,
    retry_delay=0.2,
    outbound_grace=1.0,
    relay_close_grace=1.0,
)
ADDR = bytes.fromhex("047f000001060fb1")  # /ip4/127.0.0.1/tcp/4017


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_addr() -> str:
    return f"/ip4/127.0.0.1/tcp/{closed_port()}"


def routes(node: Any, peer: Any) -> list[str]:
    return [
        "relayed" if is_relayed(c) else "direct"
        for c in node.host.get_network().get_connections(peer)
    ]


class StreamLog(INotifee):
    """Which kind of connection each finished stream ran on, by protocol."""

    def __init__(self) -> None:
        self.opened: dict[int, float] = {}
        self.seen: list[tuple[str, str, float]] = []  # protocol, kind, opened at

    def since(self, mark: float, protocol: str) -> list[str]:
        """The kinds of connection that streams of ``protocol`` opened after ``mark`` ran on."""
        return [kind for proto, kind, at in self.seen if proto == protocol and at >= mark]

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        self.opened[id(stream)] = trio.current_time()

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        kind = "relayed" if stream.muxed_conn.get_connection_type().value == "relayed" else "direct"
        opened = self.opened.pop(id(stream), 0.0)
        self.seen.append((str(stream.get_protocol()), kind, opened))

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        pass

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        pass

    async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
        pass


class NoNetwork:
    """Stands in for the swarm context where only the address and budget rules are tested."""

    host = guard = counters = limits = None

    def serve(self, *args: Any) -> None:
        pass


@asynccontextmanager
async def behind_relay(swarm: Any, hidden: Any, **config: Any) -> AsyncIterator[tuple[Any, Any]]:
    """A relay, and ``hidden`` running private with a reservation on it: (relay, hidden)."""
    relay = swarm.peer("relay")
    config.setdefault("announce", (dead_addr(),))
    async with (
        swarm.run(relay, relay_service=True, hole_punch=FAST) as r,
        swarm.run(hidden, hole_punch=FAST, **config) as h,
    ):
        await h.connect(r.addrs[0])
        await wait_for(lambda: h.status().relay_addrs, what="reservation on the relay")
        assert h.reachability() == "private"
        yield r, h


@trio_test
async def test_a_relayed_connection_is_upgraded_and_sync_and_content_use_the_direct_one(swarm):
    hidden, fan = swarm.peer("hidden"), swarm.peer("fan")
    hidden.append(5)
    cid, plain, key = publish(hidden, size=20 * 16 * 1024)
    async with behind_relay(swarm, hidden) as (r, h), swarm.run(fan, hole_punch=FAST) as f:
        log = StreamLog()
        h.host.get_network().register_notifee(log)
        await f.connect(r.addrs[0])
        assert h.peer_id not in f.connected_peers()
        assert await f.connect(h.status().relay_addrs[0]) == h.peer_id
        assert routes(f, h.peer_id) == ["relayed"]

        # The hidden node accepted a relayed connection: it leads the upgrade at once.
        await wait_for(
            lambda: h.hole_punch.succeeded and f.hole_punch.succeeded,
            timeout=8,
            what="upgrade on both sides",
        )
        assert f.hole_punch.route(h.peer_id) == "direct"
        assert h.hole_punch.succeeded == {str(f.peer_id): 1}
        assert f.hole_punch.succeeded == {str(h.peer_id): 1}  # it answered, and dialled
        assert not h.hole_punch.failed and not f.hole_punch.failed
        assert sorted(routes(f, h.peer_id)) == ["direct", "relayed"]  # grace period

        # New streams prefer the direct connection while the relayed one is still open (the
        # pull made when the relayed connection opened may have used it: only later ones count).
        mark = trio.current_time()
        await f.sync_with(h.peer_id)
        assert fan.ledger.count() == 5
        await wait_for(lambda: bool(log.since(mark, SYNC_PROTOCOL)), what="sync stream closed")
        assert set(log.since(mark, SYNC_PROTOCOL)) == {"direct"}

        # After the grace period the relayed connection is closed; content flows directly.
        await wait_for(lambda: routes(f, h.peer_id) == ["direct"], what="relayed conn closed")
        await wait_for(lambda: routes(h, f.peer_id) == ["direct"], what="relayed conn closed")
        hidden.append(1, start=5)  # replication goes on over the direct connection alone
        await wait_for(lambda: fan.ledger.count() == 6, what="new entry replicated")
        await f.fetch(cid, providers=[h.peer_id])
        assert read_back(fan, cid, key) == plain
        await wait_for(lambda: bool(log.since(mark, CONTENT_PROTOCOL)), what="content streams")
        assert set(log.since(mark, CONTENT_PROTOCOL)) == {"direct"}

        # What the Network view shows.
        peer = next(p for p in f.status().peers if p.peer_id == str(h.peer_id))
        assert (peer.connection, peer.upgrades, peer.upgrade_failures) == ("direct", 1, 0)
        st = h.status()
        assert (st.upgrades, st.upgrade_failures) == (1, 0)
        relay_row = next(p for p in st.peers if p.peer_id == str(r.peer_id))
        assert relay_row.connection == "direct" and relay_row.upgrades == 0


@trio_test
async def test_undialable_addresses_leave_the_relayed_connection_working(swarm):
    hidden, fan = swarm.peer("hidden"), swarm.peer("fan")
    hidden.append(3)
    # Listening on nothing, it names only a closed port; the fan's own addresses are loopback,
    # which the leader only dials to punch a NAT (public addresses): no direct path at all.
    async with (
        behind_relay(swarm, hidden, listen=()) as (r, h),
        swarm.run(fan, hole_punch=FAST) as f,
    ):
        await f.connect(r.addrs[0])
        await f.connect(h.status().relay_addrs[0])
        await wait_for(
            lambda: h.hole_punch.failed and f.hole_punch.failed,
            timeout=8,
            what="failed upgrade on both sides",
        )
        assert h.hole_punch.failed == {str(f.peer_id): 1}
        assert f.hole_punch.failed == {str(h.peer_id): 1}
        assert not h.hole_punch.succeeded and not f.hole_punch.succeeded
        assert routes(f, h.peer_id) == ["relayed"]
        assert not f.guard.banned() and not h.guard.banned()

        await f.sync_with(h.peer_id)  # still works, through the relay
        assert fan.ledger.count() == 3
        peer = next(p for p in f.status().peers if p.peer_id == str(h.peer_id))
        assert (peer.connection, peer.upgrades, peer.upgrade_failures) == ("relayed", 0, 1)
        assert f.status().upgrade_failures == 1


GARBAGE = {
    "not protobuf": frame(b"\xff\xff\xff\xff"),
    "over 4 KiB": encode_varint(dcutr.MAX_MESSAGE + 1) + b"\x08" * 64,
    "SYNC first": frame(HolePunch(SYNC).encode()),
    "no type": frame(b"\x12\x08" + ADDR),
}


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
@trio_test
async def test_a_peer_sending_malformed_dcutr_messages_is_cut_off(swarm, garbage):
    hostile, fan, other = swarm.peer("hostile"), swarm.peer("fan"), swarm.peer("other")
    other.append(2)
    # The hostile node sits behind the relay; its own DCUtR is off so only our bytes go out.
    async with (
        behind_relay(swarm, hostile, hole_punching=False) as (r, h),
        swarm.run(fan, hole_punch=FAST) as f,
        swarm.run(other) as o,
    ):
        await f.connect(r.addrs[0])
        await f.connect(h.status().relay_addrs[0])
        stream = await h.host.new_stream(f.peer_id, [dcutr.PROTOCOL_ID])
        await stream.write(GARBAGE[garbage])
        await wait_for(lambda: str(h.peer_id) in f.guard.banned(), what="hostile peer banned")
        assert dcutr.PROTOCOL_ID in f.guard.banned()[str(h.peer_id)]
        await wait_for(lambda: h.peer_id not in f.connected_peers(), what="cut off")
        # Nothing else broke: the fan still talks to the relay and to others.
        await f.connect(o.addrs[0])
        await f.sync_with(o.peer_id)
        assert fan.ledger.count() == 2
        assert r.peer_id in f.connected_peers()


@trio_test
async def test_a_garbage_answer_to_connect_cuts_the_peer_off(swarm):
    hidden, hostile = swarm.peer("hidden"), swarm.peer("hostile")
    async with behind_relay(swarm, hidden) as (r, h), swarm.run(hostile, hole_punching=False) as x:

        async def answer_garbage(stream: INetStream) -> None:
            await stream.read(100)
            await stream.write(frame(b"\x08\xe7\x07"))  # type 999: neither CONNECT nor SYNC

        x.host.set_stream_handler(dcutr.PROTOCOL_ID, answer_garbage)
        await x.connect(r.addrs[0])
        await x.connect(h.status().relay_addrs[0])  # the hidden node leads, and gets garbage
        await wait_for(lambda: str(x.peer_id) in h.guard.banned(), what="hostile peer banned")
        await wait_for(lambda: x.peer_id not in h.connected_peers(), what="cut off")
        await wait_for(lambda: h.hole_punch.failed, what="session counted")
        assert h.hole_punch.failed == {str(x.peer_id): 1} and not h.hole_punch.succeeded
        assert r.peer_id in h.connected_peers() and h.status().relay_addrs


# -- the message and the address rules, without a network ------------------------------------------
def test_hole_punch_messages_match_libp2p_protobuf():
    connect = HolePunch(CONNECT, (ADDR,))
    assert connect.encode().hex() == "08641208047f000001060fb1"
    assert HolePunch(SYNC).encode().hex() == "08ac02"
    theirs = LibHolePunch()
    theirs.ParseFromString(connect.encode())
    assert theirs.type == LibHolePunch.CONNECT and list(theirs.ObsAddrs) == [ADDR]
    ours = LibHolePunch(type=LibHolePunch.SYNC, ObsAddrs=[ADDR, ADDR])
    assert HolePunch.decode(ours.SerializeToString()) == HolePunch(SYNC, (ADDR, ADDR))
    # Unknown fields are skipped, as protobuf requires.
    assert HolePunch.decode(b"\x18\x05" + connect.encode() + b"\x22\x01\x00") == connect


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x12\x00",
        b"\x08\x05",
        b"\x08",
        b"\x0a\x01\x00",
        b"\x10\x64",
        b"\x08\x64\x12\x09" + ADDR,
        b"\x08\x64\x0b",
        b"\x00\x01",
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        b"\x08\x64" + b"\x12\x01\x00" * 1400,
    ],
)
def test_malformed_messages_are_protocol_violations(body):
    with pytest.raises(ProtocolViolation):
        HolePunch.decode(body)


def test_only_a_few_tcp_addresses_in_our_scope_are_dialled():
    from p2p.host import peer_id_from_seed

    peer = peer_id_from_seed(b"\x01" * 32)
    other = peer_id_from_seed(b"\x02" * 32)
    tcp = dcutr.tcp_addr
    assert str(tcp(ADDR)) == "/ip4/127.0.0.1/tcp/4017"
    assert str(tcp(Multiaddr(f"/ip4/8.8.8.8/tcp/1/p2p/{peer}"), peer)) == "/ip4/8.8.8.8/tcp/1"
    for bad in (
        f"/ip4/8.8.8.8/tcp/1/p2p/{other}",
        "/ip4/8.8.8.8/udp/1/quic-v1",
        "/dns4/example.com/tcp/1",
        "/ip4/0.0.0.0/tcp/1",
        "/ip4/224.0.0.1/tcp/1",
        "/ip4/169.254.1.1/tcp/1",
        "/ip4/8.8.8.8/tcp/0",
        "/ip6/fe80::1/tcp/1",
        f"/ip4/8.8.8.8/tcp/1/p2p/{peer}/p2p-circuit/p2p/{other}",
    ):
        assert tcp(Multiaddr(bad), peer) is None, bad
    assert tcp(b"\x04\x7f", peer) is None  # truncated bytes the multiaddr library would accept
    assert tcp(b"\xff\xff", peer) is None

    def puncher(own: list[str]) -> dcutr.HolePuncher:
        return dcutr.HolePuncher(NoNetwork(), lambda: own, FAST)  # type: ignore[arg-type]

    public = [Multiaddr(f"/ip4/8.8.4.{i}/tcp/4001").to_bytes() for i in range(1, 7)]
    lan = Multiaddr("/ip4/192.168.1.5/tcp/4001").to_bytes()
    offer = [lan, ADDR, *public]
    # A public node dials public addresses only, and at most four of them.
    assert puncher(["/ip4/1.2.3.4/tcp/4001"]).dialable(offer, peer) == [
        Multiaddr(b) for b in public[:4]
    ]
    # A node on a LAN also dials LAN addresses; only a node on loopback dials loopback.
    assert Multiaddr(lan) in puncher(["/ip4/192.168.1.7/tcp/4001"]).dialable(offer, peer)
    assert Multiaddr(ADDR) not in puncher(["/ip4/192.168.1.7/tcp/4001"]).dialable(offer, peer)
    assert puncher(["/ip4/127.0.0.1/tcp/9"]).dialable(offer, peer)[:2] == [
        Multiaddr(lan),
        Multiaddr(ADDR),
    ]
    # Only the first 16 entries are looked at.
    assert puncher(["/ip4/1.2.3.4/tcp/4001"]).dialable([ADDR] * 16 + public, peer) == []
    # We send our widest addresses first, without /p2p, at most four, never a relay address.
    me = puncher(
        [
            f"/ip4/127.0.0.1/tcp/9/p2p/{peer}",
            "/ip4/10.0.0.2/tcp/9",
            f"/ip4/1.2.3.4/tcp/9/p2p/{other}/p2p-circuit/p2p/{peer}",
            "/ip4/5.6.7.8/tcp/9",
            "/ip4/5.6.7.9/tcp/9",
            "/ip4/5.6.7.10/tcp/9",
        ]
    )
    assert [str(Multiaddr(b)) for b in me._advertised()] == [
        "/ip4/5.6.7.8/tcp/9",
        "/ip4/5.6.7.9/tcp/9",
        "/ip4/5.6.7.10/tcp/9",
        "/ip4/10.0.0.2/tcp/9",
    ]


def test_limits_are_validated():
    with pytest.raises(ValueError):
        HolePunchLimits(attempts=0)
    with pytest.raises(ValueError):
        HolePunchLimits(dial_timeout=0)
    with pytest.raises(ValueError):
        HolePunchLimits(retry_delay=-1)


@trio_test
async def test_sessions_per_peer_are_limited():
    limits = HolePunchLimits(sessions_per_peer=2, session_window=0.2)
    puncher = dcutr.HolePuncher(NoNetwork(), lambda: [], limits)  # type: ignore[arg-type]
    assert puncher._may_start("p") and puncher._may_start("p")
    assert not puncher._may_start("p")
    assert puncher._may_start("q")
    await trio.sleep(0.25)
    assert puncher._may_start("p")
