"""Small shared widgets and helpers: cover art, headings, stat cards, messages, formatting.

The unlock window is built from this module before anything else is loaded, so it never names
``Qt`` (PySide6 builds that namespace, with its hundred enums, on first use: tens of
milliseconds) at import time or in what the unlock window calls; it reaches it as
``QtCore.Qt`` inside functions that run later.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore
from PySide6.QtCore import QRectF, QSize, QTimer
from PySide6.QtGui import (
    QColor,
    QEnterEvent,
    QFont,
    QImage,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app import cover_images

if TYPE_CHECKING:
    from app.bridge import Job

_PIXMAPS: dict[tuple[bytes, int, int], QPixmap] = {}


def load_theme(app: QApplication) -> None:
    """Apply the dark stylesheet from ``resources/theme.qss``."""
    import resources

    folder = Path(resources.__file__).parent
    qss = (
        (folder / "theme.qss").read_text(encoding="utf-8").replace("@RESOURCES@", folder.as_posix())
    )  # the spin boxes' arrow images
    app.setStyle("Fusion")
    pal = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, "#121218"),
        (QPalette.ColorRole.WindowText, "#f2f2f7"),
        (QPalette.ColorRole.Base, "#16161d"),
        (QPalette.ColorRole.AlternateBase, "#1c1c25"),
        (QPalette.ColorRole.Text, "#f2f2f7"),
        (QPalette.ColorRole.Button, "#262632"),
        (QPalette.ColorRole.ButtonText, "#f2f2f7"),
        (QPalette.ColorRole.Highlight, "#3ddc97"),
        (QPalette.ColorRole.HighlightedText, "#08110d"),
        (QPalette.ColorRole.ToolTipBase, "#262632"),
        (QPalette.ColorRole.ToolTipText, "#f2f2f7"),
        (QPalette.ColorRole.PlaceholderText, "#6b6b7d"),
        (QPalette.ColorRole.Light, "#33333f"),
        (QPalette.ColorRole.Midlight, "#2a2a36"),
        (QPalette.ColorRole.Mid, "#22222d"),
        (QPalette.ColorRole.Dark, "#0c0c11"),
        (QPalette.ColorRole.Shadow, "#000000"),
    ):
        pal.setColor(role, QColor(colour))
    app.setPalette(pal)
    app.setStyleSheet(qss)
    font = QFont("DejaVu Sans", 10)
    app.setFont(font)


def fmt_duration(ms: int) -> str:
    s = max(0, int(ms) // 1000)
    return f"{s // 60}:{s % 60:02d}"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _placeholder(seed: str, size: int) -> QImage:
    import hashlib  # here, not at the top: the unlock window has no covers

    h = hashlib.blake2b(seed.encode(), digest_size=6).digest()
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    p = QPainter(img)
    g = QLinearGradient(0, 0, size, size)
    g.setColorAt(0, QColor(h[0], h[1] // 2, h[2]))
    g.setColorAt(1, QColor(h[3] // 2, h[4], h[5]))
    p.fillRect(0, 0, size, size, g)
    p.setPen(QColor(255, 255, 255, 200))
    f = QFont("DejaVu Sans", max(8, size // 4), QFont.Weight.Bold)
    p.setFont(f)
    p.drawText(
        QRectF(0, 0, size, size),
        QtCore.Qt.AlignmentFlag.AlignCenter,
        "".join(w[0] for w in seed.split()[:2]).upper() or "♪",
    )
    p.end()
    return img


def cover_pixmap(data: bytes | None, size: int, seed: str = "", radius: int = 10) -> QPixmap:
    """Album art scaled to ``size`` with rounded corners (a generated tile when missing)."""
    key = (data or seed.encode(), size, radius)
    cached = _PIXMAPS.get(key)
    if cached is not None:
        return cached
    img = cover_images.decoded(data) if data else None
    if img is None and data and len(data) <= cover_images.INLINE_MAX_BYTES:
        img = cover_images.decode(data)  # small: cheap enough to decode here
    waiting = bool(data) and img is None and len(data or b"") > cover_images.INLINE_MAX_BYTES
    if img is None:  # a large cover is decoded by the bridge on a worker thread, then redrawn
        img = _placeholder(seed or "?", size)
    img = img.scaled(
        size,
        size,
        QtCore.Qt.AspectRatioMode.KeepAspectRatioByExpanding,
        QtCore.Qt.TransformationMode.SmoothTransformation,
    )
    out = QPixmap(size, size)
    out.fill(QtCore.Qt.GlobalColor.transparent)
    p = QPainter(out)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, size, size), radius, radius)
    p.setClipPath(path)
    p.drawImage(0, 0, img)
    p.end()
    if waiting:
        return out  # not cached: the real cover replaces it once decoded
    if len(_PIXMAPS) > 400:
        _PIXMAPS.clear()
    _PIXMAPS[key] = out
    return out


def label(text: str = "", name: str | None = None, wrap: bool = False) -> QLabel:
    lab = QLabel(text)
    if name:
        lab.setObjectName(name)
    lab.setWordWrap(wrap)
    return lab


def button(text: str, name: str | None = None, tip: str = "", hand: bool = True) -> QPushButton:
    """A push button; ``hand=False`` leaves the pointing-hand cursor to ``hand_cursor``."""
    b = QPushButton(text)
    if name:
        b.setObjectName(name)
    if tip:
        b.setToolTip(tip)
    if hand:
        hand_cursor(b)
    return b


def hand_cursor(*widgets: QWidget) -> None:
    for w in widgets:
        w.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)


class Page(QWidget):
    """A view's page: a heading row and a body with comfortable margins."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        super().__init__()
        self.setObjectName("page")
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(32, 26, 32, 18)
        self.outer.setSpacing(14)
        self.header = QHBoxLayout()
        self.header.setSpacing(12)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        self.title = label(title, "h1")
        titles.addWidget(self.title)
        self.subtitle = label(subtitle, "dim")
        self.subtitle.setVisible(bool(subtitle))
        titles.addWidget(self.subtitle)
        self.header.addLayout(titles)
        self.header.addStretch(1)
        self.outer.addLayout(self.header)
        self.message = MessageBar()
        self.outer.addWidget(self.message)
        self.stale = True

    def refresh(self) -> None:  # overridden by views that load data
        self.stale = False


