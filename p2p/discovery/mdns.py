"""LAN discovery with multicast DNS (zeroconf), in the format of the libp2p mDNS spec.

Each node registers a DNS-SD service of type ``_p2p-cooptracks._udp.local.`` whose TXT record
holds one ``dnsaddr=<multiaddr>/p2p/<peer id>`` entry per address, IPv4 and IPv6 alike. The
service type is Cooptracks' own (the libp2p spec's private-network form ``_p2p-<name>``), so a
node does not dial every IPFS daemon on the LAN. mDNS runs over IPv4 (224.0.0.251) and IPv6
(ff02::fb) where the machine has both, else over IPv4 alone; the A and AAAA records carry the
addresses of the TXT record. A wildcard listen address (``0.0.0.0``, ``::``) is replaced by the
machine's addresses of that family (link-local IPv6 ones are left out: their zone means nothing
to the receiver). Browsing runs in zeroconf's thread; discoveries are handed to trio, resolved
there on a worker thread, bounded (at most ``MAX_ADDRS`` addresses of at most ``MAX_ADDR_LEN``
characters per peer, ``MAX_PEERS`` peers remembered) and reported through a callback. Dialling is
the node's business, so a peer on the LAN is handled like a bootstrap peer.
"""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import trio
from libp2p.peer.id import ID
from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceListener, Zeroconf

from p2p.host import expand_wildcards, ip_of, usable_ip

log = logging.getLogger(__name__)

SERVICE_TYPE = "_p2p-cooptracks._udp.local."
MAX_ADDRS = 8
MAX_ADDR_LEN = 200
MAX_PEERS = 256
RESOLVE_TIMEOUT_MS = 3000

OnPeer = Callable[[ID, list[str]], None]


