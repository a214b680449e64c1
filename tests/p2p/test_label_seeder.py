"""End to end over real processes: Coop Records runs on a seeder (its own settler); three fans
vote from their own nodes, one of them offline while voting and syncing later; the seeder closes
the proposal after its closing time and pays the artist from the treasury as voted; a payment
without a vote is refused; every replica ends with the same state."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.p2p.test_multiprocess import cli, cli_json, daemon, stop

pytestmark = [pytest.mark.network, pytest.mark.slow]


def holding(profile: Path, symbol: str) -> int:
    return sum(b["amount"] for b in cli_json(profile, "wallet") if b["symbol"] == symbol)


def test_a_label_on_a_seeder_pays_the_artist_as_its_fans_voted(tmp_path: Path) -> None:
    names = ("gateway", "label", "artist", "fan1", "fan2", "fan3")
    gateway, label, artist, fan1, fan2, fan3 = (tmp_path / n for n in names)
    fans = (fan1, fan2, fan3)
    for p, name in zip((gateway, label, artist, *fans), names, strict=True):
        cli(p, "identity", "new", "--name", name.capitalize())
    keys = {
        p: cli_json(p, "identity", "show")["public_key"] for p in (gateway, label, artist, *fans)
    }
    crd = cli_json(gateway, "issue", "CRD", "Credits", "--flag", "stable")["asset"]
    cli(gateway, "mint", crd, "1000")
    cli(gateway, "send", keys[label], "500", "--asset", crd)
    coop = cli_json(label, "issue", "COOP", "Coop Records", "--precision", "0")["asset"]
    cli(label, "mint", coop, "3000")
    for fan in fans:
        cli(label, "send", keys[fan], "1000", "--asset", coop)

    seed_proc, addr = daemon(label, tmp_path / "label.addr")
    try:
        cli(gateway, "peers", "--peer", addr, "--sync")
        # the label charters itself (its seeder process counts), after receiving its credits
        cli(label, "charter", "--asset", coop, "--quorum", "500", "--period", "0.02")
        refused = cli(label, "send", keys[artist], "200", "--asset", crd, check=False)
        assert refused.returncode == 1 and "passed proposal" in refused.stderr
        for fan in fans:
            cli(fan, "peers", "--peer", addr, "--sync")
        proposal = cli_json(
            fan1,
            "propose",
            "An advance for the artist",
            "--charter",
            keys[label],
            "--send",
            "200",
            crd,
            keys[artist],
        )
        pid = proposal["proposal"]
        assert proposal["status"] == "open" and proposal["settler"] == keys[label]
        cli(fan1, "peers", "--peer", addr, "--sync")
        cli(fan1, "vote", pid, "yes", "--units", "600")
        cli(fan2, "peers", "--peer", addr, "--sync")
        cli(fan2, "vote", pid, "no", "--units", "300")
        cli(fan3, "peers", "--peer", addr, "--sync")
        cli(fan3, "vote", pid, "yes", "--units", "200")  # written offline ...
        for fan in (fan1, fan2):
            cli(fan, "peers", "--peer", addr, "--sync")
        cli(fan3, "peers", "--peer", addr, "--sync")  # ... and synced later, still in time
        deadline = time.monotonic() + 150
        while True:  # the seeder closes after the closing time and pays, by itself
            cli(artist, "peers", "--peer", addr, "--sync")
            tally = cli_json(artist, "tally", pid)
            if tally["carried_out_by"]:
                break
            if time.monotonic() > deadline:
                log = stop(seed_proc)
                raise AssertionError(f"{tally['status']} {tally['result']}\n{log[-4000:]}")
            time.sleep(0.5)
        assert tally["status"] == "passed"
        assert tally["result"]["tally"] == {"yes": 800, "no": 300}
        assert tally["result"]["turnout"] == 1100 and tally["omitted"] == []
        cli(artist, "peers", "--peer", addr, "--sync")
        assert holding(artist, "CRD") == 200_00
        for fan in fans:  # the close unlocked every vote
            cli(fan, "peers", "--peer", addr, "--sync")
            assert holding(fan, "COOP") == 1000
        for p in (artist, *fans, gateway):  # each receive reaches the seeder, then everyone
            cli(p, "peers", "--peer", addr, "--sync")
        states = [cli_json(p, "ledger", "state") for p in (artist, *fans, gateway)]
        assert len({s["state_hash"] for s in states}) == 1
        assert holding(label, "CRD") == 300_00
    finally:
        log = stop(seed_proc)
    assert "governance: 1 closed" in log
