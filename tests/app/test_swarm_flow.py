"""The fan's app on the real swarm: its session runs a libp2p node on 127.0.0.1 that bootstraps
to the demo's seeder (a ``cooptracks seed`` process). The fan buys a release whose artist is
offline, the seeder grants it as the artist's sales agent, the tracks download over libp2p and
the Network view shows the seeder, the reachability and the traffic. The demo's node processes
end when the demo's process dies, even by kill -9.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.demo import DemoSwarm, DemoWorld, original_file
from app.services.swarm import REACHABILITY, SwarmNetwork
from content.source import DirectoryChunkSource
from player.stream import DecryptingStream
from tests.app.helpers import confirm_purchase, unlock, wait_catalog

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]


def test_the_fan_buys_from_the_seeder_and_sees_it_on_the_network_view(
    qtbot, launch, world: DemoWorld
) -> None:  # type: ignore[no-untyped-def]
    with DemoSwarm(world, roles=("seeder",)) as swarm:
        swarm.wait_ready()
        fan = launch(world.fan, lambda: SwarmNetwork(swarm.settings()))
        unlock(qtbot, fan, world.fan_passphrase)
        win = fan.window
        wait_catalog(qtbot, fan, 5)

        win.show_named("network")
        net = win.network
        qtbot.waitUntil(
            lambda: net.status is not None and len(net.status.online) == 1, timeout=20_000
        )
        rows = {net.table.item(r, 0).text(): r for r in range(net.table.rowCount())}
        seeder_row = rows["Always-on Seeder"]
        assert net.table.item(seeder_row, 7).text() == "● online"
        assert net.table.item(seeder_row, 2).text() == swarm.running[0].peer_id
        assert net.table.item(seeder_row, 3).text() == swarm.running[0].addr.split("/p2p/")[0]
        assert net.table.item(rows["Marrow & Moss"], 7).text() == "○ offline"  # laptop shut
        verdict = fan.bridge.session.network._node.reachability()  # on the trio thread
        # with a peer connected and no dial-back answer yet, not "Checking…" but "Connected"
        assert net.c_reach.value.text() == (
            "Connected" if verdict == "unknown" else REACHABILITY[verdict][0]
        )
        assert "127.0.0.1" in net.mode.text()

        # buy from an artist who is offline: the seeder, as sales agent, grants it
        win.show_named("store")
        store = win.store
        card = next(c for c in store.cards if c.title == "Small Rooms")
        store.open_release(card.id)
        release = store.release
        qtbot.waitUntil(
            lambda: release.page is not None and release.page.card.id == card.id, timeout=10_000
        )
        release.amount.setText("3.00")
        qtbot.mouseClick(release.buy_btn, Qt.MouseButton.LeftButton)
        confirm_purchase(qtbot, release)
        qtbot.waitUntil(lambda: release.page.purchase_state == "owned", timeout=30_000)

        win.show_named("library")
        library = win.library
        qtbot.waitUntil(
            lambda: len(library.rows) == 2 and all(r.ready for r in library.rows), timeout=30_000
        )
        session = fan.bridge.session
        listing = session.shop.listing(card.id)
        state = session.core.ledger.state
        # the fan's purchase (the demo's listeners bought Small Rooms too, granted by its artist)
        purchase = next(p for p in state.purchases_by(session.me) if p.listing == card.id)
        seeder_key = world.actor("seeder").identity().public_key
        assert {state.grants[g].granter for g in purchase.granted_by} == {seeder_key}
        for i, track in enumerate(listing.tracks):  # the decrypted bytes are the artist's files
            root, key, _ = session.stream_parts(track.content)
            clear = DecryptingStream(DirectoryChunkSource(root, track.content, key)).read()
            assert clear == original_file(world, listing.artist_name, listing.title, i).read_bytes()

        win.show_named("network")
        size = sum(session.core.chunks.manifest(t.content).size for t in listing.tracks)
        qtbot.waitUntil(
            lambda: net.status is not None and net.status.bytes_in >= size, timeout=10_000
        )
        row = {net.table.item(r, 0).text(): r for r in range(net.table.rowCount())}[
            "Always-on Seeder"
        ]
        assert net.table.item(row, 5).text() not in ("", "0 B")  # received from the seeder


def test_demo_nodes_stop_when_the_demo_process_is_killed(world: DemoWorld, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = textwrap.dedent(f"""
        import sys, time
        from app.demo import DemoSwarm, load_world
        world = load_world({str(world.root)!r})
        swarm = DemoSwarm(world, roles=("seeder", "gateway")).start()
        swarm.wait_ready()
        print("ready", flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "ready"
        manifest = json.loads((world.root / "swarm.json").read_text())
        pids = [a["pid"] for a in manifest["actors"]]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    finally:
        parent.send_signal(signal.SIGKILL)  # a crash: no cleanup code runs in the demo
        parent.wait()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, "a demo node outlived the demo"
        time.sleep(0.1)
    for slug in ("seeder", "gateway"):  # and they stopped cleanly, not by force
        assert "seeder stopped cleanly" in (world.root / "logs" / f"{slug}.log").read_text()


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, reaped by init shortly, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
