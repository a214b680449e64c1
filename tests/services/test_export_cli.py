"""``cooptracks export``, run as a user would: a real subprocess on real profile folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.profile import Profile
from app.services.core import Core
from app.services.identity import IdentityService
from app.services.replica import converge, copy_content
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.wallet import WalletService
from tests.services.test_cli import cli

PASSPHRASE = "correct horse"
FAST = (1, 8192)  # argon2id's minimum limits: these identities guard nothing


def _identity(root: Path, name: str) -> Core:
    profile = Profile(root / name)
    ids = IdentityService(profile, *FAST)
    ids.create(PASSPHRASE, name)
    return Core(profile, ids.unlock(PASSPHRASE))


@pytest.fixture(scope="module")
def profiles(tmp_path_factory, audio_files):  # type: ignore[no-untyped-def]
    """(fan profile, stranger profile, listing id): the fan bought and downloaded a release."""
    root = tmp_path_factory.mktemp("export-cli")
    gateway, artist, fan, stranger = (
        _identity(root, n) for n in ("gateway", "artist", "fan", "stranger")
    )
    cores = [gateway, artist, fan, stranger]
    try:
        wallet = WalletService(gateway)
        credits = wallet.issue("CRD", "Credits", 2, 10**12, ("stable",))
        wallet.mint(credits.id, "1000")
        wallet.send(fan.me, credits.id, "20")
        converge(*cores)
        listing = (
            StudioService(artist)
            .publish(
                ReleaseDraft(
                    files=tuple(audio_files),
                    title="Debut",
                    artist_name="Ann",
                    price="5",
                    asset=credits.id,
                    preview_seconds=0,
                )
            )
            .listing
        )
        converge(*cores)
        fan.settle()
        ShopService(fan).buy(listing.id)
        converge(*cores)
        artist.settle()
        converge(*cores)
        fan.settle()
        for t in listing.tracks:
            copy_content(artist, fan, t.content)
    finally:
        for core in cores:
            core.close()
    return root / "fan", root / "stranger", listing.id.hex()


def test_a_release_as_flac_with_json_and_again_skipped(profiles, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fan, _stranger, listing = profiles
    out = tmp_path / "music"
    proc = cli("export", listing[:12], "--format", "flac", "--to", str(out), "--json", profile=fan)
    doc = json.loads(proc.stdout)
    assert (doc["written"], doc["skipped"], doc["format"]) == (2, 0, "flac")
    assert [Path(f["path"]).relative_to(out).as_posix() for f in doc["files"]] == [
        "Ann/Debut/01 First Light.flac",
        "Ann/Debut/02 Second Wind.flac",
    ]
    assert "not lossless" in doc["warning"] and "warning:" in proc.stderr  # one MP3 original
    again = json.loads(
        cli("export", listing, "--format", "flac", "--to", str(out), "--json", profile=fan).stdout
    )
    assert (again["written"], again["skipped"]) == (0, 2)


def test_one_track_as_the_original_and_all_as_mp3(profiles, audio_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fan, _stranger, listing = profiles
    proc = cli(
        "export",
        listing,
        "--track",
        "2",
        "--format",
        "original",
        "--to",
        str(tmp_path / "one"),
        profile=fan,
    )
    assert "1 file written" in proc.stdout
    assert (tmp_path / "one/Ann/Debut/02 Second Wind.mp3").read_bytes() == audio_files[
        1
    ].read_bytes()
    proc = cli("export", "--all", "--format", "mp3", "--to", str(tmp_path / "all"), profile=fan)
    assert "your collection: 2 files written" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "all/Ann/Debut").iterdir()) == [
        "01 First Light.mp3",
        "02 Second Wind.mp3",
    ]


def test_refusals_are_clear_and_write_nothing(profiles, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fan, stranger, listing = profiles
    out = tmp_path / "out"
    for args, profile, message in (
        ((listing, "--format", "flac"), stranger, "you have not bought this release"),
        (("--all", "--format", "flac"), stranger, "you own no music yet"),
        ((listing, "--track", "9", "--format", "flac"), fan, "has no track 9"),
        ((listing, "--all", "--format", "flac"), fan, "name one release, or pass --all"),
    ):
        proc = cli("export", *args, "--to", str(out), profile=profile, check=False)
        assert proc.returncode == 1, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    bad = cli("export", listing, "--format", "mp4", profile=fan, check=False)
    assert bad.returncode == 2 and "invalid choice: 'mp4'" in bad.stderr


@pytest.mark.network
def test_tracks_not_downloaded_yet_come_over_the_swarm_first(tmp_path, audio_files) -> None:  # type: ignore[no-untyped-def]
    from app.services.swarm import SwarmNetwork, SwarmSettings

    gateway, artist, fan = (_identity(tmp_path, n) for n in ("gateway", "artist", "fan"))
    cores = [gateway, artist, fan]
    wallet = WalletService(gateway)
    credits = wallet.issue("CRD", "Credits", 2, 10**12, ("stable",))
    wallet.mint(credits.id, "1000")
    wallet.send(fan.me, credits.id, "20")
    converge(*cores)
    listing = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files),
                title="Wired",
                artist_name="Ann",
                price="5",
                asset=credits.id,
                preview_seconds=0,
            )
        )
        .listing
    )
    converge(*cores)
    fan.settle()
    ShopService(fan).buy(listing.id)
    converge(*cores)
    artist.settle()
    converge(*cores)
    fan.settle()
    fan.close()
    gateway.close()
    seller = SwarmNetwork(SwarmSettings(listen=("/ip4/127.0.0.1/tcp/0",)))
    seller.start(artist)
    try:
        Profile(tmp_path / "fan").update_config(
            bootstrap=[seller._node.addrs[0]],
            mdns=False,  # type: ignore[union-attr]
            listen=["/ip4/127.0.0.1/tcp/0"],
        )
        proc = cli(
            "export",
            listing.id.hex(),
            "--format",
            "original",
            "--to",
            str(tmp_path / "out"),
            "--json",
            profile=tmp_path / "fan",
        )
    finally:
        seller.close()
        artist.close()
    doc = json.loads(proc.stdout)
    assert doc["written"] == 2
    for source, f in zip(audio_files, doc["files"], strict=True):
        assert Path(f["path"]).read_bytes() == source.read_bytes()
    assert "starting the swarm node" in proc.stderr
