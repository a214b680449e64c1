"""A fan finds a release, previews it, buys it, downloads it and plays it; too little credit.

The swarm is real: the demo's seeder (and, in the first test, the test's own artist) run as
``cooptracks seed`` processes on 127.0.0.1, and each app's session runs its own libp2p node.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt

from app.demo import Actor, DemoSwarm, DemoWorld
from app.services.swarm import SwarmNetwork
from content.chunkstore import ChunkStore
from player.engine import PlaybackState
from player.samples import make_tone
from tests.app.helpers import confirm_purchase, create, unlock, wait_catalog


def _tile(store, title: str):  # type: ignore[no-untyped-def]
    for i in range(store.grid.count()):
        item = store.grid.item(i)
        if item.data(Qt.ItemDataRole.UserRole + 1).title == title and not item.isHidden():
            return item
    raise AssertionError(f"{title!r} is not shown")


def _open(qtbot, store, title: str) -> None:  # type: ignore[no-untyped-def]
    item = _tile(store, title)
    rect = store.grid.visualItemRect(item)
    qtbot.mouseClick(store.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(
        lambda: store.release.page is not None and store.release.page.card.title == title,
        timeout=10_000,
    )


def test_artist_publishes_and_a_fan_buys_downloads_and_plays(
    qtbot, launch, world: DemoWorld, tmp_path: Path, request
) -> None:
    # -- the artist: a new identity on the demo swarm publishes in the studio ------------------
    music = tmp_path / "music"
    music.mkdir()
    files = [
        make_tone(
            music,
            f"0{n} song",
            "flac",
            seconds=2.0,
            freq=330.0 + 110 * n,
            title=t,
            artist="Test Pilot",
            album="Maiden Voyage",
            genre="Test",
        )
        for n, t in enumerate(("Takeoff", "Cruise"), start=1)
    ]
    artist_dir = tmp_path / "artist"
    seeder = DemoSwarm(world, roles=("seeder",)).start()
    request.addfinalizer(seeder.stop)
    seeder.wait_ready()
    artist = launch(artist_dir, lambda: SwarmNetwork(seeder.settings()))
    create(qtbot, artist, "Test Pilot", "artist passphrase")
    win = artist.window
    win.show_named("studio")
    studio = win.studio
    studio.tabs.setCurrentWidget(studio.wizard)
    wiz = studio.wizard
    qtbot.waitUntil(lambda: bool(wiz.assets), timeout=10_000)  # CRED synced from the gateway
    wiz.add_files(files)
    qtbot.waitUntil(lambda: wiz.track_table.rowCount() == 2, timeout=10_000)
    assert wiz.track_table.item(0, 1).text() == "Takeoff"  # prefilled from the tags
    assert wiz.title.text() == "Maiden Voyage" and wiz.artist.text() == "Test Pilot"
    qtbot.mouseClick(wiz.next_btn, Qt.MouseButton.LeftButton)
    wiz.tags.setText("test, flight")
    qtbot.mouseClick(wiz.next_btn, Qt.MouseButton.LeftButton)
    wiz.asset.setCurrentText("CRED")
    wiz.price.setText("2.00")
    wiz.nyp.setChecked(True)
    wiz.preview_len.setValue(5)
    qtbot.mouseClick(wiz.next_btn, Qt.MouseButton.LeftButton)
    assert "Maiden Voyage" in wiz.review.text()
    qtbot.mouseClick(wiz.next_btn, Qt.MouseButton.LeftButton)  # Publish
    qtbot.waitUntil(lambda: "Published" in wiz.message.text(), timeout=20_000)
    qtbot.waitUntil(lambda: studio.c_releases.value.text() == "1", timeout=10_000)
    # the seeder's node replicated the listing from the artist's and pinned its tracks
    listing = artist.bridge.session.studio.releases()[0]
    pinned = ChunkStore(world.actor("seeder").profile / "content")
    qtbot.waitUntil(
        lambda: all(pinned.is_complete(t.content) for t in listing.tracks), timeout=30_000
    )
    artist.shutdown()

    # -- the fan, in a second profile: the artist's node is online (headless) in the swarm ----
    online_artist = Actor("Test Pilot", "artist", artist_dir, True, "artist passphrase")
    artist_node = DemoSwarm(
        world,
        roles=(),
        extra=(online_artist,),
        name="artist-node",
        bootstrap=tuple(r.addr for r in seeder.running),
    ).start()
    request.addfinalizer(artist_node.stop)
    artist_node.wait_ready()
    settings = seeder.settings()
    settings = replace(settings, bootstrap=(*settings.bootstrap, artist_node.running[0].addr))
    fan = launch(world.fan, lambda: SwarmNetwork(settings))
    unlock(qtbot, fan, world.fan_passphrase)
    store = fan.window.store
    wait_catalog(qtbot, fan, 6)
    qtbot.keyClicks(store.search, "maiden")
    qtbot.waitUntil(lambda: store.visible_titles() == ["Maiden Voyage"], timeout=10_000)
    _open(qtbot, store, "Maiden Voyage")
    release = store.release
    page = release.page
    assert [t.title for t in page.tracks] == ["Takeoff", "Cruise"]
    assert release.amount.isVisible() and release.amount.text() == "2.00"  # name your price
    bar = fan.window.player_bar
    if page.tracks[0].preview is not None:  # previews exist when the encoder is available
        qtbot.mouseClick(release.tracks.buttons[0], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bar.player.state == PlaybackState.PLAYING, timeout=10_000)
        assert "(preview)" in bar.title.text()
    release.amount.setText("3.50")
    qtbot.mouseClick(release.buy_btn, Qt.MouseButton.LeftButton)
    question = confirm_purchase(qtbot, release)
    assert "for 3.50\u00a0CRED?" in question and "Test Pilot (the artist): 3.50 CRED" in question
    qtbot.waitUntil(lambda: release.page.purchase_state == "owned", timeout=20_000)
    assert "In your library" in release.status.text()

    fan.window.show_named("library")
    library = fan.window.library
    qtbot.waitUntil(
        lambda: len(library.rows) == 2 and all(r.ready for r in library.rows), timeout=20_000
    )
    row = [r.title for r in library.shown].index("Takeoff")
    cell = library.table.visualItemRect(library.table.item(row, 1)).center()
    qtbot.mouseClick(library.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert library.table.currentRow() == row
    qtbot.mouseClick(library.play_all, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.title.text() == "Takeoff", timeout=10_000)
    assert bar.player.state == PlaybackState.PLAYING
    assert [i.title for i in bar.player.queue] == ["Takeoff", "Cruise"]
    qtbot.waitUntil(lambda: bar.engine.position_ms > 0, timeout=5_000)  # the clock runs
    # the engine reads the decrypted stream: the first bytes are a FLAC header
    with bar.player.current.source.open_stream() as stream:
        assert stream.read(4) == b"fLaC"
    qtbot.mouseClick(bar.play_btn, Qt.MouseButton.LeftButton)
    assert bar.player.state == PlaybackState.PAUSED

    # the sale reached the artist's ledger, paid at the fan's chosen price
    wallet_view = fan.bridge.session.wallet_view()
    assert next(b.amount for b in wallet_view.balances if b.symbol == "CRED") == "21.50 CRED"


def test_too_little_credit_shows_the_message(
    qtbot, launch, world: DemoWorld, tmp_path: Path
) -> None:
    with DemoSwarm(world, roles=("seeder",)) as seeder:  # a newcomer's catalog comes from it
        seeder.wait_ready()
        parts = launch(tmp_path / "broke", lambda: SwarmNetwork(seeder.settings()))
        _too_little_credit(qtbot, parts)
        parts.shutdown()


def _too_little_credit(qtbot, parts) -> None:  # type: ignore[no-untyped-def]
    create(qtbot, parts, "Broke Fan", "broke passphrase")
    store = parts.window.store
    wait_catalog(qtbot, parts, 4)
    _open(qtbot, store, "Afterglow Drive")
    release = store.release
    qtbot.mouseClick(release.buy_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: release.status.isVisible() and "not enough credit" in release.status.text().lower(),
        timeout=10_000,
    )
    assert release.status.text() == (
        "Not enough credit: you have 0.00 CRED, the price is 5.00 CRED"
    )
    assert release.buy_btn.isEnabled()


def test_search_as_you_type_filters_the_grid(qtbot, launch, world: DemoWorld) -> None:
    parts = launch(world.fan)  # offline: the catalog is the local replica
    unlock(qtbot, parts, world.fan_passphrase)
    store = parts.window.store
    wait_catalog(qtbot, parts, 5)
    qtbot.keyClicks(store.search, "synthwave")
    qtbot.waitUntil(lambda: store.visible_titles() == ["Afterglow Drive"], timeout=10_000)
    store.search.clear()
    qtbot.keyClicks(store.search, "zzzz nothing")
    qtbot.waitUntil(lambda: store.empty.isVisible(), timeout=10_000)
    assert store.visible_titles() == []
