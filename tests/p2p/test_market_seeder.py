"""End to end over real processes: an artist offers coins with a seeder as settler and goes
offline; a fan's market order is filled by the seeder daemon; the fan and the artist (back
online) see the same balances and the same state."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.p2p.test_multiprocess import cli, cli_json, daemon, stop

pytestmark = [pytest.mark.network, pytest.mark.slow]


def holding(profile: Path, symbol: str) -> int:
    return sum(b["amount"] for b in cli_json(profile, "wallet") if b["symbol"] == symbol)


def test_a_seeder_settles_an_offline_artists_offer(tmp_path: Path) -> None:
    gateway, seeder, artist, fan = (tmp_path / n for n in ("gateway", "seeder", "artist", "fan"))
    for p, name in ((gateway, "Gate"), (seeder, "Seeder"), (artist, "Artist"), (fan, "Fan")):
        cli(p, "identity", "new", "--name", name)
    keys = {
        p: cli_json(p, "identity", "show")["public_key"] for p in (gateway, seeder, artist, fan)
    }
    crd = cli_json(gateway, "issue", "CRD", "Credits", "--flag", "stable")["asset"]
    cli(gateway, "mint", crd, "1000")
    cli(gateway, "send", keys[fan], "100", "--asset", crd)
    ann = cli_json(artist, "issue", "ANN", "Ann coin", "--flag", "artistcoin", "--precision", "0")[
        "asset"
    ]
    cli(artist, "mint", ann, "1000")

    seed_proc, seed_addr = daemon(seeder, tmp_path / "seeder.addr")
    try:
        cli(gateway, "peers", "--peer", seed_addr, "--sync")
        cli(artist, "peers", "--peer", seed_addr, "--sync")  # the artist learns of CRD
        offer = cli_json(artist, "market", "offer", "100", ann, "5", crd, "--settler", keys[seeder])
        assert offer["status"] == "open" and offer["remaining"] == 100
        cli(artist, "peers", "--peer", seed_addr, "--sync")  # then the artist goes offline
        # the fan sees the offer, and the seeder's checkpoint shows it is live
        deadline = time.monotonic() + 40
        while True:
            cli(fan, "peers", "--peer", seed_addr, "--sync")
            book = cli_json(fan, "market", "book", f"{ann}/{crd}")
            plan = cli_json(
                fan, "market", "buy", f"{ann}/{crd}", "100", "--limit", "0.05", "--dry-run"
            )
            if plan["planned"]:
                break
            assert time.monotonic() < deadline, (book, plan)
            time.sleep(0.3)
        assert book["asks"][0]["amount"] == 100
        order = cli_json(fan, "market", "buy", f"{ann}/{crd}", "100", "--limit", "0.05")
        assert order["got"] == 100 and order["paid"] == 500 and len(order["takes"]) == 1
        deadline = time.monotonic() + 40
        while True:  # the seeder fills on its own
            cli(fan, "peers", "--peer", seed_addr, "--sync")
            takes = cli_json(fan, "market", "orders")["takes"]
            if takes[0]["status"] == "filled":
                break
            assert time.monotonic() < deadline, takes
            time.sleep(0.3)
        assert holding(fan, "ANN") == 100 and holding(fan, "CRD") == 9_500
        cli(artist, "peers", "--peer", seed_addr, "--sync")  # back online: paid
        assert holding(artist, "CRD") == 500 and holding(artist, "ANN") == 900
        cli(fan, "peers", "--peer", seed_addr, "--sync")  # each side's receive reaches the other
        cli(artist, "peers", "--peer", seed_addr, "--sync")
        fan_state = cli_json(fan, "ledger", "state")
        artist_state = cli_json(artist, "ledger", "state")
        assert fan_state["balances"] == artist_state["balances"]
        assert fan_state["state_hash"] == artist_state["state_hash"]
        trades = cli_json(artist, "market", "trades")
        assert [(t["amount"], t["paid"]) for t in trades] == [(100, 500)]
    finally:
        log = stop(seed_proc)
    assert "market: 1 filled" in log
