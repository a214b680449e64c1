"""One trio runtime inside Qt's event loop (trio guest mode), started and stopped with the app.

Trio runs as a *guest* of the Qt loop (``trio.lowlevel.start_guest_run``): trio's scheduler
steps run on the GUI thread, handed over through Qt events, while trio waits for I/O on a helper
thread of its own. So trio tasks may touch widgets directly, and anything blocking goes to
``trio.to_thread.run_sync``. This is qtrio's approach, reduced to what Cooptracks needs.

``TrioRuntime.start()`` opens a nursery that lives as long as the runtime; ``spawn(fn, *args)``
starts a task in it from Qt code (thread-safe, through the trio token); ``stop()`` cancels every
task and returns once trio has finished (pumping Qt events meanwhile, never blocking outright).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import trio
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, QTimer, Signal

log = logging.getLogger(__name__)

_EVENT_TYPE = QEvent.Type(QEvent.registerEventType())


class _CallEvent(QEvent):
    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(_EVENT_TYPE)
        self.fn = fn


class _Reenter(QObject):
    """Runs the callables trio hands over, on the thread this object lives in (the GUI)."""

    def event(self, event: QEvent) -> bool:
        if event.type() == _EVENT_TYPE:
            event.fn()  # type: ignore[attr-defined]
            return True
        return super().event(event)


class TrioRuntime(QObject):
    """The app's trio event loop, running as a guest of Qt's."""

    started = Signal()
    stopped = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reenter = _Reenter()
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._running = False
        self._done = False
        self.outcome: outcome.Outcome | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running and not self._done

    def start(self) -> None:
        """Start the guest run; the nursery is ready once ``started`` is emitted."""
        if self._running:
            return
        self._running = True
        self._done = False
        trio.lowlevel.start_guest_run(
            self._main,
            run_sync_soon_threadsafe=self._run_sync_soon_threadsafe,
            done_callback=self._on_done,
            # The host loop is the GUI thread's: a plain post is fine there too.
            run_sync_soon_not_threadsafe=self._run_sync_soon_threadsafe,
            strict_exception_groups=True,
        )

    def _run_sync_soon_threadsafe(self, fn: Callable[[], Any]) -> None:
        QCoreApplication.postEvent(self._reenter, _CallEvent(fn))

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            self._cancel = scope
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.started.emit()
                await trio.sleep_forever()
        self._nursery = None

    def _on_done(self, result: outcome.Outcome) -> None:
        self.outcome = result
        self._done = True
        self._running = False
        if isinstance(result, outcome.Error):
            log.error(
                "trio runtime ended with an error:\n%s",
                "".join(traceback.format_exception(result.error)),
            )
        self.stopped.emit()

    def wait_started(self, timeout_ms: int = 5000) -> bool:
        """Pump Qt events until the nursery exists (used at startup and in tests)."""
        return self._pump_until(lambda: self._nursery is not None or self._done, timeout_ms)

    def stop(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every task and wait (pumping Qt events) for trio to finish."""
        if not self._running or self._done:
            return True
        if self._token is None:
            self.wait_started(timeout_ms)
        if self._token is not None and self._cancel is not None:
            scope = self._cancel
            try:
                self._token.run_sync_soon(scope.cancel)
            except trio.RunFinishedError:
                pass
        return self._pump_until(lambda: self._done, timeout_ms)

    @staticmethod
    def _pump_until(cond: Callable[[], bool], timeout_ms: int) -> bool:
        if cond():
            return True
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(5)
        poll.timeout.connect(lambda: loop.quit() if cond() else None)
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        poll.start()
        deadline.start(timeout_ms)
        loop.exec()
        poll.stop()
        return cond()

    # -- scheduling --------------------------------------------------------------------------
    def call_soon(self, fn: Callable[[], Any]) -> None:
        """Run synchronous ``fn`` inside trio's run loop (e.g. to cancel a scope)."""
        if self._token is None or self._done:
            return
        try:
            self._token.run_sync_soon(fn)
        except trio.RunFinishedError:
            pass

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start ``fn(*args)`` as a task of the runtime's nursery. Callable from any thread."""
        if self._token is None or self._done:
            raise RuntimeError("the trio runtime is not running")

        def start() -> None:
            if self._nursery is not None:
                self._nursery.start_soon(fn, *args)

        try:
            self._token.run_sync_soon(start)
        except trio.RunFinishedError as exc:
            raise RuntimeError("the trio runtime has stopped") from exc
