"""Covers are anybody's content: a large one is decoded on a worker thread, never on the GUI
thread, and the decoded cache is bounded."""

from __future__ import annotations

import threading

import numpy as np

from app import cover_images
from app.demo import _png
from app.ui.widgets import cover_pixmap


def noisy_png(side: int, seed: int) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    return _png(rgb)


def test_a_large_cover_is_drawn_only_once_a_worker_decoded_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    big = noisy_png(700, 1)
    assert len(big) > cover_images.INLINE_MAX_BYTES
    placeholder = cover_pixmap(big, 64, "A B").toImage()
    assert cover_images.decoded(big) is None  # the GUI thread did not decode it
    worker = threading.Thread(target=cover_images.prepare, args=([big],))
    worker.start()
    worker.join()
    image = cover_images.decoded(big)
    assert image is not None and max(image.width(), image.height()) == cover_images.MAX_SIDE
    drawn = cover_pixmap(big, 64, "A B").toImage()
    assert drawn != placeholder  # now the real cover, not the generated tile


def test_the_decoded_cache_is_bounded(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cover_images, "MAX_DECODED", 3)
    covers = [noisy_png(8, i) for i in range(5)]
    assert cover_images.prepare(covers) == 5
    assert [cover_images.decoded(c) is not None for c in covers] == [False, False, True, True, True]
