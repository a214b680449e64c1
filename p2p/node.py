"""A running Cooptracks node: host + gossip + ledger replication + content, as one context manager.

    config = NodeConfig(seed=..., listen=(...,), bootstrap=(...,))
    async with open_node(config, ledger, store) as node:
        await node.connect("/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo...")
        await node.sync()                       # pull from every connected peer
        await node.provide([content_id])        # tell the swarm we serve it
        await node.fetch(content_id, on_progress=print)

Everything the GUI shows comes from ``node.status()`` (peers, reachability, bandwidth, downloads).
Peers are found through bootstrap addresses, mDNS on the LAN (``NodeConfig.mdns``) and, for
content, the Kademlia DHT; a node that others cannot dial (found by the dial-back check in
``p2p.discovery.autonat``) reserves a slot on a relaying seeder and is reached through it, and
relayed connections are upgraded to direct ones where possible (``p2p.discovery.dcutr``).
Entries appended to the ledger by this identity are announced automatically; entries announced by
others are ingested, and missing history is pulled with the sync protocol.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.tools.anyio_service import background_trio_service
from multiaddr import Multiaddr

from content.chunkstore import ChunkStore
from content.format import Manifest
from ledger.entry import Entry
from ledger.forks import ForkProof
from ledger.ledger import Ledger
from p2p.connections import ConnectionLimits, ConnectionManager
from p2p.content.download import Download, DownloadFailed, Progress
from p2p.content.messages import (
    HAS_COMPLETE,
    HAS_NOTHING,
    MAX_HAS_IDS,
    MAX_RESPONSE,
    RESPONSES,
    Has,
    HasReply,
)
from p2p.content.messages import PROTOCOL_ID as CONTENT_PROTOCOL
from p2p.content.server import ContentServer
from p2p.context import DialError, SwarmContext
from p2p.discovery import autonat
from p2p.discovery.autonat import AutoNAT, is_direct
from p2p.discovery.dcutr import HolePuncher, HolePunchLimits, is_relayed
from p2p.discovery.dht import ContentRouting, ProvideSchedule, usable_addrs
from p2p.discovery.mdns import LanDiscovery
from p2p.discovery.observed import ExternalAddrs
from p2p.discovery.relay import MAX_RESERVATIONS, RelayService
from p2p.gossip import MAX_HEADS, Announce, ForkAnnounce, Gossip, Heads, Provide, batch_wires
from p2p.host import build_host, dialable_addrs, parse_peer_addr, peer_id_from_seed
from p2p.limits import Limits, PeerGuard
from p2p.pinning import Pinner, SeedPolicy
from p2p.providers import ProviderTable, network_of
from p2p.sync.protocol import LedgerAccess, Replicator, SyncResult, is_forgery
from p2p.wire import Counters, Message, PeerClosed, ProtocolViolation, decode_message

log = logging.getLogger(__name__)

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
MAX_LOOKUPS = 8  # announced providers reached by peer ID for one fetch
MAX_LAST_SYNC = 256  # peers whose last sync result is kept (the latest ones)
MAX_SERVED_RECORDS = 1024  # downloads whose bytes per provider are kept (the latest ones)
ED25519_PEER_PREFIX = b"\x00\x24\x08\x01\x12\x20"  # identity multihash of PublicKey{1, key}


@dataclass(frozen=True)
class NodeConfig:
    """How to run a node. ``seed`` is the identity's 32-byte ed25519 seed."""

    seed: bytes = field(repr=False)
    listen: tuple[str, ...] = (LOOPBACK,)
    bootstrap: tuple[str, ...] = ()
    mdns: bool = False
    gossip_heartbeat: float = 1.0
    sync_interval: float = 30.0  # anti-entropy pull from every peer this often
    provide_interval: float = 60.0  # re-announce the content we hold this often
    # Look this often for entries that other processes on the profile (a CLI command beside a
    # running app or seeder) wrote to the ledger file; one PRAGMA when nothing changed.
    local_writes_interval: float = 0.5
    limits: Limits = field(default_factory=Limits)
    seeding: SeedPolicy = field(default_factory=SeedPolicy)
    # Discovery and reachability (docs/PROTOCOL.md, "Discovery and reachability").
    dht_mode: str = "auto"  # "server" | "client" | "auto": server once the dial-back says public
    relay_service: bool = False  # act as a circuit relay v2 for others (seeders)
    use_relays: bool = True  # when private, reserve a slot on a connected relay
    announce: tuple[str, ...] = ()  # advertise these instead of the listen addresses
    reachability_interval: float = 300.0  # re-run the dial-back check this often
    hole_punching: bool = True  # upgrade relayed connections to direct ones (DCUtR)
    hole_punch: HolePunchLimits = field(default_factory=HolePunchLimits)
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)
    dht_reprovide_interval: float = 12 * 3600.0  # provider records live 48 h at the peers
    # Which held content this node announces and serves; None: all of it. A fan who keeps
    # purchases to itself passes its own releases' content only (docs/DECISIONS.md, privacy).
    share: Callable[[bytes], bool] | None = None

    def __post_init__(self) -> None:
        if self.dht_mode not in ("server", "client", "auto"):
            raise ValueError(f"dht_mode must be server, client or auto, not {self.dht_mode!r}")


