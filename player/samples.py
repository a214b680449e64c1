"""Small real audio files for tests and benchmarks, encoded with PyAV (nothing extra to install).

``make_tone(path, fmt)`` writes a sine tone in one of ``FORMATS`` and, with ``tags``, writes
tags with mutagen afterwards (so the tags go through the same code paths a user's files do).
The other helpers make deliberately broken files: truncated, zero-length, random bytes, and a
real file under the wrong extension.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np


@dataclass(frozen=True)
class Encoding:
    """How PyAV writes one format: container, codec, sample format and rate."""

    container: str
    codec: str
    sample_format: str
    rate: int
    planar: bool
    options: tuple[tuple[str, str], ...] = ()


FORMATS: dict[str, Encoding] = {
    "mp3": Encoding("mp3", "libmp3lame", "s16p", 44100, True),
    "flac": Encoding("flac", "flac", "s16", 44100, False),
    # FFmpeg's native Vorbis encoder is marked experimental; it produces valid streams.
    "ogg": Encoding("ogg", "vorbis", "fltp", 44100, True, (("strict", "experimental"),)),
    "opus": Encoding("ogg", "libopus", "s16", 48000, False),
    "m4a": Encoding("ipod", "aac", "fltp", 44100, True),
    "wav": Encoding("wav", "pcm_s16le", "s16", 44100, False),
    "aiff": Encoding("aiff", "pcm_s16be", "s16", 44100, False),
}

# Apple Lossless in an MPEG-4 container: same .m4a extension as AAC, different codec.
ALAC = Encoding("ipod", "alac", "s16p", 44100, True)


def _samples(
    seconds: float, rate: int, freq: float, fmt: str, planar: bool, freq_end: float | None = None
) -> np.ndarray:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    # With freq_end, a linear chirp: the instantaneous frequency tells the time it came from.
    k = 0.0 if freq_end is None else (freq_end - freq) / seconds
    mono = 0.4 * np.sin(2 * math.pi * (freq * t + k * t * t / 2))
    stereo = np.stack([mono, mono])
    data: np.ndarray
    data = (stereo * 32767).astype(np.int16) if fmt.startswith("s16") else stereo.astype("f4")
    if planar:
        return data
    return data.T.reshape(1, -1)  # packed: interleaved in one plane


def encode_tone(
    path: Path,
    fmt: str,
    seconds: float = 1.0,
    freq: float = 440.0,
    freq_end: float | None = None,
    encoding: Encoding | None = None,
) -> Path:
    """Encode a stereo sine tone (or chirp to ``freq_end``) of ``seconds`` to ``path``."""
    enc = encoding or FORMATS[fmt]
    with av.open(str(path), "w", format=enc.container) as out:
        stream: Any = out.add_stream(enc.codec, rate=enc.rate, options=dict(enc.options))
        stream.layout = "stereo"
        stream.format = enc.sample_format
        stream.time_base = Fraction(1, enc.rate)
        if enc.options:
            stream.codec_context.options = dict(enc.options)
        frame_size = stream.codec_context.frame_size or 1024
        data = _samples(seconds, enc.rate, freq, enc.sample_format, enc.planar, freq_end)
        total = data.shape[1] if enc.planar else data.shape[1] // 2
        pts = 0
        while pts < total:
            n = min(frame_size, total - pts)
            if enc.planar:
                block = np.ascontiguousarray(data[:, pts : pts + n])
            else:
                block = np.ascontiguousarray(data[:, pts * 2 : (pts + n) * 2])
            frame = av.AudioFrame.from_ndarray(block, format=enc.sample_format, layout="stereo")
            frame.sample_rate = enc.rate
            frame.pts = pts
            frame.time_base = Fraction(1, enc.rate)
            for packet in stream.encode(frame):
                out.mux(packet)
            pts += n
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def tag_file(
    path: Path,
    *,
    title: str,
    artist: str,
    album: str = "",
    genre: str = "",
    track: int | None = None,
    artwork: bytes | None = None,
) -> None:
    """Write common tags (and optionally a front cover) with mutagen's format-specific APIs."""
    import mutagen
    from mutagen.aiff import AIFF
    from mutagen.flac import FLAC, Picture
    from mutagen.id3 import APIC, ID3, TALB, TCON, TIT2, TPE1, TRCK
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4, MP4Cover
    from mutagen.wave import WAVE

    f = mutagen.File(str(path))
    assert f is not None, f"mutagen cannot open {path}"
    if isinstance(f, MP3 | WAVE | AIFF):
        if f.tags is None:
            f.add_tags()
        tags = f.tags
        assert isinstance(tags, ID3)
        tags.add(TIT2(encoding=3, text=title))
        tags.add(TPE1(encoding=3, text=artist))
        if album:
            tags.add(TALB(encoding=3, text=album))
        if genre:
            tags.add(TCON(encoding=3, text=genre))
        if track is not None:
            tags.add(TRCK(encoding=3, text=str(track)))
        if artwork:
            tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=artwork))
    elif isinstance(f, MP4):
        f["\xa9nam"] = [title]
        f["\xa9ART"] = [artist]
        if album:
            f["\xa9alb"] = [album]
        if genre:
            f["\xa9gen"] = [genre]
        if track is not None:
            f["trkn"] = [(track, 0)]
        if artwork:
            f["covr"] = [MP4Cover(artwork, imageformat=MP4Cover.FORMAT_PNG)]
    else:  # Vorbis comments: FLAC, Ogg Vorbis, Ogg Opus
        f["title"] = title
        f["artist"] = artist
        if album:
            f["album"] = album
        if genre:
            f["genre"] = genre
        if track is not None:
            f["tracknumber"] = str(track)
        if artwork:
            pic = Picture()
            pic.type = 3
            pic.mime = "image/png"
            pic.data = artwork
            if isinstance(f, FLAC):
                f.add_picture(pic)
            else:
                import base64

                f["metadata_block_picture"] = [base64.b64encode(pic.write()).decode("ascii")]
    f.save()


