"""One profile used by several processes at once, as the README invites: CLI beside CLI, the CLI
beside a running node (the app's or a seeder's). Writes are serialized and never fail for that
reason; a running node takes in what another process wrote within a second or two, then gossips,
settles and shows it.

Real CLI processes, real seeder daemons and real nodes on 127.0.0.1; waits are on events (a
ledger listener, a line in a daemon's log), never on the clock.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from nacl import pwhash

from app.profile import Profile
from app.services.core import Core
from app.services.events import LedgerChanged
from app.services.identity import IdentityService
from app.services.replica import converge
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.swarm import SwarmNetwork, SwarmSettings
from app.services.wallet import WalletService
from ledger.entry import Entry
from ledger.ledger import Ledger
from player.samples import make_tone

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]
PASS = "correct horse"
ENV = {**os.environ, "COOPTRACKS_PASSPHRASE": PASS}
LOOPBACK = ("/ip4/127.0.0.1/tcp/0",)
TIMEOUT = 60.0


def cli(profile: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "--profile", str(profile), *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed: {proc.stderr[-3000:]}")
    return proc


def identity_core(root: Path) -> Core:
    """A profile with a passphrase-protected identity (so CLI processes can unlock it too)."""
    profile = Profile(root)
    ids = IdentityService(profile, pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN)
    ids.create(PASS, root.name)
    return Core(profile, ids.unlock(PASS))


class Daemon:
    """``cooptracks seed`` as a child process; its log lines are read as they come."""

    def __init__(self, profile: Path, *args: str) -> None:
        addr_file = profile.parent / f"{profile.name}.addr"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "--profile",
                str(profile),
                "seed",
                "--listen",
                LOOPBACK[0],
                "--addr-file",
                str(addr_file),
                "--pin",
                "none",
                *args,
            ],
            env=ENV,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.wait_for("listening on")
            self.addr = addr_file.read_text().split()[0]
        except BaseException:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put("")  # the process ended

    def wait_for(self, text: str) -> str:
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                tail = "".join(self.log)[-3000:]
                raise AssertionError(f"no {text!r} in the log:\n{tail}") from None
            self.log.append(line)
            if not line:
                raise AssertionError(f"the daemon ended:\n{''.join(self.log)[-3000:]}")
            if text in line:
                return line

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the daemon did not stop on SIGTERM") from None


class Heard:
    """Entries a ledger's listeners heard of, as a threading event per wanted kind."""

    def __init__(self, ledger: Ledger) -> None:
        self.entries: list[Entry] = []
        self._changed = threading.Condition()
        ledger.add_listener(self._on_entries)

    def _on_entries(self, entries: list[Entry]) -> None:
        with self._changed:
            self.entries.extend(entries)
            self._changed.notify_all()

    def wait(self, predicate, what: str) -> Entry:  # type: ignore[no-untyped-def]
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((e for e in self.entries if predicate(e)), None), TIMEOUT
            )
        assert found, f"never heard of {what}"
        return found


@pytest.fixture
def market(world, tmp_path, audio_files):  # type: ignore[no-untyped-def]
    """The services World (a gateway with credits), an artist and a fan with identities, the
    fan funded and the artist's release published, all replicated to each other."""
    artist = identity_core(tmp_path / "artist")
    fan = identity_core(tmp_path / "fan")
    world.cores += [artist, fan]
    world.fund(fan, "50")
    fan.settle()
    release = StudioService(artist).publish(
        ReleaseDraft(
            files=tuple(audio_files),
            title="Shared",
            artist_name="Ann",
            price="2",
            asset=world.credits.id,
            preview_seconds=0.5,
        )
    )
    world.sync()
    return world, artist, fan, release.listing


