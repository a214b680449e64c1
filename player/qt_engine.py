"""The real engine: Qt Multimedia's ``QMediaPlayer`` and ``QAudioOutput``.

This is the only module of ``player`` that imports Qt, and it does so lazily: importing it never
fails, :func:`qt_multimedia_problem` says why Qt Multimedia cannot be used here (missing module,
missing system library such as libpulse, no audio output device), and :func:`make_engine` falls
back to the :class:`~player.engine.NullEngine` in that case so the app still runs, silently.

An encrypted track reaches Qt through :class:`_StreamDevice`, a ``QIODevice`` over a
:class:`~player.stream.DecryptingStream`. Qt's FFmpeg backend reads the device on its own
demuxer thread, so a read that waits for a chunk still downloading blocks that thread, not the
GUI; closing or replacing the source cancels the wait.
"""

from __future__ import annotations

import logging
from typing import Any, BinaryIO

from player.engine import Engine, MediaSource, NullEngine, PlaybackState
from player.stream import demuxer_for

log = logging.getLogger(__name__)

_EXTENSION_FOR_DEMUXER = {
    "mp3": "mp3",
    "flac": "flac",
    "ogg": "ogg",
    "mp4": "m4a",
    "wav": "wav",
    "aiff": "aiff",
}


def qt_multimedia_problem(require_output: bool = False) -> str | None:
    """None if Qt Multimedia works here, else a sentence saying why not."""
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError as exc:
        return f"Qt Multimedia is not available: {exc}"
    if require_output:
        try:
            if not QMediaDevices.audioOutputs():
                return "no audio output device"
        except Exception as exc:  # backend initialisation can fail in odd environments
            return f"audio devices cannot be listed: {exc}"
    return None


def make_engine() -> Engine:
    """The best engine available: QtEngine, or a NullEngine (logged) when Qt cannot play."""
    problem = qt_multimedia_problem()
    if problem is not None:
        log.warning("playback disabled: %s", problem)
        return NullEngine()
    return QtEngine()


def _stream_device_class() -> Any:
    from PySide6.QtCore import QIODevice

    class StreamDevice(QIODevice):
        """A read-only, random-access QIODevice over a Python binary stream."""

        def __init__(self, stream: BinaryIO, size: int) -> None:
            super().__init__()
            self._stream = stream
            self._size = size
            self.failure: str | None = None

        def isSequential(self) -> bool:
            return False

        def size(self) -> int:
            return self._size

        def seek(self, pos: int) -> bool:
            if not 0 <= pos <= self._size:
                return False
            self._stream.seek(pos)
            return bool(super().seek(pos))

        def bytesAvailable(self) -> int:
            return self._size - self.pos() + super().bytesAvailable()

        def readData(self, maxlen: int) -> bytes:
            try:
                self._stream.seek(self.pos())
                return self._stream.read(maxlen) or b""
            except Exception as exc:  # a timeout or bad chunk ends the media with an error
                self.failure = str(exc) or type(exc).__name__
                return b""

        def writeData(self, data: Any, length: int = 0) -> int:
            return -1

        def shutdown(self) -> None:
            cancel = getattr(self._stream, "cancel", None)
            if cancel is not None:
                cancel()  # unblock the demuxer thread if it waits for a chunk
            self._stream.close()
            self.close()

    return StreamDevice


class QtEngine(Engine):
    """Plays through QMediaPlayer. Create it on the Qt (GUI) thread, with a Q*Application."""

    def __init__(self) -> None:
        super().__init__()
        from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

        self._qt_player_cls = QMediaPlayer
        self._player = QMediaPlayer()
        self._output = QAudioOutput()
        self._player.setAudioOutput(self._output)
        self._device: Any = None
        self._source: MediaSource | None = None
        self._hint_duration = 0
        self._player.positionChanged.connect(lambda ms: self.position_changed.emit(int(ms)))
        self._player.durationChanged.connect(self._on_duration)
        self._player.playbackStateChanged.connect(self._on_playback_state)
        self._player.mediaStatusChanged.connect(self._on_media_status)
        self._player.errorOccurred.connect(self._on_error)

    @property
    def qt_player(self) -> Any:
        """The underlying QMediaPlayer (for tests and diagnostics)."""
        return self._player

    @property
    def position_ms(self) -> int:
        return int(self._player.position())

    @property
    def duration_ms(self) -> int:
        return int(self._player.duration()) or self._hint_duration

    def load(self, source: MediaSource) -> None:
        from PySide6.QtCore import QUrl

        self._release_source()
        self._source = source
        self._hint_duration = source.duration_ms
        if source.path is not None:
            self._player.setSource(QUrl.fromLocalFile(str(source.path)))
        else:
            assert source.open_stream is not None
            stream = source.open_stream()
            size = getattr(stream, "size", None)
            if size is None:
                size = stream.seek(0, 2)
                stream.seek(0)
            device = _stream_device_class()(stream, int(size))
            device.open(device.OpenModeFlag.ReadOnly)
            self._device = device
            # The URL is only a hint from which Qt guesses the container.
            ext = _EXTENSION_FOR_DEMUXER.get(demuxer_for(source.mime) or "", "bin")
            self._player.setSourceDevice(device, QUrl(f"stream.{ext}"))
        if source.duration_ms:
            self.duration_changed.emit(source.duration_ms)

    def play(self) -> None:
        if self._source is None:
            self.error.emit("nothing to play")
            return
        self._player.play()

    def pause(self) -> None:
        self._player.pause()

    def stop(self) -> None:
        self._player.stop()

    def seek(self, position_ms: int) -> None:
        self._player.setPosition(max(0, int(position_ms)))

    def _apply_volume(self) -> None:
        self._output.setVolume(self._volume)

    def close(self) -> None:
        self._player.stop()
        self._release_source()

    def _release_source(self) -> None:
        from PySide6.QtCore import QUrl

        if self._device is not None:
            device, self._device = self._device, None
            device.shutdown()
        self._player.setSource(QUrl())
        self._source = None

    # -- Qt signal handlers -----------------------------------------------------------------

    def _on_duration(self, ms: int) -> None:
        if ms > 0:
            self.duration_changed.emit(int(ms))

    def _on_playback_state(self, state: Any) -> None:
        qt = self._qt_player_cls.PlaybackState
        mapping = {
            qt.PlayingState: PlaybackState.PLAYING,
            qt.PausedState: PlaybackState.PAUSED,
            qt.StoppedState: PlaybackState.STOPPED,
        }
        self._set_state(mapping.get(state, PlaybackState.STOPPED))

    def _on_media_status(self, status: Any) -> None:
        qt = self._qt_player_cls.MediaStatus
        if (
            status in (qt.LoadingMedia, qt.StalledMedia)
            and self._player.playbackState() == self._qt_player_cls.PlaybackState.PlayingState
        ):
            self._set_state(PlaybackState.LOADING)
        elif (
            status == qt.BufferedMedia
            and self._player.playbackState() == self._qt_player_cls.PlaybackState.PlayingState
        ):
            self._set_state(PlaybackState.PLAYING)
        elif status == qt.EndOfMedia:
            if self._device is not None and self._device.failure:
                self.error.emit(f"playback stopped: {self._device.failure}")
                return
            self.finished.emit(None)
        elif status == qt.InvalidMedia:
            self.error.emit("this file cannot be played")

    def _on_error(self, error: Any, message: str) -> None:
        if error != self._qt_player_cls.Error.NoError:
            detail = self._device.failure if self._device is not None else None
            self.error.emit(detail or message or "playback failed")
