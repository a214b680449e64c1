"""A fan meets the fan economy through the real window on the demo swarm (the seeder and the
online artists run as ``cooptracks seed`` processes on 127.0.0.1): opens an artist page from a
release page, pledges to a campaign and sees the pledge, claims a holders-only pass and shows it
as a QR code with its proof, stakes NEON (Neon Harbor's node accepts) and receives a dividend
after a sale. Bad input gets a sentence and signs nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.demo import DemoSwarm, DemoWorld
from app.services.swarm import SwarmNetwork
from tests.app.helpers import give_fan_music, unlock, wait_catalog


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


def test_campaign_closes_show_success_and_refund_plainly(
    qtbot, launch, world: DemoWorld, request
) -> None:
    from app.profile import Profile
    from app.services.core import Core
    from app.services.funding import CampaignService
    from app.services.replica import converge

    # two short campaigns the seeder settles; the fan pledged to both before launching
    lumen, seeder_core = (
        Core.open(Profile(world.actor(s).profile), world.actor(s).passphrase)
        for s in ("artist-1", "seeder")
    )
    fan_core = Core.open(Profile(world.fan), world.fan_passphrase)
    try:
        converge(lumen, seeder_core, fan_core)
        make = CampaignService(lumen).create
        funded = make(
            "Short run", "3.00", "CRED", deadline_in_s=2, close_window_s=30, settler=seeder_core.me
        )
        failed = make(
            "Far goal", "900.00", "CRED", deadline_in_s=2, close_window_s=30, settler=seeder_core.me
        )
        converge(lumen, seeder_core, fan_core)
        fan_core.settle()
        CampaignService(fan_core).pledge(funded, "3")
        CampaignService(fan_core).pledge(failed, "2")
        converge(lumen, seeder_core, fan_core)
    finally:
        for core in (lumen, seeder_core, fan_core):
            core.close()
    swarm = DemoSwarm(world, roles=("seeder",)).start()
    request.addfinalizer(swarm.stop)
    swarm.wait_ready()
    fan = launch(world.fan, lambda: SwarmNetwork(swarm.settings()))
    notices: list[str] = []
    fan.bridge.notice.connect(lambda text, _err: notices.append(text))
    unlock(qtbot, fan, world.fan_passphrase)
    win = fan.window
    win.show_named("campaigns")
    camp = win.campaigns
    qtbot.waitUntil(lambda: len(camp.boxes) >= 4, timeout=10_000)
    assert (
        camp.box("Short run").headline.text().startswith(("Open", "Pledging has ended", "Funded"))
    )

    def closed() -> bool:
        try:
            a, b = camp.box("Short run"), camp.box("Far goal")
        except StopIteration:
            return False
        return (
            a.campaign.status == "funded"
            and b.campaign.status == "failed"
            and b.campaign.mine[0].status == "reclaimed"
        )

    qtbot.waitUntil(closed, timeout=60_000)  # deadline, the close grace, the seeder's round
    a, b = camp.box("Short run"), camp.box("Far goal")
    assert a.headline.text().startswith("Funded: 3.00 CRED went to Lumen Drift")
    assert "went to the artist" in a.campaign.mine[0].text
    assert b.headline.text() == "Not funded: every pledge is refunded to its backer"
    assert b.campaign.mine[0].text == "back in your balance" and not b.reclaim_buttons
    assert not a.pledge_btn.isVisible() and not b.pledge_btn.isVisible()
    qtbot.waitUntil(
        lambda: (
            any("“Short run” is funded" in n for n in notices)
            and any("Refunded: your pledge of 2.00 CRED to “Far goal”" in n for n in notices)
        ),
        timeout=15_000,
    )


def test_artist_pages_open_from_a_store_card_the_library_and_the_player_bar(
    qtbot, launch, world
) -> None:
    give_fan_music(world, granted=("Small Rooms",))
    fan = launch(world.fan)  # offline: the replica has everything the page shows
    unlock(qtbot, fan, world.fan_passphrase)
    win = fan.window
    wait_catalog(qtbot, fan, 5)
    card = next(c for c in win.store.cards if c.title == "Afterglow Drive")
    menu = win.store.card_menu(card)
    go = next(a for a in menu.actions() if a.text() == "Go to Neon Harbor")
    go.trigger()
    qtbot.waitUntil(
        lambda: win.artist.page is not None and win.artist.page.name == "Neon Harbor",
        timeout=10_000,
    )
    assert win.pages.currentWidget() is win.artist
    assert [c.symbol for c in win.artist.page.coins] == ["NEON"]
    qtbot.mouseClick(win.artist.back_btn, Qt.MouseButton.LeftButton)
    assert win.pages.currentWidget() is win.store
    # the library's menu names a track's artist
    win.show_named("library")
    library = win.library
    qtbot.waitUntil(lambda: len(library.rows) >= 2, timeout=10_000)
    menu = library.track_menu(0)
    go = next(a for a in menu.actions() if a.text() == "Go to Marrow & Moss")
    go.trigger()
    qtbot.waitUntil(
        lambda: win.artist.page is not None and win.artist.page.name == "Marrow & Moss",
        timeout=10_000,
    )
    # the fan owns Small Rooms (granted): the page offers to review it
    assert win.artist.write_card.isVisibleTo(win.artist)
    assert win.artist.review_release.currentText() == "Small Rooms"
    win.artist.review_stars.setCurrentIndex(win.artist.review_stars.findData(4))
    qtbot.keyClicks(win.artist.review_text, "Quiet and lovely.")
    qtbot.mouseClick(win.artist.review_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Review signed" in win.artist.review_msg.text(), timeout=10_000)
    qtbot.waitUntil(
        lambda: any(r.mine and r.rating == 4 for r in win.artist.page.reviews), timeout=10_000
    )
    # the player bar names the playing track's artist: a click opens its page
    win.show_named("store")
    win.player_bar.play_rows(library.rows, 0)
    qtbot.waitUntil(lambda: win.player_bar.artist.text() == "Marrow & Moss", timeout=10_000)
    qtbot.mouseClick(win.player_bar.artist, Qt.MouseButton.LeftButton)
    assert win.pages.currentWidget() is win.artist
    qtbot.waitUntil(
        lambda: win.artist.page is not None and win.artist.page.name == "Marrow & Moss",
        timeout=10_000,
    )
    # an unknown name is a sentence, not a traceback
    win.show_artist("Nobody Here")
    qtbot.waitUntil(lambda: "no artist called" in win.artist.message.text().lower(), timeout=10_000)
