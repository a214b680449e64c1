"""Content routing over py-libp2p's Kademlia DHT (``/ipfs/kad/1.0.0``).

Provider records ("peer P serves content C") and peer lookups ("where is peer P?", FIND_NODE
of its ID). py-libp2p's ``KadDHT`` supplies the routing table, the iterative FIND_NODE lookup and
the server side of the protocol; this module adds what a desktop node needs on top:

* the DHT key of a content ID is the BLAKE2b-256 multihash of it (``a0e402 20 || content_id``),
  so the key is what any Kademlia implementation expects;
* every record the node accepts is bounded (keys, providers per key, addresses per provider),
  value records (``PUT_VALUE``) are not stored at all, and inbound DHT streams go through the
  node's ``PeerGuard`` (bans, per-peer stream cap);
* our own ``provide`` and ``find_providers`` advertise and return relayed addresses too, use our
  timeouts, and never cache what a lookup returned as if we had been told it by the provider;
* ``find_peer`` looks a peer ID up with our own bounded FIND_NODE queries and returns only
  addresses worth dialling (``usable_addrs``: plain TCP and relay circuits, never in a narrower
  scope than our own), so a DHT peer cannot make us dial DNS names, other transports, or
  loopback and LAN addresses we do not share.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import trio
import varint
from libp2p.abc import IHost, INetStream
from libp2p.kad_dht.common import PROTOCOL_ID
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.kad_dht.pb.kademlia_pb2 import Message
from libp2p.kad_dht.provider_store import ProviderStore
from libp2p.kad_dht.utils import sort_peer_ids_by_distance
from libp2p.kad_dht.value_store import ValueStore
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import env_to_send_in_RPC
from multiaddr import Multiaddr

from p2p.discovery.dcutr import LOOPBACK, scope, tcp_addr
from p2p.limits import PeerGuard
from p2p.wire import FramedStream

log = logging.getLogger(__name__)

DHT_PROTOCOL = str(PROTOCOL_ID)
MULTIHASH_BLAKE2B_256 = bytes.fromhex("a0e40220")  # varint(0xb220) || length 32

MAX_PROVIDER_KEYS = 5_000  # content IDs we keep provider records for (20 providers each)
MAX_ADDRS_PER_PROVIDER = 8
MAX_ADDR_BYTES = 256
PROVIDE_RATE_PER_PEER = 100  # ADD_PROVIDER messages accepted per peer per 10 s
LOOKUP_ROUNDS = 3
LOOKUP_PARALLEL = 3
PEER_QUERY_TIMEOUT = 2.0  # one GET_PROVIDERS exchange
ADDR_TTL = 600  # seconds a provider address learned from the DHT stays in the peerstore
MAX_FIND_NODE_REPLY = 64 * 1024  # bytes of one FIND_NODE answer we read
MAX_CLOSER_PEERS = 20  # entries of a FIND_NODE answer looked at
MAX_ADDRS_READ = 16  # addresses of one entry looked at
MAX_PEER_ID_BYTES = 64


def dht_key(content_id: bytes) -> bytes:
    """The Kademlia key of a content ID: its BLAKE2b-256 multihash."""
    if len(content_id) != 32:
        raise ValueError("a content ID is 32 bytes")
    return MULTIHASH_BLAKE2B_256 + content_id


def usable_addrs(
    addrs: Sequence[bytes | Multiaddr], peer: ID, floor: int = LOOPBACK
) -> list[Multiaddr]:
    """The addresses of ``peer`` worth dialling, at most ``MAX_ADDRS_PER_PROVIDER``: plain
    ``/ip4|ip6/<ip>/tcp/<port>`` ones and relay circuits
    ``/ip4|ip6/<ip>/tcp/<port>/p2p/<relay>/p2p-circuit``, of at most ``MAX_ADDR_BYTES``, whose IP
    is in scope ``floor`` or wider (``dcutr.scope``). A trailing ``/p2p/<peer>`` is dropped;
    anything else is refused."""
    out: dict[str, Multiaddr] = {}
    suffix = f"/p2p/{peer.to_base58()}"
    for raw in addrs[:MAX_ADDRS_READ]:
        try:
            addr = raw if isinstance(raw, Multiaddr) else Multiaddr(raw)
            if not isinstance(raw, Multiaddr) and addr.to_bytes() != raw:
                continue  # truncated bytes that the multiaddr library read leniently
            if len(addr.to_bytes()) > MAX_ADDR_BYTES:
                continue
            text = str(addr)
        except Exception:
            continue
        if text.endswith(suffix):
            text = text[: -len(suffix)]
        base, circuit, rest = text.partition("/p2p-circuit")
        if rest:
            continue
        relay = None
        if circuit:
            base, _, relay = base.partition("/p2p/")
            try:
                if not relay or ID.from_base58(relay) == peer:
                    continue
            except Exception:
                continue
        try:
            direct = tcp_addr(Multiaddr(base))
        except Exception:
            continue
        if direct is None or scope(direct) < floor:
            continue
        usable = Multiaddr(f"{direct}/p2p/{relay}/p2p-circuit") if relay else direct
        out.setdefault(str(usable), usable)
        if len(out) == MAX_ADDRS_PER_PROVIDER:
            break
    return list(out.values())


def _bounded_addrs(addrs: Sequence[Multiaddr]) -> list[Multiaddr]:
    return [a for a in addrs if len(a.to_bytes()) <= MAX_ADDR_BYTES][:MAX_ADDRS_PER_PROVIDER]


class BoundedProviderStore(ProviderStore):
    """py-libp2p's provider store caps providers per key (20) but not keys or addresses."""

    def add_provider(self, key: bytes, provider: PeerInfo) -> None:
        if key not in self.providers and len(self.providers) >= MAX_PROVIDER_KEYS:
            self.cleanup_expired()
            if len(self.providers) >= MAX_PROVIDER_KEYS:
                log.debug("provider store full; dropping a record for %s", key.hex())
                return
        addrs = _bounded_addrs(provider.addrs)
        if not addrs:
            return
        super().add_provider(key, PeerInfo(provider.peer_id, addrs))