def lan_addrs(addrs: Sequence[str], local_ips: Sequence[str] | None = None) -> list[str]:
    """``addrs`` as they go into the TXT record: wildcard IPs replaced by ``local_ips`` (the
    machine's addresses by default) of the same family, loopback ones only when there is
    nothing else; relay circuits and unusable IPs left out; at most ``MAX_ADDRS``."""
    expanded = expand_wildcards(addrs, local_ips, per_wildcard=MAX_ADDRS // 2)
    return [a for a in expanded if (ip := ip_of(a)) is not None and usable_ip(ip)][:MAX_ADDRS]


def txt_properties(peer_id: str, addrs: Sequence[str]) -> dict[bytes, bytes]:
    """The TXT record: ``dnsaddr``, ``dnsaddr2``, … each a full multiaddr with ``/p2p/``."""
    out: dict[bytes, bytes] = {}
    for i, addr in enumerate(a for a in addrs[:MAX_ADDRS] if "/p2p-circuit" not in a):
        full = addr if addr.endswith(f"/p2p/{peer_id}") else f"{addr}/p2p/{peer_id}"
        out[b"dnsaddr" if i == 0 else f"dnsaddr{i + 1}".encode()] = full.encode()
    return out


def host_records(addrs: Sequence[str]) -> list[bytes]:
    """The packed IPs for the service's A (4 bytes) and AAAA (16 bytes) records."""
    ips = {ip for ip in (ip_of(a) for a in addrs) if ip is not None and usable_ip(ip)}
    return [ip.packed for ip in sorted(ips, key=lambda i: (i.version, int(i)))]


def parse_txt(properties: dict[bytes, bytes | None]) -> tuple[ID, list[str]] | None:
    """The peer and its addresses from a TXT record; None if it names no valid peer."""
    peer: ID | None = None
    addrs: list[str] = []
    for key, value in sorted(properties.items()):
        if not key.startswith(b"dnsaddr") or value is None or len(value) > MAX_ADDR_LEN:
            continue
        try:
            text = value.decode("ascii")
            base, _, pid = text.rpartition("/p2p/")
            this = ID.from_base58(pid)
        except Exception:
            continue
        if peer is None:
            peer = this
        ip = ip_of(base)
        if this == peer and ip is not None and usable_ip(ip) and len(addrs) < MAX_ADDRS:
            addrs.append(text)
    return (peer, addrs) if peer is not None and addrs else None


class _Listener(ServiceListener):
    def __init__(self, on_name: Callable[[str], None]) -> None:
        self.on_name = on_name

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.on_name(name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.on_name(name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        pass


class LanDiscovery:
    """Announce this node on the LAN and report the peers that announce themselves."""

    def __init__(
        self,
        peer_id: ID,
        addrs: Sequence[str],
        on_peer: OnPeer,
        interfaces: Sequence[str] | None = None,
    ) -> None:
        self.peer_id = peer_id
        self.addrs = lan_addrs(addrs)
        self.ip_version = IPVersion.V4Only  # what zeroconf runs on, once started
        self.on_peer = on_peer
        self.interfaces = list(interfaces) if interfaces else None
        self.name = f"{secrets.token_hex(16)}.{SERVICE_TYPE}"
        self.seen: dict[str, list[str]] = {}
        self._names_send, self._names_recv = trio.open_memory_channel[str](MAX_PEERS)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LanDiscovery]:
        token = trio.lowlevel.current_trio_token()

        def on_name(name: str) -> None:  # zeroconf's thread
            def put() -> None:
                try:
                    self._names_send.send_nowait(name)
                except (trio.WouldBlock, trio.ClosedResourceError):
                    pass

            try:
                token.run_sync_soon(put)
            except trio.RunFinishedError:
                pass

        zc = await trio.to_thread.run_sync(self._open)
        # The TXT record is what peers read; the A/AAAA records only make the service resolvable.
        info = ServiceInfo(
            SERVICE_TYPE,
            self.name,
            port=9,
            properties=txt_properties(self.peer_id.to_base58(), self.addrs),
            server=f"{self.name.split('.')[0]}.local.",
            addresses=host_records(self.addrs) or None,
        )
        browser = None
        try:
            await trio.to_thread.run_sync(zc.register_service, info)
            browser = ServiceBrowser(zc, SERVICE_TYPE, listener=_Listener(on_name))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._resolve_loop, zc)
                try:
                    yield self
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                if browser is not None:
                    browser.cancel()
                await trio.to_thread.run_sync(self._close, zc, info)

    def _open(self) -> Zeroconf:
        """Zeroconf on IPv4 and IPv6; on IPv4 alone where the machine has no IPv6."""
        kwargs = {"interfaces": self.interfaces} if self.interfaces else {}
        if socket.has_ipv6:
            try:
                zc = Zeroconf(ip_version=IPVersion.All, **kwargs)  # type: ignore[arg-type]
                self.ip_version = IPVersion.All
                return zc
            except (OSError, RuntimeError) as exc:
                log.info("mDNS over IPv6 is unavailable (%s); IPv4 only", exc)
        self.ip_version = IPVersion.V4Only
        try:
            return Zeroconf(ip_version=IPVersion.V4Only, **kwargs)  # type: ignore[arg-type]
        except RuntimeError as exc:  # no interface at all: the node runs without mDNS
            raise OSError(f"no interface for mDNS: {exc}") from exc

    @staticmethod
    def _close(zc: Zeroconf, info: ServiceInfo) -> None:
        try:
            zc.unregister_service(info)
        except Exception as exc:
            log.debug("mDNS unregister: %s", exc)
        zc.close()

    async def _resolve_loop(self, zc: Zeroconf) -> None:
        async for name in self._names_recv:
            if name == self.name or (name not in self.seen and len(self.seen) >= MAX_PEERS):
                continue
            info = await trio.to_thread.run_sync(
                zc.get_service_info, SERVICE_TYPE, name, RESOLVE_TIMEOUT_MS
            )
            if info is None:
                continue
            parsed = parse_txt(info.properties)
            if parsed is None or parsed[0] == self.peer_id:
                continue
            peer, addrs = parsed
            self.seen[name] = addrs
            self.on_peer(peer, addrs)
