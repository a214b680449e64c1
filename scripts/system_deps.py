"""Check, and where possible install, the system packages Cooptracks needs that pip cannot.

Run by ``make run`` and ``make test`` (through scripts/check-system.sh) with the system Python,
before the virtual environment exists, and again with ``--venv .venv`` once PySide6 is installed
in it. The list of packages is scripts/system-packages.txt and nowhere else.

1. Every package in the list is checked by what it provides (a shared library in the loader's
   cache, a header, a program, a Python module).
2. With ``--venv``, ``ldd`` runs on the Qt plugins the app loads (the xcb and wayland platform
   plugins with their integrations, and Qt Multimedia's plugins) inside the installed PySide6;
   every library it reports "not found" is mapped back to its package through the list.

Missing packages are installed with apt-get when this process may (root, or ``sudo -n``) on
Debian or Ubuntu, after one line saying what and why; otherwise the exact command is printed and
the exit status is 1. ``COOPTRACKS_NO_APT=1`` only prints. Standard library only.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_LIST = HERE / "system-packages.txt"

#: What each "needed by" tag in the list means, for the one line said before installing.
PURPOSES = {
    "build": "to build the Python environment (libp2p's fastecdsa)",
    "qt": "for Qt's GUI libraries",
    "qt-xcb": "for Qt's xcb platform plugin (X11)",
    "qt-wayland": "for Qt's wayland platform plugin",
    "qt-multimedia": "for Qt Multimedia (audio playback)",
    "test": "for `make test`'s run of the window on a real X server",
}

#: The Qt plugins the app loads, relative to PySide6/Qt. Their ``ldd`` output is checked.
QT_PLUGINS = (
    "plugins/platforms/libqxcb.so",
    "plugins/xcbglintegrations/*.so",
    "plugins/platforms/libqwayland*.so",
    "plugins/wayland-shell-integration/*.so",
    "plugins/wayland-decoration-client/*.so",
    "plugins/wayland-graphics-integration-client/*.so",
    "plugins/multimedia/*.so",
)


@dataclass(frozen=True)
class Package:
    name: str
    needed_by: str
    provides: tuple[str, ...]  # "lib:libX.so.1", "header:gmp.h", "command:gcc", ...


def for_running(packages: Iterable[Package]) -> list[Package]:
    """The packages ``make run`` needs: all but those only the tests use."""
    return [p for p in packages if p.needed_by != "test"]


def load_packages(path: Path = PACKAGE_LIST) -> list[Package]:
    """The list in scripts/system-packages.txt, in its order."""
    packages = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) < 3 or fields[1] not in PURPOSES:
            raise ValueError(f"{path.name}:{number}: expected 'package needed-by provides...'")
        packages.append(Package(fields[0], fields[1], tuple(fields[2:])))
    return packages


def package_for_library(packages: Iterable[Package]) -> dict[str, Package]:
    """soname -> the package that provides it."""
    return {p[4:]: pkg for pkg in packages for p in pkg.provides if p.startswith("lib:")}


# -- what this machine has ------------------------------------------------------------------------


class System:
    """Answers "is this provided here?" for one machine. Tests pass a fake instead."""

    def __init__(self) -> None:
        self._libraries: set[str] | None = None

    def refresh(self) -> None:
        """Forget what was read from the loader cache (after an install)."""
        self._libraries = None

    def libraries(self) -> set[str]:
        if self._libraries is None:
            self._libraries = _loader_cache()
        return self._libraries

    def has(self, provided: str) -> bool:
        kind, _, name = provided.partition(":")
        if kind == "lib":
            return name in self.libraries()
        if kind == "header":
            return any(Path(d, name).is_file() for d in _include_dirs())
        if kind == "command":
            return shutil.which(name) is not None
        if kind == "python-header":
            return Path(sysconfig.get_paths()["include"], name).is_file()
        if kind == "python-module":
            import importlib.util

            return importlib.util.find_spec(name) is not None
        raise ValueError(f"unknown check {provided!r}")

    def ldd(self, path: str) -> str:
        done = subprocess.run(["ldd", path], capture_output=True, text=True, check=False)
        return done.stdout

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def has_sudo(self) -> bool:
        if shutil.which("sudo") is None:
            return False
        return (
            subprocess.run(
                ["sudo", "-n", "true"], capture_output=True, check=False, stdin=subprocess.DEVNULL
            ).returncode
            == 0
        )

    def has_apt(self) -> bool:
        return shutil.which("apt-get") is not None and shutil.which("dpkg") is not None

    def run(self, command: Sequence[str]) -> tuple[int, str]:
        """Run a command quietly; its exit status and, for the user on failure, its output."""
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        done = subprocess.run(
            list(command),
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return done.returncode, done.stdout


def _loader_cache() -> set[str]:
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        try:
            out = subprocess.run(
                ["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=False
            ).stdout
        except FileNotFoundError:
            out = ""
    names = {line.split()[0] for line in out.splitlines()[1:] if line.strip()}
    for d in (
        "/lib",
        "/usr/lib",
        "/lib64",
        "/usr/lib64",
        *glob.glob("/usr/lib/*-linux-gnu*"),
        *glob.glob("/lib/*-linux-gnu*"),
    ):
        if os.path.isdir(d):
            names.update(n for n in os.listdir(d) if ".so" in n)
    return names


def _include_dirs() -> list[str]:
    return ["/usr/include", "/usr/local/include", *glob.glob("/usr/include/*-linux-gnu")]


# -- what is missing ------------------------------------------------------------------------------


@dataclass
class Findings:
    missing: list[Package] = field(default_factory=list)
    #: Libraries Qt needs that are not installed and that no package in the list provides.
    unknown: dict[str, str] = field(default_factory=dict)  # soname -> the plugin that needs it

    def add(self, package: Package) -> None:
        if package not in self.missing:
            self.missing.append(package)


def check_packages(packages: Sequence[Package], system: System) -> Findings:
    """Step 1: each package in the list, by what it provides."""
    findings = Findings()
    for pkg in packages:
        if not all(system.has(p) for p in pkg.provides):
            findings.add(pkg)
    return findings


def qt_plugin_files(pyside_dir: Path) -> list[Path]:
    """The plugins of :data:`QT_PLUGINS` present in this PySide6 (wayland's only where shipped)."""
    found: list[Path] = []
    for pattern in QT_PLUGINS:
        found += sorted(Path(p) for p in glob.glob(str(pyside_dir / "Qt" / pattern)))
    return found


def not_found_in_ldd(output: str) -> list[str]:
    """The sonames ``ldd`` could not resolve, in its order."""
    names = []
    for line in output.splitlines():
        left, arrow, right = line.strip().partition("=>")
        if arrow and right.strip().startswith("not found"):
            names.append(left.strip())
    return names


def check_qt_plugins(
    pyside_dir: Path, packages: Sequence[Package], system: System, findings: Findings
) -> None:
    """Step 2: ``ldd`` of the Qt plugins; each library not found is mapped to its package."""
    by_soname = package_for_library(packages)
    for plugin in qt_plugin_files(pyside_dir):
        for soname in not_found_in_ldd(system.ldd(str(plugin))):
            if soname in by_soname:
                findings.add(by_soname[soname])
            else:
                findings.unknown.setdefault(soname, plugin.name)


def pyside_dir_of(venv: Path) -> Path | None:
    """PySide6's folder inside a virtual environment, without importing it."""
    for candidate in sorted(venv.glob("lib/python3*/site-packages/PySide6")):
        if (candidate / "Qt").is_dir():
            return candidate
    return None


# -- what to do about it --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The commands that install ``packages``, and whether this process may run them."""

    packages: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]
    can_run: bool
    why_not: str = ""

    def shell(self) -> str:
        return " && ".join(" ".join(c) for c in self.commands)


