"""The playback engine interface, and a null engine with a simulated clock for tests.

An :class:`Engine` plays one :class:`MediaSource` at a time and reports through
:class:`Signal` objects; it knows nothing of queues (that is :mod:`player.queue`). The real
engine is :class:`player.qt_engine.QtEngine`; :class:`NullEngine` behaves the same way but its
clock only moves when a test calls :meth:`NullEngine.advance`.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

T = TypeVar("T")


class Signal(Generic[T]):
    """A minimal, Qt-free observer list: ``connect(fn)``, ``emit(value)``."""

    def __init__(self) -> None:
        self._slots: list[Callable[[T], Any]] = []

    def connect(self, slot: Callable[[T], Any]) -> None:
        self._slots.append(slot)

    def disconnect(self, slot: Callable[[T], Any]) -> None:
        self._slots.remove(slot)

    def emit(self, value: T) -> None:
        for slot in list(self._slots):
            slot(value)


class PlaybackState(enum.Enum):
    STOPPED = "stopped"
    LOADING = "loading"  # waiting for the first audio (e.g. first chunks of a download)
    PLAYING = "playing"
    PAUSED = "paused"


@dataclass(frozen=True)
class MediaSource:
    """What to play: a local file, or a stream opened on demand (a decrypting reader).

    ``open_stream`` returns a fresh, seekable, readable binary file object each time it is
    called; the engine owns and closes it. ``duration_ms`` is a hint from the library, used
    until the decoder knows better.
    """

    path: Path | None = None
    open_stream: Callable[[], BinaryIO] | None = None
    mime: str = ""
    duration_ms: int = 0
    name: str = ""

    @classmethod
    def file(cls, path: Path | str, duration_ms: int = 0, mime: str = "") -> MediaSource:
        return cls(path=Path(path), duration_ms=duration_ms, mime=mime, name=Path(path).name)

    @classmethod
    def stream(
        cls, opener: Callable[[], BinaryIO], mime: str, duration_ms: int = 0, name: str = "stream"
    ) -> MediaSource:
        return cls(open_stream=opener, mime=mime, duration_ms=duration_ms, name=name)

    def __post_init__(self) -> None:
        if (self.path is None) == (self.open_stream is None):
            raise ValueError("a MediaSource is either a path or a stream opener")


class Engine(ABC):
    """Plays one source; every change is announced on the signals below."""

    def __init__(self) -> None:
        self.state_changed: Signal[PlaybackState] = Signal()
        self.position_changed: Signal[int] = Signal()  # milliseconds
        self.duration_changed: Signal[int] = Signal()  # milliseconds
        self.finished: Signal[None] = Signal()  # the source played to its end
        self.error: Signal[str] = Signal()  # a sentence for the user
        self._state = PlaybackState.STOPPED
        self._volume = 1.0

    @property
    def state(self) -> PlaybackState:
        return self._state

    def _set_state(self, state: PlaybackState) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    @property
    def volume(self) -> float:
        return self._volume

    def set_volume(self, volume: float) -> None:
        """Linear volume from 0.0 (silent) to 1.0 (full)."""
        self._volume = min(1.0, max(0.0, float(volume)))
        self._apply_volume()

    def _apply_volume(self) -> None:  # noqa: B027 - optional hook for real engines
        pass

    @property
    @abstractmethod
    def position_ms(self) -> int: ...

    @property
    @abstractmethod
    def duration_ms(self) -> int: ...

    @abstractmethod
    def load(self, source: MediaSource) -> None:
        """Replace the current source (stopping it); does not start playing."""

    @abstractmethod
    def play(self) -> None: ...

    @abstractmethod
    def pause(self) -> None: ...

    @abstractmethod
    def stop(self) -> None:
        """Stop and rewind to the start; the source stays loaded."""

    @abstractmethod
    def seek(self, position_ms: int) -> None: ...

    def close(self) -> None:  # noqa: B027 - engines holding OS resources override this
        """Release the audio device and any open stream."""


class NullEngine(Engine):
    """An engine without sound whose clock advances only when told (for tests and headless use).

    The duration is the source's ``duration_ms`` hint. With ``open_streams=True`` the engine
    opens a stream source and reads its first bytes on play, so tests can see a stream used.
    """

    def __init__(self, open_streams: bool = False) -> None:
        super().__init__()
        self._source: MediaSource | None = None
        self._position = 0
        self._open_streams = open_streams
        self.first_bytes: bytes = b""

    @property
    def source(self) -> MediaSource | None:
        return self._source

    @property
    def position_ms(self) -> int:
        return self._position

    @property
    def duration_ms(self) -> int:
        return self._source.duration_ms if self._source else 0

    def load(self, source: MediaSource) -> None:
        self.stop()
        self._source = source
        self._position = 0
        self.duration_changed.emit(source.duration_ms)

    def play(self) -> None:
        if self._source is None:
            self.error.emit("nothing to play")
            return
        if self._open_streams and self._source.open_stream is not None:
            with self._source.open_stream() as stream:
                self.first_bytes = stream.read(4096)
        self._set_state(PlaybackState.PLAYING)

    def pause(self) -> None:
        if self._state == PlaybackState.PLAYING:
            self._set_state(PlaybackState.PAUSED)

    def stop(self) -> None:
        self._position = 0
        self._set_state(PlaybackState.STOPPED)

    def seek(self, position_ms: int) -> None:
        self._position = max(0, min(int(position_ms), self.duration_ms))
        self.position_changed.emit(self._position)

    def advance(self, ms: int) -> None:
        """Let ``ms`` of simulated time pass; reaching the end emits ``finished``."""
        if self._state != PlaybackState.PLAYING:
            return
        self._position = min(self._position + int(ms), self.duration_ms)
        self.position_changed.emit(self._position)
        if self._position >= self.duration_ms:
            self._position = 0
            self._set_state(PlaybackState.STOPPED)
            self.finished.emit(None)
