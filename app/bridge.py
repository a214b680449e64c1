"""The one seam between the Qt UI and the services (Electrum's pattern, with trio underneath).

``Bridge`` owns the session (the unlocked identity's services and its network). Views never
call a service directly: they ask the bridge, which runs the blocking call on a worker thread
(``trio.to_thread.run_sync`` inside the app's trio guest run) and answers with a :class:`Job`
whose ``finished``/``failed``/``progress`` signals arrive on the GUI thread. Service events (the
closed catalogue in ``app.services.events``) become the bridge's Qt signals, one per event type.
A ``UserError`` reaches the UI as its message; any other exception is logged and shown as a
short sentence, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from PySide6.QtCore import QObject, Signal

from app import cover_images
from app.profile import Profile
from app.runtime import TrioRuntime
from app.services.errors import UserError
from app.services.events import (
    DownloadProgress,
    Event,
    ForkDetected,
    LedgerChanged,
    Notice,
    PeersChanged,
    PurchaseFulfilled,
    PurchaseMade,
    SaleFulfilled,
)
from app.services.identity import MEMLIMIT, OPSLIMIT, IdentityService
from app.services.profiles import checked
from app.services.session import Network, Session
from ledger.errors import LedgerError

if TYPE_CHECKING:  # the studio pulls in the audio encoders: load it on first use
    from app.services.export import ExportPlan, ExportService
    from app.services.studio import ReleaseDraft

log = logging.getLogger(__name__)

NetworkFactory = Callable[[], Network]


class Job(QObject):
    """One piece of background work. Signals arrive on the GUI thread."""

    progress = Signal(int, int, str)  # done, total, what
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.cancel_event = threading.Event()
        self.done = False
        self.result: Any = None
        self.error: str | None = None

    def cancel(self) -> None:
        """Ask the work to stop at its next checkpoint (it ends with a ``failed`` message)."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def _finish(self, result: Any) -> None:
        self.done, self.result = True, result
        self.finished.emit(result)

    def _fail(self, message: str) -> None:
        self.done, self.error = True, message
        self.failed.emit(message)


class ExportJob(Job):
    """An export: ``step`` carries each ``app.services.export.ExportProgress`` (per track and
    in total); ``progress`` says the same as (permille done, 1000, track title)."""

    step = Signal(object)


@dataclass(frozen=True)
class KdfLimits:
    opslimit: int = OPSLIMIT
    memlimit: int = MEMLIMIT


