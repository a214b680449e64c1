"""Circuit relay v2 (``/libp2p/circuit/relay/0.2.0/hop`` and ``.../stop``), from py-libp2p.

Every node accepts relayed connections (the *stop* side). Seeders, which are publicly reachable,
also act as relays (the *hop* side) within ``RELAY_LIMITS``. A node that the AutoNAT check finds
``private`` reserves a slot on up to two connected relays and advertises
``<relay address>/p2p-circuit/p2p/<own id>``; a peer dials such an address through the relay.

py-libp2p's swarm never dials ``/p2p-circuit`` addresses itself, so ``dial`` goes through the
circuit transport explicitly and hands the upgraded connection to the swarm. Once a relayed
connection is up, ``p2p.discovery.dcutr`` tries to replace it with a direct one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.config import RelayConfig, RelayRole
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID as HOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol import STOP_PROTOCOL_ID as STOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
from libp2p.relay.circuit_v2.resources import RelayLimits
from libp2p.relay.circuit_v2.transport import CircuitV2Transport
from libp2p.tools.anyio_service import background_trio_service
from multiaddr import Multiaddr

from p2p.context import DialError

log = logging.getLogger(__name__)

HOP = str(HOP_PROTOCOL)
STOP = str(STOP_PROTOCOL)

RELAY_LIMITS = RelayLimits(
    duration=600,  # a relayed connection lasts at most 10 minutes
    data=64 * 1024 * 1024,  # and carries at most 64 MiB each way
    max_circuit_conns=16,  # relayed connections through this node at once
    max_reservations=32,  # peers holding a slot on this node
    reservation_ttl=3600,
)
MAX_RESERVATIONS = 2  # relays a private node reserves a slot on
RESERVATION_TIMEOUT = 10.0


class RelayService:
    """The relay roles of one node."""

    def __init__(self, host: IHost, offer_hop: bool) -> None:
        self.host = host
        self.offer_hop = offer_hop
        self.protocol = CircuitV2Protocol(host, RELAY_LIMITS, allow_hop=offer_hop)
        # The dialling side: no automatic reservations when we only dial through a relay.
        self.transport = CircuitV2Transport(host, self.protocol, RelayConfig(roles=RelayRole.STOP))
        self._client = CircuitV2Transport(
            host, self.protocol, RelayConfig(roles=RelayRole.STOP | RelayRole.CLIENT)
        )
        self.reservations: dict[ID, float] = {}  # relay -> expiry (unix time)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RelayService]:
        async with background_trio_service(self.protocol):
            await self.protocol.event_started.wait()
            yield self

    # -- client ------------------------------------------------------------------------------------
    def offers_hop(self, peer: ID) -> bool:
        try:
            return HOP in self.host.get_peerstore().get_protocols(peer)
        except Exception:
            return False

    async def reserve(self, relay: ID) -> bool:
        """Reserve a slot on ``relay`` (already connected)."""
        try:
            with trio.fail_after(RESERVATION_TIMEOUT):
                stream = await self.host.new_stream(relay, [HOP_PROTOCOL])
                try:
                    ok = await self._client._make_reservation(stream, relay)
                finally:
                    await stream.close()
        except Exception as exc:
            log.info("reservation on relay %s failed: %s", relay, exc)
            return False
        if ok:
            self.reservations[relay] = float(self._client._reservations.get(relay, 0))
        return ok

    def due_for_refresh(self) -> list[ID]:
        now = time.time()
        return [r for r, expiry in self.reservations.items() if expiry - now < 600]

    def forget(self, relay: ID) -> None:
        self.reservations.pop(relay, None)

    def circuit_addrs(self) -> list[str]:
        """Our addresses through the relays we hold a reservation on."""
        me = self.host.get_id().to_base58()
        out = []
        now = time.time()
        ps = self.host.get_peerstore()
        for relay, expiry in self.reservations.items():
            if expiry < now:
                continue
            try:
                addrs = ps.addrs(relay)
            except Exception:
                continue
            for addr in addrs:
                text = str(addr)
                if "/p2p-circuit" in text or "/tcp/" not in text:
                    continue
                base = text if "/p2p/" in text else f"{text}/p2p/{relay.to_base58()}"
                out.append(f"{base}/p2p-circuit/p2p/{me}")
        return out

    async def dial(self, addr: str, timeout: float) -> ID:
        """Connect to a peer through ``<relay>/p2p-circuit/p2p/<peer>``; returns the peer."""
        try:
            maddr = Multiaddr(addr)
            _, peer = self.transport.parse_circuit_ma(maddr)
        except Exception as exc:
            raise ValueError(f"not a relay address: {addr!r} ({exc})") from exc
        if peer == self.host.get_id():
            raise DialError("that address is this node")
        if self.host.get_network().get_connections(peer):
            return peer
        self.host.get_peerstore().add_addrs(peer, [maddr], 600)
        try:
            with trio.fail_after(timeout):
                await self.transport.dial(maddr)
        except Exception as exc:
            raise DialError(f"could not connect through the relay {addr}: {exc}") from exc
        return peer
