"""Encoding a track into a plain audio file in one of the export formats, and tagging it.

Everything runs on this machine through PyAV (FFmpeg's encoders) and mutagen; no external program
is started. One :class:`OutputFormat` per format names its container, codec and settings, and
which tag family its files carry (ID3v2.4, MP4 atoms or Vorbis comments, as each format's own
players expect). :func:`transcode` decodes the source, resamples to what the encoder takes and
encodes; :func:`write_tags` writes the tags and the cover; :func:`read_marker` reads back what an
earlier export recorded in the file, so an export run again can skip it.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

#: The tag an exported file carries to say what it was made from (see :func:`read_marker`).
MARKER_KEY = "COOPTRACKS_EXPORT"
_MP4_MARKER = "----:org.cooptracks:export"


class TranscodeError(Exception):
    """The source could not be decoded or the file could not be encoded; ``str`` says why."""


class TranscodeCancelled(Exception):
    """The ``cancel`` event was set while encoding."""


@dataclass(frozen=True)
class OutputFormat:
    """How one export format is written."""

    key: str  # what the user types: "flac", "mp3", "mp3-320", …
    label: str  # what the user reads
    ext: str  # file name extension, with the dot
    lossless: bool
    container: str = ""  # FFmpeg muxer; "" for the original file
    codec: str = ""  # FFmpeg encoder
    tags: str = ""  # "id3", "mp4", "vorbis" (the tag family)
    bit_rate: int = 0  # bits per second for constant/average bit rate encoders
    options: tuple[tuple[str, str], ...] = ()
    rates: tuple[int, ...] = ()  # sample rates the encoder takes (empty: any)
    max_channels: int = 8
    # sample formats by preference for 16-bit (or lossy) sources, then for deeper ones
    formats16: tuple[str, ...] = ("s16",)
    formats24: tuple[str, ...] = ("s32",)
    extra: dict[str, str] = field(default_factory=dict, compare=False)


ORIGINAL = OutputFormat("original", "Original (the file as published)", "", False)

FORMATS: dict[str, OutputFormat] = {
    f.key: f
    for f in (
        ORIGINAL,
        OutputFormat(
            "flac",
            "FLAC (lossless)",
            ".flac",
            True,
            "flac",
            "flac",
            "vorbis",
            formats16=("s16",),
            formats24=("s32",),
        ),
        # LAME's VBR quality 0 ("V0"): FFmpeg takes it as the qscale flag and global_quality 0.
        OutputFormat(
            "mp3",
            "MP3 V0 (VBR, about 245 kbit/s)",
            ".mp3",
            False,
            "mp3",
            "libmp3lame",
            "id3",
            options=(("flags", "+qscale"), ("global_quality", "0")),
            rates=(44100, 48000, 32000),
            max_channels=2,
            formats16=("s16p", "fltp"),
            formats24=("s32p", "fltp"),
        ),
        OutputFormat(
            "mp3-320",
            "MP3 320 kbit/s (CBR)",
            ".mp3",
            False,
            "mp3",
            "libmp3lame",
            "id3",
            bit_rate=320_000,
            rates=(44100, 48000, 32000),
            max_channels=2,
            formats16=("s16p", "fltp"),
            formats24=("s32p", "fltp"),
        ),
        OutputFormat(
            "aac",
            "AAC 256 kbit/s (.m4a)",
            ".m4a",
            False,
            "ipod",
            "aac",
            "mp4",
            bit_rate=256_000,
            rates=(44100, 48000, 32000, 96000, 88200),
            max_channels=2,
            formats16=("fltp",),
            formats24=("fltp",),
        ),
        OutputFormat(
            "alac",
            "Apple Lossless (ALAC, .m4a)",
            ".m4a",
            True,
            "ipod",
            "alac",
            "mp4",
            formats16=("s16p",),
            formats24=("s32p",),
        ),
        OutputFormat(
            "opus",
            "Opus 192 kbit/s (.opus)",
            ".opus",
            False,
            "ogg",
            "libopus",
            "vorbis",
            bit_rate=192_000,
            rates=(48000,),
            max_channels=2,
            formats16=("s16", "flt"),
            formats24=("flt",),
        ),
        OutputFormat(
            "wav",
            "WAV (uncompressed PCM)",
            ".wav",
            True,
            "wav",
            "pcm_s16le",
            "id3",
            formats16=("s16",),
            formats24=("s32",),
            extra={"s32": "pcm_s24le"},
        ),
    )
}


@dataclass(frozen=True)
class Tags:
    """What an exported file says about itself."""

    title: str
    artist: str
    album: str
    track: int
    tracks: int
    genre: str = ""
    year: int | None = None
    cover: bytes | None = None
    cover_mime: str = "image/jpeg"
    marker: str = ""  # the source and settings this file was made from


@dataclass(frozen=True)
class SourceFacts:
    """What the decoder says about a source file."""

    codec: str
    sample_rate: int
    channels: int
    bits: int  # 16 or 24 (deeper sources are written as 24-bit)
    duration_s: float
    lossless: bool


_LOSSLESS = {"flac", "alac", "wavpack", "ape", "tta", "mlp", "truehd"}


def probe(data: bytes) -> SourceFacts:
    """Facts about an encoded file in memory (raises :class:`TranscodeError`)."""
    try:
        with av.open(io.BytesIO(data)) as src:
            if not src.streams.audio:
                raise TranscodeError("the file holds no audio")
            stream = src.streams.audio[0]
            return _facts(src, stream)
    except av.FFmpegError as exc:
        raise TranscodeError(f"cannot decode the source: {exc}") from exc


def _facts(src: Any, stream: Any) -> SourceFacts:
    ctx = stream.codec_context
    name = ctx.name
    deep = ctx.format.bytes > 2  # 24-bit FLAC/ALAC/PCM decode to s32, float PCM to flt
    lossless = name in _LOSSLESS or name.startswith("pcm_")
    duration = float(src.duration / av.time_base) if src.duration else 0.0
    return SourceFacts(
        name, ctx.sample_rate, ctx.channels, 24 if deep and lossless else 16, duration, lossless
    )


def _pick_rate(fmt: OutputFormat, rate: int) -> int:
    if not fmt.rates or rate in fmt.rates:
        return rate
    higher = [r for r in fmt.rates if r >= rate]
    return min(higher) if higher else max(fmt.rates)


def transcode(
    data: bytes,
    fmt: OutputFormat,
    dest: Path,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
    copy_lossless: bool = True,
) -> SourceFacts:
    """Decode ``data`` (a whole encoded file) and encode it to ``dest`` in ``fmt``.

    A lossless source already in ``fmt``'s codec (FLAC to FLAC, ALAC to ALAC) is not decoded:
    its packets are copied into the new container, so the audio stays bit for bit the same
    (``copy_lossless=False`` encodes it again). ``progress`` gets the fraction done (0..1) now
    and then; ``cancel`` stops the work with :class:`TranscodeCancelled` (``dest`` is then
    incomplete: the caller removes it)."""
    if not fmt.codec:
        raise ValueError("the original format is copied, not encoded")
    try:
        with av.open(io.BytesIO(data)) as src:
            if not src.streams.audio:
                raise TranscodeError("the file holds no audio")
            stream = src.streams.audio[0]
            facts = _facts(src, stream)
            if (
                copy_lossless
                and facts.lossless
                and facts.codec == fmt.codec
                and fmt.codec in ("flac", "alac")
            ):
                _copy(src, stream, fmt, dest, cancel)
            else:
                _encode(src, stream, facts, fmt, dest, progress, cancel)
            if progress is not None:
                progress(1.0)
            return facts
    except av.FFmpegError as exc:
        if isinstance(exc, OSError) and exc.errno:  # the destination: a full disk, a lost drive
            raise OSError(exc.errno, os.strerror(exc.errno), str(dest)) from exc
        raise TranscodeError(f"cannot convert the track: {exc}") from exc


def _encode(
    src: Any,
    stream: Any,
    facts: SourceFacts,
    fmt: OutputFormat,
    dest: Path,
    progress: Callable[[float], None] | None,
    cancel: threading.Event | None,
) -> None:
    rate = _pick_rate(fmt, facts.sample_rate)
    channels = min(max(facts.channels, 1), fmt.max_channels)
    layout = {1: "mono", 2: "stereo"}.get(channels) or stream.codec_context.layout.name
    sample_fmt = (fmt.formats24 if facts.bits > 16 else fmt.formats16)[0]
    codec = fmt.extra.get(sample_fmt, fmt.codec)
    with av.open(str(dest), "w", format=fmt.container) as out:
        ostream: Any = out.add_stream(codec, rate=rate)
        ostream.layout = layout
        ostream.format = sample_fmt
        ostream.time_base = Fraction(1, rate)
        if fmt.bit_rate:
            ostream.bit_rate = fmt.bit_rate
        if fmt.options:
            ostream.codec_context.options = dict(fmt.options)
        ostream.codec_context.open()
        frame_size = ostream.codec_context.frame_size or None
        resampler = av.AudioResampler(
            format=sample_fmt, layout=layout, rate=rate, frame_size=frame_size
        )
        pts = 0
        total = facts.duration_s

        def write(frames: list[Any]) -> None:
            nonlocal pts
            for frame in frames:
                frame.pts = pts
                frame.time_base = ostream.time_base
                pts += frame.samples
                for packet in ostream.encode(frame):
                    out.mux(packet)

        for step, frame in enumerate(src.decode(stream), start=1):
            write(resampler.resample(frame))
            if cancel is not None and cancel.is_set():
                raise TranscodeCancelled()
            if progress is not None and total > 0 and step % 16 == 0:
                progress(min(0.99, pts / rate / total))
        write(resampler.resample(None))
        for packet in ostream.encode(None):
            out.mux(packet)


def _copy(
    src: Any, stream: Any, fmt: OutputFormat, dest: Path, cancel: threading.Event | None
) -> None:
    """Move the compressed packets into a fresh container (no decoding, no encoding)."""
    with av.open(str(dest), "w", format=fmt.container) as out:
        ostream = out.add_stream_from_template(stream)
        for n, packet in enumerate(src.demux(stream)):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = ostream
            out.mux(packet)
            if cancel is not None and n % 64 == 0 and cancel.is_set():
                raise TranscodeCancelled()


def decode_seconds(path: Path) -> float:
    """The length of an audio file in seconds, by decoding every sample of it."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate


