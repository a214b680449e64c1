"""Length-prefixed CBOR frames on a libp2p stream, with size caps and deadlines.

Every Cooptracks protocol speaks the same framing: an unsigned LEB128 varint giving the body
length, then the body, a canonical CBOR array whose first item is the message type code. The
varint may be at most 5 bytes and the body at most the protocol's limit; a longer prefix, a body
over the limit, or a frame that does not arrive in full before its deadline is a protocol
violation, and the peer that sent it is cut off.

Importing this module also tunes a few py-libp2p defaults that cost bulk transfers half their
speed (see :func:`tune_libp2p_transport`); none changes a byte format on the wire. Hosts built by
``p2p.host`` run our own muxer over the Noise session (``p2p.yamux``, ``p2p.noise_io``), so
there these settings only matter until the muxer takes the connection over.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, TypeVar

import cbor2
import trio
from libp2p.abc import INetStream
from libp2p.io.trio import TrioTCPStream
from libp2p.network.stream.exceptions import StreamClosed, StreamEOF, StreamError, StreamReset
from libp2p.security.noise.io import MAX_PLAINTEXT_LENGTH as NOISE_MAX_PLAINTEXT
from libp2p.stream_muxer.yamux import yamux as _yamux

MAX_VARINT_BYTES = 5
READ_BLOCK = 1 << 18
# read_frame_into asks the stream for at most this much at a time: the muxer hands over one
# read as one new bytes object, and one this size comes from memory the allocator reuses
INTO_BLOCK = 1 << 16
TCP_READ_AHEAD = 1 << 18


def tune_libp2p_transport() -> None:
    """Make py-libp2p's TCP + Noise + yamux stack move bulk data with fewer, fuller messages.

    Our hosts use py-libp2p's Noise and yamux code only for the handshake and the muxer
    negotiation (the read-ahead below serves those reads) and, in tests, py-libp2p's own
    ``Yamux`` class as the peer that ours must interoperate with (the other two settings).

    * yamux caps a DATA frame at 64 KiB including its 12-byte header, but one Noise transport
      message carries at most 65519 plaintext bytes, so every full yamux frame went out as two
      Noise messages (65519 + 17 bytes): two encryptions, two length prefixes, two socket
      sends, two reads on the far side. Frames are capped to fit one Noise message instead
      (the yamux spec lets a sender choose any frame size up to the receive window).
    * The Noise reader asks the TCP stream for a 2-byte length and then for the body, and
      py-libp2p turns each request into its own ``recv`` and scheduler round trip. Reads now
      take up to 256 KiB from the socket and serve later requests from that buffer.
    * yamux sends a WINDOW_UPDATE after every read of a stream by default ("release on read"),
      which for a 256 KiB chunk read as it trickles in is four or more extra messages back.
      Credit is returned go-yamux style instead, once half the receive window has been
      consumed (py-libp2p's own ``PY_YAMUX_RELEASE_ON_READ`` switch; a value already set in
      the environment wins).

    Idempotent; applied once when this module is imported.
    """
    _yamux.MAX_MESSAGE_SIZE = NOISE_MAX_PLAINTEXT
    os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")
    if getattr(TrioTCPStream.read, "_cooptracks_read_ahead", False):
        return
    socket_read = TrioTCPStream.read

    async def read(self: TrioTCPStream, n: int | None = None) -> bytes:
        pending: bytes = getattr(self, "_read_ahead", b"")
        if pending:
            start: int = self._read_ahead_at  # type: ignore[attr-defined]
            if n is None or n >= len(pending) - start:
                self._read_ahead = b""  # type: ignore[attr-defined]
                return pending[start:] if start else pending
            self._read_ahead_at = start + n  # type: ignore[attr-defined]
            return pending[start : start + n]
        if n == 0:
            return b""
        data = await socket_read(self, max(n or 0, TCP_READ_AHEAD))
        leftover: bytes = getattr(self, "_read_ahead", b"")
        if leftover:  # another reader buffered bytes while this one waited for the socket
            data = leftover[self._read_ahead_at :] + data  # type: ignore[attr-defined]
            self._read_ahead = b""  # type: ignore[attr-defined]
        if n is not None and len(data) > n:
            self._read_ahead = data  # type: ignore[attr-defined]
            self._read_ahead_at = n  # type: ignore[attr-defined]
            return data[:n]
        return data

    read._cooptracks_read_ahead = True  # type: ignore[attr-defined]
    TrioTCPStream.read = read  # type: ignore[method-assign]


tune_libp2p_transport()


class ProtocolViolation(Exception):
    """The remote peer broke the protocol (garbage, oversized, wrong type, too slow)."""


class PeerClosed(Exception):
    """The stream ended cleanly between two frames."""


def encode_varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame(body: bytes) -> bytes:
    return encode_varint(len(body)) + body


MAX_COUNTED_PEERS = 4096  # peers with their own byte counters (the totals count everyone)


class Counters:
    """Byte counters, shared by every stream of a node (for the Network view)."""

    def __init__(self) -> None:
        self.bytes_in = 0
        self.bytes_out = 0
        self.per_peer: dict[str, list[int]] = {}  # connected peers only (see forget)
        self.last_active: dict[str, float] = {}  # peer -> time.monotonic() of its last bytes

    def add(self, peer: str, received: int = 0, sent: int = 0) -> None:
        self.bytes_in += received
        self.bytes_out += sent
        slot = self.per_peer.get(peer)
        if slot is None:
            if len(self.per_peer) >= MAX_COUNTED_PEERS:  # the earliest seen peer goes
                del self.per_peer[next(iter(self.per_peer))]
            slot = self.per_peer[peer] = [0, 0]
        slot[0] += received
        slot[1] += sent
        self.last_active[peer] = time.monotonic()

    def forget(self, peer: str) -> None:
        """Drop a peer's counts once it has no connection left (the totals keep its bytes)."""
        self.per_peer.pop(peer, None)
        self.last_active.pop(peer, None)