class MessageBar(QLabel):
    """An inline message: a readable sentence, red for errors, hidden when empty."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.setContentsMargins(12, 0, 12, 0)
        self.hide()
        self._selectable = False

    def show_error(self, text: str) -> None:
        self._show(text, "error")

    def show_warning(self, text: str) -> None:
        self._show(text, "warning")

    def show_success(self, text: str) -> None:
        self._show(text, "success")

    def _show(self, text: str, kind: str) -> None:
        if not self._selectable:  # set late: the unlock window makes one before Qt is loaded
            self.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
            self._selectable = True
        self.setObjectName(kind)
        self.setText(text[:1].upper() + text[1:] if text else text)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setMinimumHeight(self.fontMetrics().height() + 20)  # padding: 8px + border
        self.show()

    def clear_message(self) -> None:
        self.setText("")
        self.hide()


class StatCard(QFrame):
    def __init__(self, caption: str, value: str = "—") -> None:
        super().__init__()
        self.setObjectName("card")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 12)
        lay.setSpacing(2)
        self.value = label(value, "statValue")
        self.caption = label(caption.upper(), "statLabel")
        lay.addWidget(self.caption)
        lay.addWidget(self.value)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set(self, value: str) -> None:
        self.value.setText(value)


class BusyRow(QWidget):
    """A progress bar with a caption and a Cancel button, for long work."""

    def __init__(self) -> None:
        super().__init__()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.caption = label("", "dim")
        self.bar = QProgressBar()
        self.bar.setObjectName("big")
        self.bar.setMinimumWidth(160)
        self.cancel = button("Cancel", "ghost")
        lay.addWidget(self.caption)
        lay.addWidget(self.bar, 1)
        lay.addWidget(self.cancel)
        self.hide()
        self._job: Job | None = None
        self.cancel.clicked.connect(self._cancel)

    def track(self, job: Job, caption: str, cancellable: bool = True) -> None:
        self._job = job
        self.caption.setText(caption)
        self.bar.setRange(0, 0)
        self.cancel.setVisible(cancellable)
        self.cancel.setEnabled(True)
        self.show()
        job.progress.connect(self._progress)
        job.finished.connect(lambda *_: self.hide())
        job.failed.connect(lambda *_: self.hide())

    def _progress(self, done: int, total: int, what: str) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        if what:
            self.caption.setText(what)

    def _cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.cancel.setEnabled(False)
            self.caption.setText("Cancelling…")


class Toast(QLabel):
    """A transient notice over the bottom of the window."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setContentsMargins(14, 0, 14, 0)
        self.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)

    def show_text(self, text: str, error: bool = False, ms: int = 4000) -> None:
        self.setObjectName("toastError" if error else "toast")
        self.style().unpolish(self)
        self.style().polish(self)
        self.setText(text[:1].upper() + text[1:])
        parent = self.parentWidget()
        # its own size hint (padding and border included), wrapped within the window
        widest = max(200, (parent.width() if parent is not None else 640) - 48)
        self.setWordWrap(False)
        hint = self.sizeHint()
        if hint.width() > widest:
            self.setWordWrap(True)
            hint.setWidth(widest)
            hint.setHeight(self.heightForWidth(widest))
        self.resize(hint)
        if parent is not None:
            self.move(parent.width() - self.width() - 24, parent.height() - self.height() - 100)
        self.raise_()
        self.show()
        self._timer.start(ms)


