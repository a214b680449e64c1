"""`make typecheck` stays clean: mypy over content, ledger, p2p, player and app, with content,
ledger and p2p under the strict options (pyproject.toml configures it), checked with every test
run so that type errors cannot pile up again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_is_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout, proc.stdout[-4000:]


def _mypy_on(tmp_path: Path, package: str, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "planted.py").write_text(source)
    config, cache = str(ROOT / "pyproject.toml"), str(tmp_path / ".mypy_cache")
    command = [sys.executable, "-m", "mypy", "--config-file", config, "--cache-dir", cache]
    return subprocess.run(
        [*command, "-p", package],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


UNTYPED = "def double(x):\n    return x * 2\n"


def test_ledger_p2p_and_content_are_held_to_the_strict_options(tmp_path: Path) -> None:
    """An unannotated function is an error in the strict packages, and only there."""
    for package in ("content", "ledger", "p2p"):
        (tmp_path / package).mkdir()
        proc = _mypy_on(tmp_path / package, package, UNTYPED)
        assert "Function is missing a type annotation" in proc.stdout, (package, proc.stdout)
    (tmp_path / "lenient").mkdir()
    assert _mypy_on(tmp_path / "lenient", "player", UNTYPED).returncode == 0
