"""The real window on a real X server, and a plain sentence where there is no display.

Every other GUI test runs on Qt's offscreen platform, which loads none of the xcb libraries a
user's first `make run` needs. Here the app opens on Xvfb through the xcb plugin, in its own
process, so a missing platform library fails the suite instead of a user's first run.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.ui.display import display_problem

ROOT = Path(__file__).resolve().parents[2]

_ON_X = """
import json, sys, time
from pathlib import Path
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from app.profile import Profile
from app.ui.app import build
parts = build(Profile(Path(sys.argv[1])))
parts.window.show()
exposed = QTest.qWaitForWindowExposed(parts.window, 30000)
deadline = time.monotonic() + 30
while True:  # until the X server holds the painted window (or the deadline passes)
    parts.app.processEvents()
    shot = parts.window.screen().grabWindow(parts.window.winId()).toImage()
    colors = {shot.pixel(x, y) for x in range(0, shot.width(), 7)
              for y in range(0, shot.height(), 7)}
    if len(colors) > 3 or time.monotonic() > deadline:
        break
    QTest.qWait(20)
print(json.dumps({"platform": QGuiApplication.platformName(), "exposed": exposed,
                  "visible": parts.window.isVisible(), "size": [shot.width(), shot.height()],
                  "colors": len(colors), "welcome": parts.window.onboarding.stack.currentIndex()}))
parts.shutdown()
"""


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A private X server; its display name once it accepts connections."""
    if shutil.which("Xvfb") is None:
        pytest.skip(
            "Xvfb is not installed (apt-get install xvfb), so the window was not "
            "opened on a real X server"
        )
    read, write = os.pipe()
    # -displayfd: Xvfb picks a free display and writes its number when it is ready.
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "1280x800x24"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 60)
        number = os.read(read, 64).decode().strip() if ready else ""
        assert number.isdigit(), f"Xvfb did not start: {server.stderr.read1(4000)!r}"  # type: ignore[union-attr]
        yield f":{number}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.gui
@pytest.mark.slow
def test_the_window_shows_on_a_real_x_server(xvfb: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(DISPLAY=xvfb, QT_QPA_PLATFORM="xcb")
    done = subprocess.run(
        [sys.executable, "-c", _ON_X, str(tmp_path / "new-profile")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, f"the app did not open on X:\n{done.stderr[-3000:]}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["platform"] == "xcb"
    assert seen["exposed"] and seen["visible"]
    width, height = seen["size"]
    assert width >= 400 and height >= 300
    assert seen["colors"] > 3, "the window on screen is blank"
    assert seen["welcome"] == 0  # a new profile starts on the welcome screen


def test_without_a_display_the_app_says_so_and_points_to_the_headless_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    for command in (
        ["demo", "--root", str(tmp_path / "demo")],
        ["--profile", str(tmp_path / "me"), "gui"],
    ):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert "no display: DISPLAY and WAYLAND_DISPLAY are not set" in err
        assert "cooptracks demo --headless --check" in err
        assert "Traceback" not in err
    assert not (tmp_path / "demo").exists()  # nothing was built first


@pytest.mark.parametrize(
    ("env", "platform", "problem"),
    [
        ({}, "linux", "DISPLAY and WAYLAND_DISPLAY are not set"),
        ({"DISPLAY": ":0"}, "linux", None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux", "DISPLAY is not set"),
        ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":1"}, "linux", None),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", None),
        ({}, "darwin", None),
        ({}, "win32", None),
    ],
)
def test_which_environments_have_a_display(
    env: dict[str, str], platform: str, problem: str | None
) -> None:
    found = display_problem(env, platform)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
