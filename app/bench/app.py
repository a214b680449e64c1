"""``cooptracks bench app``: launch time against a bare PySide6 window, and GUI-thread stalls
during a large sync.

* ``launch_ratio``: seconds from process start to the app's first usable window (runtime
  started, window shown and painted; the unlock screen of an existing profile) divided by the
  same for a bare ``QMainWindow`` in the same run. Both run in fresh subprocesses, offscreen, and
  the median of several runs is used. Goal <= 1.5.
* ``max_stall_ms``: the longest gap between ticks of a 5 ms QTimer heartbeat on the GUI thread
  while N signed entries are ingested through the bridge (in batches, on a worker thread), with
  the main window open and refreshing. Goal < 50 ms. N is 100,000 (``quick``: 5,000).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_BARE = """
import time; t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow(); w.resize(1280, 800); w.show()
app.processEvents(); w.grab()
print("READY", time.perf_counter() - t0)
"""

_APP = """
import time; t0 = time.perf_counter()
from pathlib import Path
from app.profile import Profile
from app.ui.app import build
parts = build(Profile(Path({profile!r})))
parts.window.resize(1280, 800); parts.window.show()
parts.app.processEvents(); parts.window.grab()
print("READY", time.perf_counter() - t0)
parts.shutdown()
"""


def _launch(code: str) -> float:
    """Seconds to a painted window: in-process time plus interpreter start-up."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout
    for line in out.splitlines():
        if line.startswith("READY"):
            return float(line.split()[1]) + _startup_overhead()
    raise RuntimeError(f"no READY line in {out!r}")


_OVERHEAD: list[float] = []


def _startup_overhead() -> float:
    """Interpreter start-up (same for both sides), measured once."""
    if not _OVERHEAD:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        _OVERHEAD.append(time.perf_counter() - start)
    return _OVERHEAD[0]


def _profile_with_identity(root: Path) -> Path:
    from nacl import pwhash

    from app.profile import Profile
    from app.services.identity import IdentityService

    prof = Profile(root / "bench-profile")
    IdentityService(prof, pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN).create(
        "bench passphrase", "Bench")
    return prof.root


def measure_launch(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        profile = _profile_with_identity(Path(tmp))
        bare, app = [], []
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            bare.append(_launch(_BARE))
            app.append(_launch(_APP.format(profile=str(profile))))
    b, a = statistics.median(bare), statistics.median(app)
    return {"bare_window_s": round(b, 3), "app_window_s": round(a, 3),
            "launch_ratio": round(a / b, 2), "launch_goal": 1.5, "launch_runs": runs}


def _make_entries(n: int) -> list[bytes]:
    from ledger.keys import Signer
    from ledger.ledger import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        wires: list[bytes] = []
        per_author = 5000
        for a in range(0, n, per_author):
            signer = Signer.generate()
            with Ledger.open(Path(tmp) / f"src-{a}.sqlite") as src:
                for i in range(min(per_author, n - a)):
                    src.append(signer, "profile", {"name": f"peer {a + i}", "bio": "", "links": []})
                wires.extend(src.feed_range(signer.public_key, 1, per_author))
        return wires


def measure_stall(n: int) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from nacl import pwhash
    from PySide6.QtCore import QElapsedTimer, QTimer

    from app.bridge import KdfLimits
    from app.profile import Profile
    from app.ui.app import build
    from player.engine import NullEngine

    t0 = time.perf_counter()
    wires = _make_entries(n)
    make_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        parts = build(Profile(Path(tmp) / "p"), kdf=KdfLimits(pwhash.argon2id.OPSLIMIT_MIN,
                                                              pwhash.argon2id.MEMLIMIT_MIN),
                      engine=NullEngine())
        parts.window.show()
        job = parts.bridge.create_identity("bench passphrase", "Bench")
        parts.runtime._pump_until(lambda: job.done, 30_000)
        clock = QElapsedTimer()
        clock.start()
        gaps: list[int] = []
        last = [clock.elapsed()]

        def beat() -> None:
            now = clock.elapsed()
            gaps.append(now - last[0])
            last[0] = now

        heart = QTimer()
        heart.setInterval(5)
        heart.timeout.connect(beat)
        heart.start()
        start = time.perf_counter()
        ingest = parts.bridge.ingest(wires, batch=500)
        parts.runtime._pump_until(lambda: ingest.done, 600_000)
        ingest_s = time.perf_counter() - start
        heart.stop()
        count = parts.bridge.session.core.ledger.count() if parts.bridge.session else 0
        parts.shutdown()
    return {"sync_entries": n, "sync_entries_ingested": count, "sync_seconds": round(ingest_s, 2),
            "sync_entries_per_s": round(n / ingest_s), "max_stall_ms": max(gaps or [0]),
            "p99_tick_ms": sorted(gaps)[int(len(gaps) * 0.99)] if gaps else 0,
            "stall_goal_ms": 50, "entry_generation_s": round(make_s, 1),
            "ingest_error": ingest.error or ""}


def run(quick: bool) -> dict:
    result = measure_launch(3 if quick else 5)
    result.update(measure_stall(5_000 if quick else 100_000))
    result["quick"] = quick
    return result
