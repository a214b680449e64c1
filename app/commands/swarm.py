"""Swarm commands: ``seed`` (the headless seeder daemon), ``sync``, ``peers`` and ``fetch``.

All of them run a real node for the profile's identity. Settings come from the profile's
``config.json`` (keys ``listen``, ``announce``, ``bootstrap``, ``mdns``, ``seeding``,
``share_purchases``), overridden by flags. mDNS on the LAN is on unless ``"mdns": false``,
``--no-mdns`` or the environment variable ``COOPTRACKS_NO_MDNS=1`` (set by the test suite, so
tests never multicast). ``--private-purchases`` announces and serves only our own releases. A seeder
also serves the DHT and relays for peers behind NAT (``--no-relay`` turns the relay off).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.commands._io import add_json_flag, emit, passphrase
from app.services.errors import UserError

if TYPE_CHECKING:  # imported by the commands that run: libp2p costs most of a second to load
    from app.services.core import Core
    from p2p.connections import ConnectionLimits
    from p2p.content.download import Progress
    from p2p.node import Node, NodeConfig
    from p2p.pinning import SeedPolicy

log = logging.getLogger("cooptracks.swarm")

DEFAULT_PORT = 4417  # a seeder listens here on every IPv4 and IPv6 interface by default
MIN_PEERS, MAX_PEERS = 4, 900  # --max-peers bounds (py-libp2p's hard cap is 1,024 sockets)


def node_config(
    core: Core,
    args: argparse.Namespace,
    *,
    default_port: int = 0,
    default_listen: tuple[str, ...] = (),
    seeding: SeedPolicy | None = None,
    seeder: bool = False,
) -> NodeConfig:
    """The node settings for this profile: config.json, then command-line flags. Without
    listen addresses there, ``default_listen``, or else ``default_port`` on every interface."""
    from app.services.swarm import lan_discovery, share_purchases
    from p2p.host import wildcard_listen
    from p2p.node import NodeConfig
    from p2p.pinning import SeedPolicy

    settings = core.profile.read_config()
    listen = tuple(
        getattr(args, "listen", None)
        or settings.get("listen")
        or default_listen
        or wildcard_listen(default_port)
    )
    announce = tuple(getattr(args, "announce", None) or settings.get("announce") or ())
    bootstrap = tuple(settings.get("bootstrap", [])) + tuple(getattr(args, "peer", None) or ())
    mdns = lan_discovery(settings, turned_off=getattr(args, "no_mdns", False))
    private = not share_purchases(settings, getattr(args, "private_purchases", False))
    return NodeConfig(
        seed=core.signer.seed,
        listen=listen,
        bootstrap=bootstrap,
        mdns=mdns,
        announce=announce,
        seeding=seeding or SeedPolicy(),
        dht_mode="server" if seeder else "auto",
        relay_service=seeder and not getattr(args, "no_relay", False),
        connections=connection_limits(
            getattr(args, "max_peers", None) or settings.get("max_peers")
        ),
        share=core.is_own_content if private else None,
    )


def connection_limits(max_peers: object) -> ConnectionLimits:
    """The connection table for ``--max-peers`` / config.json ``max_peers`` (None: default):
    trimmed above that many connections down to four fifths of it."""
    from p2p.connections import ConnectionLimits

    if max_peers is None:
        return ConnectionLimits()
    if (
        not isinstance(max_peers, int)
        or isinstance(max_peers, bool)
        or not MIN_PEERS <= max_peers <= MAX_PEERS
    ):
        raise UserError(
            f"max_peers must be a whole number from {MIN_PEERS} to {MAX_PEERS}, not {max_peers!r}"
        )
    return ConnectionLimits(high_water=max_peers, low_water=max(1, max_peers * 4 // 5))


async def _connect_all(node: Node, addrs: tuple[str, ...], required: bool) -> int:
    from p2p.context import DialError

    ok = 0
    for addr in addrs:
        try:
            await node.connect(addr)
            ok += 1
        except (DialError, ValueError) as exc:
            log.warning("%s", exc)
    if required and addrs and not ok:
        raise UserError("none of the peers could be reached", hint=", ".join(addrs))
    return ok


async def _settle(core: Core) -> None:
    import trio

    try:
        report = await trio.to_thread.run_sync(core.settle)
    except Exception:  # settle isolates each item; this is the last line of defence
        log.exception("settling failed; trying again on the next change")
        return
    if report.granted or report.received or report.unlocked:
        log.info(
            "settled: %d received, %d purchases granted, %d keys unlocked",
            len(report.received),
            len(report.granted),
            len(report.unlocked),
        )


FIRST_CHUNK_TIMEOUT = 120.0  # seconds to get a content's first chunk for a key check
MAX_WANTED_FIRST_CHUNKS = 256  # contents waiting for that, at most


async def settle_on_change(core: Core, interval: float, node: Node | None = None) -> None:
    """Act as a sales agent until cancelled: settle whenever entries arrive (at least every
    ``interval`` seconds). Settling isolates each item, so no entry stops this loop. With a
    ``node``, a grant whose key waits to be checked against content not held here fetches that
    content's first chunk (one at a time), then settles again."""
    import trio

    changed = trio.Event()
    token = trio.lowlevel.current_trio_token()
    wanted_send, wanted_receive = trio.open_memory_channel[bytes](MAX_WANTED_FIRST_CHUNKS)
    asked: set[bytes] = set()

    def on_entries(entries: list) -> None:
        token.run_sync_soon(changed.set)

    def want(content: bytes) -> None:  # called from settle's worker thread
        def enqueue() -> None:
            if content in asked:
                return
            try:
                wanted_send.send_nowait(content)
                asked.add(content)
            except trio.WouldBlock:
                pass  # asked again by the grant's next try

        token.run_sync_soon(enqueue)

    async def fetch_first_chunks() -> None:
        assert node is not None
        async for content in wanted_receive:
            try:
                if await fetch_first_chunk(node, content, FIRST_CHUNK_TIMEOUT):
                    core.first_chunk_arrived(content)
                    changed.set()
            finally:
                asked.discard(content)

    core.ledger.add_listener(on_entries)
    try:
        async with trio.open_nursery() as nursery:
            if node is not None:
                core.want_first_chunk = want
                nursery.start_soon(fetch_first_chunks)
            while True:
                await _settle(core)
                with trio.move_on_after(interval):
                    await changed.wait()
                changed = trio.Event()
    finally:
        core.want_first_chunk = None
        core.ledger.remove_listener(on_entries)


