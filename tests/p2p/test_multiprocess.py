"""End to end over real processes: an artist sells through a seeder while the artist is offline.

artist publishes → the seeder replicates and pins → the artist's node stops → a fan buys →
the seeder, as the artist's sales agent, grants → the fan downloads from the seeder, and the
decrypted bytes equal the original file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from content.chunkstore import ChunkStore
from player.samples import make_tone

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.network, pytest.mark.slow]
ENV = {**os.environ, "COOPTRACKS_PASSPHRASE": "correct horse"}


def cli(profile: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "--profile", str(profile), *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=90,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed: {proc.stderr[-3000:]}")
    return proc


def cli_json(profile: Path, *args: str) -> dict:
    return json.loads(cli(profile, *args, "--json").stdout)


def daemon(profile: Path, addr_file: Path, *args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "--profile",
            str(profile),
            "seed",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--addr-file",
            str(addr_file),
            "--settle-interval",
            "1",
            *args,
        ],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not addr_file.exists() or not addr_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"seed did not start: {proc.communicate()[1][-3000:]}")
        time.sleep(0.1)
    return proc, addr_file.read_text().split()[0]


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("daemon did not stop on SIGTERM") from None
    assert proc.returncode == 0, err[-3000:]
    return err


def test_a_fan_buys_and_downloads_from_the_seeder_while_the_artist_is_offline(tmp_path):
    gateway, seeder, artist, fan = (tmp_path / n for n in ("gateway", "seeder", "artist", "fan"))
    for p, name in ((gateway, "Gate"), (seeder, "Seeder"), (artist, "Artist"), (fan, "Fan")):
        cli(p, "identity", "new", "--name", name)
    keys = {
        p: cli_json(p, "identity", "show")["public_key"] for p in (gateway, seeder, artist, fan)
    }
    asset = cli_json(gateway, "issue", "CRD", "Credits", "--flag", "stable")["asset"]
    cli(gateway, "mint", asset, "1000")
    cli(gateway, "send", keys[fan], "100", "--asset", asset)

    seed_proc, seed_addr = daemon(seeder, tmp_path / "seeder.addr")
    artist_proc = None
    try:
        cli(gateway, "peers", "--peer", seed_addr, "--sync")
        audio = make_tone(tmp_path, "song", "flac", seconds=3.0)
        cli(artist, "peers", "--peer", seed_addr, "--sync")
        published = cli_json(
            artist,
            "publish",
            str(audio),
            "--title",
            "Song",
            "--artist",
            "Artist",
            "--price",
            "5",
            "--asset",
            asset,
        )
        content = bytes.fromhex(published["tracks"][0]["content"])
        cli(artist, "delegate", keys[seeder])
        # The artist's node comes online long enough for the seeder to replicate and pin.
        artist_proc, _ = daemon(
            artist, tmp_path / "artist.addr", "--pin", "none", "--peer", seed_addr
        )
        pinned = ChunkStore(seeder / "content")
        deadline = time.monotonic() + 40
        while not pinned.is_complete(content):
            assert time.monotonic() < deadline, "the seeder did not pin the release"
            time.sleep(0.2)
        stop(artist_proc)  # the artist goes offline
        artist_proc = None

        cli(fan, "peers", "--peer", seed_addr, "--sync")  # receive the credits
        listing = published["listing"]
        cli(fan, "buy", listing)
        cli(fan, "peers", "--peer", seed_addr, "--sync")  # the seeder now holds the purchase
        out = tmp_path / "bought.flac"
        deadline = time.monotonic() + 40
        while True:
            got = cli(fan, "fetch", content.hex(), "--peer", seed_addr, "-o", str(out), check=False)
            if got.returncode == 0:
                break
            assert time.monotonic() < deadline, got.stderr[-2000:]
            time.sleep(0.5)
        assert out.read_bytes() == audio.read_bytes()
    finally:
        if artist_proc is not None:
            artist_proc.kill()
        log = stop(seed_proc)
    assert "seeder stopped cleanly" in log
