"""GossipSub announcements: new ledger entries, fork proofs and content providers.

Topic ``/cooptracks/ledger/1``. GossipSub only spreads news fast; the sync protocol remains the
source of truth, so a lost announcement costs latency, never correctness. py-libp2p's defaults
are overridden: a 1 s heartbeat instead of 120 s, a spam limit far above 10 messages/s, and
eclipse protection off (it wants three distinct IPs in a mesh, which a LAN behind one NAT or a
loopback test never has). Messages we published ourselves are dropped on receipt.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from ledger.entry import MAX_ENTRY_BYTES
from ledger.forks import MAX_PROOF_BYTES
from p2p.wire import Message, ProtocolViolation, check, decode_message, is_bytes, registry_of

log = logging.getLogger(__name__)

TOPIC = "/cooptracks/ledger/1"
MAX_GOSSIP_BYTES = 512 * 1024
MAX_ANNOUNCE_BYTES = 256 * 1024  # we batch entries up to this size
MAX_PROVIDE_IDS = 256
MAX_HEADS = 1024


@dataclass(frozen=True)
class Announce(Message):
    """Type 1: new entries (wire bytes)."""

    TYPE = 1
    wires: tuple[bytes, ...]

    def fields(self) -> list[Any]:
        return [list(self.wires)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> Announce:
        check(
            len(f) == 1
            and isinstance(f[0], list)
            and all(is_bytes(w) and len(w) <= MAX_ENTRY_BYTES for w in f[0]),
            "Announce is [[wire, ...]]",
        )
        return cls(tuple(f[0]))


@dataclass(frozen=True)
class ForkAnnounce(Message):
    """Type 2: fork proofs."""

    TYPE = 2
    proofs: tuple[bytes, ...]

    def fields(self) -> list[Any]:
        return [list(self.proofs)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> ForkAnnounce:
        check(
            len(f) == 1
            and isinstance(f[0], list)
            and all(is_bytes(p) and len(p) <= MAX_PROOF_BYTES for p in f[0]),
            "ForkAnnounce is [[proof, ...]]",
        )
        return cls(tuple(f[0]))


@dataclass(frozen=True)
class Provide(Message):
    """Type 3: the publisher holds these content IDs completely and serves them."""

    TYPE = 3
    content_ids: tuple[bytes, ...]

    def fields(self) -> list[Any]:
        return [list(self.content_ids)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> Provide:
        check(
            len(f) == 1
            and isinstance(f[0], list)
            and len(f[0]) <= MAX_PROVIDE_IDS
            and all(is_bytes(c, 32) for c in f[0]),
            "Provide is [[content_id, ...]]",
        )
        return cls(tuple(f[0]))


@dataclass(frozen=True)
class Heads(Message):
    """Type 4: these feeds grew here (learned by sync, so not announced entry by entry);
    ``[[author, seq, hash], ...]``. A node that is behind pulls from the publisher."""

    TYPE = 4
    heads: tuple[tuple[bytes, int, bytes], ...]

    def fields(self) -> list[Any]:
        return [[list(h) for h in self.heads]]

    @classmethod
    def from_fields(cls, f: list[Any]) -> Heads:
        check(
            len(f) == 1 and isinstance(f[0], list) and len(f[0]) <= MAX_HEADS,
            "Heads is [[author, seq, hash], ...]",
        )
        out = []
        for h in f[0]:
            check(
                isinstance(h, list)
                and len(h) == 3
                and is_bytes(h[0], 32)
                and isinstance(h[1], int)
                and h[1] >= 1
                and is_bytes(h[2], 32),
                "bad head",
            )
            out.append((h[0], h[1], h[2]))
        return cls(tuple(out))


MESSAGES = registry_of(Announce, ForkAnnounce, Provide, Heads)

OnMessage = Callable[[ID, Message], Awaitable[None]]


class Gossip:
    """One GossipSub router and subscription to the ledger topic."""

    def __init__(self, host: IHost, heartbeat: float = 1.0) -> None:
        self.host = host
        self.router = GossipSub(
            protocols=[PROTOCOL_ID_V11, PROTOCOL_ID],
            degree=6,
            degree_low=4,
            degree_high=12,
            heartbeat_initial_delay=0.1,
            heartbeat_interval=heartbeat,  # type: ignore[arg-type]  # seconds; int in the stub
            gossip_window=3,
            gossip_history=5,
            spam_protection_enabled=True,
            max_messages_per_topic_per_second=1000.0,
            eclipse_protection_enabled=False,
            max_pending_messages_per_peer=1000,
        )
        self.pubsub = Pubsub(
            host,
            self.router,
            strict_signing=True,
            max_inbound_rpc_size=MAX_GOSSIP_BYTES + 4096,
            allowed_topics={TOPIC},
        )
        self.received = 0

    @asynccontextmanager
    async def running(self, on_message: OnMessage) -> AsyncIterator[Gossip]:
        async with background_trio_service(self.pubsub), background_trio_service(self.router):
            await self.pubsub.wait_until_ready()
            subscription = await self.pubsub.subscribe(TOPIC)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._receive, subscription, on_message)
                try:
                    yield self
                finally:
                    nursery.cancel_scope.cancel()

    async def _receive(self, subscription: Any, on_message: OnMessage) -> None:
        me = self.host.get_id().to_bytes()
        while True:
            msg = await subscription.get()
            if msg.from_id == me:
                continue  # our own announcement, echoed back
            origin = ID(msg.from_id)
            if len(msg.data) > MAX_GOSSIP_BYTES:
                continue
            try:
                decoded = decode_message(msg.data, MESSAGES)
            except ProtocolViolation as exc:
                log.info("dropping malformed gossip from %s: %s", origin, exc)
                continue
            self.received += 1
            try:
                await on_message(origin, decoded)
            except Exception:
                log.exception("gossip handler failed")

    async def publish(self, message: Message) -> None:
        data = message.encode()
        if len(data) > MAX_GOSSIP_BYTES:
            raise ValueError("gossip message too large")
        await self.pubsub.publish(TOPIC, data)

    def topic_peers(self) -> list[ID]:
        """Peers known to subscribe to the ledger topic (mesh or not)."""
        return list(self.pubsub.peer_topics.get(TOPIC, ()))

    def mesh_peers(self) -> list[ID]:
        return list(self.router.mesh.get(TOPIC, ()))


def batch_wires(wires: list[bytes], limit: int = MAX_ANNOUNCE_BYTES) -> list[list[bytes]]:
    """Split entries into announcement-sized batches (order kept)."""
    batches: list[list[bytes]] = [[]]
    size = 0
    for w in wires:
        if batches[-1] and size + len(w) > limit:
            batches.append([])
            size = 0
        batches[-1].append(w)
        size += len(w)
    return [b for b in batches if b]
