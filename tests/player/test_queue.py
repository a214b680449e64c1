"""The Qt-free player over the null engine: transport, queue, advance, shuffle, repeat."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from player.engine import MediaSource, NullEngine, PlaybackState
from player.queue import Player, Progress, QueueItem, RepeatMode


def _items(n: int, duration_ms: int = 10_000) -> list[QueueItem]:
    return [
        QueueItem(i, MediaSource.file(Path(f"/music/{i}.flac"), duration_ms), f"T{i}")
        for i in range(n)
    ]


@pytest.fixture
def player() -> Player:
    return Player(NullEngine(), rng=random.Random(4))


def test_null_engine_transport_and_clock() -> None:
    engine = NullEngine()
    states: list[PlaybackState] = []
    ends: list[None] = []
    engine.state_changed.connect(states.append)
    engine.finished.connect(ends.append)
    engine.load(MediaSource.file("/x.mp3", duration_ms=5000))
    engine.advance(1000)
    assert engine.position_ms == 0  # not playing: the clock does not move
    engine.play()
    engine.advance(1500)
    assert engine.position_ms == 1500
    engine.pause()
    engine.advance(1000)
    assert engine.position_ms == 1500
    engine.seek(99_999)
    assert engine.position_ms == 5000
    engine.seek(4000)
    engine.set_volume(1.7)
    assert engine.volume == 1.0
    engine.play()
    engine.advance(2000)
    assert ends == [None] and engine.state == PlaybackState.STOPPED
    assert states == [
        PlaybackState.PLAYING,
        PlaybackState.PAUSED,
        PlaybackState.PLAYING,
        PlaybackState.STOPPED,
    ]


def test_end_of_track_advances_and_stops_at_the_end(player: Player) -> None:
    current: list[object] = []
    progress: list[Progress] = []
    player.current_changed.connect(lambda item: current.append(item and item.key))
    player.progress.connect(progress.append)
    player.set_queue(_items(3))
    engine = player.engine
    assert isinstance(engine, NullEngine)
    engine.advance(4000)
    assert progress[-1] == Progress(4000, 10_000)
    engine.advance(6000)
    assert player.current is not None and player.current.key == 1
    assert player.state == PlaybackState.PLAYING and engine.position_ms == 0
    engine.advance(10_000)
    engine.advance(10_000)
    assert current == [0, 1, 2]
    assert player.state == PlaybackState.STOPPED


def test_next_previous_and_restart(player: Player) -> None:
    player.set_queue(_items(3), start=1)
    engine = player.engine
    assert isinstance(engine, NullEngine)
    assert player.current is not None and player.current.key == 1
    engine.advance(5000)
    player.previous()  # more than 3 s in: restart
    assert player.current.key == 1 and engine.position_ms == 0
    player.previous()
    assert player.current is not None and player.current.key == 0
    assert player.next() and player.next()
    assert player.current is not None and player.current.key == 2
    assert not player.next()
    assert player.state == PlaybackState.STOPPED


def test_repeat_one_and_all(player: Player) -> None:
    engine = player.engine
    assert isinstance(engine, NullEngine)
    player.set_queue(_items(2))
    player.repeat = RepeatMode.ONE
    engine.advance(10_000)
    assert player.current is not None and player.current.key == 0
    assert player.state == PlaybackState.PLAYING
    player.repeat = RepeatMode.ALL
    engine.advance(10_000)
    engine.advance(10_000)
    assert player.current is not None and player.current.key == 0
    assert player.state == PlaybackState.PLAYING


def test_shuffle_plays_everything_once_and_keeps_the_user_order(player: Player) -> None:
    items = _items(8)
    player.set_queue(items, start=3)
    player.set_shuffle(True)
    assert player.current is not None and player.current.key == 3
    order = [item.key for item in player.play_order]
    assert order[0] == 3 and sorted(order) == list(range(8)) and order != list(range(8))
    played = [3]
    while player.next():
        assert player.current is not None
        played.append(player.current.key)  # type: ignore[arg-type]
    assert played == order
    assert [i.key for i in player.queue] == list(range(8))
    player.jump(5)
    player.set_shuffle(False)
    assert player.current is not None and player.current.key == 5
    player.next()
    assert player.current is not None and player.current.key == 6


def test_enqueue_play_next_remove(player: Player) -> None:
    player.set_queue(_items(2))
    extra = _items(4)[2:]
    player.enqueue([extra[0]])
    player.play_next([extra[1]])
    assert [i.key for i in player.play_order] == [0, 3, 1, 2]
    player.remove(0)  # the current track: moves on
    assert player.current is not None and player.current.key == 3
    assert [i.key for i in player.play_order] == [3, 1, 2]
    player.set_queue([])
    assert player.current is None and player.state == PlaybackState.STOPPED
