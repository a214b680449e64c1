"""Screenshots of the main views with demo data: ``python -m app.ui.screenshots OUTDIR``.

Runs offscreen (``QT_QPA_PLATFORM=offscreen`` is set when unset). Builds a demo world in a
temporary folder, makes a few extra fans buy from one artist (so the studio has sales to chart),
then drives the real window: onboarding, store, release page, library (mid-download), player
bar, exchange, community, studio, wallet, network and settings. ``--only export`` makes just
the "Save to folder" dialog's screenshot, on a quick demo world; ``--only community`` just the
Community views, on a quick demo world with its seeder running; ``--only funding`` the artist
page, Campaigns, the wallet's stakes and passes, and a pass's QR code.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, Qt, QTimer

from app.demo import DemoSwarm, build_world, make_sales
from app.profile import Profile
from app.ui.app import AppParts, build
from player.engine import NullEngine

if TYPE_CHECKING:
    from app.services.session.views import ReleaseCard, ReleasePage
    from app.ui.community import CommunityView

SIZE = (1280, 800)


def pump(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait(cond: Callable[[], object], timeout_ms: int = 15_000) -> object:
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if cond():
            return True
        pump(30)
    return cond()


def shoot(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cooptracks-shots-"))
    world = build_world(tmp / "world", quick=False, fresh=True)
    make_sales(world, "artist-3")
    saved: list[Path] = []

    def save(parts: AppParts, name: str) -> None:
        pump(250)
        path = out / f"{name}.png"
        parts.window.grab().save(str(path))
        saved.append(path)

    # onboarding, on a fresh profile
    first = build(Profile(tmp / "newcomer"), engine=NullEngine())
    first.window.resize(*SIZE)
    first.window.show()
    save(first, "onboarding")
    first.shutdown()

    # the fan, on the demo's swarm (its actors run as node processes until the fan is done)
    from app.services.swarm import SwarmNetwork

    swarm = DemoSwarm(world).start()
    swarm.wait_ready()
    fan = build(
        Profile(world.fan),
        lambda: SwarmNetwork(swarm.settings()),
        engine=NullEngine(),
        sync_interval_ms=500,
        title_note="demo",
    )
    w = fan.window
    w.resize(*SIZE)
    w.show()
    job = fan.bridge.unlock(world.fan_passphrase)
    wait(lambda: job.done)
    wait(lambda: len(w.store.cards) >= 5)
    save(fan, "store")
    w.store.search.setText("neon")
    wait(lambda: len(w.store.visible_titles()) == 2)
    save(fan, "store-search")
    w.store.search.clear()
    wait(lambda: len(w.store.visible_titles()) >= 5)
    target = next(c for c in w.store.cards if c.title == "Afterglow Drive")
    w.store.open_release(target.id)
    wait(lambda: w.store.release.page is not None)
    save(fan, "release")
    # buy two releases; downloads are throttled so the library shows progress
    for title in ("Night Ferry", "Small Rooms"):
        card = next(c for c in w.store.cards if c.title == title)
        w.store.open_release(card.id)

        def opened(c: ReleaseCard = card) -> bool:
            return w.store.release.page is not None and w.store.release.page.card.id == c.id

        wait(opened)
        w.store.release.amount.setText("4.00")
        w.store.release.buy()
        wait(lambda: w.store.release.confirm is not None)
        box = w.store.release.confirm
        assert box is not None  # waited for just above
        if title == "Night Ferry":  # the question before signing, price and split
            pump(250)
            box.grab().save(str(out / "release-confirm.png"))
            saved.append(out / "release-confirm.png")
        next(b for b in box.buttons() if b.text().startswith("Buy for")).click()
        wait(
            lambda: cast("ReleasePage", w.store.release.page).purchase_state in ("owned", "granted")
        )
    save(fan, "release-owned")
    w.show_named("library")
    wait(lambda: any(r.state == "downloading" and r.have > 0 for r in w.library.rows), 20_000)
    pump(400)
    save(fan, "library-downloading")
    wait(lambda: w.library.rows and all(r.ready for r in w.library.rows), 60_000)
    w.library.refresh()
    wait(lambda: all(r.ready for r in w.library.rows))
    w.library.create_playlist(
        "Late night", [r.track_id for r in w.library.rows[:3] if r.track_id is not None]
    )
    wait(lambda: bool(w.library.playlists))
    w.library.table.selectRow(1)
    w.library._play_from(1)
    wait(lambda: w.player_bar.player.current is not None)
    pump(1800)
    save(fan, "library")
    menu = w.library.track_menu(1)  # the right-click menu of a track
    menu.popup(w.mapToGlobal(w.rect().center()))
    pump(250)
    menu.grab().save(str(out / "library-menu.png"))
    saved.append(out / "library-menu.png")
    menu.close()
    bar = w.player_bar.grab()
    bar.save(str(out / "player-bar.png"))
    saved.append(out / "player-bar.png")
    shoot_exchange(fan, save)
    saved.append(shoot_community(fan, save, out))
    w.show_named("wallet")
    wait(lambda: w.wallet.view is not None and bool(w.wallet.holdings))
    save(fan, "wallet")
    w.show_named("network")
    wait(
        lambda: w.network.status is not None and len(w.network.status.online) == len(swarm.running)
    )
    pump(2500)  # a refresh or two, so the rates have a window to be measured over
    save(fan, "network")
    w.show_named("settings")
    pump(600)
    save(fan, "settings")
    fan.shutdown()
    swarm.stop()

    # an artist with sales (its node process has stopped: one identity, one writer)
    artist = build(
        Profile(world.root / "artist-3"), None, engine=NullEngine(), title_note="demo artist"
    )
    artist.window.resize(*SIZE)
    artist.window.show()
    job = artist.bridge.unlock("demo-actor-passphrase")
    wait(lambda: job.done)
    artist.window.show_named("studio")
    wait(lambda: artist.window.studio.c_sales.value.text() not in ("—", "0"))
    save(artist, "studio")
    studio = artist.window.studio
    studio.tabs.setCurrentWidget(studio.wizard)
    files = sorted((world.root / "generated-audio").glob("artist-1-0-*"))
    studio.wizard.add_files(files)
    wait(lambda: studio.wizard.track_table.rowCount() == len(files))
    studio.wizard.set_artwork(world.root / "generated-audio" / "artist-1-0.png")
    studio.wizard.goto(1)
    save(artist, "studio-publish")
    artist.shutdown()
    return saved


def shoot_export(out: Path) -> Path:
    """The "Save to folder" dialog after the fan saved an owned release as FLAC."""
    from app.demo import fan_owns

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cooptracks-shots-"))
    world = build_world(tmp / "world", quick=True, fresh=True)
    fan_owns(world, "Night Ferry")
    os.environ["HOME"] = str(tmp / "home")  # the folder shows as ~/Music/Cooptracks
    parts = build(Profile(world.fan), None, engine=NullEngine(), title_note="demo")
    parts.window.resize(*SIZE)
    parts.window.show()
    job = parts.bridge.unlock(world.fan_passphrase)
    wait(lambda: job.done)
    library = parts.window.library
    parts.window.show_named("library")
    wait(lambda: bool(library.rows) and all(r.ready for r in library.rows))
    library.table.selectRow(0)
    library.save_to_folder(library.rows[:1], album=True)
    dialog = library.export_dialog
    assert dialog is not None
    wait(lambda: dialog.plan is not None)
    dialog.format.setCurrentIndex(dialog.format.findData("flac"))
    dialog.folder.setText("~/Music/Cooptracks")
    dialog.start()
    wait(lambda: dialog.report is not None, 60_000)
    pump(250)
    path = out / "export.png"
    dialog.grab().save(str(path))
    parts.shutdown()
    return path


def shoot_exchange(fan: AppParts, save: Callable[[AppParts, str], None]) -> None:
    """The exchange: a pair's book and charts with a buy quoted; then a resting offer, which
    the wallet shows as locked."""
    w = fan.window
    w.show_named("exchange")
    ex = w.exchange
    wait(lambda: len(ex.pairs) >= 2 and ex.page is not None)
    ex.choose_pair("MOSS/CRED")
    wait(lambda: ex.page is not None and ex.page.pair.base_symbol == "MOSS")
    ex.limit.setText("0.21")
    ex.rest.setChecked(True)
    ex.amount.setText("15")
    wait(lambda: ex.place_btn.isEnabled())
    ex.place()
    wait(lambda: ex.orders_table.rowCount() == 1)
    ex.limit.clear()
    ex.rest.setChecked(False)
    ex.amount.setText("30")
    wait(lambda: ex.place_btn.isEnabled() and "30 MOSS" in ex.place_btn.text())
    ex.tabs.setCurrentIndex(0)
    save(fan, "exchange")
    ex.tabs.setCurrentIndex(3)
    save(fan, "exchange-settlers")
    ex.amount.clear()


def shoot_community(fan: AppParts, save: Callable[[AppParts, str], None], out: Path) -> Path:
    """Community: the proposals and the label's treasury; a closed proposal with its results
    and a vote the settler left out; the vote dialog on the open one, with what it locks."""
    w = fan.window
    w.show_named("community")
    view = cast("CommunityView", w.view("community"))
    wait(lambda: view.overview is not None and bool(view.overview.open) and view.label_cards)
    save(fan, "community")
    view.open_by_title("Fund a music video for Marrow & Moss")
    wait(lambda: view.page is not None and view.page.title.startswith("Fund"))
    save(fan, "community-proposal")
    view.open_by_title("Sign Ottoline Vale to Coop Records")
    wait(lambda: view.page is not None and view.page.title.startswith("Sign"))
    dialog = view.open_vote()
    assert dialog is not None
    dialog.choose("yes")
    dialog.units.setText("16")
    wait(lambda: dialog.sign_btn.isEnabled())
    save(fan, "community-open")
    pump(250)
    path = out / "community-vote.png"
    dialog.grab().save(str(path))
    dialog.reject()
    view.show_list()
    return path


def shoot_community_only(out: Path) -> list[Path]:
    """The Community views on a quick demo world with its seeder running."""
    from app.services.swarm import SwarmNetwork

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cooptracks-shots-"))
    world = build_world(tmp / "world", quick=True, fresh=True)
    swarm = DemoSwarm(world, roles=("seeder",)).start()
    swarm.wait_ready()
    saved: list[Path] = []
    fan = build(
        Profile(world.fan),
        lambda: SwarmNetwork(swarm.settings()),
        engine=NullEngine(),
        sync_interval_ms=500,
        title_note="demo",
    )

    def save(parts: AppParts, name: str) -> None:
        pump(250)
        path = out / f"{name}.png"
        parts.window.grab().save(str(path))
        saved.append(path)

    try:
        fan.window.resize(*SIZE)
        fan.window.show()
        job = fan.bridge.unlock(world.fan_passphrase)
        wait(lambda: job.done)
        saved.append(shoot_community(fan, save, out))
    finally:
        fan.shutdown()
        swarm.stop()
    return saved


def shoot_funding(out: Path, world_root: Path | None = None) -> list[Path]:
    """The artist page, Campaigns (with the new-campaign and pledge dialogs), the wallet's stakes
    and passes and a pass shown as a QR code, on a quick demo world with its nodes running."""
    from app.services.swarm import SwarmNetwork

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cooptracks-shots-"))
    world = build_world(world_root or tmp / "world", quick=True, fresh=True)
    saved: list[Path] = []

    def save(widget: object, name: str) -> None:
        pump(300)
        path = out / f"{name}.png"
        widget.grab().save(str(path))  # type: ignore[attr-defined]
        saved.append(path)

    swarm = DemoSwarm(world).start()
    swarm.wait_ready()
    fan = build(
        Profile(world.fan),
        lambda: SwarmNetwork(swarm.settings()),
        engine=NullEngine(),
        sync_interval_ms=500,
        title_note="demo",
    )
    try:
        w = fan.window
        w.resize(*SIZE)
        w.show()
        job = fan.bridge.unlock(world.fan_passphrase)
        wait(lambda: job.done)
        wait(lambda: len(w.store.cards) >= 5)
        card = next(c for c in w.store.cards if c.title == "Afterglow Drive")
        w.store.open_release(card.id)
        wait(lambda: w.store.release.page is not None)
        w.store.release._artist_click.clicked.emit()
        wait(lambda: w.artist.page is not None and w.artist.page.name == "Neon Harbor")
        save(w, "artist")
        w.show_named("campaigns")
        wait(lambda: len(w.campaigns.boxes) >= 2)
        save(w, "campaigns")
        new = w.campaigns.open_new()
        wait(lambda: new.settler.count() >= 1)
        new.title.setText("Living-room tour")
        new.description.setPlainText("Ten small shows in fans' living rooms this autumn.")
        new.goal.setText("250")
        new.days.setText("21")
        for row, texts in zip(
            new.tiers,
            (("Guest", "10", "a seat at one show"), ("Host", "60", "a show in your home")),
            strict=False,
        ):
            for edit, text in zip(row, texts, strict=True):
                edit.setText(text)
        wait(lambda: new.plan is not None)
        save(new, "campaigns-new")
        new.reject()
        dialog = w.campaigns.open_pledge(w.campaigns.box("Night Ferry on vinyl").campaign)
        dialog.amount.setText("20")
        wait(lambda: dialog.plan is not None)
        save(dialog, "campaigns-pledge")
        dialog.confirm()
        wait(lambda: any(b.campaign.mine for b in w.campaigns.boxes))
        w.show_named("wallet")
        wallet = w.wallet
        wait(lambda: wallet.view is not None and wallet.stakes.view is not None)
        wallet.tabs.setCurrentWidget(wallet.stakes)
        wallet.stakes.coin.setCurrentIndex(
            wallet.stakes.coin.findText("NEON", Qt.MatchFlag.MatchContains)
        )
        wallet.stakes.amount.setText("25")
        wallet.stakes.stake()
        wait(lambda: bool(wallet.stakes.view and wallet.stakes.view.stakes))
        wait(
            lambda: (
                wallet.stakes.view is not None and wallet.stakes.view.stakes[0].status == "staked"
            ),
            30_000,
        )
        # a sale of Neon Harbor's: its node distributes, the fan's node collects the dividend
        pixel = next(c for c in w.store.cards if c.title == "Pixel Tides")
        fan.bridge.call("buy", pixel.id, "2.50")
        wait(
            lambda: (
                wallet.stakes.view is not None
                and bool(wallet.stakes.view.dividends)
                and wallet.tabs.currentWidget() is wallet.stakes
            ),
            30_000,
        )
        wallet.show_tab(wallet.stakes)
        save(w, "wallet-stakes")
        wallet.tabs.setCurrentWidget(wallet.passes)
        wait(lambda: wallet.passes.view is not None and bool(wallet.passes.view.gates))
        assert wallet.passes.view is not None
        gate = next(g for g in wallet.passes.view.gates if g.title == "Backstage pass")
        wallet.passes.claim(gate.id)
        wait(
            lambda: (
                wallet.passes.view is not None
                and any(g.active_claim for g in wallet.passes.view.gates)
            )
        )
        wallet.show_tab(wallet.passes)
        save(w, "wallet-passes")
        assert wallet.passes.view is not None
        claim = next(g.active_claim for g in wallet.passes.view.gates if g.active_claim)
        wallet.passes.show_pass(claim)
        wait(lambda: wallet.passes.dialog is not None)
        save(wallet.passes.dialog, "pass-qr")
    finally:
        fan.shutdown()
        swarm.stop()
    return saved


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    only = args[args.index("--only") + 1] if "--only" in args else None
    rest = [a for a in args if a not in ("--only", only)]
    out = Path(rest[0] if rest else "docs/screenshots")
    if only == "export":
        print(shoot_export(out))
        return 0
    if only == "community":
        for p in shoot_community_only(out):
            print(p)
        return 0
    if only == "funding":
        for p in shoot_funding(out):
            print(p)
        return 0
    for p in shoot(out):
        print(p)
    print(shoot_export(out))
    for p in shoot_funding(out):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
