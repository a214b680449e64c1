"""SQL scripts in migrations run statement by statement inside the migration's transaction."""

from __future__ import annotations

import sqlite3

import pytest

from ledger.migrations import run_script


def test_trigger_bodies_stay_whole_and_the_last_semicolon_is_optional():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    run_script(
        conn,
        """
        CREATE TABLE t (x INTEGER);
        CREATE TRIGGER t_no_delete BEFORE DELETE ON t
            BEGIN SELECT RAISE(ABORT, 'append-only'); END;
        INSERT INTO t VALUES (1)""",
    )
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM t")
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_an_incomplete_statement_is_refused():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(ValueError, match="incomplete SQL statement"):
        run_script(conn, "CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT 1;")