def test_eight_sends_at_once_on_one_profile_all_succeed(tmp_path):
    gateway = tmp_path / "gateway"
    cli(gateway, "identity", "new", "--name", "Gate")
    asset = json.loads(cli(gateway, "issue", "CRD", "Credits", "--json").stdout)["asset"]
    cli(gateway, "mint", asset, "1000")
    to = "ab" * 32
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "--profile",
                str(gateway),
                "send",
                to,
                "1",
                "--asset",
                asset,
                "--memo",
                f"n{i}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            cwd=ROOT,
        )
        for i in range(8)
    ]
    errors = []
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            errors.append(err.strip()[-500:])
    assert not errors, errors
    with Ledger.open(gateway / "ledger.sqlite") as led:
        sends = [e for e in led.feed(next(iter(led.frontier()))) if e.kind == "send"]
        assert sorted(e.body["memo"] for e in sends) == [f"n{i}" for i in range(8)]
        assert not led.fork_proofs()
        assert led.store.integrity_check() == "ok"
    wallet = json.loads(cli(gateway, "wallet", "--json").stdout)
    assert wallet[0]["amount"] == 1000_00 - 8_00


def test_a_cli_buy_beside_a_running_node_is_seen_shown_and_gossiped(market):
    world, artist, fan, listing = market
    seller = SwarmNetwork(SwarmSettings(listen=LOOPBACK))
    seller.start(artist)
    buyer = SwarmNetwork(SwarmSettings(listen=LOOPBACK, bootstrap=(seller._node.addrs[0],)))  # type: ignore[union-attr]
    buyer.start(fan)
    shown = threading.Event()
    fan.events.subscribe(lambda e: shown.set() if isinstance(e, LedgerChanged) else None)
    at_seller = Heard(artist.ledger)
    try:
        done = cli(fan.profile.root, "buy", listing.id.hex(), "--yes")
        purchase = bytes.fromhex(done.stdout.split()[1])
        # The running node took the CLI's entry in: its state knows the purchase, the app was
        # told (LedgerChanged), and the artist's node received it over gossip.
        at_seller.wait(lambda e: e.hash == purchase, "the purchase at the artist's node")
        assert shown.wait(TIMEOUT)
        assert purchase in fan.ledger.state.purchases
        assert ShopService(fan).purchases()[0].purchase == purchase
        # And the running node keeps writing: no stale row numbers, no fork of its feed.
        WalletService(fan).send(world.gateway.me, world.credits.id, "1", "after the CLI")
        assert not fan.ledger.fork_proofs()
    finally:
        buyer.close()
        seller.close()


def test_a_cli_publish_beside_a_running_seeder_reaches_peers(tmp_path, world):
    artist_dir = tmp_path / "artist"
    cli(artist_dir, "identity", "new", "--name", "Ann")
    fan = identity_core(tmp_path / "fan")
    world.cores.append(fan)
    converge(world.gateway, fan)  # the credits asset
    exported = tmp_path / "gateway.jsonl"
    exported.write_text(cli_export(world.gateway))
    cli(artist_dir, "ledger", "import", str(exported))
    seeder = Daemon(artist_dir)
    fan_net = SwarmNetwork(SwarmSettings(listen=LOOPBACK, bootstrap=(seeder.addr,)))
    fan_net.start(fan)
    at_fan = Heard(fan.ledger)
    try:
        song = make_tone(tmp_path, "song", "flac", seconds=2.0, title="Late", artist="Ann")
        published = json.loads(
            cli(
                artist_dir,
                "publish",
                str(song),
                "--price",
                "3",
                "--asset",
                world.credits.id.hex(),
                "--preview-seconds",
                "1",
                "--json",
            ).stdout
        )
        seeder.wait_for("written by another process")
        listing = bytes.fromhex(published["listing"])
        at_fan.wait(lambda e: e.hash == listing, "the listing at the fan's node")
        preview = fan.ledger.state.listings[listing].tracks[0].preview
        assert preview is not None
        fan_net.fetch(fan, preview, lambda done, total: None, threading.Event())
        assert fan.chunks.is_complete(preview)  # served by the seeder the CLI published beside
    finally:
        fan_net.close()
        seeder.stop()