@dataclass(frozen=True)
class PeerStatus:
    peer_id: str
    addrs: tuple[str, ...]
    inbound: bool
    bytes_in: int
    bytes_out: int
    connection: str = "direct"  # "direct" | "relayed" (only through a circuit relay)
    upgrades: int = 0  # relayed connections to this peer upgraded to direct ones
    upgrade_failures: int = 0  # upgrade sessions with this peer that ended still relayed


@dataclass(frozen=True)
class NodeStatus:
    """What the Network view shows."""

    peer_id: str
    addrs: tuple[str, ...]
    reachability: str  # "public" | "private" (behind NAT; relayed if relay_addrs) | "unknown"
    peers: tuple[PeerStatus, ...]
    bytes_in: int
    bytes_out: int
    banned: dict[str, str]
    downloads: tuple[Progress, ...]
    pinned: int
    entries: int
    relay_addrs: tuple[str, ...] = ()  # our addresses through relays, when private
    dht_mode: str = "client"  # "server" | "client"
    dht_peers: int = 0  # routing table size
    lan_peers: int = 0  # peers found by mDNS
    relaying: bool = False  # we offer circuit relay to others
    upgrades: int = 0  # relayed connections upgraded to direct ones, all peers together
    upgrade_failures: int = 0  # upgrade sessions that ended still relayed


