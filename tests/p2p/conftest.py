"""Real hosts on 127.0.0.1 in one process, real SQLite ledgers, real chunk stores."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from content.chunkstore import ChunkStore
from ledger.keys import Signer
from ledger.ledger import Ledger
from p2p.limits import Limits
from p2p.node import Node, NodeConfig, open_node


def trio_test(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an async test function with trio (pytest-trio is not a dependency)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return trio.run(functools.partial(fn, *args, **kwargs))

    return wrapper


@dataclass
class Peer:
    name: str
    signer: Signer
    ledger: Ledger
    store: ChunkStore
    node: Node | None = None

    def append(self, n: int = 1, start: int = 0) -> None:
        for i in range(start, start + n):
            self.ledger.append(
                self.signer, "profile", {"name": f"{self.name} {i}", "bio": "", "links": []}
            )


class Swarm:
    """Factory for peers with their own ledger and chunk store under tmp_path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.peers: list[Peer] = []

    def peer(self, name: str, seed: bytes | None = None) -> Peer:
        signer = Signer.from_seed(seed or os.urandom(32))
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        p = Peer(name, signer, Ledger.open(d / "ledger.sqlite"), ChunkStore(d / "content"))
        self.peers.append(p)
        return p

    @asynccontextmanager
    async def run(self, peer: Peer, **config: Any) -> AsyncIterator[Node]:
        config.setdefault("limits", Limits(request_timeout=3.0, ban_seconds=60))
        async with open_node(
            NodeConfig(seed=peer.signer.seed, **config), peer.ledger, peer.store
        ) as node:
            peer.node = node
            try:
                yield node
            finally:
                peer.node = None

    @asynccontextmanager
    async def run_all(self, *peers: Peer, **config: Any) -> AsyncIterator[list[Node]]:
        async with AsyncExitStack() as stack:
            nodes = [await stack.enter_async_context(self.run(p, **config)) for p in peers]
            yield nodes

    def close(self) -> None:
        for p in self.peers:
            p.ledger.close()


@pytest.fixture
def swarm(tmp_path: Path) -> Any:
    s = Swarm(tmp_path)
    yield s
    s.close()


async def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    with trio.fail_after(timeout):
        while not cond():
            await trio.sleep(0.02)
