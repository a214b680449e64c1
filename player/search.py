"""Full-text search over the local library and the store catalog (SQLite FTS5).

The user's words become an FTS5 query in which every word must match the start of a word in
some column (prefix matching: ``bea`` finds "Beatles"), and hits are ordered by bm25 with
per-column weights (title and artist count more than genre or tags), configured as each FTS
table's ``rank`` in ``player.db``.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal, cast

Scope = Literal["library", "catalog"]
RANK_ALL_LIMIT = 1000  # matches beyond which only the newest are ranked (see _ranked)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class LibraryHit:
    track_id: int
    title: str
    artist: str
    album: str
    genre: str
    duration_ms: int
    rank: float


@dataclass(frozen=True)
class CatalogHit:
    listing_id: bytes
    position: int
    content_id: bytes
    preview_id: bytes | None
    title: str
    artist: str
    album: str
    genre: str
    duration_ms: int
    rank: float


@dataclass(frozen=True)
class SearchResults:
    query: str
    library: tuple[LibraryHit, ...]
    catalog: tuple[CatalogHit, ...]


def fts_query(text: str) -> str | None:
    """Turn free text into a safe FTS5 query (each word a quoted prefix), or None if empty.

    Quoting every token means user input can never be parsed as FTS5 syntax (``AND``, ``-``,
    ``:`` or an unbalanced quote would otherwise raise or change the meaning).
    """
    words = _WORD.findall(text.lower())
    if not words:
        return None
    return " ".join(f'"{w}"*' for w in words[:16])


def search(
    conn: sqlite3.Connection,
    text: str,
    limit: int = 50,
    scopes: tuple[Scope, ...] = ("library", "catalog"),
) -> SearchResults:
    """Search both indexes; each list is best match first, at most ``limit`` long."""
    match = fts_query(text)
    if match is None:
        return SearchResults(text, (), ())
    library: tuple[LibraryHit, ...] = ()
    catalog: tuple[CatalogHit, ...] = ()
    if "library" in scopes:
        hits = _ranked(conn, "library_fts", match, limit)
        rows = _fetch(
            conn,
            "SELECT id, title, artist, album, genre, duration_ms FROM tracks WHERE id IN ({})",
            [rowid for rowid, _ in hits],
        )
        library = tuple(
            LibraryHit(*cast("tuple[int, str, str, str, str, int]", rows[rowid]), rank)
            for rowid, rank in hits
            if rowid in rows
        )
    if "catalog" in scopes:
        hits = _ranked(conn, "catalog_fts", match, limit)
        rows = _fetch(
            conn,
            "SELECT id, listing_id, position, content_id, preview_id, title,"
            " artist_name, album, genre, duration_ms FROM catalog_tracks"
            " WHERE id IN ({})",
            [rowid for rowid, _ in hits],
        )
        catalog = tuple(
            CatalogHit(*rows[rowid][1:], rank)  # type: ignore[call-arg]
            for rowid, rank in hits
            if rowid in rows
        )
    return SearchResults(text, library, catalog)


def _ranked(
    conn: sqlite3.Connection, table: str, match: str, limit: int
) -> list[tuple[int, float]]:
    """(rowid, bm25 rank) of the best ``limit`` hits, best first.

    Ranking costs time per matching row, and a short prefix of a common word can match a large
    part of a 100k-row catalog. So a cheap unranked probe counts matches first: up to
    ``RANK_ALL_LIMIT`` they are all ranked; beyond that only the newest ``RANK_ALL_LIMIT``
    matches (highest rowids) are ranked, which bounds latency and favours recent listings
    for queries too broad to be useful anyway.
    """
    probe = conn.execute(
        f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?", (match, RANK_ALL_LIMIT + 1)
    ).fetchall()
    if len(probe) <= RANK_ALL_LIMIT:
        rows = conn.execute(
            f"SELECT rowid, rank FROM {table} WHERE {table} MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT rowid, rank FROM {table} WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT ?",
            (match, RANK_ALL_LIMIT),
        ).fetchall()
        rows.sort(key=lambda r: r[1])
        rows = rows[:limit]
    return [(int(r[0]), float(r[1])) for r in rows]


def _fetch(conn: sqlite3.Connection, sql: str, ids: list[int]) -> dict[int, tuple[Any, ...]]:
    if not ids:
        return {}
    rows = conn.execute(sql.format(", ".join("?" * len(ids))), ids).fetchall()
    return {int(r[0]): tuple(r) for r in rows}
