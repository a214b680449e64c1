"""Copying signed entries and verified chunks between two local profiles, without a network.

What the swarm does between machines, done between stores on one disk: used to build the demo
world before any node runs, and by tests that need several identities to agree. Every entry goes
through ``Ledger.ingest`` (the full validation a network peer's entries get) and every chunk is
checked by the receiving chunk store.
"""

from __future__ import annotations

from app.services.core import Core
from app.services.errors import UserError


def replicate(src: Core, dst: Core) -> int:
    """Copy every entry ``dst`` lacks from ``src`` (per-feed ranges); returns how many."""
    moved = 0
    for author, (seq, _) in src.ledger.frontier().items():
        have = dst.ledger.head_seq(author)
        if have < seq:
            wires = src.ledger.feed_range(author, have + 1, seq - have)
            dst.ledger.ingest(wires)
            moved += len(wires)
    return moved


def converge(*cores: Core) -> None:
    """Bring every core's ledger up to date with all the others."""
    for _ in range(2):  # the second round carries what arrived during the first
        for src in cores:
            for dst in cores:
                if dst is not src:
                    replicate(src, dst)


def copy_content(src: Core, dst: Core, content: bytes) -> int:
    """Copy a content item's manifest and missing chunks; returns the bytes copied."""
    manifest_bytes = src.chunks.manifest_bytes(content)
    if manifest_bytes is None:
        raise UserError("the source profile does not hold this content")
    manifest = dst.chunks.put_manifest(manifest_bytes, content)
    moved = 0
    for i in dst.chunks.missing_chunks(manifest):
        data = src.chunks.get_chunk(manifest.chunks[i])
        if data is None:
            raise UserError("the source profile lacks a chunk of this content")
        dst.chunks.put_chunk(data, manifest.chunks[i])
        moved += len(data)
    return moved
