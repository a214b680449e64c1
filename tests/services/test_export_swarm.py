"""An owned track that is not on this computer yet is downloaded over the real swarm first."""

from __future__ import annotations

import threading
import time

import pytest

from app.services.errors import UserError
from app.services.export import ExportService
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.swarm import SwarmNetwork, SwarmSettings

pytestmark = pytest.mark.network

LOOPBACK = ("/ip4/127.0.0.1/tcp/0",)


def wait(cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_owned_track_is_downloaded_with_progress_then_exported(
    world,
    audio_files,  # type: ignore[no-untyped-def]
    tmp_path,
) -> None:
    artist, fan = world.core("artist"), world.core("fan")
    world.fund(fan, "20")
    listing = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files),
                title="Over the Wire",
                artist_name="Ann",
                price="2",
                asset=world.credits.id,
                preview_seconds=0,
            )
        )
        .listing
    )
    world.sync()
    ShopService(fan).buy(listing.id)
    world.sync()
    artist.settle()
    world.sync()
    fan.settle()
    assert not any(fan.chunks.has_manifest(t.content) for t in listing.tracks)

    seller = SwarmNetwork(SwarmSettings(listen=LOOPBACK))
    seller.start(artist)
    buyer = SwarmNetwork(SwarmSettings(listen=LOOPBACK, bootstrap=(seller._node.addrs[0],)))  # type: ignore[union-attr]
    buyer.start(fan)
    try:
        wait(lambda: buyer.status(fan).online)
        seen = []
        service = ExportService(fan, fetch=lambda c, p, cancel: buyer.fetch(fan, c, p, cancel))
        report = service.export(
            service.plan_release(listing.id), "original", tmp_path / "out", progress=seen.append
        )
    finally:
        buyer.close()
        seller.close()
    for source, done in zip(audio_files, report.files, strict=True):
        assert done.path.read_bytes() == source.read_bytes()
    downloading = [p for p in seen if p.stage == "downloading"]
    assert {p.track for p in downloading} == {0, 1}
    assert max(p.track_fraction for p in downloading) > 0  # chunk progress came through


def test_without_a_peer_the_user_is_told_so(world, audio_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    artist = world.core("artist")
    world.sync()
    listing = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files[:1]),
                title="Alone",
                artist_name="Ann",
                price="2",
                asset=world.credits.id,
                preview_seconds=0,
            )
        )
        .listing
    )
    artist.chunks.remove_content(listing.tracks[0].content)  # the artist's copy is gone
    alone = SwarmNetwork(SwarmSettings(listen=LOOPBACK))
    alone.start(artist)
    try:
        service = ExportService(
            artist, fetch=lambda c, p, cancel: alone.fetch(artist, c, p, cancel)
        )
        with pytest.raises(UserError, match="no peer that has this track is reachable"):
            service.export(
                service.plan_release(listing.id), "flac", tmp_path / "out", cancel=threading.Event()
            )
    finally:
        alone.close()
    assert list((tmp_path / "out").rglob("*.flac")) == []
