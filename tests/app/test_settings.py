"""Settings: the network card saves bandwidth caps and LAN discovery, and shows them again."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.helpers import create


def test_network_caps_and_lan_discovery_are_saved_and_shown(qtbot, launch,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path) -> None:
    parts = launch(tmp_path / "me")
    create(qtbot, parts, "Ada", "correct horse battery")
    settings = parts.window.settings
    parts.window.show_named("settings")
    qtbot.waitUntil(lambda: settings.peer.text() != "", timeout=10_000)
    assert settings.lan.isChecked()  # on by default
    assert settings.max_up.value() == 0 and settings.max_up.text() == "No cap"
    settings.max_up.setValue(2.5)
    settings.max_down.setValue(40)
    settings.lan.setChecked(False)
    qtbot.mouseClick(settings.save_net, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Saved" in settings.net_msg.text(), timeout=10_000)
    assert "LAN discovery stops the next time you unlock" in settings.net_msg.text()
    saved = json.loads((tmp_path / "me" / "config.json").read_text())
    assert (saved["max_upload_kbps"], saved["max_download_kbps"], saved["mdns"]) == \
        (2500.0, 40000.0, False)
    # shown again as saved after a refresh
    settings.max_up.setValue(0)
    settings.lan.setChecked(True)
    settings.refresh()
    qtbot.waitUntil(lambda: settings.max_up.value() == 2.5, timeout=10_000)
    assert settings.max_down.value() == 40 and not settings.lan.isChecked()
