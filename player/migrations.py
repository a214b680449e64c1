"""Named, transactional schema migrations for the player's SQLite databases.

Each migration is a function with a unique name, applied at most once, inside its own
transaction together with the row in ``_migrations`` that records it. A crash half-way through a
migration therefore leaves the database at the previous version, never in between. Migrations are
applied in the order they were registered; never rename or reorder one that has shipped.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MigrationFn = Callable[[sqlite3.Connection], None]


@dataclass
class Migrations:
    """An ordered set of named migrations for one database."""

    name: str
    _steps: list[tuple[str, MigrationFn]] = field(default_factory=list)

    def __call__(self, fn: MigrationFn) -> MigrationFn:
        """Register ``fn`` as the next migration, named after the function."""
        if any(name == fn.__name__ for name, _ in self._steps):
            raise ValueError(f"duplicate migration name {fn.__name__!r}")
        self._steps.append((fn.__name__, fn))
        return fn

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._steps]

    def applied(self, conn: sqlite3.Connection) -> list[str]:
        """Names already applied to ``conn``, in order."""
        self._ensure_table(conn)
        rows = conn.execute(
            "SELECT name FROM _migrations WHERE migration_set = ? ORDER BY rowid", (self.name,)
        ).fetchall()
        return [r[0] for r in rows]

    def apply(self, conn: sqlite3.Connection) -> list[str]:
        """Apply every pending migration; returns the names applied now."""
        done = set(self.applied(conn))
        applied_now: list[str] = []
        for name, fn in self._steps:
            if name in done:
                continue
            # Explicit BEGIN IMMEDIATE: two processes opening one profile must not both migrate.
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-check under the write lock in case another connection just applied it.
                if conn.execute(
                    "SELECT 1 FROM _migrations WHERE migration_set = ? AND name = ?",
                    (self.name, name),
                ).fetchone():
                    conn.execute("ROLLBACK")
                    continue
                fn(conn)
                conn.execute(
                    "INSERT INTO _migrations (migration_set, name, applied_ms) VALUES (?, ?, ?)",
                    (self.name, name, int(time.time() * 1000)),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied_now.append(name)
        return applied_now

    @staticmethod
    def _ensure_table(conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations ("
            " migration_set TEXT NOT NULL, name TEXT NOT NULL, applied_ms INTEGER NOT NULL,"
            " PRIMARY KEY (migration_set, name))"
        )

