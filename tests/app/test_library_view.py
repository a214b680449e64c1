"""The Library as a fan uses it: play the track you double-click (even while it downloads), a
selection that follows its tracks, playlists edited from menus, search, sorting and albums.

The fan's purchases are real ledger entries granted by the demo artists' profiles in this
process (``give_fan_music``); the app runs offline on the fan's profile.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QLineEdit, QMenu

from app.demo import DemoWorld
from app.profile import Profile
from app.services.core import Core
from app.services.events import DownloadProgress
from app.services.replica import replicate
from app.ui.library import SIDE_ROLE
from content.chunkstore import ChunkStore
from player.engine import PlaybackState
from tests.app.helpers import give_fan_music, unlock


def _open_library(qtbot, launch, world: DemoWorld, rows: int):  # type: ignore[no-untyped-def]
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    parts.window.show_named("library")
    library = parts.window.library
    qtbot.waitUntil(lambda: len(library.rows) == rows, timeout=15_000)
    return parts, library


def _row_of(library, title: str) -> int:  # type: ignore[no-untyped-def]
    return [r.title for r in library.shown].index(title)


def _double_click(qtbot, library, title: str) -> None:  # type: ignore[no-untyped-def]
    n = _row_of(library, title)
    center = library.table.visualItemRect(library.table.item(n, 1)).center()
    qtbot.mouseClick(library.table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseDClick(library.table.viewport(), Qt.MouseButton.LeftButton, pos=center)


def _action(menu: QMenu, text: str):  # type: ignore[no-untyped-def]
    for act in menu.actions():
        if act.text() == text:
            return act
        if act.menu() is not None:
            found = _action(act.menu(), text)
            if found is not None:
                return found
    return None


def _answer(qtbot, library, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the open name question and press its Save button."""
    qtbot.waitUntil(lambda: library.name_dialog is not None and library.name_dialog.isVisible())
    edit = library.name_dialog.findChild(QLineEdit)
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def _selected_titles(library) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.title for r in library._selected_rows()]


def _select_side(library, kind: str, key: object = None) -> None:  # type: ignore[no-untyped-def]
    for i in range(library.lists.count()):
        if library.lists.item(i).data(SIDE_ROLE) == (kind, key):
            library.lists.setCurrentRow(i)
            return
    raise AssertionError(f"no {kind} {key!r} in the side list")


def test_double_click_plays_that_track_even_while_it_downloads(
    qtbot, launch, world: DemoWorld
) -> None:
    give_fan_music(
        world, granted=("Night Ferry",), partial=("Afterglow Drive",), waiting=("Small Rooms",)
    )
    parts, library = _open_library(qtbot, launch, world, 3 + 3 + 2)
    chrome = library.shown[_row_of(library, "Chrome Sunset")]
    assert chrome.state == "downloading" and not chrome.ready and chrome.total > 0
    bar = parts.window.player_bar
    _double_click(qtbot, library, "Chrome Sunset")
    qtbot.waitUntil(lambda: bar.title.text() == "Chrome Sunset", timeout=10_000)
    assert bar.player.state == PlaybackState.PLAYING
    # the queue is what can play from here on: downloaded and downloading tracks, in order
    assert "Kettle Song" not in [i.title for i in bar.player.queue]

    # a track still waiting for its grant says so, and nothing else starts
    _double_click(qtbot, library, "Kettle Song")
    qtbot.waitUntil(lambda: library.message.isVisible(), timeout=5_000)
    assert "waiting for the grant" in library.message.text()
    assert bar.title.text() == "Chrome Sunset"
    assert bar.player.current.title == "Chrome Sunset"

    # the artist's grant arrives (as a sync brings it): the message has done its work
    actor = next(a for a in world.actors if a.name == "Marrow & Moss")
    artist = Core.open(Profile(actor.profile), actor.passphrase)
    fan = Core.open(Profile(world.fan), world.fan_passphrase)
    try:
        replicate(fan, artist)
        artist.settle()
        replicate(artist, fan)
    finally:
        artist.close()
        fan.close()
    qtbot.waitUntil(
        lambda: library.shown[_row_of(library, "Kettle Song")].state != "waiting", timeout=15_000
    )
    assert not library.message.isVisible()


