"""The Settings page's network card: bandwidth caps and LAN discovery, saved in the profile.

* Caps (kbit/s, 0 = none) and LAN discovery are saved to ``config.json`` and read back; the
  next node built from the profile has them (caps as byte rates in its Limits).
* A cap below 0 or above 10 Gbit/s, or one that is not a number, is refused with a sentence and
  changes nothing; a damaged value in the file reads as "no cap".
* LAN discovery is on unless the profile turns it off (the suite's COOPTRACKS_NO_MDNS=1 keeps
  tests from multicasting).
* On a running node a new cap holds from the next chunk on: a download from a node whose upload
  was capped live takes at least as long as the cap allows.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from app.services.errors import UserError
from app.services.session import OfflineNetwork, Session
from app.services.swarm import SwarmNetwork, SwarmSettings

LOOPBACK = ("/ip4/127.0.0.1/tcp/0",)


@pytest.fixture
def session(world):  # type: ignore[no-untyped-def]
    core = world.core("fan")
    s = Session(core.profile, core.signer, OfflineNetwork())
    yield s
    s.close()


def test_caps_and_lan_discovery_are_saved_and_used_by_the_next_node(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert session.network_settings() == {
        "max_upload_kbps": 0.0,
        "max_download_kbps": 0.0,
        "lan_discovery": True,
        "share_purchases": True,
    }
    told = session.set_network_settings(800, 2000.5, False)
    assert "stops the next time you unlock" in told
    assert session.network_settings() == {
        "max_upload_kbps": 800.0,
        "max_download_kbps": 2000.5,
        "lan_discovery": False,
        "share_purchases": True,
    }
    saved = json.loads(session.profile.config_file.read_text())
    assert (saved["max_upload_kbps"], saved["max_download_kbps"], saved["mdns"]) == (
        800.0,
        2000.5,
        False,
    )
    monkeypatch.delenv("COOPTRACKS_NO_MDNS", raising=False)
    settings = SwarmSettings.from_profile(session.profile)
    assert settings.mdns is False
    assert settings.limits is not None
    assert (settings.limits.upload_rate, settings.limits.download_rate) == (100_000, 250_062)
    assert session.set_network_settings(800, 0, False) == "Saved. Bandwidth caps apply now."


def test_lan_discovery_is_on_unless_turned_off(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("COOPTRACKS_NO_MDNS", raising=False)
    settings = SwarmSettings.from_profile(session.profile)
    assert settings.mdns is True and settings.limits is None
    monkeypatch.setenv("COOPTRACKS_NO_MDNS", "1")
    assert SwarmSettings.from_profile(session.profile).mdns is False


@pytest.mark.parametrize("up, down", [(-1, 0), (0, 10_000_001), (float("nan"), 0)])
def test_a_bad_cap_is_refused_and_changes_nothing(session, up, down) -> None:  # type: ignore[no-untyped-def]
    session.set_network_settings(500, 700, True)
    with pytest.raises(UserError, match="cap must be between 0"):
        session.set_network_settings(up, down, False)
    assert session.network_settings() == {
        "max_upload_kbps": 500.0,
        "max_download_kbps": 700.0,
        "lan_discovery": True,
        "share_purchases": True,
    }


def test_a_damaged_cap_in_the_file_reads_as_no_cap(session) -> None:  # type: ignore[no-untyped-def]
    session.profile.update_config(max_upload_kbps="fast", max_download_kbps=-5)
    assert session.network_settings()["max_upload_kbps"] == 0.0
    assert SwarmSettings.from_profile(session.profile).limits is None


@pytest.mark.network
def test_a_cap_set_on_a_running_node_holds(world) -> None:  # type: ignore[no-untyped-def]
    from content.format import new_track_key, pack

    artist, fan = world.core("artist"), world.core("fan")
    contents = []
    for _ in range(2):
        packed = pack(os.urandom(40 * 16384 - 100), new_track_key(), "audio/ogg", chunk_size=16384)
        artist.chunks.put_packed(packed.manifest_bytes, packed.chunks)
        contents.append(packed.content_id)
    seller = SwarmNetwork(SwarmSettings(listen=LOOPBACK))
    seller.start(artist)
    buyer = SwarmNetwork(SwarmSettings(listen=LOOPBACK, bootstrap=(seller._node.addrs[0],)))  # type: ignore[union-attr]
    buyer.start(fan)
    try:
        deadline = time.monotonic() + 20
        while not buyer.status(fan).online:
            assert time.monotonic() < deadline, "the nodes never connected"
            time.sleep(0.05)
        rate = 320 * 1024  # bytes/s: the 640 KiB track needs about 2 s, less the 0.25 s burst
        seller.set_bandwidth(rate, 0)
        assert seller._node.guard.limits.upload_rate == rate  # type: ignore[union-attr]
        start = time.monotonic()
        buyer.fetch(fan, contents[0], lambda d, t: None, threading.Event())
        took = time.monotonic() - start
        assert fan.chunks.is_complete(contents[0])
        assert took >= (40 * 16384 - rate * 0.25) / rate * 0.9, f"capped fetch took {took:.2f}s"
        seller.set_bandwidth(0, 0)  # lifted: the other track is not paced at all
        assert seller._node.guard.limits.upload_rate == 0  # type: ignore[union-attr]
        buyer.fetch(fan, contents[1], lambda d, t: None, threading.Event())
        assert fan.chunks.is_complete(contents[1])
        assert seller.settings.limits is not None and seller.settings.limits.upload_rate == 0
    finally:
        buyer.close()
        seller.close()
