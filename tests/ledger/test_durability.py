"""Invariant 6, durability: SIGKILL a writing process at random moments, many times.

The child appends entries to a ledger file in a loop and prints each entry hash only after
``append`` returned (the entry is acknowledged). After every kill the parent reopens the file and
checks that every acknowledged hash is there, that SQLite's integrity check is clean and that the
state rebuilt on open equals a fresh replay of the stored entries into a new ledger.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys
from ledger.ledger import Ledger
from ledger.keys import Signer
path = sys.argv[1]
gw = Signer.from_seed(bytes([7]) * 32)
fan = Signer.from_seed(bytes([8]) * 32)
led = Ledger.open(path, verify_threads=1)
asset = next(iter(led.state.assets), None)
if asset is None:
    asset = led.append(gw, "asset.issue", {"symbol": "CRD", "name": "Credits", "precision": 2,
                                           "max_supply": 10**15, "flags": ["stable"]}).hash
print("ready", flush=True)
i = 0
while True:
    i += 1
    if i % 3 == 0:
        e = led.append(gw, "send", {"asset": asset, "to": fan.public_key, "amount": 1, "memo": ""})
    elif i % 3 == 1:
        e = led.append(gw, "asset.mint", {"asset": asset, "amount": 5})
    else:
        incoming = [t.source for t in led.state.incoming(fan.public_key)][:8]
        if incoming:
            e = led.append(fan, "receive", {"transfers": incoming}, deps=incoming)
        else:
            e = led.append(fan, "profile", {"name": "fan %d" % i, "bio": "", "links": []})
    sys.stdout.write(e.hash.hex() + "\n")
    sys.stdout.flush()
"""


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_entry(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rnd = random.Random(1234)
    acknowledged: set[str] = set()
    kills = 0
    started = time.monotonic()
    while kills < 20 and time.monotonic() - started < 30:
        child = subprocess.Popen(
            [sys.executable, str(script), str(path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first.strip() == b"ready", child.stderr.read() if child.stderr else first
        time.sleep(rnd.uniform(0.0, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        kills += 1
        for line in out.decode().splitlines():
            if len(line) == 64:  # a line cut short by the kill was never acknowledged
                acknowledged.add(line)
        led = Ledger.open(path, verify_threads=1)
        try:
            assert led.store.integrity_check() == "ok"
            missing = [h for h in acknowledged if not led.has(bytes.fromhex(h))]
            assert not missing, f"kill {kills}: {len(missing)} acknowledged entries lost"
            assert led.count() == led.store.count()
            fresh = Ledger.open(tmp_path / f"replay{kills}.sqlite", verify_threads=1)
            try:
                report = fresh.ingest(list(led.store.iter_wires()))
                assert not report.rejected and fresh.pending_count() == 0
                assert fresh.state_hash() == led.state_hash()
            finally:
                fresh.close()
        finally:
            led.close()
    assert kills >= 15
    assert len(acknowledged) > 50, "the child should have written a fair number of entries"
