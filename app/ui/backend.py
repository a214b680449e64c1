"""The app's back half, loaded behind the first window: trio, the bridge, the services, the views.

:class:`Backend` imports them on a worker thread once the unlock window has painted, then, on the
GUI thread, starts the trio runtime and the bridge (see app/ui/app.py for the launch stages and
docs/DECISIONS.md for the heap freezing). The window holds a Backend; this module knows nothing
of the window.
"""

from __future__ import annotations

import gc
import importlib
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from app.profile import Profile

if TYPE_CHECKING:
    from app.bridge import Bridge, KdfLimits, NetworkFactory
    from app.runtime import TrioRuntime

# Loaded on a worker thread after the first paint, in this order (later ones need earlier ones).
# The views and the player bar come last: they are needed only after unlocking.
BACKEND_MODULES = (
    "trio",
    "app.runtime",
    "app.bridge",
    "app.services.session",
    "app.ui.player_bar",
    "app.ui.store",
    "app.ui.library",
)


SESSION_SETTLE_MS = 2000  # the network's modules and the first view are loaded by then


def tenure_heap() -> None:
    """Exempt every object alive now from future cyclic collections (see app/ui/app.py).

    Objects frozen here are still freed by reference counting; only a cycle among them that
    becomes garbage later is kept, and startup objects do not become garbage.
    """
    gc.freeze()


class Backend(QObject):
    """Imports the heavy modules off the GUI thread, then makes the runtime and the bridge."""

    ready = Signal(object)  # the Bridge
    failed = Signal(str)  # a sentence for the unlock window
    _imported = Signal()

    def __init__(
        self,
        profile: Profile,
        network_factory: NetworkFactory | None,
        kdf: KdfLimits | None,
        sync_interval_ms: int,
        freeze_heap: bool = False,
        parent: QObject | None = None,
    ) -> None:
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
        self._thread = threading.Thread(target=self._import, name="cooptracks-startup", daemon=True)
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
            self.failed.emit(
                f"Cooptracks could not load its services: {type(err).__name__}: "
                f"{err}. Reinstalling it may help."
            )
            raise RuntimeError("the app could not load its services") from err
        from app.bridge import Bridge
        from app.runtime import TrioRuntime

        self.runtime = TrioRuntime()
        self.bridge = Bridge(
            self.profile, self.runtime, self._network_factory, self._kdf, self._sync_interval_ms
        )
        self.runtime.started.connect(self._on_started)
        if self._freeze_heap:
            self.bridge.sessionOpened.connect(
                lambda: QTimer.singleShot(SESSION_SETTLE_MS, tenure_heap)
            )
        self.runtime.start()

    def _on_started(self) -> None:
        # Trio's first step has run: the runtime accepts tasks, so the bridge is usable.
        self._ready = True
        if self._freeze_heap:
            tenure_heap()
        self.ready.emit(self.bridge)
