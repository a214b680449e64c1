"""Named, transactional schema migrations for the SQLite files of a profile.

Each migration runs once, inside one transaction together with the row that records it, so a crash
leaves either the old schema or the new one. Migrations are never edited after release; a change
is a new migration appended to the list.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Step = Callable[[sqlite3.Connection], None] | str


@dataclass(frozen=True)
class Migration:
    name: str
    step: Step


def applied(conn: sqlite3.Connection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded, in order. Returns the names applied now."""
    done = set(applied(conn))
    ran = []
    for migration in migrations:
        if migration.name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Two processes opening one profile may race here: re-check under the write lock.
            if conn.execute(
                "SELECT 1 FROM _migrations WHERE name = ?", (migration.name,)
            ).fetchone():
                conn.execute("ROLLBACK")
                continue
            if isinstance(migration.step, str):
                run_script(conn, migration.step)
            else:
                migration.step(conn)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        ran.append(migration.name)
    return ran


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute several SQL statements inside the caller's transaction.

    ``sqlite3.Connection.executescript`` would COMMIT first, which would break a migration's
    all-or-nothing guarantee, so statements are split (trigger bodies included) and run one by one.
    As with ``executescript``, the last statement may omit its semicolon.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                conn.execute(pending)
            pending = ""
    if pending.strip():
        if not sqlite3.complete_statement(pending + ";"):
            raise ValueError(f"incomplete SQL statement: {pending.strip()[:80]}")
        conn.execute(pending)
