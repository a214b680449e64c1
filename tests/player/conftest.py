"""Shared fixtures: one folder of real, tagged audio files per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from player.library import Library
from player.samples import FORMATS, TINY_PNG, make_tone

# (format, title, artist, album, genre) for the session's tagged files.
TAGGED = [
    ("mp3", "Morning Light", "Ada Lovelace Trio", "Engines", "Jazz"),
    ("flac", "Analytical Blues", "Ada Lovelace Trio", "Engines", "Blues"),
    ("ogg", "Difference Waltz", "Babbage", "Engines", "Classical"),
    ("opus", "Punch Card Polka", "Babbage", "Looms", "Folk"),
    ("m4a", "Jacquard Groove", "Hopper & Friends", "Looms", "Funk"),
    ("wav", "Bug Report", "Hopper & Friends", "Compilers", "Rock"),
    ("aiff", "Nanosecond", "Grace Hopper", "Compilers", "Ambient"),
]


@pytest.fixture(scope="session")
def tagged_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tagged 1 s tone per supported format (generated once per session; do not modify)."""
    folder = tmp_path_factory.mktemp("tagged")
    for n, (fmt, title, artist, album, genre) in enumerate(TAGGED, start=1):
        make_tone(
            folder,
            f"{n:02d} {title}",
            fmt,
            freq=220.0 + 55 * n,
            title=title,
            artist=artist,
            album=album,
            genre=genre,
            track=n,
            artwork=TINY_PNG,
        )
    assert {p.suffix[1:] for p in folder.iterdir()} == set(FORMATS)
    return folder


@pytest.fixture
def music_dir(tagged_dir: Path, tmp_path: Path) -> Path:
    """A private, modifiable copy of the tagged files."""
    dest = tmp_path / "music"
    shutil.copytree(tagged_dir, dest)
    return dest


def assert_search_index_matches(library: Library) -> None:
    """The library's full-text index holds exactly its tracks' current words.

    FTS5's integrity check with rank 1 compares an external-content index with its table;
    it raises "database disk image is malformed" on any difference.
    """
    library.connection.execute(
        "INSERT INTO library_fts (library_fts, rank) VALUES ('integrity-check', 1)"
    )


@pytest.fixture
def library(tmp_path: Path) -> Library:
    lib = Library(tmp_path / "library.sqlite")
    yield lib  # type: ignore[misc]
    lib.close()
