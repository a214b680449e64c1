"""Our yamux muxer (p2p/yamux.py) against py-libp2p's own, on real loopback connections.

Every behaviour is checked with our muxer on both ends and against py-libp2p's stock ``Yamux``
in both directions (the dialling side is the yamux initiator and owns the odd stream IDs).
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetStream, ISecureConn
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.io.trio import TrioTCPStream
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.network.stream.exceptions import StreamClosed, StreamEOF, StreamError, StreamReset
from libp2p.protocol_muxer.multiselect_client import MultiselectClient
from libp2p.protocol_muxer.multiselect_communicator import MultiselectCommunicator
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.exceptions import MuxedStreamEOF, MuxedStreamReset
from libp2p.stream_muxer.yamux.yamux import MAX_WINDOW_SIZE as STOCK_MAX_WINDOW
from libp2p.stream_muxer.yamux.yamux import Yamux as StockYamux
from libp2p.transport.upgrader import TransportUpgrader

from p2p import yamux
from p2p.host import (
    build_host,
    connection_config,
    full_addrs,
    key_pair_from_seed,
    parse_peer_addr,
    tcp_addr,
)
from p2p.noise_io import NoiseChannel, SessionChannel
from tests.p2p.conftest import trio_test, wait_for

pytestmark = pytest.mark.network

ECHO = TProtocol("/test/echo/1.0.0")
HOLD = TProtocol("/test/hold/1.0.0")
OURS, STOCK = "ours", "stock"
MUXERS: dict[str, type] = {OURS: yamux.Yamux, STOCK: StockYamux}
PAIRS = [(OURS, OURS), (OURS, STOCK), (STOCK, OURS)]
PAIR_IDS = ["ours-ours", "ours-dials-stock", "stock-dials-ours"]


def make_host(kind: str, plaintext: bool = False) -> IHost:
    if not plaintext:
        return build_host(os.urandom(32), muxer=MUXERS[kind])
    key_pair = key_pair_from_seed(os.urandom(32))
    return new_host(
        key_pair=key_pair,
        sec_opt={PLAINTEXT_PROTOCOL_ID: InsecureTransport(key_pair)},
        muxer_opt={TProtocol(yamux.PROTOCOL_ID): MUXERS[kind]},
        connection_config=connection_config(),
        enable_mDNS=False,
        enable_upnp=False,
        negotiate_timeout=5,
    )


def muxed_conn(host: IHost, peer: IHost) -> Any:
    conns = host.get_network().get_connections(peer.get_id())
    assert len(conns) == 1
    return conns[0].muxed_conn


def muxed_conn_gone(host: IHost, peer: IHost) -> bool:
    return not host.get_network().get_connections(peer.get_id())


@asynccontextmanager
async def connected(
    dialer_kind: str, listener_kind: str, plaintext: bool = False
) -> AsyncIterator[tuple[IHost, IHost]]:
    """Two hosts on 127.0.0.1, the first dialled the second; each runs the muxer asked for."""
    dialer, listener = make_host(dialer_kind, plaintext), make_host(listener_kind, plaintext)
    async with dialer.run([tcp_addr()]), listener.run([tcp_addr()]):
        await dialer.connect(parse_peer_addr(full_addrs(listener)[0]))
        await wait_for(lambda: len(listener.get_network().get_connections(dialer.get_id())) == 1)
        assert type(muxed_conn(dialer, listener)) is MUXERS[dialer_kind]
        assert type(muxed_conn(listener, dialer)) is MUXERS[listener_kind]
        yield dialer, listener


async def echo(stream: INetStream) -> None:
    """Send back everything until the peer half-closes, then half-close too."""
    try:
        while True:
            await stream.write(await stream.read(1 << 16))
    except StreamEOF:
        pass
    await stream.close()


async def read_to_end(stream: INetStream) -> bytes:
    out = bytearray()
    try:
        while True:
            out += await stream.read(1 << 18)
    except StreamEOF:
        return bytes(out)


async def echo_round_trip(stream: INetStream, payload: bytes, piece: int = 50_000) -> bytes:
    """Write ``payload`` in pieces while reading the echo, half-close, return what came back."""
    got = b""

    async def reader() -> None:
        nonlocal got
        got = await read_to_end(stream)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        for at in range(0, len(payload), piece):
            await stream.write(payload[at : at + piece])
        await stream.close()
    return got


# -- moving bytes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("dialer", "listener"), PAIRS, ids=PAIR_IDS)
@trio_test
async def test_bytes_arrive_intact_both_ways_with_either_muxer_on_either_side(dialer, listener):
    async with connected(dialer, listener) as (a, b):
        a.set_stream_handler(ECHO, echo)
        b.set_stream_handler(ECHO, echo)
        for opener, other in ((a, b), (b, a)):  # each side opens a stream to the other
            payload = os.urandom(3_000_000)
            stream = await opener.new_stream(other.get_id(), [ECHO])
            assert await echo_round_trip(stream, payload) == payload


@pytest.mark.parametrize(("dialer", "listener"), PAIRS, ids=PAIR_IDS)
@trio_test
async def test_many_concurrent_streams(dialer, listener):
    async with connected(dialer, listener) as (a, b):
        b.set_stream_handler(ECHO, echo)
        results: dict[int, bool] = {}

        async def one(i: int) -> None:
            payload = os.urandom(20_000 + i)
            stream = await a.new_stream(b.get_id(), [ECHO])
            results[i] = await echo_round_trip(stream, payload, piece=7_000) == payload

        async with trio.open_nursery() as nursery:
            for i in range(80):
                nursery.start_soon(one, i)
        assert results == {i: True for i in range(80)}


@pytest.mark.parametrize(("dialer", "listener"), PAIRS, ids=PAIR_IDS)
@trio_test
async def test_half_close_each_side_reads_to_the_end(dialer, listener):
    async def answer(stream: INetStream) -> None:
        request = await read_to_end(stream)  # the whole request, then EOF
        await stream.write(b"reply to " + request)
        await stream.write(b"." * 300_000)  # more than one window: flow control past FIN
        await stream.close()

    async with connected(dialer, listener) as (a, b):
        b.set_stream_handler(ECHO, answer)
        stream = await a.new_stream(b.get_id(), [ECHO])
        await stream.write(b"question")
        await stream.close()
        with pytest.raises(StreamClosed):
            await stream.write(b"after close")
        assert await read_to_end(stream) == b"reply to question" + b"." * 300_000


@pytest.mark.parametrize(
    "plaintext_pair", [(OURS, OURS), (OURS, STOCK)], ids=["ours-ours", "ours-dials-stock"]
)
@trio_test
async def test_a_secure_channel_other_than_noise_is_read_through_its_own_interface(plaintext_pair):
    dialer, listener = plaintext_pair
    async with connected(dialer, listener, plaintext=True) as (a, b):
        b.set_stream_handler(ECHO, echo)
        payload = os.urandom(700_000)
        stream = await a.new_stream(b.get_id(), [ECHO])
        assert await echo_round_trip(stream, payload) == payload
        assert isinstance(muxed_conn(a, b)._channel, SessionChannel)


@trio_test
async def test_our_muxer_takes_the_noise_session_over():
    async with connected(OURS, OURS) as (a, b):
        assert isinstance(muxed_conn(a, b)._channel, NoiseChannel)
        transport = muxed_conn(a, b).secured_conn.conn
        with pytest.raises(RuntimeError, match="NoiseChannel"):
            transport.encrypt(b"a stray write would reuse a nonce")


# -- flow control ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("dialer", "listener"), PAIRS, ids=PAIR_IDS)
@trio_test
async def test_a_slow_reader_holds_the_writer_to_the_window_it_granted(dialer, listener):
    """Our receiver grants one 256 KiB window until its reader reads; py-libp2p's grows its
    window to at most 16 MiB on its own (auto-tuning), which our writer must respect too."""
    release = trio.Event()
    received: list[bytes] = []

    async def slow(stream: INetStream) -> None:
        await release.wait()
        received.append(await read_to_end(stream))
        await stream.close()

    granted = yamux.INITIAL_WINDOW if listener == OURS else STOCK_MAX_WINDOW
    async with connected(dialer, listener) as (a, b):
        b.set_stream_handler(HOLD, slow)
        stream = await a.new_stream(b.get_id(), [HOLD])
        payload = os.urandom(granted + (1 << 20))
        piece = 16 * 1024
        written = 0

        async def writer() -> None:
            nonlocal written
            for at in range(0, len(payload), piece):
                await stream.write(payload[at : at + piece])
                written += piece
            await stream.close()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            await trio.sleep(0.8)
            assert written <= granted  # the reader has read nothing yet
            if listener == OURS:
                assert written >= granted - piece
            release.set()
        assert written == len(payload)
        await wait_for(lambda: bool(received))
        assert received == [payload]


@trio_test
async def test_our_receive_buffer_never_holds_more_than_the_window():
    seen: list[int] = []
    release = trio.Event()

    async def slow(stream: INetStream) -> None:
        muxed = stream.muxed_stream
        while not release.is_set():
            seen.append(muxed._buffered)
            await trio.sleep(0.01)
        await read_to_end(stream)

    async with connected(STOCK, OURS) as (a, b):
        b.set_stream_handler(HOLD, slow)
        stream = await a.new_stream(b.get_id(), [HOLD])

        async def writer() -> None:
            with trio.move_on_after(0.8):
                await stream.write(b"x" * (1 << 20))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            await trio.sleep(0.8)
            release.set()
        # all of the window the protocol negotiation left, and not a byte more
        assert yamux.INITIAL_WINDOW - 100 <= max(seen) <= yamux.INITIAL_WINDOW


# -- resets and ends ------------------------------------------------------------------------------
@pytest.mark.parametrize(("dialer", "listener"), PAIRS, ids=PAIR_IDS)
@trio_test
async def test_a_reset_reaches_the_reader_and_the_writer(dialer, listener):
    async def reset_after_hello(stream: INetStream) -> None:
        assert await stream.read(5) == b"hello"
        await stream.reset()

    async with connected(dialer, listener) as (a, b):
        b.set_stream_handler(ECHO, reset_after_hello)
        stream = await a.new_stream(b.get_id(), [ECHO])
        await stream.write(b"hello")
        # py-libp2p's own muxer forgets a reset stream at once and then reports EOF
        with pytest.raises(StreamReset if dialer == OURS else (StreamReset, StreamEOF)):
            await stream.read(10)
        with pytest.raises(StreamError):  # StreamReset, or StreamClosed once the state says so
            await stream.write(b"more")


@pytest.mark.parametrize(("dialer", "listener"), PAIRS, ids=PAIR_IDS)
@trio_test
async def test_a_reset_frees_a_writer_waiting_for_window(dialer, listener):
    async def reset_later(stream: INetStream) -> None:
        await trio.sleep(0.4)
        await stream.reset()

    async with connected(dialer, listener) as (a, b):
        b.set_stream_handler(HOLD, reset_later)
        stream = await a.new_stream(b.get_id(), [HOLD])
        started = trio.current_time()
        granted = yamux.INITIAL_WINDOW if listener == OURS else STOCK_MAX_WINDOW
        with pytest.raises(StreamError):
            await stream.write(os.urandom(granted + (1 << 20)))
        assert trio.current_time() - started < 3  # woken by the RST, not the stall timeout


@pytest.mark.parametrize("listener", [OURS, STOCK])
@trio_test
async def test_a_local_reset_wakes_our_own_reader(listener):
    dialer = OURS  # py-libp2p's own reader is not woken by its own reset
    async with connected(dialer, listener) as (a, b):
        b.set_stream_handler(HOLD, lambda stream: trio.sleep(5))
        stream = await a.new_stream(b.get_id(), [HOLD])
        failed: list[BaseException] = []

        async def reader() -> None:
            try:
                await stream.read(10)
            except StreamError as exc:
                failed.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.sleep(0.1)
            await stream.reset()
        assert failed and isinstance(failed[0], StreamError)


@trio_test
async def test_when_the_connection_ends_unfinished_streams_are_reset_finished_ones_readable():
    hold = trio.Event()

    async def finish(stream: INetStream) -> None:
        await stream.write(b"complete answer")
        await stream.close()
        await hold.wait()

    async def unfinished(stream: INetStream) -> None:
        await stream.write(b"partial")
        await hold.wait()

    async with connected(OURS, OURS) as (a, b):
        b.set_stream_handler(ECHO, finish)
        b.set_stream_handler(HOLD, unfinished)
        done = await a.new_stream(b.get_id(), [ECHO])
        cut = await a.new_stream(b.get_id(), [HOLD])
        assert await cut.read(7) == b"partial"
        await wait_for(lambda: done.muxed_stream.recv_closed)
        await b.disconnect(a.get_id())
        await wait_for(lambda: muxed_conn_gone(a, b))
        # py-libp2p's swarm resets every NetStream of a closed connection; the muxer underneath
        # keeps what a finished stream received
        assert await done.muxed_stream.read() == b"complete answer"
        with pytest.raises(MuxedStreamEOF):
            await done.muxed_stream.read()
        with pytest.raises(MuxedStreamReset):
            await cut.muxed_stream.read(10)
        hold.set()


@trio_test
async def test_stock_closing_its_connection_ends_ours():
    held: list[INetStream] = []

    async def hold(stream: INetStream) -> None:
        held.append(stream)
        await trio.sleep(5)

    async with connected(STOCK, OURS) as (a, b):
        b.set_stream_handler(HOLD, hold)
        stream = await a.new_stream(b.get_id(), [HOLD])
        await stream.write(b"x")
        await wait_for(lambda: bool(held))
        ours = muxed_conn(b, a)
        await a.disconnect(b.get_id())  # py-libp2p sends GO_AWAY and closes the socket
        await wait_for(lambda: ours.is_closed)
        with pytest.raises(MuxedStreamReset):
            await held[0].muxed_stream.read(10)
        with pytest.raises(MuxedStreamReset):
            await held[0].muxed_stream.write(b"y")


@trio_test
async def test_we_answer_pings():
    """py-libp2p's muxer pings half a second after it starts and times the answer."""
    async with connected(STOCK, OURS) as (a, b):
        stock = muxed_conn(a, b)
        await wait_for(lambda: stock.rtt() > 0, timeout=5)


