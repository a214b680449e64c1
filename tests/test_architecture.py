"""The layout tells the architecture: dependencies point one way (see DESIGN.md).

Every import statement in each package, including imports inside functions, is checked against
that package's rules. A new violation fails here with the file and line.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names)


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def top(module: str) -> str:
    return module.split(".")[0]


def violations(package: str, allowed=None, forbidden=(), exempt=()) -> list[str]:
    bad = []
    for path in files(package):
        rel = path.relative_to(ROOT).as_posix()
        if rel in exempt:
            continue
        for line, module in imports(path):
            name = top(module)
            hit_forbidden = any(module == f or module.startswith(f + ".") for f in forbidden)
            not_allowed = allowed is not None and name not in STDLIB and name not in allowed
            if hit_forbidden or not_allowed:
                bad.append(f"{rel}:{line} imports {module}")
    return bad


def test_ledger_is_pure_and_synchronous():
    # stdlib, pynacl, sqlite-utils and one encoding library (cbor2); nothing async, no Qt.
    assert violations("ledger", allowed={"ledger", "nacl", "sqlite_utils", "cbor2"},
                      forbidden=("asyncio", "trio")) == []


def test_p2p_never_imports_qt_app_or_player():
    assert violations("p2p", forbidden=("PySide6", "qtrio", "app", "player")) == []


def test_player_never_imports_p2p_or_app_and_qt_only_in_the_engine():
    assert violations("player", forbidden=("p2p", "app")) == []
    assert violations("player", forbidden=("PySide6",), exempt={"player/qt_engine.py"}) == []


def test_services_never_import_qt():
    assert violations("app/services", forbidden=("PySide6", "qtrio")) == []


def test_ui_reaches_the_core_only_through_the_bridge():
    forbidden = ("sqlite3", "sqlite_utils", "libp2p", "p2p", "ledger.store", "ledger.ledger",
                 "app.services.core", "trio")
    assert violations("app/ui", forbidden=forbidden) == []


@pytest.mark.parametrize("package", ["ledger", "p2p", "player", "app", "resources"])
def test_prescribed_packages_exist(package):
    assert (ROOT / package / "__init__.py").exists()


def test_the_checker_catches_a_violation(tmp_path, monkeypatch):
    """The rules above can fail: a planted import is reported with its file and line."""
    pkg = tmp_path / "ledger"
    pkg.mkdir()
    (pkg / "bad.py").write_text("import os\n\ndef f():\n    from PySide6 import QtCore\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("ledger", allowed={"ledger"}) == ["ledger/bad.py:4 imports PySide6"]