# -- tags -----------------------------------------------------------------------------------------


def write_tags(path: Path, fmt: OutputFormat, tags: Tags) -> None:
    """Write ``tags`` (and the cover) into ``path`` in ``fmt``'s tag family. A failure of
    the disk is raised as the ``OSError`` it is, anything else as :class:`TranscodeError`."""
    from mutagen import MutagenError

    writers = {"id3": _write_id3, "mp4": _write_mp4, "vorbis": _write_vorbis}
    if fmt.tags not in writers:
        raise ValueError(f"{fmt.key} files are not tagged")
    try:
        writers[fmt.tags](path, fmt, tags)
    except MutagenError as exc:
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, OSError):
            raise cause from exc
        raise TranscodeError(f"cannot write the tags: {exc}") from exc


def _write_id3(path: Path, fmt: OutputFormat, tags: Tags) -> None:
    from mutagen.id3 import APIC, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK, TXXX
    from mutagen.mp3 import MP3
    from mutagen.wave import WAVE

    f: Any = WAVE(str(path)) if fmt.container == "wav" else MP3(str(path))
    if f.tags is None:
        f.add_tags()
    t = f.tags
    t.add(TIT2(encoding=3, text=tags.title))
    t.add(TPE1(encoding=3, text=tags.artist))
    t.add(TPE2(encoding=3, text=tags.artist))
    t.add(TALB(encoding=3, text=tags.album))
    t.add(TRCK(encoding=3, text=f"{tags.track}/{tags.tracks}"))
    if tags.genre:
        t.add(TCON(encoding=3, text=tags.genre))
    if tags.year:
        t.add(TDRC(encoding=3, text=str(tags.year)))
    if tags.cover:
        t.add(APIC(encoding=3, mime=tags.cover_mime, type=3, desc="Cover", data=tags.cover))
    if tags.marker:
        t.add(TXXX(encoding=3, desc=MARKER_KEY, text=tags.marker))
    f.save(v2_version=4)