def plan_install(missing: Sequence[Package], system: System) -> Plan:
    """How to install ``missing``: as root, with ``sudo -n``, or by telling the user."""
    names = tuple(p.name for p in missing)
    install = ("apt-get", "install", "-y", "--no-install-recommends", *names)
    update = ("apt-get", "update")
    if not system.has_apt():
        return Plan(
            names,
            (update, install),
            False,
            "this is not a Debian or Ubuntu system (no apt-get); install the "
            "equivalent packages with your package manager",
        )
    if os.environ.get("COOPTRACKS_NO_APT"):
        prefix: tuple[str, ...] = () if system.is_root() else ("sudo",)
        return Plan(names, (prefix + update, prefix + install), False, "COOPTRACKS_NO_APT is set")
    if system.is_root():
        return Plan(names, (update, install), True)
    if system.has_sudo():
        return Plan(names, (("sudo", "-n", *update), ("sudo", "-n", *install)), True)
    return Plan(
        names,
        (("sudo", *update), ("sudo", *install)),
        False,
        "installing needs root or sudo without a password (sudo -n)",
    )


def describe(missing: Sequence[Package]) -> str:
    """``libxcb-cursor0 (for Qt's xcb platform plugin (X11)), ...`` grouped by purpose."""
    groups: dict[str, list[str]] = {}
    for pkg in missing:
        groups.setdefault(pkg.needed_by, []).append(pkg.name)
    return "; ".join(f"{' '.join(names)} {PURPOSES[tag]}" for tag, names in groups.items())


