"""The libp2p host of one identity: TCP, Noise only, yamux only, identify and ping.

yamux is our own muxer (``p2p.yamux``), which also reads and writes the Noise session in bulk
once the handshake is done (``p2p.noise_io``); on the wire both follow the yamux and libp2p
Noise specs, byte for byte, as py-libp2p's own classes do.

py-libp2p's ``new_host`` defaults would also accept plaintext, TLS and secio and offer mplex; a
peer could then talk to us unauthenticated. Every option is therefore passed explicitly here, and
``max_connections_per_peer=1`` removes the 250 ms happy-eyeballs wait on every dial (the dialler
only stops waiting once it holds ``max_connections_per_peer`` connections).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Sequence

import multiaddr
from libp2p import new_host
from libp2p.abc import IHost, IMuxedConn
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport

from p2p import connections, yamux

log = logging.getLogger(__name__)


def _quiet_libp2p_logs() -> None:
    """Unless ``LIBP2P_DEBUG`` asks for py-libp2p's own logging, keep its logger tree quiet.

    py-libp2p detaches the ``libp2p`` logger when that variable is unset, so its warnings and
    errors reach stderr bare through logging's last-resort handler: one unformatted line (or
    eight) for every stream of a peer that went away, which buries a seeder's log. The
    failures that matter are logged by our own modules, with the peer and what it cost us.
    """
    if not os.environ.get("LIBP2P_DEBUG"):
        logging.getLogger("libp2p").setLevel(logging.CRITICAL)


_quiet_libp2p_logs()

SECURITY_PROTOCOLS = (NOISE_PROTOCOL_ID,)
MUXER_PROTOCOLS = (yamux.PROTOCOL_ID,)
yamux.install()
connections.install()


def key_pair_from_seed(seed: bytes) -> KeyPair:
    """The libp2p key pair of an identity: the same ed25519 seed that signs its ledger entries."""
    if len(seed) != 32:
        raise ValueError("an identity seed is 32 bytes")
    return create_new_key_pair(seed)


def peer_id_from_seed(seed: bytes) -> ID:
    return ID.from_pubkey(key_pair_from_seed(seed).public_key)


def peer_id_from_public_key(public_key: bytes) -> ID:
    """The peer ID of a ledger author (its raw 32-byte ed25519 public key)."""
    from libp2p.crypto.ed25519 import Ed25519PublicKey

    return ID.from_pubkey(Ed25519PublicKey.from_bytes(public_key))


def public_key_of(peer_id: ID) -> bytes | None:
    """The raw ed25519 key inside an identity-multihash peer ID, or None for other key types."""
    try:
        key = peer_id.extract_public_key()
    except Exception:
        return None
    if key is None:
        return None
    raw = key.to_bytes()
    return raw if len(raw) == 32 else None


HARD_MAX_CONNECTIONS = 1024


def connection_config() -> ConnectionConfig:
    """Connection limits. One connection per peer: streams are multiplexed over it anyway."""
    return ConnectionConfig(
        max_connections_per_peer=1,
        # A hard cap on sockets only: p2p.connections trims the table far below it (200 by
        # default) and bounds handshakes separately. py-libp2p refuses inbound connections above
        # max_connections - min_connections.
        max_connections=HARD_MAX_CONNECTIONS,
        # No automatic dialling of peerstore entries: discovery decides whom we talk to (and the
        # auto-connector would otherwise redial peers we cut off). The watermarks alone do not
        # stop it (see _no_auto_dialling).
        min_connections=0,
        low_watermark=0,
        dial_timeout=5.0,
        inbound_upgrade_timeout=5.0,
        outbound_upgrade_timeout=5.0,
        outbound_stream_protocol_negotiation_timeout=5.0,
        inbound_stream_protocol_negotiation_timeout=5.0,
    )


def build_host(
    seed: bytes,
    listen_addrs: Sequence[multiaddr.Multiaddr] = (),
    muxer: type[IMuxedConn] = yamux.Yamux,
) -> IHost:
    """A host for the identity ``seed``; start it with ``host.run(listen_addrs)``.

    ``muxer`` is the class that runs ``/yamux/1.0.0``: ours (``p2p.yamux``) unless a test asks
    for py-libp2p's own, to check that the two interoperate."""
    key_pair = key_pair_from_seed(seed)
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    host = new_host(
        key_pair=key_pair,
        sec_opt={TProtocol(NOISE_PROTOCOL_ID): noise},
        muxer_opt={TProtocol(yamux.PROTOCOL_ID): muxer},
        listen_addrs=list(listen_addrs) or None,
        connection_config=connection_config(),
        enable_mDNS=False,
        enable_upnp=False,
        negotiate_timeout=5,
    )
    _no_auto_dialling(host)
    return host


