"""Default listen addresses: every IPv4 and IPv6 interface, and what a node tells peers to dial."""

from __future__ import annotations

import os

import multiaddr
import pytest

from p2p import host as host_module
from p2p.host import (
    build_host,
    dialable_addrs,
    expand_wildcards,
    full_addrs,
    ipv6_available,
    parse_peer_addr,
    tcp_addr,
    wildcard_listen,
)
from tests.p2p.conftest import trio_test

pytestmark = pytest.mark.network

needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="this machine has no IPv6")


def test_the_default_listens_on_both_families_where_ipv6_exists() -> None:
    expected = (
        ("/ip4/0.0.0.0/tcp/4417", "/ip6/::/tcp/4417")
        if ipv6_available()
        else ("/ip4/0.0.0.0/tcp/4417",)
    )
    assert wildcard_listen(4417) == expected


def test_without_ipv6_only_ipv4_is_listened_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(socket, "has_ipv6", False)
    assert not ipv6_available()
    assert wildcard_listen() == ("/ip4/0.0.0.0/tcp/0",)


def test_dialable_ipv6_addresses_leave_out_link_local_ones() -> None:
    told = [a.split("/")[2] for a in expand_wildcards(["/ip6/::/tcp/1"])]
    for ip in told:
        assert not ip.lower().startswith("fe80"), ip
        assert "%" not in ip
    if "::1" in told:
        assert told == ["::1"]  # loopback only when there is nothing else


@needs_ipv6
@trio_test
async def test_a_node_on_the_default_addresses_is_dialled_over_ipv6() -> None:
    server, client = build_host(os.urandom(32)), build_host(os.urandom(32))
    listen = [multiaddr.Multiaddr(a) for a in wildcard_listen()]
    async with server.run(listen), client.run([tcp_addr()]):
        listening = full_addrs(server)
        assert {a.split("/")[1] for a in listening} == {"ip4", "ip6"}
        told = dialable_addrs(server)
        assert not any(a.startswith(("/ip4/0.0.0.0/", "/ip6/::/")) for a in told)
        assert any(a.startswith("/ip6/") for a in told)
        # Dial the IPv6 listener on loopback (the network tests stay on this machine).
        v6 = next(a for a in listening if a.startswith("/ip6/::/"))
        info = parse_peer_addr(v6.replace("/ip6/::/", "/ip6/::1/", 1))
        client.get_peerstore().add_addrs(info.peer_id, info.addrs, 60)
        await client.connect(info)
        assert info.peer_id in client.get_network().connections


def test_wildcards_become_this_machines_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the machine's own interfaces: a wildcard becomes each non-loopback address of
    its family, or loopback when there is none; other addresses pass through, relays do not."""

    class FakeHost:
        pass

    peer = "12D3KooWKTaWECnMeEAiXyfqF19tssbMtBMNVTYhrbwU2M3wBWZm"
    addrs = [
        f"/ip4/0.0.0.0/tcp/1/p2p/{peer}",
        f"/ip6/::/tcp/2/p2p/{peer}",
        f"/ip4/203.0.113.9/tcp/3/p2p/{peer}",
        f"/ip4/203.0.113.9/tcp/3/p2p/{peer}/p2p-circuit/p2p/{peer}",
    ]
    monkeypatch.setattr(host_module, "full_addrs", lambda host: addrs)
    monkeypatch.setattr(
        host_module,
        "machine_ips",
        lambda: ["127.0.0.1", "192.0.2.2", "::1", "2001:db8::2", "fe80::9%eth0", "fd00::2"],
    )
    assert dialable_addrs(FakeHost()) == [  # type: ignore[arg-type]
        f"/ip4/192.0.2.2/tcp/1/p2p/{peer}",
        f"/ip6/2001:db8::2/tcp/2/p2p/{peer}",
        f"/ip6/fd00::2/tcp/2/p2p/{peer}",
        f"/ip4/203.0.113.9/tcp/3/p2p/{peer}",
    ]
    monkeypatch.setattr(host_module, "machine_ips", lambda: ["192.0.2.2", "::1"])
    assert dialable_addrs(FakeHost())[1] == f"/ip6/::1/tcp/2/p2p/{peer}"  # type: ignore[arg-type]
