"""End to end over real processes: an artist starts two campaigns with a seeder as settler and
goes offline; fans pledge through the seeder; after the deadline the seeder daemon closes one
funded and the other failed on its own; the fans' nodes take back the failed campaign's pledges,
and the artist, back online, is paid the funded one's."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.p2p.test_multiprocess import cli, cli_json, daemon, stop

pytestmark = [pytest.mark.network, pytest.mark.slow]

PLEDGE_WINDOW_S = 60  # pledging time: long enough for the syncs below on a loaded machine


def holding(profile: Path, symbol: str) -> int:
    return sum(b["amount"] for b in cli_json(profile, "wallet") if b["symbol"] == symbol)


def until(what: str, check, limit_s: float = 150) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def test_a_seeder_closes_an_offline_artists_campaigns(tmp_path: Path) -> None:
    gateway, seeder, artist, fan, fan2 = (
        tmp_path / n for n in ("gateway", "seeder", "artist", "fan", "fan2")
    )
    for p in (gateway, seeder, artist, fan, fan2):
        cli(p, "identity", "new", "--name", p.name)
    keys = {
        p: cli_json(p, "identity", "show")["public_key"]
        for p in (gateway, seeder, artist, fan, fan2)
    }
    crd = cli_json(gateway, "issue", "CRD", "Credits", "--flag", "stable")["asset"]
    cli(gateway, "mint", crd, "1000")
    for f in (fan, fan2):
        cli(gateway, "send", keys[f], "100", "--asset", crd)

    seed_proc, seed_addr = daemon(seeder, tmp_path / "seeder.addr")
    try:
        cli(gateway, "peers", "--peer", seed_addr, "--sync")
        cli(artist, "peers", "--peer", seed_addr, "--sync")  # the artist learns of CRD
        window = str(PLEDGE_WINDOW_S / 3600)
        close_within = str(40 / 3600)  # the seeder waits half of it (20 s) for late pledges
        small = cli_json(
            artist,
            "campaign",
            "new",
            "Second album",
            "30",
            crd,
            "--deadline-in",
            window,
            "--close-within",
            close_within,
            "--settler",
            keys[seeder],
            "--tier",
            "Supporter:5:the album",
            "--tier",
            "Patron:18:a pass",
        )
        big = cli_json(
            artist,
            "campaign",
            "new",
            "World tour",
            "1000",
            crd,
            "--deadline-in",
            window,
            "--close-within",
            close_within,
            "--settler",
            keys[seeder],
        )
        cli(artist, "peers", "--peer", seed_addr, "--sync")  # then the artist goes offline
        for f, amount in ((fan, "20"), (fan2, "15")):
            cli(f, "peers", "--peer", seed_addr, "--sync")
            cli(f, "pledge", small["campaign"], amount)
        cli(fan, "pledge", big["campaign"], "5")
        for f in (fan, fan2):  # (a pledge is refused once the deadline passed)
            cli(f, "peers", "--peer", seed_addr, "--sync")

        def closed() -> bool:
            cli(fan, "peers", "--peer", seed_addr, "--sync")  # settles: takes back refunds
            return sorted(p["status"] for p in cli_json(fan, "campaign", "pledges")) == [
                "accepted",
                "reclaimed",
            ]

        until("the seeder closes both campaigns", closed)
        assert holding(fan, "CRD") == 80_00
        shown = cli_json(fan, "campaign", "show", small["campaign"])
        assert (shown["status"], shown["counted"]) == ("funded", 35_00)
        assert [(b["amount"], b["tier"]) for b in shown["backers"]] == [
            (20_00, "Patron"),
            (15_00, "Supporter"),
        ]
        assert cli_json(fan, "campaign", "show", big["campaign"])["status"] == "failed"
        cli(artist, "peers", "--peer", seed_addr, "--sync")  # back online: paid in one transfer
        assert holding(artist, "CRD") == 35_00
        cli(fan, "peers", "--peer", seed_addr, "--sync")
        cli(artist, "peers", "--peer", seed_addr, "--sync")
        assert (
            cli_json(fan, "ledger", "state")["state_hash"]
            == cli_json(artist, "ledger", "state")["state_hash"]
        )
    finally:
        log = stop(seed_proc)
    rounds = [tuple(map(int, m)) for m in re.findall(r"funding: (\d+) funded, (\d+) failed", log)]
    assert (sum(r[0] for r in rounds), sum(r[1] for r in rounds)) == (1, 1), rounds
