"""Direct connection upgrade through relay: libp2p's DCUtR, ``/libp2p/dcutr``.

A relayed connection (``<relay>/p2p-circuit/p2p/<id>``) is slow and capped
(``relay.RELAY_LIMITS``), so two peers that meet through a relay try to open a direct TCP
connection. The peer that *accepted* the relayed connection (B, the one behind NAT holding the
reservation) leads; the peer that dialled it (A) answers:

1. B dials A's public addresses from identify, if A has any: nothing may stand in the way.
2. B opens ``/libp2p/dcutr`` on the relayed connection, sends CONNECT with its own addresses and
   times the round trip; A answers CONNECT with its addresses; B sends SYNC. Each side's
   addresses are its confirmed ones, then the external addresses that trusted peers observed it
   at (``p2p.discovery.observed``), so a node behind NAT offers its NAT's address early.
3. A dials B's addresses as soon as SYNC arrives; B waits half the round trip and dials A's public
   addresses, so that the SYNs cross in the NATs (a TCP simultaneous open). Both sides then think
   they dialled: A takes the Noise initiator role and B dials "as responder", the split that
   go-libp2p and py-libp2p use. Dials to public addresses leave from the listen port, the port the
   advertised address and the NAT mapping share.
4. Up to ``attempts`` rounds on the same stream, with a doubling pause between them.

Once a direct connection exists, new streams use it (py-libp2p's swarm prefers direct over relayed
connections) and the relayed one is closed after ``relay_close_grace``. The dialling side starts a
session itself if the other side has not within ``outbound_grace``.

py-libp2p 0.8.1 ships an implementation (``libp2p.relay.circuit_v2.dcutr``) that this module does
not use: it dials every address a peer names (of any kind, plus every address in the peerstore),
stores them in the peerstore, drives hole punches to every relayed peer from both sides every two
seconds, reads with 30-second timeouts and does not cut off a peer that sends garbage. Only its
swarm primitives are used here (``dial_addr`` with a source port, ``dial_addr_as_responder``).

Limits: messages of at most 4 KiB; only the first 16 addresses of a CONNECT are looked at, and at
most 4 plain ``/ip4|ip6/.../tcp/<port>`` addresses are dialled, never in a narrower scope than our
own (a peer cannot make us dial loopback or private addresses unless we listen on such ones);
``sessions_per_peer`` sessions per peer and ``session_window``; every wait is a trio timeout. A
peer that sends a malformed message or the wrong message is cut off; one that is slow only ends
the session.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import trio
from libp2p.abc import INetConn
from libp2p.peer.id import ID
from multiaddr import Multiaddr

from p2p.context import DialError, SwarmContext
from p2p.wire import FramedStream, PeerClosed, ProtocolViolation, check, encode_varint

log = logging.getLogger(__name__)

PROTOCOL_ID = "/libp2p/dcutr"
CONNECT, SYNC = 100, 300
MAX_MESSAGE = 4096  # bytes of one message, length prefix excluded (the spec's limit)
MAX_ADDRS = 4  # addresses we send, and the most of a peer's we dial
MAX_ADDRS_READ = 16  # entries of a CONNECT looked at; the rest are ignored
MAX_CANDIDATES = 2  # of MAX_ADDRS, kept for observed (unconfirmed) external addresses

LOOPBACK, PRIVATE, PUBLIC = 0, 1, 2  # address scopes, narrowest first


@dataclass(frozen=True)
class HolePunchLimits:
    """Timeouts and budgets of the upgrade (``NodeConfig.hole_punch``)."""

    message_timeout: float = 5.0  # each DCUtR message must arrive within this
    dial_timeout: float = 5.0  # one round of direct dials (and the wait for the peer's)
    attempts: int = 3  # CONNECT/SYNC rounds per session, as the spec says
    retry_delay: float = 1.0  # pause before the second round, doubled for each further one
    sessions_per_peer: int = 3  # sessions with one peer (either side leading) ...
    session_window: float = 600.0  # ... within this many seconds
    outbound_grace: float = 3.0  # the dialling side waits this long for the other to lead
    relay_close_grace: float = 10.0  # the relayed connection is closed this long after upgrade

    def __post_init__(self) -> None:
        for name in ("message_timeout", "dial_timeout", "session_window"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("retry_delay", "outbound_grace", "relay_close_grace"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must not be negative")
        if self.attempts < 1 or self.sessions_per_peer < 1:
            raise ValueError("attempts and sessions_per_peer must be at least 1")

    @property
    def retry_wait(self) -> float:
        """How long the answering side waits for the next round's CONNECT."""
        wait: float = self.message_timeout + self.retry_delay * 2 ** max(0, self.attempts - 2)
        return wait


