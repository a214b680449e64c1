"""The Exchange view's services over real ledgers: the book with depth and settlers, a quote
that equals what the order then takes, placing refused when the book moved, notices for fills,
refunds and cancels, and the wallet's locked / in-flight breakdown."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.errors import UserError
from app.services.events import Notice
from app.services.exchange_desk import ExchangeDesk, chart_points
from app.services.market import MarketService
from app.services.wallet import WalletService


@pytest.fixture
def market(world: Any) -> Any:
    """An artist with a coin and two offers settled by a seeder; a fan with credits."""
    artist, fan, seeder = world.core("artist"), world.core("fan"), world.core("seeder")
    wallet = WalletService(artist)
    ann = wallet.issue("ANN", "Ann coin", 0, 10**6, ("artistcoin",))
    wallet.mint(ann.id, "1000")
    world.fund(fan, "100")
    world.fund(artist, "100")
    world.sync()
    artist.settle()
    m = MarketService(artist)
    m.offer(ann.id, "40", world.credits.id, "12.80", settler=seeder.me)  # 0.32 each
    m.offer(ann.id, "60", world.credits.id, "21.00", settler=seeder.me)  # 0.35 each
    m.offer(world.credits.id, "5.80", ann.id, "20", settler=seeder.me)  # buys 20 at 0.29
    seeder.ledger.append(seeder.signer, "checkpoint", {"open": 3})  # seen just now
    world.sync()
    fan.settle()
    return world, artist, fan, seeder, ann


def test_the_page_shows_levels_depth_and_the_settler(market: Any) -> None:
    world, _, fan, _seeder, ann = market
    desk = ExchangeDesk(fan)
    [pair] = desk.pairs()
    assert (pair.label, pair.best_ask, pair.best_bid) == ("ANN/CRD", "0.32", "0.29")
    page = desk.page(ann.id, world.credits.id)
    assert [(lv.price_text, lv.amount_text, lv.total) for lv in page.asks] == [
        ("0.32", "40", 40.0),
        ("0.35", "60", 100.0),
    ]
    assert [(lv.price_text, lv.amount_text) for lv in page.bids] == [("0.29", "20")]
    assert page.spread_text == "0.03"
    [settler] = page.settlers
    assert settler.live and settler.offers == 3 and settler.seen_text.startswith("seen")


def test_a_settler_not_seen_recently_is_flagged_and_skipped(market: Any) -> None:
    world, _, fan, _, ann = market
    later = ExchangeDesk(
        fan,
        clock=lambda: (
            fan.ledger.state.last_seen[next(iter(fan.ledger.state.offers.values())).settler][0]
            + 3 * 3600 * 1000
        ),
    )
    page = later.page(ann.id, world.credits.id)
    assert all(lv.stale and lv.settlers.startswith("⚠") for lv in page.asks)
    assert "not seen for 3 h" in page.settlers[0].seen_text
    quote = later.quote(ann.id, world.credits.id, "buy", "10")
    assert not quote.can_place and "No live offer" in quote.summary


def test_the_quote_is_what_the_order_takes_and_the_fill_is_notified(market: Any) -> None:
    world, _, fan, seeder, ann = market
    desk = ExchangeDesk(fan)
    desk.watch()  # the first look notifies nothing
    quote = desk.quote(ann.id, world.credits.id, "buy", "50")
    assert [(f.price_text, f.amount_text, f.total_text) for f in quote.fills] == [
        ("0.32", "40", "12.80"),
        ("0.35", "10", "3.50"),
    ]
    assert quote.quote_text == "16.30 CRD" and quote.can_place
    notices: list[Any] = []
    fan.events.subscribe(notices.append)
    desk.place(ann.id, world.credits.id, "buy", "50", expect=quote)
    takes = MarketService(fan).my_takes()
    # two takes written in one millisecond are listed in hash order: compare them as a set
    assert sorted((t.amount, t.pay) for t, _ in takes) == [(10, 350), (40, 1280)]
    assert {r.status for r in desk.my_trades()} == {"waiting"}
    world.sync()
    seeder.settle()
    world.sync()
    fan.settle()
    texts = desk.watch()
    assert sorted(texts) == [
        "Filled: you bought 10 ANN for 3.50 CRD.",
        "Filled: you bought 40 ANN for 12.80 CRD.",
    ]
    assert [n.text for n in notices if isinstance(n, Notice)] == texts
    assert {r.status for r in desk.my_trades()} == {"filled"}
    assert fan.ledger.state.balance(fan.me, ann.id) == 50


def test_placing_is_refused_when_the_book_moved_since_the_quote(market: Any) -> None:
    world, _artist, fan, seeder, ann = market
    desk = ExchangeDesk(fan)
    quote = desk.quote(ann.id, world.credits.id, "buy", "50")
    cheapest = desk.market.plan(ann.id, world.credits.id, get_amount="1")[0].offer.id
    MarketService(seeder).cancel(cheapest)  # the settler ends the cheapest offer
    world.sync()
    with pytest.raises(UserError, match="the book changed"):
        desk.place(ann.id, world.credits.id, "buy", "50", expect=quote)
    assert MarketService(fan).my_takes() == []  # nothing was written


def test_a_rested_order_locks_credits_until_cancelled(market: Any) -> None:
    world, _, fan, _, ann = market
    desk = ExchangeDesk(fan)
    desk.watch()
    quote = desk.quote(ann.id, world.credits.id, "buy", "30", limit="0.25", rest=True)
    assert quote.rests and not quote.fills and quote.can_place
    desk.place(ann.id, world.credits.id, "buy", "30", limit="0.25", rest=True, expect=quote)
    [order] = desk.orders()
    assert (order.side, order.price_text, order.amount_text, order.settler) == (
        "buy",
        "0.25",
        "30",
        "you",
    )
    cred = next(h for h in desk.holdings() if h.symbol == "CRD")
    assert cred.available == "92.50" and cred.locked == "7.50"
    assert cred.locks[0].purpose == "offer" and cred.locks[0].unlocks > 0
    page = desk.page(ann.id, world.credits.id)
    assert ("0.25", "30") in [(lv.price_text, lv.amount_text) for lv in page.bids]
    desk.cancel(order.id)
    assert desk.orders() == []
    assert desk.watch() == [
        "Your buy offer on ANN was cancelled; what was left of it is back in your balance."
    ]
    cred = next(h for h in desk.holdings() if h.symbol == "CRD")
    assert (cred.available, cred.locked) == ("100.00", "0.00")


def test_a_refused_take_is_a_refund_notice_and_in_flight_until_then(market: Any) -> None:
    world, _artist, fan, seeder, ann = market
    desk = ExchangeDesk(fan)
    desk.watch()
    desk.place(ann.id, world.credits.id, "buy", "40")
    cred = next(h for h in desk.holdings() if h.symbol == "CRD")
    assert cred.in_flight == "12.80" and cred.flights[0].direction == "out"
    world.sync()
    take = MarketService(fan).my_takes()[0][0]
    seeder.ledger.append(seeder.signer, "refuse", {"take": take.id, "reason": "test"}, [take.id])
    world.sync()
    fan.settle()
    [text] = desk.watch()
    assert text.startswith("Refunded: ") and "your 12.80 CRD is on its way back" in text
    assert [r.status for r in desk.my_trades()] == ["refunded"]


def test_bad_input_is_a_sentence(market: Any) -> None:
    world, _, fan, _, ann = market
    desk = ExchangeDesk(fan)
    for args, match in (
        (("buy", "abc"), "not an amount"),
        (("buy", "-3"), "positive"),
        (("hold", "3"), "buys or sells"),
        (("buy", ""), "how much"),
    ):
        with pytest.raises(UserError, match=match):
            desk.quote(ann.id, world.credits.id, *args)
    with pytest.raises(UserError, match="not a price"):
        desk.quote(ann.id, world.credits.id, "buy", "3", limit="cheap")
    quote = desk.quote(ann.id, world.credits.id, "buy", "900", limit="1", rest=True)
    assert not quote.can_place and "not enough" in quote.summary


def test_a_rested_offer_taken_by_someone_is_a_maker_notice(market: Any) -> None:
    world, artist, fan, _, ann = market
    desk = ExchangeDesk(fan)
    desk.watch()
    WalletService(artist).send(fan.me, ann.id, "20")
    world.sync()
    fan.settle()
    desk.place(ann.id, world.credits.id, "sell", "20", limit="0.50", rest=True)
    [order] = desk.orders()
    assert (order.side, order.price_text, order.settler) == ("sell", "0.50", "you")
    world.sync()
    MarketService(artist).take(order.id, "8")
    world.sync()
    fan.settle()  # the fan's node settles its own offer: it fills the take
    assert desk.watch() == ["Your offer filled: you sold 8 ANN for 4.00 CRD."]
    assert [(r.role, r.side, r.status) for r in desk.my_trades()] == [("maker", "sell", "filled")]


def test_the_price_chart_is_thinned_to_the_last_price_of_each_span() -> None:
    points = [(1000 + 7 * i, float(i)) for i in range(1000)]
    thin = chart_points(points, most=50)
    assert len(thin) <= 50 and thin[-1] == points[-1] and thin[0][0] >= points[0][0]
    assert [t for t, _ in thin] == sorted(t for t, _ in thin)
    assert chart_points(points[:30], most=50) == points[:30]
