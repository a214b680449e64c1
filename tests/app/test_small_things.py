"""Small things a user notices: the wallet history names what a purchase bought, one bad file
in the Studio's "Add files…" costs only itself, toasts and the queue popup fit the window,
spin boxes have arrows, and the Network view names a seeder the ledger knows and does not say
"Checking…" with a peer connected."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor

from app.demo import DemoSwarm, DemoWorld
from app.profile import Profile
from app.services.core import Core
from app.services.replica import replicate
from app.services.swarm import SwarmNetwork
from app.services.wallet import WalletService
from player.samples import make_tone
from tests.app.helpers import give_fan_music, unlock


def _fan(qtbot, launch, world: DemoWorld, network_factory=None):  # type: ignore[no-untyped-def]
    parts = launch(world.fan, network_factory)
    unlock(qtbot, parts, world.fan_passphrase)
    return parts


def test_wallet_history_names_the_release_a_purchase_bought(
    qtbot, launch, world: DemoWorld
) -> None:
    give_fan_music(world, granted=("Night Ferry",))
    win = _fan(qtbot, launch, world).window
    win.show_named("wallet")
    wallet = win.wallet
    qtbot.waitUntil(lambda: wallet.view is not None, timeout=10_000)
    whats = [wallet.history.item(r, 1).text() for r in range(wallet.history.rowCount())]
    assert "Purchase · “Night Ferry” by Lumen Drift" in whats
    # an amount with a decimal comma is sent as typed
    gateway = world.actor("gateway").identity()
    wallet.asset.setCurrentIndex(wallet.asset.findText("CRED", Qt.MatchFlag.MatchStartsWith))
    qtbot.keyClicks(wallet.to, gateway.peer_id)
    qtbot.keyClicks(wallet.amount, "1,25")
    qtbot.mouseClick(wallet.send_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Sent." in wallet.send_msg.text(), timeout=10_000)
    qtbot.waitUntil(
        lambda: next(b.amount for b in wallet.view.balances if b.symbol == "CRED") == "19.75 CRED",
        timeout=10_000,
    )

    # too much: refused; the refusal goes once credit arrives
    wallet.amount.clear()
    qtbot.keyClicks(wallet.amount, "30")
    qtbot.mouseClick(wallet.send_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not enough" in wallet.send_msg.text().lower(), timeout=10_000)
    gw_actor = world.actor("gateway")
    gw = Core.open(Profile(gw_actor.profile), gw_actor.passphrase)
    fan = Core.open(Profile(world.fan), world.fan_passphrase)
    try:
        cred = next(a for a in gw.ledger.state.assets.values() if a.symbol == "CRED")
        WalletService(gw).send(fan.me, cred.id, "20.00")
        replicate(gw, fan)
    finally:
        gw.close()
        fan.close()
    qtbot.waitUntil(
        lambda: next(b.amount for b in wallet.view.balances if b.symbol == "CRED") == "39.75 CRED",
        timeout=15_000,
    )
    qtbot.waitUntil(lambda: not wallet.send_msg.isVisible(), timeout=5_000)


def test_one_bad_file_in_add_files_costs_only_itself(
    qtbot, launch, world: DemoWorld, tmp_path: Path
) -> None:
    good = make_tone(tmp_path, "good", "flac", seconds=1.0, title="Good One", artist="Ann")
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"this is not audio at all" * 10)
    win = _fan(qtbot, launch, world).window
    win.show_named("studio")
    win.studio.tabs.setCurrentWidget(win.studio.wizard)
    wiz = win.studio.wizard
    wiz.add_files([bad, good])
    qtbot.waitUntil(lambda: wiz.track_table.rowCount() == 1, timeout=10_000)
    assert wiz.track_table.item(0, 1).text() == "Good One"
    assert wiz.files == [good]
    qtbot.waitUntil(lambda: wiz.message.isVisible(), timeout=5_000)
    assert wiz.message.text().startswith("Not added: broken.mp3")
    assert "The other files were added." in wiz.message.text()
    wiz.price.setText("2,50")  # a decimal comma, as many people write it
    wiz.track_price.setText("0,75")
    draft = wiz.draft()
    assert (draft.price, draft.track_price) == ("2.50", "0.75")


def test_toasts_and_the_queue_fit_and_spin_boxes_have_arrows(
    qtbot, launch, world: DemoWorld
) -> None:
    give_fan_music(world, granted=("Night Ferry", "Afterglow Drive"))
    win = _fan(qtbot, launch, world).window
    inside = QRect(0, 0, win.width(), win.height())
    for text in (
        "A purchase was granted: your music is downloading.",
        "the swarm node stopped: " + "a long reason " * 30,
    ):
        win.toast.show_text(text)
        toast = win.toast
        assert inside.contains(toast.geometry()), (toast.geometry(), inside)
        room = toast.contentsRect()
        need = toast.fontMetrics().boundingRect(
            QRect(0, 0, room.width(), 10_000),
            int(Qt.TextFlag.TextWordWrap) if toast.wordWrap() else 0,
            toast.text(),
        )
        assert need.width() <= room.width() and need.height() <= room.height(), (need, room)

    # the queue opens above its button, inside the window
    win.show_named("library")
    library = win.library
    qtbot.waitUntil(lambda: len(library.rows) == 6, timeout=15_000)
    library._play_from(0)
    bar = win.player_bar
    qtbot.waitUntil(lambda: len(bar.player.queue) == 6, timeout=10_000)
    menu = bar.queue_menu()
    top_left = win.mapFromGlobal(bar.queue_menu_pos(menu))
    assert inside.contains(QRect(top_left, menu.sizeHint())), (top_left, menu.sizeHint())

    # spin boxes draw their arrows (light pixels in the button column)
    win.show_named("settings")
    spin = win.settings.quota
    qtbot.waitUntil(spin.isVisible, timeout=5_000)
    image = spin.grab().toImage()
    light = [
        (x, y)
        for x in range(image.width() - 26, image.width())
        for y in range(image.height())
        if QColor(image.pixel(x, y)).lightness() > 150
    ]
    assert len(light) >= 6, "no arrows drawn in the spin box's buttons"


def test_the_network_view_names_a_seeder_and_does_not_keep_checking(
    qtbot, launch, request, world: DemoWorld
) -> None:
    seeder = DemoSwarm(world, roles=("seeder",)).start()
    request.addfinalizer(seeder.stop)
    seeder.wait_ready()
    settings = replace(seeder.settings(), known=())  # known by its address only, not by name
    win = _fan(qtbot, launch, world, lambda: SwarmNetwork(settings)).window
    win.show_named("network")
    network = win.network

    def seeder_row() -> list[str] | None:
        for r in range(network.table.rowCount()):
            cells = [
                network.table.item(r, c).text() if network.table.item(r, c) else ""
                for c in range(network.table.columnCount())
            ]
            if cells[-1] == "● online":
                return cells
        return None

    qtbot.waitUntil(lambda: seeder_row() is not None, timeout=30_000)
    qtbot.waitUntil(
        lambda: network.status is not None and bool(network.status.online), timeout=5_000
    )
    name, role = seeder_row()[:2]
    assert role == "seeder" and name  # named by its published profile
    assert network.c_reach.value.text() != "Checking…"
