"""Exporting owned music as plain audio files, through the real encoders, on real profiles.

Setup as in the store flow: an artist publishes two generated tracks (a FLAC and an MP3) with a
cover, a fan buys the release, the artist's node grants it, and the fan's profile holds the
encrypted chunks (copied as a download would store them).
"""

from __future__ import annotations

import threading
from pathlib import Path

import mutagen
import pytest

from app.profile import Profile
from app.services.errors import UserError
from app.services.export import (
    ExportService,
    export_settings,
    lossless_warning,
    remember_export_settings,
    safe_name,
    track_stem,
)
from app.services.replica import copy_content
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from player.samples import make_cover
from player.transcode import FORMATS, MARKER_KEY, decode_seconds
from tests.storage import flip_a_bit, overwrite_chunk, small_disk

ENCODED = [k for k, f in FORMATS.items() if f.codec]
COVER = make_cover(64, 64, "jpeg", seed=3)


@pytest.fixture
def bought(world, audio_files, tmp_path):  # type: ignore[no-untyped-def]
    """(artist, fan, listing): the fan owns the release and has downloaded it."""
    artist, fan = world.core("artist"), world.core("fan")
    world.fund(fan, "20")
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(COVER)
    listing = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files),
                title="Debut: Live/Loud?",
                artist_name="Ann",
                price="5",
                asset=world.credits.id,
                genre="Ambient",
                artwork=cover,
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
    for track in listing.tracks:
        copy_content(artist, fan, track.content)
    copy_content(artist, fan, listing.artwork)
    return artist, fan, listing


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("fmt", ENCODED)
def test_every_format_decodes_as_long_as_the_source_with_tags_and_cover(  # type: ignore[no-untyped-def]
    bought, audio_files, tmp_path, fmt
):
    _artist, fan, listing = bought
    service = ExportService(fan)
    out = tmp_path / "out"
    report = service.export(service.plan_release(listing.id.hex()), fmt, out)
    ext = FORMATS[fmt].ext
    assert _files(out) == [
        f"Ann/Debut_ Live_Loud_/01 First Light{ext}",
        f"Ann/Debut_ Live_Loud_/02 Second Wind{ext}",
    ]
    assert report.written == 2 and report.skipped == 0
    for n, (source, done) in enumerate(zip(audio_files, report.files, strict=True), start=1):
        assert abs(decode_seconds(done.path) - decode_seconds(source)) <= 0.050
        f = mutagen.File(str(done.path))
        assert f is not None
        tags = _read_tags(f)
        assert tags["title"] == ["First Light", "Second Wind"][n - 1]
        assert tags["artist"] == "Ann" and tags["album"] == "Debut: Live/Loud?"
        assert tags["track"] == n and tags["genre"] == "Ambient" and tags["year"] >= 2024
        assert tags["cover"] == COVER
        assert tags["marker"].startswith("v1 " + listing.tracks[n - 1].content.hex())


def _read_tags(f) -> dict:  # type: ignore[no-untyped-def]
    """Tags as a player reads them, from each format's own tag family."""
    from mutagen.flac import FLAC, Picture
    from mutagen.mp4 import MP4
    from mutagen.oggopus import OggOpus

    if isinstance(f, MP4):
        t = f.tags
        return {
            "title": t["\xa9nam"][0],
            "artist": t["\xa9ART"][0],
            "album": t["\xa9alb"][0],
            "track": t["trkn"][0][0],
            "genre": t["\xa9gen"][0],
            "year": int(t["\xa9day"][0]),
            "cover": bytes(t["covr"][0]),
            "marker": bytes(t["----:org.cooptracks:export"][0]).decode(),
        }
    if isinstance(f, FLAC | OggOpus):
        import base64

        cover = (
            f.pictures[0].data
            if isinstance(f, FLAC)
            else Picture(base64.b64decode(f["metadata_block_picture"][0])).data
        )
        return {
            "title": f["title"][0],
            "artist": f["artist"][0],
            "album": f["album"][0],
            "track": int(f["tracknumber"][0]),
            "genre": f["genre"][0],
            "year": int(f["date"][0]),
            "cover": cover,
            "marker": f[MARKER_KEY.lower()][0],
        }
    t = f.tags  # ID3v2.4: MP3, and WAV's "id3 " chunk
    assert t.version[:2] == (2, 4)
    return {
        "title": str(t["TIT2"]),
        "artist": str(t["TPE1"]),
        "album": str(t["TALB"]),
        "track": int(str(t["TRCK"]).split("/")[0]),
        "genre": str(t["TCON"]),
        "year": int(str(t["TDRC"])),
        "cover": t.getall("APIC")[0].data,
        "marker": str(t.getall(f"TXXX:{MARKER_KEY}")[0]),
    }


