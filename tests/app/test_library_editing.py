"""The Library as a fan uses it: search, playlists edited from context menus (add, remove,
reorder, rename, delete), selections that follow their tracks when rows move, and a double click
on a track that is still downloading that never starts another one."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from app.demo import DemoWorld
from content.format import new_track_key, pack
from tests.app.helpers import unlock


def _action(menu: QMenu, *path: str):  # type: ignore[no-untyped-def]
    for text in path[:-1]:
        menu = next(a.menu() for a in menu.actions() if a.text() == text)
    return next(a for a in menu.actions() if a.text() == path[-1])


def _select(qtbot, library, *titles: str) -> None:  # type: ignore[no-untyped-def]
    library.table.clearSelection()
    for n, row in enumerate(library.shown):
        if row.title in titles:
            rect = library.table.visualItemRect(library.table.item(n, 1))
            qtbot.mouseClick(
                library.table.viewport(),
                Qt.MouseButton.LeftButton,
                Qt.KeyboardModifier.ControlModifier,
                rect.center(),
            )
    assert sorted(r.title for r in library._selected_rows()) == sorted(titles)


def _double_click(qtbot, table, pos) -> None:  # type: ignore[no-untyped-def]
    """A press and release, then the double click, as a mouse sends them."""
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def _playlist(library, name: str) -> tuple[int, ...] | None:  # type: ignore[no-untyped-def]
    return dict(library.playlists).get(name)


def test_search_and_playlists_edited_from_the_context_menu(qtbot, launch, world: DemoWorld) -> None:
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    session = parts.bridge.session
    assert session is not None
    ids = {}
    for artist, title, ready in (
        ("Bea", "Alpha", True),
        ("Bea", "Beta", False),
        ("Cy", "Gamma", True),
    ):
        packed = pack(os.urandom(3000), new_track_key(), "audio/ogg")
        if ready:
            session.core.chunks.put_packed(packed.manifest_bytes, packed.chunks)
        ids[title] = session.library.add_purchase(
            packed.content_id, title=title, artist=artist, album="Test"
        ).id
    win = parts.window
    win.show_named("library")
    library = win.library
    library.refresh()
    qtbot.waitUntil(
        lambda: {"Alpha", "Beta", "Gamma"} <= {r.title for r in library.shown}, timeout=10_000
    )
    before = len(library.shown)

    qtbot.keyClicks(library.search, "gam")
    assert [r.title for r in library.shown] == ["Gamma"]
    library.search.clear()
    assert len(library.shown) == before

    # one context menu holds the playlist actions and saving to a folder
    texts = [a.text() for a in library.track_menu().actions()]
    assert "Add to playlist" in texts and "Save to folder…" in texts
    library.create_playlist("Mix", [])  # "New playlist" makes an empty one
    qtbot.waitUntil(lambda: _playlist(library, "Mix") == (), timeout=10_000)
    _select(qtbot, library, "Alpha", "Gamma")
    _action(library.track_menu(), "Add to playlist", "Mix").trigger()
    qtbot.waitUntil(
        lambda: _playlist(library, "Mix") == (ids["Alpha"], ids["Gamma"]), timeout=10_000
    )

    # A purchase inserted above the selection: the selection follows its track.
    _select(qtbot, library, "Gamma")
    packed = pack(os.urandom(3000), new_track_key(), "audio/ogg")
    session.library.add_purchase(packed.content_id, title="Aardvark", artist="Aa", album="A")
    library.refresh()
    qtbot.waitUntil(lambda: library.shown[0].title == "Aardvark", timeout=10_000)
    assert [r.title for r in library._selected_rows()] == ["Gamma"]

    library.lists.setCurrentRow(3)  # the playlist
    assert library.current_playlist() == "Mix"
    assert [r.title for r in library.shown] == ["Alpha", "Gamma"]
    _select(qtbot, library, "Gamma")
    _action(library.track_menu(), "Move up").trigger()
    qtbot.waitUntil(
        lambda: _playlist(library, "Mix") == (ids["Gamma"], ids["Alpha"]), timeout=10_000
    )
    assert library.current_playlist() == "Mix"  # still shown after its count changed
    _select(qtbot, library, "Alpha")
    _action(library.track_menu(), "Remove from “Mix”").trigger()
    qtbot.waitUntil(lambda: _playlist(library, "Mix") == (ids["Gamma"],), timeout=10_000)
    assert [r.title for r in library.shown] == ["Gamma"]

    menu = library.playlist_menu("Mix")
    assert [a.text() for a in menu.actions()] == ["Rename…", "Delete playlist…"]
    library.rename_playlist("Mix", "Road")
    qtbot.waitUntil(lambda: _playlist(library, "Road") == (ids["Gamma"],), timeout=10_000)
    library.delete_playlist("Road")
    qtbot.waitUntil(lambda: not library.playlists, timeout=10_000)


def test_double_clicking_a_track_still_downloading_plays_nothing_else(
    qtbot, launch, world: DemoWorld
) -> None:
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    session = parts.bridge.session
    assert session is not None
    for title, ready in (("Ready one", True), ("Still coming", False)):
        packed = pack(os.urandom(3000), new_track_key(), "audio/ogg")
        if ready:
            session.core.chunks.put_packed(packed.manifest_bytes, packed.chunks)
        session.library.add_purchase(packed.content_id, title=title, artist="Zed", album="Z")
    win = parts.window
    win.show_named("library")
    library = win.library
    library.refresh()
    qtbot.waitUntil(lambda: "Still coming" in [r.title for r in library.shown], timeout=10_000)
    played: list = []
    library.play_rows.disconnect()  # what would play is the question here, not the playing
    library.play_rows.connect(lambda rows, start: played.append(rows[start].title))
    n = [r.title for r in library.shown].index("Still coming")
    cell = library.table.visualItemRect(library.table.item(n, 1)).center()
    _double_click(qtbot, library.table, cell)
    assert played == []
    assert "still downloading" in library.message.text()
    n = [r.title for r in library.shown].index("Ready one")
    cell = library.table.visualItemRect(library.table.item(n, 1)).center()
    _double_click(qtbot, library.table, cell)
    assert played == ["Ready one"]
