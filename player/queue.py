"""The player: a play queue over an :class:`~player.engine.Engine` (Qt-free).

The queue keeps the user's order; shuffle plays a permutation of it without changing it, so
turning shuffle off resumes the user's order from the current track. ``previous`` restarts the
current track when more than a few seconds have played, as every music player does.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from player.engine import Engine, MediaSource, PlaybackState, Signal

RESTART_THRESHOLD_MS = 3000


class RepeatMode(enum.Enum):
    OFF = "off"
    ALL = "all"
    ONE = "one"


@dataclass(frozen=True)
class QueueItem:
    """One entry of the queue; ``key`` is the caller's identifier (e.g. a track id)."""

    key: Hashable
    source: MediaSource
    title: str = ""
    artist: str = ""


@dataclass(frozen=True)
class Progress:
    position_ms: int
    duration_ms: int


class Player:
    """Queue, next/previous, shuffle, repeat and end-of-track advance over one engine."""

    def __init__(self, engine: Engine, rng: random.Random | None = None) -> None:
        self.engine = engine
        self.current_changed: Signal[QueueItem | None] = Signal()
        self.queue_changed: Signal[tuple[QueueItem, ...]] = Signal()
        self.progress: Signal[Progress] = Signal()
        self.state_changed: Signal[PlaybackState] = engine.state_changed
        self.error: Signal[str] = engine.error
        self._items: list[QueueItem] = []
        self._order: list[int] = []  # play order: indexes into _items
        self._cursor = -1  # index into _order
        self._shuffle = False
        self.repeat = RepeatMode.OFF
        self._rng = rng or random.Random()
        engine.finished.connect(self._on_finished)
        engine.position_changed.connect(self._on_position)
        engine.duration_changed.connect(self._on_position)

    # -- queue ------------------------------------------------------------------------------

    @property
    def queue(self) -> tuple[QueueItem, ...]:
        """The queue in the user's order."""
        return tuple(self._items)

    @property
    def play_order(self) -> tuple[QueueItem, ...]:
        """The queue in the order it will play (differs from ``queue`` when shuffled)."""
        return tuple(self._items[i] for i in self._order)

    @property
    def current(self) -> QueueItem | None:
        return (
            self._items[self._order[self._cursor]] if 0 <= self._cursor < len(self._order) else None
        )

    @property
    def state(self) -> PlaybackState:
        return self.engine.state

    def set_queue(self, items: Iterable[QueueItem], start: int = 0, play: bool = True) -> None:
        """Replace the queue and (by default) start playing ``items[start]``."""
        self._items = list(items)
        self._order = list(range(len(self._items)))
        if self._shuffle:
            self._shuffle_order(first=start)
            start_cursor = 0
        else:
            start_cursor = start
        self.queue_changed.emit(self.queue)
        if not self._items:
            self._cursor = -1
            self.engine.stop()
            self.current_changed.emit(None)
            return
        self._go(max(0, min(start_cursor, len(self._items) - 1)), play)

    def enqueue(self, items: Iterable[QueueItem]) -> None:
        """Append to the end of the queue (and of the play order)."""
        new = list(items)
        base = len(self._items)
        self._items.extend(new)
        self._order.extend(range(base, base + len(new)))
        self.queue_changed.emit(self.queue)

    def play_next(self, items: Iterable[QueueItem]) -> None:
        """Insert right after the current track."""
        new = list(items)
        base = len(self._items)
        self._items.extend(new)
        self._order[self._cursor + 1 : self._cursor + 1] = range(base, base + len(new))
        self.queue_changed.emit(self.queue)

    def remove(self, index: int) -> None:
        """Remove ``queue[index]``; removing the current track moves on to the next one."""
        if not 0 <= index < len(self._items):
            raise IndexError(index)
        was_current = self._order[self._cursor] == index if self._cursor >= 0 else False
        pos = self._order.index(index)
        del self._items[index]
        del self._order[pos]
        self._order = [i - 1 if i > index else i for i in self._order]
        if pos < self._cursor:
            self._cursor -= 1
        self.queue_changed.emit(self.queue)
        if was_current:
            if self._cursor < len(self._order):
                self._go(self._cursor, self.engine.state == PlaybackState.PLAYING)
            else:
                self._cursor = len(self._order) - 1
                self.engine.stop()
                self.current_changed.emit(self.current)

    # -- transport --------------------------------------------------------------------------

    def play(self) -> None:
        if self.current is None and self._items:
            self._go(0, True)
        else:
            self.engine.play()

    def pause(self) -> None:
        self.engine.pause()

    def toggle(self) -> None:
        if self.engine.state == PlaybackState.PLAYING:
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        self.engine.stop()

    def seek(self, position_ms: int) -> None:
        self.engine.seek(position_ms)

    def set_volume(self, volume: float) -> None:
        self.engine.set_volume(volume)

    def next(self) -> bool:
        """Skip to the next track; returns False (and stops) at the end without repeat."""
        nxt = self._following()
        if nxt is None:
            self.engine.stop()
            return False
        self._go(nxt, True)
        return True

    def previous(self) -> None:
        """Restart the track, or go to the previous one when near its start."""
        if self.engine.position_ms > RESTART_THRESHOLD_MS or self._cursor <= 0:
            if (
                self._cursor <= 0
                and self.repeat == RepeatMode.ALL
                and self.engine.position_ms <= RESTART_THRESHOLD_MS
                and self._order
            ):
                self._go(len(self._order) - 1, True)
                return
            self.engine.seek(0)
            return
        self._go(self._cursor - 1, True)

    def jump(self, index: int) -> None:
        """Play ``queue[index]`` now."""
        self._go(self._order.index(index), True)

    # -- shuffle ----------------------------------------------------------------------------

    @property
    def shuffle(self) -> bool:
        return self._shuffle

    def set_shuffle(self, on: bool) -> None:
        """Shuffle the tracks not yet played, keeping the current one playing."""
        if on == self._shuffle:
            return
        self._shuffle = on
        current = self._order[self._cursor] if self._cursor >= 0 else None
        if on:
            self._shuffle_order(first=current)
            self._cursor = 0 if current is not None else -1
        else:
            self._order = list(range(len(self._items)))
            self._cursor = current if current is not None else -1
        self.queue_changed.emit(self.queue)

    def _shuffle_order(self, first: int | None) -> None:
        rest = [i for i in range(len(self._items)) if i != first]
        self._rng.shuffle(rest)
        self._order = ([first] if first is not None and self._items else []) + rest

    # -- internals --------------------------------------------------------------------------

    def _following(self) -> int | None:
        if self._cursor + 1 < len(self._order):
            return self._cursor + 1
        if self.repeat == RepeatMode.ALL and self._order:
            return 0
        return None

    def _go(self, cursor: int, play: bool) -> None:
        self._cursor = cursor
        item = self._items[self._order[cursor]]
        self.engine.load(item.source)
        self.current_changed.emit(item)
        if play:
            self.engine.play()

    def _on_finished(self, _: None) -> None:
        if self.repeat == RepeatMode.ONE and self.current is not None:
            self._go(self._cursor, True)
            return
        self.next()

    def _on_position(self, _: int) -> None:
        self.progress.emit(Progress(self.engine.position_ms, self.engine.duration_ms))
