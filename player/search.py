"""Full-text search over the local library and the store catalog (SQLite FTS5).

The user's words become an FTS5 query in which every word must match the start of a word in
some column (prefix matching: ``bea`` finds "Beatles"), and hits are ordered by bm25 with
per-column weights (title and artist count more than genre or tags; see ``player.db``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Literal

from player.db import FTS_WEIGHTS

Scope = Literal["library", "catalog"]
_WORD = re.compile(r"\w+", re.UNICODE)
_WEIGHTS = ", ".join(str(w) for w in FTS_WEIGHTS)


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


def search(conn: sqlite3.Connection, text: str, limit: int = 50,
           scopes: tuple[Scope, ...] = ("library", "catalog")) -> SearchResults:
    """Search both indexes; each list is best match first, at most ``limit`` long."""
    match = fts_query(text)
    if match is None:
        return SearchResults(text, (), ())
    library: tuple[LibraryHit, ...] = ()
    catalog: tuple[CatalogHit, ...] = ()
    if "library" in scopes:
        rows = conn.execute(
            f"SELECT t.id, t.title, t.artist, t.album, t.genre, t.duration_ms,"
            f" bm25(library_fts, {_WEIGHTS}) AS rank"
            f" FROM library_fts JOIN tracks t ON t.id = library_fts.rowid"
            f" WHERE library_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        ).fetchall()
        library = tuple(LibraryHit(*r) for r in rows)
    if "catalog" in scopes:
        rows = conn.execute(
            f"SELECT c.listing_id, c.position, c.content_id, c.preview_id, c.title,"
            f" c.artist_name, c.album, c.genre, c.duration_ms,"
            f" bm25(catalog_fts, {_WEIGHTS}) AS rank"
            f" FROM catalog_fts JOIN catalog_tracks c ON c.id = catalog_fts.rowid"
            f" WHERE catalog_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        ).fetchall()
        catalog = tuple(CatalogHit(*r) for r in rows)
    return SearchResults(text, library, catalog)
