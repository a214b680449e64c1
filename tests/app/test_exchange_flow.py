"""A fan on the exchange, through the real window on the demo swarm: picks a pair, reads the
book (an away maker's settler flagged), buys at the price the form quoted, sees the seeder's
fills arrive (trades, balance, a notice), rests an offer and cancels it; the wallet shows what
is locked and until when.

The swarm is real: the demo's seeder runs as a ``cooptracks seed`` process on 127.0.0.1 and
settles the makers' offers; the app's session runs its own libp2p node.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.demo import DemoSwarm, DemoWorld
from app.services.swarm import SwarmNetwork
from tests.app.helpers import unlock


def _rows(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [
        [table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def test_a_fan_trades_a_coin_on_the_exchange(qtbot, launch, world: DemoWorld, request) -> None:
    seeder = DemoSwarm(world, roles=("seeder",)).start()
    request.addfinalizer(seeder.stop)
    seeder.wait_ready()
    fan = launch(world.fan, lambda: SwarmNetwork(seeder.settings()))
    unlock(qtbot, fan, world.fan_passphrase)
    win = fan.window
    win.nav["exchange"].click()  # the sidebar reaches it like the other views
    ex = win.exchange
    assert win.pages.currentWidget() is ex
    qtbot.waitUntil(lambda: len(ex.pairs) >= 2 and ex.page is not None, timeout=15_000)
    assert {"MOSS/CRED", "NEON/CRED"} <= {p.label for p in ex.pairs}

    # choosing a pair shows its book
    ex.choose_pair("NEON/CRED")
    qtbot.waitUntil(
        lambda: ex.page is not None and ex.page.pair.base_symbol == "NEON", timeout=10_000
    )
    assert _rows(ex.asks_table)[1][:2] == ["1.25", "20"]
    ex.choose_pair("MOSS/CRED")
    qtbot.waitUntil(
        lambda: ex.page is not None and ex.page.pair.base_symbol == "MOSS", timeout=10_000
    )
    asks, bids = _rows(ex.asks_table), _rows(ex.bids_table)
    assert asks[0][0] == "0.288" and asks[0][3] == "⚠ Old Pier Desk"  # cheap, but away
    assert asks[1][:4] == ["0.32", "40", "70", "Always-on Seeder"]
    assert bids[0][:2] == ["0.29", "50"]
    assert ex.figures["Ask"].text() == "0.32" and ex.figures["Bid"].text() == "0.29"
    assert len(ex.page.history) > 10  # the price chart has a past
    settlers = {row[0]: row[2] for row in _rows(ex.settlers_table)}
    assert settlers["Old Pier Desk"].startswith("not seen for")
    assert settlers["Always-on Seeder"].startswith("seen")
    assert "not chosen to trust" in ex.warning.text()

    # the form quotes the split across the live offers before anything is signed
    ex.set_side("buy")
    qtbot.keyClicks(ex.amount, "50")
    qtbot.waitUntil(lambda: ex.place_btn.isEnabled(), timeout=10_000)
    assert ex.place_btn.text() == "Buy 50 MOSS for 16.10 CRED"
    assert _rows(ex.fills_table) == [["0.32", "40", "12.80"], ["0.33", "10", "3.30"]]
    assert "average 0.322 CRED per MOSS" in ex.quote_text.text()
    assert fan.bridge.session.core.ledger.state.takes_of(fan.bridge.session.me) == []
    qtbot.mouseClick(ex.place_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Order placed" in ex.form_msg.text(), timeout=10_000)

    # the seeder fills both takes: the trades, the balance and a notice follow
    def filled() -> bool:
        page = ex.page
        return page is not None and [t.status for t in page.my_trades] == ["filled"] * 2

    qtbot.waitUntil(filled, timeout=30_000)
    trades = _rows(ex.history_table)
    assert sorted((r[3], r[4], r[5]) for r in trades) == [
        ("10 MOSS", "0.33", "3.30 CRED"),
        ("40 MOSS", "0.32", "12.80 CRED"),
    ]
    qtbot.waitUntil(lambda: ex.page.base_available == "62 MOSS", timeout=15_000)
    assert ex.page.quote_available == "8.90 CRED"
    assert win.toast.text().startswith("Filled: you bought")

    # a limit order below the book rests as the fan's own offer, then is cancelled
    ex.amount.clear()
    qtbot.keyClicks(ex.limit, "0.20")
    ex.rest.setChecked(True)
    qtbot.keyClicks(ex.amount, "10")
    qtbot.waitUntil(lambda: ex.place_btn.isEnabled(), timeout=10_000)
    assert "rests in the book" in ex.quote_text.text()
    qtbot.mouseClick(ex.place_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ex.orders_table.rowCount() == 1, timeout=10_000)
    assert _rows(ex.orders_table)[0][:7] == ["MOSS/CRED", "buy", "0.20", "10", "10", "you", "open"]
    win.show_named("wallet")
    wallet = win.wallet
    qtbot.waitUntil(
        lambda: any(h.symbol == "CRED" and h.locked == "2.00" for h in wallet.holdings),
        timeout=10_000,
    )
    assert "offer selling CRED for MOSS" in wallet.locked_table.item(0, 1).text()
    win.show_named("exchange")
    qtbot.mouseClick(ex.orders_table.cellWidget(0, 7), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ex.orders_table.rowCount() == 0, timeout=10_000)
    assert "Offer cancelled" in ex.message.text()
    qtbot.waitUntil(lambda: ex.page.quote_available == "8.90 CRED", timeout=10_000)


def test_bad_order_input_is_a_sentence_and_nothing_is_signed(
    qtbot, launch, world: DemoWorld
) -> None:
    fan = launch(world.fan)  # offline: the book is the replica's
    unlock(qtbot, fan, world.fan_passphrase)
    win = fan.window
    win.show_named("exchange")
    ex = win.exchange
    qtbot.waitUntil(lambda: ex.page is not None, timeout=15_000)
    qtbot.keyClicks(ex.amount, "1.5")  # MOSS has no decimals
    qtbot.waitUntil(lambda: "decimals" in ex.quote_text.text(), timeout=10_000)
    assert not ex.place_btn.isEnabled() and "Traceback" not in ex.quote_text.text()
    ex.amount.clear()
    qtbot.keyClicks(ex.amount, "5000")
    qtbot.waitUntil(
        lambda: "not enough" in ex.quote_text.text() or "no live offer" in ex.quote_text.text(),
        timeout=10_000,
    )
    assert not ex.place_btn.isEnabled()
    assert fan.bridge.session.core.ledger.state.takes_of(fan.bridge.session.me) == []
