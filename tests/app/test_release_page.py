"""The release page as a fan meets it: a confirmation with the price and the split before
anything is signed, amounts with a decimal comma, a refusal that goes away once credit arrives
(and never moves the Buy button), Preview turning into Stop, Store in the sidebar leading back
to the grid, Ctrl+Q. The app runs offline on a copy of the demo fan's profile."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence

from app.demo import DemoWorld
from app.profile import Profile
from app.services.core import Core
from app.services.replica import copy_content, replicate
from app.services.wallet import WalletService
from player.engine import PlaybackState
from tests.app.helpers import confirm_purchase, unlock, wait_catalog


def _open_app(qtbot, launch, world: DemoWorld):  # type: ignore[no-untyped-def]
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    wait_catalog(qtbot, parts, 5)
    return parts


def _open(qtbot, parts, title: str):  # type: ignore[no-untyped-def]
    store = parts.window.store
    card = next(c for c in store.cards if c.title == title)
    store.open_release(card.id)
    release = store.release
    qtbot.waitUntil(
        lambda: release.page is not None and release.page.card.id == card.id, timeout=10_000
    )
    return release


def _purchases(parts, title: str) -> list[tuple[int | None, int]]:  # type: ignore[no-untyped-def]
    return [
        (p.track, p.amount)
        for p in parts.bridge.session.shop.purchases()
        if p.listing.title == title
    ]


def test_buying_asks_first_with_the_price_and_the_split(qtbot, launch, world: DemoWorld) -> None:
    parts = _open_app(qtbot, launch, world)
    release = _open(qtbot, parts, "Small Rooms")  # name your price, from 3.00
    release.amount.clear()
    qtbot.keyClicks(release.amount, "3,50")
    assert release.buy_btn.text() == "Buy · 3,50 CRED"
    qtbot.mouseClick(release.buy_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: release.confirm is not None and release.confirm.isVisible(), timeout=10_000
    )
    question = release.confirm.text()
    assert "Buy “Small Rooms” by Marrow & Moss for 3.50\u00a0CRED?" in question
    assert "Marrow & Moss (the artist): 3.50 CRED" in question
    assert "Your balance afterwards: 21.50 CRED" in question
    # Cancel signs nothing
    cancel = next(b for b in release.confirm.buttons() if b.text().replace("&", "") == "Cancel")
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: release.confirm is None, timeout=5_000)
    assert _purchases(parts, "Small Rooms") == []
    # Buy signs at the price shown
    qtbot.mouseClick(release.buy_btn, Qt.MouseButton.LeftButton)
    confirm_purchase(qtbot, release)
    qtbot.waitUntil(lambda: release.page.purchase_state == "waiting", timeout=10_000)
    assert _purchases(parts, "Small Rooms") == [(None, 350)]

    # a single track: its button shows its price; the question names the track
    release = _open(qtbot, parts, "Afterglow Drive")
    buy = release.tracks.buy_buttons[1]
    assert buy.text() == "Buy · 2.00 CRED"
    qtbot.mouseClick(buy, Qt.MouseButton.LeftButton)
    question = confirm_purchase(qtbot, release)
    assert (
        "Buy “Chrome Sunset (from Afterglow Drive)” by Neon Harbor for 2.00\u00a0CRED?" in question
    )
    qtbot.waitUntil(lambda: _purchases(parts, "Afterglow Drive") == [(1, 200)], timeout=10_000)

    # a single without a genre says SINGLE, not "SINGLE ·"
    page = release.page
    release.show_page(
        replace(page, card=replace(page.card, genre="", track_count=1), tracks=page.tracks[:1])
    )
    assert release.kind.text() == "SINGLE"


def test_a_refusal_clears_once_credit_arrives_and_never_moves_buy(
    qtbot, launch, world: DemoWorld
) -> None:
    parts = _open_app(qtbot, launch, world)
    release = _open(qtbot, parts, "Small Rooms")
    release.amount.setText("30.00")
    qtbot.waitUntil(
        lambda: not release.status.isVisible() or "not enough" not in release.status.text().lower()
    )
    before = release.buy_btn.mapTo(release, QPoint(0, 0))
    qtbot.mouseClick(release.buy_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: release.status.isVisible() and "not enough credit" in release.status.text().lower(),
        timeout=10_000,
    )
    assert release.status.text() == (
        "Not enough credit: you have 25.00 CRED, the price is 30.00 CRED"
    )
    assert release.confirm is None  # nothing to confirm: it was refused before asking
    assert release.buy_btn.mapTo(release, QPoint(0, 0)) == before

    # the gateway sends 20.00 CRED; it reaches this profile as a sync would bring it
    gw_actor = world.actor("gateway")
    gateway = Core.open(Profile(gw_actor.profile), gw_actor.passphrase)
    fan = Core.open(Profile(world.fan), world.fan_passphrase)
    try:
        wallet = WalletService(gateway)
        cred = next(a for a in gateway.ledger.state.assets.values() if a.symbol == "CRED")
        wallet.send(fan.me, cred.id, "20.00")
        replicate(gateway, fan)
    finally:
        gateway.close()
        fan.close()
    qtbot.waitUntil(lambda: "45.00" in release.balance.text(), timeout=15_000)
    qtbot.waitUntil(lambda: not release.status.isVisible(), timeout=5_000)
    qtbot.mouseClick(release.buy_btn, Qt.MouseButton.LeftButton)
    confirm_purchase(qtbot, release)
    qtbot.waitUntil(lambda: _purchases(parts, "Small Rooms") == [(None, 3000)], timeout=10_000)


def test_preview_turns_into_stop_and_store_leads_back_to_the_grid(
    qtbot, launch, world: DemoWorld
) -> None:
    seeder_actor = world.actor("seeder")
    seeder = Core.open(Profile(seeder_actor.profile), seeder_actor.passphrase)
    fan = Core.open(Profile(world.fan), world.fan_passphrase)
    try:  # the previews came from the swarm earlier
        li = next(li for li in fan.ledger.state.current_listings() if li.title == "Night Ferry")
        previews = [t.preview for t in li.tracks if t.preview is not None]
        assert previews, "the demo publishes previews"
        for p in previews:
            copy_content(seeder, fan, p)
    finally:
        seeder.close()
        fan.close()
    parts = _open_app(qtbot, launch, world)
    release = _open(qtbot, parts, "Night Ferry")
    bar = parts.window.player_bar
    first = release.tracks.buttons[0]
    assert first.text() == "▶  Preview"
    qtbot.mouseClick(first, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.player.state == PlaybackState.PLAYING, timeout=10_000)
    qtbot.waitUntil(lambda: release.tracks.buttons[0].text() == "■  Stop", timeout=5_000)
    assert release.tracks.buttons[1].text() == "▶  Preview"
    qtbot.mouseClick(release.tracks.buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.player.state != PlaybackState.PLAYING, timeout=5_000)
    qtbot.waitUntil(lambda: release.tracks.buttons[0].text() == "▶  Preview", timeout=5_000)

    win = parts.window
    store = win.store
    assert store.stack.currentWidget() is store.release
    qtbot.mouseClick(win.nav["store"], Qt.MouseButton.LeftButton)
    assert store.stack.currentWidget() is store.browse

    # Ctrl+Q quits
    assert win.quit_shortcut.key() == QKeySequence("Ctrl+Q")
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5_000)
    qtbot.keyClick(win.focusWidget() or win, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=5_000)
