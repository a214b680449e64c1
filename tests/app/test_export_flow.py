"""A fan who owns a release saves it to a folder, from the Library and from the release page.

Setup on the demo world (``app.demo.fan_owns``): the fan buys a release and its artist's node
grants it (through the services on the real profiles, as the swarm would have carried the
entries), and the fan's profile holds the downloaded chunks. The app then runs on the fan's
profile without a swarm.
"""

from __future__ import annotations

import mutagen
from PySide6.QtCore import Qt

from app.demo import fan_owns, original_file
from player.transcode import decode_seconds
from tests.app.helpers import unlock


def test_a_fan_saves_an_owned_release_as_flac_from_the_library(qtbot, launch, world, tmp_path):  # type: ignore[no-untyped-def]
    _listing, count = fan_owns(world, "Night Ferry")
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    win = parts.window
    win.show_named("library")
    library = win.library
    qtbot.waitUntil(
        lambda: len(library.rows) == count and all(r.ready for r in library.rows), timeout=20_000
    )
    library.table.selectRow(0)
    menu = library.export_menu()
    actions = {a.text(): a for a in menu.actions()}
    assert list(actions) == [
        "Save to folder…",
        "Save album to folder…",
        "Save whole collection to folder…",
    ]
    actions["Save album to folder…"].trigger()
    dialog = library.export_dialog
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    assert dialog.isVisible() and dialog.heading.text().startswith("Save Night Ferry by ")
    assert dialog.tracks.topLevelItemCount() == count
    dialog.format.setCurrentIndex(dialog.format.findData("flac"))
    out = tmp_path / "Music"
    dialog.folder.setText(str(out))
    qtbot.mouseClick(dialog.save_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: dialog.report is not None or dialog.message.text() != "", timeout=60_000
    )
    assert dialog.report is not None, dialog.message.text()
    # what the fan sees: every track saved, both bars full, the files named for people
    assert dialog.total_bar.value() == 1000 and dialog.track_bar.value() == 1000
    assert [dialog.tracks.topLevelItem(i).text(2) for i in range(count)] == ["✓ Saved"] * count
    assert f"{count} files written" in dialog.message.text()
    assert dialog.open_folder.isVisible() and dialog.cancel_btn.text() == "Close"
    files = sorted(out.rglob("*.flac"))
    assert len(files) == count and all(f.parent.name == "Night Ferry" for f in files)
    assert files[0].name.startswith("01 ")
    artist_name = files[0].parent.parent.name
    for n, f in enumerate(files):
        tags = mutagen.File(str(f))
        assert tags["album"] == ["Night Ferry"] and tags["tracknumber"] == [str(n + 1)]
        assert tags.pictures and tags.pictures[0].data[:4] == b"\x89PNG"  # the release cover
        source = original_file(world, artist_name, "Night Ferry", n)
        assert abs(decode_seconds(f) - decode_seconds(source)) <= 0.05
    # Settings remember the choice for next time
    assert parts.bridge.export_defaults() == ("flac", out)
    assert not dialog.save_btn.isVisible()  # done; a new format or folder offers it again
    dialog.format.setCurrentIndex(dialog.format.findData("mp3"))
    assert dialog.save_btn.isVisible() and not dialog.warning.isVisible()
    dialog.close()


