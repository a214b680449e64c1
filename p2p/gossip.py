"""GossipSub announcements: new ledger entries, fork proofs and content providers.

Topic ``/cooptracks/ledger/1``. GossipSub only spreads news fast; the sync protocol remains the
source of truth, so a lost announcement costs latency, never correctness. py-libp2p's defaults
are overridden: a 1 s heartbeat instead of 120 s, a spam limit far above 10 messages/s, and
eclipse protection off (it wants three distinct IPs in a mesh, which a LAN behind one NAT or a
loopback test never has). Messages we published ourselves are dropped on receipt.

Every cache the router keeps is bounded by size and by time (``BoundedGossipSub``): py-libp2p
0.8.1's "adaptive gossip" stretched the heartbeat to 30-60 s whenever its health score fell (a
mesh of one or two peers is enough; 30 s measured in the soak), and the message cache, which is
shifted once a heartbeat and keeps five of them, then held minutes of messages; its
equivocation check kept up to 1,000 whole messages; its delivery log grew by one float per
message for ever; the seen-message cache had an expiry but no count. Under a flood of
``Provide`` that was about 3 MB of resident memory per round of the soak bench, outside the
Python heap (protobuf messages are native).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.mcache import MessageCache
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service
from libp2p.tools.timed_cache.last_seen_cache import LastSeenCache

from ledger.entry import MAX_ENTRY_BYTES
from ledger.forks import MAX_PROOF_BYTES
from p2p.wire import Message, ProtocolViolation, check, decode_message, is_bytes, registry_of

log = logging.getLogger(__name__)

TOPIC = "/cooptracks/ledger/1"
MAX_GOSSIP_BYTES = 512 * 1024
MAX_ANNOUNCE_BYTES = 256 * 1024  # we batch entries up to this size
MAX_PROVIDE_IDS = 256
MAX_HEADS = 1024

SEEN_TTL = 120  # seconds a message ID is remembered (py-libp2p's default)
MAX_SEEN = 16_384  # message IDs remembered at most (about 2.5 MB)
MAX_MCACHE_BYTES = 4 << 20  # message bytes kept for IWANT answers at most
MAX_EQUIVOCATION_KEYS = 16_384  # (from, seqno) digests kept to spot equivocation
PUBLISH_AHEAD = 16  # messages queued for a peer before a publish waits (py-libp2p drops at 32)
PUBLISH_WAIT_S = 5.0
QUEUE_LIMIT = 32  # py-libp2p's OutBoundQueueSize
DELIVERY_LOG_S = 60.0  # py-libp2p's delivery log is pruned to this window
MAX_DELIVERY_LOG = 4_096


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


class BoundedSeenCache(LastSeenCache):
    """py-libp2p's seen-message cache (expiry renewed on every sighting, ``ttl`` seconds) with
    a count: at most ``max_size`` IDs, the least recently seen go first. An ID dropped early
    only means a replay of that message is validated again and handled again, which every
    handler tolerates (ingesting an entry twice changes nothing)."""

    def __init__(self, ttl: int = SEEN_TTL, max_size: int = MAX_SEEN) -> None:
        super().__init__(ttl, sweep_interval=60)
        self.max_size = max_size

    def add(self, key: bytes) -> bool:
        with self.lock:
            is_new = self.cache.pop(key, None) is None
            self.cache[key] = int(time.time()) + self.ttl
            while len(self.cache) > self.max_size:
                del self.cache[next(iter(self.cache))]
            return is_new

    def has(self, key: bytes) -> bool:
        with self.lock:
            expiry = self.cache.pop(key, None)
            if expiry is None:
                return False
            if expiry < time.time():
                return False  # expired, not yet swept
            self.cache[key] = int(time.time()) + self.ttl
            return True


class BoundedMessageCache(MessageCache):
    """The message cache (messages of the last ``history_size`` heartbeats, for IWANT answers)
    with a byte budget: past ``max_bytes`` the oldest messages go first. A message missing from
    it only means a peer that asks for it does not get it from us; sync catches it up."""

    def __init__(self, window_size: int, history_size: int, max_bytes: int) -> None:
        super().__init__(window_size, history_size)
        self.max_bytes = max_bytes
        self.bytes = 0
        self._sizes: dict[bytes, int] = {}

    def put(self, msg: rpc_pb2.Message) -> None:
        before = len(self.msgs)
        super().put(msg)
        if len(self.msgs) == before:
            return  # already held
        mid = msg.from_id + msg.seqno
        size = len(msg.data) + len(mid) + 64
        self._sizes[mid] = size
        self.bytes += size
        while self.bytes > self.max_bytes and self._evict_oldest():
            pass

    def shift(self) -> None:
        for entry in self.history[-1]:
            self._forget(entry.mid)
        super().shift()

    def _evict_oldest(self) -> bool:
        for entries in reversed(self.history):
            if entries:
                entry = entries.pop(0)
                self.msgs.pop(entry.mid, None)
                self._forget(entry.mid)
                return True
        return False

    def _forget(self, mid: bytes) -> None:
        self.bytes -= self._sizes.pop(mid, 0)


class BoundedGossipSub(GossipSub):
    """py-libp2p's GossipSub with each of its caches bounded by size and time.

    * "Adaptive gossip" is off: it set the heartbeat to 30-60 s whenever its health score fell
      below 0.7 (a mesh of fewer than six peers), and the message cache lives in heartbeats.
    * The message cache has a byte budget (``BoundedMessageCache``).
    * The equivocation check keeps a 32-byte digest of each message's data and topics per
      ``from || seqno``, for ``SEEN_TTL`` seconds and at most ``MAX_EQUIVOCATION_KEYS`` of them,
      instead of up to 1,000 whole messages.
    * The delivery log (one timestamp per message, pruned only by adaptive gossip) keeps the
      last ``DELIVERY_LOG_S`` seconds and at most ``MAX_DELIVERY_LOG`` entries per topic.
    * Peer scores of peers that have gone are dropped (reading a score re-creates them).
    """

    mcache: BoundedMessageCache

    def __init__(self, *, max_mcache_bytes: int = MAX_MCACHE_BYTES, **kwargs: Any) -> None:
        super().__init__(adaptive_gossip_enabled=False, **kwargs)
        self.mcache = BoundedMessageCache(
            self.mcache.window_size, self.mcache.history_size, max_mcache_bytes
        )
        self._equivocation: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()

    def _check_equivocation(self, msg: rpc_pb2.Message) -> bool:
        key = msg.from_id + msg.seqno
        digest = hashlib.blake2b(
            b"\x00".join([msg.data, *(t.encode() for t in msg.topicIDs)]), digest_size=32
        ).digest()
        now = time.monotonic()
        seen = self._equivocation.get(key)
        if seen is not None and now - seen[1] < SEEN_TTL:
            if seen[0] != digest:
                log.info("equivocating gossip from %s", ID(msg.from_id))
                if self.scorer is not None:
                    self.scorer.penalize_equivocation(ID(msg.from_id), 100.0)
                return False
            return True
        self._equivocation[key] = (digest, now)
        self._equivocation.move_to_end(key)
        while len(self._equivocation) > MAX_EQUIVOCATION_KEYS:
            self._equivocation.popitem(last=False)
        return True

    def _periodic_security_cleanup(self) -> None:
        super()._periodic_security_cleanup()
        now = time.monotonic()
        while self._equivocation:
            key, (_, at) = next(iter(self._equivocation.items()))
            if now - at < SEEN_TTL:
                break
            del self._equivocation[key]
        self.equivocation_detection.clear()  # never filled: _check_equivocation is ours
        cutoff = time.time() - DELIVERY_LOG_S
        for topic, times in list(self.recent_message_deliveries.items()):
            times[:] = [t for t in times[-MAX_DELIVERY_LOG:] if t > cutoff]
            if not times:
                del self.recent_message_deliveries[topic]
        del self.recent_peer_connections[:-MAX_DELIVERY_LOG]
        del self.recent_peer_disconnections[:-MAX_DELIVERY_LOG]
        if self.scorer is not None:
            live = self.peer_protocol
            scorer = self.scorer
            for table in (
                scorer.time_in_mesh,
                scorer.first_message_deliveries,
                scorer.mesh_message_deliveries,
                scorer.invalid_messages,
                scorer.behavior_penalty,
                scorer.app_specific_scores,
                scorer.graft_flood_penalties,
                scorer.iwant_spam_penalties,
                scorer.ihave_spam_penalties,
                scorer.equivocation_penalties,
            ):
                for peer in [p for p in table if p not in live]:
                    del table[peer]


OnMessage = Callable[[ID, Message], Awaitable[None]]


class Gossip:
    """One GossipSub router and subscription to the ledger topic."""

    def __init__(self, host: IHost, heartbeat: float = 1.0) -> None:
        self.host = host
        self.router = BoundedGossipSub(
            protocols=[PROTOCOL_ID_V11, PROTOCOL_ID],
            degree=6,
            degree_low=4,
            degree_high=12,
            heartbeat_initial_delay=0.1,
            heartbeat_interval=heartbeat,  # seconds; int in py-libp2p's annotation
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
            seen_ttl=SEEN_TTL,
        )
        self.pubsub.seen_messages.stop()  # its sweeper thread; ours replaces it
        self.pubsub.seen_messages = BoundedSeenCache(SEEN_TTL, MAX_SEEN)
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
        """Publish on the topic. py-libp2p drops what passes 32 queued RPCs for a peer, so a
        burst (a seeder re-announcing thousands of contents) first waits, up to
        ``PUBLISH_WAIT_S``, while a peer holds ``PUBLISH_AHEAD`` or more queued and is taking
        them; a peer that takes nothing for 0.1 s (or whose queue is full) is not waited for."""
        data = message.encode()
        if len(data) > MAX_GOSSIP_BYTES:
            raise ValueError("gossip message too large")
        queues = self.pubsub.peer_queues
        started = progress = trio.current_time()
        queued: int | None = None
        while True:
            busy = [len(q) for q in list(queues.values()) if PUBLISH_AHEAD <= len(q) < QUEUE_LIMIT]
            now = trio.current_time()
            if not busy or now - started > PUBLISH_WAIT_S:
                break
            if queued is None or sum(busy) < queued:
                progress = now
            elif now - progress > 0.1:
                break  # nobody is taking: waiting would only slow us down
            queued = sum(busy)
            await trio.sleep(0.005)
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
