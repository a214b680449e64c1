"""Preview clips are real Ogg Opus excerpts, with the right length, offset and fades."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from mutagen.oggopus import OggOpus

from player.preview import PREVIEW_RATE, PreviewError, make_preview
from player.samples import make_random, make_tone


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray() for f in c.decode(audio=0)]
        rate = c.streams.audio[0].rate
    assert rate == PREVIEW_RATE
    data = np.concatenate(frames, axis=1)
    return data[0] if data.shape[0] <= 2 else data.reshape(-1, 2).T[0]


def _frequency(samples: np.ndarray) -> float:
    crossings = np.count_nonzero(np.diff(np.signbit(samples)))
    return crossings / 2 / (len(samples) / PREVIEW_RATE)


def test_preview_is_a_faded_opus_excerpt_from_the_offset(tmp_path: Path) -> None:
    # A 6 s chirp from 200 to 1400 Hz: the pitch in the preview shows where it was cut from.
    src = make_tone(tmp_path, "song", "flac", seconds=6.0, freq=200, freq_end=1400)
    info = make_preview(src, tmp_path / "preview.opus", start_s=2.0, length_s=3.0, fade_s=0.5)
    assert (info.start_ms, info.mime) == (2000, "audio/ogg")
    assert info.duration_ms == pytest.approx(3000, abs=30)
    assert OggOpus(info.path).info.length == pytest.approx(3.0, abs=0.1)

    mono = _decode(info.path)
    assert len(mono) / PREVIEW_RATE == pytest.approx(3.0, abs=0.1)
    middle = mono[int(1.25 * PREVIEW_RATE) : int(1.75 * PREVIEW_RATE)]  # source time 3.25..3.75
    assert _frequency(middle) == pytest.approx(200 + 200 * 3.5, rel=0.05)
    rms = lambda a: float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))  # noqa: E731
    edge = int(0.02 * PREVIEW_RATE)
    assert rms(mono[:edge]) < 0.1 * rms(middle)  # faded in
    assert rms(mono[-edge:]) < 0.1 * rms(middle)  # faded out


def test_preview_is_not_a_byte_slice(tmp_path: Path) -> None:
    src = make_tone(tmp_path, "song", "mp3", seconds=4.0)
    info = make_preview(src, tmp_path / "p.opus", length_s=2.0)
    preview = info.path.read_bytes()
    assert preview[:4] == b"OggS" and b"OpusHead" in preview[:64]
    assert preview[100:164] not in src.read_bytes()
    # Whereas a byte slice of the source is not a decodable Ogg Opus stream at all.
    sliced = tmp_path / "slice.opus"
    sliced.write_bytes(src.read_bytes()[: len(preview)])
    with pytest.raises(Exception):  # noqa: B017 - mutagen raises its own error classes
        OggOpus(sliced)


def test_short_track_gives_a_whole_track_preview(tmp_path: Path) -> None:
    src = make_tone(tmp_path, "short", "wav", seconds=1.0)
    info = make_preview(src, tmp_path / "p.opus")
    assert info.start_ms == 0 and info.duration_ms == pytest.approx(1000, abs=30)


def test_undecodable_source_is_a_preview_error(tmp_path: Path) -> None:
    with pytest.raises(PreviewError):
        make_preview(make_random(tmp_path / "x.mp3"), tmp_path / "p.opus")