# -- peers that break the protocol ----------------------------------------------------------------
def header(typ: int, flags: int, stream_id: int, length: int, version: int = 0) -> bytes:
    return struct.pack("!BBHII", version, typ, flags, stream_id, length)


async def open_held_stream(a: IHost, b: IHost) -> int:
    stream = await a.new_stream(b.get_id(), [HOLD])
    await stream.write(b"x")
    return stream.muxed_stream.stream_id


async def more_than_the_window(a: IHost, b: IHost) -> bytes:
    sid = await open_held_stream(a, b)
    size = yamux.INITIAL_WINDOW  # one byte was sent already: this is one byte too many
    return header(0, 0, sid, size) + b"y" * size


async def syn_for_an_open_stream(a: IHost, b: IHost) -> bytes:
    return header(1, 1, await open_held_stream(a, b), 0)


async def syn_with_the_listeners_parity(a: IHost, b: IHost) -> bytes:
    return header(1, 1, 1000, 0)


async def bad_version(a: IHost, b: IHost) -> bytes:
    return header(1, 1, 1001, 0, version=1)


async def unknown_type(a: IHost, b: IHost) -> bytes:
    return header(7, 0, 0, 0)


async def huge_data_for_no_stream(a: IHost, b: IHost) -> bytes:
    return header(0, 0, 2001, 64 << 20)


