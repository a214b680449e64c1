"""Per-peer limits and the ban list: how a node protects itself from its peers."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """Every bound a node enforces. Frozen so that one object can be shared safely."""

    request_timeout: float = 10.0  # a whole request or response frame must arrive within this
    idle_timeout: float = 30.0  # an inbound stream with no new request for this long is closed
    dial_timeout: float = 5.0
    inbound_streams_per_peer: int = 8  # concurrent inbound streams per peer and protocol
    upload_slots: int = 16  # chunks being served at once, all peers together
    upload_slots_per_peer: int = 4  # ... and per peer, so that one peer cannot take them all
    upload_queue_per_peer: int = 16  # chunk requests of one peer waiting for a slot; more = Busy
    ban_seconds: float = 600.0
    max_peers: int = 200


class TooBusy(Exception):
    """The per-peer queue for a resource is full."""


class PeerGuard:
    """Bans, inbound stream caps and fair upload slots, for one node."""

    def __init__(self, limits: Limits, disconnect: Callable[[str], Awaitable[None]]) -> None:
        self.limits = limits
        self._disconnect = disconnect
        self._banned: dict[str, tuple[float, str]] = {}
        self._streams: dict[tuple[str, str], int] = {}
        self._upload_total = trio.Semaphore(limits.upload_slots)
        self._upload_peer: dict[str, trio.Semaphore] = {}
        self._upload_waiting: dict[str, int] = {}
        self.violations: list[tuple[str, str]] = []

    # -- bans -------------------------------------------------------------------------------------
    def is_banned(self, peer: str) -> bool:
        entry = self._banned.get(peer)
        if entry is None:
            return False
        if entry[0] < trio.current_time():
            del self._banned[peer]
            return False
        return True

    def ban_reason(self, peer: str) -> str | None:
        entry = self._banned.get(peer)
        return entry[1] if entry else None

    async def ban(self, peer: str, reason: str) -> None:
        """Cut a misbehaving peer off: close its connection and refuse it for a while."""
        if not self.is_banned(peer):
            log.warning("cutting off peer %s: %s", peer, reason)
        self._banned[peer] = (trio.current_time() + self.limits.ban_seconds, reason)
        self.violations.append((peer, reason))
        with trio.CancelScope(shield=True):
            with trio.move_on_after(2):
                try:
                    await self._disconnect(peer)
                except Exception as exc:  # a half-closed connection may raise anything
                    log.debug("disconnect %s failed: %s", peer, exc)

    def banned(self) -> dict[str, str]:
        return {p: r for p, (_, r) in self._banned.items() if self.is_banned(p)}

    # -- inbound streams ---------------------------------------------------------------------------
    @asynccontextmanager
    async def inbound_stream(self, peer: str, protocol: str) -> AsyncIterator[bool]:
        """Yields False when the peer is banned or already has too many streams open."""
        key = (peer, protocol)
        cap = self.limits.inbound_streams_per_peer
        if self.is_banned(peer) or self._streams.get(key, 0) >= cap:
            yield False
            return
        self._streams[key] = self._streams.get(key, 0) + 1
        try:
            yield True
        finally:
            self._streams[key] -= 1
            if not self._streams[key]:
                del self._streams[key]

    # -- uploads -----------------------------------------------------------------------------------
    @asynccontextmanager
    async def upload_slot(self, peer: str) -> AsyncIterator[None]:
        """A slot to serve one chunk. Each peer waits on its own queue first, so slots are shared
        fairly between peers; a peer whose queue is full gets TooBusy."""
        waiting = self._upload_waiting.get(peer, 0)
        if waiting >= self.limits.upload_queue_per_peer:
            raise TooBusy(peer)
        per_peer = self._upload_peer.get(peer)
        if per_peer is None:
            per_peer = self._upload_peer[peer] = trio.Semaphore(self.limits.upload_slots_per_peer)
        self._upload_waiting[peer] = waiting + 1
        try:
            async with per_peer, self._upload_total:
                self._upload_waiting[peer] -= 1
                waiting = -1
                yield
        finally:
            if waiting != -1:
                self._upload_waiting[peer] -= 1
            if not self._upload_waiting.get(peer):
                self._upload_waiting.pop(peer, None)


INFINITE = math.inf
