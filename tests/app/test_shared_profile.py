"""The app and the CLI on one profile at once: the app shows what the CLI wrote, and its own
Buy keeps working afterwards (it used to fail with "UNIQUE constraint failed" until a restart)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt

from app.demo import DemoWorld
from tests.app.helpers import confirm_purchase, unlock, wait_catalog

ROOT = Path(__file__).resolve().parents[2]


def _cli(profile: Path, passphrase: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "--profile", str(profile), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "COOPTRACKS_PASSPHRASE": passphrase},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _open(qtbot, store, title: str) -> None:  # type: ignore[no-untyped-def]
    for i in range(store.grid.count()):
        item = store.grid.item(i)
        if item.data(Qt.ItemDataRole.UserRole + 1).title == title and not item.isHidden():
            rect = store.grid.visualItemRect(item)
            qtbot.mouseClick(store.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            qtbot.waitUntil(
                lambda: store.release.page is not None and store.release.page.card.title == title,
                timeout=10_000,
            )
            return
    raise AssertionError(f"{title!r} is not shown")


def test_the_app_shows_a_cli_purchase_and_its_own_buy_still_works(
    qtbot, launch, world: DemoWorld
) -> None:
    fan = launch(world.fan)  # offline: what changes comes from the CLI beside it
    unlock(qtbot, fan, world.fan_passphrase)
    win = fan.window
    wait_catalog(qtbot, fan, 2)
    session = fan.bridge.session
    assert session is not None
    owned = {p.listing.id for p in session.shop.purchases()}
    fixed = [
        li
        for li in session.shop.catalog()
        if li.id not in owned and not li.prices[0].nyp and li.artist != session.me
    ]
    assert len(fixed) >= 2, "the demo has two fixed-price releases the fan does not own"
    by_cli, in_app = fixed[0], fixed[1]
    win.show_named("wallet")
    wallet = win.wallet
    qtbot.waitUntil(lambda: wallet.view is not None, timeout=10_000)

    def credits() -> str:
        return next(b.amount for b in wallet.view.balances if b.symbol == "CRED")

    before = credits()

    _cli(world.fan, world.fan_passphrase, "buy", by_cli.id.hex(), "--yes")
    qtbot.waitUntil(lambda: credits() != before, timeout=10_000)
    assert any(h.kind == "purchase" for h in wallet.view.history)

    win.show_named("store")
    _open(qtbot, win.store, in_app.title)
    release = win.store.release
    qtbot.mouseClick(release.buy_btn, Qt.MouseButton.LeftButton)
    confirm_purchase(qtbot, release)
    qtbot.waitUntil(lambda: release.page.purchase_state != "", timeout=10_000)
    assert not release.status.isVisible() or "could not" not in release.status.text()
    bought = {p.listing.id for p in session.shop.purchases()}
    assert {by_cli.id, in_app.id} <= bought
    assert not session.core.ledger.fork_proofs()


def test_the_studio_says_which_releases_the_sales_agent_sells(
    qtbot, launch, world: DemoWorld
) -> None:
    artist = next(a for a in world.actors if a.role == "artist")
    parts = launch(artist.profile)
    unlock(qtbot, parts, artist.passphrase)
    win = parts.window
    win.show_named("studio")
    studio = win.studio
    qtbot.waitUntil(lambda: "Sales agent" in studio.agents.text(), timeout=10_000)
    text = studio.agents.text()
    assert "releases while you are offline" in text and "cannot sell" not in text
    session = parts.bridge.session
    assert session is not None
    ((can, cannot),) = session.studio.agent_coverage().values()
    assert can and not cannot


def test_a_fan_buys_one_track_on_the_release_page(
    qtbot, launch, world: DemoWorld, tmp_path: Path
) -> None:
    from player.samples import make_tone

    artist = next(a for a in world.actors if a.role == "artist")
    songs = [
        make_tone(
            tmp_path,
            f"0{n} single",
            "flac",
            seconds=2.0,
            freq=300.0 + 100 * n,
            title=t,
            artist="Ann",
        )
        for n, t in enumerate(("Side A", "Side B"), 1)
    ]
    _cli(
        artist.profile,
        artist.passphrase,
        "publish",
        *map(str, songs),
        "--title",
        "Two Sides",
        "--price",
        "3",
        "--track-price",
        "1.50",
        "--asset",
        "CRED",
        "--genre",
        "Test",
    )
    exported = tmp_path / "artist.jsonl"
    _cli(artist.profile, artist.passphrase, "ledger", "export", "--out", str(exported))
    _cli(world.fan, world.fan_passphrase, "ledger", "import", str(exported))
    fan = launch(world.fan)
    unlock(qtbot, fan, world.fan_passphrase)
    wait_catalog(qtbot, fan, 2)
    _open(qtbot, fan.window.store, "Two Sides")
    release = fan.window.store.release
    tracks = release.tracks
    assert set(tracks.buy_buttons) == {0, 1}
    assert tracks.buy_buttons[1].text() == "Buy · 1.50 CRED"
    assert release.buy_btn.text() == "Buy · 3.00 CRED"  # the whole release stays on offer
    qtbot.mouseClick(tracks.buy_buttons[1], Qt.MouseButton.LeftButton)
    question = confirm_purchase(qtbot, release)
    assert "Buy “Side B (from Two Sides)”" in question and "1.50 CRED" in question
    assert "(the artist): 1.50 CRED" in question
    qtbot.waitUntil(lambda: set(release.tracks.buy_buttons) == {0}, timeout=10_000)
    session = fan.bridge.session
    assert session is not None
    bought = [p for p in session.shop.purchases() if p.listing.title == "Two Sides"]
    assert [(p.track, p.amount) for p in bought] == [(1, 150)]
    assert release.kind.text() == "ALBUM · TEST"


def test_the_wallet_shows_the_peer_id_copies_it_and_sends_to_one(
    qtbot, launch, world: DemoWorld
) -> None:
    from PySide6.QtGui import QGuiApplication

    from ledger.keys import peer_id

    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    win = parts.window
    win.show_named("wallet")
    wallet = win.wallet
    qtbot.waitUntil(lambda: wallet.view is not None, timeout=10_000)
    session = parts.bridge.session
    assert session is not None
    assert wallet.me.text().replace("\u200b", "") == peer_id(session.me)  # wraps, whole
    qtbot.mouseClick(wallet.copy_btn, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == peer_id(session.me)
    gateway = next(a for a in world.actors if a.role == "gateway").identity()
    before = next(b.amount for b in wallet.view.balances if b.symbol == "CRED")
    wallet.asset.setCurrentIndex(wallet.asset.findText("CRED", Qt.MatchFlag.MatchStartsWith))
    qtbot.keyClicks(wallet.to, gateway.peer_id)  # pasted as the app shows IDs
    qtbot.keyClicks(wallet.amount, "1")
    qtbot.mouseClick(wallet.send_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: next(b.amount for b in wallet.view.balances if b.symbol == "CRED") != before,
        timeout=10_000,
    )
    assert wallet.send_msg.text() == "" or "not" not in wallet.send_msg.text()


def test_not_enough_credit_goes_away_once_credits_arrive(
    qtbot, launch, world: DemoWorld, tmp_path: Path
) -> None:
    gateway = next(a for a in world.actors if a.role == "gateway")
    fan = launch(world.fan)
    unlock(qtbot, fan, world.fan_passphrase)
    wait_catalog(qtbot, fan, 2)
    session = fan.bridge.session
    assert session is not None
    state = session.core.ledger.state
    cred = next(a for a in state.assets.values() if a.symbol == "CRED")
    have = state.balance(session.me, cred.id)
    owned = {p.listing.id for p in session.shop.purchases()}
    release = next(
        li
        for li in session.shop.catalog()
        if li.id not in owned and not li.prices[0].nyp and li.prices[0].amount > 100
    )
    # Beside the app, the CLI spends all but 1.00 CRED.
    _cli(
        world.fan,
        world.fan_passphrase,
        "send",
        gateway.identity().peer_id,
        f"{(have - 100) / 100:.2f}",
        "--asset",
        "CRED",
    )
    qtbot.waitUntil(
        lambda: session.core.ledger.state.balance(session.me, cred.id) == 100, timeout=10_000
    )
    _open(qtbot, fan.window.store, release.title)
    view = fan.window.store.release
    qtbot.mouseClick(view.buy_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not enough credit" in view.status.text().lower(), timeout=10_000)
    # The gateway sends 10 CRED; the fan's profile imports it beside the running app.
    _cli(
        gateway.profile,
        gateway.passphrase,
        "send",
        session.identity_info().peer_id,
        "10",
        "--asset",
        "CRED",
    )
    exported = tmp_path / "gateway.jsonl"
    _cli(gateway.profile, gateway.passphrase, "ledger", "export", "--out", str(exported))
    _cli(world.fan, world.fan_passphrase, "ledger", "import", str(exported))
    qtbot.waitUntil(lambda: "not enough credit" not in view.status.text().lower(), timeout=15_000)
    assert view.buy_btn.isVisible() and view.buy_btn.isEnabled()


def test_store_in_the_sidebar_leaves_a_release_page(qtbot, launch, world: DemoWorld) -> None:
    fan = launch(world.fan)
    unlock(qtbot, fan, world.fan_passphrase)
    wait_catalog(qtbot, fan, 2)
    store = fan.window.store
    _open(qtbot, store, store.cards[0].title)
    assert store.stack.currentWidget() is store.release
    qtbot.mouseClick(fan.window.nav["store"], Qt.MouseButton.LeftButton)
    assert store.stack.currentWidget() is store.browse
