"""Reading tags, artwork and stream facts from local audio files, one small wrapper per family.

As in MusicBrainz Picard, each tag family (ID3, Vorbis comments, MP4 atoms) has its own reader,
and the rest of the player sees only :class:`AudioInfo`. Every way a file can be unusable ends in
:class:`BadAudioFile` with a sentence a user can act on; nothing else escapes :func:`read_audio`.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from mutagen.aiff import AIFF
from mutagen.flac import FLAC, Picture
from mutagen.id3 import ID3
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

# Extension -> formats a file with that extension may legitimately contain.
EXTENSIONS: dict[str, frozenset[str]] = {
    ".mp3": frozenset({"mp3"}),
    ".flac": frozenset({"flac"}),
    ".ogg": frozenset({"ogg", "opus"}),  # Ogg is a container; Opus in .ogg is common and fine
    ".oga": frozenset({"ogg", "opus"}),
    ".opus": frozenset({"opus"}),
    ".m4a": frozenset({"m4a"}),
    ".mp4": frozenset({"m4a"}),
    ".aac": frozenset({"m4a"}),
    ".wav": frozenset({"wav"}),
    ".aif": frozenset({"aiff"}),
    ".aiff": frozenset({"aiff"}),
    ".aifc": frozenset({"aiff"}),
}
AUDIO_EXTENSIONS = frozenset(EXTENSIONS)

FORMAT_NAMES = {
    "mp3": "MP3",
    "flac": "FLAC",
    "ogg": "Ogg Vorbis",
    "opus": "Ogg Opus",
    "m4a": "MPEG-4 audio (AAC/ALAC)",
    "wav": "WAV",
    "aiff": "AIFF",
}
MIME_TYPES = {
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "wav": "audio/wav",
    "aiff": "audio/aiff",
}


# Codec keys (AudioInfo.codec) -> names for people. The container alone can be ambiguous: an
# .m4a file holds AAC or Apple Lossless.
CODEC_NAMES = {
    "mp3": "MP3",
    "flac": "FLAC",
    "vorbis": "Vorbis",
    "opus": "Opus",
    "aac": "AAC",
    "alac": "Apple Lossless (ALAC)",
    "pcm": "PCM",
}
LOSSLESS_CODECS = frozenset({"flac", "alac", "pcm"})

# Files up to this size are read into memory once, for both the hash and the tag parser.
WHOLE_FILE_LIMIT = 64 << 20


class BadAudioFile(Exception):
    """A file that cannot be imported; ``str(err)`` says why in plain words."""


@dataclass(frozen=True)
class Artwork:
    mime: str
    data: bytes

    @property
    def hash(self) -> bytes:
        return hashlib.blake2b(self.data, digest_size=32).digest()


@dataclass(frozen=True)
class AudioInfo:
    """What the library stores about one audio file."""

    format: str  # key of FORMAT_NAMES, from the file's content (not its name)
    codec: str  # key of CODEC_NAMES when known, else the container's own codec string
    duration_ms: int
    sample_rate: int
    channels: int
    bitrate: int
    title: str = ""
    artist: str = ""
    album: str = ""
    album_artist: str = ""
    genre: str = ""
    track_no: int | None = None
    disc_no: int | None = None
    year: int | None = None
    artwork: Artwork | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def mime(self) -> str:
        return MIME_TYPES[self.format]

    @property
    def lossless(self) -> bool:
        return self.codec in LOSSLESS_CODECS


def _first_int(value: Any) -> int | None:
    """'3/12' -> 3, '2019-05-01' -> 2019, (3, 12) -> 3; anything unparsable -> None."""
    if value is None:
        return None
    if isinstance(value, tuple | list):
        value = value[0] if value else None
        if value is None:
            return None
    text = str(value).strip()
    digits = ""
    for ch in text:
        if ch.isdigit():
            digits += ch
        elif digits:
            break
    return int(digits) if digits else None


def _join(values: Any) -> str:
    if values is None:
        return ""
    if isinstance(values, str):
        return values.strip()
    return "; ".join(str(v).strip() for v in values if str(v).strip())


# -- one reader per tag family ------------------------------------------------------------------


def _id3_tags(tags: ID3 | None) -> dict[str, Any]:
    if tags is None:
        return {}

    def text(frame_id: str) -> str:
        frame = tags.get(frame_id)
        return _join(frame.text) if frame is not None and hasattr(frame, "text") else ""

    art = None
    pictures = tags.getall("APIC")
    if pictures:
        front = next((p for p in pictures if p.type == 3), pictures[0])
        art = Artwork(front.mime or "image/jpeg", bytes(front.data))
    date = text("TDRC") or text("TYER")
    return {
        "title": text("TIT2"),
        "artist": text("TPE1"),
        "album": text("TALB"),
        "album_artist": text("TPE2"),
        "genre": text("TCON"),
        "track_no": _first_int(text("TRCK")),
        "disc_no": _first_int(text("TPOS")),
        "year": _first_int(date),
        "artwork": art,
    }


def _vorbis_tags(f: FLAC | OggVorbis | OggOpus) -> dict[str, Any]:
    tags: Any = f.tags
    if tags is None:
        return {}

    def text(key: str) -> str:
        return _join(tags.get(key))

    art = None
    if isinstance(f, FLAC) and f.pictures:
        pic = next((p for p in f.pictures if p.type == 3), f.pictures[0])
        art = Artwork(pic.mime or "image/jpeg", bytes(pic.data))
    elif tags.get("metadata_block_picture"):
        try:
            pic = Picture(base64.b64decode(tags["metadata_block_picture"][0]))
            art = Artwork(pic.mime or "image/jpeg", bytes(pic.data))
        except Exception:  # a broken picture block is not a reason to reject the audio
            art = None
    return {
        "title": text("title"),
        "artist": text("artist"),
        "album": text("album"),
        "album_artist": text("albumartist"),
        "genre": text("genre"),
        "track_no": _first_int(text("tracknumber")),
        "disc_no": _first_int(text("discnumber")),
        "year": _first_int(text("date")),
        "artwork": art,
    }


def _mp4_tags(f: MP4) -> dict[str, Any]:
    tags = f.tags
    if tags is None:
        return {}
    art = None
    covers = tags.get("covr")
    if covers:
        cover = covers[0]
        mime = "image/png" if cover.imageformat == MP4Cover.FORMAT_PNG else "image/jpeg"
        art = Artwork(mime, bytes(cover))
    return {
        "title": _join(tags.get("\xa9nam")),
        "artist": _join(tags.get("\xa9ART")),
        "album": _join(tags.get("\xa9alb")),
        "album_artist": _join(tags.get("aART")),
        "genre": _join(tags.get("\xa9gen")),
        "track_no": _first_int(tags.get("trkn")),
        "disc_no": _first_int(tags.get("disk")),
        "year": _first_int(_join(tags.get("\xa9day"))),
        "artwork": art,
    }


# -- completeness checks: a header promises more audio than the file holds ----------------------


def _check_declared_size(f: Any, size: int, audio_offset: int = 0) -> None:
    # MP3 (with a Xing/Info header), WAV and AIFF declare duration and bitrate in headers
    # that precede the audio, so a file cut short still reports the full length; the byte
    # count then falls short of what those figures imply.
    expected = f.info.length * f.info.bitrate / 8
    if expected > 4096 and size - audio_offset < 0.9 * expected:
        raise BadAudioFile(
            f"truncated: the header promises {f.info.length:.1f} s "
            f"but only {100 * (size - audio_offset) / expected:.0f}% of the audio is present"
        )


def _check_mp4_boxes(fh: BinaryIO, size: int) -> None:
    # An MPEG-4 file is a sequence of top-level boxes, each declaring its own size; the media
    # data box ('mdat') holds the audio. A file cut short ends inside a box. (A byte-rate check
    # does not work here: for Apple Lossless mutagen reports the uncompressed PCM rate.)
    pos, has_media = 0, False
    while pos < size:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            raise BadAudioFile(
                f"truncated: the file ends inside an MPEG-4 box header at byte {pos}"
            )
        box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
        if box_size == 1:  # 64-bit size follows the type
            if len(header) < 16:
                raise BadAudioFile("truncated: the file ends inside an MPEG-4 box header")
            box_size = int.from_bytes(header[8:16], "big")
        elif box_size == 0:  # the box extends to the end of the file
            box_size = size - pos
        has_media = has_media or kind == b"mdat"
        if box_size < 8:
            raise BadAudioFile(f"damaged MPEG-4 file: box at byte {pos} has size {box_size}")
        if pos + box_size > size:
            name = kind.decode("latin-1")
            raise BadAudioFile(
                f"truncated: the MPEG-4 '{name}' box needs {pos + box_size} bytes "
                f"but the file ends after {size} ({100 * size / (pos + box_size):.0f}%)"
            )
        pos += box_size
    if not has_media:
        raise BadAudioFile("truncated: the MPEG-4 file has no media data ('mdat') box")


def _crc16_bitwise(data: bytes) -> int:
    """CRC-16 as FLAC defines it (polynomial 0x8005, initial value 0, not reflected)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