async def fetch_first_chunk(node: Node, content: bytes, timeout: float) -> bool:
    """Download ``content`` until its first chunk is stored (then stop); True if it is."""
    import trio

    from p2p.content.download import DownloadFailed

    def have_first() -> bool:
        manifest = node.store.manifest(content)
        return manifest is not None and node.store.has_chunk(manifest.chunks[0])

    if await trio.to_thread.run_sync(have_first):
        return True
    with trio.move_on_after(timeout):
        async with trio.open_nursery() as nursery:

            async def download() -> None:
                try:
                    await node.fetch(content)
                except DownloadFailed as exc:
                    log.info("cannot fetch %s to check its key: %s", content.hex()[:12], exc)
                nursery.cancel_scope.cancel()

            nursery.start_soon(download)
            while not await trio.to_thread.run_sync(have_first):
                await trio.sleep(0.2)
            nursery.cancel_scope.cancel()
    return await trio.to_thread.run_sync(have_first)


async def _initial_sync(node: Node, core: Core) -> None:
    results = await node.sync()
    if results and core.awaiting_own_feed:
        core.feed_recovered()


def _run(core: Core, config: NodeConfig, body: Callable[[Node], Awaitable[int]]) -> int:
    import trio

    from p2p.node import open_node

    async def main() -> int:
        async with open_node(config, core.ledger, core.chunks) as node:
            return await body(node)

    return trio.run(main)