def back_and_go(go: str, hand: bool = True) -> tuple[QHBoxLayout, QPushButton, QPushButton]:
    """A wizard's button row: Back on the left, the step's main action on the right."""
    row = QHBoxLayout()
    back, forward = button("Back", "ghost", hand=hand), button(go, "primary", hand=hand)
    row.addWidget(back)
    row.addStretch(1)
    row.addWidget(forward)
    return row, back, forward


def card(title: str) -> tuple[QFrame, QVBoxLayout]:
    """A titled panel (a settings section, a form): the frame and its column."""
    frame = QFrame()
    frame.setObjectName("card")
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(18, 14, 18, 14)
    lay.setSpacing(8)
    lay.addWidget(label(title, "h2"))
    return frame, lay


def form_card(title: str) -> tuple[QFrame, QFormLayout]:
    """A titled panel of labelled rows: the frame and its form."""
    frame = QFrame()
    frame.setObjectName("card")
    lay = QFormLayout(frame)
    lay.setContentsMargins(18, 14, 18, 14)
    lay.setVerticalSpacing(8)
    lay.addRow(label(title, "h2"))
    return frame, lay


def hline() -> QFrame:
    f = QFrame()
    f.setFrameShape(QFrame.Shape.HLine)
    f.setStyleSheet("color: #262632;")
    return f


ICON = QSize(18, 18)


class ThinSlider(QSlider):
    """A music-player slider: a thin rounded track, the played part lit, a round handle."""

    def __init__(self) -> None:
        super().__init__(QtCore.Qt.Orientation.Horizontal)
        self.setFixedHeight(18)
        self.setMouseTracking(True)
        self._hover = False
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)

    def enterEvent(self, event: QEnterEvent) -> None:
        self._hover = True
        self.update()
        super().enterEvent(event)

    def leaveEvent(self, event: QtCore.QEvent) -> None:
        self._hover = False
        self.update()
        super().leaveEvent(event)

    def _value_at(self, x: float) -> int:
        span = self.maximum() - self.minimum()
        frac = min(1.0, max(0.0, (x - 6) / max(1, self.width() - 12)))
        return self.minimum() + round(span * frac)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self.isEnabled():
            self.setSliderDown(True)
            self.setSliderPosition(self._value_at(event.position().x()))
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.isSliderDown():
            self.setSliderPosition(self._value_at(event.position().x()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.isSliderDown():
            self.setSliderPosition(self._value_at(event.position().x()))
            self.setSliderDown(False)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        y = self.height() / 2
        left, right = 6.0, self.width() - 6.0
        span = max(1, self.maximum() - self.minimum())
        frac = (
            (self.sliderPosition() - self.minimum()) / span
            if self.maximum() > self.minimum()
            else 0.0
        )
        x = left + (right - left) * frac
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(QColor("#34343f"))
        p.drawRoundedRect(QRectF(left, y - 2, right - left, 4), 2, 2)
        lit = QColor("#3ddc97") if (self._hover or self.isSliderDown()) else QColor("#d6d6e0")
        if not self.isEnabled():
            lit = QColor("#4a4a58")
        p.setBrush(lit)
        p.drawRoundedRect(QRectF(left, y - 2, x - left, 4), 2, 2)
        if self.isEnabled():
            p.setBrush(QColor("#ffffff"))
            r = 6 if (self._hover or self.isSliderDown()) else 5
            p.drawEllipse(QRectF(x - r, y - r, 2 * r, 2 * r))
        p.end()
