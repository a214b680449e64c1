"""The layout tells the architecture: dependencies point one way (see DESIGN.md).

Every import statement in each package, including imports inside functions, is checked against
that package's rules. A new violation fails here with the file and line.
"""

from __future__ import annotations

import ast
import itertools
import re
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
    assert (
        violations(
            "ledger",
            allowed={"ledger", "nacl", "sqlite_utils", "cbor2"},
            forbidden=("asyncio", "trio"),
        )
        == []
    )


def test_content_stands_on_its_own():
    # The content format and the chunk store sit beneath everything that moves or plays content
    # (p2p, player, app) and beside the ledger: stdlib, pynacl and cbor2, nothing of the project.
    assert (
        violations("content", allowed={"content", "nacl", "cbor2"}, forbidden=("asyncio", "trio"))
        == []
    )


def test_the_ledger_never_imports_content():
    # A listing names content by its ID; the ledger knows nothing of manifests or chunks.
    assert violations("ledger", forbidden=("content",)) == []


def test_p2p_never_imports_qt_app_or_player():
    assert violations("p2p", forbidden=("PySide6", "qtrio", "app", "player")) == []


def test_player_never_imports_p2p_or_app_and_qt_only_in_the_engine():
    assert violations("player", forbidden=("p2p", "app")) == []
    assert violations("player", forbidden=("PySide6",), exempt={"player/qt_engine.py"}) == []


def test_services_never_import_qt():
    assert violations("app/services", forbidden=("PySide6", "qtrio")) == []


def test_ui_reaches_the_core_only_through_the_bridge():
    forbidden = (
        "sqlite3",
        "sqlite_utils",
        "libp2p",
        "p2p",
        "ledger.store",
        "ledger.ledger",
        "app.services.core",
        "trio",
    )
    assert violations("app/ui", forbidden=forbidden) == []


PACKAGES = ("content", "ledger", "p2p", "player", "app", "resources")


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the project's packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {project module it imports: line}, from every import statement in it:

    at the top and inside functions alike, relative ones resolved. Imports under
    ``if TYPE_CHECKING:`` are left out: they name types for annotations and run nothing, so a
    part may name the whole it belongs to (each ledger feature module types its rules against
    the ``State`` that ``ledger/state.py`` assembles from the features).
    """
    modules = module_names(root)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: dict[str, int] = {}
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        type_only = {
            id(n)
            for block in ast.walk(tree)
            if _is_type_checking_block(block)
            for stmt in block.body
            for n in ast.walk(stmt)
        }  # type: ignore[attr-defined]
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                # "from a import b" imports the module a.b when there is one, else names in a.
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                found = resolve(target)
                if found is not None and found != name:
                    edges.setdefault(found, node.lineno)
        graph[name] = edges
    return graph


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    """Each import cycle, as "a (line N) -> b (line M) -> a": module a imports b at line N, b
    imports a at line M. One cycle is named per strongly connected group (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    described = []
    for component in components:
        members = set(component)
        # Walk from the first module along edges inside the component until a module repeats.
        path = [min(component)]
        while True:
            nxt = min(w for w in graph[path[-1]] if w in members)
            if nxt in path:
                path = [*path[path.index(nxt) :], nxt]
                break
            path.append(nxt)
        steps = [f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(path)]
        described.append(" -> ".join(steps) + f" -> {path[-1]}")
    return described


def test_no_module_import_cycle():
    """Dependencies point one way inside packages too: no two modules import each other, even
    inside a function (imports only for type checking excepted: they run nothing). Break a
    cycle by moving the shared part into its own module, by typing against a Protocol that the
    importing side defines, or by a registry the lower module keeps (as settler duties)."""
    assert import_cycles(import_graph(ROOT)) == []


def test_the_cycle_check_catches_a_planted_cycle(tmp_path):
    (tmp_path / "p2p" / "sub").mkdir(parents=True)
    (tmp_path / "p2p" / "__init__.py").write_text("")
    (tmp_path / "p2p" / "sub" / "__init__.py").write_text("")
    (tmp_path / "p2p" / "a.py").write_text("import os\nfrom p2p.sub import b\n")
    (tmp_path / "p2p" / "sub" / "b.py").write_text("def f():\n    from ..a import thing\n")
    (tmp_path / "p2p" / "c.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from p2p import d\n"
    )
    (tmp_path / "p2p" / "d.py").write_text("from p2p import c\n")
    assert import_cycles(import_graph(tmp_path)) == [
        "p2p.a (line 2) -> p2p.sub.b (line 2) -> p2p.a"
    ]


def test_the_readme_layout_table_names_every_package_and_only_real_ones():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| package | what it holds | may import |") :]
    table = table[: table.index("\n\n")]
    named = set(re.findall(r"^\| `([a-z0-9_/]+)/` \|", table, re.M))
    packages = {
        p.parent.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for p in (ROOT / package).rglob("__init__.py")
    }
    assert packages - named == set(), "README.md's layout table misses these packages"
    assert {n for n in named if not (ROOT / n).is_dir()} == set()


@pytest.mark.parametrize("package", PACKAGES)
def test_prescribed_packages_exist(package):
    assert (ROOT / package / "__init__.py").exists()


def test_the_checker_catches_a_violation(tmp_path, monkeypatch):
    """The rules above can fail: a planted import is reported with its file and line."""
    pkg = tmp_path / "ledger"
    pkg.mkdir()
    (pkg / "bad.py").write_text("import os\n\ndef f():\n    from PySide6 import QtCore\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("ledger", allowed={"ledger"}) == ["ledger/bad.py:4 imports PySide6"]
