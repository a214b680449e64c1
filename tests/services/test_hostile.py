"""A hostile artist or buyer against sellers and agents (docs/DECISIONS.md, "Threat model").

Real profiles and SQLite ledgers; every hostile entry is a real signed entry that replicates
like any other. Work done for others is isolated per item: the bad item is skipped with a
reason and backs off, and the honest work in the same round still gets done.
"""

from __future__ import annotations

import os
import time

import pytest

from app.services.core import Backoff
from app.services.replica import copy_content
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from content.format import unpack
from tests.services.hostile import (
    TwistedSigner,
    garbage_sealed,
    raw_delegation,
    raw_listing,
    raw_purchase,
    sealed_key,
    twisted_entry,
)


def publish(world, artist, files, title="Debut"):
    result = StudioService(artist).publish(
        ReleaseDraft(
            files=tuple(files),
            title=title,
            artist_name="Ann",
            price="5",
            asset=world.credits.id,
            preview_seconds=0.5,
        )
    )
    world.sync()
    return result.listing


def decrypt(core, source, content):
    copy_content(source, core, content)
    manifest = core.chunks.manifest(content)
    return unpack(
        manifest, [core.chunks.get_chunk(c) for c in manifest.chunks], core.content_key(content)
    )


@pytest.fixture
def honest(world, audio_files):
    """An honest artist who delegated to a shared agent (the seeder), and a funded fan."""
    artist, seeder, fan = world.core("artist"), world.core("seeder"), world.core("fan")
    world.fund(fan, "50")
    listing = publish(world, artist, audio_files[:1])
    StudioService(artist).delegate(seeder.me)
    world.sync()
    for track in listing.tracks:  # the seeder pins the release, as a seeder does
        copy_content(artist, seeder, track.content)
    return artist, seeder, fan, listing


def fan_buys_and_gets_served(world, seeder, fan, listing, artist):
    ShopService(fan).buy(listing.id)
    world.sync()
    report = seeder.settle()
    world.sync()
    fan.settle()
    status = next(s for s in ShopService(fan).purchases() if s.listing.id == listing.id)
    assert status.unlocked, report
    content = listing.tracks[0].content
    assert decrypt(fan, artist, content)  # the key opens every chunk
    return report


def test_garbage_as_a_delegated_key_is_skipped_and_the_agent_keeps_granting(world, honest):
    artist, seeder, fan, listing = honest
    world.cores.remove(artist)  # the honest artist is away: only the agent can grant
    eve = world.core("eve")
    world.fund(eve, "10")
    eve.settle()
    eve_listing = raw_listing(eve, [bytes([0xE1]) * 32], world.credits.id)
    raw_delegation(eve, seeder.me, {bytes([0xE1]) * 32: garbage_sealed()})
    bad = raw_purchase(eve, eve_listing)  # Eve buys her own release
    world.sync()
    report = seeder.settle()  # used to raise SignatureError from open_sealed
    assert [item for item, _ in report.skipped] == [bad.hash]
    assert "does not open" in report.skipped[0][1]
    # Remembered: the next rounds do not try it again in a tight loop ...
    assert seeder.settle().skipped == []
    assert seeder.skips.reason(bad.hash)
    # ... and the honest fan is served in the same process.
    report = fan_buys_and_gets_served(world, seeder, fan, listing, artist)
    assert report.granted and not report.skipped


def test_a_buyer_key_nothing_can_be_sealed_to_is_refused_by_the_ledger(world, honest):
    artist, seeder, fan, listing = honest
    twisted = TwistedSigner(bytes([0x77]) * 32)
    entry = twisted_entry(
        twisted,
        1,
        None,
        int(time.time() * 1000),
        "purchase",
        {
            "listing": listing.id,
            "track": None,
            "asset": world.credits.id,
            "amount": 500,
            "payouts": [{"to": artist.me, "amount": 500}],
        },
        [listing.id],
    )
    report = seeder.ledger.ingest([entry.wire])
    assert [r.reason for r in report.rejected] == [
        "the buyer's key cannot receive a sealed content key (it does not convert to X25519)"
    ]
    assert entry.hash not in seeder.ledger.state.purchases
    fan_buys_and_gets_served(world, seeder, fan, listing, artist)


