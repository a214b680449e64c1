"""End to end over real processes: an artist with a coin charter and a release that keeps 10%
for seeders delegates to a seeder and goes offline. A fan stakes through the seeder (the seeder
daemon accepts the stake on the artist's behalf), buys (the seeder grants), downloads from the
seeder with ``cooptracks fetch``, which writes the receipt naming the seeder with the bytes it
served; the seeder is paid its share. The artist, back online, distributes naming the seeder's
acceptance, and the fan collects its share of the sale."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from content.chunkstore import ChunkStore
from player.samples import make_tone
from tests.p2p.test_multiprocess import cli, cli_json, daemon, stop

pytestmark = [pytest.mark.network, pytest.mark.slow]


def until(what: str, check, limit_s: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def holding(profile: Path, symbol: str) -> int:
    return sum(b["amount"] for b in cli_json(profile, "wallet") if b["symbol"] == symbol)


def test_an_offline_artists_seeder_accepts_stakes_and_is_paid_by_receipts(tmp_path: Path) -> None:
    gateway, seeder, artist, fan = (tmp_path / n for n in ("gateway", "seeder", "artist", "fan"))
    for p in (gateway, seeder, artist, fan):
        cli(p, "identity", "new", "--name", p.name)
    keys = {
        p: cli_json(p, "identity", "show")["public_key"] for p in (gateway, seeder, artist, fan)
    }
    crd = cli_json(gateway, "issue", "CRD", "Credits", "--flag", "stable")["asset"]
    cli(gateway, "mint", crd, "1000")
    cli(gateway, "send", keys[fan], "100", "--asset", crd)

    seed_proc, seed_addr = daemon(seeder, tmp_path / "seeder.addr")
    artist_proc = None
    try:
        cli(gateway, "peers", "--peer", seed_addr, "--sync")
        cli(artist, "peers", "--peer", seed_addr, "--sync")  # the artist learns of CRD
        ann = cli_json(artist, "issue", "ANN", "Ann coin", "--flag", "artistcoin", "--precision",
                       "0")["asset"]  # fmt: skip
        cli(artist, "mint", ann, "1000")
        cli(artist, "send", keys[fan], "300", "--asset", ann)
        cli(artist, "coin", "charter", "ANN", crd, "20")
        audio = make_tone(tmp_path, "song", "flac", seconds=3.0)
        published = cli_json(
            artist, "publish", str(audio), "--title", "Song", "--price", "10", "--asset", crd,
            "--seeders-share", "10",
        )  # fmt: skip
        content = published["tracks"][0]["content"]
        cli(artist, "delegate", keys[seeder])
        # online long enough for the seeder to replicate and pin, then offline
        artist_proc, _ = daemon(
            artist, tmp_path / "artist.addr", "--pin", "none", "--peer", seed_addr
        )
        pinned = ChunkStore(seeder / "content")
        until("the seeder pins the release", lambda: pinned.is_complete(bytes.fromhex(content)))
        stop(artist_proc)
        artist_proc = None

        cli(fan, "peers", "--peer", seed_addr, "--sync")  # credits and coins arrive
        stake = cli_json(fan, "stake", "ANN", "100", "--days", "1", "--via-agent")["stake"]
        cli(fan, "peers", "--peer", seed_addr, "--sync")

        def staked() -> bool:
            cli(fan, "peers", "--peer", seed_addr, "--sync")
            return [s["status"] for s in cli_json(fan, "coin", "stakes")] == ["staked"]

        until("the seeder accepts the stake for the away artist", staked)
        purchase = cli_json(fan, "buy", published["listing"], "--yes")["purchase"]
        cli(fan, "peers", "--peer", seed_addr, "--sync")  # the seeder grants
        got: dict = {}

        def fetched() -> bool:
            run = cli(fan, "fetch", content, "--peer", seed_addr, "--json", check=False)
            if run.returncode == 0:
                got.update(json.loads(run.stdout))
            return run.returncode == 0

        until("the fan downloads from the seeder", fetched)
        assert len(got["receipts"]) == 1  # the fetch completed the purchase: its receipt
        cli(fan, "peers", "--peer", seed_addr, "--sync")  # the seeder's node receives its share
        until("the seeder is paid 10% of 10.00 CRD", lambda: holding(seeder, "CRD") == 100)
        # the artist comes back: receives the sale, distributes (naming the seeder's acceptance)
        cli(artist, "peers", "--peer", seed_addr, "--sync")
        cli(artist, "coin", "settle")
        cli(artist, "peers", "--peer", seed_addr, "--sync")

        def collected() -> bool:
            cli(fan, "peers", "--peer", seed_addr, "--sync")
            return [s["collected"] for s in cli_json(fan, "coin", "stakes")] == [180]

        until("the fan collects its share of the sale", collected)  # 20% of the 900 received
        assert stake and purchase
    finally:
        if artist_proc is not None:
            artist_proc.kill()
        stop(seed_proc)
