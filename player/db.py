"""The library database: one SQLite file per profile (WAL), schema by named migrations.

The schema is a list of :class:`ledger.migrations.Migration` steps, applied by the same runner as
the ledger's store (one transaction per step, recorded in ``_migrations``).

Connections are opened in autocommit mode (``isolation_level=None``) and every write goes
through :func:`transaction`, so a transaction's extent is visible in the code rather than
implied by the sqlite3 module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger.migrations import Migration, migrate, run_script

# bm25 weights, in FTS column order (title, artist, album, genre, tags): a hit in the title or
# artist matters more than one in a genre or a free-form tag.
FTS_COLUMNS = ("title", "artist", "album", "genre", "tags")
FTS_WEIGHTS = (10.0, 8.0, 4.0, 2.0, 2.0)
_FTS_OPTIONS = "tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4'"


def m0001_tracks(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        f"""
        CREATE TABLE tracks (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL CHECK (source IN ('file', 'purchase')),
            path TEXT UNIQUE,              -- local file; NULL for a purchased track
            content_id BLOB UNIQUE,        -- purchased track's content ID; NULL for a file
            size INTEGER NOT NULL DEFAULT 0,
            mtime_ns INTEGER NOT NULL DEFAULT 0,
            file_hash BLOB,                -- BLAKE2b-256 of the whole file
            format TEXT NOT NULL DEFAULT '',
            mime TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            artist TEXT NOT NULL DEFAULT '',
            album TEXT NOT NULL DEFAULT '',
            album_artist TEXT NOT NULL DEFAULT '',
            genre TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '',  -- free-form keywords, space separated
            track_no INTEGER,
            disc_no INTEGER,
            year INTEGER,
            duration_ms INTEGER NOT NULL DEFAULT 0,
            sample_rate INTEGER NOT NULL DEFAULT 0,
            channels INTEGER NOT NULL DEFAULT 0,
            bitrate INTEGER NOT NULL DEFAULT 0,
            artwork_hash BLOB REFERENCES artwork (hash),
            offline INTEGER NOT NULL DEFAULT 0,
            missing INTEGER NOT NULL DEFAULT 0,
            added_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL
        );
        CREATE INDEX tracks_file_hash ON tracks (file_hash);
        CREATE INDEX tracks_album ON tracks (album_artist, album, disc_no, track_no);
        CREATE TABLE artwork (hash BLOB PRIMARY KEY, mime TEXT NOT NULL, data BLOB NOT NULL);
        CREATE TABLE import_problems (
            path TEXT PRIMARY KEY, reason TEXT NOT NULL, seen_ms INTEGER NOT NULL
        );

        CREATE VIRTUAL TABLE library_fts USING fts5 (
            {", ".join(FTS_COLUMNS)}, content = 'tracks', content_rowid = 'id', {_FTS_OPTIONS}
        );
        CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks BEGIN
            INSERT INTO library_fts (rowid, title, artist, album, genre, tags)
            VALUES (new.id, new.title, new.artist, new.album, new.genre, new.tags);
        END;
        CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN
            INSERT INTO library_fts (library_fts, rowid, title, artist, album, genre, tags)
            VALUES ('delete', old.id, old.title, old.artist, old.album, old.genre, old.tags);
        END;
        CREATE TRIGGER tracks_fts_update AFTER UPDATE OF title, artist, album, genre, tags
        ON tracks BEGIN
            INSERT INTO library_fts (library_fts, rowid, title, artist, album, genre, tags)
            VALUES ('delete', old.id, old.title, old.artist, old.album, old.genre, old.tags);
            INSERT INTO library_fts (rowid, title, artist, album, genre, tags)
            VALUES (new.id, new.title, new.artist, new.album, new.genre, new.tags);
        END;
        """,
    )


def m0002_playlists(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE playlists (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL
        );
        CREATE TABLE playlist_items (
            playlist_id INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            track_id INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
            PRIMARY KEY (playlist_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX playlist_items_track ON playlist_items (track_id);
        """,
    )


def m0003_catalog(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        f"""
        CREATE TABLE catalog_releases (
            listing_id BLOB PRIMARY KEY,
            artist_key BLOB NOT NULL,
            artist_name TEXT NOT NULL,
            title TEXT NOT NULL,
            genre TEXT NOT NULL,
            tags TEXT NOT NULL,
            timestamp_ms INTEGER NOT NULL
        );
        CREATE TABLE catalog_tracks (
            id INTEGER PRIMARY KEY,
            listing_id BLOB NOT NULL REFERENCES catalog_releases (listing_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            title TEXT NOT NULL,
            content_id BLOB NOT NULL,
            preview_id BLOB,
            duration_ms INTEGER NOT NULL,
            -- Denormalised from the release so the FTS triggers see a whole row.
            artist_name TEXT NOT NULL,
            album TEXT NOT NULL,
            genre TEXT NOT NULL,
            tags TEXT NOT NULL,
            UNIQUE (listing_id, position)
        );
        CREATE INDEX catalog_tracks_content ON catalog_tracks (content_id);
        CREATE VIRTUAL TABLE catalog_fts USING fts5 (
            {", ".join(FTS_COLUMNS)}, content = 'catalog_tracks', content_rowid = 'id',
            {_FTS_OPTIONS}
        );
        CREATE TRIGGER catalog_fts_insert AFTER INSERT ON catalog_tracks BEGIN
            INSERT INTO catalog_fts (rowid, title, artist, album, genre, tags)
            VALUES (new.id, new.title, new.artist_name, new.album, new.genre, new.tags);
        END;
        CREATE TRIGGER catalog_fts_delete AFTER DELETE ON catalog_tracks BEGIN
            INSERT INTO catalog_fts (catalog_fts, rowid, title, artist, album, genre, tags)
            VALUES ('delete', old.id, old.title, old.artist_name, old.album, old.genre, old.tags);
        END;
        """,
    )


