"""First run, unlock, a wrong passphrase, and restoring from the recovery phrase."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.helpers import create, unlock


def test_create_identity_then_unlock_later(qtbot, launch, tmp_path: Path) -> None:
    profile = tmp_path / "me"
    parts = launch(profile)
    ob = parts.window.onboarding
    assert ob.stack.currentIndex() == 0  # welcome: create or restore
    create(qtbot, parts, "Ada", "correct horse battery")
    assert "Ada" in parts.window.who.text()
    assert parts.window.pages.currentWidget() is parts.window.store
    parts.shutdown()

    again = launch(profile)
    # The unlock step shows at once; the name arrives with the services, a moment later.
    assert again.window.onboarding.stack.currentIndex() == 3
    qtbot.waitUntil(
        lambda: "Welcome back, Ada" in again.window.onboarding.welcome_back.text(), timeout=10_000
    )
    unlock(qtbot, again, "correct horse battery")


def test_wrong_passphrase_shows_a_readable_error(qtbot, launch, tmp_path: Path) -> None:
    profile = tmp_path / "me"
    first = launch(profile)
    create(qtbot, first, "Ada", "correct horse battery")
    first.shutdown()
    parts = launch(profile)
    ob = parts.window.onboarding
    qtbot.keyClicks(ob.unlock_pass, "not my passphrase")
    qtbot.mouseClick(ob.unlock_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ob.message.isVisible(), timeout=10_000)
    assert ob.message.text() == "Wrong passphrase"
    assert "Traceback" not in ob.message.text()
    assert parts.window.root.currentWidget() is ob
    assert ob.unlock_btn.isEnabled()


def test_mismatched_and_short_passphrases_are_refused(qtbot, launch, tmp_path: Path) -> None:
    parts = launch(tmp_path / "me")
    ob = parts.window.onboarding
    qtbot.mouseClick(ob.to_create, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(ob.new_pass, "short")
    qtbot.keyClicks(ob.new_pass2, "short")
    qtbot.mouseClick(ob.create_btn, Qt.MouseButton.LeftButton)
    assert "at least 8 characters" in ob.message.text()
    ob.new_pass2.setText("different")
    qtbot.mouseClick(ob.create_btn, Qt.MouseButton.LeftButton)
    assert "differ" in ob.message.text()


def test_restore_from_recovery_phrase(qtbot, launch, tmp_path: Path) -> None:
    first = launch(tmp_path / "old")
    create(qtbot, first, "Ada", "correct horse battery")
    settings = first.window.settings
    first.window.show_named("settings")
    qtbot.keyClicks(settings.passphrase, "correct horse battery")
    qtbot.mouseClick(settings.reveal_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: settings.phrase.isVisible(), timeout=10_000)
    words = [w for w in settings.phrase.text().split() if not w.rstrip(".").isdigit()]
    assert len(words) == 24
    old_key = first.bridge.session.me
    first.shutdown()

    parts = launch(tmp_path / "new")
    ob = parts.window.onboarding
    qtbot.mouseClick(ob.to_restore, Qt.MouseButton.LeftButton)
    ob.phrase.setPlainText(" ".join(words))
    qtbot.keyClicks(ob.restore_pass, "another passphrase")
    qtbot.mouseClick(ob.restore_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: parts.bridge.session is not None, timeout=10_000)
    assert parts.bridge.session.me == old_key


def test_creating_an_identity_says_what_is_public_and_what_can_be_turned_off(
    qtbot, launch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    parts = launch(tmp_path / "new")
    ob = parts.window.onboarding
    qtbot.mouseClick(ob.to_create, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: hasattr(ob, "public_note") and ob.public_note.isVisible(), timeout=10_000
    )
    text = ob.public_note.text()
    assert "every purchase you make" in text and "public" in text
    assert "Share what I bought" in text
