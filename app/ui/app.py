"""Start the desktop app: the unlock window first, then the runtime and services behind it.

Launch is staged so that the first window appears as fast as a bare Qt window would:

1. ``build()`` makes the QApplication, the theme and a window that holds only onboarding (the
   unlock screen of an existing profile, or the welcome screen). Nothing heavy is imported yet:
   no trio, no services, no SQLite, no crypto, no Qt Multimedia.
2. Once that window has painted, a Backend (app/ui/backend.py) imports the rest on a worker
   thread (so the window keeps answering keys and clicks meanwhile), then, back on the GUI thread,
   starts the trio runtime and the bridge and hands the bridge to the window.
3. The app proper (sidebar, views, player bar) is built when the identity is unlocked, each view
   on its first show.

A passphrase entered before step 2 has finished is kept and used as soon as the bridge exists.

The heap that startup leaves behind (modules, classes, Qt wrappers: some 60,000 objects, more
once the network is up) lives as long as the app, so it is moved out of the cyclic garbage
collector's sight (``gc.freeze``) once the services have loaded and again once the session is
open. A full collection otherwise walks all of it while holding the GIL: 60 to 90 ms on the
development machine, stalling the window whenever a sync on a worker thread triggers one.
And the app, which owns its process, shortens Python's thread switch interval from 5 ms to
``GUI_SWITCH_INTERVAL``: whenever the GUI thread needs the GIL while a worker (ingest, signature
checks) holds it, it waits that long before the worker is made to hand it over, and it may have
to wait several times per frame.
Code that needs the bridge right away (tests, scripts, the demo) reads ``AppParts.bridge``, which
finishes step 2 on the spot.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication

from app.profile import Profile
from app.ui.backend import Backend
from app.ui.main_window import MainWindow
from app.ui.widgets import load_theme

if TYPE_CHECKING:
    from app.bridge import Bridge, KdfLimits, NetworkFactory
    from app.runtime import TrioRuntime
    from player.engine import Engine

GUI_SWITCH_INTERVAL = 0.0005  # seconds; 1 ms and 0.2 ms stalled more (see docs/DECISIONS.md)


def tune_interpreter() -> None:
    """Settings for a process that runs the app and nothing else (see the module doc).

    ``run`` applies them; ``build(own_process=True)`` too. Tests that start several apps in
    one process leave them off: freezing there would keep earlier tests' windows alive.
    """
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)


class AppParts:
    """The app's parts. ``bridge`` and ``runtime`` finish loading them when first read."""

    def __init__(self, app: QApplication, window: MainWindow, backend: Backend) -> None:
        self.app = app
        self.window = window
        self.backend = backend

    @property
    def bridge(self) -> Bridge:
        return self.backend.wait()

    @property
    def runtime(self) -> TrioRuntime:
        self.backend.wait()
        assert self.backend.runtime is not None
        return self.backend.runtime

    def shutdown(self) -> None:
        """Close the window, the session and the trio run (in that order)."""
        self.window.close()
        self.backend.shutdown()


def qapp() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Cooptracks")
    app.setOrganizationName("Cooptracks")
    load_theme(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


def build(
    profile: Profile,
    network_factory: NetworkFactory | None = None,
    kdf: KdfLimits | None = None,
    engine: Engine | None = None,
    sync_interval_ms: int = 2000,
    title_note: str = "",
    own_process: bool = False,
) -> AppParts:
    """Make the app's window; the runtime and services load once it has painted.

    ``own_process``: this process runs this app only, so tune the interpreter for it.
    """
    if own_process:
        tune_interpreter()
    app = qapp()
    backend = Backend(profile, network_factory, kdf, sync_interval_ms, freeze_heap=own_process)
    window = MainWindow(profile, backend, engine, title_note)
    return AppParts(app, window, backend)


def run(
    profile: Profile,
    network_factory: NetworkFactory | None = None,
    passphrase: str | None = None,
    title_note: str = "",
) -> int:
    """Run the app until its window closes. With ``passphrase``, unlock right away (demo)."""
    parts = build(profile, network_factory, title_note=title_note, own_process=True)
    parts.window.show()
    if passphrase is not None:
        parts.window.onboarding.unlock_with(passphrase)
    code = parts.app.exec()
    parts.shutdown()
    return int(code)
