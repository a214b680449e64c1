"""mDNS: two nodes find each other without any bootstrap address, over IPv4 and over IPv6.

Multicast must never reach a real network from a test, so the nodes run in a child process inside
a fresh network namespace (``unshare -n``). For IPv4 its only interface is loopback, with
multicast switched on. Linux does not deliver IPv6 multicast on loopback, so for IPv6 the
namespace also gets a veth pair (two ends of a virtual cable, inside the namespace) that carries
ff02::fb, and loses its one IPv4 address (127.0.0.1), so nothing can be found over IPv4; the
nodes listen on ::1. The child prints its findings as JSON. Without permission to create a
namespace (not root, or a container without CAP_SYS_ADMIN), or without IPv6 or veth for the IPv6
test, the test is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from p2p.discovery.mdns import MAX_ADDRS, host_records, lan_addrs, parse_txt, txt_properties
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


CHILD6 = textwrap.dedent("""
    import json, socket, sys, tempfile
    from pathlib import Path
    import trio
    from zeroconf import IPVersion, Zeroconf
    from p2p.discovery.mdns import SERVICE_TYPE
    from tests.p2p.conftest import Swarm

    if sys.argv[1] == "ipv4-only":
        socket.has_ipv6 = False  # the node falls back to mDNS over IPv4, which this namespace lacks

    async def main():
        swarm = Swarm(Path(tempfile.mkdtemp()))
        a, b = swarm.peer("a"), swarm.peer("b")
        a.append(3)
        listen = ("/ip6/::1/tcp/0",)
        async with swarm.run(a, mdns=True, listen=listen) as na, \\
                swarm.run(b, mdns=True, listen=listen) as nb:
            # Until B replicated A's feed and resolved A's record itself: whichever node found
            # the other first dialled it, so B may hold A's entries before B's own lookup ends.
            with trio.move_on_after(float(sys.argv[2])):
                while b.ledger.count() < 3 or (nb.lan is not None and not nb.lan.seen):
                    await trio.sleep(0.05)
            resolved = []
            if na.lan is not None and na.lan.ip_version == IPVersion.All:
                zc = Zeroconf(ip_version=IPVersion.All)
                info = await trio.to_thread.run_sync(zc.get_service_info, SERVICE_TYPE,
                                                     na.lan.name, 3000)
                resolved = info.parsed_addresses() if info else ["unresolved"]
                zc.close()
            print(json.dumps({
                "a": str(na.peer_id), "b": str(nb.peer_id),
                "b_sees": [str(p) for p in nb.connected_peers()],
                "b_entries": b.ledger.count(),
                "seen_by_b": [a for addrs in (nb.lan.seen.values() if nb.lan else ())
                              for a in addrs],
                "a_host_records": resolved,
            }))
        swarm.close()

    trio.run(main)
