"""Settings: the network card saves bandwidth caps and LAN discovery, and shows them again."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.helpers import create


def test_network_caps_and_lan_discovery_are_saved_and_shown(
    qtbot,
    launch,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
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
    assert (saved["max_upload_kbps"], saved["max_download_kbps"], saved["mdns"]) == (
        2500.0,
        40000.0,
        False,
    )
    # shown again as saved after a refresh
    settings.max_up.setValue(0)
    settings.lan.setChecked(True)
    settings.refresh()
    qtbot.waitUntil(lambda: settings.max_up.value() == 2.5, timeout=10_000)
    assert settings.max_down.value() == 40 and not settings.lan.isChecked()


def test_the_name_chosen_in_onboarding_is_published_and_settings_republishes_it(  # type: ignore[no-untyped-def]
    qtbot, launch, tmp_path: Path
) -> None:
    parts = launch(tmp_path / "me")
    create(qtbot, parts, "Ada", "correct horse battery")
    session = parts.bridge.session
    assert session is not None
    mine = session.profiles.mine()
    assert mine is not None and mine.name == "Ada"  # public from the start
    settings = parts.window.settings
    parts.window.show_named("settings")
    qtbot.waitUntil(lambda: settings.name.text() == "Ada", timeout=10_000)
    assert "public" in settings.profile_state.text()
    settings.name.clear()
    qtbot.keyClicks(settings.name, "Ada L.")
    settings.bio.setPlainText("Engines and music")
    settings.links.setPlainText("https://ada.example\n\nhttps://two.example\n")
    qtbot.mouseClick(settings.publish_profile, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Published" in settings.profile_msg.text(), timeout=10_000)
    mine = session.profiles.mine()
    assert mine is not None
    assert (mine.name, mine.bio, mine.links) == (
        "Ada L.",
        "Engines and music",
        ("https://ada.example", "https://two.example"),
    )
    assert parts.window.who.text().startswith("Ada L.\n")  # the sidebar follows
    # a name the ledger would refuse is refused with a sentence, and nothing is signed
    entries = session.core.ledger.count()
    settings.name.clear()
    qtbot.mouseClick(settings.publish_profile, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "needs a name" in settings.profile_msg.text(), timeout=10_000)
    assert session.core.ledger.count() == entries
