"""Media keys over MPRIS: a private D-Bus session bus, the real app, and two independent clients
(Qt's own D-Bus implementation for calls, ``dbus-send`` for the exact wire types)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.ui.mpris import BUS_NAME, PATH, PLAYER_IFACE
from player.engine import MediaSource, PlaybackState
from player.queue import QueueItem
from tests.app.helpers import create


@pytest.fixture
def session_bus(tmp_path: Path) -> Iterator[str]:
    """A private session bus for this test (never the desktop's own)."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.skip("dbus-daemon is not installed (Debian package: dbus-daemon)")
    config = tmp_path / "session.conf"
    config.write_text(f"""<busconfig>
  <type>session</type>
  <listen>unix:path={tmp_path / "bus"}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
""")
    proc = subprocess.Popen(
        [daemon, f"--config-file={config}", "--nofork", "--print-address"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    if not address:
        proc.kill()
        pytest.skip("dbus-daemon could not start a session bus here")
    try:
        yield address
    finally:
        proc.terminate()
        proc.wait(10)


def _dbus_send(qtbot, address: str, *args: str) -> str:  # type: ignore[no-untyped-def]
    """Run dbus-send without blocking the event loop that must answer it."""
    if shutil.which("dbus-send") is None:
        pytest.skip("dbus-send is not installed")
    proc = subprocess.Popen(
        ["dbus-send", f"--bus={address}", "--print-reply", f"--dest={BUS_NAME}", PATH, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address},
    )
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=10_000)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return out


def _call(qtbot, address: str, method: str, *args):  # type: ignore[no-untyped-def]
    """Call a Player method with QtDBus, as a desktop shell would, and wait for the reply."""
    from PySide6.QtDBus import QDBusConnection, QDBusMessage

    conn = QDBusConnection.connectToBus(address, f"test-client-{time.monotonic_ns()}")
    assert conn.isConnected(), conn.lastError().message()
    msg = QDBusMessage.createMethodCall(BUS_NAME, PATH, PLAYER_IFACE, method)
    if args:
        msg.setArguments(list(args))
    pending = conn.asyncCall(msg, 10_000)
    qtbot.waitUntil(pending.isFinished, timeout=10_000)
    reply = pending.reply()
    QDBusConnection.disconnectFromBus(conn.name())
    return reply


def _queue(parts, titles: list[str]) -> None:  # type: ignore[no-untyped-def]
    bar = parts.window.player_bar
    items = [
        QueueItem(
            f"key-{t}".encode(), MediaSource.file(f"/music/{t}.ogg", 180_000), t, "Test Pilot"
        )
        for t in titles
    ]
    bar.player.set_queue(items, 0, play=False)


def test_media_keys_drive_the_player_over_the_session_bus(
    qtbot, launch, tmp_path: Path, session_bus: str
) -> None:
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = session_bus
    try:
        parts = launch(tmp_path / "me")
        create(qtbot, parts, "Ada", "correct horse battery")
    finally:
        del os.environ["DBUS_SESSION_BUS_ADDRESS"]
    keys = parts.window.media_keys
    assert keys is not None and keys.bus_name == BUS_NAME
    _queue(parts, ["Takeoff", "Cruise", "Landing"])
    player = parts.window.player_bar.player
    assert player.state == PlaybackState.STOPPED

    from PySide6.QtDBus import QDBusMessage

    assert _call(qtbot, session_bus, "PlayPause").type() == QDBusMessage.MessageType.ReplyMessage
    assert player.state == PlaybackState.PLAYING
    assert _call(qtbot, session_bus, "Next").type() == QDBusMessage.MessageType.ReplyMessage
    assert player.current is not None and player.current.title == "Cruise"
    assert parts.window.player_bar.title.text() == "Cruise"  # the bar follows
    _call(qtbot, session_bus, "PlayPause")
    assert player.state == PlaybackState.PAUSED
    _call(qtbot, session_bus, "Previous")  # near the start: the track before
    assert player.current.title == "Takeoff"
    _call(qtbot, session_bus, "Stop")
    assert player.state == PlaybackState.STOPPED

    # what a desktop reads, with the wire types the specification asks for
    out = _dbus_send(
        qtbot, session_bus, "org.freedesktop.DBus.Properties.GetAll", f"string:{PLAYER_IFACE}"
    )
    assert 'string "PlaybackStatus"' in out and 'string "Stopped"' in out
    assert 'string "xesam:title"' in out and 'string "Takeoff"' in out
    assert 'object path "/org/cooptracks/track/' in out
    assert "int64 180000000" in out  # mpris:length, microseconds
    assert 'string "Position"' in out and "int64 0" in out

    # a bad call gets a D-Bus error, and changes nothing
    bad = _call(qtbot, session_bus, "OpenUri", "file:///etc/passwd")
    assert bad.type() == QDBusMessage.MessageType.ErrorMessage
    assert bad.errorName() == "org.freedesktop.DBus.Error.NotSupported"
    assert player.current.title == "Takeoff" and player.state == PlaybackState.STOPPED

    # Volume is writable from the desktop and moves the bar's slider
    _dbus_send(
        qtbot,
        session_bus,
        "org.freedesktop.DBus.Properties.Set",
        f"string:{PLAYER_IFACE}",
        "string:Volume",
        "variant:double:0.25",
    )
    assert parts.window.player_bar.volume.value() == 25


def test_keyboard_media_keys_still_work_in_the_window(qtbot, launch, tmp_path: Path) -> None:
    parts = launch(tmp_path / "me")
    create(qtbot, parts, "Ada", "correct horse battery")
    _queue(parts, ["Takeoff", "Cruise"])
    player = parts.window.player_bar.player
    with qtbot.waitActive(parts.window):
        parts.window.activateWindow()
    qtbot.keyClick(parts.window, Qt.Key.Key_MediaTogglePlayPause)
    assert player.state == PlaybackState.PLAYING
    qtbot.keyClick(parts.window, Qt.Key.Key_MediaNext)
    assert player.current is not None and player.current.title == "Cruise"


def test_without_a_session_bus_the_app_runs_without_mpris(
    qtbot, launch, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus-here'}")
    parts = launch(tmp_path / "me")
    create(qtbot, parts, "Ada", "correct horse battery")
    assert parts.window.media_keys is None
    _queue(parts, ["Takeoff"])
    qtbot.mouseClick(parts.window.player_bar.play_btn, Qt.MouseButton.LeftButton)
    assert parts.window.player_bar.player.state == PlaybackState.PLAYING
