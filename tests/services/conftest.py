from __future__ import annotations

from pathlib import Path

import pytest

from app.profile import Profile
from app.services.core import Core
from app.services.replica import converge
from app.services.wallet import WalletService
from ledger.keys import Signer
from player.samples import make_tone


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cores: list[Core] = []
        self.gateway = self.core("gateway")
        wallet = WalletService(self.gateway)
        self.credits = wallet.issue("CRD", "Demo credits", 2, 10**12, ("stable",))
        wallet.mint(self.credits.id, "100000")

    def core(self, name: str) -> Core:
        core = Core(Profile(self.root / name), Signer.generate())
        self.cores.append(core)
        return core

    def fund(self, core: Core, amount: str) -> None:
        WalletService(self.gateway).send(core.me, self.credits.id, amount, "top-up")
        self.sync()

    def sync(self) -> None:
        converge(*self.cores)

    def close(self) -> None:
        for core in self.cores:
            core.close()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    return [
        make_tone(d, "first", "flac", seconds=1.0, title="First Light", artist="Ann"),
        make_tone(d, "second", "mp3", seconds=1.0, freq=660.0, title="Second Wind", artist="Ann"),
    ]