def test_the_owned_release_page_offers_save_and_cancel_stops_cleanly(
    qtbot,
    launch,
    world,  # type: ignore[no-untyped-def]
    tmp_path,
):
    listing, count = fan_owns(world, "Small Rooms")
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    win = parts.window
    store = win.store
    qtbot.waitUntil(lambda: len(store.cards) >= 5, timeout=10_000)
    other = next(c for c in store.cards if c.title != "Small Rooms" and not c.owned)
    store.open_release(other.id)
    qtbot.waitUntil(
        lambda: store.release.page is not None and store.release.page.card.id == other.id,
        timeout=10_000,
    )
    assert not store.release.save_btn.isVisible()  # not owned: nothing to save
    store.open_release(listing)
    qtbot.waitUntil(
        lambda: store.release.page is not None and store.release.page.purchase_state == "owned",
        timeout=10_000,
    )
    assert store.release.save_btn.isVisible()
    qtbot.mouseClick(store.release.save_btn, Qt.MouseButton.LeftButton)
    dialog = store.release.export_dialog
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    assert len(dialog.plan.items) == count
    dialog.format.setCurrentIndex(dialog.format.findData("wav"))
    out = tmp_path / "out"
    dialog.folder.setText(str(out))
    stop_at_first = []

    def cancel_once(p) -> None:  # type: ignore[no-untyped-def]
        if not stop_at_first:
            stop_at_first.append(p)
            qtbot.mouseClick(dialog.cancel_btn, Qt.MouseButton.LeftButton)

    qtbot.mouseClick(dialog.save_btn, Qt.MouseButton.LeftButton)
    dialog.job.step.connect(cancel_once)
    qtbot.waitUntil(lambda: dialog.job.done, timeout=60_000)
    assert "cancelled" in dialog.message.text()
    assert dialog.save_btn.text() == "Try again" and dialog.cancel_btn.text() == "Close"
    assert [p.name for p in out.rglob("*") if p.name.endswith(".part")] == []
    saved = list(out.rglob("*.wav"))
    assert len(saved) < count
    qtbot.mouseClick(dialog.save_btn, Qt.MouseButton.LeftButton)  # again: finishes the rest
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=60_000)
    assert dialog.report.skipped == len(saved) and len(list(out.rglob("*.wav"))) == count


def test_a_release_not_owned_is_refused_in_the_dialog(qtbot, launch, world):  # type: ignore[no-untyped-def]
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    store = parts.window.store
    qtbot.waitUntil(lambda: len(store.cards) >= 5, timeout=10_000)
    from app.ui.export import open_export

    dialog = open_export(parts.bridge, parts.window, release=store.cards[0].id)
    qtbot.waitUntil(lambda: dialog.message.text() != "", timeout=10_000)
    assert "You have not bought this release" in dialog.message.text()
    assert not dialog.save_btn.isEnabled()
    dialog.close()


def test_settings_set_the_format_and_folder_the_dialog_starts_with(
    qtbot,
    launch,
    world,  # type: ignore[no-untyped-def]
    tmp_path,
):
    fan_owns(world, "Night Ferry")
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    win = parts.window
    win.show_named("settings")
    settings = win.settings
    qtbot.waitUntil(lambda: settings.export_folder.text() != "", timeout=10_000)
    assert settings.export_format.currentData() == "flac"  # the default
    settings.export_format.setCurrentIndex(settings.export_format.findData("opus"))
    settings.export_folder.setText(str(tmp_path / "Songs"))
    qtbot.mouseClick(settings.save_export, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Saved" in settings.export_msg.text(), timeout=10_000)
    win.show_named("library")
    library = win.library
    qtbot.waitUntil(
        lambda: bool(library.rows) and all(r.ready for r in library.rows), timeout=20_000
    )
    library.save_to_folder([], everything=True)
    dialog = library.export_dialog
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    assert dialog.chosen_format == "opus" and dialog.chosen_folder == tmp_path / "Songs"
    assert dialog.heading.text() == "Save your collection"
    dialog.close()


def test_locking_during_an_export_stops_it_cleanly(qtbot, launch, world, tmp_path):  # type: ignore[no-untyped-def]
    fan_owns(world, "Night Ferry")
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    bridge = parts.bridge
    plan_job = bridge.plan_export(everything=True)
    qtbot.waitUntil(lambda: plan_job.done, timeout=10_000)
    job = bridge.export(plan_job.result, "mp3", tmp_path / "out")
    with qtbot.waitSignal(job.step, timeout=30_000):
        pass
    bridge.close_session()
    assert job.done and job.error is not None and "cancelled" in job.error
    assert [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".part")] == []
