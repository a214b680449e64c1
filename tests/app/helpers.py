"""Small steps shared by the app tests."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.ui.app import AppParts


def unlock(qtbot, parts: AppParts, passphrase: str) -> None:  # type: ignore[no-untyped-def]
    ob = parts.window.onboarding
    assert ob.stack.currentIndex() == 3, "expected the unlock step"
    qtbot.keyClicks(ob.unlock_pass, passphrase)
    qtbot.mouseClick(ob.unlock_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: parts.window.root.currentWidget() is parts.window.app_widget, timeout=10_000
    )


def create(qtbot, parts: AppParts, name: str, passphrase: str) -> None:  # type: ignore[no-untyped-def]
    ob = parts.window.onboarding
    qtbot.mouseClick(ob.to_create, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(ob.name, name)
    qtbot.keyClicks(ob.new_pass, passphrase)
    qtbot.keyClicks(ob.new_pass2, passphrase)
    qtbot.mouseClick(ob.create_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: parts.window.root.currentWidget() is parts.window.app_widget, timeout=10_000
    )


def wait_catalog(qtbot, parts: AppParts, at_least: int = 1) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: len(parts.window.store.cards) >= at_least, timeout=10_000)


def give_fan_music(
    world,
    granted: tuple[str, ...] = (),
    partial: tuple[str, ...] = (),  # type: ignore[no-untyped-def]
    waiting: tuple[str, ...] = (),
    queued: tuple[str, ...] = (),
) -> None:
    """The fan bought demo releases before this test, in one process and without a network:
    ``granted`` ones were granted by their artists and downloaded, ``partial`` ones granted with
    only their manifests here (still downloading), ``queued`` ones granted with nothing here yet,
    ``waiting`` ones signed but not granted yet.
    Real purchase and grant entries, moved between the local profiles as a sync would."""
    from app.profile import Profile
    from app.services.core import Core
    from app.services.replica import converge, copy_content
    from app.services.shop import ShopService

    fan = Core.open(Profile(world.fan), world.fan_passphrase)
    seeder = Core.open(Profile(world.actor("seeder").profile), world.actor("seeder").passphrase)
    artists: list[Core] = []
    try:
        shop = ShopService(fan)
        by_title = {li.title: li for li in shop.catalog()}
        for title in (*granted, *partial, *queued, *waiting):
            li = by_title[title]
            shop.buy(li.id, amount=None)
        for title in (*granted, *partial, *queued):
            li = by_title[title]
            actor = next(a for a in world.actors if a.name == li.artist_name)
            artist = Core.open(Profile(actor.profile), actor.passphrase)
            artists.append(artist)
            converge(fan, artist)
            artist.settle()  # the artist grants, as its node does when it sees a purchase
            converge(fan, artist)
        fan.settle()  # the fan collects its keys
        for title in granted:
            for t in by_title[title].tracks:
                copy_content(seeder, fan, t.content)
        for title in partial:
            for t in by_title[title].tracks:
                fan.chunks.put_manifest(seeder.chunks.manifest_bytes(t.content), t.content)
    finally:
        for core in (fan, seeder, *artists):
            core.close()


def confirm_purchase(qtbot, release) -> str:  # type: ignore[no-untyped-def]
    """Press "Buy for …" in the release page's confirmation; returns the question's text."""
    qtbot.waitUntil(
        lambda: release.confirm is not None and release.confirm.isVisible(), timeout=10_000
    )
    box = release.confirm
    text = box.text()
    go = next(b for b in box.buttons() if b.text().startswith("Buy for"))
    qtbot.mouseClick(go, Qt.MouseButton.LeftButton)
    return text
