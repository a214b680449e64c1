"""Reachability by dial-back: ``/cooptracks/autonat/1.0.0``.

A node asks a connected peer to dial it on the addresses it advertises. The peer dials from a
fresh, throwaway host (so the connection we already share cannot answer for it), completes the
Noise handshake, which proves the listener holds the asking peer's key, and answers OK or failed.
Like libp2p's AutoNAT v1, a server only dials addresses whose IP is the one it sees the request
come from, so it cannot be used to make connections to third parties; it dials at most two
addresses at a time overall and answers each peer at most once per ``PER_PEER_INTERVAL``.

The node is ``public`` when any asked peer reached it, ``private`` when every peer that answered
could not (or when it advertises no direct address at all), ``unknown`` until someone answered.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from multiaddr import Multiaddr

from p2p.context import DialError, SwarmContext
from p2p.wire import (
    FramedStream,
    Message,
    PeerClosed,
    ProtocolViolation,
    check,
    decode_message,
    is_bytes,
    is_uint,
    registry_of,
)

log = logging.getLogger(__name__)

PROTOCOL_ID = "/cooptracks/autonat/1.0.0"
MAX_REQUEST = 4096
MAX_RESPONSE = 512
MAX_DIAL_ADDRS = 8
MAX_ADDR_BYTES = 256
DIAL_TIMEOUT = 5.0
PER_PEER_INTERVAL = 30.0
CONCURRENT_DIALS = 2

OK, DIAL_FAILED, REFUSED, BUSY = 0, 1, 2, 3
PUBLIC, PRIVATE, UNKNOWN = "public", "private", "unknown"


@dataclass(frozen=True)
class DialBack(Message):
    """Type 1: dial me back on these binary multiaddrs (without ``/p2p``)."""

    TYPE = 1
    addrs: tuple[bytes, ...]

    def fields(self) -> list[Any]:
        return [list(self.addrs)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> DialBack:
        check(
            len(f) == 1
            and isinstance(f[0], list)
            and 1 <= len(f[0]) <= MAX_DIAL_ADDRS
            and all(is_bytes(a) and 0 < len(a) <= MAX_ADDR_BYTES for a in f[0]),
            "DialBack is [[addr, ...]] with 1..8 addresses of at most 256 bytes",
        )
        return cls(tuple(f[0]))


@dataclass(frozen=True)
class DialBackReply(Message):
    """Type 16: ``status`` (0 OK, 1 dial failed, 2 refused, 3 busy) and the address that
    answered (empty unless OK)."""

    TYPE = 16
    status: int
    addr: bytes

    def fields(self) -> list[Any]:
        return [self.status, self.addr]

    @classmethod
    def from_fields(cls, f: list[Any]) -> DialBackReply:
        check(
            len(f) == 2 and is_uint(f[0], 4) and is_bytes(f[1]) and len(f[1]) <= MAX_ADDR_BYTES,
            "DialBackReply is [status, addr]",
        )
        return cls(f[0], f[1])


REQUESTS = registry_of(DialBack)
RESPONSES = registry_of(DialBackReply)


def _ip_of(addr: Multiaddr) -> str | None:
    for proto in ("ip4", "ip6"):
        try:
            return str(addr.value_for_protocol(proto))
        except Exception:
            continue
    return None


def is_direct(addr: Multiaddr) -> bool:
    """A TCP address that someone could dial (not a relay circuit, not a wildcard)."""
    text = str(addr)
    ip = _ip_of(addr)
    return (
        "/p2p-circuit" not in text
        and "/tcp/" in text
        and ip is not None
        and not ipaddress.ip_address(ip).is_unspecified
    )


MAX_ANSWERS = 64  # peers whose last dial-back answer is kept


class AutoNAT:
    """Both sides of the dial-back protocol, and this node's verdict."""

    def __init__(self, ctx: SwarmContext, make_dialer: Any = None) -> None:
        self.ctx = ctx
        self.status = UNKNOWN
        self.answers: dict[str, int] = {}  # peer -> last status it gave us
        self._served: dict[str, float] = {}
        self._dials = trio.Semaphore(CONCURRENT_DIALS)
        self._make_dialer = make_dialer
        ctx.serve(PROTOCOL_ID, self._serve)

    # -- server ------------------------------------------------------------------------------------
    async def _serve(self, stream: FramedStream, peer: ID) -> None:
        body = await stream.read_frame(MAX_REQUEST, self.ctx.limits.request_timeout)
        request = decode_message(body, REQUESTS)
        assert isinstance(request, DialBack)
        reply = await self._answer(stream, peer, request)
        await stream.write_frame(reply.encode())

    async def _answer(self, stream: FramedStream, peer: ID, request: DialBack) -> DialBackReply:
        key = str(peer)
        now = trio.current_time()
        if now - self._served.get(key, -PER_PEER_INTERVAL) < PER_PEER_INTERVAL:
            return DialBackReply(BUSY, b"")
        remote = stream.stream.get_remote_address()
        observed = remote[0] if remote else None
        candidates = []
        for raw in request.addrs:
            try:
                addr = Multiaddr(raw)
            except Exception:
                continue
            if is_direct(addr) and "/p2p/" not in str(addr) and _ip_of(addr) == observed:
                candidates.append(addr)
        if not candidates:
            return DialBackReply(REFUSED, b"")
        if self._dials.value == 0:
            return DialBackReply(BUSY, b"")
        self._served[key] = now
        if len(self._served) > 4096:  # forget the oldest half; the interval is short anyway
            for k in sorted(self._served, key=self._served.__getitem__)[:2048]:
                del self._served[k]
        async with self._dials:
            for addr in candidates:
                if await self._dial(peer, addr):
                    return DialBackReply(OK, addr.to_bytes())
        return DialBackReply(DIAL_FAILED, b"")

    async def _dial(self, peer: ID, addr: Multiaddr) -> bool:
        from p2p.host import build_host

        dialer = build_host(os.urandom(32))
        try:
            async with dialer.run([]):
                reached = False
                with trio.move_on_after(DIAL_TIMEOUT):
                    try:
                        await dialer.connect(PeerInfo(peer, [addr]))
                        reached = True
                    except Exception as exc:
                        log.debug("dial-back to %s at %s failed: %s", peer, addr, exc)
                # Close the connection ourselves: leaving the host's context does not, and the
                # asked peer would keep a half-open connection that swallows its stream opens.
                with trio.move_on_after(2):
                    await dialer.get_network().close()
                return reached
        except Exception as exc:
            log.debug("dial-back host failed: %s", exc)
            return False

    # -- client ------------------------------------------------------------------------------------
    async def ask(self, peer: ID, addrs: Sequence[Multiaddr]) -> int:
        """Ask ``peer`` to dial us back on ``addrs``; its status code (REFUSED if it cannot be
        asked)."""
        wire = tuple(a.to_bytes() for a in addrs if is_direct(a))[:MAX_DIAL_ADDRS]
        if not wire:
            return REFUSED
        try:
            stream = await self.ctx.open(peer, PROTOCOL_ID)
        except DialError:
            return REFUSED
        try:
            await stream.write_frame(DialBack(wire).encode())
            reply = decode_message(
                await stream.read_frame(MAX_RESPONSE, DIAL_TIMEOUT * len(wire) + 5), RESPONSES
            )
            assert isinstance(reply, DialBackReply)
            return reply.status
        except ProtocolViolation as exc:
            await self.ctx.guard.ban(str(peer), f"autonat: {exc}")
            return REFUSED
        except PeerClosed:
            return REFUSED
        finally:
            await stream.close()

    async def check(self, peers: Sequence[ID], addrs: Sequence[Multiaddr]) -> str:
        """Ask up to three peers in parallel and update ``status``."""
        direct = [a for a in addrs if is_direct(a)]
        if not direct:
            if peers:
                self.status = PRIVATE
            return self.status
        answers: dict[str, int] = {}

        async def one(peer: ID) -> None:
            answers[str(peer)] = await self.ask(peer, direct)

        async with trio.open_nursery() as nursery:
            for peer in list(peers)[:3]:
                nursery.start_soon(one, peer)
        for key, status in answers.items():  # the latest answers, at most MAX_ANSWERS peers
            self.answers.pop(key, None)
            self.answers[key] = status
        while len(self.answers) > MAX_ANSWERS:
            del self.answers[next(iter(self.answers))]
        if any(s == OK for s in answers.values()):
            self.status = PUBLIC
        elif any(s == DIAL_FAILED for s in answers.values()):
            self.status = PRIVATE
        return self.status
