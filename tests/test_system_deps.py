"""The system check behind `make run` and `make test` (scripts/system_deps.py).

Its decisions are specified against a fake package database (which packages are installed, which
libraries each Qt plugin needs, whether this process is root or may use ``sudo -n``): missing
packages lead to exactly one apt-get command, or to the exact command printed for the user. The
list itself is held complete against the PySide6 installed here, read from its ELF files.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_script():
    spec = importlib.util.spec_from_file_location("system_deps", ROOT / "scripts/system_deps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["system_deps"] = module
    spec.loader.exec_module(module)
    return module


sd = _load_script()
PACKAGES = sd.load_packages()
ALL = {p.name for p in PACKAGES}


class FakeSystem(sd.System):
    """A machine with some of the list's packages installed, and an apt-get that installs them."""

    def __init__(
        self,
        installed,
        *,
        root=True,
        sudo=False,
        apt=True,
        plugin_needs=None,
        other_arch=(),
        apt_fails=False,
    ):
        super().__init__()
        self.installed = set(installed)
        self.root, self.sudo, self.apt, self.apt_fails = root, sudo, apt, apt_fails
        self.plugin_needs = plugin_needs or {}
        # Checks answered by another architecture's copy (libfoo0:i386 beside a 64-bit Qt): the
        # loader cache lists the name, but the 64-bit plugin cannot load it.
        self.other_arch = set(other_arch)
        self.provider = {p: pkg.name for pkg in PACKAGES for p in pkg.provides}
        self.ran: list[tuple[str, ...]] = []

    def has(self, provided):
        return self.provider.get(provided) in self.installed or provided in self.other_arch

    def ldd(self, path):
        lines = []
        for soname in self.plugin_needs.get(Path(path).name, ()):
            found = self.provider.get("lib:" + soname) in self.installed
            lines.append(f"\t{soname} => " + (f"/lib/{soname} (0x0)" if found else "not found"))
        return "\n".join(lines) + "\n"

    def is_root(self):
        return self.root

    def has_sudo(self):
        return self.sudo

    def has_apt(self):
        return self.apt

    def run(self, command):
        self.ran.append(tuple(command))
        if self.apt_fails:
            return 100, "E: Unable to locate package libxcb-cursor0"
        if "install" in command:
            self.installed |= set(command) & ALL
        return 0, ""


def run_check(system, pyside_dir=None):
    said: list[str] = []
    status = sd.ensure(PACKAGES, system, pyside_dir, say=said.append)
    return status, "\n".join(said)


@pytest.fixture
def pyside(tmp_path):
    """A PySide6 folder with the plugin files the check looks at (their contents are not read)."""
    for rel in (
        "platforms/libqxcb.so",
        "platforms/libqwayland.so",
        "multimedia/libffmpegmediaplugin.so",
        "platforms/libqoffscreen.so",
    ):
        path = tmp_path / "PySide6/Qt/plugins" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return tmp_path / "PySide6"


@pytest.fixture(autouse=True)
def _apt_allowed(monkeypatch):
    monkeypatch.delenv("COOPTRACKS_NO_APT", raising=False)


def test_the_list_names_each_package_once_with_a_known_purpose():
    names = [p.name for p in PACKAGES]
    assert len(names) == len(set(names))
    assert {
        "python3-venv",
        "gcc",
        "libgmp-dev",
        "libxcb-cursor0",
        "libxcb-icccm4",
        "libxcb-keysyms1",
        "libpulse0",
    } <= set(names)
    assert all(p.needed_by in sd.PURPOSES for p in PACKAGES)


def test_nothing_missing_runs_nothing_and_says_nothing():
    system = FakeSystem(ALL)
    assert run_check(system) == (0, "")
    assert system.ran == []


def test_as_root_the_missing_packages_are_installed_after_one_line_saying_what_and_why():
    system = FakeSystem(ALL - {"libxcb-cursor0", "libpulse0"})
    status, said = run_check(system)
    assert status == 0
    install = ("apt-get", "install", "-y", "--no-install-recommends", "libxcb-cursor0", "libpulse0")
    assert system.ran == [("apt-get", "update"), install]
    assert said == (
        "cooptracks: installing libxcb-cursor0 for Qt's xcb platform plugin (X11); "
        "libpulse0 for Qt Multimedia (audio playback): apt-get update && "
        "apt-get install -y --no-install-recommends libxcb-cursor0 libpulse0"
    )
    assert "libpulse0" in system.installed


def test_with_passwordless_sudo_the_commands_run_through_sudo_n():
    system = FakeSystem(ALL - {"libgmp-dev"}, root=False, sudo=True)
    assert run_check(system)[0] == 0
    assert system.ran == [
        ("sudo", "-n", "apt-get", "update"),
        ("sudo", "-n", "apt-get", "install", "-y", "--no-install-recommends", "libgmp-dev"),
    ]


def test_without_root_or_sudo_it_stops_and_prints_the_exact_command():
    system = FakeSystem(ALL - {"libxcb-icccm4", "libxcb-keysyms1"}, root=False, sudo=False)
    status, said = run_check(system)
    assert status == 1
    assert system.ran == []
    assert (
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends "
        "libxcb-icccm4 libxcb-keysyms1"
    ) in said
    assert "installing needs root or sudo without a password" in said


def test_cooptracks_no_apt_only_prints_even_as_root(monkeypatch):
    monkeypatch.setenv("COOPTRACKS_NO_APT", "1")
    system = FakeSystem(ALL - {"libpulse0"})
    status, said = run_check(system)
    assert (status, system.ran) == (1, [])
    assert "apt-get update && apt-get install -y --no-install-recommends libpulse0" in said


