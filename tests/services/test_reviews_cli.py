"""Reviews from the command line on real profiles: a granted buyer reviews, the artist replies,
everyone reads the same."""

from __future__ import annotations

from pathlib import Path

from player.samples import make_tone
from tests.services.test_cli import cli
from tests.services.test_market_cli import carry, j


def test_review_reviews_review_reply(tmp_path: Path) -> None:
    gw, artist, fan = tmp_path / "gw", tmp_path / "artist", tmp_path / "fan"
    for p in (gw, artist, fan):
        cli("identity", "new", "--name", p.name, profile=p)
    crd = j("issue", "CRD", "Credits", "--flag", "stable", profile=gw)["asset"]
    cli("mint", crd, "1000", profile=gw)
    cli("send", j("identity", "show", profile=fan)["public_key"], "100", "--asset", crd, profile=gw)
    carry(gw, artist)
    song = make_tone(tmp_path, "song", "flac", seconds=1.0, title="Song", artist="Ann")
    release = j(
        "publish", str(song), "--title", "Song", "--price", "2", "--asset", crd, profile=artist
    )["listing"]
    carry(gw, fan)
    carry(artist, fan)
    refused = cli("review", release, "5", profile=fan, check=False)
    assert refused.returncode == 1 and "only buyers" in refused.stderr
    cli("buy", release, "--yes", profile=fan)
    carry(fan, artist)
    cli("settle", profile=artist)  # grants the purchase
    carry(artist, fan)
    rid = j("review", release, "4", "--text", "warm", profile=fan)["review"]
    bad = cli("review", release, "9", profile=fan, check=False)
    assert bad.returncode == 1 and "1 to 5" in bad.stderr
    carry(fan, artist)
    j("review-reply", rid[:12], "thank you", profile=artist)
    carry(artist, fan)
    shown = j("reviews", release, profile=fan)
    assert (shown["count"], shown["average"]) == (1, 4.0)
    assert [(r["text"], r["reply"]) for r in shown["reviews"]] == [("warm", "thank you")]
