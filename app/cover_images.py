"""Covers decoded off the GUI thread.

A cover is anybody's content, so the GUI thread never decodes a large one: the bridge decodes
each cover of the catalog on a worker thread (``prepare``) into a QImage of at most
``MAX_SIDE`` pixels a side, kept in a bounded cache that the views read (``decoded``). QImage
(unlike QPixmap) may be used on any thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from PySide6 import QtCore  # QtCore.Qt only when used: that namespace is slow to load
from PySide6.QtGui import QImage

MAX_SIDE = 512  # the largest cover the views draw is 240 px (480 on a HiDPI screen)
MAX_DECODED = 256  # covers kept decoded (about 1 MiB each at most)
INLINE_MAX_BYTES = 256 * 1024  # smaller images may still be decoded where they are drawn

_decoded: OrderedDict[bytes, QImage] = OrderedDict()
_lock = threading.Lock()


def decode(data: bytes) -> QImage | None:
    """Decode and shrink one cover (any thread); None if it is not an image Qt reads."""
    image = QImage()
    if not image.loadFromData(data):
        return None
    if max(image.width(), image.height()) > MAX_SIDE:
        image = image.scaled(
            MAX_SIDE,
            MAX_SIDE,
            QtCore.Qt.AspectRatioMode.KeepAspectRatio,
            QtCore.Qt.TransformationMode.SmoothTransformation,
        )
    with _lock:
        _decoded[data] = image
        while len(_decoded) > MAX_DECODED:
            _decoded.popitem(last=False)
    return image


def decoded(data: bytes) -> QImage | None:
    """The decoded cover for these bytes, if ``prepare`` or ``decode`` has made it."""
    with _lock:
        image = _decoded.get(data)
        if image is not None:
            _decoded.move_to_end(data)
        return image


def prepare(covers: Iterable[bytes]) -> int:
    """Decode the covers not decoded yet (on a worker thread); returns how many were."""
    done = 0
    for data in covers:
        if decoded(data) is None:
            decode(data)
            done += 1
    return done
