"""FTS5 search over library and catalog; playlists; migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.migrations import Migration, applied, migrate
from player.catalog import CatalogRelease, CatalogTrack
from player.db import MIGRATIONS, connect
from player.library import Library, LibraryError
from player.search import fts_query
from tests.player.conftest import assert_search_index_matches


def _release(
    n: int,
    artist: str,
    title: str,
    genre: str,
    tags: tuple[str, ...],
    tracks: list[str],
    ts: int = 1,
) -> CatalogRelease:
    return CatalogRelease(
        listing_id=bytes([n]) * 32,
        artist_key=bytes([100 + n]) * 32,
        artist_name=artist,
        title=title,
        genre=genre,
        tags=tags,
        tracks=tuple(
            CatalogTrack(t, bytes([n, i]) * 16, bytes([n, i, 9, 9]) * 8, 180_000)
            for i, t in enumerate(tracks)
        ),
        timestamp_ms=ts,
    )


def test_library_search_prefix_and_fields(library: Library, music_dir: Path) -> None:
    library.import_folder(music_dir)
    assert [h.title for h in library.search("nanosec").library] == ["Nanosecond"]
    assert {h.title for h in library.search("hop").library} == {
        "Jacquard Groove",
        "Bug Report",
        "Nanosecond",
    }
    assert [h.title for h in library.search("engines babb").library] == ["Difference Waltz"]
    assert [h.title for h in library.search("funk").library] == ["Jacquard Groove"]
    assert library.search("zzz").library == ()
    assert library.search("   ").library == ()


def test_ranking_prefers_title_over_genre(library: Library) -> None:
    library.add_purchase(b"\x01" * 32, title="Quiet", artist="X", genre="Blues")
    library.add_purchase(b"\x02" * 32, title="Blues for Ada", artist="Y", genre="Jazz")
    hits = library.search("blues").library
    assert [h.title for h in hits] == ["Blues for Ada", "Quiet"]
    assert hits[0].rank < hits[1].rank  # bm25: lower is better


def test_search_input_is_never_fts_syntax(library: Library) -> None:
    library.add_purchase(b"\x01" * 32, title="AND OR NOT", artist='Q"uote')
    for text in ['"', "AND", "a:b", "-x", "NEAR(", "*", "title:AND", 'q"uote']:
        library.search(text)  # must not raise
    assert fts_query("Héllo, wörld!") == '"héllo"* "wörld"*'
    assert [h.title for h in library.search("helo").library] == []
    library.add_purchase(b"\x02" * 32, title="Café Müller", artist="Pina")
    assert [h.title for h in library.search("cafe mull").library] == ["Café Müller"]


def test_catalog_sync_indexes_upserts_and_removes(library: Library) -> None:
    a = _release(
        1,
        "Ada Lovelace Trio",
        "Engines",
        "Jazz",
        ("bebop", "live"),
        ["Morning Light", "Analytical Blues"],
    )
    b = _release(2, "Babbage", "Looms", "Folk", ("acoustic",), ["Punch Card Polka"])
    result = library.sync_catalog([a, b])
    assert (result.added, result.updated, result.removed) == (2, 0, 0)
    hits = library.search("bebop").catalog
    assert {h.title for h in hits} == {"Morning Light", "Analytical Blues"}
    assert hits[0].listing_id == a.listing_id and hits[0].artist == "Ada Lovelace Trio"
    assert library.search("polka").catalog[0].preview_id == b.tracks[0].preview_id
    assert library.search("polka", scopes=("library",)).catalog == ()

    a2 = _release(
        1, "Ada Lovelace Trio", "Engines (Deluxe)", "Jazz", ("bebop",), ["Morning Light"], ts=2
    )
    result = library.sync_catalog([a2])
    assert (result.added, result.updated, result.removed) == (0, 1, 1)
    assert library.search("polka").catalog == ()
    assert library.search("analytical").catalog == ()
    assert [h.album for h in library.search("deluxe").catalog] == ["Engines (Deluxe)"]
    assert library.sync_catalog([a2]).unchanged == 1
    assert library.remove_catalog([a2.listing_id]) == 1
    assert library.search("morning").catalog == ()
    # the FTS index must agree with its content table after all that churn
    library.connection.execute("INSERT INTO catalog_fts(catalog_fts) VALUES ('integrity-check')")


def test_playlists_create_add_move_rename_delete(library: Library) -> None:
    ids = [library.add_purchase(bytes([i]) * 32, title=f"T{i}", artist="A").id for i in range(1, 5)]
    pl = library.create_playlist("Road trip", ids[:3])
    assert pl.track_ids == tuple(ids[:3])
    assert library.add_to_playlist("road trip", [ids[3]], position=0).track_ids == (
        ids[3],
        ids[0],
        ids[1],
        ids[2],
    )
    assert library.move_in_playlist("Road trip", 0, 3).track_ids == tuple(ids)
    assert library.remove_from_playlist("Road trip", 1).track_ids == (ids[0], ids[2], ids[3])
    assert library.rename_playlist("Road trip", "Night drive").name == "Night drive"
    with pytest.raises(LibraryError):
        library.playlist("Road trip")
    library.create_playlist("Other")
    with pytest.raises(LibraryError, match="already exists"):
        library.rename_playlist("Other", "NIGHT DRIVE")
    with pytest.raises(LibraryError, match="already exists"):
        library.create_playlist("night drive")
    with pytest.raises(LibraryError):
        library.move_in_playlist("Night drive", 0, 7)
    with pytest.raises(LibraryError):
        library.add_to_playlist("Night drive", [12345])
    library.remove_track(ids[2])
    assert library.playlist("Night drive").track_ids == (ids[0], ids[3])
    library.delete_playlist("Night drive")
    assert [p.name for p in library.playlists()] == ["Other"]


def test_migrations_are_named_once_and_transactional(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite"
    conn = connect(path)
    names = [m.name for m in MIGRATIONS]
    assert len(set(names)) == len(names)
    assert [r[0] for r in conn.execute("SELECT name FROM _migrations")] == names
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    conn = connect(path)
    assert migrate(conn, MIGRATIONS) == []  # reopening applies nothing
    conn.close()

    # A step that fails half-way leaves nothing behind and is not recorded.
    broken = (*MIGRATIONS, Migration("m9999_breaks", "CREATE TABLE later (x);\nSELECT nope;"))
    conn = connect(path)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    assert "m9999_breaks" not in applied(conn)
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'later'").fetchone() is None
    conn.close()


def test_library_files_from_the_old_migration_runner_are_adopted(tmp_path: Path) -> None:
    # Library files written before the shared runner had the first four steps, recorded as
    # (migration_set, name, applied_ms).
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    old = MIGRATIONS[:4]
    migrate(conn, old)
    conn.executescript(
        "DROP TABLE _migrations;"
        "CREATE TABLE _migrations (migration_set TEXT NOT NULL, name TEXT NOT NULL,"
        " applied_ms INTEGER NOT NULL, PRIMARY KEY (migration_set, name));"
    )
    conn.executemany(
        "INSERT INTO _migrations VALUES ('library', ?, 1700000000000)", [(m.name,) for m in old]
    )
    conn.execute(
        "INSERT INTO tracks (source, path, title, added_ms, updated_ms)"
        " VALUES ('file', '/music/a.flac', 'Kept', 1, 1)"
    )  # indexed by the old trigger
    conn.execute("INSERT INTO artwork (hash, mime, data) VALUES (x'01', 'image/png', x'00')")
    conn.close()

    lib = Library(path)
    try:
        assert applied(lib.connection) == [m.name for m in MIGRATIONS]
        [track] = lib.tracks()
        assert track.title == "Kept" and track.codec == ""
        assert [h.track_id for h in lib.search("kept").library] == [track.id]
        lib.add_purchase(b"\x02" * 32, title="Kept Too", artist="B")
        assert len(lib.search("kept").library) == 2
        assert_search_index_matches(lib)
    finally:
        lib.close()


def test_broad_queries_rank_only_the_newest_matches(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    import player.search

    monkeypatch.setattr(player.search, "RANK_ALL_LIMIT", 3)
    library.add_purchase(b"\x00" * 32, title="Blues", artist="Oldest")
    for i in range(1, 5):
        library.add_purchase(bytes([i]) * 32, title=f"Song {i}", artist="X", genre="Blues")
    library.add_purchase(b"\x09" * 32, title="Blues Again", artist="Newest")
    hits = library.search("blu").library
    assert hits[0].artist == "Newest"  # its title hit ranks first among the newest
    assert len(hits) == 3 and "Oldest" not in [h.artist for h in hits]
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)
    monkeypatch.setattr(player.search, "RANK_ALL_LIMIT", 1000)
    # ranking everything again: both title hits come before the genre hits
    assert {h.artist for h in library.search("blu").library[:2]} == {"Oldest", "Newest"}
