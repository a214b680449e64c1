"""The store catalog as the player indexes it for search.

The ledger replica owns listings; it converts each current release listing into a
:class:`CatalogRelease` and hands the whole set (or a batch of changes) to :func:`sync_catalog`,
which keeps the ``catalog_*`` tables and their FTS index equal to that set. The player never
reads the ledger itself, so this dataclass is the whole contract between the two.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from player.db import transaction

_OPTIMIZE_AFTER = 1000  # changed releases after which the FTS index is merged


@dataclass(frozen=True)
class CatalogTrack:
    """One track of a release as listed in the store."""

    title: str
    content_id: bytes
    preview_id: bytes | None
    duration_ms: int


@dataclass(frozen=True)
class CatalogRelease:
    """One release listing from the ledger, flattened for search."""

    listing_id: bytes
    artist_key: bytes
    artist_name: str
    title: str
    genre: str
    tags: tuple[str, ...]
    tracks: tuple[CatalogTrack, ...]
    timestamp_ms: int


@dataclass(frozen=True)
class CatalogSyncResult:
    added: int
    updated: int
    removed: int
    unchanged: int


def _write_release(conn: sqlite3.Connection, release: CatalogRelease) -> None:
    tags = " ".join(release.tags)
    conn.execute("DELETE FROM catalog_tracks WHERE listing_id = ?", (release.listing_id,))
    conn.execute(
        "INSERT INTO catalog_releases (listing_id, artist_key, artist_name, title, genre, tags,"
        " timestamp_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (listing_id) DO UPDATE SET artist_key = excluded.artist_key,"
        " artist_name = excluded.artist_name, title = excluded.title, genre = excluded.genre,"
        " tags = excluded.tags, timestamp_ms = excluded.timestamp_ms",
        (
            release.listing_id,
            release.artist_key,
            release.artist_name,
            release.title,
            release.genre,
            tags,
            release.timestamp_ms,
        ),
    )
    conn.executemany(
        "INSERT INTO catalog_tracks (listing_id, position, title, content_id, preview_id,"
        " duration_ms, artist_name, album, genre, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                release.listing_id,
                pos,
                t.title,
                t.content_id,
                t.preview_id,
                t.duration_ms,
                release.artist_name,
                release.title,
                release.genre,
                tags,
            )
            for pos, t in enumerate(release.tracks)
        ],
    )


def upsert_releases(conn: sqlite3.Connection, releases: Iterable[CatalogRelease]) -> int:
    """Add or replace the given releases (an incremental update); returns how many."""
    count = 0
    with transaction(conn):
        for release in releases:
            _write_release(conn, release)
            count += 1
    return count


def remove_releases(conn: sqlite3.Connection, listing_ids: Iterable[bytes]) -> int:
    """Drop listings that were withdrawn; returns how many existed."""
    removed = 0
    with transaction(conn):
        for listing_id in listing_ids:
            conn.execute("DELETE FROM catalog_tracks WHERE listing_id = ?", (listing_id,))
            removed += conn.execute(
                "DELETE FROM catalog_releases WHERE listing_id = ?", (listing_id,)
            ).rowcount
    return removed


def sync_catalog(conn: sqlite3.Connection, releases: Iterable[CatalogRelease]) -> CatalogSyncResult:
    """Make the indexed catalog equal to ``releases`` (the replica's full current set).

    A release whose ``timestamp_ms`` is unchanged is assumed unchanged (listings are signed
    entries: a new version always has a new timestamp), so a re-sync costs one dictionary lookup
    per release. Listings absent from ``releases`` are removed.
    """
    added = updated = unchanged = 0
    with transaction(conn):
        known = dict(conn.execute("SELECT listing_id, timestamp_ms FROM catalog_releases"))
        seen: set[bytes] = set()
        for release in releases:
            seen.add(release.listing_id)
            previous = known.get(release.listing_id)
            if previous == release.timestamp_ms:
                unchanged += 1
                continue
            _write_release(conn, release)
            if previous is None:
                added += 1
            else:
                updated += 1
        vanished = [lid for lid in known if lid not in seen]
        removed = remove_releases(conn, vanished)
    if added + updated + removed >= _OPTIMIZE_AFTER:
        # A bulk load leaves many small FTS segments; merging them keeps queries fast.
        conn.execute("INSERT INTO catalog_fts (catalog_fts) VALUES ('optimize')")
    return CatalogSyncResult(added, updated, removed, unchanged)
