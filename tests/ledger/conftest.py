"""Fixtures for ledger tests: real SQLite ledger files in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger.ledger import Ledger


@pytest.fixture
def open_ledger(tmp_path: Path) -> Iterator[Callable[..., Ledger]]:
    """Open (or reopen) ledger files under tmp_path; all are closed at the end of the test."""
    opened: list[Ledger] = []

    def _open(name: str = "ledger.sqlite") -> Ledger:
        led = Ledger.open(tmp_path / name, verify_threads=1)
        opened.append(led)
        return led

    yield _open
    for led in opened:
        try:
            led.close()
        except Exception:
            pass


@pytest.fixture
def led(open_ledger: Callable[..., Ledger]) -> Ledger:
    return open_ledger()