def cli_export(core: Core) -> str:
    """The core's whole ledger as ``ledger export`` lines."""
    lines = []
    for author in core.ledger.frontier():
        lines += [json.dumps({"wire": e.wire.hex()}) for e in core.ledger.feed(author)]
    return "\n".join(lines) + "\n"


def test_a_purchase_imported_beside_a_running_seeder_gets_granted(market, tmp_path):
    world, artist, fan, listing = market
    artist_dir = artist.profile.root
    artist.close()  # the artist's machine now runs only its seeder
    world.cores.remove(artist)
    purchase = ShopService(fan).buy(listing.id)  # offline: the seller has not seen it
    seeder = Daemon(artist_dir)
    try:
        exported = tmp_path / "fan.jsonl"
        exported.write_text(cli_export(fan))
        cli(artist_dir, "ledger", "import", str(exported))  # the lines it holds are no harm
        seeder.wait_for("purchases granted")
    finally:
        seeder.stop()
    with Ledger.open(artist_dir / "ledger.sqlite") as led:
        assert led.state.purchases[purchase].granted_by


def test_cli_sync_brings_credits_and_says_so(tmp_path):
    gateway, seeder_dir, fan = (tmp_path / n for n in ("gateway", "seeder", "fan"))
    for p, name in ((gateway, "Gate"), (seeder_dir, "Seeder"), (fan, "Fan")):
        cli(p, "identity", "new", "--name", name)
    alone = cli(fan, "sync", check=False)
    assert alone.returncode == 1 and "no peer to sync with" in alone.stderr
    assert "--peer" in alone.stderr and "Traceback" not in alone.stderr
    fan_id = json.loads(cli(fan, "identity", "show", "--json").stdout)["peer_id"]
    asset = json.loads(cli(gateway, "issue", "CRD", "Credits", "--json").stdout)["asset"]
    cli(gateway, "mint", asset, "100")
    sent = cli(gateway, "send", fan_id, "25", "--asset", asset).stdout
    assert "cooptracks sync" in sent  # the CLI says the payment is only here so far
    seeder = Daemon(seeder_dir)
    try:
        handed = json.loads(cli(gateway, "sync", "--peer", seeder.addr, "--json").stdout)
        assert handed["peers"] == 1
        got = json.loads(cli(fan, "sync", "--peer", seeder.addr, "--json").stdout)
        assert got["new"] >= 3 and got["received"] == 1  # issue, mint, send; then received
        text = cli(fan, "sync", "--peer", seeder.addr).stdout
        assert text.startswith("synced with 1 peers: 0 new entries")
    finally:
        seeder.stop()
    wallet = json.loads(cli(fan, "wallet", "--json").stdout)
    assert wallet[0]["display"] == "25.00 CRD"


def test_cli_sync_stays_until_a_seeder_holds_the_new_release(tmp_path, world):
    from content.chunkstore import ChunkStore

    artist_dir, seeder_dir = tmp_path / "artist", tmp_path / "seeder"
    for p, name in ((artist_dir, "Ann"), (seeder_dir, "Seeder")):
        cli(p, "identity", "new", "--name", name)
    exported = tmp_path / "gateway.jsonl"
    exported.write_text(cli_export(world.gateway))
    cli(artist_dir, "ledger", "import", str(exported))  # the credits asset
    song = make_tone(tmp_path, "song", "flac", seconds=2.0, title="Pinned", artist="Ann")
    published = json.loads(
        cli(
            artist_dir,
            "publish",
            str(song),
            "--price",
            "3",
            "--asset",
            world.credits.id.hex(),
            "--json",
        ).stdout
    )
    content = bytes.fromhex(published["tracks"][0]["content"])
    seeder = Daemon(seeder_dir, "--pin", "all")
    try:
        done = json.loads(cli(artist_dir, "sync", "--peer", seeder.addr, "--json").stdout)
        assert done["unpinned"] == 0
        assert ChunkStore(seeder_dir / "content").is_complete(content)  # before sync returned
    finally:
        seeder.stop()