async def _dial_nothing() -> None:
    return None


def _no_auto_dialling(host: IHost) -> None:
    """Turn off py-libp2p's auto-connector, which zero watermarks do not.

    It aims at the midpoint of the low and high watermarks (0 and 300 here: 150 connections),
    and runs on a timer and after every disconnect, dialling any peer in the peerstore: peers
    that DHT answers, identify or gossip mentioned, and peers we just cut off for misbehaving.
    Whom a Cooptracks node talks to is decided by bootstrap, mDNS, downloads and purchases."""
    connector = getattr(host.get_network(), "auto_connector", None)
    if connector is not None:
        connector.maybe_connect = _dial_nothing


def tcp_addr(host: str = "127.0.0.1", port: int = 0) -> multiaddr.Multiaddr:
    return multiaddr.Multiaddr(f"/ip4/{host}/tcp/{port}")


def full_addrs(host: IHost) -> list[str]:
    """Dialable addresses of ``host`` including ``/p2p/<peer id>``."""
    pid = host.get_id().to_string()
    out = []
    for a in host.get_addrs():
        s = str(a)
        out.append(s if "/p2p/" in s else f"{s}/p2p/{pid}")
    return out


def ip_of(addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP of an ``/ip4/...`` or ``/ip6/...`` multiaddr; None for anything else."""
    parts = addr.split("/")
    if len(parts) < 3 or parts[1] not in ("ip4", "ip6"):
        return None
    try:
        ip = ipaddress.ip_address(parts[2])
    except ValueError:
        return None
    return ip if ip.version == (4 if parts[1] == "ip4" else 6) else None


def usable_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A unicast address another host could dial (no zone needed)."""
    return not (ip.is_unspecified or ip.is_multicast or ip.is_link_local)


def machine_ips() -> list[str]:
    """The IP addresses of this machine's interfaces (IPv6 ones without a zone)."""
    import ifaddr

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            found.append(ip.ip if isinstance(ip.ip, str) else ip.ip[0].split("%")[0])
    return found


def expand_wildcards(
    addrs: Sequence[str], local_ips: Sequence[str] | None = None, per_wildcard: int | None = None
) -> list[str]:
    """``addrs`` without relay circuits or repeats, each wildcard IP (``0.0.0.0``, ``::``)
    replaced by the ``local_ips`` (this machine's by default) of its family that another host
    could dial, at most ``per_wildcard`` of them; loopback ones only when there is nothing
    else. Nobody can dial a wildcard."""
    ips = [
        ipaddress.ip_address(i.split("%")[0])
        for i in (local_ips if local_ips is not None else machine_ips())
    ]
    out: list[str] = []
    for addr in addrs:
        if "/p2p-circuit" in addr:
            continue
        ip = ip_of(addr)
        if ip is not None and ip.is_unspecified:
            same = [i for i in ips if i.version == ip.version and usable_ip(i)]
            wide = [i for i in same if not i.is_loopback]
            for local in (wide or same[:1])[:per_wildcard]:
                out.append(addr.replace(f"/{ip}/", f"/{local}/", 1))
        else:
            out.append(addr)
    return list(dict.fromkeys(out))


def ipv6_available() -> bool:
    """Whether this machine can listen on IPv6 (some have it switched off)."""
    import socket

    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(("::", 0))
    except OSError:
        return False
    return True


def wildcard_listen(port: int = 0) -> tuple[str, ...]:
    """Listen addresses for every interface: IPv4, and IPv6 where the machine has it (a peer
    with a public IPv6 address is reachable without a relay or hole punching)."""
    v4 = f"/ip4/0.0.0.0/tcp/{port}"
    return (v4, f"/ip6/::/tcp/{port}") if ipv6_available() else (v4,)


def dialable_addrs(host: IHost) -> list[str]:
    """``full_addrs`` as peers can dial them (see :func:`expand_wildcards`)."""
    return expand_wildcards(full_addrs(host))


def parse_peer_addr(addr: str) -> PeerInfo:
    """Parse ``/ip4/.../tcp/.../p2p/<id>`` into a PeerInfo (ValueError if malformed)."""
    try:
        return info_from_p2p_addr(multiaddr.Multiaddr(addr))
    except Exception as exc:
        raise ValueError(f"not a peer address: {addr!r} ({exc})") from exc
