"""Tampering with stored chunks in place, for tests of what readers and peers do with bad bytes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from content.chunkstore import ChunkStore


def overwrite_chunk(store: ChunkStore, chunk_id: bytes, change: Callable[[bytes], bytes]) -> None:
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


@contextmanager
def small_disk(mount: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``mount``: a real file system that runs out of space (the test
    is skipped where mounting is not allowed). ``grow(mount, size)`` makes room again."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def grow(mount: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)
