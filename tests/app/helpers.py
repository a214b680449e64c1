"""Small steps shared by the app tests."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.ui.app import AppParts


def unlock(qtbot, parts: AppParts, passphrase: str) -> None:  # type: ignore[no-untyped-def]
    ob = parts.window.onboarding
    assert ob.stack.currentIndex() == 3, "expected the unlock step"
    qtbot.keyClicks(ob.unlock_pass, passphrase)
    qtbot.mouseClick(ob.unlock_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: parts.window.root.currentWidget() is parts.window.app_widget,
                    timeout=10_000)


def create(qtbot, parts: AppParts, name: str, passphrase: str) -> None:  # type: ignore[no-untyped-def]
    ob = parts.window.onboarding
    qtbot.mouseClick(ob.to_create, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(ob.name, name)
    qtbot.keyClicks(ob.new_pass, passphrase)
    qtbot.keyClicks(ob.new_pass2, passphrase)
    qtbot.mouseClick(ob.create_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: parts.window.root.currentWidget() is parts.window.app_widget,
                    timeout=10_000)


def wait_catalog(qtbot, parts: AppParts, at_least: int = 1) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: len(parts.window.store.cards) >= at_least, timeout=10_000)
