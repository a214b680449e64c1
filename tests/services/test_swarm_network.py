"""SwarmNetwork: a session's real libp2p node, driven through the blocking Network seam.

Two identities, each with its own node on 127.0.0.1 (each hosted on a thread of its own, as the
headless demo check hosts it): the fan syncs the artist's release, downloads a track with
progress, and a cancelled download stops, keeps what arrived and resumes later.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from app.services.errors import UserError
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.swarm import REACHABILITY, KnownPeer, SwarmNetwork, SwarmSettings
from ledger.keys import peer_id

pytestmark = pytest.mark.network

LOOPBACK = ("/ip4/127.0.0.1/tcp/0",)


def wait(cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def pair(world, audio_files):  # type: ignore[no-untyped-def]
    """An artist with a published release and a fan, each running a node; the fan knows the
    artist's address and name."""
    artist, fan = world.core("artist"), world.core("fan")
    world.fund(fan, "50")
    fan.settle()
    world.sync()
    result = StudioService(artist).publish(
        ReleaseDraft(
            files=tuple(audio_files),
            title="Loopback",
            artist_name="Ann",
            price="2",
            asset=world.credits.id,
            preview_seconds=0.5,
        )
    )
    seller = SwarmNetwork(SwarmSettings(listen=LOOPBACK))
    seller.start(artist)
    addr = seller._node.addrs[0]  # type: ignore[union-attr]
    buyer = SwarmNetwork(
        SwarmSettings(
            listen=LOOPBACK,
            bootstrap=(addr,),
            known=(KnownPeer(peer_id(artist.me), "Ann", "artist"),),
        )
    )
    buyer.start(fan)
    try:
        yield artist, fan, seller, buyer, result.listing
    finally:
        buyer.close()
        seller.close()


def test_the_fan_syncs_buys_and_downloads_with_progress(pair, audio_files) -> None:  # type: ignore[no-untyped-def]
    artist, fan, seller, buyer, listing = pair
    wait(lambda: buyer.status(fan).online)
    st = buyer.status(fan)
    assert [(p.name, p.role, p.online) for p in st.peers] == [("Ann", "artist", True)]
    assert st.peer_id == peer_id(fan.me) and "127.0.0.1" in st.listen
    verdict = buyer._call_sync(lambda node: node.reachability())  # the dial-back check
    assert (st.reach, st.reachability) == REACHABILITY[verdict]
    assert seller.status(artist).peers[0].inbound and not st.peers[0].inbound  # the fan dialled
    assert st.peers[0].connection == "direct"  # no relay between them

    wait(lambda: buyer.sync(fan) >= 0 and listing.id in fan.ledger.state.listings)
    ShopService(fan).buy(listing.id)
    wait(lambda: artist.ledger.state.unfulfilled_for(artist.me) or buyer.sync(fan) < 0)
    artist.settle()  # the artist's node grants
    wait(
        lambda: (
            (buyer.sync(fan), fan.settle().unlocked)[1] != []
            or fan.content_key(listing.tracks[0].content) is not None
        )
    )

    content = listing.tracks[0].content
    seen: list[tuple[int, int]] = []
    buyer.fetch(fan, content, lambda d, t: seen.append((d, t)), threading.Event())
    assert fan.chunks.is_complete(content)
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)  # progress only moves forward
    assert buyer.status(fan).bytes_in >= sum(
        len(fan.chunks.get_chunk(c) or b"") for c in fan.chunks.manifest(content).chunks
    )
    # the decrypted bytes are the artist's file
    manifest = fan.chunks.manifest(content)
    key = fan.content_key(content)
    clear = b"".join(
        manifest.open_chunk(i, fan.chunks.get_chunk(c), key) for i, c in enumerate(manifest.chunks)
    )
    assert clear == audio_files[0].read_bytes()


def test_a_cancelled_download_stops_and_resumes_later(pair) -> None:  # type: ignore[no-untyped-def]
    _artist, fan, _seller, buyer, listing = pair
    wait(lambda: buyer.status(fan).online)
    content = listing.tracks[1].content  # ciphertext moves without a purchase; keys do not
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(UserError, match="cancelled"):
        buyer.fetch(fan, content, lambda d, t: None, cancel)
    assert not fan.chunks.is_complete(content)
    buyer.fetch(fan, content, lambda d, t: None, threading.Event())
    assert fan.chunks.is_complete(content)