class NoValueStore(ValueStore):
    """Cooptracks keeps no DHT value records; a PUT_VALUE is acknowledged and forgotten."""

    def put(self, key: bytes, value: bytes, validity: float = 0.0) -> None:
        return

    def put_record(self, key: bytes, record: object) -> None:
        return


async def _ask_each(peers: Sequence[ID], ask: Callable[[ID], Awaitable[None]]) -> None:
    """``ask(peer)`` for each of one lookup round's ``peers``, ``LOOKUP_PARALLEL`` at a time."""
    limiter = trio.CapacityLimiter(LOOKUP_PARALLEL)

    async def limited(peer: ID) -> None:
        async with limiter:
            await ask(peer)

    async with trio.open_nursery() as nursery:
        for peer in peers:
            nursery.start_soon(limited, peer)


class ContentRouting:
    """The node's DHT: provider records for content IDs."""

    def __init__(
        self, host: IHost, guard: PeerGuard, server: bool, query_timeout: float = 5.0
    ) -> None:
        self.host = host
        self.guard = guard
        self.query_timeout = query_timeout
        self.dht = KadDHT(
            host, DHTMode.SERVER if server else DHTMode.CLIENT, enable_random_walk=False
        )
        self.dht.provider_store = BoundedProviderStore(host, self.dht.peer_routing)
        self.dht.value_store = NoValueStore(host, host.get_id())
        self.dht._provider_rate_max = PROVIDE_RATE_PER_PEER
        self.server = False
        self.set_server(server)

    # -- mode --------------------------------------------------------------------------------------
    def set_server(self, server: bool) -> None:
        """Serve the DHT protocol (publicly reachable nodes) or only query it (behind NAT)."""
        if server == self.server and (self.dht.mode == DHTMode.SERVER) == server:
            return
        self.server = server
        if server:
            self.dht.mode = DHTMode.SERVER
            self.host.set_stream_handler(PROTOCOL_ID, self._guarded)
        else:
            self.dht.mode = DHTMode.CLIENT
            try:
                self.host.remove_stream_handler(PROTOCOL_ID)
            except Exception:
                pass

    async def _guarded(self, stream: INetStream) -> None:
        peer = str(stream.muxed_conn.peer_id)
        async with self.guard.inbound_stream(peer, DHT_PROTOCOL) as allowed:
            if not allowed:
                try:
                    await stream.reset()
                except Exception:
                    pass
                return
            with trio.move_on_after(self.guard.limits.idle_timeout):
                await self.dht.handle_stream(stream)

    async def add_peer(self, peer: ID) -> bool:
        """Put a connected peer in the routing table if it serves the DHT."""
        return await self.dht.add_peer(peer)

    def routing_table_size(self) -> int:
        return self.dht.get_routing_table_size()

    def knows(self, peer: ID) -> bool:
        """Whether ``peer`` is in the routing table (its peerstore record is then kept)."""
        try:
            return bool(self.dht.routing_table.peer_in_table(peer))
        except Exception:
            return False

    def provider_count(self) -> int:
        return self.dht.provider_store.size()

    def _serves_dht(self, peer: ID) -> bool:
        """Worth asking: identify says it serves the DHT, or identify has not answered yet for
        a peer we dialled (a peer that dialled us without listening anywhere never serves it)."""
        ps = self.host.get_peerstore()
        try:
            protocols = ps.get_protocols(peer)
        except Exception:
            protocols = []
        if protocols:
            return DHT_PROTOCOL in protocols
        try:
            return bool(ps.addrs(peer))
        except Exception:
            return False

    # -- provide -----------------------------------------------------------------------------------
    async def provide(self, content_id: bytes, addrs: Sequence[Multiaddr]) -> int:
        """Store a provider record for ``content_id`` (us, at ``addrs``) on the peers closest to
        its key. Returns how many peers accepted it."""
        key = dht_key(content_id)
        me = self.host.get_id()
        addrs = _bounded_addrs(addrs)
        if not addrs:
            return 0
        self.dht.provider_store.add_provider(key, PeerInfo(me, addrs))
        closest: list[ID] = []
        with trio.move_on_after(self.query_timeout):
            closest = await self.dht.peer_routing.find_closest_peers_network(key)
        stored = 0

        async def send(peer: ID) -> None:
            nonlocal stored
            with trio.move_on_after(self.query_timeout):
                if await self._send_add_provider(peer, key, addrs):
                    stored += 1

        async with trio.open_nursery() as nursery:
            for peer in closest[:20]:
                if peer != me and not self.guard.is_banned(str(peer)):
                    nursery.start_soon(send, peer)
        return stored

    async def _send_add_provider(self, peer: ID, key: bytes, addrs: Sequence[Multiaddr]) -> bool:
        message = Message()
        message.type = Message.MessageType.ADD_PROVIDER
        message.key = key
        envelope, _ = env_to_send_in_RPC(self.host)
        message.senderRecord = envelope
        provider = message.providerPeers.add()
        provider.id = self.host.get_id().to_bytes()
        provider.addrs.extend(a.to_bytes() for a in addrs)
        data = message.SerializeToString()
        try:
            stream = await self.host.new_stream(peer, [PROTOCOL_ID])
        except Exception as exc:
            log.debug("ADD_PROVIDER to %s: %s", peer, exc)
            return False
        try:
            await stream.write(varint.encode(len(data)) + data)
            return True
        except Exception as exc:
            log.debug("ADD_PROVIDER to %s: %s", peer, exc)
            return False
        finally:
            await stream.close()

    # -- find --------------------------------------------------------------------------------------
    async def find_providers(self, content_id: bytes, count: int = 8) -> list[PeerInfo]:
        """Providers of ``content_id`` from the DHT (records held here first, then an iterative
        GET_PROVIDERS lookup of at most three rounds). Their addresses, if the records carry
        any, go to the peerstore."""
        key = dht_key(content_id)
        me = self.host.get_id()
        found: dict[ID, PeerInfo] = {}

        def take(infos: Sequence[PeerInfo]) -> None:
            for info in infos:
                # A provider without addresses is kept: the caller can look it up (find_peer).
                addrs = _bounded_addrs(info.addrs)
                if info.peer_id == me or self.guard.is_banned(str(info.peer_id)):
                    continue
                if info.peer_id not in found and len(found) < count:
                    found[info.peer_id] = PeerInfo(info.peer_id, addrs)

        take(self.dht.provider_store.get_providers(key))
        with trio.move_on_after(self.query_timeout):
            candidates = self.dht.routing_table.find_local_closest_peers(key, 20)
            candidates += [
                p
                for p in self.host.get_connected_peers()
                if p not in candidates and self._serves_dht(p)
            ]
            asked: set[ID] = {me}
            for _ in range(LOOKUP_ROUNDS):
                batch = [p for p in candidates if p not in asked][: LOOKUP_PARALLEL * 2]
                if not batch or len(found) >= count:
                    break
                closer: list[ID] = []

                async def ask(peer: ID, closer: list[ID] = closer) -> None:
                    asked.add(peer)
                    store = self.dht.provider_store
                    with trio.move_on_after(PEER_QUERY_TIMEOUT):
                        providers, nearer = await store._get_providers_from_peer_with_closers(
                            peer, key
                        )
                        take(providers)
                        closer.extend(nearer[:20])

                await _ask_each(batch, ask)
                candidates += [p for p in closer if p not in candidates and p not in asked]
        ps = self.host.get_peerstore()
        for info in found.values():
            if info.addrs:
                ps.add_addrs(info.peer_id, info.addrs, ADDR_TTL)
        return list(found.values())

    # -- find a peer -------------------------------------------------------------------------------
    async def find_peer(self, peer: ID, floor: int = LOOPBACK) -> PeerInfo | None:
        """The addresses of ``peer`` from the DHT, or None if no one we could ask knew a usable
        one. An iterative FIND_NODE lookup of its ID: the closest peers in the routing table and
        connected DHT servers first, at most ``LOOKUP_ROUNDS`` rounds of ``LOOKUP_PARALLEL * 2``
        peers (``LOOKUP_PARALLEL`` at once, ``PEER_QUERY_TIMEOUT`` each), ``query_timeout``
        overall; it stops at the first answer that names ``peer`` with addresses that pass
        ``usable_addrs(..., floor)``. Peers met on the way go to the peerstore (direct addresses,
        ``ADDR_TTL``) so later rounds can ask them; the answer for ``peer`` does not."""
        key = peer.to_bytes()
        me = self.host.get_id()
        if peer == me or self.guard.is_banned(str(peer)):
            return None
        found: list[Multiaddr] = []
        ps = self.host.get_peerstore()
        with trio.move_on_after(self.query_timeout) as lookup:
            candidates = self.dht.routing_table.find_local_closest_peers(key, 20)
            candidates += [
                p
                for p in self.host.get_connected_peers()
                if p not in candidates and self._serves_dht(p)
            ]
            asked: set[ID] = {me, peer}
            for _ in range(LOOKUP_ROUNDS):
                batch = sort_peer_ids_by_distance(key, [p for p in candidates if p not in asked])[
                    : LOOKUP_PARALLEL * 2
                ]
                if not batch:
                    break
                met: dict[ID, list[Multiaddr]] = {}

                async def ask(who: ID, met: dict[ID, list[Multiaddr]] = met) -> None:
                    asked.add(who)
                    for other, raw in await self._find_node(who, key):
                        if other == peer:
                            addrs = usable_addrs(raw, peer, floor)
                            if addrs and not found:
                                found.extend(addrs)
                                lookup.cancel()
                        elif other != me and not self.guard.is_banned(str(other)):
                            direct = [
                                a
                                for a in usable_addrs(raw, other, floor)
                                if "/p2p-circuit" not in str(a)
                            ]
                            if direct:
                                met.setdefault(other, direct)

                await _ask_each(batch, ask)
                for other, addrs in met.items():
                    if other not in candidates:
                        candidates.append(other)
                        ps.add_addrs(other, addrs, ADDR_TTL)
        return PeerInfo(peer, found) if found else None

    async def _find_node(self, peer: ID, key: bytes) -> list[tuple[ID, list[bytes]]]:
        """One FIND_NODE exchange: the peers ``peer`` names as closest to ``key``, each with its
        raw addresses (at most ``MAX_CLOSER_PEERS`` of ``MAX_ADDRS_READ``). Empty when the peer
        cannot be asked or answers oddly (its answer is not policed: DHT peers are strangers)."""
        message = Message()
        message.type = Message.MessageType.FIND_NODE
        message.key = key
        envelope, _ = env_to_send_in_RPC(self.host)
        message.senderRecord = envelope
        data = message.SerializeToString()
        reply = Message()
        try:
            with trio.fail_after(PEER_QUERY_TIMEOUT):
                stream = await self.host.new_stream(peer, [PROTOCOL_ID])
        except Exception as exc:
            log.debug("FIND_NODE to %s: %s", peer, exc)
            return []
        try:
            await stream.write(varint.encode(len(data)) + data)
            body = await FramedStream(stream).read_frame(MAX_FIND_NODE_REPLY, PEER_QUERY_TIMEOUT)
            reply.ParseFromString(body)
        except Exception as exc:  # ProtocolViolation, PeerClosed, a protobuf DecodeError
            log.debug("FIND_NODE to %s: %s", peer, exc)
            return []
        finally:
            await stream.close()
        if reply.type != Message.MessageType.FIND_NODE:
            return []
        out: list[tuple[ID, list[bytes]]] = []
        for entry in reply.closerPeers[:MAX_CLOSER_PEERS]:
            if not 0 < len(entry.id) <= MAX_PEER_ID_BYTES:
                continue
            try:
                other = ID(entry.id)
            except Exception:
                continue
            out.append((other, list(entry.addrs[:MAX_ADDRS_READ])))
        return out


class ProvideSchedule:
    """When each content ID was last put in the DHT, so re-provides are spaced out."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[bytes, float] = {}

    def due(self, content_ids: Sequence[bytes], force: bool = False) -> list[bytes]:
        now = time.monotonic()
        return [
            c
            for c in content_ids
            if force or now - self._last.get(c, -self.interval - 1) >= self.interval
        ]

    def done(self, content_id: bytes) -> None:
        self._last[content_id] = time.monotonic()
