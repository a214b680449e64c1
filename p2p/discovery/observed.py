"""Candidate external addresses for hole punching, from peers we already trust.

py-libp2p adds an address that identify peers report for us (``observedAddr``) to the host's
addresses only once 4 different peers have reported it. A node behind NAT that talks to one relay
and a couple of other peers never gets there, so in DCUtR it would offer only its LAN address.

Here a node asks the few peers it trusts for this, over identify (``/ipfs/id/1.0.0``) on a direct
connection, how they see it: the relays it holds a reservation on, and the peers that answered
its dial-back check (they dialled, so they are real hosts on the path). The candidate is the
observed IP with our own TCP *listen* port, not the observed port: the observed port belongs to
the outbound connection, while DCUtR dials leave from the listen port (``SO_REUSEPORT``), which a
port-preserving NAT maps to the same port.

Candidates are *not* confirmed addresses: they only go into DCUtR CONNECT messages, after the
confirmed ones, and never into identify, DHT provider records, mDNS or the dial-back check.
Bounds: one candidate per reporting peer, at most ``MAX_REPORTERS`` reporters, at most
``MAX_CANDIDATES`` distinct candidates used, each forgotten ``CANDIDATE_TTL`` seconds after it was
last reported; an observed address longer than ``MAX_OBSERVED_BYTES`` or other than a plain
``/ip4|ip6/<ip>/tcp/<port>`` (see ``dcutr.tcp_addr``) is ignored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import trio
from libp2p.identity.identify.identify import ID as IDENTIFY_PROTOCOL
from libp2p.identity.identify.pb.identify_pb2 import Identify
from libp2p.peer.id import ID
from multiaddr import Multiaddr

from p2p.context import DialError, SwarmContext
from p2p.discovery.dcutr import MAX_CANDIDATES, is_relayed_stream, tcp_addr

log = logging.getLogger(__name__)

MAX_OBSERVED_BYTES = 64  # a plain /ip6/<ip>/tcp/<port> is 21 bytes
MAX_REPORTERS = 8  # trusted peers whose latest report we keep
CANDIDATE_TTL = 1800.0  # seconds; reports are renewed at every dial-back check (5 min)
MAX_IDENTIFY = 8192  # bytes of an identify reply we read (go-libp2p's limit too)
IDENTIFY_TIMEOUT = 5.0


def candidate_from(observed: bytes | Multiaddr, listen: Sequence[Multiaddr]) -> Multiaddr | None:
    """The observed IP with our TCP listen port of the same IP family, or None when ``observed``
    is not a plain, dialable TCP address or we listen on no TCP port of its family."""
    raw = observed.to_bytes() if isinstance(observed, Multiaddr) else bytes(observed)
    if not raw or len(raw) > MAX_OBSERVED_BYTES:
        return None
    addr = tcp_addr(raw)  # refuses non-TCP, /p2p, unspecified, multicast, link-local, reserved
    if addr is None:
        return None
    family = "ip4" if "/ip4/" in str(addr) else "ip6"
    for local in listen:
        text = str(local)
        if not text.startswith(f"/{family}/") or "/tcp/" not in text or "/p2p-circuit" in text:
            continue
        try:
            port = int(local.value_for_protocol("tcp"))
        except Exception:
            continue
        if 0 < port < 65536:
            return Multiaddr(f"/{family}/{addr.value_for_protocol(family)}/tcp/{port}")
    return None


class ObservedAddrs:
    """The candidates: the latest one each trusted peer reported, with an expiry."""

    def __init__(
        self, ttl: float = CANDIDATE_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._reports: dict[str, tuple[Multiaddr, float]] = {}  # reporter -> candidate, expiry

    def __len__(self) -> int:
        return len(self._reports)

    def add(
        self, reporter: str, observed: bytes | Multiaddr, listen: Sequence[Multiaddr]
    ) -> Multiaddr | None:
        """Record what ``reporter`` sees us as; returns the candidate kept, or None if the
        report was unusable."""
        candidate = candidate_from(observed, listen)
        if candidate is None:
            return None
        now = self._clock()
        self._expire(now)
        if reporter not in self._reports and len(self._reports) >= MAX_REPORTERS:
            oldest = min(self._reports, key=lambda r: self._reports[r][1])
            del self._reports[oldest]
        self._reports[reporter] = (candidate, now + self.ttl)
        return candidate

    def addrs(self) -> list[Multiaddr]:
        """Unexpired candidates, the one most reporters agree on first (then the most recent),
        at most ``MAX_CANDIDATES``."""
        self._expire(self._clock())
        votes: dict[str, list[float]] = {}
        by_text: dict[str, Multiaddr] = {}
        for candidate, expiry in self._reports.values():
            votes.setdefault(str(candidate), []).append(expiry)
            by_text[str(candidate)] = candidate
        ranked = sorted(votes, key=lambda t: (-len(votes[t]), -max(votes[t])))
        return [by_text[t] for t in ranked[:MAX_CANDIDATES]]

    def _expire(self, now: float) -> None:
        for reporter in [r for r, (_, expiry) in self._reports.items() if expiry <= now]:
            del self._reports[reporter]


class ExternalAddrs:
    """Asks trusted peers how they see us and keeps the candidates (``addrs`` for DCUtR)."""

    def __init__(self, ctx: SwarmContext, ttl: float = CANDIDATE_TTL) -> None:
        self.ctx = ctx
        self.observed = ObservedAddrs(ttl)

    def addrs(self) -> list[Multiaddr]:
        return self.observed.addrs()

    async def learn(self, peers: Sequence[ID]) -> list[Multiaddr]:
        """Ask each of ``peers`` (in parallel, at most ``MAX_REPORTERS``) and return the
        candidates their reports gave."""
        found: list[Multiaddr] = []

        async def one(peer: ID) -> None:
            candidate = await self.learn_from(peer)
            if candidate is not None:
                found.append(candidate)

        async with trio.open_nursery() as nursery:
            for peer in list(dict.fromkeys(peers))[:MAX_REPORTERS]:
                nursery.start_soon(one, peer)
        return found

    async def learn_from(self, peer: ID) -> Multiaddr | None:
        """Run identify with ``peer`` and keep the candidate from the address it observed us
        at. Only over a direct connection: through a relay the observed address is the relay's
        end of the circuit, not ours."""
        try:
            stream = await self.ctx.open(peer, str(IDENTIFY_PROTOCOL))
        except DialError as exc:
            log.debug("identify with %s for our observed address: %s", peer, exc)
            return None
        try:
            if is_relayed_stream(stream):
                return None
            body = await stream.read_frame(MAX_IDENTIFY, IDENTIFY_TIMEOUT)
            message = Identify()
            message.ParseFromString(body)
            observed = bytes(message.observed_addr)
        except Exception as exc:  # ProtocolViolation, PeerClosed, a protobuf DecodeError
            # Identify is not ours to police: an odd reply only means no candidate.
            log.debug("identify reply from %s: %s", peer, exc)
            return None
        finally:
            await stream.close()
        try:
            listen = list(self.ctx.host.get_transport_addrs())
        except Exception:
            return None
        candidate = self.observed.add(str(peer), observed, listen)
        if candidate is not None:
            log.info(
                "%s sees us at %s: candidate %s for hole punching", peer, _text(observed), candidate
            )
        return candidate


def _text(raw: bytes) -> str:
    try:
        return str(Multiaddr(raw))
    except Exception:
        return raw.hex()
