"""mDNS: two nodes find each other without any bootstrap address.

Multicast must never reach a real network from a test, so the nodes run in a child process inside
a fresh network namespace (``unshare -n``) whose only interface is loopback, with multicast
switched on. The child prints its findings as JSON. Without permission to create a namespace
(not root, or a container without CAP_SYS_ADMIN) the test is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from p2p.discovery.mdns import parse_txt, txt_properties
from p2p.host import peer_id_from_seed

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import json, sys, tempfile
    from pathlib import Path
    import trio
    from tests.p2p.conftest import Swarm

    async def main():
        swarm = Swarm(Path(tempfile.mkdtemp()))
        a, b = swarm.peer("a"), swarm.peer("b")
        a.append(3)
        async with swarm.run(a, mdns=True) as na, swarm.run(b, mdns=True) as nb:
            with trio.move_on_after(20):
                while b.ledger.count() < 3:
                    await trio.sleep(0.05)
            print(json.dumps({
                "a": str(na.peer_id), "b": str(nb.peer_id),
                "a_sees": [str(p) for p in na.connected_peers()],
                "b_sees": [str(p) for p in nb.connected_peers()],
                "b_entries": b.ledger.count(),
                "lan_peers": [na.status().lan_peers, nb.status().lan_peers],
                "bootstrap": [list(na.config.bootstrap), list(nb.config.bootstrap)],
            }))
        swarm.close()

    trio.run(main)
""")


def netns_available() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace here: {probe.stderr.strip()}"
    return None


def test_txt_record_round_trip_and_bounds():
    pid = peer_id_from_seed(b"\x07" * 32)
    addrs = [f"/ip4/192.168.1.{i}/tcp/4417" for i in range(12)] + ["/p2p/x/p2p-circuit"]
    props = txt_properties(pid.to_base58(), addrs)
    peer, parsed = parse_txt(props)  # type: ignore[misc]
    assert peer == pid and len(parsed) == 8
    assert parsed[0] == f"/ip4/192.168.1.0/tcp/4417/p2p/{pid}"
    # A record that names no valid peer, or only unusable addresses, is ignored.
    assert parse_txt({b"dnsaddr": b"/ip4/1.2.3.4/tcp/1/p2p/not-a-peer"}) is None
    assert parse_txt({b"dnsaddr": f"/dns4/x/tcp/1/p2p/{pid}".encode()}) is None
    assert parse_txt({b"dnsaddr": b"/ip4/1.2.3.4/tcp/1/p2p/" + b"1" * 300}) is None


def test_two_nodes_find_each_other_on_the_lan_with_no_bootstrap():
    reason = netns_available()
    if reason:
        pytest.skip(reason)
    script = ("ip link set lo up && ip link set lo multicast on && "
              "ip route add 224.0.0.0/4 dev lo && exec \"$0\" -c \"$1\"")
    done = subprocess.run(["unshare", "-n", "sh", "-c", script, sys.executable, CHILD],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bootstrap"] == [[], []]
    assert result["b"] in result["a_sees"] and result["a"] in result["b_sees"]
    assert result["b_entries"] == 3  # and, once connected, they replicate
    assert max(result["lan_peers"]) >= 1  # the first to resolve the other dialled it