@pytest.mark.parametrize(
    "frame",
    [
        more_than_the_window,
        syn_for_an_open_stream,
        syn_with_the_listeners_parity,
        bad_version,
        unknown_type,
        huge_data_for_no_stream,
    ],
)
@trio_test
async def test_a_peer_breaking_the_protocol_gets_go_away_and_is_disconnected(frame):
    async with connected(STOCK, OURS) as (a, b):
        b.set_stream_handler(HOLD, lambda stream: trio.sleep(10))
        stock = muxed_conn(a, b)
        ours = muxed_conn(b, a)
        await stock._write_frame(await frame(a, b))
        await wait_for(lambda: ours.is_closed, timeout=5)
        await wait_for(lambda: not b.get_network().get_connections(a.get_id()), timeout=5)
        await wait_for(lambda: stock.event_shutting_down.is_set(), timeout=5)


@trio_test
async def test_late_frames_for_a_closed_stream_are_dropped_quietly():
    async with connected(STOCK, OURS) as (a, b):
        b.set_stream_handler(ECHO, echo)
        stock = muxed_conn(a, b)
        await stock._write_frame(header(0, 0, 4001, 5) + b"stale")  # DATA, no such stream
        await stock._write_frame(header(1, 0, 4003, 1000))  # WINDOW_UPDATE, no such stream
        await stock._write_frame(header(1, 4, 4005, 0))  # FIN, no such stream
        stream = await a.new_stream(b.get_id(), [ECHO])
        assert await echo_round_trip(stream, b"still here") == b"still here"
        assert not muxed_conn(b, a).is_closed


