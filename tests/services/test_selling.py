"""Selling correctly: previews never give a track away, a price of 0 is refused with a reason,
releases published after an "all my releases" delegation are sold by the agent while the artist is
away, and a full disk during publish leaves nothing behind."""

from __future__ import annotations

import pytest

from app.services.errors import UserError
from app.services.replica import copy_content
from app.services.shop import ShopService
from app.services.studio import MAX_PREVIEW_S, ReleaseDraft, StudioService, preview_length
from content.chunkstore import ChunkStore
from player.formats import read_audio
from player.samples import make_tone


def _draft(world, files, **changes) -> ReleaseDraft:  # type: ignore[no-untyped-def]
    fields = {
        "files": tuple(files),
        "title": "T",
        "artist_name": "Ann",
        "price": "2",
        "asset": world.credits.id,
        "preview_seconds": 30.0,
    }
    fields.update(changes)
    return ReleaseDraft(**fields)


def _clip_ms(core, preview: bytes, tmp_path) -> int:  # type: ignore[no-untyped-def]
    manifest = core.chunks.manifest(preview)
    data = b"".join(core.chunks.get_chunk(c) for c in manifest.chunks)
    path = tmp_path / "clip.opus"
    path.write_bytes(data)
    return read_audio(path).duration_ms


def test_a_preview_is_at_most_half_the_track(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    artist = world.core("artist")
    world.sync()
    short = make_tone(tmp_path, "short", "flac", seconds=4.0, title="Short", artist="Ann")
    result = StudioService(artist).publish(_draft(world, [short]))  # the default 30 s setting
    preview = result.previews[0]
    assert preview is not None
    assert _clip_ms(artist, preview, tmp_path) <= 2100  # half of 4 s, not the whole track
    assert preview_length(30, 4000) == 2.0 and preview_length(30, 600_000) == 30
    assert preview_length(0, 600_000) == 0 and preview_length(30, 0) == 0


def test_an_unbounded_preview_setting_is_refused(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    artist = world.core("artist")
    world.sync()
    song = make_tone(tmp_path, "song", "flac", seconds=1.0, title="Song", artist="Ann")
    with pytest.raises(UserError, match=f"at most {MAX_PREVIEW_S:.0f} seconds"):
        StudioService(artist).publish(_draft(world, [song], preview_seconds=99999))
    assert not artist.ledger.state.listings


@pytest.mark.parametrize(
    "changes", [{"price": "0"}, {"price": "0", "name_your_price": True}, {"track_price": "0.00"}]
)
def test_a_price_of_zero_is_refused_with_a_reason(world, tmp_path, changes) -> None:  # type: ignore[no-untyped-def]
    artist = world.core("artist")
    world.sync()
    song = make_tone(tmp_path, "song", "flac", seconds=1.0, title="Song", artist="Ann")
    with pytest.raises(UserError, match=r"must be at least 0\.01 CRD") as refused:
        StudioService(artist).publish(_draft(world, [song], **changes))
    assert "free releases are not supported" in (refused.value.hint or "")
    assert not artist.ledger.state.listings
    assert not artist.chunks.content_ids()  # refused before anything was stored


def test_a_release_published_after_a_delegation_is_sold_by_the_agent(
    world, audio_files, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    artist, agent, fan = world.core("artist"), world.core("agent"), world.core("fan")
    world.fund(fan, "50")
    fan.settle()
    studio = StudioService(artist)
    first = studio.publish(_draft(world, audio_files[:1], title="Before"))
    studio.delegate(agent.me)  # "all my releases"
    later = studio.publish(_draft(world, audio_files[1:], title="After"))
    coverage = studio.agent_coverage()
    can, cannot = coverage[agent.me]
    assert {li.title for li in can} == {"Before", "After"} and not cannot
    world.sync()
    for release in (first, later):  # pinned while the artist was online, as a seeder does:
        for track in release.listing.tracks:  # an agent grants only keys it has checked
            copy_content(artist, agent, track.content)
    artist.close()  # the artist goes offline
    world.cores.remove(artist)
    shop = ShopService(fan)
    bought = [shop.buy(first.listing.id), shop.buy(later.listing.id)]
    world.sync()
    report = agent.settle()  # the agent, as a seeder does, grants both
    assert sorted(report.granted) == sorted(bought)
    world.sync()
    fan.settle()
    assert all(s.unlocked for s in shop.purchases())


def test_revoking_all_releases_revokes_the_later_handovers(world, audio_files) -> None:  # type: ignore[no-untyped-def]
    artist, agent = world.core("artist"), world.core("agent")
    world.sync()
    studio = StudioService(artist)
    studio.publish(_draft(world, audio_files[:1], title="Before"))
    delegation = studio.delegate(agent.me)
    studio.publish(_draft(world, audio_files[1:], title="After"))
    studio.revoke(delegation)
    state = artist.ledger.state
    assert all(d.revoked_at is not None for d in state.delegations.values())
    assert studio.agent_coverage() == {}


def test_a_full_disk_during_publish_leaves_no_partial_pack(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.storage import grow, small_disk

    artist = world.core("artist")
    world.sync()
    big = make_tone(tmp_path, "big", "wav", seconds=20.0, title="Big", artist="Ann")  # 3.5 MB
    with small_disk(tmp_path / "artist-disk") as disk:  # 1 MiB
        artist.chunks = ChunkStore(disk)
        with pytest.raises(UserError, match="could not store the release: No space left") as err:
            StudioService(artist).publish(_draft(world, [big]))
        assert "nothing was published" in (err.value.hint or "")
        assert not artist.ledger.state.listings
        assert [p.name for p in disk.rglob("*") if p.is_file()] == []
        grow(disk, "16m")
        result = StudioService(artist).publish(_draft(world, [big]))
        assert artist.chunks.is_complete(result.contents[0])


def test_without_an_artist_tag_a_release_carries_the_artists_public_name(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    artist = world.core("artist")
    artist.append("profile", {"name": "Ann Field", "bio": "", "links": []})
    world.sync()
    untagged = make_tone(tmp_path, "untagged", "flac", seconds=1.0)
    result = StudioService(artist).publish(_draft(world, [untagged], artist_name=""))
    assert result.listing.artist_name == "Ann Field"
