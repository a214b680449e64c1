"""A lean yamux muxer for ``/yamux/1.0.0``, replacing py-libp2p 0.8.1's ``Yamux`` class.

Why: py-libp2p's muxer (``libp2p/stream_muxer/yamux/yamux.py``) spends most of a bulk transfer
in Python bookkeeping rather than in moving bytes: every frame takes the connection lock, the
stream lock, the window lock and the read/write lock, formats several debug strings whether or
not debug logging is on, reads its header and body as separate reads through the secure
session, and a writer waiting for window credit polls every 10 ms. Together with the Noise
layers below it that was about 9,000 Python calls per 256 KiB chunk, and one seeder topped out
near 90 MB/s where the sockets and ciphers alone allow several times that.

What this module keeps of the wire: everything. Frames are the 12-byte yamux header (version 0,
type, flags, stream ID, length) of the spec (https://github.com/hashicorp/yamux/blob/master/spec.md)
and py-libp2p's, go-yamux's and rust-yamux's peers interoperate with it:

* stream IDs: odd for the side that dialled, even for the side that listened; a new stream is a
  WINDOW_UPDATE with SYN, answered by a WINDOW_UPDATE with ACK; FIN half-closes one direction,
  RST resets both; GO_AWAY ends the session; PING with SYN is answered with ACK and the same
  opaque value;
* flow control: every stream starts with a 256 KiB window each way; a sender never sends more
  DATA than the window it was granted; the receiver grants consumed bytes back in one
  WINDOW_UPDATE once half the window has been read by the application (as go-yamux does);
* DATA frames carry at most 65,507 bytes, so that a frame and its header fill one Noise message
  (65,519 plaintext bytes) instead of spilling a few bytes into a second one.

What it changes in behaviour, all towards stricter checking (as go-yamux does): a peer that
sends more DATA than the window it was granted, a frame with an unknown version or type, a SYN
for a stream ID that is in use or has the wrong parity, or an oversized frame gets GO_AWAY
(protocol error) and the connection is closed. py-libp2p only logged those. A stream whose
connection ends is reset (reads and writes raise ``MuxedStreamReset``) unless the peer had
already finished sending on it, in which case what it sent can still be read to the end.

How it is faster:

* one reader task per connection decrypts whole socket reads (``p2p.noise_io``), parses every
  frame in the plaintext and hands DATA to the stream buffer as zero-copy slices; it never waits
  for the application (inbound streams beyond the accept backlog are reset, not queued);
* one writer task per connection takes every frame queued by all streams, seals them into as
  few Noise messages as fit and writes them with one socket send; stream writers never hold the
  socket, so a cancelled writer cannot cut a Noise message in half;
* a stream waits on an event for data or window credit, never on a timer.

Limits: at most ``MAX_STREAMS`` streams open at once per connection and ``ACCEPT_BACKLOG``
inbound streams waiting to be accepted (more are reset); a writer waits for window credit at
most ``WINDOW_STALL_TIMEOUT`` seconds (py-libp2p's value), so a peer that stops reading cannot
hold an upload forever; the frames queued for the socket are bounded by ``SEND_HIGH_WATER``
for DATA writers and by ``SEND_HARD_LIMIT`` and ``MAX_QUEUED_FRAMES`` overall (a peer that makes
us queue more control frames than that without reading them is disconnected). DATA that arrives
after the peer's FIN is dropped, as DATA for a stream that no longer exists is.

``install()`` makes py-libp2p's muxer negotiation use the class registered for
``/yamux/1.0.0`` (0.8.1 builds its own ``Yamux`` for that protocol whatever is registered).
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import multiaddr
import trio
from libp2p.abc import ConnectionType, IMuxedConn, IMuxedStream, ISecureConn
from libp2p.peer.id import ID
from libp2p.stream_muxer.exceptions import (
    MuxedConnUnavailable,
    MuxedStreamClosed,
    MuxedStreamEOF,
    MuxedStreamError,
    MuxedStreamReset,
)

from p2p.noise_io import MAX_PLAINTEXT, MAX_SESSION_BODY, Channel, ChannelClosed, open_channel

log = logging.getLogger(__name__)

PROTOCOL_ID = "/yamux/1.0.0"
VERSION = 0
TYPE_DATA, TYPE_WINDOW_UPDATE, TYPE_PING, TYPE_GO_AWAY = 0, 1, 2, 3
FLAG_SYN, FLAG_ACK, FLAG_FIN, FLAG_RST = 1, 2, 4, 8
GO_AWAY_NORMAL, GO_AWAY_PROTOCOL_ERROR, GO_AWAY_INTERNAL_ERROR = 0, 1, 2
HEADER = struct.Struct("!BBHII")
HEADER_SIZE = HEADER.size

INITIAL_WINDOW = 256 * 1024  # the spec's initial window, both ways, for every stream
MAX_DATA_PAYLOAD = MAX_PLAINTEXT - HEADER_SIZE  # a DATA frame and its header fill one message
MAX_UNKNOWN_DATA = MAX_SESSION_BODY  # DATA for a stream we no longer know is dropped up to this
MAX_STREAMS = 1024  # streams open at once on one connection, both directions together
ACCEPT_BACKLOG = 256  # inbound streams not yet accepted (go-yamux's default)
OUTBOUND_BACKLOG = 256  # outbound streams open at once before open_stream waits (py-libp2p's)
WINDOW_STALL_TIMEOUT = 5.0  # a writer that gets no window credit for this long fails
SEND_HIGH_WATER = 1 << 20  # a DATA writer waits while more than this is queued for the socket
SEND_BATCH = 1 << 20  # the writer task seals and sends about this much at a time
SEND_HARD_LIMIT = 32 << 20  # queued and unsent beyond this: the peer is not reading, disconnect
MAX_QUEUED_FRAMES = 1 << 16  # ... or this many frames (pings answered but never read, say)
CLOSE_FLUSH_TIMEOUT = 1.0  # a closing connection waits this long to send its GO_AWAY
GO_AWAY_DRAIN = 10.0  # after the peer's GO_AWAY, its open streams may finish for this long


class ProtocolError(Exception):
    """The peer broke the yamux spec; the connection is closed with GO_AWAY (protocol error)."""


def _frame(typ: int, flags: int, stream_id: int, length: int) -> bytes:
    return HEADER.pack(VERSION, typ, flags, stream_id, length)


class YamuxStream(IMuxedStream):
    """One yamux stream. ``read``/``write``/``close`` (half-close)/``reset`` as py-libp2p's."""

    def __init__(self, stream_id: int, conn: Yamux, is_initiator: bool) -> None:
        self.stream_id = stream_id
        self.conn = conn
        self.muxed_conn = conn
        self.is_initiator = is_initiator
        self._chunks: deque[bytes | memoryview] = deque()
        self._buffered = 0
        self._recv_window = INITIAL_WINDOW  # bytes the peer may still send us
        self._unacked = 0  # bytes the application read and we have not granted back yet
        self._send_window = INITIAL_WINDOW  # bytes we may still send
        self.recv_closed = False  # the peer sent FIN
        self.send_closed = False  # we sent FIN
        self.reset_received = False  # reset by either side, or the connection ended
        self._readable: trio.Event | None = None
        self._writable: trio.Event | None = None
        self._holds_backlog_slot = False

    # -- state --------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self.reset_received or (self.recv_closed and self.send_closed)

    def _wake_reader(self) -> None:
        if self._readable is not None:
            self._readable.set()
            self._readable = None

    def _wake_writer(self) -> None:
        if self._writable is not None:
            self._writable.set()
            self._writable = None

    def _on_data(self, piece: bytes | memoryview) -> None:
        self._chunks.append(piece)
        self._buffered += len(piece)
        self._wake_reader()

    def _on_fin(self) -> None:
        self.recv_closed = True
        self._wake_reader()
        if self.send_closed:
            self.conn._forget(self)

    def _on_reset(self) -> None:
        self.reset_received = True
        self._chunks.clear()
        self._buffered = 0
        self._wake_reader()
        self._wake_writer()
        self.conn._forget(self)

    def _on_connection_end(self) -> None:
        """The connection is gone: what the peer finished sending stays readable."""
        if not self.recv_closed:
            self.reset_received = True
            self._chunks.clear()
            self._buffered = 0
        self.send_closed = True
        self._wake_reader()
        self._wake_writer()

    # -- reading ------------------------------------------------------------------------------
    async def read(self, n: int | None = None) -> bytes:
        """Up to ``n`` bytes (everything buffered when ``n`` is None or negative), waiting for
        at least one. MuxedStreamEOF once the peer has closed its side and all was read,
        MuxedStreamReset if the stream was reset or its connection was lost."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if n == 0:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return b""
        while not self._buffered:
            if self.reset_received:
                raise MuxedStreamReset("stream reset")
            if self.recv_closed:
                raise MuxedStreamEOF("stream closed by the peer")
            if self._readable is None:
                self._readable = trio.Event()
            await self._readable.wait()
        data = self._take(n)
        self._grant(len(data))
        await trio.lowlevel.cancel_shielded_checkpoint()
        return data

    def _take(self, n: int | None) -> bytes:
        chunks = self._chunks
        if n is None or n < 0 or n >= self._buffered:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._buffered = 0
            return data if type(data) is bytes else bytes(data)
        parts: list[bytes | memoryview] = []
        need = n
        while need:
            head = chunks[0]
            if len(head) <= need:
                parts.append(chunks.popleft())
                need -= len(head)
            else:
                view = head if type(head) is memoryview else memoryview(head)
                parts.append(view[:need])
                chunks[0] = view[need:]
                need = 0
        self._buffered -= n
        return b"".join(parts)

    def _grant(self, consumed: int) -> None:
        """Give read bytes back to the peer as window, half a window at a time."""
        self._unacked += consumed
        if (
            self._unacked >= INITIAL_WINDOW // 2
            and not self.recv_closed
            and not self.reset_received
        ):
            credit = self._unacked
            self._unacked = 0
            self._recv_window += credit
            self.conn._send_control(_frame(TYPE_WINDOW_UPDATE, 0, self.stream_id, credit))

    # -- writing ------------------------------------------------------------------------------
    async def write(self, data: bytes) -> None:
        """Queue ``data`` for sending in DATA frames, as the peer's window allows."""
        await trio.lowlevel.checkpoint_if_cancelled()
        conn = self.conn
        view = memoryview(data)
        total = len(view)
        sent = 0
        while True:
            if self.reset_received:
                raise MuxedStreamReset("stream reset")
            if self.send_closed:
                raise MuxedStreamClosed("stream closed for writing")
            if sent >= total:
                break
            if not self._send_window:
                await self._wait_for_window()
                continue
            frames: list[bytes] = []
            stream_id = self.stream_id
            while sent < total and self._send_window:
                size = min(self._send_window, total - sent, MAX_DATA_PAYLOAD)
                frames.append(
                    b"".join(
                        (
                            HEADER.pack(VERSION, TYPE_DATA, 0, stream_id, size),
                            view[sent : sent + size],
                        )
                    )
                )
                self._send_window -= size
                sent += size
            conn._send_data(frames)
        await conn._wait_send_room()

    async def _wait_for_window(self) -> None:
        event = self._writable = trio.Event()
        with trio.move_on_after(WINDOW_STALL_TIMEOUT):
            await event.wait()
            return
        if not self._send_window and not self.reset_received and not self.send_closed:
            raise MuxedStreamError(
                f"no window update for {WINDOW_STALL_TIMEOUT:.0f} s: the peer is not reading"
            )

    async def close(self) -> None:
        """Half-close: send FIN; reading goes on until the peer closes its side."""
        await trio.lowlevel.checkpoint()
        if self.send_closed or self.reset_received:
            return
        self.send_closed = True
        self._wake_writer()
        self.conn._release_backlog_slot(self)
        self.conn._send_control(_frame(TYPE_WINDOW_UPDATE, FLAG_FIN, self.stream_id, 0))
        if self.recv_closed:
            self.conn._forget(self)

    async def reset(self) -> None:
        """Abort both directions: send RST and drop whatever is buffered."""
        await trio.lowlevel.checkpoint()
        if self.reset_received or (self.send_closed and self.recv_closed):
            return
        self.send_closed = True
        self.conn._release_backlog_slot(self)
        self.conn._send_control(_frame(TYPE_WINDOW_UPDATE, FLAG_RST, self.stream_id, 0))
        self._on_reset()

    def set_deadline(self, ttl: int) -> None:
        raise NotImplementedError("yamux streams have no deadlines; use trio cancel scopes")

    def get_remote_address(self) -> tuple[str, int] | None:
        return self.conn.get_remote_address()

    async def __aenter__(self) -> YamuxStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()


