"""Content transfer: verified, parallel, resumable, streamable downloads between real hosts."""

from __future__ import annotations

import os

import pytest
import trio

from content.chunkstore import ChunkStore
from content.format import new_track_key, pack, unpack
from p2p.content.download import DownloadFailed, StorageFailed
from tests.p2p.conftest import trio_test, wait_for
from tests.storage import flip_a_bit, grow, overwrite_chunk, small_disk

pytestmark = pytest.mark.network

CHUNK = 16 * 1024


def publish(peer, size: int = 40 * CHUNK + 123, key: bytes | None = None):
    """Pack random 'audio' into the peer's chunk store; returns (content id, plaintext, key)."""
    plain = os.urandom(size)
    key = key or new_track_key()
    packed = pack(plain, key, "audio/ogg", chunk_size=CHUNK)
    peer.store.put_packed(packed.manifest_bytes, packed.chunks)
    return packed.content_id, plain, key


def read_back(peer, cid, key) -> bytes:
    m = peer.store.manifest(cid)
    return unpack(m, [peer.store.get_chunk(c) for c in m.chunks], key)


@trio_test
async def test_fetch_from_one_seeder_decrypts_to_the_original(swarm):
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    cid, plain, key = publish(seeder)
    seen = []
    async with swarm.run_all(seeder, fan) as (s, f):
        await f.connect(s.addrs[0])
        await f.fetch(cid, on_progress=seen.append)
    assert read_back(fan, cid, key) == plain
    assert seen[-1].finished and seen[-1].chunks_done == seen[-1].chunks_total == 41
    assert [p.chunks_done for p in seen] == sorted(p.chunks_done for p in seen)


@trio_test
async def test_chunks_come_from_several_providers_in_parallel(swarm):
    seeders = [swarm.peer(f"seeder{i}") for i in range(3)]
    fan = swarm.peer("fan")
    cid, plain, key = publish(seeders[0], size=120 * CHUNK)
    for s in seeders[1:]:
        m = seeders[0].store.manifest_bytes(cid)
        m_obj = seeders[0].store.manifest(cid)
        s.store.put_packed(m, [seeders[0].store.get_chunk(c) for c in m_obj.chunks])
    async with swarm.run_all(*seeders, fan) as nodes:
        f = nodes[-1]
        for n in nodes[:-1]:
            await f.connect(n.addrs[0])
        providers = await f.find_providers(cid)
        assert len(providers) == 3
        await f.fetch(cid)
        served = [n.content.chunks_served for n in nodes[:-1]]
    assert read_back(fan, cid, key) == plain
    assert sum(served) == 120 and all(x > 0 for x in served), served


@trio_test
async def test_a_provider_sending_a_corrupt_chunk_is_cut_off_and_nothing_it_sent_is_kept(swarm):
    good, bad, fan = swarm.peer("good"), swarm.peer("bad"), swarm.peer("fan")
    cid, plain, key = publish(good, size=60 * CHUNK)
    manifest = good.store.manifest(cid)
    bad.store.put_packed(
        good.store.manifest_bytes(cid), [good.store.get_chunk(c) for c in manifest.chunks]
    )
    # The bad seeder serves its first chunks intact and a flipped bit in every later one.
    for chunk_id in manifest.chunks[8:]:
        overwrite_chunk(bad.store, chunk_id, flip_a_bit)
    async with swarm.run_all(good, bad, fan) as (g, b, f):
        await f.connect(g.addrs[0])
        await f.connect(b.addrs[0])
        download_from = [b.peer_id, g.peer_id]
        await f.fetch(cid, providers=download_from)
        assert str(b.peer_id) in f.guard.banned()
        assert b.peer_id not in f.connected_peers()
        served_by_bad = b.content.chunks_served
    assert read_back(fan, cid, key) == plain
    assert served_by_bad > 0
    # Every chunk now held was (re)delivered by the good seeder.
    assert g.content.chunks_served == 60


@trio_test
async def test_a_download_resumes_where_it_stopped(swarm):
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    cid, plain, key = publish(seeder, size=50 * CHUNK)
    manifest = seeder.store.manifest(cid)
    # A previous run stored the manifest and the first 20 chunks before being stopped.
    fan.store.put_manifest(seeder.store.manifest_bytes(cid))
    for c in manifest.chunks[:20]:
        fan.store.put_chunk(seeder.store.get_chunk(c))
    async with swarm.run_all(seeder, fan) as (s, f):
        await f.connect(s.addrs[0])
        first = []
        await f.fetch(cid, on_progress=first.append)
        assert s.content.chunks_served == 30
        assert first[0].chunks_done == 20
    assert read_back(fan, cid, key) == plain


