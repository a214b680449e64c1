"""A profile directory holds everything one identity owns on this machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# json and platformdirs are imported where used: the desktop app's first window needs this
# module, and those two cost it 10-15 ms of launch.

PROFILE_ENV = "COOPTRACKS_PROFILE"


def default_profile_dir() -> Path:
    """The default profile: ``$COOPTRACKS_PROFILE`` or the platform's user data folder."""
    env = os.environ.get(PROFILE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("cooptracks", appauthor=False)) / "default"


@dataclass(frozen=True)
class Profile:
    """Paths inside one profile directory. Creating the object touches nothing on disk."""

    root: Path

    @property
    def identity_file(self) -> Path:
        return self.root / "identity.json"

    @property
    def ledger_db(self) -> Path:
        return self.root / "ledger.sqlite"

    @property
    def library_db(self) -> Path:
        return self.root / "library.sqlite"

    @property
    def keys_db(self) -> Path:
        """Content keys this identity holds (its own releases, purchases, delegations)."""
        return self.root / "keys.sqlite"

    @property
    def content_dir(self) -> Path:
        """Chunk store for encrypted tracks and clear previews."""
        return self.root / "content"

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def restore_marker(self) -> Path:
        """Present after a restore until the identity's own feed was pulled from peers."""
        return self.root / "restore-pending"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def read_config(self) -> dict[str, Any]:
        """The profile's settings (``config.json``); empty when there is none yet.

        A damaged file is an error, never silently replaced: writing over it would lose every
        setting it still holds.
        """
        import json

        try:
            doc = json.loads(self.config_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            from app.services.errors import UserError

            raise UserError(f"cannot read {self.config_file}: {exc}") from exc
        return doc if isinstance(doc, dict) else {}

    def update_config(self, **changes: Any) -> dict[str, Any]:
        """Change some settings, keeping the others; the file is replaced atomically."""
        import json

        doc = {**self.read_config(), **changes}
        self.ensure()
        tmp = self.config_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=2, sort_keys=True))
        os.replace(tmp, self.config_file)
        return doc

    def ensure(self) -> Profile:
        """Create the directory if need be and make it and its databases private to this user
        (0700 and 0600), also when the folder already existed: what is in a profile (keys,
        purchases, the library) is nobody else's business on a shared machine."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.name == "posix":
            _private(self.root, 0o700)
            for db in (self.ledger_db, self.keys_db, self.library_db):
                # SQLite gives its -wal and -shm files the mode of the database file.
                try:
                    os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                except FileExistsError:
                    _private(db, 0o600)
        return self


def _private(path: Path, mode: int) -> None:
    """Take group and other permissions away from ``path`` (if we own it)."""
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, mode)
    except OSError:
        pass  # not ours, or gone: nothing we can do, nor need to
