"""Cover art: embedded pictures and folder images, stored once per distinct image, thumbnailed."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from player.artwork import (
    THUMB_SIZE,
    BadImage,
    folder_image,
    image_hash,
    make_thumbnail,
    probe_image,
    sniff_image,
)
from player.library import Library
from player.samples import IMAGE_ENCODERS, make_cover, make_tone


def _decoded_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image as FFmpeg decodes it (independent of player.artwork)."""
    codec = {"image/jpeg": "mjpeg", "image/png": "png"}[sniff_image(data) or ""]
    ctx = av.CodecContext.create(codec, "r")
    frame = (list(ctx.decode(av.Packet(data))) or list(ctx.decode(None)))[0]
    return frame.width, frame.height


@pytest.mark.parametrize("fmt", sorted(IMAGE_ENCODERS))
def test_probe_reads_the_size_from_the_header_of_every_format(fmt: str) -> None:
    data = make_cover(53, 37, fmt)
    mime = "image/" + fmt.split("-")[0]
    assert probe_image(data) == (mime, 53, 37)
    # and FFmpeg agrees when it decodes the whole image
    assert make_thumbnail(data)[:3] == (mime, 53, 37)


def test_probe_refuses_damaged_headers_and_absurd_sizes() -> None:
    jpeg = make_cover(40, 30, "jpeg")
    sof = next(i for i in range(2, len(jpeg)) if jpeg[i] == 0xFF and jpeg[i + 1] == 0xC0)
    with pytest.raises(BadImage, match="no frame header"):
        probe_image(jpeg[:sof])  # cut before the frame header
    png = bytearray(make_cover(40, 30, "png"))
    png[16:24] = (0).to_bytes(4, "big") + (30).to_bytes(4, "big")
    with pytest.raises(BadImage, match="0 x 30"):
        probe_image(bytes(png))
    png[16:24] = (90_000).to_bytes(4, "big") + (90_000).to_bytes(4, "big")
    with pytest.raises(BadImage, match="too large"):
        probe_image(bytes(png))


@pytest.mark.parametrize(
    ("width", "height", "fmt"),
    [(600, 600, "jpeg"), (900, 300, "jpeg"), (301, 601, "png"), (80, 60, "jpeg")],
)
def test_thumbnail_keeps_the_aspect_and_never_grows(width: int, height: int, fmt: str) -> None:
    original = make_cover(width, height, fmt)
    mime, w, h, thumb = make_thumbnail(original)
    assert (mime, w, h) == (f"image/{fmt}", width, height)
    assert max(thumb.width, thumb.height) == min(THUMB_SIZE, max(width, height))
    assert abs(thumb.width / thumb.height - width / height) < 0.02
    assert _decoded_size(thumb.data) == (thumb.width, thumb.height)
    if max(width, height) > THUMB_SIZE:
        assert len(thumb.data) < len(original)
        # transparency survives: PNG with alpha stays PNG, opaque images become JPEG
        assert thumb.mime == ("image/png" if fmt == "png" else "image/jpeg")
    else:
        assert thumb.data == original


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"\xff\xd8\xff" + b"\x00" * 64,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    ],
)
def test_unreadable_images_are_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(BadImage) as err:
        make_thumbnail(data)
    assert str(err.value)


def test_folder_image_names_in_order_of_preference() -> None:
    assert folder_image(["a.mp3", "Folder.PNG", "cover.jpg"]) == "cover.jpg"
    assert folder_image(["Folder.PNG", "back.jpg"]) == "Folder.PNG"
    assert folder_image(["scan01.jpg", "back.jpg"]) is None


def test_embedded_covers_of_every_tag_family_are_stored_once_with_thumbnails(
    library: Library, tmp_path: Path
) -> None:
    folder = tmp_path / "music"
    folder.mkdir()
    big = make_cover(700, 500, "jpeg", seed=1)
    other = make_cover(320, 320, "png", seed=2)
    for n, fmt in enumerate(["mp3", "flac", "m4a", "ogg", "opus"]):
        make_tone(folder, f"big {fmt}", fmt, title=f"Big {fmt}", artist="A", artwork=big)
        make_tone(folder, f"other {fmt}", fmt, title=f"Other {fmt}", artist="B", artwork=other)
        make_tone(folder, f"bare {fmt}", fmt, title=f"Bare {n}", artist="C")
    report = library.import_folder(folder)
    assert report.added == 15 and report.failed == () and report.warnings == ()

    tracks = {t.title: t for t in library.tracks()}
    assert {tracks[f"Big {f}"].artwork_hash for f in ["mp3", "flac", "m4a", "ogg", "opus"]} == {
        image_hash(big)
    }
    assert {tracks[f"Other {f}"].artwork_hash for f in ["mp3", "flac", "m4a", "ogg", "opus"]} == {
        image_hash(other)
    }
    assert all(tracks[f"Bare {n}"].artwork_hash is None for n in range(5))
    assert library.connection.execute("SELECT count(*) FROM artwork").fetchone()[0] == 2

    # Import reads image headers only; thumbnails are made in one pass afterwards.
    pending = "SELECT count(*) FROM artwork WHERE thumb_mime IS NULL"
    assert library.connection.execute(pending).fetchone()[0] == 2
    steps: list[tuple[int, int]] = []
    assert library.make_thumbnails(progress=lambda done, total: steps.append((done, total))) == 2
    assert steps == [(1, 2), (2, 2)]
    assert library.connection.execute(pending).fetchone()[0] == 0
    assert library.make_thumbnails() == 0

    cover = library.cover(image_hash(big))
    assert cover is not None
    assert (cover.mime, cover.width, cover.height, cover.data) == ("image/jpeg", 700, 500, big)
    thumb = library.thumbnail(image_hash(big))
    assert thumb == cover.thumbnail
    assert (thumb.mime, thumb.width, thumb.height) == ("image/jpeg", THUMB_SIZE, 183)
    assert _decoded_size(thumb.data) == (THUMB_SIZE, 183)
    other_thumb = library.thumbnail(image_hash(other))
    assert other_thumb is not None and other_thumb.mime == "image/png"
    assert (other_thumb.width, other_thumb.height) == (THUMB_SIZE, THUMB_SIZE)
    assert library.thumbnail(b"\x00" * 32) is None and library.cover(b"\x00" * 32) is None