class Yamux(IMuxedConn):
    """One yamux session over a secure connection (see the module docstring)."""

    def __init__(
        self,
        secured_conn: ISecureConn,
        peer_id: ID,
        is_initiator: bool | None = None,
        on_close: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.secured_conn = secured_conn
        self.peer_id = peer_id
        self.is_initiator_value = (
            secured_conn.is_initiator if is_initiator is None else is_initiator
        )
        self.on_close = on_close
        self.streams: dict[int, YamuxStream] = {}
        self.event_started = trio.Event()
        self.event_closed = trio.Event()
        self.event_shutting_down = trio.Event()
        self._next_id = 1 if self.is_initiator_value else 2
        self._channel: Channel | None = None
        self._accept_send, self._accept_receive = trio.open_memory_channel[YamuxStream](
            ACCEPT_BACKLOG
        )
        self._outbound_slots = trio.Semaphore(OUTBOUND_BACKLOG)
        self._out: list[bytes] = []  # frames waiting for the writer task
        self._out_bytes = 0
        self._out_ready: trio.Event | None = None
        self._room: trio.Event | None = None  # set when the queue drops below the high water
        self._writing = False  # the writer task is sealing or sending a batch
        self._nursery: trio.Nursery | None = None
        self._closing = False
        self._dead = False
        self._started = False
        self._goaway: int | None = None
        # frame parser state: a header split across messages, a DATA body still arriving
        self._partial_header = b""
        self._body_left = 0
        self._body_stream: YamuxStream | None = None  # where the body goes (None: dropped)
        self._body_flags_stream: YamuxStream | None = None  # what its flags apply to
        self._body_flags = 0

    # -- IMuxedConn -------------------------------------------------------------------------
    @property
    def is_initiator(self) -> bool:
        return self.is_initiator_value

    @property
    def is_established(self) -> bool:
        return self._started and self.event_started.is_set() and not self._dead

    @property
    def is_closed(self) -> bool:
        return self.event_closed.is_set()

    def rtt(self) -> float:
        return 0.0

    def get_remote_address(self) -> tuple[str, int] | None:
        return self.secured_conn.get_remote_address()

    def get_transport_addresses(self) -> list[multiaddr.Multiaddr]:
        return self.secured_conn.get_transport_addresses()

    def get_connection_type(self) -> ConnectionType:
        return self.secured_conn.get_connection_type()

    async def start(self) -> None:
        """Run the session until the connection ends (py-libp2p's swarm runs this as a task)."""
        if self._started:
            return
        self._started = True
        if self._dead:  # closed before it was started: let the swarm see it closed
            self.event_started.set()
            return
        self._channel = open_channel(self.secured_conn)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._write_loop)
                nursery.start_soon(self._read_loop)
                self.event_started.set()
        finally:
            self._end_session()
            with trio.CancelScope(shield=True):
                await self._finish()

    async def close(self, error_code: int = GO_AWAY_NORMAL) -> None:
        """Send GO_AWAY, end every stream and close the connection."""
        if self._closing:
            if self._started and not self.event_closed.is_set():
                await self.event_closed.wait()
            return
        self._closing = True
        if not self._started or self._nursery is None:
            self._end_session()
            await self._finish()
            return
        if not self._dead:
            self._send_control(_frame(TYPE_GO_AWAY, 0, 0, error_code))
            with trio.move_on_after(CLOSE_FLUSH_TIMEOUT):
                while (self._out or self._writing) and not self._dead:
                    await self._wait_flushed()
        self._end_session()
        await self.event_closed.wait()

    async def open_stream(self) -> YamuxStream:
        await self._outbound_slots.acquire()
        try:
            if self._dead or self._closing:
                raise MuxedStreamError("connection is closed")
            if self._goaway is not None:
                raise MuxedStreamError("the peer is closing this connection (GO_AWAY)")
            if len(self.streams) >= MAX_STREAMS:
                raise MuxedStreamError(f"{MAX_STREAMS} streams are open on this connection")
            stream_id = self._next_id
            if stream_id >= 1 << 32:
                raise MuxedStreamError("stream IDs exhausted on this connection")
            self._next_id += 2
        except BaseException:
            self._outbound_slots.release()
            raise
        stream = YamuxStream(stream_id, self, True)
        stream._holds_backlog_slot = True
        self.streams[stream_id] = stream
        self._send_control(_frame(TYPE_WINDOW_UPDATE, FLAG_SYN, stream_id, 0))
        return stream

    async def accept_stream(self) -> IMuxedStream:
        try:
            return await self._accept_receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise MuxedConnUnavailable("connection closed") from exc

    # -- streams -----------------------------------------------------------------------------
    def _forget(self, stream: YamuxStream) -> None:
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
        self._release_backlog_slot(stream)

    def _release_backlog_slot(self, stream: YamuxStream) -> None:
        if stream._holds_backlog_slot:
            stream._holds_backlog_slot = False
            self._outbound_slots.release()

    # -- sending -----------------------------------------------------------------------------
    def _queue(self, frames: list[bytes], size: int) -> None:
        if self._dead:
            return
        self._out.extend(frames)
        self._out_bytes += size
        if self._out_bytes > SEND_HARD_LIMIT or len(self._out) > MAX_QUEUED_FRAMES:
            log.info("yamux: %s does not read its connection; closing it", self.peer_id)
            self._end_session()
            return
        if self._out_ready is not None:
            self._out_ready.set()
            self._out_ready = None

    def _send_control(self, frame: bytes) -> None:
        self._queue([frame], len(frame))

    def _send_data(self, frames: list[bytes]) -> None:
        self._queue(frames, sum(len(f) for f in frames))

    async def _wait_send_room(self) -> None:
        while self._out_bytes > SEND_HIGH_WATER and not self._dead:
            if self._room is None:
                self._room = trio.Event()
            await self._room.wait()
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def _wait_flushed(self) -> None:
        if self._room is None:
            self._room = trio.Event()
        await self._room.wait()

    def _take_batch(self) -> list[bytes]:
        """The frames at the head of the queue, about ``SEND_BATCH`` bytes of them."""
        out = self._out
        if self._out_bytes <= SEND_BATCH:
            self._out = []
            self._out_bytes = 0
            return out
        size = count = 0
        while size < SEND_BATCH:
            size += len(out[count])
            count += 1
        frames = out[:count]
        del out[:count]
        self._out_bytes -= size
        return frames

    async def _write_loop(self) -> None:
        channel = self._channel
        assert channel is not None
        try:
            while True:
                while not self._out:
                    if self._dead:
                        return
                    self._out_ready = trio.Event()
                    await self._out_ready.wait()
                frames = self._take_batch()
                self._writing = True
                sealed = channel.seal(frames)
                await channel.send(sealed)
                self._writing = False
                if self._room is not None:
                    self._room.set()
                    self._room = None
        except ChannelClosed as exc:
            log.debug("yamux: sending to %s failed: %s", self.peer_id, exc)
        finally:
            self._writing = False
            self._end_session()

    # -- receiving ---------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        channel = self._channel
        assert channel is not None
        try:
            while self._goaway is None:
                for plaintext in await channel.receive():
                    self._feed(plaintext)
            # The peer opens no more streams; the open ones may finish (the yamux spec), for a
            # while. A peer that closes, as ours does after its GO_AWAY, ends this at once.
            log.debug("yamux: %s sent GO_AWAY %d", self.peer_id, self._goaway)
            with trio.move_on_after(GO_AWAY_DRAIN):
                while self.streams:
                    for plaintext in await channel.receive():
                        self._feed(plaintext)
        except ChannelClosed as exc:
            log.debug("yamux: connection to %s ended: %s", self.peer_id, exc)
        except ProtocolError as exc:
            log.info("yamux: %s broke the protocol (%s); closing the connection", self.peer_id, exc)
            self._send_control(_frame(TYPE_GO_AWAY, 0, 0, GO_AWAY_PROTOCOL_ERROR))
            with trio.move_on_after(CLOSE_FLUSH_TIMEOUT):
                while (self._out or self._writing) and not self._dead:
                    await self._wait_flushed()
        finally:
            self._end_session()

    def _feed(self, plaintext: bytes) -> None:
        """Parse the frames (or parts of frames) in one piece of decrypted plaintext."""
        view = memoryview(plaintext)
        at = 0
        end = len(plaintext)
        while at < end:
            if self._body_left:
                take = min(self._body_left, end - at)
                stream = self._body_stream
                if stream is not None and not stream.reset_received:
                    stream._on_data(view[at : at + take])
                at += take
                self._body_left -= take
                if not self._body_left:
                    self._finish_data_frame()
                continue
            if self._partial_header or end - at < HEADER_SIZE:
                need = HEADER_SIZE - len(self._partial_header)
                self._partial_header += plaintext[at : at + need]
                at += min(need, end - at)
                if len(self._partial_header) < HEADER_SIZE:
                    return
                header, self._partial_header = self._partial_header, b""
                self._on_frame(*HEADER.unpack(header))
            else:
                self._on_frame(*HEADER.unpack_from(plaintext, at))
                at += HEADER_SIZE

    def _on_frame(self, version: int, typ: int, flags: int, stream_id: int, length: int) -> None:
        if version != VERSION:
            raise ProtocolError(f"yamux version {version}")
        if typ <= TYPE_WINDOW_UPDATE:  # DATA or WINDOW_UPDATE
            if stream_id == 0:
                raise ProtocolError("stream frame for stream 0")
            stream = self.streams.get(stream_id)
            if flags & FLAG_SYN:
                stream = self._open_inbound(stream_id, stream)
            if typ == TYPE_WINDOW_UPDATE:
                if stream is not None:
                    if length:
                        stream._send_window += length
                        if stream._send_window > 1 << 32:
                            raise ProtocolError("window grown beyond 4 GiB")
                        stream._wake_writer()
                    self._apply_flags(stream, flags)
                return
            # the body goes to the stream unless it was reset or the peer had already sent FIN
            # (then it is dropped); the flags apply to the stream either way
            receiver = stream
            if stream is None or stream.reset_received or stream.recv_closed:
                receiver = None
                if length > MAX_UNKNOWN_DATA:
                    raise ProtocolError(f"{length} bytes of DATA for closed stream {stream_id}")
            elif length > stream._recv_window:
                raise ProtocolError(
                    f"{length} bytes of DATA on stream {stream_id} with "
                    f"{stream._recv_window} bytes of window"
                )
            else:
                stream._recv_window -= length
            if length:
                self._body_left = length
                self._body_stream = receiver
                self._body_flags_stream = stream
                self._body_flags = flags
            else:
                self._apply_flags(stream, flags)
        elif typ == TYPE_PING:
            if flags & FLAG_SYN:
                self._send_control(_frame(TYPE_PING, FLAG_ACK, 0, length))
        elif typ == TYPE_GO_AWAY:
            self._goaway = length
        else:
            raise ProtocolError(f"unknown frame type {typ}")

    def _finish_data_frame(self) -> None:
        stream, flags = self._body_flags_stream, self._body_flags
        self._body_stream = self._body_flags_stream = None
        self._body_flags = 0
        self._apply_flags(stream, flags)

    def _apply_flags(self, stream: YamuxStream | None, flags: int) -> None:
        if stream is None:
            return
        if flags & FLAG_RST:
            if not stream.reset_received:
                stream.send_closed = True
                self._release_backlog_slot(stream)
                stream._on_reset()
        elif flags & FLAG_FIN and not stream.recv_closed:
            stream._on_fin()

    def _open_inbound(self, stream_id: int, existing: YamuxStream | None) -> YamuxStream | None:
        if existing is not None:
            raise ProtocolError(f"SYN for stream {stream_id}, which is open")
        if (stream_id % 2 == 1) == self.is_initiator_value:
            raise ProtocolError(f"SYN for stream {stream_id}, an ID of ours")
        if self._closing or self._dead or len(self.streams) >= MAX_STREAMS:
            self._send_control(_frame(TYPE_WINDOW_UPDATE, FLAG_RST, stream_id, 0))
            return None
        stream = YamuxStream(stream_id, self, False)
        try:
            self._accept_send.send_nowait(stream)
        except trio.WouldBlock:
            log.info(
                "yamux: %s opened more than %d streams it did not wait for; resetting",
                self.peer_id,
                ACCEPT_BACKLOG,
            )
            self._send_control(_frame(TYPE_WINDOW_UPDATE, FLAG_RST, stream_id, 0))
            return None
        self.streams[stream_id] = stream
        self._send_control(_frame(TYPE_WINDOW_UPDATE, FLAG_ACK, stream_id, 0))
        return stream

    # -- ending ------------------------------------------------------------------------------
    def _end_session(self) -> None:
        """Mark the session over (idempotent): streams end, waiters wake, tasks stop."""
        if self._dead:
            return
        self._dead = True
        self.event_shutting_down.set()
        for stream in list(self.streams.values()):
            stream._on_connection_end()
            self._release_backlog_slot(stream)
        self.streams.clear()
        self._accept_send.close()
        for event in (self._out_ready, self._room):
            if event is not None:
                event.set()
        self._out_ready = self._room = None
        self._out.clear()
        self._out_bytes = 0
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def _finish(self) -> None:
        """Close the transport, then tell the owner (once)."""
        if self.event_closed.is_set():
            return
        self._closing = True
        if self._channel is not None:
            await self._channel.aclose()
        else:
            try:
                await self.secured_conn.close()
            except Exception as exc:
                log.debug("closing the secure connection failed: %r", exc)
        self.event_closed.set()
        if self.on_close is not None:
            try:
                await self.on_close()
            except Exception:
                log.exception("yamux: the on_close callback failed")


