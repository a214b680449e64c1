"""Transport and UI icons painted with QPainter (no font glyphs needed, crisp at any DPI)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

_CACHE: dict[tuple[str, str, int], QIcon] = {}


def icon(name: str, color: str = "#e6e6ee", size: int = 32) -> QIcon:
    key = (name, color, size)
    if key in _CACHE:
        return _CACHE[key]
    pm = QPixmap(size * 2, size * 2)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(size * 2 / 24, size * 2 / 24)  # draw on a 24x24 grid
    c = QColor(color)
    p.setBrush(c)
    p.setPen(Qt.PenStyle.NoPen)

    def tri(*pts: tuple[float, float]) -> None:
        p.drawPolygon(QPolygonF([QPointF(x, y) for x, y in pts]))

    if name == "play":
        tri((8, 5), (19, 12), (8, 19))
    elif name == "pause":
        p.drawRoundedRect(QRectF(6.5, 5, 4, 14), 1, 1)
        p.drawRoundedRect(QRectF(13.5, 5, 4, 14), 1, 1)
    elif name == "next":
        tri((5, 6), (14, 12), (5, 18))
        p.drawRoundedRect(QRectF(15, 6, 2.6, 12), 1, 1)
    elif name == "prev":
        tri((19, 6), (10, 12), (19, 18))
        p.drawRoundedRect(QRectF(6.4, 6, 2.6, 12), 1, 1)
    elif name in ("volume", "mute"):
        tri((4, 9.5), (8, 9.5), (13, 5), (13, 19), (8, 14.5), (4, 14.5))
        pen = QPen(c, 1.8)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        if name == "volume":
            path = QPainterPath()
            path.arcMoveTo(QRectF(10, 8, 8, 8), -50)
            path.arcTo(QRectF(10, 8, 8, 8), -50, 100)
            p.drawPath(path)
            path2 = QPainterPath()
            path2.arcMoveTo(QRectF(8, 5, 14, 14), -50)
            path2.arcTo(QRectF(8, 5, 14, 14), -50, 100)
            p.drawPath(path2)
        else:
            p.drawLine(QPointF(16, 9.5), QPointF(21, 14.5))
            p.drawLine(QPointF(21, 9.5), QPointF(16, 14.5))
    elif name == "queue":
        for i, y in enumerate((6, 11, 16)):
            p.drawRoundedRect(QRectF(4, y, 11 if i < 2 else 8, 2), 1, 1)
        tri((15, 14), (21, 17), (15, 20))
    p.end()
    ic = QIcon(pm)
    _CACHE[key] = ic
    return ic
