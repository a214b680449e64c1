"""The player bar: now playing with artwork, transport, seek, volume, queue, media keys."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QMenu, QVBoxLayout, QWidget

from app.ui.clickable import clickable
from app.ui.icons import icon
from app.ui.widgets import ThinSlider, button, cover_pixmap, fmt_duration, label
from player.engine import Engine, MediaSource, NullEngine, PlaybackState
from player.queue import Player, Progress, QueueItem

if TYPE_CHECKING:
    from app.bridge import Bridge
    from app.services.session.views import LibraryRow


def make_engine(prefer_null: bool = False) -> Engine:
    """Qt Multimedia when it can play here, else the silent NullEngine."""
    if prefer_null:
        return NullEngine()
    try:
        from player.qt_engine import make_engine as best

        return best()
    except Exception:
        return NullEngine()


class PlayerBar(QWidget):
    """Wraps ``player.queue.Player`` (Qt-free) in widgets."""

    message = Signal(str, bool)
    artist_requested = Signal(str)  # the playing track's artist, by name

    def __init__(self, bridge: Bridge, engine: Engine | None = None) -> None:
        super().__init__()
        self.setObjectName("playerBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedHeight(84)
        self.bridge = bridge
        self.engine = engine or make_engine()
        self.silent = isinstance(self.engine, NullEngine)
        self.player = Player(self.engine)
        self.artwork: dict[Any, bytes | None] = {}
        lay = QHBoxLayout(self)
        lay.setContentsMargins(16, 10, 20, 10)
        lay.setSpacing(14)
        # now playing
        self.cover = label()
        self.cover.setFixedSize(56, 56)
        self.cover.setPixmap(cover_pixmap(None, 56, "♪", 6))
        now = QVBoxLayout()
        now.setSpacing(2)
        self.title = label("Nothing playing", "nowTitle")
        self.artist = label("Pick a track to play", "nowArtist")
        self.title.setMaximumWidth(240)
        self.artist.setMaximumWidth(240)
        self._artist_click = clickable(self.artist, "Open the artist page")
        self._artist_click.clicked.connect(self._artist_clicked)
        now.addStretch(1)
        now.addWidget(self.title)
        now.addWidget(self.artist)
        now.addStretch(1)
        left = QHBoxLayout()
        left.setSpacing(12)
        left.addWidget(self.cover)
        left.addLayout(now)
        left_w = QWidget()
        left_w.setLayout(left)
        left_w.setFixedWidth(300)
        lay.addWidget(left_w)
        # transport + seek
        mid = QVBoxLayout()
        mid.setSpacing(4)
        transport = QHBoxLayout()
        transport.setSpacing(10)
        transport.addStretch(1)
        self.prev_btn = button("", "round", "Previous")
        self.play_btn = button("", "play", "Play / pause")
        self.next_btn = button("", "round", "Next")
        self.prev_btn.setIcon(icon("prev"))
        self.next_btn.setIcon(icon("next"))
        self.play_btn.setIcon(icon("play", "#121218"))
        for b in (self.prev_btn, self.play_btn, self.next_btn):
            b.setIconSize(QSize(20, 20))
            transport.addWidget(b)
        transport.addStretch(1)
        mid.addLayout(transport)
        seek_row = QHBoxLayout()
        self.pos_label = label("0:00", "time")
        self.seek = ThinSlider()
        self.seek.setRange(0, 0)
        self.dur_label = label("0:00", "time")
        seek_row.addWidget(self.pos_label)
        seek_row.addWidget(self.seek, 1)
        seek_row.addWidget(self.dur_label)
        mid.addLayout(seek_row)
        lay.addLayout(mid, 1)
        # volume and queue
        right = QHBoxLayout()
        right.setSpacing(8)
        self.queue_btn = button("", "round", "Queue")
        self.queue_btn.setIcon(icon("queue"))
        self.queue_btn.setIconSize(QSize(20, 20))
        self.vol_icon = label()
        self.vol_icon.setPixmap(
            icon("mute" if self.silent else "volume", "#a3a3b5").pixmap(QSize(20, 20))
        )
        if self.silent:
            self.vol_icon.setToolTip("No audio output here: playback is silent")
        self.volume = ThinSlider()
        self.volume.setRange(0, 100)
        self.volume.setValue(80)
        self.volume.setFixedWidth(110)
        right.addWidget(self.queue_btn)
        right.addWidget(self.vol_icon)
        right.addWidget(self.volume)
        right_w = QWidget()
        right_w.setLayout(right)
        right_w.setFixedWidth(220)
        lay.addWidget(right_w)

        self.play_btn.clicked.connect(self.toggle)
        self.next_btn.clicked.connect(self.player.next)
        self.prev_btn.clicked.connect(self.player.previous)
        self.seek.sliderReleased.connect(lambda: self.player.seek(self.seek.value()))
        self.volume.valueChanged.connect(lambda v: self.player.set_volume(v / 100))
        self.queue_btn.clicked.connect(self._show_queue)
        self.player.set_volume(0.8)
        self.player.current_changed.connect(self._on_current)
        self.player.progress.connect(self._on_progress)
        self.player.state_changed.connect(self._on_state)
        self.player.error.connect(lambda m: self.message.emit(m, True))
        # The null engine's clock only moves when told: tick it like real time.
        self._tick = QTimer(self)
        self._tick.setInterval(250)
        self._tick.timeout.connect(self._advance)
        self._shortcuts: list[QShortcut] = []
        for key, fn in (
            (Qt.Key.Key_MediaTogglePlayPause, self.toggle),
            (Qt.Key.Key_MediaPlay, self.player.play),
            (Qt.Key.Key_MediaPause, self.player.pause),
            (Qt.Key.Key_MediaStop, self.player.stop),
            (Qt.Key.Key_MediaNext, self.player.next),
            (Qt.Key.Key_MediaPrevious, self.player.previous),
        ):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.ApplicationShortcut)
            sc.activated.connect(fn)
            self._shortcuts.append(sc)
        self._set_enabled(False)

    # -- what to play ----------------------------------------------------------------------------
    def play_rows(self, rows: list[LibraryRow], start: int) -> None:
        """Queue owned tracks (decrypted chunk by chunk as they play) and start one."""
        job = self.bridge.call("stream_parts_many", [r.content for r in rows])

        def go(parts: list[tuple[Path, bytes | None, str]]) -> None:
            items = []
            for r, (root, key, mime) in zip(rows, parts, strict=True):
                self.artwork[r.content] = r.artwork
                items.append(
                    QueueItem(
                        r.content,
                        MediaSource.stream(
                            _opener(root, r.content, key, self.bridge.want_chunks),
                            mime,
                            r.duration_ms,
                            r.title,
                        ),
                        r.title,
                        r.artist,
                    )
                )
            self.player.set_queue(items, start)

        job.finished.connect(go)
        job.failed.connect(lambda m: self.message.emit(m, True))

    def play_preview(
        self, preview: bytes, title: str, artist: str, artwork: bytes | None = None
    ) -> None:
        job = self.bridge.call("preview_file", preview)

        def go(result: tuple[bytes, str, int]) -> None:
            data, mime, duration = result
            self.artwork[preview] = artwork
            self.player.set_queue(
                [
                    QueueItem(
                        preview,
                        MediaSource.stream(lambda: io.BytesIO(data), mime, duration, title),
                        title,
                        artist,
                    )
                ]
            )

        job.finished.connect(go)
        job.failed.connect(lambda m: self.message.emit(m, True))

    # -- controls --------------------------------------------------------------------------------
    def toggle(self) -> None:
        self.player.toggle()

    def _advance(self) -> None:
        if isinstance(self.engine, NullEngine):
            self.engine.advance(self._tick.interval())

    def _set_enabled(self, on: bool) -> None:
        for w in (self.play_btn, self.next_btn, self.prev_btn, self.seek):
            w.setEnabled(on)

    def _artist_clicked(self) -> None:
        if self.player.current is not None and self.player.current.artist:
            self.artist_requested.emit(self.player.current.artist)

    def _on_current(self, item: QueueItem | None) -> None:
        self._set_enabled(item is not None)
        if item is None:
            self.title.setText("Nothing playing")
            self.artist.setText("")
            return
        self.title.setText(item.title)
        self.artist.setText(item.artist)
        self.artist.setToolTip("No audio output here: playback is silent" if self.silent else "")
        self.cover.setPixmap(cover_pixmap(self.artwork.get(item.key), 56, item.artist, 6))

    def _on_progress(self, p: Progress) -> None:
        if not self.seek.isSliderDown():
            self.seek.setRange(0, max(0, p.duration_ms))
            self.seek.setValue(p.position_ms)
        self.pos_label.setText(fmt_duration(p.position_ms))
        self.dur_label.setText(fmt_duration(p.duration_ms))

    def _on_state(self, state: PlaybackState) -> None:
        playing = state == PlaybackState.PLAYING
        self.play_btn.setIcon(icon("pause" if playing else "play", "#121218"))
        if isinstance(self.engine, NullEngine):
            (self._tick.start if playing else self._tick.stop)()

    def _show_queue(self) -> None:
        menu = self.queue_menu()
        menu.exec(self.queue_menu_pos(menu))

    def queue_menu_pos(self, menu: QMenu) -> QPoint:
        """Where the queue opens: above its button (the bar is at the bottom of the window),
        its right edge on the button's, inside the window."""
        size = menu.sizeHint()
        corner = self.queue_btn.mapTo(self.window(), QPoint(self.queue_btn.width(), 0))
        x = max(0, corner.x() - size.width())
        y = max(0, corner.y() - size.height() - 4)
        return self.window().mapToGlobal(QPoint(x, y))

    def queue_menu(self) -> QMenu:
        menu = QMenu(self)
        current = self.player.current
        if not self.player.queue:
            menu.addAction("The queue is empty").setEnabled(False)
        for i, item in enumerate(self.player.queue):
            act = menu.addAction(
                ("▶  " if item is current else "    ") + f"{item.title} — {item.artist}"
            )
            act.triggered.connect(lambda _=False, i=i: self.player.jump(i))
        return menu

    def close_engine(self) -> None:
        self._tick.stop()
        try:
            self.engine.close()
        except Exception:
            pass


def _opener(
    root: Path, content: bytes, key: bytes | None, want_chunks: Callable[[bytes, int], None]
) -> Callable[[], io.BufferedReader]:
    """Opens a track's decrypting stream; a chunk the reader has to wait for is passed to
    ``want_chunks`` so a running download fetches it (and the next few) first."""
    from content.source import DirectoryChunkSource
    from player.stream import DecryptingStream

    def open_stream() -> io.BufferedReader:
        source = DirectoryChunkSource(
            root, content, key, on_wanted=lambda index: want_chunks(content, index)
        )
        return io.BufferedReader(DecryptingStream(source))

    return open_stream