def test_a_track_asked_for_before_its_download_began_plays_when_it_does(
    qtbot, launch, world: DemoWorld
) -> None:
    give_fan_music(world, granted=("Night Ferry",), queued=("Pixel Tides",))
    parts, library = _open_library(qtbot, launch, world, 3 + 1)
    low = library.shown[_row_of(library, "Low Tide")]
    assert low.state == "queued" and low.track_id is not None
    bar = parts.window.player_bar
    _double_click(qtbot, library, "Low Tide")
    qtbot.waitUntil(lambda: "still downloading" in library.message.text(), timeout=5_000)
    assert bar.player.current is None  # nothing else started
    # the download's first answer arrives: its manifest (what a fetch stores first)
    session = parts.bridge.session
    manifest = ChunkStore(world.actor("seeder").profile / "content").manifest_bytes(low.content)
    chunks = session.core.chunks.put_manifest(manifest, low.content).chunks
    session.core.events.emit(DownloadProgress(low.content, 0, len(chunks)))
    qtbot.waitUntil(lambda: bar.title.text() == "Low Tide", timeout=10_000)
    assert bar.player.state == PlaybackState.PLAYING


def test_selection_follows_the_track_and_new_playlist_starts_empty(
    qtbot, launch, world: DemoWorld
) -> None:
    give_fan_music(world, granted=("Afterglow Drive",))
    parts, library = _open_library(qtbot, launch, world, 3)
    n = _row_of(library, "Chrome Sunset")
    center = library.table.visualItemRect(library.table.item(n, 1)).center()
    qtbot.mouseClick(library.table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert _selected_titles(library) == ["Chrome Sunset"]
    # a purchase lands above it (Lumen Drift sorts before Neon Harbor)
    night = next(c for c in parts.bridge.session.catalog() if c.title == "Night Ferry")
    job = parts.bridge.call("buy", night.id, None)
    qtbot.waitUntil(lambda: job.done, timeout=10_000)
    assert job.error is None
    qtbot.waitUntil(lambda: len(library.rows) == 6, timeout=10_000)
    assert _row_of(library, "Chrome Sunset") != n  # it moved down
    assert _selected_titles(library) == ["Chrome Sunset"]
    assert library.shown[library.table.currentRow()].title == "Chrome Sunset"

    # "New playlist" makes an empty playlist, whatever is selected
    qtbot.mouseClick(library.new_list, Qt.MouseButton.LeftButton)
    _answer(qtbot, library, "Road trip")
    qtbot.waitUntil(lambda: bool(library.playlists), timeout=10_000)
    assert library.playlists == [("Road trip", ())]


def test_playlists_are_edited_from_the_menus(qtbot, launch, world: DemoWorld) -> None:
    give_fan_music(world, granted=("Night Ferry",))
    parts, library = _open_library(qtbot, launch, world, 3)
    session = parts.bridge.session

    def names() -> list[list[str]]:
        return [
            [session.library.track(i).title for i in p.track_ids]
            for p in session.library.playlists()
        ]

    library.table.selectAll()
    menu = library.track_menu(0)
    _action(menu, "New playlist…").trigger()
    _answer(qtbot, library, "Evening")
    qtbot.waitUntil(lambda: bool(library.playlists), timeout=10_000)
    _select_side(library, "playlist", "Evening")
    assert names() == [["Harbour Lights", "Deck at 2 AM", "Landfall"]]
    assert [r.title for r in library.shown] == ["Harbour Lights", "Deck at 2 AM", "Landfall"]

    # add one more from All music through the submenu of existing playlists
    _select_side(library, "all")
    library.table.selectRow(_row_of(library, "Landfall"))
    _action(library.track_menu(_row_of(library, "Landfall")), "Evening").trigger()
    qtbot.waitUntil(lambda: len(names()[0]) == 4, timeout=10_000)
    _select_side(library, "playlist", "Evening")
    qtbot.waitUntil(lambda: len(library.shown) == 4, timeout=10_000)

    # the last entry cannot move down; the second moves up; the first is removed
    library.table.selectRow(3)
    assert not _action(library.track_menu(3), "Move down").isEnabled()
    library.table.selectRow(1)
    _action(library.track_menu(1), "Move up").trigger()
    qtbot.waitUntil(
        lambda: names() == [["Deck at 2 AM", "Harbour Lights", "Landfall", "Landfall"]],
        timeout=10_000,
    )
    qtbot.waitUntil(
        lambda: [r.title for r in library.shown][:2] == ["Deck at 2 AM", "Harbour Lights"],
        timeout=10_000,
    )
    library.table.selectRow(0)
    _action(library.track_menu(0), "Remove from “Evening”").trigger()
    qtbot.waitUntil(lambda: names() == [["Harbour Lights", "Landfall", "Landfall"]], timeout=10_000)
    qtbot.waitUntil(lambda: len(library.shown) == 3, timeout=10_000)

    # rename and delete from the playlist's own menu
    item = library.lists.currentItem()
    _action(library.playlist_menu(item), "Rename…").trigger()
    _answer(qtbot, library, "Night drive")
    qtbot.waitUntil(
        lambda: [p.name for p in session.library.playlists()] == ["Night drive"], timeout=10_000
    )
    qtbot.waitUntil(lambda: library.current_playlist() == "Night drive", timeout=10_000)
    assert library.playlist_menu(library.lists.item(0)) is None  # "All music" has no menu
    _action(library.playlist_menu(library.lists.currentItem()), "Delete playlist…").trigger()
    qtbot.waitUntil(lambda: library.confirm is not None and library.confirm.isVisible())
    delete = next(b for b in library.confirm.buttons() if b.text() == "Delete")
    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: session.library.playlists() == [], timeout=10_000)
    qtbot.waitUntil(lambda: library.current_collection() == ("all", None), timeout=10_000)

    # a real right-click opens the same menu over the row it was made on
    seen: list[str] = []

    def read_popup() -> None:
        popup = QApplication.activePopupWidget()
        if popup is None:
            QTimer.singleShot(20, read_popup)
            return
        seen.extend(a.text() for a in popup.actions() if a.text())
        popup.close()

    n = _row_of(library, "Deck at 2 AM")
    QTimer.singleShot(0, read_popup)
    center = library.table.visualItemRect(library.table.item(n, 1)).center()
    library.table.customContextMenuRequested.emit(center)
    assert seen == [
        "▶  Play",
        f"Go to {library.shown[n].artist}",  # the artist page
        "Add to playlist",
        "Keep offline",
        "Save to folder…",
        "Save album to folder…",
        "Save whole collection to folder…",
    ]
    assert _selected_titles(library) == ["Deck at 2 AM"]

    # keep offline from the menu
    library.table.selectRow(_row_of(library, "Landfall"))
    _action(library.track_menu(_row_of(library, "Landfall")), "Keep offline").trigger()
    qtbot.waitUntil(
        lambda: [r.title for r in library.rows if r.offline] == ["Landfall"], timeout=10_000
    )