# The CRC is linear and starts at 0, so the CRC of a block of _CRC_BLOCK bytes is the XOR of
# each byte's contribution at its distance from the block's end (one table lookup per byte,
# done by numpy), and blocks chain by shifting the running CRC past one block. Leading zero
# bytes do not change the CRC, so data is padded at the front to whole blocks. This is about
# fifty times faster than a byte-at-a-time loop in Python.
_CRC_BLOCK = 256
_CRC_TABLES: list[np.ndarray] = []


def _crc_tables() -> np.ndarray:
    if not _CRC_TABLES:
        table = np.zeros((_CRC_BLOCK, 256), dtype=np.uint16)
        # table[d][v] = CRC of byte v followed by d zero bytes.
        table[0] = [_crc16_bitwise(bytes([v])) for v in range(256)]
        for d in range(1, _CRC_BLOCK):
            prev = table[d - 1].astype(np.uint32)
            # One more zero byte: crc' = (crc << 8) ^ T0[crc >> 8] (table-driven step).
            table[d] = ((prev << 8) & 0xFFFF) ^ table[0][prev >> 8]
        _CRC_TABLES.append(table[::-1].copy())  # row k: contribution of byte k of a block
    return _CRC_TABLES[0]


def _crc16(data: bytes) -> int:
    """FLAC's CRC-16 of ``data`` (same result as :func:`_crc16_bitwise`)."""
    if not data:
        return 0
    table = _crc_tables()
    pad = -len(data) % _CRC_BLOCK
    blocks = np.frombuffer(b"\0" * pad + data, dtype=np.uint8).reshape(-1, _CRC_BLOCK)
    per_block = np.bitwise_xor.reduce(table[np.arange(_CRC_BLOCK), blocks], axis=1).tolist()
    # Shifting a CRC past a whole block: its two bytes at distances B-1 and B-2 from the end.
    hi, lo = table[0], table[1]
    crc = 0
    for block_crc in per_block:
        crc = int(hi[crc >> 8]) ^ int(lo[crc & 0xFF]) ^ block_crc
    return crc