class FramedStream:
    """Reads and writes frames on one stream, keeping the bytes read past the current frame."""

    def __init__(self, stream: INetStream, counters: Counters | None = None) -> None:
        self.stream = stream
        self._buf = bytearray()
        self._eof = False
        self.counters = counters
        self.peer = str(stream.muxed_conn.peer_id)

    async def _read_some(self, n: int) -> bytes | None:
        """Up to ``n`` bytes from the stream (None at its end), counted for the Network view."""
        if self._eof:
            return None
        try:
            data = await self.stream.read(n)
        except (StreamEOF, StreamClosed):
            self._eof = True
            return None
        except StreamReset as exc:
            raise PeerClosed("stream reset") from exc
        except StreamError as exc:
            raise PeerClosed(str(exc)) from exc
        if not data:
            self._eof = True
            return None
        if self.counters is not None:
            self.counters.add(self.peer, received=len(data))
        return data

    async def _fill(self) -> bool:
        data = await self._read_some(READ_BLOCK)
        if data is None:
            return False
        self._buf += data
        return True

    async def read_frame(self, max_size: int, timeout: float) -> bytes:
        """One frame body. PeerClosed if the stream ends before a frame starts."""
        with trio.move_on_after(timeout) as scope:
            return await self._read_frame(max_size)
        assert scope.cancelled_caught
        raise ProtocolViolation(f"no complete frame within {timeout:.1f}s")

    async def requests(
        self, max_size: int, timeout: float, registry: dict[int, type[Message]]
    ) -> AsyncIterator[Message]:
        """A server's loop: the messages of ``registry`` the peer sends, one a frame, until it
        closes the stream. Each may take ``timeout``; a bad one raises ProtocolViolation."""
        while True:
            try:
                body = await self.read_frame(max_size, timeout)
            except PeerClosed:
                return
            yield decode_message(body, registry)

    async def _read_length(self, max_size: int) -> tuple[int, int]:
        """The body length of the next frame and the size of its prefix (still in ``_buf``)."""
        length = 0
        shift = 0
        pos = 0
        while True:
            while pos >= len(self._buf):
                if not await self._fill():
                    if pos == 0:
                        raise PeerClosed("stream ended")
                    raise ProtocolViolation("stream ended inside a length prefix")
            byte = self._buf[pos]
            length |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                break
            shift += 7
            if pos >= MAX_VARINT_BYTES:
                raise ProtocolViolation("length prefix too long")
        if length > max_size:
            raise ProtocolViolation(f"frame of {length} bytes exceeds the {max_size} byte limit")
        return length, pos

    async def _read_frame(self, max_size: int) -> bytes:
        length, pos = await self._read_length(max_size)
        while len(self._buf) < pos + length:
            if not await self._fill():
                raise ProtocolViolation("stream ended inside a frame")
        with memoryview(self._buf) as view:
            body = bytes(view[pos : pos + length])
        del self._buf[: pos + length]
        return body

    async def read_frame_into(
        self, max_size: int, timeout: float, buffer_for: Callable[[int], bytearray]
    ) -> memoryview:
        """One frame body, read into ``buffer_for(length)`` (a buffer of at least ``length``
        bytes, typically reused frame after frame); returns a view of the body in that buffer.

        For large bodies (chunks): the body is read from the stream in pieces of at most
        ``INTO_BLOCK`` bytes, only as many as the frame needs, and copied once into the buffer,
        instead of being collected in ``_buf`` and copied out into a new ``bytes`` object. The
        caller owns the buffer again once it drops the view. Same limits and errors as
        :meth:`read_frame`.
        """
        with trio.move_on_after(timeout) as scope:
            return await self._read_frame_into(max_size, buffer_for)
        assert scope.cancelled_caught
        raise ProtocolViolation(f"no complete frame within {timeout:.1f}s")

    async def _read_frame_into(
        self, max_size: int, buffer_for: Callable[[int], bytearray]
    ) -> memoryview:
        length, pos = await self._read_length(max_size)
        buffer = buffer_for(length)
        assert len(buffer) >= length
        view = memoryview(buffer)[:length]
        have = min(len(self._buf) - pos, length)
        if have:
            with memoryview(self._buf) as pending:
                view[:have] = pending[pos : pos + have]
        del self._buf[: pos + have]
        while have < length:
            data = await self._read_some(min(length - have, INTO_BLOCK))
            if data is None:
                raise ProtocolViolation("stream ended inside a frame")
            view[have : have + len(data)] = data
            have += len(data)
        return view

    async def write_frame(self, body: bytes) -> None:
        await self.write_framed(frame(body))

    async def write_framed(self, data: bytes | bytearray | memoryview) -> None:
        """Write bytes that already carry their length prefix (one frame or several)."""
        try:
            await self.stream.write(data)  # type: ignore[arg-type]
        except (StreamError, StreamClosed) as exc:
            raise PeerClosed(str(exc)) from exc
        if self.counters is not None:
            self.counters.add(self.peer, sent=len(data))

    async def close(self) -> None:
        try:
            await self.stream.close()
        except Exception:
            pass

    async def reset(self) -> None:
        try:
            await self.stream.reset()
        except Exception:
            pass