def test_a_folder_image_covers_the_files_next_to_it_without_their_own(
    library: Library, tmp_path: Path
) -> None:
    album = tmp_path / "music" / "album"
    single = tmp_path / "music" / "single"
    album.mkdir(parents=True)
    single.mkdir()
    folder_cover = make_cover(500, 500, "jpeg", seed=3)
    own_cover = make_cover(400, 400, "jpeg", seed=4)
    (album / "Cover.JPG").write_bytes(folder_cover)
    make_tone(album, "01", "flac", title="One", artist="A")
    make_tone(album, "02", "mp3", title="Two", artist="A")
    make_tone(album, "03", "ogg", title="Three", artist="A", artwork=own_cover)
    make_tone(single, "s", "opus", title="Single", artist="B")
    report = library.import_folder(tmp_path / "music")
    assert report.added == 4 and report.warnings == () and report.ignored == 1

    art = {t.title: t.artwork_hash for t in library.tracks()}
    assert art == {
        "One": image_hash(folder_cover),
        "Two": image_hash(folder_cover),
        "Three": image_hash(own_cover),
        "Single": None,
    }
    stored = library.cover(image_hash(folder_cover))
    assert stored is not None and (stored.width, stored.height) == (500, 500)
    assert stored.thumbnail.width == THUMB_SIZE


def test_unreadable_covers_are_reported_and_the_audio_still_imported(
    library: Library, tmp_path: Path
) -> None:
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "folder.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    make_tone(folder, "plain", "flac", title="Plain", artist="A")
    make_tone(
        folder,
        "broken art",
        "mp3",
        title="Broken Art",
        artist="A",
        artwork=b"\xff\xd8\xff\xe0 this is not really a JPEG",
    )
    report = library.import_folder(folder)
    assert report.added == 2 and report.failed == ()
    warnings = {Path(w.path).name: w.reason for w in report.warnings}
    assert set(warnings) == {"folder.png", "broken art.mp3"}
    assert warnings["folder.png"].startswith("cover image not used: damaged PNG image")
    assert "embedded cover is not a readable image" in warnings["broken art.mp3"]
    assert all(t.artwork_hash is None for t in library.tracks())
    assert library.connection.execute("SELECT count(*) FROM artwork").fetchone()[0] == 0


def test_images_stored_before_thumbnails_get_one_on_first_use(library: Library) -> None:
    original = make_cover(640, 480, "jpeg", seed=5)
    digest = image_hash(original)
    library.connection.execute(
        "INSERT INTO artwork (hash, mime, data) VALUES (?, 'image/jpeg', ?)", (digest, original)
    )
    thumb = library.thumbnail(digest)
    assert thumb is not None and (thumb.width, thumb.height) == (THUMB_SIZE, 192)
    row = library.connection.execute(
        "SELECT width, height, thumb_width, thumb FROM artwork WHERE hash = ?", (digest,)
    ).fetchone()
    assert (row["width"], row["height"], row["thumb_width"]) == (640, 480, THUMB_SIZE)
    assert bytes(row["thumb"]) == thumb.data  # kept, not remade on every call


def test_an_image_with_a_good_header_and_a_broken_body_has_no_thumbnail(
    library: Library, tmp_path: Path
) -> None:
    good = make_cover(400, 300, "png", seed=6)
    broken = good[:200] + bytes(len(good) - 200)  # header chunk intact, image data zeroed
    assert probe_image(broken) == ("image/png", 400, 300)
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "cover.png").write_bytes(broken)
    make_tone(folder, "t", "flac", title="T", artist="A")
    assert library.import_folder(folder).warnings == ()  # only the header is read at import
    [track] = library.tracks()
    assert track.artwork_hash == image_hash(broken)

    assert library.thumbnail(image_hash(broken)) is None
    # Tried once and remembered, so lists do not decode it again on every repaint.
    assert (
        library.connection.execute(
            "SELECT thumb_mime FROM artwork WHERE hash = ?", (image_hash(broken),)
        ).fetchone()[0]
        == ""
    )
    assert library.make_thumbnails() == 0
    cover = library.cover(image_hash(broken))
    assert cover is not None and cover.thumbnail is None and cover.data == broken
    assert (cover.width, cover.height) == (400, 300)
