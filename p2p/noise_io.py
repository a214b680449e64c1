"""Noise transport messages read and written in bulk, under the yamux muxer of ``p2p.yamux``.

After py-libp2p's Noise XX handshake (``libp2p.security.noise``, unchanged) a connection is a
``SecureSession`` whose reads and writes go through five layers of Python for every message:
``SecureSession`` buffers plaintext in a ``BytesIO``, ``NoiseTransportReadWriter`` encrypts and
decrypts one message per call, ``NoisePacketReadWriter`` reads the 2-byte length and then the body
as two separate reads, ``RawConnection`` and ``TrioTCPStream`` wrap the socket with a lock each.
A 256 KiB chunk took about 9,000 Python calls through that stack.

:class:`NoiseChannel` takes the connection over once the handshake and the muxer negotiation
are done: it keeps the two ChaCha20-Poly1305 cipher states the handshake produced (key and
nonce counter), reads the socket in large blocks into one buffer and decrypts every complete
message found there, and seals any number of outgoing plaintext frames into messages with one
socket send. The bytes on the wire are exactly those of the libp2p Noise spec: each transport
message is a 2-byte big-endian length, then ChaCha20-Poly1305 ciphertext of at most 65,519
plaintext bytes, nonce = 4 zero bytes || the little-endian message counter, empty associated
data, no rekeying. Only the TCP socket is read directly; any other raw connection (a relayed
stream, for instance) is read through its own ``read``.

:class:`SessionChannel` is the slow, generic path for a secure connection that is not a py-libp2p
Noise session (it reads yamux frames with ``read_exactly`` as py-libp2p's own muxer does).

Written against py-libp2p 0.8.1 and noiseprotocol 0.3 (the attributes read by
:meth:`NoiseChannel.take_over` are checked and the generic path is used if they differ).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import trio
from cryptography.exceptions import InvalidTag
from libp2p.abc import ISecureConn
from libp2p.io.trio import TrioTCPStream
from libp2p.io.utils import read_exactly

log = logging.getLogger(__name__)

MAX_PLAINTEXT = 65535 - 16  # one Noise transport message: 65,535 bytes less the Poly1305 tag
MAX_NONCE = 2**64 - 1  # the Noise spec reserves the last value; a session ends before it
# Socket reads go into one buffer per connection, decrypted message by message; it starts with
# room for two whole messages and doubles up to 1 MiB while reads keep filling it, so that an idle
# connection holds little and a busy one reads in large blocks.
RECEIVE_BUFFER_START = 1 << 17
RECEIVE_BUFFER_MAX = 1 << 20
_MESSAGE_ROOM = 2 + 65535  # the largest message with its length prefix
_NONCE_PREFIX = b"\x00\x00\x00\x00"
YAMUX_HEADER_SIZE = 12
MAX_SESSION_BODY = 16 << 20  # SessionChannel reads no DATA body larger (p2p.yamux refuses them)


class ChannelClosed(Exception):
    """The connection ended: end of stream, a socket error, a local close or bad ciphertext."""


class Channel(Protocol):
    """What the muxer needs from a secure connection."""

    async def receive(self) -> list[bytes]:
        """One or more plaintext pieces, in order (ChannelClosed at the end)."""
        ...

    def seal(self, frames: list[bytes]) -> bytes | memoryview:
        """Turn plaintext frames into what ``send`` writes (in order); valid until the next
        call."""
        ...

    async def send(self, sealed: Any) -> None: ...

    async def aclose(self) -> None: ...


class NoiseChannel:
    """Bulk reader and writer of one Noise session's transport messages (see the module doc)."""

    def __init__(
        self,
        session: ISecureConn,
        encrypt_aead: Any,
        encrypt_nonce: int,
        decrypt_aead: Any,
        decrypt_nonce: int,
        raw: Any,
        socket_stream: trio.SocketStream | None,
        ciphertext: bytes,
        plaintext: bytes,
    ) -> None:
        self._session = session
        self._encrypt = encrypt_aead.encrypt
        # cryptography >= 44 can encrypt straight into the outgoing buffer
        self._encrypt_into = getattr(encrypt_aead, "encrypt_into", None)
        self._wire = bytearray()  # sealed messages go out of this buffer, reused batch to batch
        self._decrypt = decrypt_aead.decrypt
        self._send_n = encrypt_nonce
        self._recv_n = decrypt_nonce
        self._raw = raw
        self._socket_stream = socket_stream
        self._buffer = bytearray(max(RECEIVE_BUFFER_START, 2 * len(ciphertext)))
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = len(ciphertext)
        self._view[: len(ciphertext)] = ciphertext
        self._plaintext = plaintext
        self._closed = False

    @classmethod
    def take_over(cls, conn: ISecureConn) -> NoiseChannel | None:
        """A channel over ``conn`` if it is a finished py-libp2p Noise session, else None.

        From then on the channel is the only reader and writer of the session: the plaintext
        that ``SecureSession`` had buffered and the bytes ``TrioTCPStream`` had read ahead
        (see ``p2p.wire.tune_libp2p_transport``) are carried over, and the session's own
        reader/writer is disabled so that a stray use fails loudly instead of reusing a nonce.
        """
        from libp2p.network.connection.raw_connection import RawConnection
        from libp2p.security.noise.io import NoiseTransportReadWriter
        from libp2p.security.secure_session import SecureSession
        from noise.backends.default.ciphers import ChaCha20Cipher

        if type(conn) is not SecureSession:
            return None
        transport = getattr(conn, "conn", None)
        if type(transport) is not NoiseTransportReadWriter:
            return None
        try:
            protocol = transport.noise_state.noise_protocol
            sending = protocol.cipher_state_encrypt
            receiving = protocol.cipher_state_decrypt
            raw = transport.read_writer.read_write_closer
        except AttributeError:
            return None
        for state in (sending, receiving):
            if not isinstance(state.cipher, ChaCha20Cipher) or state.cipher.cipher is None:
                return None
            if not isinstance(state.n, int):
                return None
        plaintext = conn._drain(None)
        ciphertext = b""
        socket_stream = None
        if type(raw) is RawConnection and type(raw.stream) is TrioTCPStream:
            tcp = raw.stream
            socket_stream = tcp.stream
            pending: bytes = getattr(tcp, "_read_ahead", b"")
            if pending:
                ciphertext = pending[getattr(tcp, "_read_ahead_at", 0) :]
                tcp._read_ahead = b""  # type: ignore[attr-defined]
        channel = cls(
            conn,
            sending.cipher.cipher,
            sending.n,
            receiving.cipher.cipher,
            receiving.n,
            raw,
            socket_stream,
            ciphertext,
            plaintext,
        )
        transport.encrypt = _taken_over  # type: ignore[method-assign]
        transport.decrypt = _taken_over  # type: ignore[method-assign]
        return channel

    # -- receiving ----------------------------------------------------------------------------
    async def receive(self) -> list[bytes]:
        out: list[bytes] = []
        if self._plaintext:
            out.append(self._plaintext)
            self._plaintext = b""
        buf = self._buffer
        view = self._view
        while True:
            start, end = self._start, self._end
            while end - start >= 2:
                length = (buf[start] << 8) | buf[start + 1]
                if end - start < 2 + length:
                    break
                out.append(self._open(view[start + 2 : start + 2 + length]))
                start += 2 + length
            if start == end:
                start = end = 0
            self._start, self._end = start, end
            if out:
                return out
            if len(buf) - end < _MESSAGE_ROOM:  # move the partial message to the front
                view[: end - start] = bytes(view[start:end])
                self._start, self._end = 0, end - start
                end = self._end
            free = len(buf) - end
            got = await self._read_into(view[end:])
            if not got:
                raise ChannelClosed("the peer closed the connection")
            self._end = end + got
            if got == free and len(buf) < RECEIVE_BUFFER_MAX:  # reads fill it: read more at once
                self._grow()
                buf, view = self._buffer, self._view

    def _grow(self) -> None:
        pending = bytes(self._view[self._start : self._end])
        self._buffer = bytearray(2 * len(self._buffer))
        self._view = memoryview(self._buffer)
        self._view[: len(pending)] = pending
        self._start, self._end = 0, len(pending)

    def _open(self, ciphertext: memoryview) -> bytes:
        n = self._recv_n
        if n >= MAX_NONCE:
            raise ChannelClosed("Noise receive nonce exhausted")
        try:
            plaintext: bytes = self._decrypt(
                _NONCE_PREFIX + n.to_bytes(8, "little"), ciphertext, None
            )
        except InvalidTag as exc:
            raise ChannelClosed("a Noise message failed authentication") from exc
        self._recv_n = n + 1
        return plaintext

    async def _read_into(self, view: memoryview) -> int:
        try:
            if self._socket_stream is not None:
                return await self._socket_stream.socket.recv_into(view)
            data = await self._raw.read(len(view))
        except (OSError, trio.ClosedResourceError, trio.BrokenResourceError) as exc:
            raise ChannelClosed(f"connection lost: {exc!r}") from exc
        except Exception as exc:  # a relayed stream raises libp2p's own errors
            raise ChannelClosed(f"connection lost: {exc!r}") from exc
        view[: len(data)] = data
        return len(data)

    # -- sending ------------------------------------------------------------------------------
    def seal(self, frames: list[bytes]) -> memoryview:
        """Encrypt ``frames`` (yamux frames of at most ``MAX_PLAINTEXT`` bytes each, in order)
        into Noise messages on the wire.

        Consecutive small frames share a message; a frame never spans two. The messages are
        written into one buffer that is reused by the next call, so what this returns must be
        sent before sealing again.
        """
        room = sum(len(f) for f in frames) + 18 * len(frames)
        if len(self._wire) < room:
            self._wire = bytearray(max(room, 2 * len(self._wire), 1 << 16))
        out = memoryview(self._wire)
        at = 0
        group: list[bytes] = []
        size = 0
        for frame in frames:
            if size + len(frame) > MAX_PLAINTEXT and group:
                at = self._seal_one(group[0] if len(group) == 1 else b"".join(group), out, at)
                group, size = [], 0
            group.append(frame)
            size += len(frame)
        if group:
            at = self._seal_one(group[0] if len(group) == 1 else b"".join(group), out, at)
        return out[:at]

    def _seal_one(self, plaintext: bytes | memoryview, out: memoryview, at: int) -> int:
        n = self._send_n
        if n >= MAX_NONCE:
            raise ChannelClosed("Noise send nonce exhausted")
        nonce = _NONCE_PREFIX + n.to_bytes(8, "little")
        size = len(plaintext) + 16
        out[at : at + 2] = size.to_bytes(2, "big")
        if self._encrypt_into is not None:
            self._encrypt_into(nonce, plaintext, None, out[at + 2 : at + 2 + size])
        else:
            out[at + 2 : at + 2 + size] = self._encrypt(nonce, plaintext, None)
        self._send_n = n + 1
        return at + 2 + size

    async def send(self, sealed: bytes | memoryview) -> None:
        try:
            if self._socket_stream is not None:
                await self._socket_stream.send_all(sealed)
            else:
                await self._raw.write(sealed)
        except (OSError, trio.ClosedResourceError, trio.BrokenResourceError) as exc:
            raise ChannelClosed(f"connection lost: {exc!r}") from exc
        except Exception as exc:
            raise ChannelClosed(f"connection lost: {exc!r}") from exc

    async def aclose(self) -> None:
        await _close_once(self)