class _Notifee(INotifee):
    def __init__(self, node: Node) -> None:
        self.node = node

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self.node._on_connected(conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self.node._on_disconnected(conn)

    async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
        pass


class Node:
    """One identity on the swarm. Create it with ``open_node``."""

    def __init__(self, config: NodeConfig, ledger: Ledger, store: ChunkStore) -> None:
        self.config = config
        self.peer_id = peer_id_from_seed(config.seed)
        self.host = build_host(config.seed)
        self.counters = Counters()
        self.guard = PeerGuard(config.limits, self._disconnect)
        self.ctx = SwarmContext(self.host, self.guard, self.counters, config.limits)
        self.ledger = LedgerAccess(ledger)
        self.store = store
        self.replicator = Replicator(self.ctx, self.ledger)
        self.content = ContentServer(self.ctx, store, config.share)
        self.gossip = Gossip(self.host, config.gossip_heartbeat)
        self.pinner = Pinner(self, config.seeding)
        self.routing = ContentRouting(
            self.host,
            self.guard,
            server=config.dht_mode == "server",
            query_timeout=config.limits.dial_timeout,
        )
        self.relay = RelayService(self.host, config.relay_service)
        self.autonat = AutoNAT(self.ctx)
        self.external = ExternalAddrs(self.ctx)
        self.hole_punch = HolePuncher(
            self.ctx,
            self._hole_punch_addrs,
            config.hole_punch,
            enabled=config.hole_punching,
            candidates=self.external.addrs,
        )
        self.lan: LanDiscovery | None = None
        self.connections = ConnectionManager(
            self.host.get_network(),
            config.connections,
            self._is_protected,
            self.counters.last_active.get,
        )
        self._bootstrap_peers = _bootstrap_ids(config.bootstrap)
        self._provide_schedule = ProvideSchedule(config.dht_reprovide_interval)
        self._dht_send, self._dht_recv = trio.open_memory_channel[bytes](100_000)
        self._recheck = trio.Event()
        self._me = ledger_public_key(config.seed)
        self._nursery: trio.Nursery | None = None
        self._reaching: set[ID] = set()  # peers reach_soon is dialling
        self._pulling: set[ID] = set()  # peers a pull is running from
        self._token: trio.lowlevel.TrioToken | None = None
        self._pull_send, self._pull_recv = trio.open_memory_channel[ID](1000)
        self._local_send, self._local_recv = trio.open_memory_channel[list[Entry] | ForkProof](
            10_000
        )
        self._inbound: set[str] = set()
        self.providers = ProviderTable()  # content announced on gossip, capped and expiring
        self._downloads: dict[bytes, Download] = {}
        # content ID -> {provider's public key: bytes it delivered}, for the latest downloads
        # (a buyer's receipt names its seeders from it); bounded, oldest forgotten first
        self._served: OrderedDict[bytes, dict[bytes, int]] = OrderedDict()
        self._progress: dict[bytes, Progress] = {}
        self.last_sync: dict[str, SyncResult] = {}
        self.synced = trio.Event()

    # -- lifecycle ---------------------------------------------------------------------------------
    @asynccontextmanager
    async def _running(self) -> AsyncIterator[Node]:
        listen = [Multiaddr(a) for a in self.config.listen]
        self._token = trio.lowlevel.current_trio_token()
        self.ledger.ledger.add_listener(self._on_entries)
        self.ledger.ledger.add_fork_listener(self._on_fork)
        self.host.get_network().register_notifee(_Notifee(self))
        async with self.host.run(listen), trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                async with (
                    self.gossip.running(self._on_gossip),
                    background_trio_service(self.routing.dht),
                    self.relay.running(),
                    self._lan_running(),
                ):
                    nursery.start_soon(self._pull_loop)
                    nursery.start_soon(self._announce_loop)
                    nursery.start_soon(self._periodic)
                    nursery.start_soon(self._watch_local_writes)
                    nursery.start_soon(self._reachability_loop)
                    nursery.start_soon(self._dht_provide_loop)
                    if self.config.bootstrap:
                        nursery.start_soon(self._bootstrap_loop)
                    self.pinner.start(nursery)
                    self.hole_punch.start(nursery)
                    yield self
            finally:
                # Cancel our tasks only once the body's exception (if any) has left the inner
                # services; cancelling earlier lets a Cancelled replace it and vanish.
                nursery.cancel_scope.cancel()
                self._detach()

    def _detach(self) -> None:
        led = self.ledger.ledger
        led.remove_listener(self._on_entries)
        led.remove_fork_listener(self._on_fork)
        self._token = None

    @asynccontextmanager
    async def _lan_running(self) -> AsyncIterator[None]:
        if not self.config.mdns:
            yield
            return
        self.lan = LanDiscovery(self.peer_id, self.direct_addrs(), self._on_lan_peer)
        try:
            async with self.lan.running():
                yield
        except OSError as exc:  # no multicast-capable interface: run without LAN discovery
            log.warning("mDNS discovery is off: %s", exc)
            yield

    def _on_lan_peer(self, peer: ID, addrs: list[str]) -> None:
        if (
            self._nursery is None
            or peer in self.connected_peers()
            or self.guard.is_banned(str(peer))
        ):
            return

        async def dial() -> None:
            for addr in addrs:
                try:
                    await self.connect(addr)
                    log.info("found %s on the LAN", peer)
                    return
                except (DialError, ValueError) as exc:
                    log.debug("LAN peer %s at %s: %s", peer, addr, exc)

        self._nursery.start_soon(dial)

    # -- peers -------------------------------------------------------------------------------------
    @property
    def addrs(self) -> list[str]:
        """Addresses others can dial us on: direct ones, then through relays (when private)."""
        return self.direct_addrs() + self.relay.circuit_addrs()

    def direct_addrs(self) -> list[str]:
        """The announced addresses, or the listen addresses with wildcards made concrete."""
        pid = self.peer_id.to_base58()
        if self.config.announce:
            return [a if "/p2p/" in a else f"{a}/p2p/{pid}" for a in self.config.announce]
        return dialable_addrs(self.host)

    def _hole_punch_addrs(self) -> list[str]:
        """What we tell a peer to dial in a direct connection upgrade: the announced addresses
        and the ones we listen on (the listen port is what a NAT maps for hole punching)."""
        return list(dict.fromkeys(list(self.config.announce) + dialable_addrs(self.host)))

    def _network_of(self, peer: ID) -> str | None:
        """The network (``providers.network_of``) of our connection to ``peer``; None when we
        have none (its gossip reached us through others)."""
        for conn in self.host.get_network().get_connections_map().get(peer, ()):
            try:
                remote = conn.muxed_conn.get_remote_address()  # type: ignore[attr-defined]
            except Exception:
                continue
            if remote:
                return network_of(str(remote[0]))
        return None

    def connected_peers(self) -> list[ID]:
        return [p for p, conns in self.host.get_network().get_connections_map().items() if conns]

    async def connect(self, addr: str) -> ID:
        """Dial a peer by its full multiaddr (``.../p2p/<peer id>``, or a relayed
        ``<relay>/p2p-circuit/p2p/<peer id>``); returns its peer ID."""
        if "/p2p-circuit" in addr:
            return await self.relay.dial(addr, self.config.limits.dial_timeout * 2)
        info = parse_peer_addr(addr)
        if info.peer_id == self.peer_id:
            raise DialError("that address is this node")
        if self.guard.is_banned(str(info.peer_id)):
            raise DialError(f"peer {info.peer_id} is banned")
        try:
            with trio.fail_after(self.config.limits.dial_timeout):
                await self.host.connect(info)
        except Exception as exc:
            raise DialError(f"could not connect to {addr}: {exc}") from exc
        return info.peer_id

    async def connect_peer(self, peer: ID) -> ID:
        """Connect to ``peer`` knowing only its ID (a provider announced on gossip, an artist
        through ``p2p.host.peer_id_from_public_key``); returns it. Already connected: nothing to
        do. Else the addresses the peerstore holds for it are dialled, and when there are none or
        they fail it is looked up in the DHT (``ContentRouting.find_peer``) and the addresses the
        lookup returns are dialled, direct ones first, then through a relay. DialError if it
        cannot be reached."""
        if peer == self.peer_id:
            raise DialError("that peer ID is this node")
        if self.guard.is_banned(str(peer)):
            raise DialError(f"peer {peer} is banned")
        if peer in self.connected_peers():
            return peer
        try:
            known = usable_addrs(
                self.host.get_peerstore().addrs(peer), peer, self.hole_punch.floor()
            )
        except Exception:  # the peerstore has never heard of it
            known = []
        if known and await self._dial_addrs(peer, known):
            return peer
        info = await self.routing.find_peer(peer, self.hole_punch.floor())
        if info is None:
            raise DialError(f"no address for {peer}, and the DHT lookup found none")
        if await self._dial_addrs(peer, info.addrs):
            log.info("reached %s at an address from the DHT", peer)
            return peer
        raise DialError(f"{peer} did not answer at the addresses the DHT gave")

    def reach_soon(self, peer: ID) -> bool:
        """Start ``connect_peer(peer)`` in the background (from the node's trio thread); once
        connected, the usual pull on connect swaps feeds both ways. For a purchase, so the artist
        hears of it directly rather than when a common peer passes it on. False when nothing was
        started: not running, already connected or being reached, this node, or banned."""
        if (
            self._nursery is None
            or peer == self.peer_id
            or peer in self._reaching
            or peer in self.connected_peers()
            or self.guard.is_banned(str(peer))
        ):
            return False
        self._reaching.add(peer)

        async def reach() -> None:
            try:
                await self.connect_peer(peer)
                log.info("reached %s by its peer ID", peer)
            except DialError as exc:
                log.info("could not reach %s: %s", peer, exc)
            finally:
                self._reaching.discard(peer)

        self._nursery.start_soon(reach)
        return True

    async def _dial_addrs(self, peer: ID, addrs: Sequence[Multiaddr]) -> bool:
        """Dial ``peer``'s direct addresses (together), then up to two relay circuits."""
        direct = [a for a in addrs if "/p2p-circuit" not in str(a)]
        circuits = [f"{a}/p2p/{peer}" for a in addrs if str(a).endswith("/p2p-circuit")]
        if direct:
            try:
                with trio.fail_after(self.config.limits.dial_timeout):
                    await self.host.connect(PeerInfo(peer, direct))
                return True
            except (Exception, trio.TooSlowError) as exc:
                log.debug("%s at %s: %s", peer, [str(a) for a in direct], exc)
        for circuit in circuits[:2]:
            try:
                await self.connect(circuit)
                return True
            except (DialError, ValueError) as exc:
                log.debug("%s through %s: %s", peer, circuit, exc)
        return False

    async def _disconnect(self, peer: str) -> None:
        await self.host.disconnect(ID.from_base58(peer))

    def _on_connected(self, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id
        if self.guard.is_banned(str(peer)):
            if self._nursery is not None:
                self._nursery.start_soon(self._disconnect, str(peer))
            return
        if self.connections.connected(conn) and self._nursery is not None:
            self._nursery.start_soon(self.connections.trim)
        if not getattr(conn.muxed_conn, "is_initiator", True):
            self._inbound.add(str(peer))
        self.hole_punch.on_connected(conn)
        self.request_pull(peer)
        if self._nursery is not None:
            self._nursery.start_soon(self._after_connect, peer)

    def _on_disconnected(self, conn: INetConn) -> None:
        """Release what was kept for a connection, and for its peer once none is left."""
        self.connections.disconnected(conn)
        peer = conn.muxed_conn.peer_id
        if self.host.get_network().get_connections(peer):
            return  # e.g. a relayed connection closed after an upgrade to a direct one
        key = str(peer)
        self._inbound.discard(key)
        self.counters.forget(key)
        self.guard.forget(key)
        if not self._keeps_peer_record(peer):
            self.host.get_peerstore().clear_peerdata(peer)

    def _keeps_peer_record(self, peer: ID) -> bool:
        """Whether the peerstore keeps a disconnected peer's addresses and keys: peers we may
        dial again (bootstrap, DHT routing table, relays, announced providers)."""
        if peer in self._bootstrap_peers or peer in self.relay.reservations:
            return True
        if self.routing.knows(peer):
            return True
        return self.providers.announces(str(peer))

    def _is_protected(self, peer: ID) -> bool:
        """Peers the connection manager never trims: bootstrap peers, our relays, peers we are
        dialling, pulling from or downloading from."""
        return (
            peer in self._bootstrap_peers
            or peer in self.relay.reservations
            or peer in self._reaching
            or peer in self._pulling
            or any(d.uses(peer) for d in self._downloads.values())
        )

    async def _after_connect(self, peer: ID) -> None:
        # Identify tells us which protocols the peer serves; wait for it briefly.
        ps = self.host.get_peerstore()
        with trio.move_on_after(3.0):
            while True:
                try:
                    if ps.get_protocols(peer):
                        break
                except Exception:
                    pass
                await trio.sleep(0.05)
        await self.routing.add_peer(peer)
        if self.autonat.status == autonat.UNKNOWN or (
            self.autonat.status == autonat.PRIVATE
            and self.config.use_relays
            and len(self.relay.reservations) < MAX_RESERVATIONS
            and self.relay.offers_hop(peer)
        ):
            self._recheck.set()

    def reachability(self) -> str:
        """ "public", "private" or "unknown", from the dial-back check."""
        return self.autonat.status

    def _direct_peers(self) -> list[ID]:
        """Connected peers we reach without a relay (only they can check our addresses)."""
        out = []
        for peer, conns in self.host.get_network().get_connections_map().items():
            if any(not is_relayed(conn) for conn in conns):
                out.append(peer)
        return out

    async def check_reachability(self) -> str:
        """Run the dial-back check now (the node also runs it by itself); returns the verdict."""
        addrs = [Multiaddr(a.rsplit("/p2p/", 1)[0]) for a in self.direct_addrs()]
        status = await self.autonat.check(self._direct_peers(), [a for a in addrs if is_direct(a)])
        if self.config.dht_mode == "auto":
            self.routing.set_server(status == autonat.PUBLIC)
        if status == autonat.PRIVATE and self.config.use_relays:
            await self._reserve_relays()
        observers = self._observers()
        if observers and self.config.hole_punching and self._nursery is not None:
            self._nursery.start_soon(self.external.learn, observers)
        return status

    def _observers(self) -> list[ID]:
        """Peers trusted to tell us our external address (for hole punching only): relays we
        hold a reservation on, and directly connected peers that ran our dial-back check."""
        ran = {k for k, s in self.autonat.answers.items() if s in (autonat.OK, autonat.DIAL_FAILED)}
        return [p for p in self._direct_peers() if p in self.relay.reservations or str(p) in ran]

    async def _reserve_relays(self) -> None:
        for relay in self.relay.due_for_refresh():
            if relay not in self.connected_peers() or not await self.relay.reserve(relay):
                self.relay.forget(relay)
        for peer in self.connected_peers():
            if len(self.relay.reservations) >= MAX_RESERVATIONS:
                break
            if peer not in self.relay.reservations and self.relay.offers_hop(peer):
                await self.relay.reserve(peer)

    async def _reachability_loop(self) -> None:
        while True:
            with trio.move_on_after(self.config.reachability_interval):
                await self._recheck.wait()
            self._recheck = trio.Event()
            if self.connected_peers():
                await self.check_reachability()

    def status(self) -> NodeStatus:
        peers = []
        ps = self.host.get_peerstore()
        for p in self.connected_peers():
            key = str(p)
            c = self.counters.per_peer.get(key, [0, 0])
            try:
                addrs = tuple(str(a) for a in ps.addrs(p))
            except Exception:  # an inbound peer that identify has not described yet
                addrs = ()
            peers.append(
                PeerStatus(
                    key,
                    addrs,
                    key in self._inbound,
                    c[0],
                    c[1],
                    connection=self.hole_punch.route(p),
                    upgrades=self.hole_punch.succeeded.get(key, 0),
                    upgrade_failures=self.hole_punch.failed.get(key, 0),
                )
            )
        upgrades, upgrade_failures = self.hole_punch.totals()
        return NodeStatus(
            str(self.peer_id),
            tuple(self.addrs),
            self.reachability(),
            tuple(peers),
            self.counters.bytes_in,
            self.counters.bytes_out,
            self.guard.banned(),
            tuple(self._progress.values()),
            len(self.pinner.pinned),
            self.ledger.ledger.count(),
            relay_addrs=tuple(self.relay.circuit_addrs()),
            dht_mode="server" if self.routing.server else "client",
            dht_peers=self.routing.routing_table_size(),
            lan_peers=len(self.lan.seen) if self.lan else 0,
            relaying=self.config.relay_service,
            upgrades=upgrades,
            upgrade_failures=upgrade_failures,
        )

    async def _bootstrap_loop(self) -> None:
        delay = 1.0
        while True:
            connected = {str(p) for p in self.connected_peers()}
            for addr in self.config.bootstrap:
                try:
                    if str(parse_peer_addr(addr).peer_id) in connected:
                        continue
                    await self.connect(addr)
                except (DialError, ValueError) as exc:
                    log.info("bootstrap %s: %s", addr, exc)
            await trio.sleep(delay)
            delay = min(delay * 2, 30.0)

    # -- ledger replication ------------------------------------------------------------------------
    def request_pull(self, peer: ID) -> None:
        """Schedule a pull from ``peer`` (deduplicated; never blocks)."""
        try:
            self._pull_send.send_nowait(peer)
        except trio.WouldBlock:
            pass

    async def _pull_loop(self) -> None:
        assert self._nursery is not None
        queued: set[str] = set()
        limiter = trio.CapacityLimiter(4)

        async def one(peer: ID) -> None:
            async with limiter:
                queued.discard(str(peer))
                try:
                    await self.sync_with(peer)
                except (DialError, PeerClosed, ProtocolViolation) as exc:
                    log.info("sync with %s failed: %s", peer, exc)

        async for peer in self._pull_recv:
            if str(peer) not in queued:
                queued.add(str(peer))
                self._nursery.start_soon(one, peer)

    async def sync_with(self, peer: ID) -> SyncResult:
        """Pull everything ``peer`` has that we lack."""
        self._pulling.add(peer)
        try:
            result = await self.replicator.pull(peer)
        finally:
            self._pulling.discard(peer)
        self.last_sync.pop(str(peer), None)
        self.last_sync[str(peer)] = result
        while len(self.last_sync) > MAX_LAST_SYNC:
            del self.last_sync[next(iter(self.last_sync))]
        if result.authors:
            frontier = await self.ledger.call(self.ledger.ledger.frontier)
            heads = [(a, *frontier[a]) for a in sorted(result.authors) if a in frontier]
            for i in range(0, len(heads), MAX_HEADS):
                try:
                    await self.gossip.publish(Heads(tuple(heads[i : i + MAX_HEADS])))
                except Exception as exc:
                    log.info("gossip publish failed: %s", exc)
        self.synced.set()
        self.synced = trio.Event()
        return result

    async def wait_replicated(self, peer: ID, timeout: float = 10.0) -> bool:
        """Wait until ``peer`` holds our own feed up to our head (it pulls it from us when we
        connect and on gossip); False on timeout."""
        with trio.move_on_after(timeout):
            while True:
                mine = (await self.ledger.call(self.ledger.ledger.frontier)).get(self._me)
                if mine is None:
                    return True
                try:
                    theirs = (await self.replicator.remote_frontier(peer)).get(self._me)
                except (DialError, PeerClosed, ProtocolViolation):
                    theirs = None
                if theirs is not None and theirs[0] >= mine[0]:
                    return True
                await trio.sleep(0.2)
        return False

    async def sync(self) -> list[SyncResult]:
        """Pull from every connected peer (in parallel); returns one result per peer reached."""
        results: list[SyncResult] = []

        async def one(peer: ID) -> None:
            try:
                results.append(await self.sync_with(peer))
            except (DialError, PeerClosed, ProtocolViolation) as exc:
                log.info("sync with %s failed: %s", peer, exc)

        async with trio.open_nursery() as nursery:
            for peer in self.connected_peers():
                nursery.start_soon(one, peer)
        return results

    def _on_entries(self, entries: list[Entry]) -> None:
        # Called by the ledger after a commit, from whichever thread committed.
        mine = [e for e in entries if e.author == self._me]
        if mine and self._token is not None:
            self._token.run_sync_soon(self._queue_local, mine)

    def _on_fork(self, proof: ForkProof) -> None:
        if self._token is not None:
            self._token.run_sync_soon(self._queue_local, proof)

    def _queue_local(self, item: list[Entry] | ForkProof) -> None:
        try:
            self._local_send.send_nowait(item)
        except (trio.WouldBlock, trio.ClosedResourceError):
            pass  # anti-entropy sync will carry it

    async def _announce_loop(self) -> None:
        while True:
            item = await self._local_recv.receive()
            wires: list[bytes] = []
            proofs: list[bytes] = []
            while True:  # drain what is already queued into as few messages as possible
                if isinstance(item, ForkProof):
                    proofs.append(item.encode())
                else:
                    wires.extend(e.wire for e in item)
                try:
                    item = self._local_recv.receive_nowait()
                except trio.WouldBlock:
                    break
            # Right after a connection the GossipSub mesh may not exist yet and a publish would
            # reach nobody; give it a few heartbeats (anti-entropy sync covers the rest).
            with trio.move_on_after(3 * self.config.gossip_heartbeat + 1):
                while self.connected_peers() and not self.gossip.topic_peers():
                    await trio.sleep(0.05)
            try:
                for batch in batch_wires(wires):
                    await self.gossip.publish(Announce(tuple(batch)))
                if proofs:
                    await self.gossip.publish(ForkAnnounce(tuple(proofs[:32])))
            except Exception as exc:
                log.info("gossip publish failed: %s", exc)

    async def _on_gossip(self, origin: ID, message: Message) -> None:
        if self.guard.is_banned(str(origin)):
            return
        if isinstance(message, Announce):
            report = await self.ledger.ingest(message.wires)
            reason = is_forgery(report)
            if reason is not None:
                await self.guard.ban(str(origin), f"gossip: forged entry ({reason})")
                return
            if report.pending or report.rejected:
                # We lack history: pull it from the origin if we can reach it, else from anyone.
                targets = [origin] if origin in self.connected_peers() else self.connected_peers()
                for peer in targets[:3]:
                    self.request_pull(peer)
        elif isinstance(message, ForkAnnounce):
            for data in message.proofs:
                try:
                    await self.ledger.call(self.ledger.ledger.ingest_fork_proof, data)
                except Exception as exc:
                    await self.guard.ban(str(origin), f"gossip: invalid fork proof ({exc})")
                    return
        elif isinstance(message, Heads):
            mine = await self.ledger.call(self.ledger.ledger.frontier)
            if any(mine.get(a, (0, b""))[0] < seq for a, seq, _ in message.heads):
                targets = [origin] if origin in self.connected_peers() else self.connected_peers()
                for peer in targets[:3]:
                    self.request_pull(peer)
        elif isinstance(message, Provide):
            self.providers.add(str(origin), message.content_ids, self._network_of(origin))

    async def _periodic(self) -> None:
        next_sync = trio.current_time() + self.config.sync_interval
        next_provide = trio.current_time() + 2.0
        while True:
            await trio.sleep(min(1.0, self.config.sync_interval))
            now = trio.current_time()
            if now >= next_sync:
                next_sync = now + self.config.sync_interval
                self.providers.expire()
                for peer in self.connected_peers():
                    self.request_pull(peer)
            if now >= next_provide:
                next_provide = now + self.config.provide_interval
                complete = await trio.to_thread.run_sync(self._complete_content)
                if complete and self.connected_peers():
                    await self.provide(complete)

    async def _watch_local_writes(self) -> None:
        """Take in entries that another process wrote to this profile's ledger (a CLI ``buy``,
        ``publish`` or ``ledger import`` beside a running node). The ledger's listeners then
        hear of them as of entries from the swarm: our own are gossiped, a seeder settles, the
        app shows them; content they list is announced at once."""
        while True:
            await trio.sleep(self.config.local_writes_interval)
            try:
                taken = await self.ledger.call(self.ledger.ledger.refresh)
            except Exception as exc:  # a busy or unreadable file: look again on the next tick
                log.warning("cannot read what other processes wrote to the ledger: %s", exc)
                continue
            if taken:
                log.info("took in %d entries written by another process on this profile", taken)
                complete = await trio.to_thread.run_sync(self._complete_content)
                if complete and self.connected_peers():
                    await self.provide(complete)

    def _complete_content(self) -> list[bytes]:
        return [
            c for c in self.store.content_ids() if self.store.is_complete(c) and self._shares(c)
        ]

    def _shares(self, content_id: bytes) -> bool:
        return self.config.share is None or self.config.share(content_id)

    # -- content -----------------------------------------------------------------------------------
    async def provide(self, content_ids: Sequence[bytes]) -> None:
        """Announce that we serve ``content_ids``: on gossip at once, and as provider records in
        the DHT in the background (re-put every ``dht_reprovide_interval``)."""
        ids = list(content_ids)
        for i in range(0, len(ids), 256):
            try:
                await self.gossip.publish(Provide(tuple(ids[i : i + 256])))
            except Exception as exc:
                log.info("provide announcement failed: %s", exc)
        for cid in self._provide_schedule.due(ids):
            try:
                self._dht_send.send_nowait(cid)
            except trio.WouldBlock:
                break  # the periodic re-provide catches up

    async def _dht_provide_loop(self) -> None:
        queued: set[bytes] = set()
        async for cid in self._dht_recv:
            if cid in queued or not self._provide_schedule.due([cid]):
                continue
            queued.add(cid)
            # Records carry addresses without our own /p2p suffix, as libp2p peers expect.
            suffix = f"/p2p/{self.peer_id.to_base58()}"
            addrs = [Multiaddr(a[: -len(suffix)] if a.endswith(suffix) else a) for a in self.addrs]
            try:
                stored = await self.routing.provide(cid, addrs)
                log.debug("provider record for %s stored on %d peers", cid.hex()[:16], stored)
                if stored:
                    self._provide_schedule.done(cid)
            except Exception as exc:
                log.info("DHT provide of %s failed: %s", cid.hex()[:16], exc)
            finally:
                queued.discard(cid)
            await trio.sleep(0.125)  # at most 8 records a second: peers rate-limit ADD_PROVIDER

    async def find_providers(self, content_id: bytes, timeout: float = 3.0) -> list[ID]:
        """Peers that hold ``content_id``: those that announced it, and connected peers that
        answer ``Has`` with partial or complete. Complete holders come first. When only peers we
        are not connected to announced it, they are reached by peer ID (``connect_peer``) and
        the unreachable ones left out; with no complete holder the DHT is asked."""
        complete: list[ID] = []
        partial: list[ID] = []
        for key in self.providers.providers(content_id):
            if not self.guard.is_banned(key):
                complete.append(ID.from_base58(key))

        async def ask(peer: ID) -> None:
            state = await self._ask_has(peer, [content_id], timeout)
            if state and state[0] == 2 and peer not in complete:
                complete.append(peer)
            elif state and state[0] == 1 and peer not in partial:
                partial.append(peer)

        async with trio.open_nursery() as nursery:
            for peer in self.connected_peers():
                if peer not in complete:
                    nursery.start_soon(ask, peer)
        connected = set(self.connected_peers())
        if complete and not any(p in connected for p in complete):
            # Only peers we are not connected to announced it (gossip reaches us through others):
            # reach them by peer ID, looking them up in the DHT if need be; drop the rest.
            reached = await self._reach(complete[-MAX_LOOKUPS:])
            complete = [p for p in complete if p in reached]
        if not complete:
            for peer in await self.find_dht_providers(content_id):
                if peer not in complete:
                    complete.append(peer)
        return complete + [p for p in partial if p not in complete]

    async def find_dht_providers(self, content_id: bytes) -> list[ID]:
        """Providers of ``content_id`` from the DHT that we could connect to."""
        infos = await self.routing.find_providers(content_id)
        # The record's addresses are in the peerstore now; a record without (working) ones
        # is looked up by the provider's peer ID.
        return await self._reach([info.peer_id for info in infos])

    async def _reach(self, peers: Sequence[ID]) -> list[ID]:
        """Those of ``peers`` we are, or could get, connected to (``connect_peer``, in
        parallel, at most ``2 * dial_timeout`` in all)."""
        reached: list[ID] = []

        async def one(peer: ID) -> None:
            try:
                reached.append(await self.connect_peer(peer))
            except DialError as exc:
                log.info("provider %s unreachable: %s", peer, exc)

        with trio.move_on_after(2 * self.config.limits.dial_timeout):
            async with trio.open_nursery() as nursery:
                for peer in peers:
                    nursery.start_soon(one, peer)
        return reached

    async def complete_holders(
        self, content_ids: Sequence[bytes], timeout: float = 3.0
    ) -> dict[bytes, list[ID]]:
        """For each of ``content_ids`` (at most 64), the connected peers that hold it complete,
        asked with ``Has`` (an artist's client waits until a seeder has pinned a release)."""
        ids = list(content_ids)[:MAX_HAS_IDS]
        holders: dict[bytes, list[ID]] = {c: [] for c in ids}

        async def ask(peer: ID) -> None:
            states = await self._ask_has(peer, ids, timeout)
            for content, state in zip(ids, states, strict=False):
                if state == HAS_COMPLETE:
                    holders[content].append(peer)

        async with trio.open_nursery() as nursery:
            for peer in self.connected_peers():
                nursery.start_soon(ask, peer)
        return holders

    async def _ask_has(self, peer: ID, content_ids: list[bytes], timeout: float) -> list[int]:
        try:
            stream = await self.ctx.open(peer, CONTENT_PROTOCOL)
        except DialError:
            return []
        try:
            with trio.move_on_after(timeout):
                await stream.write_frame(Has(tuple(content_ids[:MAX_HAS_IDS])).encode())
                reply = decode_message(await stream.read_frame(MAX_RESPONSE, timeout), RESPONSES)
                if isinstance(reply, HasReply) and len(reply.states) == len(content_ids):
                    return list(reply.states)
                raise ProtocolViolation("bad reply to Has")
        except ProtocolViolation as exc:
            await self.guard.ban(str(peer), f"content: {exc}")
        except PeerClosed:
            pass
        finally:
            await stream.close()
        return [HAS_NOTHING] * len(content_ids)

    async def fetch(
        self,
        content_id: bytes,
        on_progress: Callable[[Progress], None] | None = None,
        providers: Sequence[ID] | None = None,
        max_bytes: int | None = None,
    ) -> Manifest:
        """Download ``content_id`` into the chunk store (resuming what is already there).

        Raises DownloadFailed if no provider can supply it, TooLarge (a DownloadFailed) if it
        needs more than ``max_bytes`` of chunks. Concurrent fetches of one content ID share a
        single download.
        """
        running = self._downloads.get(content_id)
        if running is not None:
            return await running.wait_complete()
        if await trio.to_thread.run_sync(self.store.is_complete, content_id):
            manifest = await trio.to_thread.run_sync(self.store.manifest, content_id)
            assert manifest is not None
            return manifest
        peers = list(providers) if providers is not None else await self.find_providers(content_id)
        if not peers:
            raise DownloadFailed(f"no provider found for {content_id.hex()}")

        def progress(p: Progress) -> None:
            self._progress[content_id] = p
            if on_progress is not None:
                on_progress(p)

        download = Download(self.ctx, self.store, content_id, peers, progress, max_bytes)
        self._downloads[content_id] = download
        try:
            manifest = await download.run()
        finally:
            del self._downloads[content_id]
        self._remember_served(content_id, download.served())
        if self._shares(content_id):
            await self.provide([content_id])
        return manifest

    def _remember_served(self, content_id: bytes, served: dict[ID, int]) -> None:
        by_key = {}
        for peer, count in served.items():
            raw = peer.to_bytes()
            if raw.startswith(ED25519_PEER_PREFIX) and len(raw) == len(ED25519_PEER_PREFIX) + 32:
                by_key[raw[len(ED25519_PEER_PREFIX) :]] = count
        self._served[content_id] = by_key
        self._served.move_to_end(content_id)
        while len(self._served) > MAX_SERVED_RECORDS:
            self._served.popitem(last=False)

    def served_by(self, content_id: bytes) -> dict[bytes, int]:
        """{provider's public key: bytes} of the latest download of ``content_id`` by this
        node ({} if it did not download it, or long ago)."""
        return dict(self._served.get(content_id, {}))

    def prioritize(self, content_id: bytes, indexes: Iterable[int]) -> bool:
        """Ask the running download of ``content_id`` to fetch these chunks next (the player
        seeks there). False if ``content_id`` is not downloading."""
        download = self._downloads.get(content_id)
        if download is None:
            return False
        download.prioritize(indexes)
        return True

    def reading_at(self, content_id: bytes, index: int) -> bool:
        """A player waits at chunk ``index`` of ``content_id``: the running download fetches it
        and the few after it next. False if ``content_id`` is not downloading."""
        download = self._downloads.get(content_id)
        if download is None:
            return False
        download.reading_at(index)
        return True

    async def read_chunks(
        self, content_id: bytes, start: int = 0
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Yield ``(index, stored chunk bytes)`` in order from ``start``, waiting for chunks that
        a running download has not delivered yet (so playback can begin before it ends)."""
        while True:
            manifest = await trio.to_thread.run_sync(self.store.manifest, content_id)
            if manifest is not None:
                break
            if content_id not in self._downloads:
                raise DownloadFailed(f"{content_id.hex()} is neither stored nor downloading")
            await trio.sleep(0.01)
        for index in range(start, len(manifest.chunks)):
            data = await trio.to_thread.run_sync(self.store.get_chunk, manifest.chunks[index])
            while data is None:
                download = self._downloads.get(content_id)
                if download is None:
                    raise DownloadFailed(f"chunk {index} of {content_id.hex()} is missing")
                await download.wait_chunk(index, urgent=True)
                data = await trio.to_thread.run_sync(self.store.get_chunk, manifest.chunks[index])
            yield index, data


def ledger_public_key(seed: bytes) -> bytes:
    from ledger.keys import Signer

    return Signer.from_seed(seed).public_key


@asynccontextmanager
async def open_node(config: NodeConfig, ledger: Ledger, store: ChunkStore) -> AsyncIterator[Node]:
    """Start a node; it stops (connections closed, tasks cancelled) when the block exits."""
    node = Node(config, ledger, store)
    body_finished = False
    try:
        async with node._running() as running:
            yield running
            body_finished = True
    except BaseExceptionGroup as group:
        if body_finished and _only_shutdown_races(group):
            # py-libp2p's pubsub may still spawn a message handler into a service nursery that
            # is closing; after a clean exit of the body that is noise, not a failure.
            log.debug("ignored a libp2p task spawned during shutdown")
            return
        leaf = _only_exception(group)
        if leaf is None:
            raise
        raise leaf from None


def _bootstrap_ids(addrs: Iterable[str]) -> frozenset[ID]:
    ids = set()
    for addr in addrs:
        try:
            ids.add(parse_peer_addr(addr).peer_id)
        except ValueError:
            continue
    return frozenset(ids)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    """The non-cancellation exceptions inside nested nursery groups."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for e in exc.exceptions:
                walk(e)
        elif not isinstance(exc, trio.Cancelled):
            leaves.append(exc)

    walk(group)
    return leaves


def _only_shutdown_races(group: BaseExceptionGroup) -> bool:
    leaves = _leaves(group)
    return bool(leaves) and all(
        isinstance(e, RuntimeError) and "closed to new arrivals" in str(e) for e in leaves
    )


def _only_exception(group: BaseExceptionGroup) -> BaseException | None:
    """The single non-cancellation exception inside nested nursery groups, if there is one."""
    leaves = _leaves(group)
    return leaves[0] if len(leaves) == 1 else None


INF = math.inf
