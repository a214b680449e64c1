"""Cover images: recognising them, measuring them, and making small thumbnails for lists and grids.

The library stores each distinct image once, keyed by the BLAKE2b-256 of its bytes, with its
format and dimensions and a thumbnail at most :data:`THUMB_SIZE` pixels on its longer side.

Import only reads an image's header (:func:`probe_image`, pure Python, microseconds): decoding a
cover takes milliseconds, as long as parsing the tags of a dozen files, so thumbnails are made
afterwards, by :meth:`player.library.Library.make_thumbnails` or on first request. They are
made without Qt, by FFmpeg's image decoders and scaler through PyAV (already the player's audio
library), so this runs on a worker thread or in the headless seeder and the UI only draws bytes
it is given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

THUMB_SIZE = 256  # pixels on the longer side: a 128-point grid tile on a 2x display
MAX_IMAGE_BYTES = 32 << 20  # embedded covers larger than this are almost surely not covers
MAX_IMAGE_SIDE = 20_000  # refuse to decode larger pictures (a few KB can declare gigapixels)
_JPEG_QUALITY = 4  # FFmpeg's qscale: 2 (best) .. 31; 4 keeps covers clean at a few KB

# Images that sit next to audio files and stand for the album, best first (case-insensitive).
FOLDER_IMAGE_NAMES = ("cover", "folder", "front", "album", "albumart")
FOLDER_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")

# MIME type -> FFmpeg decoder. The MIME type is sniffed from the bytes, not taken from a tag:
# tags often say "image/jpg", "jpeg" or nothing at all.
_DECODERS = {
    "image/jpeg": "mjpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
}


class BadImage(Exception):
    """Bytes that are not a readable image; ``str(err)`` says why."""


@dataclass(frozen=True)
class Thumbnail:
    """A small rendition of a cover: JPEG, or PNG when the original has transparency."""

    mime: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class CoverArt:
    """One stored image: the original bytes and dimensions, and its thumbnail.

    ``thumbnail`` is None only when the image's header was readable but its body is not.
    """

    hash: bytes
    mime: str
    width: int
    height: int
    data: bytes
    thumbnail: Thumbnail | None


def image_hash(data: bytes) -> bytes:
    """The content address of an image: BLAKE2b-256 of its bytes."""
    return hashlib.blake2b(data, digest_size=32).digest()


def sniff_image(data: bytes) -> str | None:
    """The MIME type of an image from its first bytes, or None if not a known image format."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:2] == b"BM" and len(data) > 26:
        return "image/bmp"
    return None


def _be(data: bytes, start: int, length: int) -> int:
    return int.from_bytes(data[start : start + length], "big")


def _le(data: bytes, start: int, length: int) -> int:
    return int.from_bytes(data[start : start + length], "little")


# JPEG start-of-frame markers (baseline, progressive, lossless, ...): C0-CF except DHT (C4),
# JPG (C8) and DAC (CC), which share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker in _JPEG_SOF and pos + 9 <= len(data):
            return _be(data, pos + 7, 2), _be(data, pos + 5, 2)
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + _be(data, pos + 2, 2)
    raise BadImage("damaged JPEG image: no frame header")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return _le(data, 26, 2) & 0x3FFF, _le(data, 28, 2) & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = _le(data, 21, 4)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return _le(data, 24, 3) + 1, _le(data, 27, 3) + 1
    raise BadImage("damaged WebP image: no frame header")


