"""Fan funding from the command line, as a user runs it: real processes on real profile folders,
entries carried between profiles with ``ledger export`` / ``ledger import``."""

from __future__ import annotations

import time
from pathlib import Path

from tests.services.test_cli import cli
from tests.services.test_market_cli import carry, j

PLEDGE_WINDOW_S = 30  # covers two carries and two pledges on a loaded machine


def wait_past(deadline_ms: int) -> None:
    """Wait until the wall clock is past a campaign's deadline (a condition, bounded)."""
    limit = time.monotonic() + PLEDGE_WINDOW_S + 30
    while time.time() * 1000 <= deadline_ms:
        assert time.monotonic() < limit
        time.sleep(0.1)


def test_campaign_new_pledge_close_funded_and_failed_refund(tmp_path: Path) -> None:
    gw, artist, f1, f2 = (tmp_path / n for n in ("gw", "artist", "f1", "f2"))
    for p in (gw, artist, f1, f2):
        cli("identity", "new", "--name", p.name, profile=p)
    crd = j("issue", "CRD", "Credits", "--flag", "stable", profile=gw)["asset"]
    cli("mint", crd, "1000", profile=gw)
    for fan in (f1, f2):
        cli(
            "send",
            j("identity", "show", profile=fan)["public_key"],
            "100",
            "--asset",
            crd,
            profile=gw,
        )
        carry(gw, fan)
    carry(gw, artist)
    small = j(
        "campaign",
        "new",
        "Second album",
        "30",
        "CRD",
        "--deadline-in",
        str(PLEDGE_WINDOW_S / 3600),
        "--close-within",
        "1",
        "--tier",
        "Supporter:5:the album",
        "--tier",
        "Patron:18:the album and a pass",
        profile=artist,
    )
    assert (small["status"], small["goal"], [t["min"] for t in small["tiers"]]) == (
        "open",
        3000,
        [500, 1800],
    )
    # The short campaign's pledges come first, so its window covers only what they need.
    for fan in (f1, f2):
        carry(artist, fan)
    j("pledge", small["campaign"][:12], "20", profile=f1)
    j("pledge", small["campaign"][:12], "15", profile=f2)
    # A day-long campaign whose goal is met at once: closing it early as funded is refused.
    big = j("campaign", "new", "World tour", "5", "CRD", "--deadline-in", "24", profile=artist)
    carry(artist, f1)
    j("pledge", big["campaign"][:12], "5", profile=f1)
    for fan in (f1, f2):
        carry(fan, artist)
    listed = {
        c["title"]: (c["pledged"], c["status"]) for c in j("campaign", "list", profile=artist)
    }
    assert listed == {"Second album": (3500, "open"), "World tour": (500, "open")}
    early = cli("campaign", "close", big["campaign"], profile=artist, check=False)
    assert early.returncode == 1 and "only after its deadline" in early.stderr
    failed = j("campaign", "close", big["campaign"], "--fail", profile=artist)
    assert failed["status"] == "failed"
    wait_past(small["deadline"])
    assert j("campaign", "close", small["campaign"], profile=artist)["status"] == "funded"
    for fan in (f1, f2):
        carry(artist, fan)
    assert j("campaign", "settle", profile=f1)["refunded"] == 1  # the failed campaign's pledge
    statuses = sorted(p["status"] for p in j("campaign", "pledges", profile=f1))
    assert statuses == ["accepted", "reclaimed"]
    wallet = {b["symbol"]: b["amount"] for b in j("wallet", profile=f1)}
    assert wallet == {"CRD": 8000}
    shown = j("campaign", "show", small["campaign"], profile=f2)
    assert [(b["amount"], b["tier"]) for b in shown["backers"]] == [
        (2000, "Patron"),
        (1500, "Supporter"),
    ]
    cli("campaign", "settle", profile=artist)
    assert {b["symbol"]: b["amount"] for b in j("wallet", profile=artist)} == {"CRD": 3500}


def test_campaign_mistakes_get_a_clear_message(tmp_path: Path) -> None:
    me = tmp_path / "me"
    cli("identity", "new", "--name", "Me", profile=me)
    for args, words in (
        (("pledge", "abcdef", "1"), "no campaign"),
        (("campaign", "new", "X", "10", "NOPE"), "no asset called"),
        (("campaign", "show", "ff"), "no campaign"),
    ):
        proc = cli(*args, profile=me, check=False)
        assert proc.returncode == 1 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
