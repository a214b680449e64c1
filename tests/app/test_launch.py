"""Launch in stages: the unlock window paints before the services load, takes a passphrase
typed meanwhile, and says so plainly if the services cannot load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nacl import pwhash
from PySide6.QtCore import Qt

import app.ui.backend as backend_module
from app.profile import Profile
from app.services.identity import IdentityService
from tests.app.helpers import create

ROOT = Path(__file__).resolve().parents[2]

_FIRST_PAINT = """
import json, sys
from pathlib import Path
from app.profile import Profile
from app.ui.app import build
parts = build(Profile(Path(sys.argv[1])))
parts.window.show()
parts.app.processEvents()
parts.window.grab()
import PySide6.QtCore
heavy = ["trio", "nacl", "sqlite3", "app.bridge", "app.services.core", "libp2p", "av",
         "numpy", "mutagen", "PySide6.QtMultimedia", "app.ui.store"]
print(json.dumps({"loaded": [m for m in heavy if m in sys.modules],
                  "qt_namespace": "Qt" in PySide6.QtCore.__dict__,
                  "step": parts.window.onboarding.stack.currentIndex()}))
"""


def _identity(profile: Path) -> None:
    IdentityService(
        Profile(profile), pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN
    ).create("correct horse battery", "Ada")


def test_first_paint_loads_nothing_heavy(tmp_path: Path) -> None:
    """The unlock window is up with none of the services, crypto, storage or audio loaded."""
    _identity(tmp_path / "me")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_PAINT, str(tmp_path / "me")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"loaded": [], "qt_namespace": False, "step": 3}


def test_a_passphrase_typed_while_loading_unlocks(qtbot, launch, tmp_path: Path) -> None:
    _identity(tmp_path / "me")
    parts = launch(tmp_path / "me")
    ob = parts.window.onboarding
    assert not parts.backend.is_ready  # nothing has loaded yet: no event has run
    qtbot.keyClicks(ob.unlock_pass, "correct horse battery")
    qtbot.mouseClick(ob.unlock_btn, Qt.MouseButton.LeftButton)
    assert ob.busy.isVisibleTo(ob) and not ob.unlock_btn.isEnabled()
    qtbot.waitUntil(lambda: parts.window.root.currentIndex() == 1, timeout=15_000)
    assert "Ada" in parts.window.who.text()


def test_services_that_cannot_load_are_reported(qtbot, launch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(
        backend_module, "BACKEND_MODULES", (*backend_module.BACKEND_MODULES, "app.no_such_module")
    )
    parts = launch(tmp_path / "me")
    ob = parts.window.onboarding
    with qtbot.captureExceptions() as raised:
        qtbot.waitUntil(lambda: ob.message.isVisible(), timeout=15_000)
    assert "could not load its services" in ob.message.text()
    assert "no_such_module" in ob.message.text()
    assert [type(e[1]) for e in raised] == [RuntimeError]
    assert ob.to_create.isEnabled()


def test_views_are_built_on_first_show(qtbot, launch, tmp_path: Path) -> None:
    parts = launch(tmp_path / "me")
    create(qtbot, parts, "Ada", "correct horse battery")
    window = parts.window
    assert set(window._views) == {"store"}
    window.show_named("wallet")
    assert set(window._views) == {"store", "wallet"}
    assert window.pages.currentWidget() is window.wallet
