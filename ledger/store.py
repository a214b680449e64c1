"""The durable, append-only SQLite store of entries and fork proofs.

The store knows nothing of validation: the Ledger decides what goes in. Entries and fork proofs
can never be updated or deleted (triggers refuse it). Writes happen in one transaction per batch
with ``synchronous=FULL`` in WAL mode, so an acknowledged batch survives a crash or power loss.

The entries table is a log in arrival order (its rowid) with no other index on disk. Lookups by
hash and by feed position go through maps in memory, built from the table when the store opens
and extended only when a batch commits. An on-disk index over entry hashes (random by nature) or
over (author, seq) (hundreds of feeds growing at once) made every batch dirty pages all over it,
so each commit wrote several KiB to the WAL per entry once a replica held 100k entries, and the
cost of storing an entry grew with the ledger; appending at the end of one B-tree does not.

Several processes may hold one profile's store open at once (the app, a seeder, CLI commands).
SQLite serializes their writes: ``begin()`` waits for the write lock (up to ``BUSY_TIMEOUT_S``),
then reads the rows and fork proofs that others committed since this store last looked and
returns them as ``Foreign``, so the caller can take them in before it validates and numbers its
own rows. ``changed_elsewhere()`` (SQLite's ``PRAGMA data_version``) tells a long-running
process cheaply whether another one committed, and ``catch_up()`` reads what it wrote.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ledger.errors import StorageError
from ledger.migrations import Migration, migrate

MIGRATIONS = [
    Migration(
        "0001_entries",
        """
        CREATE TABLE entries (
            rowid INTEGER PRIMARY KEY,
            hash BLOB NOT NULL UNIQUE,
            author BLOB NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            wire BLOB NOT NULL
        );
        CREATE UNIQUE INDEX entries_feed ON entries (author, seq);
        CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
            BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
            BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END
    """,
    ),
    Migration(
        "0002_fork_proofs",
        """
        CREATE TABLE fork_proofs (
            author BLOB NOT NULL,
            seq INTEGER NOT NULL,
            proof BLOB NOT NULL,
            PRIMARY KEY (author, seq)
        );
        CREATE TRIGGER fork_proofs_no_update BEFORE UPDATE ON fork_proofs
            BEGIN SELECT RAISE(ABORT, 'fork proofs are append-only'); END;
        CREATE TRIGGER fork_proofs_no_delete BEFORE DELETE ON fork_proofs
            BEGIN SELECT RAISE(ABORT, 'fork proofs are append-only'); END
    """,
    ),
    # A quarantined feed keeps both branches of a fork, so a position may hold two entries.
    Migration(
        "0003_feed_index_allows_fork_branches",
        """
        DROP INDEX entries_feed;
        CREATE INDEX entries_feed ON entries (author, seq)
    """,
    ),
    # The entries become a log in arrival order; hash and feed lookups move to memory (see the
    # module docstring). The UNIQUE column constraint cannot be dropped in place, so the table is
    # rebuilt with its rows and triggers (DROP TABLE's implicit delete fires no trigger).
    Migration(
        "0004_entries_as_a_log",
        """
        CREATE TABLE entries_log (
            rowid INTEGER PRIMARY KEY,
            hash BLOB NOT NULL,
            author BLOB NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            wire BLOB NOT NULL
        );
        INSERT INTO entries_log (rowid, hash, author, seq, kind, wire)
            SELECT rowid, hash, author, seq, kind, wire FROM entries ORDER BY rowid;
        DROP TABLE entries;
        ALTER TABLE entries_log RENAME TO entries;
        CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
            BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
            BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END
    """,
    ),
]


_INSERT_ENTRY = (
    "INSERT INTO entries (rowid, hash, author, seq, kind, wire) VALUES (?, ?, ?, ?, ?, ?)"
)
_IN_CHUNK = 500  # rowids per SELECT ... IN (...), well under SQLite's variable limit

Row = tuple[bytes, bytes, int, str, bytes]  # hash, author, seq, kind, wire
_INSERT_PROOF = "INSERT OR IGNORE INTO fork_proofs (author, seq, proof) VALUES (?, ?, ?)"

#: How long a write waits for another process's write transaction on the same file to end. An
#: import of a large backlog holds the lock for its whole batch; a CLI command waits for it.
BUSY_TIMEOUT_S = 60.0


class Foreign(NamedTuple):
    """What other processes committed to the store since it last looked, in commit order."""

    wires: list[bytes]
    proofs: list[bytes]


READ_ONLY = (
    "the profile is read-only here (its folder or file cannot be written); nothing was changed"
)


def open_sqlite(path: str, timeout: float = 5.0) -> tuple[sqlite3.Connection, bool]:
    """A connection in WAL mode, and whether it is read-only.

    A profile on a read-only disk or folder cannot hold WAL's shared-memory file, so SQLite
    refuses to open it at all; such a file is opened as immutable instead (reads work, a write
    raises "attempt to write a readonly database"). Nothing can change it while it is read-only.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        return conn, False
    except sqlite3.OperationalError:
        conn.close()
        file = Path(path)
        if (
            path == ":memory:"
            or not file.exists()
            or (os.access(file.parent, os.W_OK) and os.access(file, os.W_OK))
        ):
            raise
    conn = sqlite3.connect(
        f"{file.resolve().as_uri()}?immutable=1",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
        timeout=timeout,
    )
    return conn, True