def install() -> None:
    """Let py-libp2p's muxer negotiation use the muxer class registered for ``/yamux/1.0.0``.

    py-libp2p 0.8.1's ``MuxerMultistream.new_conn`` builds its own ``Yamux`` for that protocol
    and ignores the registered class; every other protocol already gets the registered one.
    Hosts that register py-libp2p's own ``Yamux`` (tests of interoperability do) keep it.
    Idempotent.
    """
    from libp2p.stream_muxer import muxer_multistream
    from libp2p.stream_muxer.yamux.yamux import Yamux as StockYamux

    cls = muxer_multistream.MuxerMultistream
    if getattr(cls.new_conn, "_cooptracks_registered_yamux", False):
        return
    stock_new_conn = cls.new_conn

    async def new_conn(self: Any, conn: ISecureConn, peer_id: ID) -> IMuxedConn:
        protocol, transport_class = await self._selector.select(
            conn, conn.is_initiator, self.negotiate_timeout
        )
        if transport_class is StockYamux:
            muxed: IMuxedConn = StockYamux(
                conn, peer_id, is_initiator=conn.is_initiator, on_close=_nothing
            )
        else:
            muxed = transport_class(conn, peer_id)
        annotated: IMuxedConn = self._annotate_connection(muxed, conn, protocol)
        return annotated

    new_conn._cooptracks_registered_yamux = True  # type: ignore[attr-defined]
    new_conn.__wrapped__ = stock_new_conn  # type: ignore[attr-defined]
    cls.new_conn = new_conn  # type: ignore[method-assign]


async def _nothing() -> None:
    return None
