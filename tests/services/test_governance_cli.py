"""Signings and charter amendments from the command line on real profiles: a label charters
itself, a fan drafts a new charter and proposes it as an amendment; bad input gets a clear error
and signs nothing."""

from __future__ import annotations

from pathlib import Path

from tests.services.test_cli import cli
from tests.services.test_market_cli import carry, j


def test_draft_an_amendment_and_refuse_bad_signing_input(tmp_path: Path) -> None:
    label, fan = tmp_path / "label", tmp_path / "fan"
    for p in (label, fan):
        cli("identity", "new", "--name", p.name, profile=p)
    fan_key = j("identity", "show", profile=fan)["public_key"]
    label_key = j("identity", "show", profile=label)["public_key"]
    j("charter", "--method", "member", "--member", fan_key, "--quorum", "1", profile=label)
    again = cli("charter", "--method", "buyer", profile=label, check=False)
    assert again.returncode == 1 and "already has a charter" in again.stderr
    carry(label, fan)
    draft = j(
        "draft-charter",
        "--method",
        "member",
        "--member",
        fan_key,
        "--member",
        label_key,
        "--quorum",
        "2",
        "--period",
        "24",
        profile=fan,
    )["draft"]
    proposal = j("propose", "Two members", "--charter", label_key, "--amend", draft, profile=fan)
    assert proposal["action"]["do"] == "amend" and proposal["action"]["asset"] == draft
    both = cli(
        "propose",
        "x",
        "--charter",
        label_key,
        "--amend",
        draft,
        "--release",
        "ab",
        profile=fan,
        check=False,
    )
    assert both.returncode == 1 and "one action" in both.stderr
    nothing = cli("accept-signing", "abcdef", profile=fan, check=False)
    assert nothing.returncode == 1 and "abcdef" in nothing.stderr
    assert "Traceback" not in nothing.stderr
