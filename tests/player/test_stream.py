"""Playing a purchased track while it downloads: chunk-by-chunk decryption with real decoding."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import pytest

from content.chunkstore import ChunkStore
from content.format import new_track_key, pack
from content.source import ChunkUnavailable, DirectoryChunkSource, StreamCancelled
from player.samples import make_tone
from player.stream import DecryptingStream, demuxer_for
from tests.storage import overwrite_chunk

CHUNK = 4096  # small chunks so a few seconds of audio span many of them
# FFmpeg reads ~24 KiB of MP3 while opening (format and stream probing); with real 256 KiB chunks
# that is a fraction of chunk 0, here it is the first 8 of about 32 chunks.
PRESENT = 8


def _stored_track(
    tmp_path: Path, fmt: str = "mp3", seconds: float = 4.0, first_chunks: int | None = 3
) -> tuple[ChunkStore, bytes, bytes, list[bytes], bytes]:
    """Pack a real track; store the manifest and only ``first_chunks`` chunks."""
    audio = make_tone(tmp_path, "bought", fmt, seconds=seconds).read_bytes()
    key = new_track_key()
    packed = pack(
        audio, key, mime="audio/mpeg" if fmt == "mp3" else f"audio/{fmt}", chunk_size=CHUNK
    )
    store = ChunkStore(tmp_path / "content")
    store.put_manifest(packed.manifest_bytes)
    for data in packed.chunks[:first_chunks]:
        store.put_chunk(data)
    return store, packed.content_id, key, list(packed.chunks), audio


def test_stream_reads_and_seeks_plaintext(tmp_path: Path) -> None:
    store, cid, key, _, audio = _stored_track(tmp_path, first_chunks=None)
    stream = DecryptingStream(DirectoryChunkSource(store, cid, key))
    assert stream.read() == audio
    stream.seek(CHUNK * 2 + 100)
    assert stream.read(50) == audio[CHUNK * 2 + 100 : CHUNK * 2 + 150]
    stream.seek(-10, 2)
    assert stream.read() == audio[-10:]


def test_decoding_starts_before_the_download_finishes(tmp_path: Path) -> None:
    store, cid, key, chunks, _ = _stored_track(tmp_path, seconds=8.0, first_chunks=PRESENT)
    assert len(chunks) >= 4 * PRESENT
    source = DirectoryChunkSource(store, cid, key, poll_interval=0.01)
    stream = DecryptingStream(source, timeout=20)
    first_audio = threading.Event()
    result: dict[str, object] = {}

    def decode() -> None:
        try:
            with av.open(stream, format=demuxer_for(source.manifest.mime)) as container:
                samples = 0
                for frame in container.decode(audio=0):
                    samples += frame.samples
                    first_audio.set()
                result["seconds"] = samples / frame.sample_rate
        except Exception as exc:  # reported to the test thread below
            result["error"] = exc
            first_audio.set()

    worker = threading.Thread(target=decode)
    worker.start()
    assert first_audio.wait(15), "no audio decoded from the first chunks"
    assert "error" not in result, result
    # The decoder soon blocks on a chunk that does not exist yet, and asks for it.
    deadline = time.monotonic() + 10
    while not source.wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.missing_chunks(source.manifest) and worker.is_alive()
    assert source.wanted and source.wanted[-1] >= PRESENT  # it asked for what it waits on
    for data in chunks[PRESENT:]:  # the rest of the download arrives
        store.put_chunk(data)
        source.notify()
    worker.join(20)
    assert "error" not in result, result
    assert result["seconds"] == pytest.approx(8.0, abs=0.1)


def test_missing_chunk_times_out_and_cancel_unblocks(tmp_path: Path) -> None:
    store, cid, key, _, _ = _stored_track(tmp_path, first_chunks=1)
    stream = DecryptingStream(
        DirectoryChunkSource(store, cid, key, poll_interval=0.01), timeout=0.2
    )
    stream.read(CHUNK)
    started = time.monotonic()
    with pytest.raises(ChunkUnavailable):
        stream.read(10)
    assert time.monotonic() - started < 2

    stream = DecryptingStream(
        DirectoryChunkSource(store, cid, key, poll_interval=0.01), timeout=None
    )
    stream.seek(CHUNK * 5)
    errors: list[BaseException] = []

    def blocked_read() -> None:
        try:
            stream.read(10)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=blocked_read)
    t.start()
    time.sleep(0.1)
    assert t.is_alive()  # waiting, as it should
    stream.cancel()
    t.join(2)
    assert not t.is_alive() and isinstance(errors[0], StreamCancelled)


def test_tampered_chunk_or_wrong_key_is_an_error_not_noise(tmp_path: Path) -> None:
    store, cid, key, _, _ = _stored_track(tmp_path, first_chunks=None)
    wrong = DecryptingStream(DirectoryChunkSource(store, cid, new_track_key()))
    with pytest.raises(OSError, match="authentication"):
        wrong.read(10)
    # Replace chunk 1 on disk with different bytes of the right length.
    chunk_id = DirectoryChunkSource(store, cid, key).manifest.chunks[1]
    overwrite_chunk(store, chunk_id, lambda old: bytes(len(old)))
    stream = DecryptingStream(DirectoryChunkSource(store, cid, key))
    stream.read(CHUNK)
    with pytest.raises(OSError, match="hash"):
        stream.read(10)
