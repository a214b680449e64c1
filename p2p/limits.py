"""Per-peer limits and the ban list: how a node protects itself from its peers."""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

log = logging.getLogger(__name__)

MAX_BANNED = 10_000  # peers refused at once; the ban closest to its end is dropped for a new one
MAX_VIOLATIONS = 256


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
    # Bandwidth caps in bytes per second; 0 means no cap. Chunks are paced whole: a reply is sent
    # (and a request made) once the bucket can pay for it, so rates hold over a few chunks.
    upload_rate: int = 0  # to all peers together (a seeder's uplink)
    upload_rate_per_peer: int = 0  # to any one peer
    download_rate: int = 0  # from all peers together
    download_rate_per_peer: int = 0  # from any one peer
    pace_burst_seconds: float = 0.25  # an idle bucket holds this many seconds' worth of bytes
    pace_max_wait: float = 2.0  # a reply that would wait longer for its bucket gets Busy instead

    def __post_init__(self) -> None:
        for name in (
            "upload_rate",
            "upload_rate_per_peer",
            "download_rate",
            "download_rate_per_peer",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"{name} must be a whole number of bytes per second >= 0, not {value!r}"
                )
        if self.pace_burst_seconds <= 0 or self.pace_max_wait <= 0:
            raise ValueError("pace_burst_seconds and pace_max_wait must be positive")


class TooBusy(Exception):
    """The per-peer queue for a resource is full, or a bandwidth cap would hold a reply too long.
    ``retry_after`` is a hint in seconds."""

    def __init__(self, peer: str, retry_after: float = 0.2) -> None:
        super().__init__(peer)
        self.retry_after = retry_after


class TokenBucket:
    """Paces bytes to ``rate`` per second, letting an idle sender burst up to ``burst`` bytes.

    A payment larger than the tokens held drives the bucket into debt and the payer waits the
    debt off, so concurrent payers queue behind one another and the long-run rate is exact
    whatever the chunk size.
    """

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = self.burst
        self._stamp = trio.current_time()

    def _refill(self) -> None:
        now = trio.current_time()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_for(self, n: int) -> float:
        """Seconds until ``n`` bytes could be paid without debt beyond what is owed now."""
        self._refill()
        return max(0.0, (n - self._tokens) / self.rate)

    def reserve(self, n: int) -> float:
        """Pay ``n`` bytes now; returns how long to wait before sending them."""
        wait = self.wait_for(n)
        self._tokens -= n
        return wait

    def idle(self) -> bool:
        """True once the bucket is full again (it can be forgotten without changing anything)."""
        self._refill()
        return self._tokens >= self.burst

    async def take(self, n: int) -> None:
        """Wait until ``n`` bytes may be sent."""
        wait = self.reserve(n)
        if wait > 0:
            await trio.sleep(wait)
        else:
            await trio.lowlevel.checkpoint()


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
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        # the latest violations, for tests and the log; bounded like every per-peer table
        self.violations: collections.deque[tuple[str, str]] = collections.deque(
            maxlen=MAX_VIOLATIONS
        )

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
        if len(self._banned) >= MAX_BANNED:
            self._expire_bans()
            while len(self._banned) >= MAX_BANNED:  # the ban closest to its end goes first
                del self._banned[min(self._banned, key=lambda p: self._banned[p][0])]
        self._banned[peer] = (trio.current_time() + self.limits.ban_seconds, reason)
        self.violations.append((peer, reason))
        with trio.CancelScope(shield=True):
            with trio.move_on_after(2):
                try:
                    await self._disconnect(peer)
                except Exception as exc:  # a half-closed connection may raise anything
                    log.debug("disconnect %s failed: %s", peer, exc)

    def _expire_bans(self) -> None:
        now = trio.current_time()
        for peer in [p for p, (until, _) in self._banned.items() if until < now]:
            del self._banned[peer]

    def forget(self, peer: str) -> None:
        """Drop what is kept for a peer that has no connection left (its ban stays)."""
        semaphore = self._upload_peer.get(peer)
        if (
            semaphore is not None
            and semaphore.value == self.limits.upload_slots_per_peer
            and not self._upload_waiting.get(peer)
        ):
            del self._upload_peer[peer]
        for key in [k for k, b in self._buckets.items() if k[1] == peer and b.idle()]:
            del self._buckets[key]
        self._expire_bans()

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

    # -- bandwidth ---------------------------------------------------------------------------------
    def set_rates(
        self,
        *,
        upload_rate: int | None = None,
        upload_rate_per_peer: int | None = None,
        download_rate: int | None = None,
        download_rate_per_peer: int | None = None,
    ) -> Limits:
        """Change bandwidth caps (bytes per second, 0 = none) on a running node; the others stay.

        Checked like ``Limits`` (ValueError, nothing changed, for a bad value). The buckets start
        afresh at the new rates, so a lower cap holds from the next chunk on."""
        changes = {
            k: v
            for k, v in (
                ("upload_rate", upload_rate),
                ("upload_rate_per_peer", upload_rate_per_peer),
                ("download_rate", download_rate),
                ("download_rate_per_peer", download_rate_per_peer),
            )
            if v is not None
        }
        self.limits = dataclasses.replace(self.limits, **changes)
        self._buckets.clear()
        return self.limits

    def _bucket(self, direction: str, peer: str) -> TokenBucket | None:
        """The token bucket of ``direction`` for ``peer`` ("" for the node-wide one), if capped."""
        limits = self.limits
        if direction == "up":
            rate = limits.upload_rate_per_peer if peer else limits.upload_rate
        else:
            rate = limits.download_rate_per_peer if peer else limits.download_rate
        if not rate:
            return None
        key = (direction, peer)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 2 * limits.max_peers + 2:
                for old in [k for k, b in self._buckets.items() if k[1] and b.idle()]:
                    del self._buckets[old]
            burst = max(rate * limits.pace_burst_seconds, 1.0)
            bucket = self._buckets[key] = TokenBucket(rate, burst)
        return bucket

    async def _pace(self, direction: str, peer: str, n: int, max_wait: float) -> None:
        buckets = [
            b for b in (self._bucket(direction, peer), self._bucket(direction, "")) if b is not None
        ]
        if not buckets:
            return
        waits = [b.wait_for(n) for b in buckets]
        if max(waits) > max_wait:
            raise TooBusy(peer, retry_after=min(max(waits) - max_wait + 0.05, 60.0))
        wait = max(b.reserve(n) for b in buckets)
        if wait > 0:
            await trio.sleep(wait)

    async def pace_upload(self, peer: str, n: int) -> None:
        """Wait until ``n`` bytes may go to ``peer`` under the upload caps. Raises TooBusy (and
        uses no allowance) when that would take longer than ``limits.pace_max_wait``."""
        await self._pace("up", peer, n, self.limits.pace_max_wait)

    async def pace_download(self, peer: str, n: int) -> None:
        """Wait until ``n`` more bytes may be requested from ``peer`` under the download caps."""
        await self._pace("down", peer, n, math.inf)


INFINITE = math.inf