def test_without_peers_a_download_says_why(world) -> None:  # type: ignore[no-untyped-def]
    fan = world.core("fan")
    alone = SwarmNetwork(SwarmSettings(listen=LOOPBACK))
    alone.start(fan)
    try:
        assert alone.status(fan).online == ()
        with pytest.raises(UserError, match="no peer"):
            alone.fetch(fan, bytes(32), lambda d, t: None, threading.Event())
        assert alone.sync(fan) == 0
    finally:
        alone.close()
    stopped = alone.status(fan)
    assert (stopped.listen, stopped.reach) == ("not listening", "Offline")
    with pytest.raises(UserError, match="not running"):
        alone.fetch(fan, bytes(32), lambda d, t: None, threading.Event())


def _seek_test(world, follow_playhead: bool) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A fan plays chunk 20 of a 24-chunk track while it downloads from a throttled artist;
    returns (chunks of the middle stored when chunk 20 became readable, middle size)."""
    from content.format import new_track_key, pack
    from content.source import DirectoryChunkSource
    from p2p.limits import Limits

    artist, fan = world.core("artist"), world.core("fan")
    packed = pack(os.urandom(24 * 16384 - 100), new_track_key(), "audio/ogg", chunk_size=16384)
    artist.chunks.put_packed(packed.manifest_bytes, packed.chunks)
    seller = SwarmNetwork(
        SwarmSettings(
            listen=LOOPBACK, limits=Limits(request_timeout=5.0, upload_rate_per_peer=160 * 1024)
        )
    )
    seller.start(artist)
    buyer = SwarmNetwork(SwarmSettings(listen=LOOPBACK, bootstrap=(seller._node.addrs[0],)))  # type: ignore[union-attr]
    buyer.start(fan)
    content = packed.content_id
    try:
        wait(lambda: buyer.status(fan).online)
        fetching = threading.Thread(
            target=buyer.fetch,
            args=(fan, content, lambda d, t: None, threading.Event()),
            daemon=True,
        )
        fetching.start()
        wait(lambda: fan.chunks.manifest(content) is not None)
        source = DirectoryChunkSource(
            fan.chunks,
            content,
            None,
            poll_interval=0.01,
            on_wanted=((lambda i: buyer.want_chunks(content, i)) if follow_playhead else None),
        )
        source.read_chunk(20, timeout=20)  # the player seeked here
        middle = range(6, 16)
        stored = sum(source.has_chunk(i) for i in middle)
        fetching.join(30)
        assert fan.chunks.is_complete(content)
        return stored, len(middle)
    finally:
        buyer.close()
        seller.close()


def test_playback_moves_the_chunks_it_waits_for_to_the_front(world) -> None:  # type: ignore[no-untyped-def]
    """The player's reader tells the session's node where the playhead waits, so a seek near
    the end is served before the middle of the track (without the hint, the middle comes
    first: the second test shows the download's own order)."""
    stored, middle = _seek_test(world, follow_playhead=True)
    assert stored <= middle // 2, f"{stored} of {middle} middle chunks came before the seek"


def test_without_the_playhead_hint_the_download_keeps_its_order(world) -> None:  # type: ignore[no-untyped-def]
    stored, middle = _seek_test(world, follow_playhead=False)
    assert stored == middle


def test_a_full_disk_is_told_as_such_and_the_download_resumes_after(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from content.chunkstore import ChunkStore
    from content.format import new_track_key, pack
    from tests.storage import grow, small_disk

    artist, fan = world.core("artist"), world.core("fan")
    packed = pack(os.urandom(160 * 16384), new_track_key(), "audio/ogg", chunk_size=16384)
    artist.chunks.put_packed(packed.manifest_bytes, packed.chunks)
    content = packed.content_id
    with small_disk(tmp_path / "fan-disk") as disk:  # 1 MiB for a 2.6 MB track
        fan.chunks = ChunkStore(disk)
        seller = SwarmNetwork(SwarmSettings(listen=LOOPBACK))
        seller.start(artist)
        buyer = SwarmNetwork(SwarmSettings(listen=LOOPBACK, bootstrap=(seller._node.addrs[0],)))  # type: ignore[union-attr]
        buyer.start(fan)
        try:
            wait(lambda: buyer.status(fan).online)
            with pytest.raises(
                UserError, match=r"could not store it \(no space left on device\)"
            ) as failure:
                buyer.fetch(fan, content, lambda d, t: None, threading.Event())
            assert failure.value.hint is not None and "free some disk space" in failure.value.hint
            kept = len(packed.chunks) - len(fan.chunks.missing_chunks(packed.manifest))
            assert 0 < kept < len(packed.chunks)
            grow(disk, "16m")
            buyer.fetch(fan, content, lambda d, t: None, threading.Event())
            assert fan.chunks.is_complete(content)
            assert [fan.chunks.get_chunk(c) for c in packed.manifest.chunks] == list(packed.chunks)
        finally:
            buyer.close()
            seller.close()