@trio_test
async def test_a_stopped_download_can_be_resumed_after_a_restart(swarm):
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    cid, plain, key = publish(seeder, size=200 * CHUNK)
    async with swarm.run_all(seeder, fan) as (s, f):
        await f.connect(s.addrs[0])
        with trio.CancelScope() as scope:
            await f.fetch(cid, on_progress=lambda p: p.chunks_done >= 30 and scope.cancel())
    held = 201 - len(fan.store.missing_chunks(fan.store.manifest(cid)))
    assert 30 <= held < 201
    async with swarm.run_all(seeder, fan) as (s, f):  # both restarted
        await f.connect(s.addrs[0])
        await f.fetch(cid)
        assert s.content.chunks_served == 201 - held
    assert read_back(fan, cid, key) == plain


@trio_test
async def test_a_full_disk_stops_a_download_with_a_clear_error_and_it_resumes_later(
    swarm, tmp_path
):
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    cid, plain, key = publish(seeder, size=160 * CHUNK)  # 2.6 MB for a 1 MiB disk
    with small_disk(tmp_path / "fan-disk") as disk:
        fan.store = ChunkStore(disk)
        async with swarm.run_all(seeder, fan) as (s, f):
            await f.connect(s.addrs[0])
            with pytest.raises(StorageFailed, match="could not be stored: No space left"):
                await f.fetch(cid)
            assert str(s.peer_id) not in f.guard.banned()  # our disk, not the seeder's fault
        manifest = fan.store.manifest(cid)
        kept = [
            i for i in range(len(manifest.chunks)) if i not in fan.store.missing_chunks(manifest)
        ]
        assert 0 < len(kept) < len(manifest.chunks)
        for i in kept:  # what was stored before the disk filled up is whole
            manifest.check_chunk(i, fan.store.get_chunk(manifest.chunks[i]))
        grow(disk, "16m")
        async with swarm.run_all(seeder, fan) as (s, f):
            await f.connect(s.addrs[0])
            await f.fetch(cid)
            assert s.content.chunks_served == len(manifest.chunks) - len(kept)
        assert read_back(fan, cid, key) == plain


@trio_test
async def test_the_first_chunks_can_be_read_before_the_download_ends(swarm):
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    cid, plain, key = publish(seeder, size=80 * CHUNK)
    async with swarm.run_all(seeder, fan) as (s, f):
        await f.connect(s.addrs[0])
        got: list[bytes] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(f.fetch, cid)
            await wait_for(lambda: cid in f._downloads)
            manifest = None
            async for index, data in f.read_chunks(cid):
                if manifest is None:
                    manifest = fan.store.manifest(cid)
                    first_read_while_downloading = cid in f._downloads
                got.append(manifest.open_chunk(index, data, key))
    assert first_read_while_downloading
    assert b"".join(got) == plain


@trio_test
async def test_fetching_unknown_content_fails_cleanly(swarm):
    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    async with swarm.run_all(seeder, fan) as (s, f):
        await f.connect(s.addrs[0])
        with pytest.raises(DownloadFailed):
            await f.fetch(os.urandom(32))


@trio_test
async def test_a_second_fetch_of_the_same_content_shares_the_download_and_waits_for_all_of_it(
    swarm,
):
    from p2p.limits import Limits

    seeder, fan = swarm.peer("seeder"), swarm.peer("fan")
    cid, plain, key = publish(seeder, size=24 * CHUNK)
    slow = Limits(request_timeout=3.0, ban_seconds=60, upload_rate_per_peer=256 * 1024)
    async with swarm.run(seeder, limits=slow) as s, swarm.run(fan) as f:
        await f.connect(s.addrs[0])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(f.fetch, cid)
            await wait_for(lambda: cid in f._downloads)
            await f.fetch(cid)
            assert not fan.store.missing_chunks(fan.store.manifest(cid))
        assert s.content.chunks_served == len(fan.store.manifest(cid).chunks)  # each chunk once
    assert read_back(fan, cid, key) == plain
