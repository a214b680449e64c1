"""A label that opens something when clicked, without changing its text (artist names)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QLabel


class ClickFilter(QObject):
    """Emits ``clicked`` when the watched widget is clicked with the left button."""

    clicked = Signal()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease:
            self.clicked.emit()
            return True
        return False


def clickable(widget: QLabel, tip: str) -> ClickFilter:
    """Make ``widget`` clickable (a pointing hand and a tooltip); connect to ``.clicked``."""
    f = ClickFilter(widget)
    widget.installEventFilter(f)
    widget.setToolTip(tip)
    widget.setCursor(Qt.CursorShape.PointingHandCursor)
    return f
