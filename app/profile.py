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
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.config_file)
        return doc

    def ensure(self) -> Profile:
        """Create the directory (private to this user) if it does not exist."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self
