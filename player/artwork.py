"""Cover images: recognising them, measuring them, and making small thumbnails for lists and grids.

The library stores each distinct image once, keyed by the BLAKE2b-256 of its bytes, with its
dimensions and a thumbnail at most :data:`THUMB_SIZE` pixels on its longer side. Thumbnails are
made here, without Qt, by FFmpeg's image decoders and scaler through PyAV (already the player's
audio library), so the import can run on a worker thread or in the headless seeder and the UI
only draws bytes it is given. Images that FFmpeg cannot decode are reported, never stored.
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
_JPEG_QUALITY = 4  # FFmpeg's qscale: 2 (best) .. 31; 4 keeps covers clean at a few KB

# Images that sit next to audio files and stand for the album, best first (case-insensitive).
FOLDER_IMAGE_NAMES = ("cover", "folder", "front", "album", "albumart")
FOLDER_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")

# MIME type -> FFmpeg decoder. The MIME type is sniffed from the bytes, not taken from a tag:
# tags often say "image/jpg", "jpeg" or nothing at all.
_DECODERS = {"image/jpeg": "mjpeg", "image/png": "png", "image/gif": "gif",
             "image/webp": "webp", "image/bmp": "bmp"}


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
    """One stored image: the original bytes and dimensions, and its thumbnail."""

    hash: bytes
    mime: str
    width: int
    height: int
    data: bytes
    thumbnail: Thumbnail


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
        ctx = av.CodecContext.create(_DECODERS[mime], "r")
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
    if len(data) > MAX_IMAGE_BYTES:
        raise BadImage(f"image too large ({len(data) >> 20} MiB)")
    mime = sniff_image(data)
    if mime is None:
        raise BadImage("not a recognised image format (JPEG, PNG, GIF, WebP or BMP)")
    frame = _decode(mime, data)
    width, height = frame.width, frame.height
    if max(width, height) <= max_side and mime in ("image/jpeg", "image/png"):
        return mime, width, height, Thumbnail(mime, width, height, data)
    scale = min(1.0, max_side / max(width, height))
    thumb_w, thumb_h = max(1, round(width * scale)), max(1, round(height * scale))
    alpha = any(c.is_alpha for c in frame.format.components)
    pix_fmt = "rgba" if alpha else "yuvj420p"
    small = frame.reformat(width=thumb_w, height=thumb_h, format=pix_fmt,
                           interpolation="AREA")
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
