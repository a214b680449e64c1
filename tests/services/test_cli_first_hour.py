"""What a new user meets in the CLI in the first hour: confirmations before money moves, IDs
that are never guessed from one character, peer IDs accepted as keys, read-only profiles and
binary lines without tracebacks. Real CLI processes on real profile folders."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.services.identity import parse_public_key
from ledger.keys import Signer, peer_id
from player.samples import make_tone

ROOT = Path(__file__).resolve().parents[2]
PASS = "correct horse"
ENV = {**os.environ, "COOPTRACKS_PASSPHRASE": PASS}


def cli(
    profile: Path, *args: str, stdin: str | bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "--profile", str(profile), *args],
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        capture_output=True,
        env=ENV,
        cwd=ROOT,
        timeout=120,
    )
    out = subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed: {out.stderr[-3000:]}")
    return out


def cli_json(profile: Path, *args: str):  # type: ignore[no-untyped-def]
    return json.loads(cli(profile, *args, "--json").stdout)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A gateway, an artist with a release (a split with a collaborator) and a funded fan, all
    holding the same ledger."""
    root = tmp_path_factory.mktemp("first-hour")
    gateway, artist, fan, friend = (root / n for n in ("gateway", "artist", "fan", "friend"))
    for p, name in ((gateway, "Gate"), (artist, "Ann"), (fan, "Fan"), (friend, "Bo")):
        cli(p, "identity", "new", "--name", name)
    ids = {p: cli_json(p, "identity", "show") for p in (gateway, artist, fan, friend)}
    asset = cli_json(gateway, "issue", "CRD", "Credits", "--flag", "stable")["asset"]
    cli(gateway, "mint", asset, "1000")
    cli(gateway, "send", ids[fan]["peer_id"], "100", "--asset", asset)  # a peer ID as the key
    share_ledgers(gateway, artist)
    song = make_tone(root, "song", "flac", seconds=2.0, title="Song", artist="Ann")
    release = cli_json(
        artist,
        "publish",
        str(song),
        "--title",
        "Song",
        "--price",
        "4",
        "--asset",
        asset,
        "--split",
        f"{ids[friend]['peer_id']}=25",
    )["listing"]
    share_ledgers(artist, fan)
    return {
        "gateway": gateway,
        "artist": artist,
        "fan": fan,
        "ids": ids,
        "asset": asset,
        "release": release,
        "root": root,
        "friend": friend,
    }


def share_ledgers(src: Path, dst: Path) -> None:
    cli(dst, "ledger", "import", "-", stdin=cli(src, "ledger", "export").stdout)