# -- seed ------------------------------------------------------------------------------------------
def _seed(args: argparse.Namespace) -> int:
    import trio

    from app.services.core import Core
    from app.services.session.network import bytes_per_second
    from p2p.pinning import SeedPolicy

    with Core.open(args.profile_obj, passphrase(args)) as core:
        followed = frozenset(bytes.fromhex(k) for k in args.follow or ())
        settings = core.profile.read_config().get("seeding", {})
        policy = SeedPolicy(
            mode=args.pin or settings.get("mode", "all"),
            followed=followed or frozenset(bytes.fromhex(k) for k in settings.get("followed", [])),
            quota_bytes=int((args.quota_gb or settings.get("quota_gb", 10)) * 1024**3),
        )
        config = node_config(core, args, default_port=DEFAULT_PORT, seeding=policy, seeder=True)
        upload_kbps = args.max_upload_kbps or _config_kbps(settings, "max_upload_kbps")
        peer_kbps = args.max_upload_kbps_per_peer or _config_kbps(
            settings, "max_upload_kbps_per_peer"
        )
        config = replace(
            config,
            limits=replace(
                config.limits,
                upload_rate=bytes_per_second(upload_kbps),
                upload_rate_per_peer=bytes_per_second(peer_kbps),
            ),
        )
        if upload_kbps or peer_kbps:
            log.info(
                "upload capped: %s in total, %s per peer",
                f"{upload_kbps:g} kbit/s" if upload_kbps else "no cap",
                f"{peer_kbps:g} kbit/s" if peer_kbps else "no cap",
            )

        async def body(node: Node) -> int:
            if args.addr_file:  # written before the log says so: a reader may rely on it
                args.addr_file.write_text("\n".join(node.addrs) + "\n")
            log.info("seeder %s listening on %s", node.peer_id, " ".join(node.addrs))
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async with trio.open_nursery() as nursery:

                    async def stop_on_signal() -> None:
                        async for signum in signals:
                            log.info("received %s, shutting down", signal.Signals(signum).name)
                            nursery.cancel_scope.cancel()
                            return

                    nursery.start_soon(stop_on_signal)
                    await _connect_all(node, config.bootstrap, required=False)
                    await _initial_sync(node, core)
                    await settle_on_change(core, args.settle_interval, node)
            log.info("seeder stopped cleanly")
            return 0

        return _run(core, config, body)


# -- sync ------------------------------------------------------------------------------------------
NO_PEERS_HINT = (
    "give one with --peer /ip4/HOST/tcp/PORT/p2p/PEER_ID or list it under "
    '"bootstrap" in the profile\'s config.json; an app or seeder running on this '
    "profile syncs by itself"
)


async def _sync_round(node: Node, core: Core, wait: float, pin_wait: float = 0.0) -> dict[str, Any]:
    """Pull the ledger from every connected peer, settle, and stay until they hold our feed
    (and, with ``pin_wait``, until one holds the tracks of our own releases).

    New entries are counted from before the first connection: a peer's entries often arrive
    through the pull that connecting starts, before this round asks for anything."""
    results = await node.sync()
    if core.awaiting_own_feed and results:
        core.feed_recovered()
    import trio

    report = await trio.to_thread.run_sync(core.settle)
    if report.received or report.granted:
        await node.sync()  # grants and receives in, new entries of peers that answered them
    for peer in node.connected_peers():  # they pull our feed when we connect and on gossip
        await node.wait_replicated(peer, timeout=wait + 8)
    unpinned = await _wait_pinned(node, core, pin_wait)
    return {
        "peers": len(node.connected_peers()),
        "received": len(report.received),
        "granted": len(report.granted),
        "unlocked": len(report.unlocked),
        "unpinned": unpinned,
        "entries": core.ledger.count(),
        "state_hash": core.ledger.state_hash().hex(),
    }


async def _wait_pinned(node: Node, core: Core, timeout: float) -> int:
    """Stay (at most ``timeout`` seconds) until a connected peer holds every track of our own
    releases that only this machine holds, so a release published from the CLI is on a seeder
    before the command ends. Returns how many tracks no peer holds yet."""
    import trio

    def ours() -> list[bytes]:
        mine = [li for li in core.ledger.state.current_listings() if li.artist == core.me]
        return [c for li in mine for c in li.contents(None) if core.chunks.is_complete(c)]

    contents = (await trio.to_thread.run_sync(ours))[:64]
    if not contents or not node.connected_peers() or timeout <= 0:
        return 0
    missing = contents
    with trio.move_on_after(timeout):
        while True:
            held = await node.complete_holders(missing)
            missing = [c for c in missing if not held.get(c)]
            if not missing:
                return 0
            await trio.sleep(1.0)  # a seeder's pinner fetches them meanwhile
    return len(missing)


def _sync(args: argparse.Namespace) -> int:
    from app.services.core import Core

    with Core.open(args.profile_obj, passphrase(args)) as core:
        config = node_config(core, args)
        if not config.bootstrap and not config.mdns:
            raise UserError("no peer to sync with", hint=NO_PEERS_HINT)
        before = core.ledger.count()

        async def body(node: Node) -> int:
            import trio

            connected = await _connect_all(node, config.bootstrap, required=False)
            if not connected and config.mdns:  # give the LAN a moment to answer
                with trio.move_on_after(args.wait):
                    while not node.connected_peers():
                        await trio.sleep(0.1)
            if not node.connected_peers():
                raise UserError("no peer could be reached", hint=NO_PEERS_HINT)
            mine_before = core.ledger.head_seq(core.me)
            doc = await _sync_round(node, core, args.wait, args.pin_wait)
            written = core.ledger.head_seq(core.me) - mine_before
            doc["new"] = core.ledger.count() - before - written  # from peers
            doc["accepted"] = doc["new"]
            text = (
                f"synced with {doc['peers']} peers: {doc['new']} new entries; received "
                f"{doc['received']} payments, granted {doc['granted']} purchases, unlocked "
                f"{doc['unlocked']}; {doc['entries']} held"
            )
            if doc["unpinned"]:
                text += (
                    f"\n{doc['unpinned']} tracks of your releases are on no peer yet: keep "
                    "this profile online (`cooptracks seed` or the app) until a seeder "
                    "has them"
                )
            emit(args, doc, text)
            return 0

        return _run(core, config, body)