class SessionChannel:
    """Any other secure connection, read as yamux frames through its own ``read``."""

    def __init__(self, session: ISecureConn) -> None:
        self._session = session
        self._closed = False

    async def receive(self) -> list[bytes]:
        try:
            header = await read_exactly(self._session, YAMUX_HEADER_SIZE)
            body = b""
            if len(header) == YAMUX_HEADER_SIZE and header[1] == 0:  # DATA: a body follows
                length = int.from_bytes(header[8:12], "big")
                if length > MAX_SESSION_BODY:
                    return [header]  # the muxer refuses it before any of it is read
                if length:
                    body = await read_exactly(self._session, length)
        except Exception as exc:
            raise ChannelClosed(f"connection lost: {exc!r}") from exc
        if len(header) < YAMUX_HEADER_SIZE:
            raise ChannelClosed("the peer closed the connection")
        return [header + body]

    def seal(self, frames: list[bytes]) -> bytes:
        return b"".join(frames)

    async def send(self, sealed: bytes) -> None:
        try:
            await self._session.write(sealed)
        except Exception as exc:
            raise ChannelClosed(f"connection lost: {exc!r}") from exc

    async def aclose(self) -> None:
        await _close_once(self)


async def _close_once(channel: NoiseChannel | SessionChannel) -> None:
    """Close a channel's secure session, once; a session already broken has nothing to release."""
    if channel._closed:
        return
    channel._closed = True
    try:
        await channel._session.close()
    except Exception as exc:
        log.debug("closing the secure session failed: %r", exc)


def open_channel(conn: ISecureConn) -> NoiseChannel | SessionChannel:
    """The fastest channel ``conn`` allows."""
    return NoiseChannel.take_over(conn) or SessionChannel(conn)


def _taken_over(data: bytes) -> bytes:
    raise RuntimeError("this Noise session is read and written by p2p.noise_io.NoiseChannel")
