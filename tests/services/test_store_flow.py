"""Publishing, buying, granting and paying out, through the services, across several nodes."""

from __future__ import annotations

import pytest

from app.services.errors import UserError
from app.services.replica import copy_content
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, ShareSpec, StudioService
from app.services.wallet import WalletService
from content.format import unpack


def publish(world, artist, files, **kw):
    draft = ReleaseDraft(
        files=tuple(files),
        title=kw.pop("title", "Debut"),
        artist_name="Ann",
        price=kw.pop("price", "5"),
        asset=world.credits.id,
        **kw,
    )
    result = StudioService(artist).publish(draft)
    world.sync()
    return result.listing


def decrypt(core, content):
    manifest = core.chunks.manifest(content)
    chunks = [core.chunks.get_chunk(c) for c in manifest.chunks]
    return unpack(manifest, chunks, core.content_key(content))


def test_a_fan_buys_and_the_artist_grants_the_keys(world, audio_files):
    artist, fan = world.core("artist"), world.core("fan")
    world.fund(fan, "20")
    listing = publish(world, artist, audio_files)
    ShopService(fan).buy(listing.id)
    world.sync()
    assert not ShopService(fan).purchases()[0].granted
    artist.settle()  # the artist's node sees the purchase and grants
    world.sync()
    fan.settle()
    status = ShopService(fan).purchases()[0]
    assert status.granted and status.unlocked
    # The fan's key opens the artist's encrypted chunks into the original bytes.
    for path, track in zip(audio_files, listing.tracks, strict=True):
        fan.chunks.put_packed(
            artist.chunks.manifest_bytes(track.content),
            [artist.chunks.get_chunk(c) for c in artist.chunks.manifest(track.content).chunks],
        )
        assert decrypt(fan, track.content) == path.read_bytes()
    # The artist's payment arrives as a transfer and becomes spendable once received.
    artist.settle()
    assert artist.ledger.state.balance(artist.me, world.credits.id) == 500
    assert fan.ledger.state.balance(fan.me, world.credits.id) == 1500


def test_too_little_credit_is_refused_with_the_amounts(world, audio_files):
    artist, fan = world.core("artist"), world.core("fan")
    world.fund(fan, "2")
    listing = publish(world, artist, audio_files)
    with pytest.raises(UserError, match=r"you have 2\.00 CRD, the price is 5\.00 CRD"):
        ShopService(fan).buy(listing.id)
    assert fan.ledger.state.purchases_by(fan.me) == []


def test_buying_twice_is_refused(world, audio_files):
    artist, fan = world.core("artist"), world.core("fan")
    world.fund(fan, "20")
    listing = publish(world, artist, audio_files)
    ShopService(fan).buy(listing.id)
    with pytest.raises(UserError, match="already bought"):
        ShopService(fan).buy(listing.id)


def test_name_your_price_has_a_minimum_and_splits_follow_the_listing(world, audio_files):
    artist, producer, fan = world.core("artist"), world.core("producer"), world.core("fan")
    world.fund(fan, "50")
    listing = publish(
        world,
        artist,
        audio_files,
        price="3",
        name_your_price=True,
        split=(ShareSpec(artist.me, 6667), ShareSpec(producer.me, 3333)),
    )
    with pytest.raises(UserError, match=r"minimum price is 3\.00"):
        ShopService(fan).buy(listing.id, amount="2.99")
    ShopService(fan).buy(listing.id, amount="10.01")
    world.sync()
    artist.settle()
    producer.settle()
    # 1001 units: floor(1001*0.6667)=667, floor(1001*0.3333)=333, remainder 1 to the artist.
    assert artist.ledger.state.balance(artist.me, world.credits.id) == 668
    assert producer.ledger.state.balance(producer.me, world.credits.id) == 333
    assert "10.01" in StudioService(producer).sales_csv()