def test_an_agent_never_grants_a_key_that_does_not_open_the_content(world, honest):
    artist, seeder, fan, listing = honest
    victim_content = listing.tracks[0].content
    # Eve gets in first: her own listing names the victim's content, and her delegation to
    # the same agent carries a wrong key for it. Eve buys her listing, so the agent grants.
    eve = world.core("eve")
    world.fund(eve, "10")
    eve.settle()
    eve_listing = raw_listing(eve, [victim_content], world.credits.id)
    wrong = bytes(32)
    raw_delegation(eve, seeder.me, {victim_content: sealed_key(seeder.me, wrong)})
    world.sync()
    raw_purchase(eve, eve_listing)
    world.sync()
    report = seeder.settle()
    assert report.skipped and "no key we hold opens" in report.skipped[0][1]
    assert seeder.keys.get(victim_content) != wrong  # nothing wrong was stored
    # The victim's buyers get the right key from the same agent.
    world.cores.remove(artist)
    fan_buys_and_gets_served(world, seeder, fan, listing, artist)


def test_a_stored_key_that_does_not_open_the_content_is_replaced(world, honest):
    artist, seeder, fan, listing = honest
    content = listing.tracks[0].content
    seeder.keys.put(content, bytes(32), "delegation")  # what first-wins poisoning left behind
    world.cores.remove(artist)
    fan_buys_and_gets_served(world, seeder, fan, listing, artist)
    assert seeder.keys.get(content) == artist.keys.get(content)


def test_a_fan_poisoned_by_a_hostile_listing_ends_up_with_the_right_key(world, honest):
    artist, _seeder, fan, listing = honest
    content = listing.tracks[0].content
    eve = world.core("eve")
    eve_listing = raw_listing(eve, [content], world.credits.id, price=100)
    world.sync()
    ShopService(fan).buy(eve_listing.id)
    world.sync()
    # Eve grants a wrong key for the victim's content to the fan who bought her listing.
    purchase = next(p for p in eve.ledger.state.purchases.values() if p.listing == eve_listing.id)
    eve.append(
        "grant",
        {
            "purchase": purchase.id,
            "keys": [{"content": content, "sealed": sealed_key(fan.me, bytes(32))}],
        },
        deps=[purchase.id],
    )
    world.sync()
    fan.settle()
    assert fan.keys.get(content) == bytes(32)
    # The fan then buys the real release; once the content is here the right key wins.
    ShopService(fan).buy(listing.id)
    world.sync()
    artist.settle()
    world.sync()
    fan.settle()  # two grants disagree; the content is not here to tell which key is right
    copy_content(artist, fan, content)  # the download
    fan.settle()
    assert fan.keys.get(content) == artist.keys.get(content)
    assert decrypt(fan, artist, content)


def test_backoff_doubles_is_bounded_and_forgets_the_oldest():
    now = [0.0]
    b = Backoff(first_s=10, max_s=40, cap=3, clock=lambda: now[0])
    assert b.failed(b"a", "x") == 10 and not b.due(b"a")
    now[0] = 10
    assert b.due(b"a") and b.failed(b"a", "x") == 20
    assert b.failed(b"a", "x") == 40 and b.failed(b"a", "x") == 40
    for item in (b"b", b"c", b"d"):
        b.failed(item, "y")
    assert len(b) == 3 and b.due(b"a")  # the oldest was forgotten
    b.succeeded(b"d")
    assert b.due(b"d")


def test_delegating_to_a_key_nothing_can_be_sealed_to_is_refused(world, honest):
    from app.services.errors import UserError

    artist = honest[0]
    with pytest.raises(UserError, match="cannot receive sealed content keys"):
        StudioService(artist).delegate(TwistedSigner(bytes([9]) * 32).public_key)


# -- covers ----------------------------------------------------------------------------------------
def png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )


