"""Importing folders: every format's tags, artwork and duration; broken files; re-imports."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mutagen
import pytest

from player.formats import BadAudioFile, _crc16, _crc16_bitwise, read_audio
from player.library import Library, LibraryError
from player.samples import (
    FORMATS,
    TINY_PNG,
    make_alac,
    make_empty,
    make_mislabelled,
    make_random,
    make_tone,
    make_truncated,
)
from tests.player.conftest import TAGGED, assert_search_index_matches


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_read_audio_reads_tags_artwork_and_duration(tagged_dir: Path, fmt: str) -> None:
    n, (_, title, artist, album, genre) = next(
        (i, row) for i, row in enumerate(TAGGED, start=1) if row[0] == fmt
    )
    info = read_audio(tagged_dir / f"{n:02d} {title}.{fmt}")
    assert info.format == fmt
    assert (info.title, info.artist, info.album, info.genre) == (title, artist, album, genre)
    assert info.track_no == n
    assert 950 <= info.duration_ms <= 1100
    assert info.sample_rate in (44100, 48000) and info.channels == 2
    assert info.artwork is not None and info.artwork.data == TINY_PNG
    assert info.artwork.mime == "image/png"
    assert info.warnings == ()


def test_import_folder_adds_every_format(library: Library, music_dir: Path) -> None:
    report = library.import_folder(music_dir)
    assert report.added == len(TAGGED) and report.failed == () and report.warnings == ()
    assert_search_index_matches(library)
    tracks = {t.title: t for t in library.tracks()}
    assert set(tracks) == {row[1] for row in TAGGED}
    bug = tracks["Bug Report"]
    assert bug.artist == "Hopper & Friends" and bug.format == "wav" and bug.mime == "audio/wav"
    assert bug.artwork_hash is not None
    art = library.artwork(bug.artwork_hash)
    assert art is not None and art.data == TINY_PNG
    # one shared cover is stored once
    assert library.connection.execute("SELECT count(*) FROM artwork").fetchone()[0] == 1


def test_untagged_file_takes_its_name_as_title(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    make_tone(folder, "field recording", "flac")
    library.import_folder(folder)
    [track] = library.tracks()
    assert track.title == "field recording" and track.artist == ""


def _broken_files(folder: Path, good: Path) -> dict[str, str]:
    """Create broken files; returns file name -> a word its failure reason must contain."""
    make_truncated(good / "01 Morning Light.mp3", folder / "cut short.mp3", keep=9000)
    make_truncated(good / "02 Analytical Blues.flac", folder / "cut flac.flac", keep=12000)
    make_truncated(good / "06 Bug Report.wav", folder / "cut wav.wav", keep=90000)
    make_truncated(good / "05 Jacquard Groove.m4a", folder / "header only.m4a", keep=64)
    make_random(folder / "noise.mp3")
    make_random(folder / "noise.flac", seed=3)
    make_random(folder / "noise.ogg", seed=4)
    make_empty(folder / "empty.wav")
    return {
        "cut short.mp3": "truncated",
        "cut flac.flac": "truncated",
        "cut wav.wav": "truncated",
        "header only.m4a": "truncated",
        "noise.mp3": "not a recognised",
        "noise.flac": "not a recognised",
        "noise.ogg": "not a recognised",
        "empty.wav": "empty",
    }


def test_broken_files_are_listed_with_a_reason_and_do_not_stop_import(
    library: Library, music_dir: Path
) -> None:
    expected = _broken_files(music_dir, music_dir)
    make_mislabelled(music_dir / "02 Analytical Blues.flac", music_dir / "actually flac.mp3")
    (music_dir / "cover.jpg").write_bytes(b"not audio, not an audio extension")
    report = library.import_folder(music_dir)
    failed = {Path(p.path).name: p.reason for p in report.failed}
    assert set(failed) == set(expected)
    for name, word in expected.items():
        assert word in failed[name], (name, failed[name])
    assert report.added == len(TAGGED) + 1  # the mislabelled file is real audio: imported
    [warning] = report.warnings
    assert Path(warning.path).name == "actually flac.mp3"
    assert "FLAC" in warning.reason and ".mp3" in warning.reason
    assert report.ignored == 1
    assert {Path(p.path).name for p in library.problems()} == set(expected)
    mislabelled = next(
        t for t in library.tracks() if t.path and t.path.endswith(".mp3") and "actually" in t.path
    )
    assert mislabelled.format == "flac"


def test_broken_file_fixed_later_leaves_the_problem_list(library: Library, music_dir: Path) -> None:
    make_empty(music_dir / "later.flac")
    assert len(library.import_folder(music_dir).failed) == 1
    shutil.copy(music_dir / "02 Analytical Blues.flac", music_dir / "later.flac")
    report = library.import_folder(music_dir)
    assert report.failed == () and report.added == 1
    assert library.problems() == []


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_truncated_to_a_header_is_rejected(tagged_dir: Path, tmp_path: Path, fmt: str) -> None:
    src = next(tagged_dir.glob(f"*.{fmt}"))
    with pytest.raises(BadAudioFile):
        read_audio(make_truncated(src, tmp_path / f"x.{fmt}", keep=64))


def test_reimport_skips_unchanged_and_picks_up_changes(library: Library, music_dir: Path) -> None:
    library.import_folder(music_dir)
    again = library.import_folder(music_dir)
    assert (again.added, again.updated, again.unchanged) == (0, 0, len(TAGGED))

    # Same bytes, new mtime: hashed, not re-read; still unchanged.
    aiff = next(music_dir.glob("*.aiff"))
    os.utime(aiff, ns=(1_000_000_000, 1_000_000_000))
    # Retagged: re-read.
    from player.samples import tag_file

    flac = next(music_dir.glob("*.flac"))
    tag_file(flac, title="Analytical Blues (Live)", artist="Ada Lovelace Trio")
    # New file.
    make_tone(music_dir, "bonus", "ogg", title="Bonus", artist="Babbage")
    report = library.import_folder(music_dir)
    assert (report.added, report.updated, report.unchanged) == (1, 1, len(TAGGED) - 1)
    titles = {t.title for t in library.tracks()}
    assert "Analytical Blues (Live)" in titles and "Bonus" in titles
    assert [h.title for h in library.search("live").library] == ["Analytical Blues (Live)"]
    assert [h.title for h in library.search("bonus").library] == ["Bonus"]
    assert_search_index_matches(library)


def test_moved_file_keeps_its_identity_and_playlists(library: Library, music_dir: Path) -> None:
    library.import_folder(music_dir)
    wav = next(t for t in library.tracks() if t.format == "wav")
    library.create_playlist("Faves", [wav.id])
    (music_dir / "sub").mkdir()
    assert wav.path is not None
    os.rename(wav.path, music_dir / "sub" / "renamed.wav")
    report = library.import_folder(music_dir)
    assert report.moved == 1 and report.added == 0
    moved = library.track(wav.id)
    assert moved.path == str(music_dir / "sub" / "renamed.wav") and not moved.missing
    assert library.playlist("Faves").track_ids == (wav.id,)
    assert_search_index_matches(library)


def test_deleted_file_is_marked_missing(library: Library, music_dir: Path) -> None:
    library.import_folder(music_dir)
    mp3 = next(music_dir.glob("*.mp3"))
    mp3.unlink()
    report = library.import_folder(music_dir)
    assert report.missing == 1
    missing = [t for t in library.tracks() if t.missing]
    assert [t.format for t in missing] == ["mp3"]
    assert len(library.tracks(include_missing=False)) == len(TAGGED) - 1


def test_import_of_a_non_folder_is_refused(library: Library, tmp_path: Path) -> None:
    with pytest.raises(LibraryError):
        library.import_folder(tmp_path / "nope")


def test_offline_mark_and_purchases(library: Library) -> None:
    track = library.add_purchase(
        b"\x01" * 32, title="Bought", artist="Someone", duration_ms=1000, mime="audio/mpeg"
    )
    assert track.source == "purchase" and not track.offline
    assert library.set_offline(track.id, True).offline
    assert [t.id for t in library.offline_tracks()] == [track.id]
    assert not library.set_offline(track.id, False).offline
    # buying again refreshes rather than duplicates
    library.add_purchase(b"\x01" * 32, title="Bought (remaster)", artist="Someone")
    assert [t.title for t in library.tracks()] == ["Bought (remaster)"]
    assert [h.title for h in library.search("remaster").library] == ["Bought (remaster)"]
    assert_search_index_matches(library)
    with pytest.raises(LibraryError):
        library.set_offline(999, True)


# -- Apple Lossless ---------------------------------------------------------------------------


def test_apple_lossless_is_imported_and_recognised_as_alac(
    library: Library, tmp_path: Path
) -> None:
    folder = tmp_path / "lossless"
    folder.mkdir()
    alac = make_alac(
        folder,
        "01 Lossless",
        seconds=2.0,
        title="Lossless Sine",
        artist="Ada Lovelace Trio",
        album="Engines",
        track=1,
        artwork=TINY_PNG,
    )
    aac = make_tone(folder, "02 Lossy", "m4a", title="Lossy Sine", artist="Ada Lovelace Trio")
    assert mutagen.File(alac).info.codec == "alac"  # a real ALAC stream, per mutagen

    info = read_audio(alac)
    assert (info.format, info.codec, info.lossless) == ("m4a", "alac", True)
    assert (info.title, info.artist, info.album, info.track_no) == (
        "Lossless Sine",
        "Ada Lovelace Trio",
        "Engines",
        1,
    )
    assert 1950 <= info.duration_ms <= 2050
    assert (info.sample_rate, info.channels) == (44100, 2)
    assert info.artwork is not None and info.artwork.data == TINY_PNG
    assert read_audio(aac).codec == "aac" and not read_audio(aac).lossless

    report = library.import_folder(folder)
    assert report.added == 2 and report.failed == ()
    codecs = {t.title: (t.format, t.codec, t.mime) for t in library.tracks()}
    assert codecs == {
        "Lossless Sine": ("m4a", "alac", "audio/mp4"),
        "Lossy Sine": ("m4a", "aac", "audio/mp4"),
    }


@pytest.mark.parametrize("fraction", [0.5, 0.97])
def test_cut_apple_lossless_is_truncated(tmp_path: Path, fraction: float) -> None:
    alac = make_alac(tmp_path, "whole", seconds=2.0, title="Whole", artist="A")
    cut = make_truncated(alac, tmp_path / "cut.m4a", keep=int(alac.stat().st_size * fraction))
    with pytest.raises(BadAudioFile, match="truncated"):
        read_audio(cut)


# -- Ogg: a cut file reads as a shorter healthy one unless its last page is checked -----------


def _ogg_pages(data: bytes) -> list[tuple[int, int]]:
    """(offset, header_type) of each Ogg page, by walking page lengths from the start."""
    pages, pos = [], 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS"
        segments = data[pos + 26]
        length = 27 + segments + sum(data[pos + 27 : pos + 27 + segments])
        pages.append((pos, data[pos + 5]))
        pos += length
    return pages


@pytest.mark.parametrize("fmt", ["ogg", "opus"])
def test_truncated_ogg_is_listed_as_broken_with_a_reason(
    library: Library, tmp_path: Path, fmt: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    whole = make_tone(src, "whole", fmt, seconds=4.0, title="Whole", artist="A")
    data = whole.read_bytes()
    pages = _ogg_pages(data)
    assert pages[-1][1] & 0x04 and not pages[-2][1] & 0x04  # only the last page ends the stream
    last_page = pages[-1][0]

    folder = tmp_path / "music"
    folder.mkdir()
    (folder / f"at page boundary.{fmt}").write_bytes(data[:last_page])
    (folder / f"mid page.{fmt}").write_bytes(data[: last_page + 40])
    (folder / f"half.{fmt}").write_bytes(data[: len(data) // 2])
    (folder / f"whole.{fmt}").write_bytes(data)
    # mutagen alone takes the cut files for shorter, healthy ones.
    for name in ("at page boundary", "half"):
        cut = mutagen.File(folder / f"{name}.{fmt}")
        assert cut is not None and 0 < cut.info.length < 4.0

    report = library.import_folder(folder)
    assert [t.title for t in library.tracks()] == ["Whole"]
    failed = {Path(p.path).stem: p.reason for p in report.failed}
    assert failed == {
        "at page boundary": "truncated: the Ogg stream stops before its end-of-stream page",
        "mid page": "truncated: the last Ogg page is cut short",
        "half": "truncated: the last Ogg page is cut short",
    }


def test_ogg_data_that_happens_to_contain_the_capture_pattern_is_not_a_false_alarm(
    tmp_path: Path,
) -> None:
    # "OggS" inside the last page's packet data must not be taken for a page header.
    from player.formats import _check_ogg_end

    body = b"xxOggS\x00\x04" + b"y" * 50
    page = b"OggS\x00\x04" + bytes(20) + bytes([1, len(body)]) + body
    _check_ogg_end(b"z" * 100 + page)  # no error
    with pytest.raises(BadAudioFile, match="cut short"):
        _check_ogg_end(b"z" * 100 + page[:-1])


def test_flac_crc_matches_the_reference_definition() -> None:
    import random

    rng = random.Random(5)
    for n in (0, 1, 2, 255, 256, 257, 4095, 9000):
        data = rng.randbytes(n)
        assert _crc16(data) == _crc16_bitwise(data)
    assert _crc16_bitwise(b"123456789") == 0xFEE8  # CRC-16/BUYPASS check value


def test_files_too_large_to_hold_in_memory_are_streamed_with_the_same_result(
    tmp_path: Path, music_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above WHOLE_FILE_LIMIT a file is hashed in blocks and parsed from disk; with the limit at
    # one byte every file takes that path, and the outcome must not change.
    _broken_files(music_dir, music_dir)
    in_memory = Library(tmp_path / "in-memory.sqlite")
    expected = in_memory.import_folder(music_dir)
    expected_rows = [
        (t.path, t.title, t.codec, t.duration_ms, t.artwork_hash) for t in in_memory.tracks()
    ]
    hashes = dict(in_memory.connection.execute("SELECT path, file_hash FROM tracks"))
    in_memory.close()

    import player.library

    monkeypatch.setattr(player.library, "WHOLE_FILE_LIMIT", 1)
    streamed = Library(tmp_path / "streamed.sqlite")
    report = streamed.import_folder(music_dir)
    assert (report.added, report.failed) == (expected.added, expected.failed)
    assert [
        (t.path, t.title, t.codec, t.duration_ms, t.artwork_hash) for t in streamed.tracks()
    ] == expected_rows
    assert dict(streamed.connection.execute("SELECT path, file_hash FROM tracks")) == hashes
    streamed.close()