""")

VETH6 = (
    "ip link set lo up && ip addr del 127.0.0.1/8 dev lo && "
    "ip link add mdns0 type veth peer name mdns1 && "
    "ip link set mdns0 up && ip link set mdns1 up && "
    "ip -6 addr add fd00:6d::1/64 dev mdns0 nodad && "
    "ip -6 addr add fd00:6d::2/64 dev mdns1 nodad"
)


def netns_available() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    probe = subprocess.run(
        ["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True
    )
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
    script = (
        "ip link set lo up && ip link set lo multicast on && "
        'ip route add 224.0.0.0/4 dev lo && exec "$0" -c "$1"'
    )
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", script, sys.executable, CHILD],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bootstrap"] == [[], []]
    assert result["b"] in result["a_sees"] and result["a"] in result["b_sees"]
    assert result["b_entries"] == 3  # and, once connected, they replicate
    assert max(result["lan_peers"]) >= 1  # the first to resolve the other dialled it


def netns_ipv6_available() -> str | None:
    reason = netns_available()
    if reason:
        return reason
    if not Path("/proc/sys/net/ipv6").exists():
        return "IPv6 is disabled in this kernel"
    probe = subprocess.run(["unshare", "-n", "sh", "-c", VETH6], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"no IPv6 veth pair in a network namespace here: {probe.stderr.strip()}"
    return None


def run_ipv6_child(mode: str, wait: float) -> dict:
    script = VETH6 + ' && exec "$0" -c "$1" "$2" "$3"'
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", script, sys.executable, CHILD6, mode, str(wait)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_nodes_find_each_other_over_ipv6_mdns():
    reason = netns_ipv6_available()
    if reason:
        pytest.skip(reason)
    result = run_ipv6_child("dual-stack", 20)
    assert result["a"] in result["b_sees"] and result["b_entries"] == 3
    # Only IPv6 was there to find: the TXT record named ::1, and the AAAA record carries it.
    assert result["seen_by_b"] and all(
        a.startswith("/ip6/::1/tcp/") and a.endswith(f"/p2p/{result['a']}")
        for a in result["seen_by_b"]
    )
    assert result["a_host_records"] == ["::1"]
    # The control: the same namespace with the node on IPv4-only mDNS finds nobody.
    control = run_ipv6_child("ipv4-only", 4)
    assert control["b_sees"] == [] and control["b_entries"] == 0


def test_txt_and_host_records_carry_ipv6_and_skip_what_cannot_be_dialled():
    pid = peer_id_from_seed(b"\x07" * 32)
    local = ["127.0.0.1", "192.168.1.4", "::1", "fe80::1%eth0", "2001:db8::4", "fd00::4"]
    given = [
        "/ip4/0.0.0.0/tcp/4417",
        "/ip6/::/tcp/4418",
        "/ip6/fe80::9/tcp/1",
        "/ip4/224.0.0.251/tcp/1",
        "/ip4/10.0.0.2/tcp/1/p2p/x/p2p-circuit/p2p/y",
        "/dns4/example.com/tcp/1",
        "/ip6/::1/tcp/4419",
    ]
    assert lan_addrs(given, local) == [
        "/ip4/192.168.1.4/tcp/4417",
        "/ip6/2001:db8::4/tcp/4418",
        "/ip6/fd00::4/tcp/4418",
        "/ip6/::1/tcp/4419",
    ]
    # Loopback stands in for a wildcard only when the machine has nothing else.
    assert lan_addrs(["/ip6/::/tcp/1"], ["127.0.0.1", "::1"]) == ["/ip6/::1/tcp/1"]
    assert lan_addrs(["/ip6/::/tcp/1"], ["127.0.0.1"]) == []
    many = [f"/ip6/2001:db8::{i}/tcp/1" for i in range(1, 20)]
    assert len(lan_addrs(many, [])) == MAX_ADDRS
    assert (
        len(lan_addrs(["/ip6/::/tcp/1"], [f"2001:db8::{i}" for i in range(1, 20)]))
        == MAX_ADDRS // 2
    )

    addrs = ["/ip4/192.168.1.4/tcp/4417", "/ip6/2001:db8::4/tcp/4418", "/ip6/::1/tcp/4419"]
    records = host_records([*addrs, "/ip6/2001:db8::4/tcp/9"])
    assert sorted(len(r) for r in records) == [4, 16, 16]  # one A, two AAAA, no duplicate
    peer, parsed = parse_txt(txt_properties(str(pid), addrs))  # type: ignore[misc]
    assert peer == pid and parsed == [f"{a}/p2p/{pid}" for a in addrs]
    # A receiver drops IPv6 it could not dial, and IPs of the wrong family.
    for bad in (
        "/ip6/fe80::1/tcp/1",
        "/ip6/ff02::fb/tcp/1",
        "/ip6/::/tcp/1",
        "/ip4/::1/tcp/1",
        "/ip6/127.0.0.1/tcp/1",
        "/ip6/not-an-ip/tcp/1",
    ):
        assert parse_txt({b"dnsaddr": f"{bad}/p2p/{pid}".encode()}) is None, bad
