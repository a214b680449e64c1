"""A fan meets the fan economy through the real window on the demo swarm (the seeder and the
online artists run as ``cooptracks seed`` processes on 127.0.0.1): opens an artist page from a
release page, pledges to a campaign and sees the pledge, claims a holders-only pass and shows it
as a QR code with its proof, stakes NEON (Neon Harbor's node accepts) and receives a dividend
after a sale. Bad input gets a sentence and signs nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.demo import DemoSwarm, DemoWorld
from app.services.swarm import SwarmNetwork
from tests.app.helpers import unlock, wait_catalog


def test_artist_page_pledge_pass_and_stake(qtbot, launch, world: DemoWorld, request) -> None:
    swarm = DemoSwarm(world, roles=("seeder", "artist")).start()
    request.addfinalizer(swarm.stop)
    swarm.wait_ready()
    fan = launch(world.fan, lambda: SwarmNetwork(swarm.settings()))
    unlock(qtbot, fan, world.fan_passphrase)
    win = fan.window
    session = fan.bridge.session
    notices: list[str] = []
    fan.bridge.notice.connect(lambda text, _err: notices.append(text))
    wait_catalog(qtbot, fan, 5)

    # the artist's name on a release page opens the artist page
    store = win.store
    store.open_release(next(c.id for c in store.cards if c.title == "Small Rooms"))
    qtbot.waitUntil(lambda: store.release.page is not None, timeout=10_000)
    qtbot.mouseClick(store.release.artist, Qt.MouseButton.LeftButton)
    artist = win.artist
    qtbot.waitUntil(lambda: artist.page is not None, timeout=10_000)
    assert win.pages.currentWidget() is artist and artist.name.text() == "Marrow & Moss"
    assert artist.releases.item(0, 0).text() == "Small Rooms"
    assert artist.page.coins[0].tier == "Your tier: Backstage pass"
    assert artist.reviews_box.count() == 2 and not artist.write_card.isVisibleTo(artist)

    # pledge to the seeder-settled campaign; bad input first
    win.nav["campaigns"].click()
    camp = win.campaigns
    qtbot.waitUntil(lambda: len(camp.boxes) >= 2, timeout=10_000)
    box = camp.box("Night Ferry on vinyl")
    qtbot.mouseClick(box.pledge_btn, Qt.MouseButton.LeftButton)
    dialog = camp.dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.amount, "lots")
    qtbot.waitUntil(lambda: dialog.message.isVisible(), timeout=10_000)
    assert not dialog.confirm_btn.isEnabled() and "Traceback" not in dialog.message.text()
    dialog.amount.clear()
    qtbot.keyClicks(dialog.amount, "5")
    qtbot.waitUntil(lambda: dialog.confirm_btn.isEnabled(), timeout=10_000)
    assert "Locks 5.00 CRED" in dialog.explain.text()
    assert "by itself if nobody closes it" in dialog.explain.text()
    assert session.core.ledger.state.pledges == {
        k: v for k, v in session.core.ledger.state.pledges.items() if v.backer != session.me
    }
    qtbot.mouseClick(dialog.confirm_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Pledged 5.00 CRED" in camp.message.text(), timeout=10_000)
    qtbot.waitUntil(lambda: bool(camp.box("Night Ferry on vinyl").campaign.mine), timeout=10_000)
    mine = camp.box("Night Ferry on vinyl").campaign
    assert mine.pledged == "93.00 CRED" and mine.mine[0].status == "pending"

    # claim the holders-only pass and show it
    win.show_named("wallet")
    wallet = win.wallet
    wallet.tabs.setCurrentWidget(wallet.passes)
    qtbot.waitUntil(lambda: wallet.passes.view is not None, timeout=10_000)
    row = next(r for r, g in enumerate(wallet.passes.view.gates) if g.title == "Backstage pass")
    qtbot.mouseClick(wallet.passes.table.cellWidget(row, 3), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Pass claimed" in wallet.passes.message.text(), timeout=10_000)
    qtbot.waitUntil(
        lambda: (
            wallet.passes.table.cellWidget(row, 3) is not None
            and wallet.passes.table.cellWidget(row, 3).text() == "Show pass"
        ),
        timeout=10_000,
    )
    qtbot.mouseClick(wallet.passes.table.cellWidget(row, 3), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wallet.passes.dialog is not None, timeout=10_000)
    shown = wallet.passes.dialog
    assert shown.text.toPlainText().startswith("ctpass1:") and len(shown.qr.matrix) >= 21
    qtbot.mouseClick(shown.copy_btn, Qt.MouseButton.LeftButton)
    assert "Copied" in shown.message.text()
    shown.accept()

    # stake NEON: bad days first, then a real stake that Neon Harbor's node accepts
    stakes = wallet.stakes
    wallet.tabs.setCurrentWidget(stakes)
    qtbot.waitUntil(lambda: stakes.view is not None and stakes.coin.count() >= 1, timeout=10_000)
    stakes.coin.setCurrentIndex(stakes.coin.findText("NEON", Qt.MatchFlag.MatchContains))
    stakes.days.setText("forever")
    qtbot.keyClicks(stakes.amount, "10")
    qtbot.mouseClick(stakes.stake_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not a number of days" in stakes.message.text(), timeout=10_000)
    assert session.core.ledger.state.stakes_by(session.me) == []
    stakes.days.setText("30")
    qtbot.keyClicks(stakes.amount, "10")
    qtbot.mouseClick(stakes.stake_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Staked 10 NEON" in stakes.message.text(), timeout=10_000)
    qtbot.waitUntil(
        lambda: (
            stakes.view is not None
            and bool(stakes.view.stakes)
            and stakes.view.stakes[0].status == "staked"
        ),
        timeout=30_000,
    )
    # a sale of Neon Harbor's makes its node distribute; the fan's node or Collect takes it
    pixel = next(c for c in store.cards if c.title == "Pixel Tides")
    fan.bridge.call("buy", pixel.id, "10.00")

    def got_dividend() -> bool:
        if stakes.collect_btn.isEnabled():
            stakes.collect()
        return stakes.view is not None and stakes.view.received != "nothing yet"

    qtbot.waitUntil(got_dividend, timeout=45_000)
    assert stakes.view.dividends[0].coin == "NEON"
    qtbot.waitUntil(lambda: any(n.startswith("Dividend:") for n in notices), timeout=10_000)