def probe_image(data: bytes) -> tuple[str, int, int]:
    """(MIME type, width, height) from an image's header, without decoding it.

    Raises :class:`BadImage` for data that is not a JPEG, PNG, GIF, WebP or BMP image, whose
    header is damaged, or whose declared size is beyond :data:`MAX_IMAGE_SIDE`.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise BadImage(f"image too large ({len(data) >> 20} MiB)")
    mime = sniff_image(data)
    if mime is None:
        raise BadImage("not a recognised image format (JPEG, PNG, GIF, WebP or BMP)")
    if mime == "image/jpeg":
        width, height = _jpeg_size(data)
    elif mime == "image/png":
        if data[12:16] != b"IHDR" or len(data) < 24:
            raise BadImage("damaged PNG image: no header chunk")
        width, height = _be(data, 16, 4), _be(data, 20, 4)
    elif mime == "image/gif":
        width, height = _le(data, 6, 2), _le(data, 8, 2)
    elif mime == "image/webp":
        width, height = _webp_size(data)
    else:  # BMP: BITMAPCOREHEADER (12 bytes) has 16-bit sizes, later headers 32-bit
        if _le(data, 14, 4) == 12:
            width, height = _le(data, 18, 2), _le(data, 20, 2)
        else:
            width = int.from_bytes(data[18:22], "little", signed=True)
            height = abs(int.from_bytes(data[22:26], "little", signed=True))
    kind = mime.split("/")[1].upper()
    if width <= 0 or height <= 0:
        raise BadImage(f"damaged {kind} image: it declares {width} x {height} pixels")
    if max(width, height) > MAX_IMAGE_SIDE:
        raise BadImage(f"image too large ({width} x {height} pixels)")
    return mime, width, height


def folder_image(names: list[str]) -> str | None:
    """Of the file names in one folder, the one that is that folder's cover, if any."""
    by_lower = {n.lower(): n for n in names}
    for stem in FOLDER_IMAGE_NAMES:
        for ext in FOLDER_IMAGE_EXTENSIONS:
            if stem + ext in by_lower:
                return by_lower[stem + ext]
    return None


def _decode(mime: str, data: bytes) -> Any:
    try:
        ctx: Any = av.CodecContext.create(_DECODERS[mime], "r")
        frames = list(ctx.decode(av.Packet(data)))
        if not frames:
            frames = list(ctx.decode(None))
    except (av.FFmpegError, ValueError) as exc:
        raise BadImage(f"damaged {mime.split('/')[1].upper()} image: {exc}") from exc
    if not frames or frames[0].width <= 0 or frames[0].height <= 0:
        raise BadImage(f"damaged {mime.split('/')[1].upper()} image: no picture in it")
    return frames[0]


def _encode(frame: Any, codec: str, pix_fmt: str) -> bytes:
    ctx: Any = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = frame.width, frame.height, pix_fmt
    ctx.time_base = Fraction(1, 1)
    if codec == "mjpeg":
        ctx.options = {"qmin": str(_JPEG_QUALITY), "qmax": str(_JPEG_QUALITY)}
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def make_thumbnail(data: bytes, max_side: int = THUMB_SIZE) -> tuple[str, int, int, Thumbnail]:
    """(MIME type, width, height) of the image in ``data``, and its thumbnail.

    The thumbnail keeps the aspect ratio and is never larger than the original; an original
    already within ``max_side`` is its own thumbnail. Raises :class:`BadImage`.
    """
    mime, _, _ = probe_image(data)
    frame = _decode(mime, data)
    width, height = frame.width, frame.height
    if max(width, height) <= max_side and mime in ("image/jpeg", "image/png"):
        return mime, width, height, Thumbnail(mime, width, height, data)
    scale = min(1.0, max_side / max(width, height))
    thumb_w, thumb_h = max(1, round(width * scale)), max(1, round(height * scale))
    alpha = any(c.is_alpha for c in frame.format.components)
    pix_fmt = "rgba" if alpha else "yuvj420p"
    small = frame.reformat(width=thumb_w, height=thumb_h, format=pix_fmt, interpolation="AREA")
    if alpha:
        thumb = Thumbnail("image/png", thumb_w, thumb_h, _encode(small, "png", "rgba"))
    else:
        thumb = Thumbnail("image/jpeg", thumb_w, thumb_h, _encode(small, "mjpeg", "yuvj420p"))
    return mime, width, height, thumb


def read_image_file(path: Path) -> bytes:
    """The bytes of an image file next to the music; BadImage if unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise BadImage(f"image too large ({size >> 20} MiB)")
        return path.read_bytes()
    except OSError as exc:
        raise BadImage(f"cannot read: {exc.strerror or exc}") from exc