def m0004_fts_rank(conn: sqlite3.Connection) -> None:
    # A persistent rank function lets FTS5 sort by "ORDER BY rank" inside the virtual table,
    # which is several times faster than sorting on an explicit bm25(...) call.
    weights = ", ".join(str(w) for w in FTS_WEIGHTS)
    for table in ("library_fts", "catalog_fts"):
        conn.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('rank', 'bm25({weights})')")


def m0005_track_codec(conn: sqlite3.Connection) -> None:
    # The container says little (an .m4a holds AAC or Apple Lossless); the codec says which.
    conn.execute("ALTER TABLE tracks ADD COLUMN codec TEXT NOT NULL DEFAULT ''")


def m0006_artwork_thumbnails(conn: sqlite3.Connection) -> None:
    # Artwork stays content-addressed (one row per distinct image); each row gains the
    # original's dimensions and a small thumbnail for lists and grids. Rows from before this
    # migration get their thumbnail on first use.
    run_script(
        conn,
        """
        ALTER TABLE artwork ADD COLUMN width INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE artwork ADD COLUMN height INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE artwork ADD COLUMN thumb_mime TEXT;
        ALTER TABLE artwork ADD COLUMN thumb_width INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE artwork ADD COLUMN thumb_height INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE artwork ADD COLUMN thumb BLOB;
        """,
    )


def m0007_library_fts_in_batches(conn: sqlite3.Connection) -> None:
    # Indexing new tracks row by row from a trigger costs four times as much as one
    # INSERT ... SELECT per import batch, so player.library, the only code that inserts into
    # tracks, indexes the rows it inserted with index_new_tracks. Updates and deletes stay on
    # triggers: they are rare and need the old values.
    conn.execute("DROP TRIGGER tracks_fts_insert")


def index_new_tracks(conn: sqlite3.Connection, after_id: int) -> None:
    """Add tracks with ``id > after_id`` (just inserted) to the full-text index."""
    conn.execute(
        "INSERT INTO library_fts (rowid, title, artist, album, genre, tags)"
        " SELECT id, title, artist, album, genre, tags FROM tracks WHERE id > ?",
        (after_id,),
    )


def max_track_id(conn: sqlite3.Connection) -> int:
    """The highest track id now.

    SQLite gives a new row max(id) + 1 (``tracks.id`` is an INTEGER PRIMARY KEY without
    AUTOINCREMENT), so rows inserted later in the same write transaction have higher ids.
    """
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM tracks").fetchone()[0])


# In order; never rename, reorder or edit one that has shipped (names match files already on
# users' disks). A schema change is a new step at the end.
MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(step.__name__, step)
    for step in (
        m0001_tracks,
        m0002_playlists,
        m0003_catalog,
        m0004_fts_rank,
        m0005_track_codec,
        m0006_artwork_thumbnails,
        m0007_library_fts_in_batches,
    )
)


def _adopt_legacy_bookkeeping(conn: sqlite3.Connection) -> None:
    """Convert ``_migrations`` from the layout library files used before the shared runner.

    Those files recorded ``(migration_set, name, applied_ms)``; the shared runner records
    ``(name, applied_at)`` in seconds. The step names are unchanged, so after the conversion
    nothing is applied twice.
    """

    def legacy() -> bool:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(_migrations)")}
        return "migration_set" in columns

    if not legacy():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if legacy():  # another connection may have converted it while we waited for the lock
            conn.execute("ALTER TABLE _migrations RENAME TO _migrations_legacy")
            conn.execute(
                "CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) SELECT name,"
                " applied_ms / 1000.0 FROM _migrations_legacy"
                " WHERE migration_set = 'library' ORDER BY rowid"
            )
            conn.execute("DROP TABLE _migrations_legacy")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the library database at ``path``."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread=False: callers hand work to worker threads; the Library object
    # serialises access with its own lock.
    from ledger.store import open_sqlite

    conn, _read_only = open_sqlite(str(path), timeout=10)  # a read-only profile can be read
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL is durable across app crashes
    conn.execute("PRAGMA foreign_keys = ON")
    _adopt_legacy_bookkeeping(conn)
    migrate(conn, MIGRATIONS)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; nested use becomes a savepoint."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