@trio_test
async def test_a_writer_gets_no_window_for_too_long_fails():
    never = trio.Event()

    async def stuck(stream: INetStream) -> None:
        await never.wait()

    async with connected(OURS, OURS) as (a, b):
        b.set_stream_handler(HOLD, stuck)
        stream = await a.new_stream(b.get_id(), [HOLD])
        started = trio.current_time()
        with pytest.raises(StreamError):
            await stream.write(b"z" * (yamux.INITIAL_WINDOW + 1))
        elapsed = trio.current_time() - started
        assert yamux.WINDOW_STALL_TIMEOUT - 0.5 < elapsed < yamux.WINDOW_STALL_TIMEOUT + 3
        never.set()


# -- a peer that speaks Noise and yamux by hand ---------------------------------------------------
async def raw_yamux_session(target: IHost) -> ISecureConn:
    """Dial ``target`` over TCP, run the Noise handshake and select yamux with py-libp2p's own
    pieces, and hand back the secure session: every yamux frame is then ours to write, and
    nothing reads what ``target`` sends unless the test does."""
    info = parse_peer_addr(full_addrs(target)[0])
    port = int(str(info.addrs[0]).split("/tcp/")[1].split("/")[0])
    raw = RawConnection(TrioTCPStream(await trio.open_tcp_stream("127.0.0.1", port)), True)
    key_pair = key_pair_from_seed(os.urandom(32))
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    upgrader = TransportUpgrader({TProtocol(NOISE_PROTOCOL_ID): noise}, {})
    session = await upgrader.upgrade_security(raw, True, info.peer_id)
    await MultiselectClient().select_one_of(
        [TProtocol(yamux.PROTOCOL_ID)], MultiselectCommunicator(session)
    )
    return session


