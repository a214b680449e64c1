"""App tests: the real widgets, driven by qtbot, over real profiles and the demo world.

One demo world (quick mode: short generated tracks) is built per session and copied per test,
so tests never share mutable profiles. Identities use argon2id's minimum limits here only.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nacl import pwhash

from app.bridge import KdfLimits
from app.demo import DemoWorld, build_world, load_world
from app.profile import Profile
from app.ui.app import AppParts, build
from player.engine import NullEngine

FAST = KdfLimits(pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN)


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-template") / "world"
    build_world(root, quick=True, fresh=True)
    return root


@pytest.fixture
def world(world_template: Path, tmp_path: Path) -> DemoWorld:
    """A private copy of the demo world (fan, artists, gateway, seeder)."""
    dest = tmp_path / "world"
    shutil.copytree(world_template, dest)
    loaded = load_world(dest)
    assert loaded is not None
    return loaded


@pytest.fixture
def launch(qtbot) -> Iterator[Callable[..., AppParts]]:  # type: ignore[no-untyped-def]
    """Start the app on a profile; every app started is shut down after the test."""
    started: list[AppParts] = []

    def start(profile: Path, network_factory=None) -> AppParts:  # type: ignore[no-untyped-def]
        parts = build(
            Profile(profile), network_factory, kdf=FAST, engine=NullEngine(), sync_interval_ms=200
        )
        qtbot.addWidget(parts.window)
        parts.window.show()
        started.append(parts)
        return parts

    yield start
    for parts in started:
        parts.shutdown()
