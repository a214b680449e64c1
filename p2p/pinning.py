"""Seeders pin what they replicate: the content of listings, by policy, within a disk quota."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ledger.entry import Entry

if TYPE_CHECKING:
    from content.chunkstore import ChunkStore
    from content.format import Manifest
    from p2p.sync.protocol import LedgerAccess

log = logging.getLogger(__name__)

MAX_RETRY_S = 3600.0  # a content no peer could supply is tried again at most this rarely
MAX_REMEMBERED = 65_536  # failed or refused content IDs kept (the oldest are forgotten)


class PinningNode(Protocol):
    """What a :class:`Pinner` uses of the node that owns it (p2p.node.Node): its ledger, its
    chunk store, the token of its trio run, and content downloads."""

    ledger: LedgerAccess
    store: ChunkStore
    _token: trio.lowlevel.TrioToken | None

    async def fetch(self, content_id: bytes, *, max_bytes: int | None = None) -> Manifest: ...


@dataclass(frozen=True)
class SeedPolicy:
    """``mode``: "none" (a desktop fan), "all" (pin every listing), "followed" (only listings by
    ``followed`` authors). Pinning stops when the chunk store reaches ``quota_bytes``."""

    mode: str = "none"
    followed: frozenset[bytes] = frozenset()
    quota_bytes: int = 10 * 1024**3
    retry_interval: float = 10.0

    def wants(self, author: bytes) -> bool:
        return self.mode == "all" or (self.mode == "followed" and author in self.followed)


def content_ids_of(entry: Entry) -> list[bytes]:
    """The content a listing refers to: every track, its preview, and the artwork."""
    if entry.kind != "listing":
        return []
    body: Any = entry.body
    out: list[bytes] = []
    for track in body.get("tracks", ()):
        out.append(track["content"])
        if track.get("preview"):
            out.append(track["preview"])
    if body.get("artwork"):
        out.append(body["artwork"])
    return [c for c in out if isinstance(c, bytes) and len(c) == 32]


class Pinner:
    """Watches accepted listings and keeps their content in the local chunk store."""

    def __init__(self, node: PinningNode, policy: SeedPolicy) -> None:
        self.node = node
        self.policy = policy
        self.pinned: set[bytes] = set()
        self.wanted: dict[bytes, bytes] = {}  # content id -> author
        self.over_quota = False
        self.failures: dict[bytes, tuple[float, float]] = {}  # cid -> (retry at, wait)
        self.refused: dict[bytes, None] = {}  # too large for the quota left when tried
        self._wake = trio.Event()

    def start(self, nursery: trio.Nursery) -> None:
        if self.policy.mode == "none":
            return
        self.node.ledger.ledger.add_listener(self._on_entries)
        nursery.start_soon(self._scan_existing)
        nursery.start_soon(self._loop)

    def _on_entries(self, entries: list[Entry]) -> None:
        found = False
        for e in entries:
            if self.policy.wants(e.author):
                for cid in content_ids_of(e):
                    if cid not in self.pinned and cid not in self.refused:
                        self.wanted[cid] = e.author
                        found = True
        token = self.node._token
        if found and token is not None:
            token.run_sync_soon(self._wake.set)

    async def _scan_existing(self) -> None:
        def scan() -> None:
            led = self.node.ledger.ledger
            for author in led.frontier():
                if self.policy.wants(author):
                    for e in led.feed(author):
                        for cid in content_ids_of(e):
                            self.wanted.setdefault(cid, author)

        await self.node.ledger.call(scan)
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            with trio.move_on_after(self.policy.retry_interval):
                await self._wake.wait()
            self._wake = trio.Event()
            await self._pin_wanted()

    async def _pin_wanted(self) -> None:
        """One pass over the wanted content. Each item is isolated: a failure is logged and
        backs off (doubling up to ``MAX_RETRY_S``); content too large for what is left of the
        quota is refused until the quota changes; the pass never raises."""
        from p2p.content.download import DownloadFailed, TooLarge

        now = trio.current_time()
        for cid in list(self.wanted):
            if cid in self.pinned:
                self.wanted.pop(cid, None)
                continue
            retry = self.failures.get(cid)
            if retry is not None and now < retry[0]:
                continue
            used = await trio.to_thread.run_sync(self.node.store.size_on_disk)
            room = self.policy.quota_bytes - used
            if room <= 0:
                if not self.over_quota:
                    log.warning(
                        "seeding quota of %d bytes reached; not pinning more",
                        self.policy.quota_bytes,
                    )
                self.over_quota = True
                break
            try:
                await self.node.fetch(cid, max_bytes=room)
            except TooLarge as exc:
                log.warning("not pinning %s: %s", cid.hex()[:12], exc)
                self.wanted.pop(cid, None)
                self._remember(self.refused, cid, None)
                continue
            except DownloadFailed as exc:
                self._failed(cid, now, f"cannot pin yet: {exc}")
                continue
            except Exception as exc:  # a hostile content or peer never stops pinning
                self._failed(cid, now, f"pinning failed: {exc!r}")
                continue
            self.failures.pop(cid, None)
            self.pinned.add(cid)
            self.wanted.pop(cid, None)
            log.info("pinned %s", cid.hex()[:12])

    def _failed(self, cid: bytes, now: float, reason: str) -> None:
        previous = self.failures.pop(cid, None)
        wait = self.policy.retry_interval if previous is None else min(previous[1] * 2, MAX_RETRY_S)
        self._remember(self.failures, cid, (now + wait, wait))
        log.info("%s: %s (next try in %.0f s)", cid.hex()[:12], reason, wait)

    @staticmethod
    def _remember(table: dict[bytes, Any], cid: bytes, value: Any) -> None:
        table[cid] = value
        while len(table) > MAX_REMEMBERED:
            del table[next(iter(table))]  # the oldest
