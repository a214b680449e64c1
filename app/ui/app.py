"""Start the desktop app: the unlock window first, then the runtime and services behind it.

Launch is staged so that the first window appears as fast as a bare Qt window would:

1. ``build()`` makes the QApplication, the theme and a window that holds only onboarding (the
   unlock screen of an existing profile, or the welcome screen). Nothing heavy is imported yet:
   no trio, no services, no SQLite, no crypto, no Qt Multimedia.
2. Once that window has painted, a :class:`Backend` imports the rest on a worker thread (so the
   window keeps answering keys and clicks meanwhile), then, back on the GUI thread, starts the trio
   runtime and the bridge and hands the bridge to the window.
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

import gc
import importlib
import sys
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from app.profile import Profile
from app.ui.main_window import MainWindow
from app.ui.widgets import load_theme

if TYPE_CHECKING:
    from app.bridge import Bridge, KdfLimits, NetworkFactory
    from app.runtime import TrioRuntime
    from player.engine import Engine

# Loaded on a worker thread after the first paint, in this order (later ones need earlier ones).
# The views and the player bar come last: they are needed only after unlocking.
BACKEND_MODULES = ("trio", "app.runtime", "app.bridge", "app.services.ui_support",
                   "app.ui.player_bar", "app.ui.store", "app.ui.library")


GUI_SWITCH_INTERVAL = 0.0005  # seconds; 1 ms and 0.2 ms stalled more (see docs/DECISIONS.md)
SESSION_SETTLE_MS = 2000  # the network's modules and the first view are loaded by then


def tenure_heap() -> None:
    """Exempt every object alive now from future cyclic collections (see the module doc).

    Objects frozen here are still freed by reference counting; only a cycle among them that
    becomes garbage later is kept, and startup objects do not become garbage.
    """
    gc.freeze()


def tune_interpreter() -> None:
    """Settings for a process that runs the app and nothing else (see the module doc).

    ``run`` applies them; ``build(own_process=True)`` too. Tests that start several apps in
    one process leave them off: freezing there would keep earlier tests' windows alive.
    """
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)


class Backend(QObject):
    """Imports the heavy modules off the GUI thread, then makes the runtime and the bridge."""

    ready = Signal(object)  # the Bridge
    failed = Signal(str)  # a sentence for the unlock window
    _imported = Signal()

    def __init__(self, profile: Profile, network_factory: NetworkFactory | None,
                 kdf: KdfLimits | None, sync_interval_ms: int, freeze_heap: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._freeze_heap = freeze_heap
        self.profile = profile
        self._network_factory = network_factory
        self._kdf = kdf
        self._sync_interval_ms = sync_interval_ms
        self.runtime: TrioRuntime | None = None
        self.bridge: Bridge | None = None
        self._thread: threading.Thread | None = None
        self._import_error: BaseException | None = None
        self._ready = False
        self._imported.connect(self._finish)

    def start(self) -> None:
        """Begin loading in the background (idempotent)."""
        if self._thread is not None or self.bridge is not None:
            return
        self._thread = threading.Thread(target=self._import, name="cooptracks-startup",
                                        daemon=True)
        self._thread.start()

    def _import(self) -> None:
        try:
            for name in BACKEND_MODULES:
                importlib.import_module(name)
        except BaseException as exc:  # reported on the GUI thread by _finish
            self._import_error = exc
        self._imported.emit()

    @property
    def is_ready(self) -> bool:
        return self._ready

    def wait(self) -> Bridge:
        """Finish loading now (pumping Qt events if need be) and return the bridge."""
        if not self._ready:
            self.start()
            assert self._thread is not None
            self._thread.join()
            self._finish()
            assert self.runtime is not None
            if not self.runtime.wait_started():
                raise RuntimeError("the trio runtime did not start")
        assert self.bridge is not None
        return self.bridge

    def shutdown(self) -> None:
        """Close the session and stop the runtime (after loading finishes, if under way)."""
        if self._thread is None:
            return
        self._thread.join()
        if self._import_error is not None:
            return
        self.wait().close_session()
        assert self.runtime is not None
        self.runtime.stop()

    def _finish(self) -> None:
        if self.runtime is not None:
            return
        if self._import_error is not None:
            err = self._import_error
            self.failed.emit(f"Cooptracks could not load its services: {type(err).__name__}: "
                             f"{err}. Reinstalling it may help.")
            raise RuntimeError("the app could not load its services") from err
        from app.bridge import Bridge
        from app.runtime import TrioRuntime

        self.runtime = TrioRuntime()
        self.bridge = Bridge(self.profile, self.runtime, self._network_factory, self._kdf,
                             self._sync_interval_ms)
        self.runtime.started.connect(self._on_started)
        if self._freeze_heap:
            self.bridge.sessionOpened.connect(
                lambda: QTimer.singleShot(SESSION_SETTLE_MS, tenure_heap))
        self.runtime.start()

    def _on_started(self) -> None:
        # Trio's first step has run: the runtime accepts tasks, so the bridge is usable.
        self._ready = True
        if self._freeze_heap:
            tenure_heap()
        self.ready.emit(self.bridge)


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


def build(profile: Profile, network_factory: NetworkFactory | None = None,
          kdf: KdfLimits | None = None, engine: Engine | None = None,
          sync_interval_ms: int = 2000, title_note: str = "",
          own_process: bool = False) -> AppParts:
    """Make the app's window; the runtime and services load once it has painted.

    ``own_process``: this process runs this app only, so tune the interpreter for it.
    """
    if own_process:
        tune_interpreter()
    app = qapp()
    backend = Backend(profile, network_factory, kdf, sync_interval_ms, freeze_heap=own_process)
    window = MainWindow(profile, backend, engine, title_note)
    return AppParts(app, window, backend)


def run(profile: Profile, network_factory: NetworkFactory | None = None,
        passphrase: str | None = None, title_note: str = "") -> int:
    """Run the app until its window closes. With ``passphrase``, unlock right away (demo)."""
    parts = build(profile, network_factory, title_note=title_note, own_process=True)
    parts.window.show()
    if passphrase is not None:
        parts.window.onboarding.unlock_with(passphrase)
    code = parts.app.exec()
    parts.shutdown()
    return int(code)