def _png_1x1() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x80\x00\xff")  # filter byte + one RGBA pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# A valid 1x1 PNG, enough to prove artwork is found and stored.
TINY_PNG = _png_1x1()


def make_tone(
    directory: Path,
    name: str,
    fmt: str,
    *,
    seconds: float = 1.0,
    freq: float = 440.0,
    freq_end: float | None = None,
    **tags: object,
) -> Path:
    """Encode ``directory/name.<fmt>`` and tag it when ``title``/``artist`` are given."""
    path = directory / f"{name}.{fmt}"
    encode_tone(path, fmt, seconds, freq, freq_end)
    if tags:
        tag_file(path, **tags)  # type: ignore[arg-type]
    return path


def make_alac(directory: Path, name: str, *, seconds: float = 1.0, **tags: object) -> Path:
    """Encode ``directory/name.m4a`` as Apple Lossless, tagged when tags are given."""
    path = directory / f"{name}.m4a"
    encode_tone(path, "m4a", seconds, encoding=ALAC)
    if tags:
        tag_file(path, **tags)  # type: ignore[arg-type]
    return path


# Image format -> (FFmpeg encoder, pixel format, encoder options) for make_cover.
IMAGE_ENCODERS: dict[str, tuple[str, str, dict[str, str]]] = {
    "jpeg": ("mjpeg", "yuvj420p", {}),
    "png": ("png", "rgba", {}),  # with an alpha channel
    "gif": ("gif", "rgb8", {}),
    "webp": ("libwebp", "yuv420p", {}),  # lossy: a 'VP8 ' chunk
    "webp-lossless": ("libwebp", "bgra", {"lossless": "1"}),  # a 'VP8L' chunk
    "bmp": ("bmp", "bgr24", {}),
}


def make_cover(width: int, height: int, fmt: str = "jpeg", seed: int = 1) -> bytes:
    """A real ``width`` x ``height`` image in one of IMAGE_ENCODERS, encoded by FFmpeg."""
    rng = np.random.default_rng(seed)
    # Smooth gradients plus noise: compresses like a photo, not like a flat test card.
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack(
        [
            x * 255 // max(width, 1),
            y * 255 // max(height, 1),
            (x + y) * 127 // max(width + height, 1),
        ],
        axis=-1,
    )
    pixels = np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
    alpha = np.full((height, width, 1), 200, dtype=np.uint8)
    rgba = av.VideoFrame.from_ndarray(np.concatenate([pixels, alpha], axis=-1), format="rgba")
    codec, pix_fmt, options = IMAGE_ENCODERS[fmt]
    frame = rgba.reformat(format=pix_fmt)
    ctx: Any = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
    ctx.time_base = Fraction(1, 1)
    ctx.options = options
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def make_truncated(src: Path, dest: Path, keep: int = 64) -> Path:
    """Copy only the first ``keep`` bytes of ``src``: a download cut short."""
    dest.write_bytes(src.read_bytes()[:keep])
    return dest


def make_random(dest: Path, size: int = 4096, seed: int = 7) -> Path:
    """Random bytes under an audio extension."""
    rng = np.random.default_rng(seed)
    dest.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    return dest


def make_empty(dest: Path) -> Path:
    """A zero-length file."""
    dest.write_bytes(b"")
    return dest


def make_mislabelled(src: Path, dest: Path) -> Path:
    """A real file of one format saved under another format's extension."""
    dest.write_bytes(src.read_bytes())
    os.utime(dest, None)
    return dest
