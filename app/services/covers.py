"""Covers (release artwork) are content from anybody: bounded and checked before use.

A cover is at most ``ARTWORK_MAX_BYTES`` and must be a PNG, JPEG, GIF or WebP image whose header
claims at most ``ARTWORK_MAX_PIXELS``, so fetching and decoding one costs little whatever an
artist publishes. The check reads only the header (no decoder runs here).
"""

from __future__ import annotations

import struct

from app.services.errors import UserError

ARTWORK_MAX_BYTES = 4 * 1024 * 1024
ARTWORK_MAX_PIXELS = 4096 * 4096


def check_cover_image(data: bytes) -> None:
    """Raise UserError unless ``data`` is a PNG, JPEG, GIF or WebP image whose header claims at
    most ``ARTWORK_MAX_PIXELS`` (so decoding it cannot take much memory or time)."""
    if len(data) > ARTWORK_MAX_BYTES:
        raise UserError(f"the cover is over the {ARTWORK_MAX_BYTES}-byte limit")
    size = _image_size(data)
    if size is None:
        raise UserError("the cover is not a PNG, JPEG, GIF or WebP image")
    width, height = size
    if width * height > ARTWORK_MAX_PIXELS:
        raise UserError(f"the cover is {width}×{height} pixels, over the limit")


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image header, or None for another format."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8X":
            return (
                1 + int.from_bytes(data[24:27], "little"),
                1 + int.from_bytes(data[27:30], "little"),
            )
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if kind == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        return None
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 <= len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + length
        return None
    return None
