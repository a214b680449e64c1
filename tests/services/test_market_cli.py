"""The exchange from the command line, as a user runs it: real processes on real profile folders,
entries carried between profiles with ``ledger export`` / ``ledger import``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.services.test_cli import cli


def j(*args: str, profile: Path) -> Any:
    return json.loads(cli(*args, "--json", profile=profile).stdout)


def carry(src: Path, dst: Path) -> None:
    cli("ledger", "import", "-", profile=dst, stdin=cli("ledger", "export", profile=src).stdout)


def test_offer_book_buy_settle_orders_trades_cancel(tmp_path: Path) -> None:
    gw, artist, fan = tmp_path / "gw", tmp_path / "artist", tmp_path / "fan"
    for p in (gw, artist, fan):
        cli("identity", "new", "--name", p.name, profile=p)
    fan_key = j("identity", "show", profile=fan)["public_key"]
    crd = j("issue", "CRD", "Credits", "--flag", "stable", profile=gw)["asset"]
    cli("mint", crd, "1000", profile=gw)
    cli("send", fan_key, "100", "--asset", crd, profile=gw)
    ann = j("issue", "ANN", "Ann coin", "--flag", "artistcoin", "--precision", "0", profile=artist)[
        "asset"
    ]
    cli("mint", ann, "1000", profile=artist)
    carry(gw, artist)
    offer = j("market", "offer", "100", "ANN", "5", "CRD", "--min-fill", "10", profile=artist)
    assert (offer["remaining"], offer["status"], offer["price"]) == (100, "open", "0.05 CRD/ANN")
    carry(gw, fan)
    carry(artist, fan)
    book = j("market", "book", "ANN/CRD", profile=fan)
    assert [(a["amount"], a["price_text"]) for a in book["asks"]] == [(100, "0.05 CRD/ANN")]
    assert (
        j("market", "buy", "ANN/CRD", "40", "--limit", "0.04", "--dry-run", profile=fan)["planned"]
        == []
    )  # nothing that cheap
    order = j("market", "buy", "ANN/CRD", "40", "--limit", "0.05", profile=fan)
    assert (order["got"], order["paid"], order["unfilled"]) == (40, 200, 0)
    carry(fan, artist)
    settled = j("market", "settle", profile=artist)
    assert settled["filled"] == 1
    carry(artist, fan)
    orders = j("market", "orders", profile=fan)
    assert [t["status"] for t in orders["takes"]] == ["filled"]
    wallet = {b["symbol"]: b["amount"] for b in j("wallet", profile=fan)}
    assert wallet == {"ANN": 40, "CRD": 9_800}
    trades = j("market", "trades", "ANN/CRD", profile=fan)
    assert [(t["amount"], t["paid"]) for t in trades] == [(40, 200)]
    # the artist bids for its coin (sells credits for it); the fan sells into the bid
    bid = j("market", "offer", "2", "CRD", "50", "ANN", profile=artist)  # 0.04 CRD per ANN
    carry(artist, fan)
    assert j("market", "book", "ANN/CRD", profile=fan)["bids"][0]["price_text"] == "0.04 CRD/ANN"
    assert (
        j("market", "sell", "ANN/CRD", "20", "--limit", "0.05", "--dry-run", profile=fan)["planned"]
        == []
    )  # the bid pays less than the limit
    planned = j("market", "sell", "ANN/CRD", "20", "--limit", "0.04", "--dry-run", profile=fan)[
        "planned"
    ]
    assert planned == [{"offer": bid["offer"], "amount": 80, "pay": 20}]
    cancelled = j("market", "cancel", offer["offer"][:16], profile=artist)
    assert cancelled["entry"]
    mine = j("market", "orders", profile=artist)["offers"]
    assert [(o["status"], o["remaining"]) for o in mine] == [("cancelled", 0), ("open", 200)]
    assert {b["symbol"]: b["amount"] for b in j("wallet", profile=artist)}["ANN"] == 960


def test_market_mistakes_get_a_clear_message(tmp_path: Path) -> None:
    me = tmp_path / "me"
    cli("identity", "new", "--name", "Me", profile=me)
    for args, words in (
        (("market", "take", "abcdef"), "no offer"),
        (("market", "book", "ANN"), "pair like"),
        (("market", "offer", "10", "ANN", "5", "CRD"), "no asset called"),
    ):
        proc = cli(*args, profile=me, check=False)
        assert proc.returncode == 1 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_market_help_lists_every_command_and_each_prints_json() -> None:
    from app.cli import build_parser

    parser = build_parser()
    top = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    market = top.choices["market"]
    sub = next(a for a in market._actions if a.__class__.__name__ == "_SubParsersAction")
    names = set(sub.choices)
    assert names == {"offer", "take", "buy", "sell", "cancel", "book", "orders", "trades", "settle"}
    helptext = market.format_help()
    for name in names:
        assert name in helptext
        flags = {o for a in sub.choices[name]._actions for o in a.option_strings}
        assert "--json" in flags, name