# -- peers -----------------------------------------------------------------------------------------
def _peers(args: argparse.Namespace) -> int:
    import trio

    from app.services.core import Core
    from app.services.profiles import peer_name

    with Core.open(args.profile_obj, passphrase(args)) as core:
        config = node_config(core, args)
        before = core.ledger.count()

        async def body(node: Node) -> int:
            await _connect_all(node, config.bootstrap, required=args.sync)
            sync_doc: dict[str, Any] = {}
            if args.sync:
                mine_before = core.ledger.head_seq(core.me)
                sync_doc = await _sync_round(node, core, args.wait)
                written = core.ledger.head_seq(core.me) - mine_before
                sync_doc["accepted"] = core.ledger.count() - before - written
            else:
                await trio.sleep(args.wait)
            st = node.status()
            doc = {
                "peer_id": st.peer_id,
                "addrs": list(st.addrs),
                "reachability": st.reachability,
                "relay_addrs": list(st.relay_addrs),
                "dht_mode": st.dht_mode,
                "dht_peers": st.dht_peers,
                "lan_peers": st.lan_peers,
                "bytes_in": st.bytes_in,
                "bytes_out": st.bytes_out,
                **sync_doc,
                "peers": [
                    {
                        "peer_id": p.peer_id,
                        "addrs": list(p.addrs),
                        "inbound": p.inbound,
                        "name": peer_name(core.ledger.state, p.peer_id),
                    }
                    for p in st.peers
                ],
            }
            lines = [f"this node: {st.peer_id} ({st.reachability})"]
            lines += [
                f"  {peer_name(core.ledger.state, p.peer_id)}  {p.peer_id} {' '.join(p.addrs)}"
                for p in st.peers
            ] or ["  no peers"]
            if sync_doc:
                lines.append(
                    f"synced: {sync_doc['accepted']} new entries, {sync_doc['entries']} held"
                )
            emit(args, doc, "\n".join(lines))
            return 0

        return _run(core, config, body)


# -- fetch -----------------------------------------------------------------------------------------
def _fetch(args: argparse.Namespace) -> int:

    from app.services.core import Core
    from p2p.content.download import DownloadFailed

    try:
        content_id = bytes.fromhex(args.content)
        assert len(content_id) == 32
    except (ValueError, AssertionError):
        raise UserError(f"{args.content!r} is not a content ID (64 hex characters)") from None
    with Core.open(args.profile_obj, passphrase(args)) as core:
        config = node_config(core, args, default_listen=("/ip4/127.0.0.1/tcp/0",))

        def show(p: Progress) -> None:
            if not args.json and sys.stderr.isatty():
                print(
                    f"\r{p.chunks_done}/{p.chunks_total} chunks from {p.providers} peers",
                    end="",
                    file=sys.stderr,
                )

        async def body(node: Node) -> int:
            await _connect_all(node, config.bootstrap, required=True)
            await _initial_sync(node, core)
            await _settle(core)
            try:
                manifest = await node.fetch(content_id, on_progress=show)
            except DownloadFailed as exc:
                raise UserError(str(exc), hint="is a peer that holds it online?") from exc
            from app.services.shares import write_due_receipts

            receipts = write_due_receipts(core, node.served_by)  # the seeders that served us
            key = core.keys.get(content_id)
            doc: dict[str, Any] = {
                "content": args.content,
                "size": manifest.size,
                "chunks": len(manifest.chunks),
                "encrypted": manifest.encrypted,
                "key_held": key is not None or not manifest.encrypted,
                "receipts": [r.hex() for r in receipts],
            }
            if args.output:
                if manifest.encrypted and key is None:
                    raise UserError(
                        "downloaded, but no key for this content is held",
                        hint="buy it, then run `cooptracks sync` for the grant",
                    )
                with open(args.output, "wb") as out:
                    for index, data in enumerate(core.chunks.get_chunk(c) for c in manifest.chunks):
                        out.write(manifest.open_chunk(index, data or b"", key))
                doc["output"] = str(args.output)
            emit(args, doc, f"fetched {args.content[:16]}… ({manifest.size} bytes)")
            return 0

        return _run(core, replace(config), body)


