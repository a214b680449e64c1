"""Start the desktop app: QApplication, trio runtime, bridge, main window; stop them in order."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from PySide6.QtWidgets import QApplication

from app.bridge import Bridge, KdfLimits, NetworkFactory
from app.profile import Profile
from app.runtime import TrioRuntime
from app.ui.main_window import MainWindow
from app.ui.widgets import load_theme
from player.engine import Engine

log = logging.getLogger(__name__)


@dataclass
class AppParts:
    app: QApplication
    runtime: TrioRuntime
    bridge: Bridge
    window: MainWindow

    def shutdown(self) -> None:
        """Close the window, the session and the trio run (in that order)."""
        self.window.close()
        self.bridge.close_session()
        self.runtime.stop()


def qapp() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Cooptracks")
    app.setOrganizationName("Cooptracks")
    load_theme(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


def build(profile: Profile, network_factory: NetworkFactory | None = None,
          kdf: KdfLimits | None = None, engine: Engine | None = None,
          sync_interval_ms: int = 2000, title_note: str = "") -> AppParts:
    """Make every part of the app (the runtime is started; nothing is unlocked yet)."""
    app = qapp()
    runtime = TrioRuntime()
    runtime.start()
    runtime.wait_started()
    bridge = Bridge(profile, runtime, network_factory, kdf, sync_interval_ms)
    window = MainWindow(bridge, engine, title_note)
    return AppParts(app, runtime, bridge, window)


def run(profile: Profile, network_factory: NetworkFactory | None = None,
        passphrase: str | None = None, title_note: str = "") -> int:
    """Run the app until its window closes. With ``passphrase``, unlock right away (demo)."""
    parts = build(profile, network_factory, title_note=title_note)
    parts.window.show()
    if passphrase is not None:
        parts.onboarding_job = parts.bridge.unlock(passphrase)  # type: ignore[attr-defined]
        parts.onboarding_job.finished.connect(lambda _: parts.window._enter_app())  # type: ignore[attr-defined]
        parts.onboarding_job.failed.connect(parts.window.onboarding.message.show_error)  # type: ignore[attr-defined]
    code = parts.app.exec()
    parts.bridge.close_session()
    parts.runtime.stop()
    return int(code)