def ensure(
    packages: Sequence[Package],
    system: System,
    pyside_dir: Path | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Check, install what may be installed, check again. Returns the exit status."""
    findings = _check(packages, system, pyside_dir)
    if findings.missing:
        plan = plan_install(findings.missing, system)
        if not plan.can_run:
            say(
                f"cooptracks needs system packages that pip cannot install: "
                f"{describe(findings.missing)}."
            )
            say(f"{plan.why_not}. Install them with:\n    {plan.shell()}")
            return 1
        say(f"cooptracks: installing {describe(findings.missing)}: {plan.shell()}")
        for command in plan.commands:
            status, output = system.run(command)
            if status != 0:
                say(output.rstrip())
                say(f"cooptracks: this failed (exit status {status}): {' '.join(command)}")
                return 1
        findings = _check(packages, system, pyside_dir)
        if findings.missing:
            say(f"cooptracks: still missing after apt-get: {describe(findings.missing)}")
            return 1
    if findings.unknown:
        for soname, plugin in findings.unknown.items():
            say(
                f"cooptracks: Qt's {plugin} needs {soname}, which is not installed and not in "
                f"scripts/system-packages.txt; install the package that provides it "
                f"(on Debian: the one named like it, e.g. apt-cache search {soname.split('.')[0]})"
            )
        return 1
    return 0


def _check(packages: Sequence[Package], system: System, pyside_dir: Path | None) -> Findings:
    system.refresh()
    findings = check_packages(packages, system)
    if pyside_dir is not None:
        check_qt_plugins(pyside_dir, packages, system, findings)
    return findings


# -- the libraries Qt links against (for the test that keeps the list complete) -----------------


def elf_needed(path: Path) -> list[str]:
    """The DT_NEEDED entries of an ELF shared object: the libraries it links against directly."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return []
    wide = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if wide:
        (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        section = end + "IIQQQQIIQQ"
        dyn = end + "qQ"
    else:
        (shoff,) = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        section = end + "IIIIIIIIII"
        dyn = end + "iI"
    sections = []
    for i in range(shnum):
        fields = struct.unpack_from(section, data, shoff + i * shentsize)
        sections.append((fields[1], fields[4], fields[5], fields[6]))  # type, offset, size, link
    needed = []
    step = struct.calcsize(dyn)
    for kind, offset, size, link in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strings = sections[link][1]
        for at in range(offset, offset + size, step):
            tag, value = struct.unpack_from(dyn, data, at)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                start = strings + value
                needed.append(data[start : data.index(b"\0", start)].decode())
    return needed


def qt_system_libraries(pyside_dir: Path) -> dict[str, str]:
    """Every system library the checked plugins need, directly or through PySide6's Qt libraries.

    Returns soname -> the first plugin that needs it. The dynamic loader itself is left out.
    """
    libdir = pyside_dir / "Qt" / "lib"
    bundled = {p.name for p in libdir.iterdir()} if libdir.is_dir() else set()
    found: dict[str, str] = {}
    for plugin in qt_plugin_files(pyside_dir):
        seen: set[str] = set()
        todo = [plugin]
        while todo:
            for soname in elf_needed(todo.pop()):
                if soname in bundled:
                    if soname not in seen:
                        seen.add(soname)
                        todo.append(libdir / soname)
                elif not soname.startswith("ld-linux"):
                    found.setdefault(soname, plugin.name)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--venv",
        type=Path,
        default=None,
        help="also check the Qt plugins of the PySide6 installed in this venv",
    )
    parser.add_argument(
        "--tests", action="store_true", help="also the packages only `make test` needs (Xvfb)"
    )
    parser.add_argument("--list", action="store_true", help="print the package names and exit")
    args = parser.parse_args(argv)
    packages = load_packages() if args.tests else for_running(load_packages())
    if args.list:
        print(" ".join(p.name for p in packages))
        return 0
    pyside_dir = pyside_dir_of(args.venv) if args.venv else None
    return ensure(packages, System(), pyside_dir, say=lambda s: print(s, file=sys.stderr))


if __name__ == "__main__":
    sys.exit(main())
