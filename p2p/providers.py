"""Who announced which content on gossip (``Provide``): a table with a cap and an expiry.

Any peer may announce any content ID, so the table is bounded three ways: an announcement lives
``ttl`` seconds unless repeated (providers re-announce every minute), one peer holds at most
``max_per_peer`` entries, and at most ``max_contents`` content IDs with ``max_per_content``
providers each are kept. When the table is full, the least recently announced entry of the
network holding the most entries goes first (``network_of``: a public IPv4 /24 or IPv6 /48, a
private or loopback address on its own, as the node saw the connection), so many peer IDs from
one network (a Sybil) push out their own entries, not a provider from anywhere else; within a
content, slots in current use are kept over newcomers. Memory is then at most about
``max_contents × max_per_content`` small entries, whatever peers send.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

PROVIDER_TTL = 600.0  # ten re-announcements at the default provide interval
MAX_CONTENTS = 20_000
MAX_PER_CONTENT = 16
MAX_PER_PEER = 4_096


def network_of(ip: str) -> str:
    """The network a peer's address is counted in: a public IPv4 /24 or IPv6 /48 (what one
    subscriber line or small hosting account usually gets); a private, loopback or link-local
    address on its own (each host of a LAN is somebody); anything else as it is."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if addr.is_private or addr.is_loopback or addr.is_link_local:
        return str(addr)
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


class ProviderTable:
    def __init__(
        self,
        ttl: float = PROVIDER_TTL,
        max_contents: int = MAX_CONTENTS,
        max_per_content: int = MAX_PER_CONTENT,
        max_per_peer: int = MAX_PER_PEER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_contents = max_contents
        self.max_per_content = max_per_content
        self.max_per_peer = max_per_peer
        self.clock = clock
        self._by_content: OrderedDict[bytes, dict[str, float]] = OrderedDict()
        self._per_peer: dict[str, int] = {}
        self._network: dict[str, str] = {}  # peer -> network it announced from
        # network -> its entries, least recently announced first
        self._by_network: dict[str, OrderedDict[tuple[bytes, str], None]] = {}

    def add(self, peer: str, content_ids: Iterable[bytes], network: str | None = None) -> int:
        """Note that ``peer`` serves ``content_ids``; returns how many were taken. ``network``
        is where the peer's connection comes from (``network_of``); None counts the peer as a
        network of its own (an announcement relayed by others)."""
        now = self.clock()
        net = self._network.get(peer) or network or f"peer:{peer}"
        taken = 0
        for cid in content_ids:
            providers = self._by_content.get(cid)
            if providers is not None and peer in providers:
                providers[peer] = now  # a re-announcement refreshes
                self._by_content.move_to_end(cid)
                self._by_network[self._network[peer]].move_to_end((cid, peer))
                taken += 1
                continue
            if self._per_peer.get(peer, 0) >= self.max_per_peer:
                continue
            if providers is None:
                providers = self._by_content[cid] = {}
            elif len(providers) >= self.max_per_content:
                oldest = min(providers, key=providers.__getitem__)
                if now - providers[oldest] < self.ttl / 2:
                    continue  # the slots are in current use
                self._drop(cid, oldest)
                providers = self._by_content.setdefault(cid, {})
            providers[peer] = now
            self._per_peer[peer] = self._per_peer.get(peer, 0) + 1
            self._network[peer] = net
            self._by_network.setdefault(net, OrderedDict())[(cid, peer)] = None
            self._by_content.move_to_end(cid)
            taken += 1
        while len(self._by_content) > self.max_contents:
            heaviest = max(self._by_network.values(), key=len)
            cid, p = next(iter(heaviest))
            self._drop(cid, p)
        return taken

    def providers(self, content_id: bytes) -> list[str]:
        """Peers that announced ``content_id`` within the last ``ttl`` seconds, newest first."""
        providers = self._by_content.get(content_id)
        if not providers:
            return []
        now = self.clock()
        for peer in [p for p, t in providers.items() if now - t >= self.ttl]:
            self._drop(content_id, peer)
        providers = self._by_content.get(content_id, {})
        return sorted(providers, key=providers.__getitem__, reverse=True)

    def expire(self) -> int:
        """Drop every announcement older than ``ttl``; returns how many went."""
        now = self.clock()
        gone = [
            (cid, p)
            for cid, ps in self._by_content.items()
            for p, t in ps.items()
            if now - t >= self.ttl
        ]
        for cid, peer in gone:
            self._drop(cid, peer)
        return len(gone)

    def announces(self, peer: str) -> bool:
        """Whether ``peer`` has announced content still in the table."""
        return peer in self._per_peer

    def forget_peer(self, peer: str) -> None:
        """Drop everything ``peer`` announced (it was banned)."""
        for cid in [c for c, ps in self._by_content.items() if peer in ps]:
            self._drop(cid, peer)

    def __len__(self) -> int:
        """The number of (content, provider) entries held."""
        return sum(self._per_peer.values())

    @property
    def contents(self) -> int:
        return len(self._by_content)

    def _drop(self, cid: bytes, peer: str) -> None:
        providers = self._by_content.get(cid)
        if providers is None or providers.pop(peer, None) is None:
            return
        if not providers:
            del self._by_content[cid]
        net = self._network.get(peer)
        entries = self._by_network.get(net) if net is not None else None
        if entries is not None:
            entries.pop((cid, peer), None)
            if not entries:
                del self._by_network[net]  # type: ignore[arg-type]
        left = self._per_peer.get(peer, 0) - 1
        if left > 0:
            self._per_peer[peer] = left
        else:
            self._per_peer.pop(peer, None)
            self._network.pop(peer, None)