def _storage_error(exc: sqlite3.Error) -> StorageError:
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return StorageError(READ_ONLY)
    if "locked" in text or "busy" in text:
        return StorageError(
            "another program using this profile kept the ledger busy for "
            f"{BUSY_TIMEOUT_S:.0f} s ({text}); nothing was changed"
        )
    return StorageError(f"could not write the ledger ({text}); nothing was changed")


class Store:
    """Entries (with their arrival order as rowid) and fork proofs in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit, so a batch is one transaction.
            self.conn, self.read_only = open_sqlite(self.path, BUSY_TIMEOUT_S)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(
                f"cannot open the ledger {self.path}: {getattr(exc, 'strerror', None) or exc}"
            ) from exc
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        # A 64 MiB page cache keeps the recent log pages a sync serves from in memory. Appends
        # touch only the log's last pages, so SQLite's default checkpoint (every 1,000 WAL pages)
        # copies each page back about once; a bigger WAL would only make each checkpoint a
        # longer pause. The WAL file is cut back to 64 MiB after a checkpoint.
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.execute("PRAGMA journal_size_limit=67108864")
        try:
            migrate(self.conn, MIGRATIONS)
        except sqlite3.Error as exc:
            self.conn.close()
            raise _storage_error(exc) from exc
        self._by_hash: dict[bytes, int] = {}  # entry hash -> rowid
        self._by_pos: dict[tuple[bytes, int], int] = {}  # (author, seq) -> first rowid there
        self._branches: dict[tuple[bytes, int], list[int]] = {}  # later rowids at a forked seq
        self._top: dict[bytes, int] = {}  # author -> highest seq stored
        self._staged: list[tuple[int, bytes, bytes, int]] = []  # (rowid, hash, author, seq)
        self._staged_hashes: set[bytes] = set()
        self._data_version = self._read_data_version()
        last = 0
        for rowid, entry_hash, author, seq in self.conn.execute(
            "SELECT rowid, hash, author, seq FROM entries ORDER BY rowid"
        ):
            self._remember(rowid, entry_hash, author, seq)
            last = rowid
        self._seen_rowid = last  # the highest rowid the maps hold
        self._next_rowid = last + 1
        self._seen_proof = self.conn.execute(
            "SELECT coalesce(max(rowid), 0) FROM fork_proofs"
        ).fetchone()[0]

    def _read_data_version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def changed_elsewhere(self) -> bool:
        """Whether another connection (another process) committed since the last call.

        One ``PRAGMA data_version``: cheap enough to poll a few times a second."""
        version = self._read_data_version()
        changed, self._data_version = version != self._data_version, version
        return changed

    def catch_up(self) -> Foreign:
        """Read the rows and fork proofs committed by others since this store last looked and
        add the rows to the lookups. Inside ``begin()``'s transaction nobody can add more."""
        wires: list[bytes] = []
        for rowid, entry_hash, author, seq, wire in self.conn.execute(
            "SELECT rowid, hash, author, seq, wire FROM entries WHERE rowid > ? ORDER BY rowid",
            (self._seen_rowid,),
        ):
            self._remember(rowid, entry_hash, author, seq)
            wires.append(wire)
            self._seen_rowid = rowid
        if not self._staged:
            self._next_rowid = self._seen_rowid + 1
        proofs: list[bytes] = []
        for rowid, proof in self.conn.execute(
            "SELECT rowid, proof FROM fork_proofs WHERE rowid > ? ORDER BY rowid",
            (self._seen_proof,),
        ):
            proofs.append(proof)
            self._seen_proof = rowid
        return Foreign(wires, proofs)

    def _remember(self, rowid: int, entry_hash: bytes, author: bytes, seq: int) -> None:
        self._by_hash.setdefault(entry_hash, rowid)
        slot = (author, seq)
        if self._by_pos.setdefault(slot, rowid) != rowid:
            self._branches.setdefault(slot, []).append(rowid)
        if seq > self._top.get(author, 0):
            self._top[author] = seq

    def close(self) -> None:
        self.conn.close()

    def append(
        self, rows: Sequence[Row], proofs: Sequence[tuple[bytes, int, bytes]] = ()
    ) -> Foreign:
        """Durably add entries ``(hash, author, seq, kind, wire)`` and fork proofs, all or none.

        Returns what other processes had committed before this write (see ``begin``)."""
        if not rows and not proofs:
            return Foreign([], [])
        foreign = self.begin()
        self.insert(rows)
        self.commit(proofs)
        return foreign

    # A batch in steps, so a caller can write rows while it still validates the rest of the batch:
    # begin(), insert() any number of times, then commit() (durable) or rollback(). Any failure
    # rolls the whole transaction back and raises StorageError. Rows become visible to the
    # lookups below only once their transaction has committed.
    def begin(self) -> Foreign:
        """Open the batch's write transaction, waiting while another process writes.

        Returns the rows and proofs other processes committed since this store last looked
        (already in the lookups): a caller that validates against memory takes them in first.
        """
        if self.read_only:
            raise StorageError(READ_ONLY)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            foreign = self.catch_up()
            self._data_version = self._read_data_version()
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise _storage_error(exc) from exc
        return foreign

    def insert(self, rows: Sequence[Row]) -> None:
        """Add entries inside the open transaction; nothing is durable before commit().

        An entry hash already stored (or already in this transaction) is refused with
        StorageError, and the whole transaction is rolled back."""
        if not rows:
            return
        first = self._next_rowid
        staged = self._staged_hashes
        numbered = []
        for i, (entry_hash, author, seq, kind, wire) in enumerate(rows, first):
            if entry_hash in self._by_hash or entry_hash in staged:
                self.rollback()
                raise StorageError(
                    f"entry {entry_hash.hex()[:12]} is already stored; nothing was changed"
                )
            staged.add(entry_hash)
            numbered.append((i, entry_hash, author, seq, kind, wire))
        self._in_transaction(self.conn.executemany, _INSERT_ENTRY, numbered)
        self._staged.extend((i, h, a, s) for i, h, a, s, _k, _w in numbered)
        self._next_rowid = first + len(numbered)

    def commit(self, proofs: Sequence[tuple[bytes, int, bytes]] = ()) -> None:
        """Add the fork proofs and commit the transaction durably (WAL, synchronous=FULL)."""
        if proofs:
            self._in_transaction(self.conn.executemany, _INSERT_PROOF, proofs)
        self._in_transaction(self.conn.execute, "COMMIT")
        for rowid, entry_hash, author, seq in self._staged:
            self._remember(rowid, entry_hash, author, seq)
            self._seen_rowid = rowid
        self._staged.clear()
        self._staged_hashes.clear()

    def rollback(self) -> None:
        """Drop everything written since begin(); harmless when no transaction is open."""
        self._next_rowid = self._seen_rowid + 1
        self._staged.clear()
        self._staged_hashes.clear()
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _in_transaction(self, call: Any, *args: Any) -> None:
        try:
            call(*args)
        except BaseException as exc:
            self.rollback()
            if isinstance(exc, sqlite3.Error):
                raise _storage_error(exc) from exc
            raise

    def _wires(self, rowids: Sequence[int]) -> list[bytes]:
        """The wires of ``rowids``, in that order."""
        found: dict[int, bytes] = {}
        for i in range(0, len(rowids), _IN_CHUNK):
            part = rowids[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(part))
            found.update(
                self.conn.execute(f"SELECT rowid, wire FROM entries WHERE rowid IN ({marks})", part)
            )
        return [found[r] for r in rowids]

    def iter_wires(self) -> Iterator[bytes]:
        """Every stored entry in arrival order, which respects dependencies and feed order."""
        for (wire,) in self.conn.execute("SELECT wire FROM entries ORDER BY rowid"):
            yield wire

    def wire(self, entry_hash: bytes) -> bytes | None:
        rowid = self._by_hash.get(entry_hash)
        return None if rowid is None else self._wires([rowid])[0]

    def has(self, entry_hash: bytes) -> bool:
        return entry_hash in self._by_hash

    def wire_at(self, author: bytes, seq: int) -> bytes | None:
        rowid = self._by_pos.get((author, seq))
        return None if rowid is None else self._wires([rowid])[0]

    def feed_range(self, author: bytes, first_seq: int, limit: int) -> list[bytes]:
        """Entries of one feed from ``first_seq`` on; a quarantined feed may hold two per seq."""
        rowids: list[int] = []
        seq = max(first_seq, 1)
        top = self._top.get(author, 0)
        while seq <= top and len(rowids) < limit:
            slot = (author, seq)
            first = self._by_pos.get(slot)
            if first is not None:
                rowids.append(first)
                rowids.extend(self._branches.get(slot, ()))
            seq += 1
        return self._wires(rowids[:limit])

    def count(self) -> int:
        return len(self._by_hash)

    def fork_proofs(self) -> list[bytes]:
        return [r[0] for r in self.conn.execute("SELECT proof FROM fork_proofs ORDER BY rowid")]

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])