def _check_flac_end(f: FLAC, tail: bytes) -> None:
    # A FLAC file ends with a complete frame whose CRC-16 covers it. Search the tail for the
    # last frame header and check that frame's CRC: a cut file fails.
    pos = len(tail)
    while True:
        pos = max(tail.rfind(b"\xff\xf8", 0, pos), tail.rfind(b"\xff\xf9", 0, pos))
        if pos < 0:
            raise BadAudioFile("truncated: the last FLAC frame is incomplete")
        frame = tail[pos:]
        # The CRC of a whole frame, its own CRC included, is zero.
        if len(frame) > 4 and _crc16(frame) == 0:
            return


_OGG_MAX_PAGE = 27 + 255 + 255 * 255


def _check_ogg_end(tail: bytes) -> None:
    # mutagen takes an Ogg file's length from the granule position of the last page it can
    # parse, so a file cut short reads as a shorter, healthy one. A complete Ogg file ends
    # exactly at the end of a page that carries the end-of-stream flag.
    pos = len(tail)
    while (pos := tail.rfind(b"OggS", 0, pos)) >= 0:
        header_end = pos + 27
        if tail[pos + 4 : pos + 5] != b"\0" or header_end > len(tail):
            continue  # not a page header (version 0), or a header cut short
        segments = tail[pos + 26]
        if header_end + segments > len(tail):
            continue
        end = header_end + segments + sum(tail[header_end : header_end + segments])
        if end != len(tail):
            continue  # a page that ends before the file does, or "OggS" inside packet data
        if not tail[pos + 5] & 0x04:
            raise BadAudioFile("truncated: the Ogg stream stops before its end-of-stream page")
        return
    raise BadAudioFile("truncated: the last Ogg page is cut short")


# -- the one entry point ------------------------------------------------------------------------


def _detect(f: Any) -> str:
    if isinstance(f, MP3):
        return "mp3"
    if isinstance(f, FLAC):
        return "flac"
    if isinstance(f, OggOpus):
        return "opus"
    if isinstance(f, OggVorbis):
        return "ogg"
    if isinstance(f, MP4):
        return "m4a"
    if isinstance(f, WAVE):
        return "wav"
    if isinstance(f, AIFF):
        return "aiff"
    raise BadAudioFile(f"unsupported audio format ({type(f).__name__})")


_KIND_FORMAT: dict[Any, str] = {
    MP3: "mp3",
    FLAC: "flac",
    OggOpus: "opus",
    OggVorbis: "ogg",
    MP4: "m4a",
    WAVE: "wav",
    AIFF: "aiff",
}


def _codec(f: Any, fmt: str) -> str:
    if fmt == "m4a":
        codec = str(getattr(f.info, "codec", "") or "")
        if codec == "alac":
            return "alac"
        if codec.startswith("mp4a.40"):
            return "aac"
        if codec.lower() in ("mp4a.69", "mp4a.6b"):
            return "mp3"
        return codec or "aac"
    return {
        "mp3": "mp3",
        "flac": "flac",
        "ogg": "vorbis",
        "opus": "opus",
        "wav": "pcm",
        "aiff": "pcm",
    }[fmt]


