"""Seeders pin what they replicate: the content of listings, by policy, within a disk quota."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ledger.entry import Entry

if TYPE_CHECKING:
    from ledger.chunkstore import ChunkStore
    from ledger.content import Manifest
    from p2p.sync.protocol import LedgerAccess

log = logging.getLogger(__name__)


class PinningNode(Protocol):
    """What a :class:`Pinner` uses of the node that owns it (p2p.node.Node): its ledger, its
    chunk store, the token of its trio run, and content downloads."""

    ledger: LedgerAccess
    store: ChunkStore
    _token: trio.lowlevel.TrioToken | None

    async def fetch(self, content_id: bytes) -> Manifest: ...


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
                    if cid not in self.pinned:
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
        from p2p.content.download import DownloadFailed

        while True:
            with trio.move_on_after(self.policy.retry_interval):
                await self._wake.wait()
            self._wake = trio.Event()
            for cid in list(self.wanted):
                if cid in self.pinned:
                    self.wanted.pop(cid, None)
                    continue
                used = await trio.to_thread.run_sync(self.node.store.size_on_disk)
                if used >= self.policy.quota_bytes:
                    if not self.over_quota:
                        log.warning("seeding quota of %d bytes reached; not pinning more",
                                    self.policy.quota_bytes)
                    self.over_quota = True
                    break
                try:
                    await self.node.fetch(cid)
                except DownloadFailed as exc:
                    log.info("cannot pin %s yet: %s", cid.hex()[:12], exc)
                    continue
                self.pinned.add(cid)
                self.wanted.pop(cid, None)
                log.info("pinned %s", cid.hex()[:12])