class Bridge(QObject):
    """Owns the session; runs service calls off the GUI thread; re-emits service events."""

    # one Qt signal per catalogue event
    ledgerChanged = Signal(int)  # entries accepted
    purchaseMade = Signal(bytes)  # purchase id
    purchaseFulfilled = Signal(bytes)  # purchase id
    saleFulfilled = Signal(bytes)  # purchase id
    forkDetected = Signal(str)  # a sentence
    downloadProgress = Signal(bytes, int, int)  # content, have, total
    peersChanged = Signal(int)
    notice = Signal(str, bool)  # text, is_error
    # bridge lifecycle
    sessionOpened = Signal()
    sessionClosed = Signal()

    def __init__(
        self,
        profile: Profile,
        runtime: TrioRuntime,
        network_factory: NetworkFactory | None = None,
        kdf: KdfLimits | None = None,
        sync_interval_ms: int = 2000,
        auto_download: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.profile = profile
        self.runtime = runtime
        self._network_factory = network_factory
        self._kdf = kdf or KdfLimits()
        self.identity = IdentityService(profile, self._kdf.opslimit, self._kdf.memlimit)
        self.session: Session | None = None
        self.sync_interval = sync_interval_ms / 1000
        self.auto_download = auto_download
        self._core_limiter: trio.CapacityLimiter | None = None
        self._io_limiter: trio.CapacityLimiter | None = None
        self._downloads: dict[bytes, Job] = {}
        self._exports: list[Job] = []  # running exports, cancelled when the session closes
        self._unsubscribe: Callable[[], None] | None = None
        self._sync_scope: trio.CancelScope | None = None
        self._network_scope: trio.CancelScope | None = None
        self._network_running = False
        self.jobs_running = 0
        self._in_threads = 0  # worker threads running service code right now

    # -- scheduling ----------------------------------------------------------------------------
    def _limiters(self) -> tuple[trio.CapacityLimiter, trio.CapacityLimiter]:
        if self._core_limiter is None or self._io_limiter is None:
            # One worker at a time touches the ledger/keys/library; downloads run beside it.
            self._core_limiter = trio.CapacityLimiter(1)
            self._io_limiter = trio.CapacityLimiter(2)
        return self._core_limiter, self._io_limiter

    def run(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        io: bool = False,
        job: Job | None = None,
    ) -> Job:
        """Run blocking ``fn(*args)`` on a worker thread; the Job reports back on the GUI."""
        job = job or Job(name, self)
        self.runtime.spawn(self._run_job, job, fn, args, io)
        return job

    async def _run_job(
        self, job: Job, fn: Callable[..., Any], args: Sequence[Any], io: bool
    ) -> None:
        core_lim, io_lim = self._limiters()
        self.jobs_running += 1
        try:
            result = await self._thread(lambda: fn(*args), io_lim if io else core_lim)
        except (UserError, LedgerError) as err:  # both carry a sentence for people
            job._fail(str(err))
        except (OSError, sqlite3.Error) as exc:  # the disk or the profile folder
            log.warning("%s failed: %r", job.name, exc)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if not os.access(self.profile.root, os.W_OK):
                reason = (
                    "it is read-only here; the app needs to write to it, while `cooptracks "
                    "wallet` and `catalog` can read it"
                )
            job._fail(
                f"{job.name} failed: the profile folder {self.profile.root} could not "
                f"be used ({reason})"
            )
        except Exception as exc:  # shown as a sentence; the traceback goes to the log
            log.exception("%s failed", job.name)
            job._fail(f"{job.name} failed: {type(exc).__name__}: {exc}")
        else:
            job._finish(result)
        finally:
            self.jobs_running -= 1

    async def _thread(self, fn: Callable[[], Any], limiter: trio.CapacityLimiter) -> Any:
        """Run ``fn`` on a worker thread, counted so that shutdown can wait for it."""
        self._in_threads += 1
        try:
            return await trio.to_thread.run_sync(fn, limiter=limiter)
        finally:
            self._in_threads -= 1

    def _progress_cb(self, job: Job) -> Callable[[int, int, str], None]:
        """A progress callback for worker threads: emits the job's signal (queued to GUI)."""

        def report(done: int, total: int, what: str = "") -> None:
            job.progress.emit(done, total, what)

        return report

    def call(self, method: str, *args: Any, io: bool = False) -> Job:
        """Run ``session.<method>(*args)`` on a worker thread."""
        if self.session is None:
            job = Job(method, self)
            self.runtime.spawn(self._fail_soon, job, "unlock your identity first")
            return job
        return self.run(method, getattr(self.session, method), *args, io=io)

    def exchange(self, method: str, *args: Any) -> Job:
        """Run ``session.exchange.<method>(*args)`` (the Exchange view's desk) on a worker."""
        if self.session is None:
            return self.call(method)
        return self.run(method, getattr(self.session.exchange, method), *args)

    def community(self, method: str, *args: Any) -> Job:
        """Run ``session.community.<method>(*args)`` (the Community view's desk) on a worker."""
        if self.session is None:
            return self.call(method)
        return self.run(method, getattr(self.session.community, method), *args)

    def artists(self, method: str, *args: Any) -> Job:
        """Run ``session.artists.<method>(*args)`` (the artist page's desk) on a worker."""
        if self.session is None:
            return self.call(method)
        return self.run(method, getattr(self.session.artists, method), *args)

    def funding(self, method: str, *args: Any) -> Job:
        """Run ``session.funding.<method>(*args)`` (campaigns, stakes, passes) on a worker."""
        if self.session is None:
            return self.call(method)
        return self.run(method, getattr(self.session.funding, method), *args)

    @staticmethod
    async def _fail_soon(job: Job, message: str) -> None:
        job._fail(message)

    # -- identity and session ------------------------------------------------------------------
    def identity_exists(self) -> bool:
        return self.identity.exists()

    def create_identity(self, passphrase: str, name: str) -> Job:
        return self.run("Creating your identity", self._create_and_open, passphrase, name)

    def restore_identity(self, phrase: str, passphrase: str, name: str = "") -> Job:
        return self.run("Restoring your identity", self._restore_and_open, phrase, passphrase, name)

    def unlock(self, passphrase: str) -> Job:
        job = self.run("Unlocking", self._open, passphrase)
        return job

    def _create_and_open(self, passphrase: str, name: str) -> Session:
        if name.strip():
            checked(name, "", ())  # a name the ledger would refuse stops before anything exists
        self.identity.create(passphrase, name)
        return self._open(passphrase, publish_name=name)

    def _restore_and_open(self, phrase: str, passphrase: str, name: str) -> Session:
        self.identity.restore(phrase, passphrase, name)
        return self._open(passphrase)

    def _open(self, passphrase: str, publish_name: str = "") -> Session:
        signer = self.identity.unlock(passphrase)
        network = self._network_factory() if self._network_factory else None
        session = Session(self.profile, signer, network, self.identity)
        try:
            if publish_name.strip():  # a new identity's chosen name is public: peers show it
                session.profiles.publish(publish_name)
            session.sync_search_index()
            self._start_network(session)
        except BaseException:
            session.close()
            raise
        self._attach(session)
        return session

    def _start_network(self, session: Session, timeout_s: float = 30.0) -> None:
        """Start the session's node in the runtime's nursery; wait (on this worker thread)
        until it listens. It runs until ``close_session``."""
        ready = threading.Event()
        failure: list[BaseException] = []
        self._network_running = True
        self.runtime.spawn(self._network_task, session, ready, failure)
        ready.wait(timeout_s)
        if failure or not ready.is_set():
            if self._network_scope is not None:
                self.runtime.call_soon(self._network_scope.cancel)
                self._network_scope = None
            reason = failure[0] if failure else "it did not start in time"
            raise UserError(
                f"the swarm node could not start: {reason}",
                hint="check the listen address in the profile's config.json",
            )

    async def _network_task(
        self, session: Session, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        try:
            with trio.CancelScope() as scope:
                self._network_scope = scope
                await session.network.serve(session.core, ready.set)
        except Exception as exc:  # the node failed: say so, keep the app (and its replica)
            log.exception("the swarm node stopped")
            failure.append(exc)
            if ready.is_set():
                self.notice.emit(f"the swarm node stopped: {exc}", True)
        finally:
            self._network_running = False
            ready.set()

    def _attach(self, session: Session) -> None:
        # Called on the worker thread; the signal hops to the GUI thread.
        self.session = session
        self._unsubscribe = session.core.events.subscribe(self._on_event)
        self.runtime.spawn(self._after_open)

    async def _after_open(self) -> None:
        self.sessionOpened.emit()
        with trio.CancelScope() as scope:
            self._sync_scope = scope
            await self._sync_loop()

    async def _sync_loop(self) -> None:
        """Sync with peers now and then; fetch newly owned tracks."""
        core_lim, _ = self._limiters()
        while self.session is not None:
            session = self.session
            try:
                report = await self._thread(session.refresh, core_lim)
                await self._thread(session.funding.watch, core_lim)  # distributions, closes
                # Purchased tracks first: covers are anybody's content and may fail.
                if self.auto_download and self.session is session:
                    missing = await self._thread(session.missing_downloads, core_lim)
                    for content in missing:
                        self.download(content)
                if report.received:
                    self.peersChanged.emit(len(session.network_status().peers))
            except UserError as err:
                self.notice.emit(str(err), True)
            except Exception:
                log.exception("sync failed")
            try:
                _, io_lim = self._limiters()
                arrived = await self._thread(session.fetch_artwork, io_lim)
                decoded = await self._thread(functools.partial(_prepare_covers, session), io_lim)
                if arrived or decoded:
                    self.ledgerChanged.emit(0)  # nothing new in the ledger; covers to show
            except Exception:  # fetch_artwork isolates each cover; this is a last resort
                log.exception("fetching covers failed")
            await trio.sleep(self.sync_interval)

    def sync_now(self) -> Job:
        return self.call("refresh")

    def close_session(self, timeout_ms: int = 10_000) -> None:
        """Forget the session: stop syncing, let running service calls end, close databases.

        Waits (pumping Qt events, so the window stays alive) for worker threads to finish;
        call it at exit or when locking.
        """
        if self._sync_scope is not None:
            self.runtime.call_soon(self._sync_scope.cancel)
            self._sync_scope = None
        for job in self._downloads.values():
            job.cancel()
        for job in self._exports:
            job.cancel()
        self.runtime._pump_until(lambda: self._in_threads == 0, timeout_ms)
        if self._network_scope is not None:  # the node closes its connections, then ends
            self.runtime.call_soon(self._network_scope.cancel)
            self._network_scope = None
            self.runtime._pump_until(lambda: not self._network_running, timeout_ms)
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        session, self.session = self.session, None
        if session is not None:
            session.network.close()
            session.close()
            self.sessionClosed.emit()

    # -- events --------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        """Service events, on whatever thread emitted them, become Qt signals (queued)."""
        match event:
            case LedgerChanged(count=count):
                self.ledgerChanged.emit(count)
            case PurchaseMade(purchase=purchase):
                self.purchaseMade.emit(purchase)
            case PurchaseFulfilled(purchase=purchase):
                self.purchaseFulfilled.emit(purchase)
            case SaleFulfilled(purchase=purchase):
                self.saleFulfilled.emit(purchase)
            case ForkDetected(author=author, seq=seq):
                self.forkDetected.emit(
                    f"author {author.hex()[:12]} signed two entries at "
                    f"position {seq}; their feed is quarantined"
                )
            case DownloadProgress(content=content, have=have, total=total):
                self.downloadProgress.emit(content, have, total)
            case PeersChanged(count=count):
                self.peersChanged.emit(count)
            case Notice(text=text, error=error):
                self.notice.emit(text, error)

    def want_chunks(self, content: bytes, index: int) -> None:
        """Playback waits at chunk ``index``: the download fetches it next. Any thread (the
        audio pipeline calls it from its reader); never blocks."""
        session = self.session
        if session is not None:
            session.want_chunks(content, index)

    # -- long work with progress and cancel ----------------------------------------------------
    def download(self, content: bytes) -> Job:
        """Fetch an owned track (one job per track; asking again returns the running job)."""
        running = self._downloads.get(content)
        if running is not None and not running.done:
            return running
        job = Job("Download", self)
        self._downloads[content] = job
        session = self.session
        if session is None:
            self.runtime.spawn(self._fail_soon, job, "unlock your identity first")
            return job
        return self.run("Download", session.download, content, job.cancel_event, io=True, job=job)

    def downloads(self) -> dict[bytes, Job]:
        return dict(self._downloads)

    def publish(self, draft: ReleaseDraft) -> Job:
        job = Job("Publishing", self)
        if self.session is None:
            self.runtime.spawn(self._fail_soon, job, "unlock your identity first")
            return job
        return self.run(
            "Publishing",
            self.session.publish,
            draft,
            self._progress_cb(job),
            job.cancel_event,
            job=job,
        )

    def ingest(self, wires: Sequence[bytes], batch: int = 500) -> Job:
        """Feed entries to the ledger in batches (a large sync), reporting progress."""
        job = Job("Syncing", self)
        if self.session is None:
            self.runtime.spawn(self._fail_soon, job, "unlock your identity first")
            return job
        self.runtime.spawn(self._ingest, job, list(wires), batch)
        return job

    async def _ingest(self, job: Job, wires: list[bytes], batch: int) -> None:
        core_lim, _ = self._limiters()
        session = self.session
        assert session is not None
        total = len(wires)
        try:
            for i in range(0, total, batch):
                if job.cancelled:
                    raise UserError("the sync was stopped; what arrived so far is kept")
                part = wires[i : i + batch]
                await self._thread(functools.partial(session.core.ledger.ingest, part), core_lim)
                job.progress.emit(min(i + batch, total), total, "entries")
        except UserError as err:
            job._fail(str(err))
        except Exception as exc:
            log.exception("ingest failed")
            job._fail(f"the sync failed: {exc}")
        else:
            job._finish(total)

    def save_text(self, path: Path, text: str) -> Job:
        return self.run("Export", lambda: Path(path).write_text(text, encoding="utf-8"), io=True)

    # -- export: owned music out as plain audio files (app.services.export) --------------------
    def _export_service(self) -> ExportService:
        from app.services.export import ExportService

        session = self.session
        if session is None:
            raise UserError("unlock your identity first")
        return ExportService(
            session.core,
            fetch=lambda content, progress, cancel: session.download(content, cancel, progress),
            fetch_clear=lambda content, progress, cancel: session.network.fetch(
                session.core, content, progress, cancel
            ),
        )

    def export_defaults(self) -> tuple[str, Path]:
        """The format and folder Settings remember (a small file read)."""
        from app.services.export import export_settings

        return export_settings(self.profile)

    def remember_export(self, fmt: str, folder: str) -> Job:
        """Set the format and folder that "Save to folder" starts with."""
        from app.services.export import remember_export_settings

        def save() -> None:
            if not folder.strip():
                raise UserError("choose a folder")
            remember_export_settings(self.profile, fmt, Path(folder.strip()))

        return self.run("Saving settings", save, io=True)

    @staticmethod
    def export_formats() -> list[tuple[str, str, bool]]:
        """(key, label, lossless) of every export format, in menu order."""
        from app.services.export import FORMAT_KEYS
        from player.transcode import FORMATS

        return [(k, FORMATS[k].label, FORMATS[k].lossless) for k in FORMAT_KEYS]

    @staticmethod
    def export_warning(plan: ExportPlan, fmt: str) -> str | None:
        from app.services.export import lossless_warning

        return lossless_warning(plan, fmt)

    def plan_export(
        self,
        release: bytes | None = None,
        track: int | None = None,
        contents: Sequence[bytes] = (),
        album_of: bytes | None = None,
        everything: bool = False,
    ) -> Job:
        """Check ownership and list what an export writes; finishes with an ExportPlan."""

        def plan() -> ExportPlan:
            service = self._export_service()
            if everything:
                return service.plan_all()
            if album_of is not None:
                return service.plan_album(album_of)
            if release is not None:
                return service.plan_release(release, track)
            return service.plan_contents(contents)

        return self.run("Export", plan)

    def export(self, plan: ExportPlan, fmt: str, folder: Path) -> ExportJob:
        """Write the plan's files under ``folder``; remembers the format and folder."""
        from app.services.export import remember_export_settings

        job = ExportJob("Export", self)
        self._exports = [j for j in self._exports if not j.done] + [job]

        def work() -> object:
            service = self._export_service()
            remember_export_settings(self.profile, fmt, folder)

            def report(p: object) -> None:
                job.step.emit(p)
                job.progress.emit(int(p.total_fraction * 1000), 1000, p.title)  # type: ignore[attr-defined]

            return service.export(plan, fmt, folder, report, job.cancel_event)

        return self.run("Export", work, io=True, job=job)  # type: ignore[return-value]


def _prepare_covers(session: Session) -> int:
    """Decode the catalog's covers on a worker thread, so the GUI thread only draws them."""
    return cover_images.prepare(session.covers())