# -- the message -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HolePunch:
    """The one DCUtR message, protobuf ``HolePunch {optional Type type = 1;
    repeated bytes ObsAddrs = 2;}`` with ``CONNECT = 100`` and ``SYNC = 300``."""

    type: int
    addrs: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        out = bytearray(b"\x08") + encode_varint(self.type)
        for addr in self.addrs:
            out += b"\x12" + encode_varint(len(addr)) + addr
        return bytes(out)

    @classmethod
    def decode(cls, body: bytes) -> HolePunch:
        """Strict about what we read (type present and known, fields of the right wire type),
        lenient about unknown fields as protobuf expects. ProtocolViolation on anything else."""
        check(len(body) <= MAX_MESSAGE, f"message of {len(body)} bytes exceeds {MAX_MESSAGE}")
        kind: int | None = None
        addrs: list[bytes] = []
        pos = 0
        while pos < len(body):
            key, pos = _varint(body, pos)
            field, wire = key >> 3, key & 7
            check(field > 0, "protobuf field number 0")
            if field == 1:
                check(wire == 0, "type is not a varint")
                kind, pos = _varint(body, pos)
            elif field == 2:
                check(wire == 2, "ObsAddrs entry is not length-delimited")
                size, pos = _varint(body, pos)
                check(pos + size <= len(body), "ObsAddrs entry runs past the message")
                addrs.append(body[pos : pos + size])
                pos += size
            elif wire == 0:
                _, pos = _varint(body, pos)
            elif wire == 1:
                pos += 8
            elif wire == 2:
                size, pos = _varint(body, pos)
                pos += size
            elif wire == 5:
                pos += 4
            else:
                raise ProtocolViolation(f"protobuf wire type {wire}")
            check(pos <= len(body), "field runs past the message")
        check(kind in (CONNECT, SYNC), f"HolePunch type {kind} is neither CONNECT nor SYNC")
        assert kind is not None
        return cls(kind, tuple(addrs))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        check(pos + i < len(data), "truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    raise ProtocolViolation("varint longer than 10 bytes")


# -- addresses ------------------------------------------------------------------------------------
def tcp_addr(raw: bytes | Multiaddr, peer: ID | None = None) -> Multiaddr | None:
    """``raw`` as a plain ``/ip4|ip6/<ip>/tcp/<port>`` that could be dialled, else None. A trailing
    ``/p2p/<id>`` is dropped when it names ``peer``; any other shape is refused."""
    try:
        addr = raw if isinstance(raw, Multiaddr) else Multiaddr(raw)
        if not isinstance(raw, Multiaddr) and addr.to_bytes() != raw:
            return None  # the multiaddr library reads some truncated input leniently
        names = [p.name for p in addr.protocols()]
        if len(names) == 3 and names[2] == "p2p":
            if peer is None or addr.value_for_protocol("p2p") != peer.to_base58():
                return None
            names = names[:2]
        if len(names) != 2 or names[0] not in ("ip4", "ip6") or names[1] != "tcp":
            return None
        ip = ipaddress.ip_address(addr.value_for_protocol(names[0]))
        port = int(addr.value_for_protocol("tcp"))
    except Exception:
        return None
    if (
        not 0 < port < 65536
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_link_local
        or (ip.is_reserved and not ip.is_loopback)
    ):  # ::1 lies in the reserved ::/8
        return None
    return Multiaddr(f"/{names[0]}/{ip}/tcp/{port}")


def scope(addr: Multiaddr) -> int:
    """LOOPBACK, PRIVATE (LAN, carrier-grade NAT, unique local) or PUBLIC."""
    for proto in ("ip4", "ip6"):
        try:
            ip = ipaddress.ip_address(addr.value_for_protocol(proto))
        except Exception:
            continue
        if ip.is_loopback:
            return LOOPBACK
        return PUBLIC if ip.is_global else PRIVATE
    return PUBLIC


def is_relayed(conn: INetConn) -> bool:
    """True for a connection through a circuit relay (py-libp2p tags those RELAYED)."""
    try:
        if conn.get_connection_type().value == "relayed":
            return True
        # Only the addresses of the transport itself: SwarmConn falls back to the peerstore's.
        actual = getattr(conn, "_actual_transport_addresses", None)
        if actual is None:
            actual = conn.muxed_conn.get_transport_addresses()
        return any("/p2p-circuit" in str(a) for a in actual)
    except Exception:
        return False


# -- the service ----------------------------------------------------------------------------------
class HolePuncher:
    """Both roles of DCUtR for one node, and what it achieved per peer.

    ``own_addrs`` returns our direct addresses (announced and listening) for CONNECT messages;
    ``candidates`` the unconfirmed external addresses trusted peers observed us at
    (``p2p.discovery.observed``), which CONNECT carries after them."""

    def __init__(
        self,
        ctx: SwarmContext,
        own_addrs: Callable[[], Sequence[str | Multiaddr]],
        limits: HolePunchLimits | None = None,
        enabled: bool = True,
        candidates: Callable[[], Sequence[Multiaddr]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.host = ctx.host
        self.limits = limits or HolePunchLimits()
        self.enabled = enabled
        self.succeeded: dict[str, int] = {}  # peer -> sessions that ended with a direct connection
        self.failed: dict[str, int] = {}  # peer -> sessions that did not
        self._own_addrs = own_addrs
        self._candidates = candidates or (lambda: ())
        self._active: set[str] = set()
        self._sessions: dict[str, list[float]] = {}  # peer -> start times within the window
        self._nursery: trio.Nursery | None = None
        if enabled:
            ctx.serve(PROTOCOL_ID, self._serve)

    def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery

    # -- state -------------------------------------------------------------------------------------
    def _connections(self, peer: ID) -> list[INetConn]:
        try:
            conns = self.host.get_network().get_connections(peer)
        except Exception:
            return []
        return [c for c in conns if not getattr(c, "is_closed", False)]

    def direct(self, peer: ID) -> bool:
        """We hold a direct (not relayed) connection to ``peer``."""
        return any(not is_relayed(c) for c in self._connections(peer))

    def route(self, peer: ID) -> str:
        """ "direct", "relayed" (only through relays) or "none" (not connected)."""
        conns = self._connections(peer)
        if not conns:
            return "none"
        return "relayed" if all(is_relayed(c) for c in conns) else "direct"

    def totals(self) -> tuple[int, int]:
        """Successful and failed upgrade sessions, all peers together."""
        return sum(self.succeeded.values()), sum(self.failed.values())

    def _record(self, peer: ID, ok: bool) -> None:
        book = self.succeeded if ok else self.failed
        book[str(peer)] = book.get(str(peer), 0) + 1
        if len(book) > 4096:  # keep the counts of connected peers only
            for key in [k for k in book if not self._connections(ID.from_base58(k))]:
                del book[key]
        log.info("direct connection upgrade with %s %s", peer, "succeeded" if ok else "failed")
        if ok and self._nursery is not None:
            try:
                self._nursery.start_soon(self._retire_relayed, peer)
            except RuntimeError:  # the node is stopping
                pass

    def _may_start(self, key: str) -> bool:
        """Count a session with ``key`` against its budget; False when the budget is spent."""
        now = trio.current_time()
        window = self.limits.session_window
        times = [t for t in self._sessions.get(key, ()) if now - t < window]
        if len(times) >= self.limits.sessions_per_peer:
            self._sessions[key] = times
            return False
        times.append(now)
        self._sessions[key] = times
        if len(self._sessions) > 4096:  # forget peers whose sessions are all outside the window
            for k in [k for k, ts in self._sessions.items() if now - ts[-1] >= window]:
                del self._sessions[k]
        return True

    def _confirmed(self) -> list[Multiaddr]:
        """Our own direct addresses: plain TCP ones, widest scope first."""
        seen: dict[str, Multiaddr] = {}
        for raw in self._own_addrs():
            text = str(raw)
            if "/p2p-circuit" in text:
                continue
            try:
                addr = tcp_addr(Multiaddr(text.split("/p2p/", 1)[0]))
            except Exception:  # a malformed announced address: not ours to send
                continue
            if addr is not None:
                seen.setdefault(str(addr), addr)
        return sorted(seen.values(), key=scope, reverse=True)

    def _advertised(self) -> tuple[bytes, ...]:
        """Our addresses for CONNECT, at most MAX_ADDRS: the confirmed ones, then up to
        MAX_CANDIDATES observed candidates (room is kept for them)."""
        confirmed = self._confirmed()
        known = {str(a) for a in confirmed}
        extra: list[Multiaddr] = []
        for raw in self._candidates():
            addr = tcp_addr(raw) if isinstance(raw, Multiaddr) else None
            if addr is not None and str(addr) not in known and len(extra) < MAX_CANDIDATES:
                known.add(str(addr))
                extra.append(addr)
        chosen = confirmed[: MAX_ADDRS - len(extra)] + extra
        return tuple(a.to_bytes() for a in chosen[:MAX_ADDRS])

    def floor(self) -> int:
        """The narrowest scope we dial: that of our own narrowest confirmed address (PUBLIC if
        none). Observed candidates do not widen what a peer can make us dial."""
        return min((scope(a) for a in self._confirmed()[:MAX_ADDRS]), default=PUBLIC)

    def dialable(self, raw: Sequence[bytes], peer: ID) -> list[Multiaddr]:
        """The addresses of a CONNECT from ``peer`` that we would dial."""
        floor = self.floor()
        out: dict[str, Multiaddr] = {}
        for data in raw[:MAX_ADDRS_READ]:
            addr = tcp_addr(data, peer)
            if addr is not None and scope(addr) >= floor:
                out.setdefault(str(addr), addr)
            if len(out) == MAX_ADDRS:
                break
        return list(out.values())

    def _source(self, target: Multiaddr) -> tuple[str, int] | None:
        """Our TCP listen socket of ``target``'s IP family, to dial public addresses from (an
        IPv6 address cannot be dialled from an IPv4 socket, nor the other way round)."""
        family = "/ip6/" if str(target).startswith("/ip6/") else "/ip4/"
        try:
            listening = list(self.host.get_transport_addrs())
        except Exception:
            return None
        for addr in listening:
            text = str(addr)
            if not text.startswith(family) or "/tcp/" not in text or "/p2p-circuit" in text:
                continue
            try:
                ip = addr.value_for_protocol(family.strip("/"))
                return str(ip), int(addr.value_for_protocol("tcp"))
            except Exception:
                continue
        return None

    # -- when a relayed connection opens -----------------------------------------------------------
    def on_connected(self, conn: INetConn) -> None:
        """Called for every new connection: relayed ones get an upgrade attempt in the
        background, at once on the accepting side, after ``outbound_grace`` on the dialling one."""
        if not self.enabled or self._nursery is None or not is_relayed(conn):
            return
        peer = conn.muxed_conn.peer_id
        inbound = not getattr(conn.muxed_conn, "is_initiator", True)
        delay = 0.0 if inbound else self.limits.outbound_grace
        self._nursery.start_soon(self._upgrade_later, peer, delay)

    async def _upgrade_later(self, peer: ID, delay: float) -> None:
        since = trio.current_time()
        await self._identified(peer)
        await trio.sleep(delay)
        started = self._sessions.get(str(peer))
        if delay and started and started[-1] >= since:
            return  # the other side led a session meanwhile
        try:
            await self.upgrade(peer)
        except Exception:  # never let one peer's upgrade take the node's nursery down
            log.exception("direct connection upgrade with %s failed", peer)

    async def _identified(self, peer: ID) -> None:
        """Wait (briefly) for identify: it brings the peer's addresses and protocols."""
        ps = self.host.get_peerstore()
        with trio.move_on_after(self.limits.message_timeout):
            while True:
                try:
                    if ps.get_protocols(peer):
                        return
                except Exception:
                    pass
                await trio.sleep(0.05)

    def _supports(self, peer: ID) -> bool:
        try:
            protocols = self.host.get_peerstore().get_protocols(peer)
        except Exception:
            return True  # unknown yet: try
        return not protocols or PROTOCOL_ID in protocols

    # -- leading side (B) --------------------------------------------------------------------------
    async def upgrade(self, peer: ID) -> bool:
        """Try to reach ``peer``, connected through a relay, directly. True when a direct
        connection exists afterwards. Runs at most one session per peer at a time, within the
        peer's session budget."""
        if self.direct(peer):
            return True
        key = str(peer)
        if (
            not self._connections(peer)
            or key in self._active
            or self.ctx.guard.is_banned(key)
            or not self._supports(peer)
            or not self._may_start(key)
        ):
            return False
        self._active.add(key)
        try:
            ok = await self._unilateral(peer) or await self._lead(peer)
        finally:
            self._active.discard(key)
        ok = ok or self.direct(peer)
        self._record(peer, ok)
        return ok

    async def _unilateral(self, peer: ID) -> bool:
        """Dial the peer's public addresses from identify: enough when it is not behind NAT."""
        try:
            known = self.host.get_peerstore().addrs(peer)
        except Exception:
            return False
        public: dict[str, Multiaddr] = {}
        for raw in known:
            addr = tcp_addr(raw, peer)
            if addr is not None and scope(addr) == PUBLIC:
                public.setdefault(str(addr), addr)
        if not public:
            return False
        return await self._dial_round(peer, list(public.values())[:MAX_ADDRS], responder=False)

    async def _lead(self, peer: ID) -> bool:
        key = str(peer)
        try:
            stream = await self.ctx.open(peer, PROTOCOL_ID)
        except DialError as exc:
            log.info("no DCUtR stream to %s: %s", peer, exc)
            return False
        try:
            for attempt in range(self.limits.attempts):
                if attempt:
                    await trio.sleep(self.limits.retry_delay * 2 ** (attempt - 1))
                if self.direct(peer):
                    return True
                started = trio.current_time()
                await stream.write_frame(HolePunch(CONNECT, self._advertised()).encode())
                reply = await self._read(stream, self.limits.message_timeout)
                if reply is None:
                    return False
                check(reply.type == CONNECT, "expected CONNECT in reply to CONNECT")
                rtt = trio.current_time() - started
                theirs = [a for a in self.dialable(reply.addrs, peer) if scope(a) == PUBLIC]
                await stream.write_frame(HolePunch(SYNC).encode())
                await trio.sleep(rtt / 2)
                if await self._dial_round(peer, theirs, responder=True):
                    return True
            return False
        except ProtocolViolation as exc:
            await stream.reset()
            await self.ctx.guard.ban(key, f"{PROTOCOL_ID}: {exc}")
            return False
        except PeerClosed:
            return False
        finally:
            await stream.close()

    # -- answering side (A) ------------------------------------------------------------------------
    async def _serve(self, stream: FramedStream, peer: ID) -> None:
        # A ProtocolViolation raised here cuts the peer off (SwarmContext.serve); PeerClosed or
        # returning ends the stream.
        key = str(peer)
        first = await self._read(stream, self.limits.message_timeout)
        if first is None:
            return
        check(first.type == CONNECT, "a DCUtR session must start with CONNECT")
        if not is_relayed_stream(stream) or key in self._active or not self._may_start(key):
            return  # not over a relay, or a session is running: refuse by closing
        self._active.add(key)
        ok = stopped = False
        try:
            message: HolePunch | None = first
            for _ in range(self.limits.attempts):
                assert message is not None
                theirs = self.dialable(message.addrs, peer)
                await stream.write_frame(HolePunch(CONNECT, self._advertised()).encode())
                sync = await self._read(stream, self.limits.message_timeout)
                if sync is None:
                    break
                check(sync.type == SYNC, "expected SYNC after CONNECT")
                if await self._dial_round(peer, theirs, responder=False):
                    ok = True
                    break
                try:
                    message = await self._read(stream, self.limits.retry_wait)
                except PeerClosed:
                    break
                if message is None:
                    break
                check(message.type == CONNECT, "a DCUtR round must start with CONNECT")
        except trio.Cancelled:
            stopped = True
            raise
        finally:
            self._active.discard(key)
            if not stopped:  # a violation still counts as a failed session
                self._record(peer, ok or self.direct(peer))

    async def _read(self, stream: FramedStream, timeout: float) -> HolePunch | None:
        """The next message, or None if it did not come in time (slow is not hostile here: the
        relay may be busy)."""
        with trio.move_on_after(timeout):
            return HolePunch.decode(await stream.read_frame(MAX_MESSAGE, math.inf))
        return None

    # -- dialling ----------------------------------------------------------------------------------
    async def _dial_round(self, peer: ID, addrs: Sequence[Multiaddr], responder: bool) -> bool:
        """Dial ``addrs`` in parallel until a direct connection to ``peer`` exists (ours or the
        peer's own dial arriving), for at most ``dial_timeout``."""
        ps = self.host.get_peerstore()
        try:
            known = list(ps.addrs(peer))
        except Exception:
            known = []
        with trio.move_on_after(self.limits.dial_timeout):
            async with trio.open_nursery() as nursery:
                for addr in addrs:
                    nursery.start_soon(self._dial, peer, addr, responder)
                while not self.direct(peer):
                    await trio.sleep(0.02)
                nursery.cancel_scope.cancel()
        # py-libp2p's swarm forgets a peer's addresses when a dial reaches someone else.
        if known:
            try:
                if not ps.addrs(peer):
                    ps.add_addrs(peer, known, 600)
            except Exception:
                pass
        return self.direct(peer)

    async def _dial(self, peer: ID, addr: Multiaddr, responder: bool) -> None:
        network = self.host.get_network()
        source = self._source(addr) if scope(addr) == PUBLIC else None
        try:
            if responder:
                await network.dial_addr_as_responder(addr, peer, source)
            else:
                await network.dial_addr(addr, peer, source)
        except Exception as exc:
            log.debug("DCUtR dial of %s at %s failed: %s", peer, addr, exc)

    async def _retire_relayed(self, peer: ID) -> None:
        """After an upgrade, close the relayed connections to ``peer`` once the grace period is
        over (streams already open on them may finish; new ones use the direct connection)."""
        await trio.sleep(self.limits.relay_close_grace)
        if not self.direct(peer):
            return
        for conn in self._connections(peer):
            if is_relayed(conn):
                with trio.move_on_after(2):
                    try:
                        await conn.close()
                    except Exception as exc:
                        log.debug("closing the relayed connection to %s: %s", peer, exc)


def is_relayed_stream(stream: FramedStream) -> bool:
    """The stream runs over a relayed connection."""
    muxed = getattr(stream.stream, "muxed_conn", None)
    if muxed is None:
        return False
    try:
        if muxed.get_connection_type().value == "relayed":
            return True
        return any("/p2p-circuit" in str(a) for a in muxed.get_transport_addresses())
    except Exception:
        return False