def _magic(header: bytes) -> Any:
    """The parser for the common, unambiguous signatures; None to fall back to scoring."""
    if header.startswith(b"fLaC"):
        return FLAC
    if header.startswith(b"OggS"):
        if b"OpusHead" in header[28:40]:
            return OggOpus
        if header[28:35] == b"\x01vorbis":
            return OggVorbis
        return None
    if header[4:8] == b"ftyp":
        return MP4
    if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
        return WAVE
    if header[:4] == b"FORM" and header[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    return None


def _sniff(fh: BinaryIO, header: bytes) -> Any:
    # Choose the parser from the bytes alone. mutagen.File also scores the file name, so a
    # FLAC file named .mp3 would be handed to the MP3 parser and rejected.
    kind = _magic(header)
    if kind is not None:
        return kind
    scores = {kind: kind.score("", fh, header) for kind in _KIND_FORMAT}
    best = max(scores, key=scores.__getitem__)
    if scores[best] <= 0:
        raise BadAudioFile("not a recognised audio format")
    return best


def _tail(path: Path, data: bytes | None, size: int, length: int) -> bytes:
    if data is not None:
        return data[-length:]
    with open(path, "rb") as fh:
        fh.seek(max(0, size - length))
        return fh.read()


def read_audio(path: Path, size: int | None = None, *, data: bytes | None = None) -> AudioInfo:
    """Read ``path``'s format (sniffed from content), codec, stream facts, tags and front cover.

    ``data``, when given, is the file's whole content already in memory (the importer reads a
    file once for its hash and its tags); otherwise only the parts the parser needs are read.
    Raises :class:`BadAudioFile` for empty, damaged, truncated or unrecognised files.
    """
    path = Path(path)
    if size is None:
        size = len(data) if data is not None else path.stat().st_size
    if size == 0:
        raise BadAudioFile("empty file (0 bytes)")
    fh: BinaryIO = io.BytesIO(data) if data is not None else open(path, "rb")
    try:
        return _read(path, fh, size, data)
    finally:
        fh.close()


def _read(path: Path, fh: BinaryIO, size: int, data: bytes | None) -> AudioInfo:
    header = data[:128] if data is not None else fh.read(128)
    kind = _sniff(fh, header)
    if kind is MP4:
        # Before parsing: a cut MPEG-4 file often loses its index box, and mutagen then only
        # says it is not MP4 at all.
        _check_mp4_boxes(fh, size)
    fh.seek(0)
    try:
        f = kind(fh)
    except Exception as exc:  # mutagen raises several types, some not MutagenError, on bad input
        raise BadAudioFile(
            f"damaged {FORMAT_NAMES[_KIND_FORMAT[kind]]} file: {_reason(exc)}"
        ) from exc
    if f.info is None:
        raise BadAudioFile("not a recognised audio format")
    fmt = _detect(f)
    if isinstance(f, MP3) and f.info.sketchy:
        raise BadAudioFile("no valid MP3 audio frames found")
    if not f.info.length or f.info.length <= 0:
        raise BadAudioFile("contains no audio (zero duration)")
    if fmt in ("mp3", "wav", "aiff"):
        offset = getattr(f.info, "frame_offset", 0) if fmt == "mp3" else 0
        _check_declared_size(f, size, offset)
    elif fmt == "flac":
        max_frame = f.info.max_framesize or 65536
        _check_flac_end(f, _tail(path, data, size, max_frame * 2 + 16))
    elif fmt in ("ogg", "opus"):
        _check_ogg_end(_tail(path, data, size, _OGG_MAX_PAGE))
    # MPEG-4 box sizes were checked before parsing.

    if isinstance(f, MP3 | WAVE | AIFF):
        tags = _id3_tags(f.tags)
    elif isinstance(f, MP4):
        tags = _mp4_tags(f)
    else:
        tags = _vorbis_tags(f)

    warnings: list[str] = []
    allowed = EXTENSIONS.get(path.suffix.lower())
    if allowed is not None and fmt not in allowed:
        warnings.append(
            f"mislabelled: the file is {FORMAT_NAMES[fmt]} audio but named {path.suffix}"
        )
    info = f.info
    return AudioInfo(
        format=fmt,
        codec=_codec(f, fmt),
        duration_ms=round(info.length * 1000),
        # Opus always decodes at 48 kHz; mutagen reports no rate for it.
        sample_rate=48000 if fmt == "opus" else int(getattr(info, "sample_rate", 0) or 0),
        channels=int(getattr(info, "channels", 0) or 0),
        bitrate=int(getattr(info, "bitrate", 0) or 0),
        warnings=tuple(warnings),
        **tags,
    )


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    # Some mutagen errors carry only the word "error"; the class name says more.
    if not text or text == "error":
        return "its structure is invalid or it is cut short"
    return text