def test_without_apt_it_names_the_packages_and_says_why_it_cannot_install():
    system = FakeSystem(ALL - {"libpulse0"}, apt=False)
    status, said = run_check(system)
    assert (status, system.ran) == (1, [])
    assert "libpulse0 for Qt Multimedia" in said and "not a Debian or Ubuntu system" in said


def test_a_failing_apt_get_is_reported_with_its_output():
    system = FakeSystem(ALL - {"libxcb-cursor0"}, apt_fails=True)
    status, said = run_check(system)
    assert status == 1
    assert "Unable to locate package" in said and "exit status 100" in said


def test_a_library_a_qt_plugin_cannot_load_is_mapped_to_its_package_and_installed(pyside):
    # The package check is satisfied by the 32-bit copy in the loader cache, but ldd of the
    # 64-bit plugin does not find the library: the second step catches it and installs it.
    system = FakeSystem(
        ALL - {"libxcb-cursor0"},
        other_arch={"lib:libxcb-cursor.so.0"},
        plugin_needs={"libqxcb.so": ["libxcb.so.1", "libxcb-cursor.so.0"]},
    )
    assert run_check(system)[0] == 0 and system.ran == []
    status, said = run_check(system, pyside)
    assert status == 0
    assert system.ran[-1] == (
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "libxcb-cursor0",
    )
    assert "libxcb-cursor0 for Qt's xcb platform plugin" in said


def test_only_the_plugins_the_app_loads_are_checked(pyside):
    # The offscreen plugin is not used on a desktop; what it would need is not asked for.
    system = FakeSystem(
        ALL,
        plugin_needs={
            "libqoffscreen.so": ["libnowhere.so.3"],
            "libqwayland.so": ["libwayland-egl.so.1"],
        },
    )
    assert run_check(system, pyside) == (0, "")
    system.installed.discard("libwayland-egl1")
    status, _ = run_check(system, pyside)
    assert status == 0 and system.ran[-1][-1] == "libwayland-egl1"


def test_a_library_no_listed_package_provides_stops_with_its_name_and_plugin(pyside):
    system = FakeSystem(ALL, plugin_needs={"libffmpegmediaplugin.so": ["libva.so.2"]})
    status, said = run_check(system, pyside)
    assert (status, system.ran) == (1, [])
    assert "libffmpegmediaplugin.so needs libva.so.2" in said
    assert "scripts/system-packages.txt" in said


def test_ldd_output_is_read_for_libraries_not_found():
    out = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibxcb-cursor.so.0 => not found\n"
        "\tlibQt6Gui.so.6 => /x/PySide6/Qt/lib/libQt6Gui.so.6 (0x00007f)\n"
        "\tlibpulse.so.0 => not found\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
    )
    assert sd.not_found_in_ldd(out) == ["libxcb-cursor.so.0", "libpulse.so.0"]


# -- against this machine -------------------------------------------------------------------------


def _installed_pyside() -> Path:
    spec = importlib.util.find_spec("PySide6")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugins are Linux's")
def test_the_list_provides_every_library_the_installed_qt_plugins_link_against():
    needed = sd.qt_system_libraries(_installed_pyside())
    assert "libxcb-cursor.so.0" in needed and "libpulse.so.0" in needed
    listed = sd.package_for_library(PACKAGES)
    unlisted = {soname: plugin for soname, plugin in needed.items() if soname not in listed}
    assert unlisted == {}, "add these to scripts/system-packages.txt"


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not here to say who owns what")
def test_each_listed_library_belongs_to_the_package_the_list_names():
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    arch = sysconfig.get_config_var("MULTIARCH") or ""
    paths = {}
    for line in cache.splitlines()[1:]:
        match = re.match(r"\s*(\S+) \([^)]*\) => (\S+)", line)
        if match and f"/{arch}/" in match.group(2):  # this interpreter's architecture only
            paths.setdefault(match.group(1), match.group(2))
    wrong = {}
    for soname, pkg in sd.package_for_library(PACKAGES).items():
        if soname not in paths:
            continue
        owner = subprocess.run(
            ["dpkg", "-S", str(Path(paths[soname]).resolve())], capture_output=True, text=True
        ).stdout.split(":")[0]
        if owner and owner.removesuffix("t64") != pkg.name:
            wrong[soname] = (pkg.name, owner)
    assert wrong == {}


def test_the_real_system_answers_each_kind_of_check():
    system = sd.System()
    assert system.has("command:sh")
    assert not system.has("command:cooptracks-no-such-program")
    assert system.has("lib:libc.so.6")
    assert not system.has("lib:libcooptracks-none.so.7")
    assert system.has("python-module:json")
    with pytest.raises(ValueError):
        system.has("rpm:foo")


def test_the_readme_shows_the_list_as_the_commands_that_install_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- system-packages -->\n```sh\n(.*?)```", readme, re.S)
    assert shown is not None, "README.md lost its system package list"
    commands = re.sub(r"#[^\n]*", "", shown.group(1)).replace("\\\n", " ")
    named = []
    for command in commands.splitlines():
        words = command.split()
        assert words[:5] == ["sudo", "apt-get", "install", "-y", "--no-install-recommends"]
        named.append(words[5:])
    assert named == [
        [p.name for p in sd.for_running(PACKAGES)],
        [p.name for p in PACKAGES if p.needed_by == "test"],
    ]


def test_make_run_leaves_the_test_only_packages_out(monkeypatch):
    checked = []
    monkeypatch.setattr(sd, "ensure", lambda packages, *a, **k: checked.append(packages) or 0)
    assert sd.main([]) == 0 and sd.main(["--tests"]) == 0
    assert "xvfb" not in {p.name for p in checked[0]}
    assert "xvfb" in {p.name for p in checked[1]}