def _kbps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"a rate in kilobits per second above 0, not {text!r}")
    return value


def _config_kbps(settings: dict, key: str) -> float:
    value = settings.get(key) or 0
    if not value:
        return 0.0
    try:
        return _kbps(str(value))
    except argparse.ArgumentTypeError as exc:
        raise UserError(f"config.json seeding.{key}: {exc}") from None


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    def net_flags(p: argparse.ArgumentParser, listen: bool = False) -> None:
        p.add_argument(
            "--peer",
            action="append",
            metavar="MULTIADDR",
            help="a peer to connect to (/ip4/…/tcp/…/p2p/…); repeatable",
        )
        if listen:
            p.add_argument(
                "--listen",
                action="append",
                metavar="MULTIADDR",
                help=f"address to listen on (default: port {DEFAULT_PORT} for a seeder, "
                "any free port otherwise, on every IPv4 and IPv6 interface)",
            )
            p.add_argument(
                "--announce",
                action="append",
                metavar="MULTIADDR",
                help="address to advertise instead of the listen addresses "
                "(a forwarded port); repeatable",
            )
        p.add_argument("--no-mdns", action="store_true", help="do not look for peers on the LAN")
        p.add_argument(
            "--private-purchases",
            action="store_true",
            help="announce and serve only our own releases, not what we bought "
            '(config: "share_purchases": false)',
        )

    p = sub.add_parser("seed", parents=[common], help="run the headless seeder daemon")
    net_flags(p, listen=True)
    p.add_argument(
        "--no-relay", action="store_true", help="do not relay connections for peers behind NAT"
    )
    p.add_argument(
        "--pin",
        choices=("all", "followed", "none"),
        help="which listings' content to pin (default: config or all)",
    )
    p.add_argument(
        "--follow",
        action="append",
        metavar="PUBKEY",
        help="an artist to pin with --pin followed; repeatable",
    )
    p.add_argument("--quota-gb", type=float, help="disk quota for pinned content")
    p.add_argument(
        "--max-upload-kbps",
        type=_kbps,
        metavar="KBPS",
        help="cap the upload to all peers together, in kilobits per second "
        "(default: config seeding.max_upload_kbps, or no cap)",
    )
    p.add_argument(
        "--max-upload-kbps-per-peer",
        type=_kbps,
        metavar="KBPS",
        help="cap the upload to any one peer, in kilobits per second",
    )
    p.add_argument(
        "--settle-interval",
        type=float,
        default=5.0,
        help="seconds between fulfilment passes when nothing new arrives",
    )
    p.add_argument(
        "--max-peers",
        type=int,
        metavar="N",
        help="connections kept open; above N the idle ones are closed down to 4/5 "
        "of N (default: config max_peers, or 200)",
    )
    p.add_argument("--addr-file", type=Path, help="write our multiaddrs to this file once up")
    p.set_defaults(handler=_seed)

    p = sub.add_parser(
        "sync",
        parents=[common],
        help="bring this profile up to date with peers: pull the ledger, receive "
        "payments, grant and collect purchases, hand over our new entries",
    )
    net_flags(p)
    p.add_argument(
        "--wait", type=float, default=2.0, help="seconds to wait for LAN peers when none is given"
    )
    p.add_argument(
        "--pin-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stay at most this long until a peer (a seeder) holds the tracks of "
        "your releases that only this machine has (0: do not wait)",
    )
    add_json_flag(p)
    p.set_defaults(handler=_sync)

    p = sub.add_parser("peers", parents=[common], help="show this node's peers and reachability")
    net_flags(p)
    p.add_argument("--wait", type=float, default=2.0, help="seconds to collect peers")
    p.add_argument("--sync", action="store_true", help="also do what `cooptracks sync` does")
    add_json_flag(p)
    p.set_defaults(handler=_peers)

    p = sub.add_parser("fetch", parents=[common], help="download a track or preview by content ID")
    p.add_argument("content", help="content ID (64 hex characters)")
    net_flags(p)
    p.add_argument("-o", "--output", type=Path, help="write the decrypted file here")
    add_json_flag(p)
    p.set_defaults(handler=_fetch)
