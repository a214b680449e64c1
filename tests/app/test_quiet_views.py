"""Views out of sight do no work when the ledger changes: a sync marks them stale and only the
view on screen asks for its data; a stale view refreshes when it is shown again."""

from __future__ import annotations

from collections import Counter

from app.demo import DemoWorld
from tests.app.helpers import unlock

VIEWS = ("exchange", "community", "campaigns", "wallet", "store")


def test_a_sync_refreshes_only_the_view_on_screen(qtbot, launch, world: DemoWorld) -> None:
    parts = launch(world.fan)
    unlock(qtbot, parts, world.fan_passphrase)
    win = parts.window
    calls: Counter[str] = Counter()
    for key in VIEWS:  # every view built and shown once, then the Store stays on screen
        win.show_named(key)
        view = win.view(key)
        qtbot.waitUntil(lambda v=view: not getattr(v, "_loading", False), timeout=10_000)
    win.show_artist("Lumen Drift")
    artist = win.artist
    win.show_named("store")
    qtbot.waitUntil(lambda: not win._refresh_timer.isActive(), timeout=10_000)

    def counting(key: str, view: object) -> None:
        real = view.refresh  # type: ignore[attr-defined]

        def refresh() -> None:
            calls[key] += 1
            real()

        view.refresh = refresh  # type: ignore[attr-defined]

    for key in VIEWS:
        counting(key, win.view(key))
    counting("artist", artist)
    win.bridge.ledgerChanged.emit(3)  # entries arrived (as a sync announces them)
    win.bridge.ledgerChanged.emit(2)
    qtbot.waitUntil(lambda: calls["store"] >= 1, timeout=10_000)
    qtbot.waitUntil(lambda: not win._refresh_timer.isActive(), timeout=10_000)
    assert calls == Counter(store=1)  # one coalesced refresh, of the visible view only
    assert {"exchange", "community", "campaigns", "wallet"} <= win._stale

    win.show_named("exchange")  # a stale view catches up when it is shown
    assert calls == Counter(store=1, exchange=1)
    qtbot.waitUntil(lambda: win.exchange.page is not None or not win.exchange._loading)
