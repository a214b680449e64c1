"""Content keys this identity holds: its own releases, its purchases, delegations to it.

Keys are stored in the profile's ``keys.sqlite``, each sealed with a secretbox key derived from the
identity seed, so a copied profile folder without the passphrase reveals no content keys.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from nacl import secret

from ledger.keys import Signer
from ledger.migrations import Migration, migrate
from ledger.store import open_sqlite

MIGRATIONS = [
    Migration(
        "0001_content_keys",
        """
    CREATE TABLE content_keys (
        content BLOB PRIMARY KEY,
        sealed BLOB NOT NULL,
        source TEXT NOT NULL
    )""",
    )
]


class KeyStore:
    """content ID -> 32-byte key, encrypted at rest under the identity."""

    def __init__(self, path: Path, signer: Signer) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn, _read_only = open_sqlite(str(path))  # read-only profiles can be read
        migrate(self._conn, MIGRATIONS)
        box_key = hashlib.blake2b(signer.seed, person=b"ctrk-keystore", digest_size=32).digest()
        self._box = secret.SecretBox(box_key)

    def put(self, content: bytes, key: bytes, source: str, replace: bool = False) -> None:
        """Store ``key`` for ``content``; an existing key is kept unless ``replace`` (the caller
        checked that the new key opens the content and the old one does not)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self._conn.execute(
            f"{verb} INTO content_keys VALUES (?, ?, ?)",
            (content, bytes(self._box.encrypt(key)), source),
        )

    def get(self, content: bytes) -> bytes | None:
        row = self._conn.execute(
            "SELECT sealed FROM content_keys WHERE content = ?", (content,)
        ).fetchone()
        return None if row is None else bytes(self._box.decrypt(row[0]))

    def __contains__(self, content: bytes) -> bool:
        return (
            self._conn.execute(
                "SELECT 1 FROM content_keys WHERE content = ?", (content,)
            ).fetchone()
            is not None
        )

    def close(self) -> None:
        self._conn.close()