def test_search_sorting_and_albums(qtbot, launch, world: DemoWorld) -> None:
    give_fan_music(world, granted=("Night Ferry", "Afterglow Drive"))
    parts, library = _open_library(qtbot, launch, world, 6)
    qtbot.keyClicks(library.search, "deck")
    assert [r.title for r in library.shown] == ["Deck at 2 AM"]
    qtbot.keyClicks(library.search, " zzz")
    assert library.shown == []
    library.search.clear()
    assert len(library.shown) == 6
    natural = [r.title for r in library.shown]

    header = library.table.horizontalHeader()

    def click_header(column: int) -> None:
        x = header.sectionViewportPosition(column) + 10
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 8))

    click_header(0)
    titles = [r.title for r in library.shown]
    assert titles == sorted(natural, key=str.lower)
    click_header(0)
    assert [r.title for r in library.shown] == sorted(natural, key=str.lower, reverse=True)
    click_header(4)
    durations = [r.duration_ms for r in library.shown]
    assert durations == sorted(durations)
    click_header(4)
    click_header(4)
    assert [r.title for r in library.shown] == natural

    _select_side(library, "album", ("Neon Harbor", "Afterglow Drive"))
    assert [r.title for r in library.shown] == ["Coastline 1987", "Chrome Sunset", "Tail Lights"]
    qtbot.keyClicks(library.search, "chrome")
    assert [r.title for r in library.shown] == ["Chrome Sunset"]
    _action(library.track_menu(0), "▶  Play").trigger()
    bar = parts.window.player_bar
    qtbot.waitUntil(lambda: bar.title.text() == "Chrome Sunset", timeout=10_000)
    assert [i.title for i in bar.player.queue] == ["Chrome Sunset"]  # what is shown
