"""The Qt Multimedia engine, offscreen, on real files and on an encrypted track mid-download.

Skipped (with the reason) where Qt Multimedia cannot load, e.g. when the system library
libpulse0 is missing. No audio output device is needed: Qt's FFmpeg backend then plays into a
null sink whose clock still runs, which is what these tests observe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from content.chunkstore import ChunkStore
from content.format import new_track_key, pack
from content.source import DirectoryChunkSource
from player.engine import MediaSource, NullEngine, PlaybackState
from player.qt_engine import make_engine, qt_multimedia_problem
from player.samples import make_tone
from player.stream import DecryptingStream

PROBLEM = qt_multimedia_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"{PROBLEM}")


@pytest.fixture
def engine(qapp):  # type: ignore[no-untyped-def]
    eng = make_engine()
    assert not isinstance(eng, NullEngine)
    yield eng
    eng.close()


def test_loads_a_file_and_learns_its_duration(engine, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = make_tone(tmp_path, "tone", "flac", seconds=1.5)
    durations: list[int] = []
    engine.duration_changed.connect(durations.append)
    engine.load(MediaSource.file(path))
    qtbot.waitUntil(lambda: engine.qt_player.duration() > 0, timeout=5000)
    assert engine.duration_ms == pytest.approx(1500, abs=60)
    assert durations and durations[-1] == pytest.approx(1500, abs=60)


def test_plays_to_the_end_with_position_updates(engine, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = make_tone(tmp_path, "tone", "mp3", seconds=1.0)
    positions: list[int] = []
    engine.position_changed.connect(positions.append)
    engine.load(MediaSource.file(path))
    engine.set_volume(0.1)
    with qtbot.waitSignal(
        engine.qt_player.mediaStatusChanged,
        timeout=5000,
        check_params_cb=lambda s: s == type(s).EndOfMedia,
    ):
        engine.play()
    assert positions and max(positions) >= 800
    assert engine.state == PlaybackState.STOPPED


def test_plays_an_encrypted_track_while_it_downloads(engine, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    audio = make_tone(tmp_path, "bought", "mp3", seconds=3.0).read_bytes()
    key = new_track_key()
    packed = pack(audio, key, mime="audio/mpeg", chunk_size=8192)
    store = ChunkStore(tmp_path / "content")
    store.put_manifest(packed.manifest_bytes)
    present = 4  # about a third of the track
    for data in packed.chunks[:present]:
        store.put_chunk(data)
    source = DirectoryChunkSource(store, packed.content_id, key, poll_interval=0.01)
    positions: list[int] = []
    ended: list[None] = []
    engine.position_changed.connect(positions.append)
    engine.finished.connect(ended.append)
    engine.load(MediaSource.stream(lambda: DecryptingStream(source, timeout=20), "audio/mpeg"))
    engine.play()
    qtbot.waitUntil(lambda: bool(positions) and max(positions) > 100, timeout=8000)
    assert store.missing_chunks(source.manifest), "playback should start before the download ends"
    for data in packed.chunks[present:]:
        store.put_chunk(data)
        source.notify()
    qtbot.waitUntil(lambda: bool(ended), timeout=10000)
    assert max(positions) >= 2500
