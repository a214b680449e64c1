"""The command line, run as a user would (a real subprocess on real profile folders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str, profile: Path, stdin: str | None = None, passphrase="correct horse", check=True
) -> subprocess.CompletedProcess:
    env = {**os.environ, "COOPTRACKS_PASSPHRASE": passphrase}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "--profile", str(profile), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed: {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    profile = tmp_path_factory.mktemp("cli") / "gateway"
    cli("identity", "new", "--name", "Gate", profile=profile)
    asset = json.loads(
        cli("issue", "CRD", "Credits", "--flag", "stable", "--json", profile=profile).stdout
    )["asset"]
    cli("mint", asset, "1000", profile=profile)
    return profile, asset


def test_identity_show_and_wrong_passphrase(gateway):
    profile, _ = gateway
    shown = json.loads(cli("identity", "show", "--json", profile=profile).stdout)
    assert shown["peer_id"].startswith("12D3KooW") and shown["name"] == "Gate"
    bad = cli("wallet", profile=profile, passphrase="not it at all", check=False)
    assert bad.returncode == 1
    assert "wrong passphrase" in bad.stderr and "Traceback" not in bad.stderr


def test_export_import_verify_state_round_trip(gateway, tmp_path):
    profile, _ = gateway
    exported = cli("ledger", "export", profile=profile).stdout
    assert len(exported.splitlines()) == 3  # the name's profile entry, the issue, the mint
    replica = tmp_path / "replica"
    result = json.loads(
        cli("ledger", "import", "-", "--json", profile=replica, stdin=exported).stdout
    )
    assert result["accepted"] == 3 and result["rejected"] == []
    original = json.loads(cli("ledger", "state", "--json", profile=profile).stdout)
    copy = json.loads(cli("ledger", "state", "--json", profile=replica).stdout)
    assert original["state_hash"] == copy["state_hash"]
    assert copy["balances"][0]["display"] == "1,000.00 CRD"
    assert "ok: 3 entries verified" in cli("ledger", "verify", profile=replica).stdout


def test_import_reports_each_bad_line_and_keeps_the_good_ones(gateway, tmp_path):
    profile, _ = gateway
    lines = cli("ledger", "export", profile=profile).stdout.splitlines()
    doc = json.loads(lines[1])
    flipped = bytearray(bytes.fromhex(doc["wire"]))
    flipped[-1] ^= 0x01  # one bit of the signature
    bad_sig = json.dumps({**doc, "wire": flipped.hex()})
    text = "\n".join([lines[0], "this is not json", json.dumps({"wire": "00ff"}), bad_sig]) + "\n"
    replica = tmp_path / "replica"
    proc = cli("ledger", "import", "-", "--json", profile=replica, stdin=text, check=False)
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    reasons = {r["line"]: r["reason"] for r in result["rejected"]}
    assert set(reasons) == {2, 3, 4}
    assert "not a JSON line" in reasons[2]
    assert "CBOR" in reasons[3] or "array" in reasons[3]
    assert "signature" in reasons[4]
    assert result["accepted"] == 1
    state = json.loads(cli("ledger", "state", "--json", profile=replica).stdout)
    assert state["entries"] == 1


def test_verify_a_file_without_importing_it(gateway, tmp_path):
    profile, _ = gateway
    export = tmp_path / "export.jsonl"
    cli("ledger", "export", "--out", str(export), profile=profile)
    fresh = tmp_path / "fresh"
    proc = cli("ledger", "verify", str(export), profile=fresh)
    assert "3 accepted" in proc.stdout
    assert json.loads(cli("ledger", "state", "--json", profile=fresh).stdout)["entries"] == 0


def test_every_command_is_documented_in_the_readme():
    """Like sqlite-utils: a command that the README does not mention fails this test."""
    from app.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    missing = [name for name in sub.choices if f"cooptracks {name}" not in readme]
    assert missing == []


def test_the_command_line_loads_heavy_libraries_only_for_the_command_that_runs():
    """Every command pays for building the parser (``cooptracks gui`` and ``demo`` before their
    window opens), so it must not import libp2p, trio, numpy, PyAV or mutagen: a command's
    module imports those inside the handler that needs them."""
    probe = (
        "import sys, app.cli; app.cli.build_parser(); "
        "print(sorted(m for m in ('libp2p', 'trio', 'numpy', 'av', 'mutagen', 'PySide6') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert out.strip() == "[]"