@trio_test
async def test_a_peer_that_pings_without_reading_the_answers_is_disconnected():
    target = make_host(OURS)
    async with target.run([tcp_addr()]):
        session = await raw_yamux_session(target)
        pings = b"".join(header(2, 1, 0, i) for i in range(5000))
        with trio.fail_after(60):
            try:
                while True:  # until the socket breaks: our answers pile up unread over there
                    await session.write(pings)
            except Exception:
                pass
        await wait_for(lambda: not target.get_network().get_connections(), timeout=10)


@trio_test
async def test_data_after_fin_is_dropped_and_a_later_rst_still_applies():
    arrived: list[bytes] = []
    ended: list[BaseException] = []
    release = trio.Event()

    async def collect(stream: INetStream) -> None:
        await release.wait()
        try:
            while True:
                arrived.append(await stream.muxed_stream.read())
        except Exception as exc:
            ended.append(exc)

    target = make_host(OURS)
    target.set_stream_handler(HOLD, collect)
    async with target.run([tcp_addr()]):
        session = await raw_yamux_session(target)
        # open stream 1 (SYN), select the protocol, send some data, FIN, then more data
        await session.write(header(1, 1, 1, 0))
        select = b"\x13/multistream/1.0.0\n" + bytes((len(HOLD) + 1,)) + HOLD.encode() + b"\n"
        await session.write(header(0, 0, 1, len(select)) + select)
        await session.write(header(0, 0, 1, 5) + b"first")
        await session.write(header(1, 4, 1, 0))  # FIN
        await session.write(header(0, 0, 1, 5) + b"after")  # a broken peer keeps sending
        await trio.sleep(0.3)
        release.set()
        await wait_for(lambda: bool(ended))
        assert b"".join(arrived) == b"first"
        assert isinstance(ended[0], MuxedStreamEOF)
        assert target.get_network().get_connections()  # dropped, not a reason to disconnect
        await session.close()


