"""The life of a connection: handshake slots, a trimmed connection table, forgetting closed peers.

A node must accept any number of connections over its lifetime and keep room for the peers that
matter while its table is full. Three parts do that:

* :func:`install` replaces py-libp2p 0.8.1's inbound handler. The stock handler, once a connection
  is upgraded, waits for the *swarm* to stop (``await self.manager.wait_finished()``) and only then
  gives back its slot of the inbound limiter (``max_connections - min_connections`` slots). Every
  inbound connection therefore held a slot, a task and its frames for the node's whole life: the
  301st connection ever accepted failed its security negotiation, however many had closed. Ours
  waits for that connection to close.
* :class:`HandshakeSlots` bounds connections that have not finished the Noise + yamux upgrade,
  separately from established ones, per remote IP and in total. When a slot is wanted and none is
  free, the oldest pending handshake (of that IP first) is closed: a peer that holds raw TCP
  connections open without speaking only delays itself, and an honest handshake, which takes
  milliseconds, always gets through. The upgrade timeout (5 s) ends stalled ones anyway.
* :class:`ConnectionManager` keeps established connections between watermarks, as go-libp2p's
  connection manager does: above ``high_water`` it closes connections down to ``low_water``,
  never a protected peer (one the node is syncing with, downloading from, relaying for, a
  bootstrap peer), least useful first (a connection still in its grace period goes after every
  other one; among the rest, the longest idle first). A full table therefore trims the idle
  sessions an attacker holds, not the honest peer that just arrived.

What a peer sees at each limit is written in docs/PROTOCOL.md ("Connection limits").
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.abc import IMuxedConn, INetConn
from libp2p.peer.id import ID

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    """Bounds on the connection table (docs/PROTOCOL.md, "Connection limits")."""

    high_water: int = 200  # established connections above this are trimmed ...
    low_water: int = 160  # ... down to this many
    grace_period: float = 20.0  # a new connection is trimmed only after every older one
    max_handshakes: int = 64  # inbound connections still in the Noise + yamux upgrade
    max_handshakes_per_ip: int = 16  # ... of them from one remote IP

    def __post_init__(self) -> None:
        if not 0 < self.low_water <= self.high_water:
            raise ValueError("need 0 < low_water <= high_water")
        if not 0 < self.max_handshakes_per_ip <= self.max_handshakes:
            raise ValueError("need 0 < max_handshakes_per_ip <= max_handshakes")


class HandshakeSlots:
    """Inbound connections in their upgrade: at most ``max_handshakes`` (``per_ip`` per remote
    IP); a new one takes the slot of the oldest pending one (of its IP first) when none is free.
    """

    def __init__(self, total: int, per_ip: int) -> None:
        self.total = total
        self.per_ip = per_ip
        # pending handshake -> (remote ip, its closer); insertion order is age order
        self._pending: OrderedDict[object, tuple[str, Callable[[], Awaitable[None]]]] = (
            OrderedDict()
        )
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._pending)

    def _oldest(self, ip: str | None) -> object | None:
        for key, (their_ip, _) in self._pending.items():
            if ip is None or their_ip == ip:
                return key
        return None

    async def enter(self, key: object, ip: str, close: Callable[[], Awaitable[None]]) -> None:
        """Take a slot for ``key``, closing the oldest pending handshake if there is no room."""
        victim: object | None = None
        if sum(1 for their_ip, _ in self._pending.values() if their_ip == ip) >= self.per_ip:
            victim = self._oldest(ip)
        elif len(self._pending) >= self.total:
            victim = self._oldest(None)
        self._pending[key] = (ip, close)
        if victim is not None:
            _, closer = self._pending.pop(victim)
            self.evicted += 1
            log.debug("handshake table full: closing the oldest pending handshake from %s", ip)
            await _run_close(closer, within=1)

    def leave(self, key: object) -> None:
        self._pending.pop(key, None)


def _remote_ip(conn: Any) -> str:
    try:
        remote = conn.get_remote_address()
    except Exception:
        remote = None
    return str(remote[0]) if remote else "?"


async def _wait_closed(swarm: Any, muxed: IMuxedConn) -> None:
    """Until ``muxed`` (and the swarm connection over it) has closed, or the swarm stops."""
    swarm_conn = None
    for conns in list(swarm.connections.values()):
        for conn in conns:
            if conn.muxed_conn is muxed:
                swarm_conn = conn
    if swarm_conn is None:
        return  # it closed (and was removed) before we looked
    async with trio.open_nursery() as nursery:

        async def swarm_stopped() -> None:
            await swarm.manager.wait_finished()
            nursery.cancel_scope.cancel()

        nursery.start_soon(swarm_stopped)
        await swarm_conn.event_closed.wait()
        nursery.cancel_scope.cancel()


def install() -> None:
    """Replace py-libp2p's inbound connection handler with one that ends with its connection and
    takes a handshake slot while upgrading (see the module doc). Idempotent."""
    from libp2p.network.connection.raw_connection import RawConnection
    from libp2p.network.swarm import Swarm

    if getattr(Swarm._do_handle_inbound_connection, "_cooptracks", False):
        return
    stock = Swarm._do_handle_inbound_connection

    async def handle(self: Any, read_write_closer: Any, maddr: Any, failure_event: Any) -> None:
        slots: HandshakeSlots | None = getattr(self, "cooptracks_handshakes", None)
        if slots is None or isinstance(read_write_closer, IMuxedConn):
            await stock(self, read_write_closer, maddr, failure_event)
            return
        remote_maddr = self._build_remote_multiaddr(read_write_closer)
        if remote_maddr is not None and not await self.connection_gate.is_allowed(remote_maddr):
            await _close_quietly(read_write_closer)
            return
        raw_conn = RawConnection(read_write_closer, False)
        key = object()
        try:
            await slots.enter(key, _remote_ip(raw_conn), raw_conn.close)
            try:
                muxed = await self.upgrade_inbound_raw_conn(raw_conn, maddr)
            finally:
                slots.leave(key)
        except Exception as exc:
            log.debug("inbound connection from %s failed its upgrade: %s", remote_maddr, exc)
            await _close_quietly(raw_conn)
            return
        await _wait_closed(self, muxed)

    handle._cooptracks = True  # type: ignore[attr-defined]
    handle.__wrapped__ = stock  # type: ignore[attr-defined]
    Swarm._do_handle_inbound_connection = handle  # type: ignore[method-assign]


async def _close_quietly(conn: Any) -> None:
    await _run_close(conn.close, within=2)


async def _run_close(close: Callable[[], Awaitable[None]], within: float) -> None:
    """Run ``close`` shielded from cancellation, for at most ``within`` seconds; a half-closed
    connection may raise anything, which is logged and dropped."""
    with trio.CancelScope(shield=True), trio.move_on_after(within):
        try:
            await close()
        except Exception as exc:
            log.debug("closing a connection failed: %r", exc)


class ConnectionManager:
    """Keeps a node's established connections between the watermarks (see the module doc).

    ``protected(peer)`` says whether the node is using a peer right now; ``last_active(peer)``
    gives the last time (``time.monotonic()``) bytes of ours moved to or from it (None:
    never).
    """

    def __init__(
        self,
        network: Any,
        limits: ConnectionLimits,
        protected: Callable[[ID], bool],
        last_active: Callable[[str], float | None],
    ) -> None:
        self.network = network
        self.limits = limits
        self._protected = protected
        self._last_active = last_active
        self._opened: dict[INetConn, float] = {}
        self._trimming = False
        self.trimmed = 0
        network.cooptracks_handshakes = HandshakeSlots(
            limits.max_handshakes, limits.max_handshakes_per_ip
        )

    @property
    def handshakes(self) -> HandshakeSlots:
        slots: HandshakeSlots = self.network.cooptracks_handshakes
        return slots

    def connected(self, conn: INetConn) -> bool:
        """Record a new connection; True when the table is above the high watermark."""
        self._opened[conn] = time.monotonic()
        return len(self._opened) > self.limits.high_water

    def disconnected(self, conn: INetConn) -> None:
        self._opened.pop(conn, None)

    def __len__(self) -> int:
        return len(self._opened)

    def candidates(self) -> list[INetConn]:
        """Connections that may be trimmed, the first to go first."""
        now = time.monotonic()
        grace = self.limits.grace_period

        def order(conn: INetConn) -> tuple[bool, float]:
            opened = self._opened.get(conn, now)
            peer = str(conn.muxed_conn.peer_id)
            active = self._last_active(peer)
            last = max(opened, active) if active is not None else opened
            return (now - opened < grace, last)

        return sorted(
            (c for c in self._opened if not self._protected(c.muxed_conn.peer_id)), key=order
        )

    async def trim(self) -> int:
        """Close connections down to the low watermark; returns how many were closed."""
        if self._trimming:
            return 0
        self._trimming = True
        closed = 0
        try:
            excess = len(self._opened) - self.limits.low_water
            if excess <= 0:
                return 0
            victims = self.candidates()[:excess]
            for conn in victims:
                self._opened.pop(conn, None)
            closed = len(victims)
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                async with trio.open_nursery() as nursery:  # closing one takes 0.1 s or more
                    for conn in victims:
                        nursery.start_soon(_close_quietly, conn)
            self.trimmed += closed
            if closed:
                log.info(
                    "connection table above %d: closed %d idle connections",
                    self.limits.high_water,
                    closed,
                )
            return closed
        finally:
            self._trimming = False
