"""Coins tied to sales from the command line on real profiles: a charter, a stake accepted by
the artist's profile, a sale, the distribution, the staker's collection."""

from __future__ import annotations

from pathlib import Path

from player.samples import make_tone
from tests.services.test_cli import cli
from tests.services.test_market_cli import carry, j


def test_charter_stake_sale_distribute_collect(tmp_path: Path) -> None:
    gw, artist, fan, buyer = (tmp_path / n for n in ("gw", "artist", "fan", "buyer"))
    for p in (gw, artist, fan, buyer):
        cli("identity", "new", "--name", p.name, profile=p)
    crd = j("issue", "CRD", "Credits", "--flag", "stable", profile=gw)["asset"]
    cli("mint", crd, "1000", profile=gw)
    cli(
        "send",
        j("identity", "show", profile=buyer)["public_key"],
        "100",
        "--asset",
        crd,
        profile=gw,
    )
    ann = j("issue", "ANN", "Ann coin", "--flag", "artistcoin", "--precision", "0", profile=artist)[
        "asset"
    ]
    cli("mint", ann, "1000", profile=artist)
    cli(
        "send",
        j("identity", "show", profile=fan)["public_key"],
        "200",
        "--asset",
        ann,
        profile=artist,
    )
    carry(gw, artist)
    j("coin", "charter", "ANN", crd, "20", profile=artist)
    carry(artist, fan)
    j("stake", "ANN", "200", "--days", "30", profile=fan)
    carry(fan, artist)
    assert j("coin", "settle", profile=artist)["accepted"] == 1
    status = j("coin", "status", "ANN", profile=artist)
    assert (status["bps"], status["staked"], status["stakers"], status["owed"]) == (2000, 200, 1, 0)
    nothing = cli("distribute", "ANN", profile=artist, check=False)
    assert nothing.returncode == 1 and "nothing is owed" in nothing.stderr
    # a sale of a real release; the artist's node receives it and distributes 20 % on its own
    song = make_tone(tmp_path, "song", "flac", seconds=1.0, title="Song", artist="Ann")
    release = j(
        "publish", str(song), "--title", "Song", "--price", "5", "--asset", crd, profile=artist
    )["listing"]
    carry(gw, buyer)
    carry(artist, buyer)
    cli("buy", release, "--yes", profile=buyer)
    carry(buyer, artist)
    assert j("coin", "settle", profile=artist)["distributed"] == 1
    status = j("coin", "status", "ANN", profile=artist)
    assert (status["sales"], status["committed"], status["owed"]) == (500, 100, 0)
    carry(artist, fan)
    assert j("coin", "settle", profile=fan)["collected"] == 1
    assert [(s["status"], s["collected"]) for s in j("coin", "stakes", profile=fan)] == [
        ("staked", 100)
    ]
    assert {b["symbol"]: b["amount"] for b in j("wallet", profile=fan)} == {"CRD": 100}