def test_a_sales_agent_grants_while_the_artist_is_away_until_revoked(world, audio_files):
    artist, seeder, fan, fan2 = (world.core(n) for n in ("artist", "seeder", "fan", "fan2"))
    world.fund(fan, "20")
    world.fund(fan2, "20")
    listing = publish(world, artist, audio_files)
    delegation = StudioService(artist).delegate(seeder.me)
    world.sync()
    for track in listing.tracks:  # pinned while the artist was online, as a seeder does
        copy_content(artist, seeder, track.content)
    world.cores.remove(artist)  # the artist's laptop is shut
    ShopService(fan).buy(listing.id)
    world.sync()
    report = seeder.settle()
    assert len(report.granted) == 1
    world.sync()
    fan.settle()
    assert ShopService(fan).purchases()[0].unlocked
    # The artist comes back and revokes; the agent's later grants no longer count.
    world.cores.append(artist)
    StudioService(artist).revoke(delegation)
    world.sync()
    ShopService(fan2).buy(listing.id)
    world.sync()
    assert seeder.settle().granted == []
    assert artist.settle().granted  # the artist still fulfils


def test_untrusted_issuers_are_flagged(world):
    fan = world.core("fan")
    world.fund(fan, "1")
    fan.settle()
    wallet = WalletService(fan)
    assert [b.trusted for b in wallet.balances()] == [False]
    wallet.set_trusted(world.gateway.me, True)
    assert [b.trusted for b in wallet.balances()] == [True]


def test_publishing_a_broken_file_names_it_and_writes_nothing(world, tmp_path):
    artist = world.core("artist")
    world.sync()
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all" * 10)
    with pytest.raises(UserError, match=r"broken\.mp3"):
        StudioService(artist).publish(
            ReleaseDraft(
                files=(broken,), title="X", artist_name="A", price="1", asset=world.credits.id
            )
        )
    assert artist.ledger.frontier().get(artist.me) is None
    assert list(artist.chunks.root.iterdir()) == []


def test_a_restored_identity_writes_nothing_until_its_own_feed_is_back(world, tmp_path):
    from app.profile import Profile
    from app.services.core import Core
    from app.services.identity import IdentityService
    from app.services.replica import converge

    fan = world.core("fan")
    world.fund(fan, "5")
    fan.settle()  # seq 1 in the fan's feed
    phrase_service = IdentityService(Profile(tmp_path / "old"), opslimit=1, memlimit=8192)
    phrase_service.create("correct horse")
    from app.services.identity import seed_to_phrase

    restored_profile = Profile(tmp_path / "restored")
    IdentityService(restored_profile, opslimit=1, memlimit=8192).restore(
        seed_to_phrase(fan.signer.seed), "correct horse"
    )
    restored = Core(restored_profile, fan.signer)
    try:
        with pytest.raises(UserError, match="restored"):
            WalletService(restored).send(world.gateway.me, world.credits.id, "1")
        converge(restored, *world.cores)  # the swarm brings the old feed back
        restored.feed_recovered()
        WalletService(restored).send(world.gateway.me, world.credits.id, "1")
        assert restored.ledger.head_seq(fan.me) == 2  # continues the feed, no fork
    finally:
        restored.close()


def test_published_tracks_carry_a_real_clear_preview(world, audio_files):
    import av

    from content.format import unpack as unpack_clear

    artist = world.core("artist")
    world.sync()
    listing = publish(world, artist, audio_files[:1], preview_seconds=0.5)
    preview = listing.tracks[0].preview
    assert preview is not None
    manifest = artist.chunks.manifest(preview)
    assert not manifest.encrypted and manifest.mime == "audio/ogg"
    clip = unpack_clear(manifest, [artist.chunks.get_chunk(c) for c in manifest.chunks], None)
    path = world.root / "clip.ogg"
    path.write_bytes(clip)
    with av.open(str(path)) as container:
        seconds = sum(f.samples for f in container.decode(audio=0)) / 48000
    assert 0.3 < seconds < 0.8


def test_a_damaged_settings_file_is_reported_and_never_overwritten(world):
    fan = world.core("fan")
    fan.profile.config_file.write_text("{ not json", encoding="utf-8")
    with pytest.raises(UserError, match="cannot read"):
        WalletService(fan).set_trusted(world.gateway.me, True)
    assert fan.profile.config_file.read_text(encoding="utf-8") == "{ not json"