def session_for(core):
    from app.services.session import OfflineNetwork, Session

    return Session(core.profile, core.signer, OfflineNetwork())


def test_a_sealed_cover_never_stops_a_fans_sync_pass_and_backs_off(world, honest):
    from content.format import new_track_key, pack

    _artist, _seeder, fan, _listing = honest
    eve = world.core("eve")
    sealed = pack(png_header(10, 10) + bytes(100), new_track_key(), mime="image/png")
    eve.chunks.put_packed(sealed.manifest_bytes, sealed.chunks)
    raw_listing(eve, [bytes([0xE2]) * 32], world.credits.id, artwork=sealed.content_id)
    world.sync()
    copy_content(eve, fan, sealed.content_id)  # as a fan's node fetches every cover
    fan.close()
    world.cores.remove(fan)
    session = session_for(fan)
    try:
        assert session.fetch_artwork() == 0  # used to raise ContentError and end the pass
        assert "sealed" in session.artwork_problem(sealed.content_id)
        assert session.artwork(sealed.content_id) is None
        assert [c.title for c in session.catalog()]  # the store still shows every release
        before = dict(session._art_missed)
        assert session.fetch_artwork() == 0 and session._art_missed == before  # backing off
    finally:
        session.close()


def test_covers_are_bounded_in_bytes_pixels_and_cache(world, monkeypatch):
    from app.services.covers import check_cover_image
    from app.services.errors import UserError
    from app.services.session import artwork
    from content.format import pack

    with pytest.raises(UserError, match="100000×100000 pixels"):
        check_cover_image(png_header(100_000, 100_000))
    with pytest.raises(UserError, match="not a PNG"):
        check_cover_image(b"BM" + bytes(100))
    check_cover_image(png_header(600, 600))
    core = world.core("fan")
    covers = []
    for i in range(5):
        art = pack(png_header(600, 600) + bytes([i]) * 1000, None, mime="image/png")
        core.chunks.put_packed(art.manifest_bytes, art.chunks)
        covers.append(art.content_id)
    big = pack(png_header(600, 600) + os.urandom(5 * 1024 * 1024), None, mime="image/png")
    core.chunks.put_packed(big.manifest_bytes, big.chunks)
    monkeypatch.setattr(artwork, "ARTWORK_CACHE_BYTES", 3 * 1100)
    session = session_for(core)
    try:
        assert all(session.artwork(c) for c in covers)
        assert len(session._art_cache) == 3 and session._art_cached_bytes <= 3 * 1100
        assert session.artwork(big.content_id) is None
        assert "over the 4194304-byte limit" in session.artwork_problem(big.content_id)
    finally:
        session.close()


# -- privacy ---------------------------------------------------------------------------------------
def test_sharing_purchases_can_be_turned_off_and_own_releases_still_are(world, honest):
    from app.services.swarm import SwarmSettings

    artist, _seeder, fan, listing = honest
    assert all(artist.is_own_content(t.content) for t in listing.tracks)
    assert all(artist.is_own_content(t.preview) for t in listing.tracks if t.preview)
    assert not fan.is_own_content(listing.tracks[0].content)
    fan.close()
    world.cores.remove(fan)
    session = session_for(fan)
    try:
        assert session.network_settings()["share_purchases"] is True
        told = session.set_network_settings(0, 0, True, share_purchases=False)
        assert "no longer announced or served the next time you unlock" in told
        assert session.network_settings()["share_purchases"] is False
        assert SwarmSettings.from_profile(fan.profile).share_purchases is False
        # A listing of our own, published later, is shared again at once.
        mine = raw_listing(session.core, [bytes([0xA1]) * 32], world.credits.id)
        assert session.core.is_own_content(mine.tracks[0].content)
    finally:
        session.close()