@trio_test
async def test_over_a_relayed_connection_the_noise_session_is_read_through_the_relay_stream(swarm):
    relay, hidden, other = swarm.peer("relay"), swarm.peer("hidden"), swarm.peer("other")
    async with (
        swarm.run(relay, relay_service=True, dht_mode="server") as r,
        swarm.run(hidden, listen=()) as h,
        swarm.run(other) as o,
    ):
        await h.connect(r.addrs[0])
        await wait_for(lambda: h.status().relay_addrs, what="reservation on the relay")
        await o.connect(r.addrs[0])
        assert await o.connect(h.status().relay_addrs[0]) == h.peer_id
        h.host.set_stream_handler(ECHO, echo)
        conns = o.host.get_network().get_connections(h.peer_id)
        assert len(conns) == 1
        channel = conns[0].muxed_conn._channel
        assert isinstance(channel, NoiseChannel) and channel._socket_stream is None
        payload = os.urandom(600_000)
        stream = await o.host.new_stream(h.peer_id, [ECHO])
        assert await echo_round_trip(stream, payload) == payload


@trio_test
async def test_on_the_generic_path_an_oversized_frame_is_refused_before_its_body_is_read():
    async with connected(STOCK, OURS, plaintext=True) as (a, b):
        stock, ours = muxed_conn(a, b), muxed_conn(b, a)
        assert isinstance(ours._channel, SessionChannel)
        await stock._write_frame(header(0, 0, 3001, 1 << 30))  # announces 1 GiB, sends none
        await wait_for(lambda: ours.is_closed, timeout=5)


def test_frames_after_a_go_away_are_parsed_whole():
    """The peer's GO_AWAY ends no stream: frames after it, in the same or in later Noise
    messages, are parsed on frame boundaries. The parser used to stop after each header once a
    GO_AWAY had arrived, leaving that frame's body to be read as the next header ("yamux version
    116" from the "/multistream" of a stream being opened), a protocol error on a healthy peer."""
    conn = yamux.Yamux(None, None, is_initiator=True)  # type: ignore[arg-type]
    select = b"\x13/multistream/1.0.0\n"
    pieces = [
        header(3, 0, 0, 0),  # GO_AWAY, normal
        header(0, 0, 2, len(select)) + select,  # DATA for streams we do not know
        header(0, 0, 4, len(select)) + select,
        header(0, 0, 6, len(select)) + select[:5],  # a body split across messages
        select[5:] + header(2, 1, 0, 7),
    ]  # ... then a ping
    for piece in pieces:
        conn._feed(piece)
    assert conn._goaway == 0
    assert conn._body_left == 0 and conn._partial_header == b""
    assert conn._out == [header(2, 2, 0, 7)]  # the ping after them was read as a ping
