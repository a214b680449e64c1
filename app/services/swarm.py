"""The session's network on the real libp2p swarm: a ``p2p.node`` Node, seen through the
synchronous ``Network`` seam of ``app.services.session.network``.

The node is a trio task. In the desktop app it runs in the app's one trio runtime (the bridge
starts ``serve`` in the runtime's nursery when a session opens and cancels it when the session
closes); headless callers (the demo check, scripts) host it on a thread of its own with
``start``/``close``. Either way the blocking methods (``sync``, ``fetch``, ``status``) are called
from worker threads and reach the node with ``trio.from_thread`` and the node's trio token.

This module imports libp2p only when a node starts, so opening the first window stays cheap.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from app.profile import Profile
from app.services.core import Core
from app.services.errors import UserError
from app.services.profiles import peer_name
from app.services.session.network import (
    NetworkStatus,
    PeerView,
    ProgressFn,
    bytes_per_second,
    kbps_setting,
)

if TYPE_CHECKING:
    from ledger.state import State
    from p2p.limits import Limits
    from p2p.node import Node

log = logging.getLogger(__name__)

T = TypeVar("T")

RATE_WINDOW_S = 5.0
MAX_SERVED = 1024  # our downloads whose bytes per provider are kept for receipts

# The node's verdict (its dial-back check) -> (card title, sentence for the Network view).
REACHABILITY = {
    "public": ("Public", "public: other peers can dial this node (dial-back check passed)"),
    "private": ("Private", "private: peers cannot dial this node; it reaches them outbound"),
    "unknown": ("Checking…", "not known yet: the dial-back check needs a connected peer"),
}
RELAYED = ("Relayed", "private: peers reach this node through a relay")


@dataclass(frozen=True)
class KnownPeer:
    """A peer the user knows by name (the demo's actors, a friend's seeder)."""

    peer_id: str
    name: str
    role: str  # "artist", "seeder", "gateway", "fan", "peer"


@dataclass(frozen=True)
class SwarmSettings:
    """How the session's node runs: listen and bootstrap multiaddrs, mDNS, named peers.
    No listen address means the default: a free port on every IPv4 and IPv6 interface."""

    listen: tuple[str, ...] = ()
    bootstrap: tuple[str, ...] = ()
    mdns: bool = False
    known: tuple[KnownPeer, ...] = ()
    label: str = "swarm"
    limits: Limits | None = None  # the node's limits and bandwidth caps (None: the defaults)
    share_purchases: bool = True  # announce and serve what we bought (else only our releases)

    @classmethod
    def from_profile(cls, profile: Profile) -> SwarmSettings:
        """The profile's ``config.json`` keys ``listen``, ``bootstrap``, ``mdns`` (LAN
        discovery, on unless false) and ``max_upload_kbps``/``max_download_kbps`` (caps)."""
        cfg = profile.read_config()
        limits = None
        up, down = kbps_setting(cfg, "max_upload_kbps"), kbps_setting(cfg, "max_download_kbps")
        if up or down:
            from p2p.limits import Limits

            limits = Limits(upload_rate=bytes_per_second(up), download_rate=bytes_per_second(down))
        return cls(
            listen=tuple(cfg.get("listen") or ()),
            bootstrap=tuple(cfg.get("bootstrap", [])),
            mdns=lan_discovery(cfg),
            limits=limits,
            share_purchases=share_purchases(cfg),
        )


def share_purchases(cfg: dict[str, Any], turned_off: bool = False) -> bool:
    """Whether the node announces (with its peer ID, which is the ledger identity) and serves
    the content it bought: yes unless the profile says ``"share_purchases": false`` or the
    command line turned it off. Off, it announces and serves only its own releases."""
    return cfg.get("share_purchases", True) is not False and not turned_off


def lan_discovery(cfg: dict[str, Any], turned_off: bool = False) -> bool:
    """Whether a node looks for peers on the LAN with mDNS: yes, unless the profile says
    ``"mdns": false``, the command line turned it off, or ``COOPTRACKS_NO_MDNS=1`` is set (the
    test suite sets it, so tests never multicast on the machine's network)."""
    return (
        bool(cfg.get("mdns", True))
        and not turned_off
        and os.environ.get("COOPTRACKS_NO_MDNS", "") in ("", "0")
    )


class SwarmNetwork:
    """A session's libp2p node (satisfies ``app.services.session.network.Network``)."""

    def __init__(self, settings: SwarmSettings) -> None:
        self.settings = settings
        self._node: Node | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._samples: list[tuple[float, int, int]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._thread_scope: trio.CancelScope | None = None
        self._thread_error: BaseException | None = None
        # content ID -> {provider key: bytes} of our downloads, for our receipts (bounded)
        self._served: OrderedDict[bytes, dict[bytes, int]] = OrderedDict()

    # -- running the node ----------------------------------------------------------------------
    async def serve(self, core: Core, ready: Callable[[], None]) -> None:
        """Run the node until cancelled; ``ready()`` is called once it listens."""
        from p2p.host import wildcard_listen
        from p2p.node import NodeConfig, open_node

        config = NodeConfig(
            seed=core.signer.seed,
            listen=self.settings.listen or wildcard_listen(),
            bootstrap=self.settings.bootstrap,
            mdns=self.settings.mdns,
        )
        if self.settings.limits is not None:
            config = dataclasses.replace(config, limits=self.settings.limits)
        if not self.settings.share_purchases:
            config = dataclasses.replace(config, share=core.is_own_content)
        async with open_node(config, core.ledger, core.chunks) as node:
            self._node, self._token = node, trio.lowlevel.current_trio_token()
            log.info("node %s listening on %s", node.peer_id, " ".join(node.addrs))
            try:
                ready()
                await trio.sleep_forever()
            finally:
                self._node = self._token = None

    def start(self, core: Core, timeout: float = 30.0) -> None:
        """Host the node on a thread of its own (headless use); ``close`` stops it."""
        started = threading.Event()

        async def main() -> None:
            with trio.CancelScope() as scope:
                self._thread_scope = scope
                await self.serve(core, started.set)

        def run() -> None:
            try:
                trio.run(main)
            except BaseException as exc:  # reported to start() or logged at close()
                self._thread_error = exc
            finally:
                started.set()

        self._thread = threading.Thread(target=run, name="swarm-node", daemon=True)
        self._thread.start()
        started.wait(timeout)
        if self._node is None:
            self.close()
            raise UserError(f"the swarm node did not start: {self._thread_error or 'timeout'}")

    def close(self) -> None:
        """Stop a node started with ``start`` (a node run by ``serve`` stops when cancelled)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        token, scope = self._token, self._thread_scope
        if token is not None and scope is not None:
            try:
                token.run_sync_soon(scope.cancel)
            except trio.RunFinishedError:
                pass
        thread.join(30)
        if self._thread_error is not None:
            log.warning("the swarm node ended with %r", self._thread_error)

    @property
    def running(self) -> bool:
        return self._node is not None

    def _call(self, fn: Callable[[Node], Awaitable[T]]) -> T:
        node, token = self._node, self._token
        if node is None or token is None:
            raise UserError("the swarm node is not running", hint="reopen the session")
        if _in_trio_thread(token):
            raise RuntimeError("blocking network calls belong on a worker thread")
        try:
            return trio.from_thread.run(fn, node, trio_token=token)
        except trio.RunFinishedError as exc:
            raise UserError("the swarm node has stopped") from exc

    def _call_sync(self, fn: Callable[[Node], T]) -> T:
        node, token = self._node, self._token
        if node is None or token is None:
            raise UserError("the swarm node is not running")
        if _in_trio_thread(token):  # e.g. the GUI thread, which hosts the runtime: no hop
            return fn(node)
        try:
            return trio.from_thread.run_sync(fn, node, trio_token=token)
        except trio.RunFinishedError as exc:
            raise UserError("the swarm node has stopped") from exc

    # -- the Network seam ----------------------------------------------------------------------
    def sync(self, core: Core) -> int:
        """Pull from every connected peer; returns how many new entries were accepted."""
        if self._node is None:
            return 0

        async def pull(node: Node) -> list[Any]:
            return await node.sync()

        results = self._call(pull)
        if results and core.awaiting_own_feed:
            core.feed_recovered()
        return sum(r.accepted for r in results)

    def _remember_served(self, content: bytes, served: dict[bytes, int]) -> None:
        with self._lock:
            self._served[content] = served
            self._served.move_to_end(content)
            while len(self._served) > MAX_SERVED:
                self._served.popitem(last=False)

    def write_receipts(self, core: Core) -> list[bytes]:
        """Write the receipts of our purchases whose tracks are all here, naming the peers we
        downloaded them from (docs/PROTOCOL.md, "Referral and seeder shares")."""
        from app.services.shares import write_due_receipts

        with self._lock:
            served = {c: dict(v) for c, v in self._served.items()}
        try:
            return write_due_receipts(core, lambda content: served.get(content, {}))
        except Exception as exc:  # a receipt is never worth failing the download it follows
            log.warning("receipts not written this time: %r", exc)
            return []

    def fetch(
        self,
        core: Core,
        content: bytes,
        progress: ProgressFn,
        cancel: threading.Event,
        max_bytes: int | None = None,
    ) -> None:
        """Download ``content`` from whichever peers have it; stops when ``cancel`` is set
        (what arrived is kept, and a later fetch resumes from there). With ``max_bytes``,
        content needing more chunk bytes than that is refused before any chunk comes."""
        if core.chunks.is_complete(content):
            manifest = core.chunks.manifest(content)
            n = len(manifest.chunks) if manifest else 1
            progress(n, n)
            self.write_receipts(core)  # a purchase downloaded before a restart: due now
            return
        from p2p.content.download import DownloadFailed, Progress, StorageFailed, TooLarge

        def on_progress(p: Progress) -> None:  # on the trio thread: cheap, never blocks
            progress(p.chunks_done, p.chunks_total)

        async def run(node: Node) -> bool:
            failure: Exception | None = None
            with trio.CancelScope() as scope:

                async def watch() -> None:
                    while not cancel.is_set():
                        await trio.sleep(0.05)
                    scope.cancel()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watch)
                    try:
                        await node.fetch(content, on_progress=on_progress, max_bytes=max_bytes)
                        self._remember_served(content, node.served_by(content))
                    except Exception as exc:  # raised below, not wrapped in the nursery's group
                        failure = exc
                    nursery.cancel_scope.cancel()
                if failure is not None:
                    raise failure
                return True
            return False

        try:
            finished = self._call(run)
            if finished:
                self.write_receipts(core)
        except StorageFailed as exc:
            reason = exc.__cause__.strerror if isinstance(exc.__cause__, OSError) else None
            raise UserError(
                f"the download stopped: this computer could not store it "
                f"({(reason or str(exc)).lower()})",
                hint="free some disk space; what arrived is kept and the download "
                "resumes where it stopped",
            ) from exc
        except TooLarge as exc:
            raise UserError(f"not downloaded: {exc}") from exc
        except DownloadFailed as exc:
            raise UserError(
                "no peer that has this track is reachable right now",
                hint="it downloads when one comes online",
            ) from exc
        except UserError:
            raise
        except Exception as exc:  # a transfer error the node did not classify
            log.warning("fetch of %s failed: %r", content.hex()[:12], exc)
            raise UserError(
                f"the download stopped: {exc}", hint="it resumes where it stopped"
            ) from exc
        if not finished:
            raise UserError("the download was cancelled; it resumes where it stopped")

    def set_bandwidth(self, upload_bps: int, download_bps: int) -> None:
        from p2p.limits import Limits

        limits = dataclasses.replace(
            self.settings.limits or Limits(), upload_rate=upload_bps, download_rate=download_bps
        )  # checked here: ValueError
        self.settings = dataclasses.replace(self.settings, limits=limits)  # for a restart
        if self._node is not None:
            self._call_sync(
                lambda node: node.guard.set_rates(
                    upload_rate=upload_bps, download_rate=download_bps
                )
            )

    def reach_soon(self, public_key: bytes) -> None:
        node, token = self._node, self._token
        if node is None or token is None:
            return
        from p2p.host import peer_id_from_public_key

        try:  # queued onto the node's trio thread; returns at once from any thread
            token.run_sync_soon(node.reach_soon, peer_id_from_public_key(public_key))
        except trio.RunFinishedError:
            pass

    def want_chunks(self, content: bytes, index: int) -> None:
        node, token = self._node, self._token
        if node is None or token is None:
            return
        try:  # queued onto the node's trio thread; returns at once from any thread
            token.run_sync_soon(node.reading_at, content, index)
        except trio.RunFinishedError:
            pass

    def status(self, core: Core) -> NetworkStatus:
        seeding = len(core.chunks.content_ids())
        size = core.chunks.size_on_disk()
        if self._node is None:
            return NetworkStatus(
                self.settings.label,
                "not listening",
                "offline: the node is not running",
                self._known_views(set(), core.ledger.state),
                seeding,
                size,
                reach="Offline",
            )
        st = self._call_sync(lambda node: node.status())
        now = time.monotonic()
        with self._lock:
            self._samples.append((now, st.bytes_in, st.bytes_out))
            self._samples = [s for s in self._samples if now - s[0] <= RATE_WINDOW_S]
            t0, in0, out0 = self._samples[0]
        span = now - t0
        rate_in = (st.bytes_in - in0) / span if span > 0.5 else 0.0
        rate_out = (st.bytes_out - out0) / span if span > 0.5 else 0.0
        known = {k.peer_id: k for k in self.settings.known}
        state = core.ledger.state
        peers = []
        for p in st.peers:
            k = known.get(p.peer_id)
            peers.append(
                PeerView(
                    peer_name(state, p.peer_id, k.name if k else ""),
                    p.peer_id,
                    _short_addr(p.addrs),
                    k.role if k else "peer",
                    True,
                    inbound=p.inbound,
                    bytes_in=p.bytes_in,
                    bytes_out=p.bytes_out,
                    connection=p.connection,
                )
            )
        connected = {p.peer_id for p in st.peers}
        peers.extend(self._known_views(connected, state))
        relays = tuple(getattr(st, "relay_addrs", ()))
        title, sentence = (
            RELAYED
            if st.reachability == "private" and relays
            else REACHABILITY.get(st.reachability, (st.reachability.capitalize(), st.reachability))
        )
        discovery = (
            f"DHT {getattr(st, 'dht_mode', 'client')} with "
            f"{getattr(st, 'dht_peers', 0)} peers in its table, "
            f"{getattr(st, 'lan_peers', 0)} found on the LAN"
            + ("; relaying for others" if getattr(st, "relaying", False) else "")
            + (f"; {st.upgrades} relayed connections made direct" if st.upgrades else "")
        )
        listen = ", ".join(a.split("/p2p/")[0] for a in st.addrs) or "not listening"
        running = sum(1 for d in st.downloads if not d.finished)
        return NetworkStatus(
            self.settings.label,
            listen,
            sentence,
            tuple(peers),
            seeding,
            size,
            st.bytes_in,
            st.bytes_out,
            rate_in,
            rate_out,
            peer_id=st.peer_id,
            downloads=running,
            reach=title,
            discovery=discovery,
            relay_addrs=relays,
        )

    def _known_views(self, connected: set[str], state: State) -> tuple[PeerView, ...]:
        return tuple(
            PeerView(peer_name(state, k.peer_id, k.name), k.peer_id, "—", k.role, False)
            for k in self.settings.known
            if k.peer_id not in connected
        )


def _in_trio_thread(token: trio.lowlevel.TrioToken) -> bool:
    try:
        return trio.lowlevel.current_trio_token() is token
    except RuntimeError:
        return False


def _short_addr(addrs: tuple[str, ...]) -> str:
    """The first dialable address without its ``/p2p/…`` suffix (the peer ID has a column)."""
    for a in addrs:
        return a.split("/p2p/")[0]
    return "—"
