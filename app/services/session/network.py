"""How a session reaches other peers: the :class:`Network` port, the :class:`OfflineNetwork`
that needs none, what the network reports (:class:`NetworkStatus`) and the bandwidth settings'
units. ``app/services/swarm.py`` implements the port with a libp2p node."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app.services.core import Core
from app.services.errors import UserError

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class PeerView:
    name: str
    peer_id: str
    address: str
    role: str  # "artist", "seeder", "gateway", "fan", "peer"
    online: bool
    latency_ms: float | None = None
    inbound: bool = False  # the peer dialled us
    bytes_in: int = 0  # received from this peer (this session)
    bytes_out: int = 0
    connection: str = "direct"  # or "relayed": through a relay, until hole punching upgrades it


@dataclass(frozen=True)
class NetworkStatus:
    mode: str  # "swarm", "demo swarm", "offline"
    listen: str
    reachability: str  # a sentence: "public: …", "private: …", "offline: …"
    peers: tuple[PeerView, ...] = ()
    seeding_items: int = 0
    seeding_bytes: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rate_in: float = 0.0  # bytes/s over the last few seconds
    rate_out: float = 0.0
    peer_id: str = ""
    downloads: int = 0  # transfers running now
    reach: str = "Offline"  # the reachability in a word or two, for a card
    discovery: str = ""  # DHT, LAN and relay state in a sentence
    relay_addrs: tuple[str, ...] = ()  # our addresses through relays

    @property
    def online(self) -> tuple[PeerView, ...]:
        return tuple(p for p in self.peers if p.online)


class Network(Protocol):
    """How a session reaches other peers.

    ``serve`` runs as a trio task for as long as the session is open (the app's runtime hosts
    it); the other methods block and are called from worker threads.
    """

    async def serve(self, core: Core, ready: Callable[[], None]) -> None:
        """Run until cancelled; call ``ready()`` once peers can reach us."""
        ...

    def sync(self, core: Core) -> int:
        """Exchange ledger entries with peers; returns how many entries we received."""
        ...

    def fetch(
        self,
        core: Core,
        content: bytes,
        progress: ProgressFn,
        cancel: threading.Event,
        max_bytes: int | None = None,
    ) -> None:
        """Download a content item's manifest and chunks into ``core.chunks``; with
        ``max_bytes``, refuse (UserError) content that needs more chunk bytes than that."""
        ...

    def status(self, core: Core) -> NetworkStatus: ...

    def want_chunks(self, content: bytes, index: int) -> None:
        """Playback waits at chunk ``index`` of ``content``: fetch it and the next few first.
        A hint; never blocks, callable from any thread."""
        ...

    def reach_soon(self, public_key: bytes) -> None:
        """Start connecting to the identity with this public key (an artist we just paid), so
        our new entries reach it directly. Never blocks; nothing happens if it is offline."""
        ...

    def set_bandwidth(self, upload_bps: int, download_bps: int) -> None:
        """Cap this node's total upload and download in bytes per second (0: no cap), from now
        on and for the rest of the session."""
        ...

    def close(self) -> None: ...


class OfflineNetwork:
    """No peers: the app works on the local replica; downloads say why they cannot start."""

    async def serve(self, core: Core, ready: Callable[[], None]) -> None:
        ready()

    def sync(self, core: Core) -> int:
        return 0

    def fetch(
        self,
        core: Core,
        content: bytes,
        progress: ProgressFn,
        cancel: threading.Event,
        max_bytes: int | None = None,
    ) -> None:
        if core.chunks.is_complete(content):
            return
        raise UserError(
            "no peers are reachable to download from",
            hint="the swarm connects when Cooptracks is online",
        )

    def status(self, core: Core) -> NetworkStatus:
        return NetworkStatus(
            "offline",
            "not listening",
            "offline: no swarm running",
            seeding_items=len(core.chunks.content_ids()),
            seeding_bytes=core.chunks.size_on_disk(),
        )

    def want_chunks(self, content: bytes, index: int) -> None:
        pass  # nothing is downloading

    def reach_soon(self, public_key: bytes) -> None:
        pass  # no peers

    def set_bandwidth(self, upload_bps: int, download_bps: int) -> None:
        pass  # nothing moves

    def close(self) -> None:
        pass


MAX_KBPS = 10_000_000  # 10 Gbit/s: anything above is a typing slip, not a cap


def bytes_per_second(kbps: float) -> int:
    """A rate in kilobits per second (how caps are set) as bytes per second (how they run)."""
    return round(kbps * 125)


def kbps_setting(cfg: dict[str, object], key: str) -> float:
    """A bandwidth cap in kbit/s from ``config.json``; 0 (no cap) when unset or not a number."""
    value = cfg.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_KBPS:
        return 0.0
    return float(value)
