"""What every protocol of a node shares: the host, the guard, byte counters and limits."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from p2p.limits import Limits, PeerGuard
from p2p.wire import Counters, FramedStream, PeerClosed, ProtocolViolation

log = logging.getLogger(__name__)

ServeFn = Callable[[FramedStream, ID], Awaitable[None]]


class DialError(Exception):
    """A peer could not be reached or refused the protocol."""


@dataclass
class SwarmContext:
    host: IHost
    guard: PeerGuard
    counters: Counters
    limits: Limits

    async def open(self, peer: ID, protocol: str) -> FramedStream:
        """A framed outbound stream to ``peer`` (which must be connected or dialable)."""
        if self.guard.is_banned(str(peer)):
            raise DialError(f"peer {peer} is banned")
        try:
            with trio.fail_after(self.limits.dial_timeout):
                stream = await self.host.new_stream(peer, [TProtocol(protocol)])
        except trio.TooSlowError as exc:
            raise DialError(f"opening {protocol} to {peer} timed out") from exc
        except Exception as exc:
            raise DialError(f"opening {protocol} to {peer} failed: {exc}") from exc
        return FramedStream(stream, self.counters)

    def serve(self, protocol: str, fn: ServeFn) -> None:
        """Register ``fn`` for inbound streams of ``protocol``, behind the guard: banned peers and
        peers over their stream cap are reset; a protocol violation bans the peer."""

        async def handler(stream: INetStream) -> None:
            peer_id = stream.muxed_conn.peer_id
            peer = str(peer_id)
            async with self.guard.inbound_stream(peer, protocol) as allowed:
                if not allowed:
                    await _reset(stream)
                    return
                framed = FramedStream(stream, self.counters)
                try:
                    await fn(framed, peer_id)
                except ProtocolViolation as exc:
                    await framed.reset()
                    await self.guard.ban(peer, f"{protocol}: {exc}")
                    return
                except PeerClosed:
                    await framed.reset()
                    return
                except Exception:
                    log.exception("handler for %s failed", protocol)
                    await framed.reset()
                    return
                await framed.close()

        self.host.set_stream_handler(TProtocol(protocol), handler)

    async def disconnect(self, peer: str) -> None:
        await self.host.disconnect(ID.from_base58(peer))


async def _reset(stream: INetStream) -> None:
    try:
        await stream.reset()
    except Exception:
        pass
