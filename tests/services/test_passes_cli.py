"""Holder passes from the command line on real profiles: a gate, a claim, the pass shown as text
and checked by a door's profile (exit code 0 when valid, 3 when refused)."""

from __future__ import annotations

from pathlib import Path

from tests.services.test_cli import cli
from tests.services.test_market_cli import carry, j


def test_gate_claim_show_check_tiers(tmp_path: Path) -> None:
    artist, fan, door = tmp_path / "artist", tmp_path / "fan", tmp_path / "door"
    for p in (artist, fan, door):
        cli("identity", "new", "--name", p.name, profile=p)
    ann = j("issue", "ANN", "Ann coin", "--flag", "artistcoin", "--precision", "0", profile=artist)[
        "asset"
    ]
    cli("mint", ann, "1000", profile=artist)
    cli(
        "send",
        j("identity", "show", profile=fan)["public_key"],
        "150",
        "--asset",
        ann,
        profile=artist,
    )
    backstage = j("pass", "gate", "Backstage", "100", "ANN", profile=artist)
    j("pass", "gate", "Founder", "100", "ANN", "--held-days", "365", profile=artist)
    carry(artist, fan)
    cli("settle", profile=fan)  # the 150 ANN are received: spendable, so held
    tiers = j("pass", "tiers", "ANN", profile=fan)
    assert [(t["title"], t["qualifies"]) for t in tiers] == [
        ("Backstage", True),
        ("Founder", False),
    ]
    claim = j("pass", "claim", backstage["gate"][:12], profile=fan)
    again = cli("pass", "claim", backstage["gate"][:12], profile=fan, check=False)
    assert again.returncode == 1 and "you held 50" in again.stderr
    text = j("pass", "show", claim["claim"][:12], "--challenge", "gate-3", profile=fan)["pass"]
    carry(artist, door)
    carry(fan, door)
    ok = j(
        "pass", "check", text, "--gate", backstage["gate"], "--challenge", "gate-3", profile=door
    )
    assert ok["ok"] and ok["confirmed"]
    wrong = cli("pass", "check", text, "--challenge", "other", profile=door, check=False)
    assert wrong.returncode == 3 and "REFUSED" in wrong.stdout
    assert [c["active"] for c in j("pass", "list", profile=fan)] == [True]
    early = cli("pass", "unlock", claim["claim"], profile=fan, check=False)
    assert early.returncode == 1 and "stay locked" in early.stderr
