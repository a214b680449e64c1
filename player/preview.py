"""Preview clips, made once at publish time: a real, short, re-encoded excerpt of a track.

Format: Ogg Opus, 48 kHz stereo, 96 kbit/s (``audio/ogg``). Opus is open, compact at this
quality, decoded by Qt Multimedia's FFmpeg backend everywhere, and encoded by PyAV's bundled
libopus, so publishing needs no other tool. The clip is taken from ``start_s`` (by default a
third of the way in, where a song is usually past its intro) with a short fade in and out so it
never starts or stops with a click. Previews are published clear (unencrypted).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

PREVIEW_MIME = "audio/ogg"
PREVIEW_RATE = 48_000
PREVIEW_BITRATE = 96_000
_OPUS_FRAME = 960  # 20 ms at 48 kHz


class PreviewError(Exception):
    """The source could not be decoded into a preview."""


@dataclass(frozen=True)
class PreviewInfo:
    path: Path
    start_ms: int
    duration_ms: int
    mime: str = PREVIEW_MIME


def _decode_excerpt(src: Path, start_s: float | None, length_s: float) -> tuple[np.ndarray, float]:
    """Decode ``length_s`` seconds from ``start_s`` as float32 stereo, shape (2, n)."""
    try:
        container = av.open(str(src))
    except (av.FFmpegError, OSError) as exc:
        raise PreviewError(f"cannot open {src.name}: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise PreviewError(f"{src.name} has no audio stream")
        stream = container.streams.audio[0]
        total_s = float(container.duration / av.time_base) if container.duration else 0.0
        if start_s is None:
            start_s = total_s / 3 if total_s > length_s * 1.5 else 0.0
        if total_s:
            start_s = max(0.0, min(start_s, total_s - min(length_s, total_s)))
        if start_s > 0:
            # Seeking lands on an earlier keyframe; samples before start_s are dropped below.
            container.seek(int(start_s * av.time_base), any_frame=False)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=PREVIEW_RATE)
        want = int(length_s * PREVIEW_RATE)
        skip_until = round(start_s * PREVIEW_RATE)
        pieces: list[np.ndarray] = []
        have = 0
        try:
            for frame in container.decode(stream):
                frame_start = None
                if frame.pts is not None and frame.time_base is not None:
                    frame_start = round(float(frame.pts * frame.time_base) * PREVIEW_RATE)
                for out in resampler.resample(frame):
                    data = out.to_ndarray()
                    if frame_start is not None and frame_start < skip_until:
                        drop = min(data.shape[1], skip_until - frame_start)
                        frame_start += data.shape[1]
                        data = data[:, drop:]
                    elif frame_start is not None:
                        frame_start += data.shape[1]
                    pieces.append(data)
                    have += data.shape[1]
                if have >= want:
                    break
        except av.FFmpegError as exc:
            if not pieces:
                raise PreviewError(f"cannot decode {src.name}: {exc}") from exc
    if not pieces:
        raise PreviewError(f"{src.name} contains no decodable audio")
    return np.concatenate(pieces, axis=1)[:, :want].astype(np.float32), start_s


def _fade(samples: np.ndarray, fade_s: float) -> np.ndarray:
    n = samples.shape[1]
    fade = min(int(fade_s * PREVIEW_RATE), n // 4)
    if fade > 0:
        # Equal-power (sine) ramps sound smoother than linear ones.
        ramp = np.sin(np.linspace(0, np.pi / 2, fade, dtype=np.float32)) ** 2
        samples[:, :fade] *= ramp
        samples[:, n - fade :] *= ramp[::-1]
    return samples


def _encode_opus(samples: np.ndarray, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    packed = np.ascontiguousarray(samples.T.reshape(1, -1))  # interleave for 'flt'
    with av.open(str(dest), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=PREVIEW_RATE)
        stream.layout = "stereo"
        stream.format = "flt"
        stream.bit_rate = PREVIEW_BITRATE
        stream.time_base = Fraction(1, PREVIEW_RATE)
        total = samples.shape[1]
        for pts in range(0, total, _OPUS_FRAME):
            n = min(_OPUS_FRAME, total - pts)
            block = packed[:, pts * 2 : (pts + n) * 2]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block), format="flt", layout="stereo"
            )
            frame.sample_rate = PREVIEW_RATE
            frame.pts = pts
            frame.time_base = Fraction(1, PREVIEW_RATE)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def make_preview(
    src: Path | str,
    dest: Path | str,
    *,
    start_s: float | None = None,
    length_s: float = 30.0,
    fade_s: float = 2.0,
) -> PreviewInfo:
    """Encode a preview of ``src`` to ``dest`` (Ogg Opus); see the module docstring.

    A track shorter than ``length_s`` yields a preview of the whole track. Raises
    :class:`PreviewError` if the source cannot be decoded.
    """
    src, dest = Path(src), Path(dest)
    if length_s <= 0:
        raise ValueError("length_s must be positive")
    samples, start = _decode_excerpt(src, start_s, length_s)
    _encode_opus(_fade(samples, fade_s), dest)
    return PreviewInfo(dest, int(start * 1000), int(samples.shape[1] * 1000 / PREVIEW_RATE))