# -- typed messages -----------------------------------------------------------------------------

M = TypeVar("M", bound="Message")


class Message:
    """A wire message: a CBOR array ``[TYPE, field, ...]``. Subclasses are frozen dataclasses."""

    TYPE: ClassVar[int]

    def fields(self) -> list[Any]:
        raise NotImplementedError

    def encode(self) -> bytes:
        return cbor2.dumps([self.TYPE, *self.fields()], canonical=True)

    @classmethod
    def from_fields(cls: type[M], fields: list[Any]) -> M:
        raise NotImplementedError


def decode_message(body: bytes, registry: dict[int, type[Message]]) -> Message:
    """Decode a frame body into one of the message classes of ``registry``."""
    try:
        obj = cbor2.loads(body)
    except Exception as exc:
        raise ProtocolViolation(f"frame is not CBOR: {type(exc).__name__}") from exc
    if not isinstance(obj, list) or not obj or not isinstance(obj[0], int):
        raise ProtocolViolation("frame is not a typed message")
    cls = registry.get(obj[0])
    if cls is None:
        raise ProtocolViolation(f"unknown message type {obj[0]}")
    try:
        return cls.from_fields(obj[1:])
    except ProtocolViolation:
        raise
    except Exception as exc:
        raise ProtocolViolation(f"malformed {cls.__name__}: {exc}") from exc


def check(cond: bool, what: str) -> None:
    if not cond:
        raise ProtocolViolation(what)


def is_bytes(value: Any, size: int | None = None) -> bool:
    return isinstance(value, bytes) and (size is None or len(value) == size)


def is_uint(value: Any, limit: int = 1 << 63) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < limit


def registry_of(*classes: type[Message]) -> dict[int, type[Message]]:
    reg: dict[int, type[Message]] = {}
    for cls in classes:
        assert cls.TYPE not in reg, cls
        reg[cls.TYPE] = cls
    return reg


Handler = Callable[[INetStream], Any]
