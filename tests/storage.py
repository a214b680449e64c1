"""Tampering with stored chunks in place, for tests of what readers and peers do with bad bytes."""

from __future__ import annotations

from collections.abc import Callable

from ledger.chunkstore import ChunkStore


def overwrite_chunk(store: ChunkStore, chunk_id: bytes,
                    change: Callable[[bytes], bytes]) -> None:
    """Replace the stored bytes of ``chunk_id`` (in its pack or loose file) with
    ``change(old bytes)``, which must be as long, behind the store's back."""
    where = store.locate(chunk_id)
    assert where is not None, "the chunk is not stored"
    with open(where.path, "r+b") as file:
        file.seek(where.offset)
        old = file.read(where.length)
        new = change(old)
        assert len(new) == len(old)
        file.seek(where.offset)
        file.write(new)


def flip_a_bit(data: bytes) -> bytes:
    changed = bytearray(data)
    changed[5] ^= 1
    return bytes(changed)