# -- the profile on disk ---------------------------------------------------------------------------
def test_profile_files_are_private_even_in_a_folder_that_already_existed(tmp_path):
    import stat

    from app.profile import Profile
    from app.services.core import Core
    from ledger.keys import Signer

    root = tmp_path / "existing"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    core = Core(Profile(root), Signer.generate())
    try:
        core.profile.update_config(mdns=False)
        core.append("profile", {"name": "Ann", "bio": "", "links": []})
        core.keys.put(bytes(32), bytes(32), "own")
        from app.services.library import LibraryService

        LibraryService(core.profile).close()
        files = [p for p in root.iterdir() if p.is_file()]
        assert {p.name for p in files} >= {
            "ledger.sqlite",
            "keys.sqlite",
            "library.sqlite",
            "config.json",
        }
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
    finally:
        core.close()


@pytest.mark.parametrize(
    "field, value, shown",
    [
        ("memlimit", 1 << 40, "memlimit 1099511627776"),
        ("opslimit", 0, "opslimit 0"),
        ("opslimit", 10**9, "opslimit 1000000000"),
        ("memlimit", "64", "memlimit '64'"),
    ],
)
def test_absurd_key_derivation_limits_in_an_identity_file_are_refused(
    tmp_path, field, value, shown
):
    import json

    from nacl import pwhash

    from app.profile import Profile
    from app.services.errors import UserError
    from app.services.identity import IdentityService

    profile = Profile(tmp_path / "me")
    made = IdentityService(
        profile, pwhash.argon2id.OPSLIMIT_INTERACTIVE, pwhash.argon2id.MEMLIMIT_INTERACTIVE
    )
    made.create("correct horse")
    assert IdentityService(profile).unlock("correct horse")  # older limits still open
    doc = json.loads(profile.identity_file.read_text())
    doc["kdf"][field] = value
    profile.identity_file.write_text(json.dumps(doc))
    import re

    with pytest.raises(UserError, match="outside the accepted range .*" + re.escape(shown)):
        IdentityService(profile).unlock("correct horse")


def test_new_identities_use_the_moderate_argon2id_limits(tmp_path):
    import json

    from nacl import pwhash

    from app.profile import Profile
    from app.services.identity import IdentityService

    profile = Profile(tmp_path / "me")
    IdentityService(profile).create("correct horse")
    kdf = json.loads(profile.identity_file.read_text())["kdf"]
    assert (kdf["opslimit"], kdf["memlimit"]) == (
        pwhash.argon2id.OPSLIMIT_MODERATE,
        pwhash.argon2id.MEMLIMIT_MODERATE,
    )


def test_cooptracks_settle_survives_a_hostile_delegation(world, audio_files, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from nacl import pwhash

    from app.profile import Profile
    from app.services.core import Core
    from app.services.identity import IdentityService

    root = Path(__file__).resolve().parents[2]
    profile = Profile(tmp_path / "seeder")
    identity = IdentityService(profile, pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN)
    identity.create("correct horse")
    seeder = Core(profile, identity.unlock("correct horse"))
    world.cores.append(seeder)
    artist, fan, eve = world.core("artist"), world.core("fan"), world.core("eve")
    world.fund(fan, "20")
    world.fund(eve, "20")
    eve.settle()
    listing = publish(world, artist, audio_files[:1])
    StudioService(artist).delegate(seeder.me)
    eve_listing = raw_listing(eve, [bytes([0xE1]) * 32], world.credits.id)
    raw_delegation(eve, seeder.me, {bytes([0xE1]) * 32: garbage_sealed()})
    raw_purchase(eve, eve_listing)
    ShopService(fan).buy(listing.id)
    world.sync()
    for track in listing.tracks:  # pinned, as a seeder does: it grants only checked keys
        copy_content(artist, seeder, track.content)
    world.cores.remove(seeder)
    seeder.close()
    env = {**os.environ, "COOPTRACKS_PASSPHRASE": "correct horse"}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "--profile", str(profile.root), "settle", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]  # used to end in a traceback
    out = json.loads(proc.stdout)
    assert out["granted"] == 1
    assert [s["reason"] for s in out["skipped"]] == [
        f"the delegation's sealed key for {'e1' * 6} does not open"
    ]
