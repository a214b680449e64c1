"""The seams the design prescribes: services never import Qt; the UI never reaches storage or
the network directly, only through the bridge."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: str, banned: tuple[str, ...]) -> list[str]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in _imports(path):
            if any(name == b or name.startswith(b + ".") for b in banned):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


def test_services_never_import_qt() -> None:
    assert _offenders("app/services", ("PySide6", "PyQt5", "PyQt6", "qtrio")) == []


def test_ui_never_touches_storage_or_the_network() -> None:
    banned = ("sqlite3", "sqlite_utils", "libp2p", "ledger.store", "p2p", "app.services.core")
    assert _offenders("app/ui", banned) == []


def test_ui_reaches_services_only_through_the_bridge() -> None:
    """Views may use the services' value types, but never construct or call a service."""
    services = (
        "app.services.shop",
        "app.services.wallet",
        "app.services.core",
        "app.services.library",
        "app.services.identity",
    )
    allowed = {"app.services.identity"}  # MIN_PASSPHRASE, a constant for the form
    found = [o for o in _offenders("app/ui", services) if not any(o.endswith(a) for a in allowed)]
    assert found == []
