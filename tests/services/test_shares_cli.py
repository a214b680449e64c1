"""Referral and seeder shares and gated listings from the command line on real profiles:
``publish --seeders-share --referrer-share``, ``buy --referrer``, and a holders-only release that
``buy`` refuses until the fan claims its gate with ``pass claim``."""

from __future__ import annotations

from pathlib import Path

from player.samples import make_tone
from tests.services.test_cli import cli
from tests.services.test_market_cli import carry, j


def test_publish_with_shares_buy_with_a_referrer_and_a_holders_only_release(
    tmp_path: Path,
) -> None:
    gw, artist, fan, friend = (tmp_path / n for n in ("gw", "artist", "fan", "friend"))
    for p in (gw, artist, fan, friend):
        cli("identity", "new", "--name", p.name, profile=p)
    fan_key = j("identity", "show", profile=fan)["public_key"]
    friend_key = j("identity", "show", profile=friend)["public_key"]
    crd = j("issue", "CRD", "Credits", "--flag", "stable", profile=gw)["asset"]
    cli("mint", crd, "1000", profile=gw)
    cli("send", fan_key, "100", "--asset", crd, profile=gw)
    carry(gw, artist)
    song = make_tone(tmp_path, "song", "flac", seconds=1.0, title="Song", artist="Ann")
    too_much = cli(
        "publish", str(song), "--price", "2", "--asset", crd, "--seeders-share", "40",
        "--referrer-share", "20", profile=artist, check=False,
    )  # fmt: skip
    assert too_much.returncode == 1 and "at most 50%" in too_much.stderr
    shared = j(
        "publish", str(song), "--title", "Shared", "--price", "2", "--asset", crd,
        "--seeders-share", "10", "--referrer-share", "5%", profile=artist,
    )["listing"]  # fmt: skip
    ann = j("issue", "ANN", "Ann coin", "--flag", "artistcoin", "--precision", "0", profile=artist)
    cli("mint", ann["asset"], "1000", profile=artist)
    cli("send", fan_key, "150", "--asset", ann["asset"], profile=artist)
    gate = j("pass", "gate", "Holders", "100", "ANN", profile=artist)["gate"]
    only = j(
        "publish", str(song), "--title", "Only", "--price", "2", "--asset", crd,
        "--gate", gate[:12], "--holders-only", profile=artist,
    )["listing"]  # fmt: skip
    carry(gw, fan)
    carry(artist, fan)
    own = cli("buy", shared, "--yes", "--referrer", fan_key, profile=fan, check=False)
    assert own.returncode == 1 and "refer yourself" in own.stderr
    bought = j("buy", shared, "--yes", "--referrer", friend_key, profile=fan)["purchase"]
    refused = cli("buy", only, "--yes", profile=fan, check=False)
    assert refused.returncode == 1 and "holders only" in refused.stderr
    assert "pass claim" in refused.stderr
    cli("settle", profile=fan)  # the 150 ANN are received: spendable, so held
    j("pass", "claim", gate[:12], profile=fan)
    j("buy", only, "--yes", profile=fan)
    carry(fan, friend)
    carry(gw, friend)
    cli("settle", profile=friend)
    wallet = j("wallet", profile=friend)
    assert "0.10" in str(wallet), wallet  # 5% of 2.00
    carry(fan, artist)
    sales = j("sales", profile=artist)
    assert bought in str(sales)
