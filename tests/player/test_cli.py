"""The library CLI end to end, through ``app.cli.main`` on a real profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from player.samples import make_random
from tests.player.conftest import TAGGED


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_search_playlist_offline(
    tmp_path: Path, music_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = ["--profile", str(tmp_path / "profile")]
    make_random(music_dir / "junk.mp3")
    code, out, _ = _run(capsys, "library", "import", str(music_dir), "--json", *profile)
    assert code == 0
    report = json.loads(out)
    assert report["added"] == len(TAGGED) and report["scanned"] == len(TAGGED) + 1
    assert [Path(p["path"]).name for p in report["failed"]] == ["junk.mp3"]

    code, out, _ = _run(capsys, "library", "import", str(music_dir), *profile)
    assert code == 0 and f"{len(TAGGED)} unchanged" in out and "junk.mp3" in out

    code, out, _ = _run(capsys, "search", "hopper", "--json", *profile)
    hits = json.loads(out)["library"]
    assert {h["title"] for h in hits} == {"Jacquard Groove", "Bug Report", "Nanosecond"}
    ids = [str(h["track_id"]) for h in hits]

    assert _run(capsys, "playlist", "create", "Hop", *ids, *profile)[0] == 0
    assert _run(capsys, "playlist", "move", "Hop", "3", "1", *profile)[0] == 0
    code, out, _ = _run(capsys, "playlist", "list", "Hop", "--json", *profile)
    assert json.loads(out)["track_ids"] == [int(ids[2]), int(ids[0]), int(ids[1])]
    assert _run(capsys, "playlist", "rename", "Hop", "Hops", *profile)[0] == 0
    code, _, err = _run(capsys, "playlist", "list", "Hop", *profile)
    assert code == 1 and "no playlist" in err
    assert _run(capsys, "playlist", "delete", "Hops", *profile)[0] == 0

    code, out, _ = _run(capsys, "library", "offline", "nanosecond", "on", *profile)
    assert code == 0 and "[offline]" in out
    code, _, err = _run(capsys, "library", "offline", "hopper", "on", *profile)
    assert code == 1 and "several" in err

    code, out, _ = _run(capsys, "library", "problems", "--json", *profile)
    assert [Path(p["path"]).name for p in json.loads(out)] == ["junk.mp3"]


def test_import_of_missing_folder_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys, "library", "import", str(tmp_path / "nowhere"), "--profile", str(tmp_path / "p")
    )
    assert code == 1 and "is not a folder" in err
