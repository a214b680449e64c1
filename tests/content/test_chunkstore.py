"""The chunk store on real files: packs, the .have marks, O_DIRECT and its fallback, loose chunks,
other instances of the same directory, damaged files and a full disk."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from pathlib import Path

import pytest

import content.chunkstore as chunkstore
from content.chunkstore import DIRECT_ALIGN, ChunkStore, stride
from content.format import ContentError, PackedContent, new_track_key, pack
from tests.storage import grow, small_disk


def _track(size: int, chunk_size: int = 64 * 1024, encrypted: bool = True) -> PackedContent:
    return pack(
        os.urandom(size), new_track_key() if encrypted else None, "audio/ogg", chunk_size=chunk_size
    )


def _stored(store: ChunkStore, track: PackedContent) -> list[bytes | None]:
    return [store.get_chunk(c) for c in track.manifest.chunks]


@pytest.mark.parametrize("direct_io", [True, False])
@pytest.mark.parametrize(
    ("size", "chunk_size", "encrypted"),
    [
        (300_000, 64 * 1024, True),  # chunks of 65,552 bytes: a 16-byte tail past the blocks
        (4 * 65_536, 65_536, False),  # whole blocks, no tail
        (65_536 + 1, 65_536, False),  # a last chunk of one byte
        (4095, 1024, True),  # chunks smaller than a block
        (0, 1024, False),  # one empty chunk
    ],
)
def test_chunks_read_back_exactly_from_a_new_instance(
    tmp_path: Path, direct_io: bool, size: int, chunk_size: int, encrypted: bool
) -> None:
    track = _track(size, chunk_size, encrypted)
    ChunkStore(tmp_path, direct_io=direct_io).put_packed(track.manifest_bytes, track.chunks)
    reader = ChunkStore(tmp_path)
    assert _stored(reader, track) == list(track.chunks)
    assert reader.missing_chunks(track.manifest) == []
    assert reader.is_complete(track.content_id)
    # Every chunk sits in the content's pack, block-aligned; nothing was stored loose.
    for index, chunk_id in enumerate(track.manifest.chunks):
        where = reader.locate(chunk_id)
        assert where is not None and where.path == reader.pack_path(track.content_id)
        assert where.offset == index * stride(track.manifest) and where.offset % DIRECT_ALIGN == 0
    assert {p.name for p in tmp_path.iterdir()} == {"packs", f"{track.content_id.hex()}.manifest"}


def test_a_store_without_direct_io_writes_the_same_files(tmp_path: Path) -> None:
    track = _track(200_000)
    a = ChunkStore(tmp_path / "a")
    b = ChunkStore(tmp_path / "b", direct_io=False)
    for store in (a, b):
        store.put_packed(track.manifest_bytes, track.chunks)
    assert not b.direct_io
    for suffix in ("pack", "have"):
        name = f"packs/{track.content_id.hex()}.{suffix}"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def _refuse_direct(monkeypatch: pytest.MonkeyPatch, calls: list[int]) -> None:
    """Make fcntl refuse O_DIRECT, as file systems without direct I/O do."""
    real = fcntl.fcntl

    def fake(fd: int, cmd: int, arg: int = 0) -> int:
        if cmd == fcntl.F_SETFL and arg & os.O_DIRECT:
            calls.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, cmd, arg)

    monkeypatch.setattr(chunkstore.fcntl, "fcntl", fake)


def test_a_file_system_without_direct_io_gets_buffered_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    _refuse_direct(monkeypatch, calls)
    track = _track(300_000)
    store = ChunkStore(tmp_path)
    assert store.direct_io
    store.put_packed(track.manifest_bytes, track.chunks)
    assert not store.direct_io  # switched after the first refusal, not asked again
    assert len(calls) == 1
    assert _stored(ChunkStore(tmp_path), track) == list(track.chunks)


def test_a_direct_write_refused_after_the_flag_is_written_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.pwrite
    refused: list[int] = []

    def pwrite(fd: int, data: object, offset: int) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data, offset)  # type: ignore[arg-type]

    monkeypatch.setattr(chunkstore.os, "pwrite", pwrite)
    track = _track(200_000)
    store = ChunkStore(tmp_path)
    store.put_packed(track.manifest_bytes, track.chunks)
    assert len(refused) == 1 and not store.direct_io
    assert _stored(ChunkStore(tmp_path), track) == list(track.chunks)


def test_bytes_without_their_mark_are_not_a_chunk(tmp_path: Path) -> None:
    """A crash between writing a chunk and marking it: the chunk is missing, not half there."""
    track = _track(300_000)
    store = ChunkStore(tmp_path)
    store.put_packed(track.manifest_bytes, track.chunks)
    have = store.have_path(track.content_id)
    marks = bytearray(have.read_bytes())
    marks[1] = 0
    have.write_bytes(bytes(marks[:3]))  # chunk 1 unmarked, chunks 3.. past the end of the file
    reader = ChunkStore(tmp_path)
    assert reader.missing_chunks(track.manifest) == [1, *range(3, len(track.chunks))]
    assert reader.get_chunk(track.manifest.chunks[1]) is None
    assert not reader.has_chunk(track.manifest.chunks[4])
    reader.put_chunk(track.chunks[4])
    assert reader.get_chunk(track.manifest.chunks[4]) == track.chunks[4]


def test_a_wrong_chunk_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    track = _track(200_000)
    store = ChunkStore(tmp_path)
    store.put_manifest(track.manifest_bytes)
    with pytest.raises(ContentError, match="expected hash"):
        store.put_chunk(os.urandom(len(track.chunks[0])), track.manifest.chunks[0])
    assert store.missing_chunks(track.manifest) == list(range(len(track.chunks)))
    assert not store.pack_path(track.content_id).exists()


def test_a_chunk_before_its_manifest_is_stored_loose_and_still_counts(tmp_path: Path) -> None:
    track = _track(300_000)
    store = ChunkStore(tmp_path)
    store.put_chunk(track.chunks[2])
    assert store.chunk_path(track.manifest.chunks[2]).read_bytes() == track.chunks[2]
    store.put_manifest(track.manifest_bytes)
    assert store.missing_chunks(track.manifest) == [i for i in range(len(track.chunks)) if i != 2]
    assert store.get_chunk(track.manifest.chunks[2]) == track.chunks[2]
    for index, data in enumerate(track.chunks):
        if index != 2:
            store.put_chunk(data)
    assert store.chunk_path(track.manifest.chunks[2]).exists()
    assert store.missing_chunks(track.manifest) == []
    # A chunk stored before its manifest may also be sent again: it then moves into the pack.
    store.put_chunk(track.chunks[2])
    assert not store.chunk_path(track.manifest.chunks[2]).exists()
    assert _stored(ChunkStore(tmp_path), track) == list(track.chunks)


def test_an_instance_finds_content_another_one_stored_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = ChunkStore(tmp_path)
    track = _track(200_000)
    assert reader.get_chunk(track.manifest.chunks[0]) is None
    ChunkStore(tmp_path).put_packed(track.manifest_bytes, track.chunks)
    # Within the rescan interval a miss does not list the directory again...
    assert reader.get_chunk(track.manifest.chunks[0]) is None
    # ...after it, the new manifest is found.
    monkeypatch.setattr(chunkstore, "RESCAN_INTERVAL", 0.0)
    assert _stored(reader, track) == list(track.chunks)


def test_threads_asking_a_fresh_instance_at_once_all_find_their_chunks(tmp_path: Path) -> None:
    """The first lookups start a scan of the directory; the others wait for it to finish
    instead of missing chunks of a manifest that is half indexed."""
    tracks = [_track(2_000_000, chunk_size=1024, encrypted=False) for _ in range(3)]
    for track in tracks:
        ChunkStore(tmp_path).put_packed(track.manifest_bytes, track.chunks)
    wanted = [(t.manifest.chunks[-1 - i], t.chunks[-1 - i]) for t in tracks for i in range(4)]
    for _ in range(3):
        assert _ask_at_once(ChunkStore(tmp_path), wanted) == [True] * len(wanted)


def _ask_at_once(reader: ChunkStore, wanted: list[tuple[bytes, bytes]]) -> list[bool]:
    found: list[bool] = []
    start = threading.Barrier(len(wanted))

    def ask(chunk_id: bytes, data: bytes) -> None:
        start.wait()
        found.append(reader.get_chunk(chunk_id) == data)

    threads = [threading.Thread(target=ask, args=w) for w in wanted]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return found


def test_a_damaged_manifest_on_disk_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = _track(100_000), _track(100_000)
    ChunkStore(tmp_path).put_packed(good.manifest_bytes, good.chunks)
    (tmp_path / f"{bad.content_id.hex()}.manifest").write_bytes(b"\xff not cbor")
    with caplog.at_level(logging.WARNING, logger="content.chunkstore"):
        assert _stored(ChunkStore(tmp_path), good) == list(good.chunks)
    assert any("skipping manifest" in r.getMessage() for r in caplog.records)


def test_a_discarded_chunk_is_gone_until_stored_again(tmp_path: Path) -> None:
    track = _track(300_000)
    store = ChunkStore(tmp_path)
    store.put_packed(track.manifest_bytes, track.chunks)
    store.discard_chunk(track.manifest.chunks[3])
    assert store.missing_chunks(track.manifest) == [3]
    assert ChunkStore(tmp_path).get_chunk(track.manifest.chunks[3]) is None
    store.put_chunk(track.chunks[3])
    assert _stored(ChunkStore(tmp_path), track) == list(track.chunks)


def test_removing_content_frees_what_size_on_disk_counted(tmp_path: Path) -> None:
    a, b = _track(300_000), _track(200_000)
    store = ChunkStore(tmp_path)
    store.put_packed(a.manifest_bytes, a.chunks)
    with_a = store.size_on_disk()
    store.put_packed(b.manifest_bytes, b.chunks)
    both = store.size_on_disk()
    chunk_bytes = sum(map(len, b.chunks))
    assert both - with_a == chunk_bytes + len(b.manifest_bytes)
    freed = store.remove_content(b.content_id)
    assert freed == chunk_bytes
    assert store.size_on_disk() == with_a
    assert not store.pack_path(b.content_id).exists() and not store.has_manifest(b.content_id)
    assert store.get_chunk(b.manifest.chunks[0]) is None
    assert _stored(store, a) == list(a.chunks)
    assert store.content_ids() == [a.content_id]


def test_a_full_disk_is_an_error_and_keeps_every_chunk_stored_before(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        _fill_and_resume(disk)


def _fill_and_resume(small_disk: Path) -> None:
    track = _track(2_000_000, chunk_size=128 * 1024)
    store = ChunkStore(small_disk)
    store.put_manifest(track.manifest_bytes)
    stored = 0
    with pytest.raises(OSError) as failure:
        for data in track.chunks:
            store.put_chunk(data)
            stored += 1
    assert failure.value.errno == errno.ENOSPC
    assert 0 < stored < len(track.chunks)
    reader = ChunkStore(small_disk)
    assert reader.missing_chunks(track.manifest) == list(range(stored, len(track.chunks)))
    assert _stored(reader, track)[:stored] == list(track.chunks[:stored])
    grow(small_disk, "8m")
    for data in track.chunks[stored:]:
        store.put_chunk(data)
    assert _stored(ChunkStore(small_disk), track) == list(track.chunks)
