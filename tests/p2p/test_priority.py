"""Chunk priorities: the download follows the player's read position.

The provider is slowed by a per-peer upload cap so that the order in which chunks arrive is
decided by the order in which the fan asks for them.
"""

from __future__ import annotations

import os

import pytest
import trio

from content.format import new_track_key, pack
from p2p.content.download import Download
from p2p.limits import Limits
from tests.p2p.conftest import trio_test, wait_for

pytestmark = pytest.mark.network

CHUNK = 16 * 1024
SLOW = Limits(request_timeout=3.0, ban_seconds=60, upload_rate_per_peer=192 * 1024)


def publish(peer, chunks: int):
    packed = pack(os.urandom(chunks * CHUNK - 100), new_track_key(), "audio/ogg", chunk_size=CHUNK)
    peer.store.put_packed(packed.manifest_bytes, packed.chunks)
    return packed


@trio_test
async def test_prioritized_chunks_arrive_before_the_middle_of_the_track(swarm):
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    packed = publish(seeder, 24)
    wanted = [19, 20, 21, 22]  # the player seeks near the end
    arrived: list[int] = []
    async with swarm.run(seeder, limits=SLOW) as s, swarm.run(fan) as f:
        await f.connect(s.addrs[0])

        def progress(p) -> None:
            if p.chunk_index is not None:
                arrived.append(p.chunk_index)
                if len(arrived) == 1:
                    assert f.prioritize(packed.content_id, wanted)

        await f.fetch(packed.content_id, providers=[s.peer_id], on_progress=progress)
        assert not f.prioritize(packed.content_id, wanted)  # nothing downloading any more
    assert sorted(arrived) == list(range(24))
    middle = range(8, 17)
    assert max(arrived.index(i) for i in wanted) < min(arrived.index(i) for i in middle), arrived


@trio_test
async def test_the_first_and_last_chunks_come_first(swarm, monkeypatch):
    """Chunk 0 starts playback; the last chunk holds what Ogg and MP4 read to open the file.

    Both are asked for first. The order in which the first few replies arrive is not checked:
    several requests are in flight at once, and which of them the seeder's worker threads and
    the fan's store finish first is up to the scheduler."""
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    packed = publish(seeder, 12)
    requested: list[int] = []
    take = Download._take

    def recording_take(self, index):
        requested.append(index)
        return take(self, index)

    monkeypatch.setattr(Download, "_take", recording_take)
    arrived: list[int] = []
    async with swarm.run(seeder, limits=SLOW) as s, swarm.run(fan) as f:
        await f.connect(s.addrs[0])
        await f.fetch(
            packed.content_id,
            providers=[s.peer_id],
            on_progress=lambda p: p.chunk_index is not None and arrived.append(p.chunk_index),
        )
    assert requested[:2] == [0, 11], requested
    assert sorted(arrived) == list(range(12))


@trio_test
async def test_a_reader_waiting_far_ahead_gets_its_chunk_before_the_rest(swarm):
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    packed = publish(seeder, 24)
    arrived: list[int] = []
    async with swarm.run(seeder, limits=SLOW) as s, swarm.run(fan) as f:
        await f.connect(s.addrs[0])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: f.fetch(
                    packed.content_id,
                    providers=[s.peer_id],
                    on_progress=lambda p: (
                        p.chunk_index is not None and arrived.append(p.chunk_index)
                    ),
                )
            )
            await wait_for(lambda: arrived, what="first chunk")
            async for index, data in f.read_chunks(packed.content_id, start=16):
                assert data == packed.chunks[index]
                if index == 16:
                    reached = len(arrived)
                    break
    assert 16 in arrived[:reached]
    assert reached <= 8, arrived  # four in flight when it asked, then 16 itself
    assert max(arrived.index(i) for i in (16, 17, 18)) < arrived.index(10), arrived