def on_terminal(profile: Path, args: list[str], answer: str) -> str:
    """Run the CLI on a pseudo-terminal, answer its question, return everything it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--profile", str(profile), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=ENV,
        cwd=ROOT,
    )
    os.close(slave)
    seen = b""
    answered = False
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, f"no output: {seen.decode(errors='replace')}"
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            seen += data
            if not answered and b"[y/N]" in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
    finally:
        os.close(master)
        proc.wait(timeout=60)
    return seen.decode(errors="replace")


def test_buying_on_a_terminal_asks_with_the_price_and_the_split(shop) -> None:  # type: ignore[no-untyped-def]
    fan, release = shop["fan"], shop["release"]
    said = on_terminal(fan, ["buy", release[:8]], "n")
    assert "Buy Song by Ann" in said and "for 4.00 CRD?" in said
    assert "Ann (the artist): 3.00 CRD" in said
    assert f"{shop['ids'][shop['friend']]['peer_id']}: 1.00 CRD" in said  # no profile name
    assert "nothing was bought" in said
    assert cli_json(fan, "wallet")[0]["amount"] == 100_00  # no money moved
    said = on_terminal(fan, ["buy", release[:8]], "y")
    assert "signed" in said
    assert cli_json(fan, "wallet")[0]["amount"] == 96_00


def test_scripts_are_not_asked_and_short_or_ambiguous_ids_are_refused(shop) -> None:  # type: ignore[no-untyped-def]
    fan, release = shop["fan"], shop["release"]
    for ref in (release[:1], release[:7], "zz" * 5):
        refused = cli(fan, "buy", ref, check=False)
        assert refused.returncode == 1 and "at least 8 hex characters" in refused.stderr
        assert "Traceback" not in refused.stderr
    unknown = cli(fan, "buy", "00000000", check=False)
    assert "no release matches" in unknown.stderr and "cooptracks sync" in unknown.stderr


def test_a_peer_id_is_accepted_wherever_a_key_is(shop) -> None:  # type: ignore[no-untyped-def]
    ids = shop["ids"]
    for doc in ids.values():
        key = bytes.fromhex(doc["public_key"])
        assert parse_public_key(doc["peer_id"]) == key == parse_public_key(doc["public_key"])
    other = Signer.generate().public_key
    assert parse_public_key(peer_id(other)) == other
    artist = shop["artist"]
    agent = ids[shop["gateway"]]["peer_id"]
    done = cli(artist, "delegate", agent)
    assert agent in done.stdout
    bad = cli(shop["fan"], "send", "12D3KooWnotapeerid", "1", "--asset", shop["asset"], check=False)
    assert bad.returncode == 1 and "is not a public key" in bad.stderr


def test_sales_print_amounts_and_mint_prints_json(shop) -> None:  # type: ignore[no-untyped-def]
    fan, artist = shop["fan"], shop["artist"]
    cli(fan, "buy", shop["release"], "--yes", check=False)  # refused if already bought
    share_ledgers(fan, artist)
    sales = cli(artist, "sales").stdout
    assert "3.00 CRD" in sales  # the artist's share of a 4.00 sale, not "300"
    minted = cli_json(shop["gateway"], "mint", shop["asset"], "5")
    assert minted["minted"] == "5.00 CRD" and len(minted["entry"]) == 64


def test_a_read_only_profile_reads_and_refuses_writes_in_a_sentence(shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fan = shop["fan"]
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(
        ["mount", "--bind", str(fan), str(ro)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], check=True)
        wallet = cli(ro, "wallet", check=False)
        assert wallet.returncode == 0, wallet.stderr
        assert "CRD" in wallet.stdout
        catalog = cli(ro, "catalog", check=False)
        assert catalog.returncode == 0 and "Song" in catalog.stdout
        sent = cli(
            ro,
            "send",
            shop["ids"][shop["gateway"]]["peer_id"],
            "1",
            "--asset",
            shop["asset"],
            check=False,
        )
        assert sent.returncode == 1
        assert "read-only" in sent.stderr and "nothing was changed" in sent.stderr
        for run in (wallet, catalog, sent):
            assert "Traceback" not in run.stderr
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


def test_a_binary_line_in_an_import_is_reported_on_its_own(shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = cli(shop["gateway"], "ledger", "export").stdout.encode().splitlines()
    data = b"\n".join([lines[0], b"\xff\xfe\x00binary\x80", *lines[1:]]) + b"\n"
    dump = tmp_path / "dump.jsonl"
    dump.write_bytes(data)
    replica = tmp_path / "replica"
    done = cli(replica, "ledger", "import", str(dump), "--json", check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert [r["line"] for r in result["rejected"]] == [2]
    assert "binary" in result["rejected"][0]["reason"]
    assert result["accepted"] == len(lines)
    piped = cli(tmp_path / "replica2", "ledger", "import", "-", "--json", stdin=data, check=False)
    assert json.loads(piped.stdout)["accepted"] == len(lines)


@pytest.mark.parametrize("how", ["file", "env"])
def test_gui_unlocks_with_the_passphrase_file_or_variable(shop, tmp_path, how) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in ENV.items() if k != "COOPTRACKS_PASSPHRASE"}
    env.update(QT_QPA_PLATFORM="offscreen", COOPTRACKS_NO_MDNS="1")
    args = [sys.executable, "-m", "app.cli", "--profile", str(shop["fan"]), "gui"]
    if how == "file":
        secret = tmp_path / "pass"
        secret.write_text(PASS + "\n")
        args += ["--passphrase-file", str(secret)]
    else:
        env["COOPTRACKS_PASSPHRASE"] = PASS
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(60, proc.kill)  # a window left waiting for a passphrase
    watchdog.start()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the session's node starts only once the identity unlocks
            if "listening on" in line:
                break
        else:
            raise AssertionError("the app ended without unlocking")
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait(timeout=30)