def _write_mp4(path: Path, fmt: OutputFormat, tags: Tags) -> None:
    from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm

    f = MP4(str(path))
    if f.tags is None:
        f.add_tags()
    f["\xa9nam"] = [tags.title]
    f["\xa9ART"] = [tags.artist]
    f["aART"] = [tags.artist]
    f["\xa9alb"] = [tags.album]
    f["trkn"] = [(tags.track, tags.tracks)]
    if tags.genre:
        f["\xa9gen"] = [tags.genre]
    if tags.year:
        f["\xa9day"] = [str(tags.year)]
    if tags.cover:
        kind = MP4Cover.FORMAT_PNG if tags.cover_mime == "image/png" else MP4Cover.FORMAT_JPEG
        f["covr"] = [MP4Cover(tags.cover, imageformat=kind)]
    if tags.marker:
        f[_MP4_MARKER] = [MP4FreeForm(tags.marker.encode("utf-8"))]
    f.save()


def _write_vorbis(path: Path, fmt: OutputFormat, tags: Tags) -> None:
    from mutagen.flac import FLAC, Picture
    from mutagen.oggopus import OggOpus

    f: Any = FLAC(str(path)) if fmt.container == "flac" else OggOpus(str(path))
    if f.tags is None:
        f.add_tags()
    f["title"] = tags.title
    f["artist"] = tags.artist
    f["albumartist"] = tags.artist
    f["album"] = tags.album
    f["tracknumber"] = str(tags.track)
    f["tracktotal"] = str(tags.tracks)
    if tags.genre:
        f["genre"] = tags.genre
    if tags.year:
        f["date"] = str(tags.year)
    if tags.marker:
        f[MARKER_KEY.lower()] = tags.marker
    if tags.cover:
        pic = Picture()
        pic.type = 3
        pic.mime = tags.cover_mime
        pic.desc = "Cover"
        pic.data = tags.cover
        if isinstance(f, FLAC):
            f.clear_pictures()
            f.add_picture(pic)
        else:  # Ogg: the same picture block, base64 in a comment (the Xiph convention)
            f["metadata_block_picture"] = [base64.b64encode(pic.write()).decode("ascii")]
    f.save()


def read_marker(path: Path, fmt: OutputFormat) -> str | None:
    """The marker an earlier export wrote into ``path`` (None if none, or not readable)."""
    try:
        if fmt.tags == "id3":
            from mutagen.id3 import ID3

            if fmt.container == "wav":
                from mutagen.wave import WAVE

                tags: Any = WAVE(str(path)).tags
            else:
                tags = ID3(str(path))
            frames = tags.getall(f"TXXX:{MARKER_KEY}") if tags is not None else []
            return str(frames[0].text[0]) if frames else None
        if fmt.tags == "mp4":
            from mutagen.mp4 import MP4

            mp4_tags: Any = MP4(str(path)).tags or {}
            value = mp4_tags.get(_MP4_MARKER)
            return bytes(value[0]).decode("utf-8") if value else None
        if fmt.tags == "vorbis":
            from mutagen.flac import FLAC
            from mutagen.oggopus import OggOpus

            f: Any = FLAC(str(path)) if fmt.container == "flac" else OggOpus(str(path))
            values = (f.tags or {}).get(MARKER_KEY.lower())
            return str(values[0]) if values else None
    except Exception:  # a damaged or foreign file: not ours, export it again
        return None
    return None