def test_mp3_is_vbr_v0_and_mp3_320_is_constant(bought, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mutagen.mp3 import MP3, BitrateMode

    _artist, fan, listing = bought
    service = ExportService(fan)
    plan = service.plan_release(listing.id, track=0)
    v0 = service.export(plan, "mp3", tmp_path / "v0").files[0].path
    cbr = service.export(plan, "mp3-320", tmp_path / "cbr").files[0].path
    assert MP3(str(v0)).info.bitrate_mode == BitrateMode.VBR
    assert MP3(str(cbr)).info.bitrate_mode == BitrateMode.CBR
    assert MP3(str(cbr)).info.bitrate == pytest.approx(320_000, abs=1000)


def test_original_is_the_published_file_byte_for_byte(bought, audio_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _artist, fan, listing = bought
    service = ExportService(fan)
    report = service.export(service.plan_release(listing.id), "original", tmp_path)
    assert [f.path.name for f in report.files] == ["01 First Light.flac", "02 Second Wind.mp3"]
    for source, done in zip(audio_files, report.files, strict=True):
        assert done.path.read_bytes() == source.read_bytes()


def test_exporting_again_skips_identical_files_and_redoes_changed_ones(bought, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _artist, fan, listing = bought
    service = ExportService(fan)
    plan = service.plan_release(listing.id)
    for fmt in ("original", "flac"):
        first = service.export(plan, fmt, tmp_path / fmt)
        stamps = [f.path.stat().st_mtime_ns for f in first.files]
        again = service.export(plan, fmt, tmp_path / fmt)
        assert (again.written, again.skipped) == (0, 2)
        assert [f.path.stat().st_mtime_ns for f in again.files] == stamps
        first.files[1].path.write_bytes(b"not the track")  # damaged or replaced
        third = service.export(plan, fmt, tmp_path / fmt)
        assert (third.written, third.skipped) == (1, 1)
        assert third.files[1].path.read_bytes() != b"not the track"


def test_one_track_and_the_whole_collection(bought, world, audio_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    artist, fan, listing = bought
    service = ExportService(fan)
    one = service.export(service.plan_release(listing.id, track=1), "original", tmp_path / "one")
    assert _files(tmp_path / "one") == ["Ann/Debut_ Live_Loud_/02 Second Wind.mp3"]
    assert one.files[0].path.read_bytes() == audio_files[1].read_bytes()
    # the artist publishes a single; the fan buys it too; --all takes both releases
    single = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=(audio_files[0],),
                title="B-Side",
                artist_name="Ann",
                price="1",
                asset=world.credits.id,
                preview_seconds=0,
            )
        )
        .listing
    )
    world.sync()
    ShopService(fan).buy(single.id)
    world.sync()
    artist.settle()
    world.sync()
    fan.settle()
    copy_content(artist, fan, single.tracks[0].content)
    plan = service.plan_all()
    assert plan.what == "your collection" and len(plan.items) == 3
    service.export(plan, "original", tmp_path / "all")
    assert _files(tmp_path / "all") == [
        "Ann/B-Side/01 First Light.flac",
        "Ann/Debut_ Live_Loud_/01 First Light.flac",
        "Ann/Debut_ Live_Loud_/02 Second Wind.mp3",
    ]


def test_only_what_the_identity_owns_comes_out(bought, world, audio_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    artist, _fan, listing = bought
    stranger = world.core("stranger")
    world.sync()
    with pytest.raises(UserError, match="you have not bought this release"):
        ExportService(stranger).plan_release(listing.id)
    with pytest.raises(UserError, match="you have not bought this track"):
        ExportService(stranger).plan_release(listing.id, track=0)
    with pytest.raises(UserError, match="you have not bought this track"):
        ExportService(stranger).plan_contents([listing.tracks[0].content])
    with pytest.raises(UserError, match="you own no music yet"):
        ExportService(stranger).plan_all()
    # a purchase the artist has not granted yet
    world.fund(stranger, "10")
    ShopService(stranger).buy(listing.id)
    with pytest.raises(UserError, match="not granted yet"):
        ExportService(stranger).plan_release(listing.id)
    with pytest.raises(UserError, match="not granted yet"):  # the Library's waiting row
        ExportService(stranger).plan_contents([listing.tracks[1].content])
    # the artist's own release comes out without a purchase
    mine = ExportService(artist).export(
        ExportService(artist).plan_release(listing.id), "original", tmp_path / "artist"
    )
    assert mine.files[1].path.read_bytes() == audio_files[1].read_bytes()


def test_a_single_track_buyer_gets_that_track_only(world, bought, audio_files) -> None:  # type: ignore[no-untyped-def]
    artist, _fan, _listing = bought
    single_fan = world.core("single-fan")
    world.fund(single_fan, "10")
    studio = StudioService(artist)
    listing = studio.publish(
        ReleaseDraft(
            files=tuple(audio_files),
            title="EP",
            artist_name="Ann",
            price="5",
            track_price="1",
            asset=world.credits.id,
            preview_seconds=0,
        )
    ).listing
    world.sync()
    ShopService(single_fan).buy(listing.id, track=1)
    world.sync()
    artist.settle()
    world.sync()
    single_fan.settle()
    service = ExportService(single_fan)
    with pytest.raises(UserError, match="only some tracks"):
        service.plan_release(listing.id)
    with pytest.raises(UserError, match="not this one"):
        service.plan_release(listing.id, track=0)
    assert [i.title for i in service.plan_release(listing.id, track=1).items] == ["Second Wind"]


def test_owned_but_not_downloaded_without_a_peer_is_a_clear_error(world, bought, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _artist, fan, listing = bought
    content = listing.tracks[0].content
    fan.chunks.remove_content(content)
    service = ExportService(fan)
    with pytest.raises(UserError, match="no peer has it right now"):
        service.export(service.plan_release(listing.id), "flac", tmp_path / "out")
    assert _files(tmp_path / "out") == []


def test_a_chunk_that_fails_its_hash_is_fetched_again_never_written(
    bought,
    audio_files,  # type: ignore[no-untyped-def]
    tmp_path,
) -> None:
    artist, fan, listing = bought
    content = listing.tracks[0].content
    first_chunk = fan.chunks.manifest(content).chunks[0]
    overwrite_chunk(fan.chunks, first_chunk, flip_a_bit)
    fetched: list[bytes] = []

    def fetch(c: bytes, progress, cancel) -> None:  # type: ignore[no-untyped-def]
        fetched.append(c)  # a peer that has the good chunks: the artist's store
        copy_content(artist, fan, c)

    service = ExportService(fan, fetch=fetch)
    report = service.export(service.plan_release(listing.id, track=0), "original", tmp_path)
    assert fetched == [content]
    assert report.files[0].path.read_bytes() == audio_files[0].read_bytes()


def test_a_download_then_export_reports_progress_per_track_and_total(bought, tmp_path) -> None:  # type: ignore[no-untyped-def]
    artist, fan, listing = bought
    for t in listing.tracks:
        fan.chunks.remove_content(t.content)

    def fetch(c: bytes, progress, cancel) -> None:  # type: ignore[no-untyped-def]
        total = len(artist.chunks.manifest(c).chunks)
        copy_content(artist, fan, c)
        progress(total, total)

    seen = []
    service = ExportService(fan, fetch=fetch)
    service.export(service.plan_release(listing.id), "flac", tmp_path, progress=seen.append)
    stages = [(p.track, p.stage) for p in seen]
    assert (0, "downloading") in stages and (0, "encoding") in stages and (1, "written") in stages
    totals = [p.total_fraction for p in seen]
    assert totals == sorted(totals) and totals[-1] == 1.0
    assert all(0.0 <= p.track_fraction <= 1.0 for p in seen)


def test_cancel_stops_and_leaves_no_half_file(bought, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _artist, fan, listing = bought
    cancel = threading.Event()

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.track == 1 and p.stage == "encoding":
            cancel.set()  # the second track is being encoded

    service = ExportService(fan)
    out = tmp_path / "out"
    with pytest.raises(UserError, match="cancelled"):
        service.export(service.plan_release(listing.id), "wav", out, progress, cancel)
    assert _files(out) == ["Ann/Debut_ Live_Loud_/01 First Light.wav"]  # no .part left
    again = service.export(service.plan_release(listing.id), "wav", out)
    assert (again.written, again.skipped) == (1, 1)


def test_a_full_disk_is_a_clear_error_and_leaves_no_partial_file(bought, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _artist, fan, listing = bought
    service = ExportService(fan)
    plan = service.plan_release(listing.id)
    with small_disk(tmp_path / "small", "200k") as mount:  # one WAV fits, two do not
        with pytest.raises(UserError, match="is full"):
            service.export(plan, "wav", mount)
        names = _files(mount)
        assert names == ["Ann/Debut_ Live_Loud_/01 First Light.wav"]
        assert decode_seconds(mount / names[0]) == pytest.approx(1.0, abs=0.05)


def test_a_folder_that_cannot_be_written_is_a_clear_error(bought, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _artist, fan, listing = bought
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    service = ExportService(fan)
    with pytest.raises(UserError, match="cannot write to"):
        service.export(service.plan_release(listing.id), "flac", blocker / "music")
    with pytest.raises(UserError, match="unknown format 'ogg-vorbis'"):
        service.export(service.plan_release(listing.id), "ogg-vorbis", tmp_path)


def test_lossy_originals_to_a_lossless_format_are_warned_about(bought) -> None:  # type: ignore[no-untyped-def]
    _artist, fan, listing = bought
    service = ExportService(fan)
    whole = service.plan_release(listing.id)
    warning = lossless_warning(whole, "flac")
    assert warning is not None and "1 of these 2 tracks" in warning and "original" in warning
    assert lossless_warning(whole, "mp3") is None
    assert lossless_warning(service.plan_release(listing.id, track=0), "alac") is None
    assert "All of these" in lossless_warning(service.plan_release(listing.id, track=1), "wav")


def test_names_are_safe_on_every_system() -> None:
    assert safe_name('AC/DC: "Live" <at> the *Hall*?') == "AC_DC_ _Live_ _at_ the _Hall__"
    assert safe_name("CON") == "_CON" and safe_name("nul.txt") == "_nul.txt"
    assert safe_name("...") == "Unknown" and safe_name(".hidden") == "_hidden"
    assert safe_name("trailing dots. . ") == "trailing dots"
    assert safe_name("tab\tand\nnewline") == "tab and newline"
    assert len(safe_name("é" * 300).encode()) <= 120
    assert track_stem(3, 12, "Intro") == "03 Intro" and track_stem(7, 120, "X") == "007 X"


def test_settings_remember_the_format_and_folder(tmp_path) -> None:
    profile = Profile(tmp_path / "p").ensure()
    fmt, folder = export_settings(profile)
    assert fmt == "flac" and folder.name == "Cooptracks"
    remember_export_settings(profile, "mp3-320", tmp_path / "Music")
    assert export_settings(profile) == ("mp3-320", tmp_path / "Music")
    with pytest.raises(UserError, match="unknown format"):
        remember_export_settings(profile, "mp4", tmp_path)


def test_flac_from_a_flac_original_keeps_every_sample(bought, audio_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import av
    import numpy as np

    def samples(path: Path) -> np.ndarray:
        with av.open(str(path)) as c:
            return np.concatenate(
                [f.to_ndarray().reshape(-1) for f in c.decode(c.streams.audio[0])]
            )

    _artist, fan, listing = bought
    service = ExportService(fan)
    done = service.export(service.plan_release(listing.id, track=0), "flac", tmp_path)
    assert np.array_equal(samples(done.files[0].path), samples(audio_files[0]))
    assert done.files[0].path.read_bytes() != audio_files[0].read_bytes()  # new tags and cover


def test_without_a_release_cover_the_published_files_own_cover_is_used(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from player.samples import TINY_PNG, make_tone

    artist = world.core("artist")
    world.sync()
    source = make_tone(tmp_path, "tagged", "mp3", title="Own Art", artist="Ann", artwork=TINY_PNG)
    listing = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=(source,),
                title="No Sleeve",
                artist_name="Ann",
                price="1",
                asset=world.credits.id,
                preview_seconds=0,
            )
        )
        .listing
    )
    artist.chunks.remove_content(listing.artwork)  # the release cover cannot be had
    service = ExportService(artist)
    done = service.export(service.plan_release(listing.id), "flac", tmp_path / "out")
    assert mutagen.File(str(done.files[0].path)).pictures[0].data == TINY_PNG
