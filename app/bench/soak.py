"""Soak benchmark: a seeder process over many lifetime connections, and under a full table.

``cooptracks bench soak --json`` starts a real ``cooptracks seed`` process on loopback, serving
one track, and measures:

* ``sessions_per_s``: Noise + yamux sessions opened and closed one after another, 10,000 of them
  (2,000 with ``--quick``), next to ``raw_tcp_sessions_per_s``, plain TCP connects and closes to
  the same kind of listener measured in the same run (the limit), as ``sessions_vs_raw_tcp``;
* ``refused``: sessions that failed (goal 0);
* ``rss_growth_mb_per_1000``: the seeder's resident memory growth per 1,000 closed sessions,
  the least-squares slope of samples taken every 1,000 after the first (warm-up) (goal < 1 MB);
* ``hostile_*``: rounds of gossip floods (12, 8 with ``--quick``), each from ``FLOODERS`` new
  identities announcing ``FLOOD_IDS`` random content IDs apiece (``Provide``), while the
  seeder's resident memory and profile size on disk are sampled after each round. The first
  rounds fill the capped provider table; after them (``HOSTILE_WARMUP``) nothing may grow with
  what keeps arriving: ``hostile_rss_growth_mb_per_round`` (least-squares slope over the later
  rounds: single samples swing by a megabyte or two with the allocator) is judged against the
  gossip payload one round sent, measured in the same run, as ``hostile_rss_growth_vs_sent``
  (goal < 0.25: a cache that kept each message, as py-libp2p's did, shows 1 or more);
  ``hostile_disk_growth_mb`` goal < 1 MB; an honest fetch must still succeed after them;
* ``honest_fetch_held_s``: a new fan's connect, sync and fetch of the track while 500 raw TCP
  connections that never speak and ``held_sessions`` finished but idle sessions are held open
  (goal < 1 s), next to ``honest_fetch_s``, the same fetch on a quiet seeder, as
  ``honest_fetch_held_vs_quiet``.

The pieces (``SeederProcess``, ``churn``, ``hold_raw``, ``hold_sessions``, ``honest_fetch``) are
the ones ``tests/p2p/test_soak.py`` uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

from content.chunkstore import ChunkStore
from content.format import new_track_key, pack
from ledger.keys import Signer
from ledger.ledger import Ledger
from p2p.host import build_host, parse_peer_addr
from p2p.node import NodeConfig, open_node

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "soak test passphrase"
CLIENTS = 8  # client identities that take turns, so one's close never overlaps its next open
FLOODERS = 6  # identities per flood round
FLOOD_IDS = 8_192  # content IDs each one announces
HOSTILE_WARMUP = 2  # flood rounds that fill the provider table before growth is judged
HOSTILE_GROWTH_GOAL = 0.25  # resident growth per round / gossip payload sent per round


class SeederProcess:
    """A real ``cooptracks seed`` process on 127.0.0.1 with one packed track in its store."""

    def __init__(self, root: Path, *flags: str, track_bytes: int = 2 << 20) -> None:
        self.root = root
        self.flags = flags
        self.profile = root / "seeder"
        self.env = {**os.environ, "COOPTRACKS_PASSPHRASE": PASSPHRASE}
        self.proc: subprocess.Popen[str] | None = None
        self.addr = ""
        self.track = b""
        self.content_id = b""
        self.track_bytes = track_bytes

    def _cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "app.cli", "--profile", str(self.profile), *args],
            check=True,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=120,
        )

    def start(self) -> SeederProcess:
        self._cli("identity", "new", "--name", "Soak seeder")
        self.track = os.urandom(self.track_bytes)
        packed = pack(self.track, new_track_key(), "audio/flac")
        ChunkStore(self.profile / "content").put_packed(packed.manifest_bytes, packed.chunks)
        self.content_id = packed.content_id
        addr_file = self.root / "seeder.addr"
        self._stderr = open(self.root / "seeder.log", "w")  # kept open while it runs
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "--profile",
                str(self.profile),
                "seed",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--addr-file",
                str(addr_file),
                "--no-mdns",
                "--pin",
                "none",
                *self.flags,
            ],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not addr_file.exists() or not addr_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the seeder did not start:\n" + self.log()[-3000:])
            time.sleep(0.05)
        self.addr = addr_file.read_text().split()[0]
        return self

    def log(self) -> str:
        return (self.root / "seeder.log").read_text(errors="replace")

    def rss_bytes(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()

    def __enter__(self) -> SeederProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def churn(addr: str, sessions: int, on_step: Any = None, every: int = 100) -> int:
    """Open and close ``sessions`` Noise + yamux sessions to ``addr``, one after another (each
    opened once the previous one is up), from ``CLIENTS`` identities in turn; returns how many
    failed. ``on_step(done)`` is awaited every ``every`` sessions."""
    info = parse_peer_addr(addr)
    failed = 0
    async with AsyncExitStack() as stack:
        clients = [build_host(os.urandom(32)) for _ in range(CLIENTS)]
        for client in clients:
            await stack.enter_async_context(client.run([]))
        failed = await _churn(clients, info, sessions, on_step, every)
    return failed


async def _churn(clients: list[Any], info: Any, sessions: int, on_step: Any, every: int) -> int:
    failed = 0
    async with trio.open_nursery() as nursery:
        closing = [trio.Event() for _ in clients]
        for event in closing:
            event.set()

        async def close(i: int) -> None:
            try:
                await clients[i].disconnect(info.peer_id)
            finally:
                closing[i].set()

        for n in range(sessions):
            i = n % CLIENTS
            await closing[i].wait()
            try:
                with trio.fail_after(10):
                    await clients[i].connect(info)
            except Exception:
                failed += 1
            closing[i] = trio.Event()
            # The client side of a close waits 0.1 s in py-libp2p after the socket has gone, so
            # the close runs on while the next client opens its session: at most CLIENTS
            # sessions are open or closing at once.
            nursery.start_soon(close, i)
            if on_step is not None and (n + 1) % every == 0:
                await on_step(n + 1)
        for event in closing:
            await event.wait()
    return failed


@asynccontextmanager
async def hold_raw(addr: str, count: int) -> AsyncIterator[list[trio.SocketStream]]:
    """``count`` TCP connections to ``addr`` that never speak, held while the block runs."""
    info = parse_peer_addr(addr)
    tcp = info.addrs[0]
    host, port = tcp.value_for_protocol("ip4"), int(tcp.value_for_protocol("tcp"))
    streams: list[trio.SocketStream] = []
    try:
        for _ in range(count):
            streams.append(await trio.open_tcp_stream(host, port))
        yield streams
    finally:
        for stream in streams:
            with trio.CancelScope(shield=True):
                await stream.aclose()


@asynccontextmanager
async def hold_sessions(addr: str, count: int) -> AsyncIterator[int]:
    """``count`` finished, idle sessions to ``addr`` from identities of their own, held while the
    block runs; yields how many the seeder let finish their handshake."""
    info = parse_peer_addr(addr)
    ok = 0
    async with AsyncExitStack() as stack:
        for _ in range(count):
            client = build_host(os.urandom(32))
            await stack.enter_async_context(client.run([]))
            try:
                with trio.fail_after(10):
                    await client.connect(info)
                ok += 1
            except Exception:
                pass
        yield ok


async def honest_fetch(root: Path, addr: str, content_id: bytes, expected: bytes) -> float:
    """A new fan connects, syncs the ledger and fetches ``content_id`` (chunks verified against
    their hashes); returns the seconds it took. Raises if anything failed or differs."""
    d = Path(tempfile.mkdtemp(dir=root, prefix="fan"))
    led = Ledger.open(d / "ledger.sqlite")
    store = ChunkStore(d / "content")
    signer = Signer.from_seed(os.urandom(32))
    try:
        async with open_node(NodeConfig(seed=signer.seed), led, store) as fan:
            started = time.perf_counter()
            with trio.fail_after(30):
                peer = await fan.connect(addr)
                await fan.sync_with(peer)
                manifest = await fan.fetch(content_id, providers=[peer])
            took = time.perf_counter() - started
        stored = sum(manifest.stored_length(i) for i in range(len(manifest.chunks)))
        if stored < len(expected):
            raise RuntimeError(f"fetched {stored} bytes of a {len(expected)}-byte track")
        if store.missing_chunks(manifest):
            raise RuntimeError("the fetch left chunks missing")
        return took
    finally:
        led.close()


async def provide_flood(
    root: Path, addr: str, flooders: int = FLOODERS, ids: int = FLOOD_IDS, batch: int = 256
) -> int:
    """``flooders`` new identities each join the seeder's gossip mesh and announce ``ids``
    random content IDs, ``batch`` to a message; returns the bytes of gossip payload published
    (what the seeder had to take in)."""
    from p2p.gossip import MAX_PROVIDE_IDS, Provide
    from p2p.host import parse_peer_addr as parse

    seeder = parse(addr).peer_id
    sent = 0
    batch = min(MAX_PROVIDE_IDS, batch)
    for _ in range(flooders):
        d = Path(tempfile.mkdtemp(dir=root, prefix="flood"))
        led = Ledger.open(d / "ledger.sqlite")
        try:
            config = NodeConfig(seed=os.urandom(32), gossip_heartbeat=0.2)
            async with open_node(config, led, ChunkStore(d / "content")) as node:
                await node.connect(addr)
                with trio.fail_after(20):
                    while seeder not in node.gossip.topic_peers():
                        await trio.sleep(0.05)
                for _ in range(0, ids, batch):  # publish keeps below py-libp2p's queue limit
                    message = Provide(tuple(os.urandom(32) for _ in range(batch)))
                    await node.gossip.publish(message)
                    sent += len(message.encode())
                await trio.sleep(1.0)  # the last messages leave before the node stops
        finally:
            led.close()
    return sent


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def _raw_tcp_sessions_per_s(count: int) -> float:
    """Plain TCP connects and closes per second to a trio listener on loopback (the limit)."""

    async def handler(stream: trio.SocketStream) -> None:
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        started = time.perf_counter()
        for _ in range(count):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.aclose()
        took = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    return count / took


def _slope(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of ``(x, y)`` points (0 for fewer than two)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return cov / var


def _slope_mb_per_1000(rss: dict[int, int]) -> float:
    """Least-squares slope of RSS over sessions, after the first 1,000 (warm-up), in MB per
    1,000 sessions: single samples swing by +-10 MB with the allocator and the collector."""
    points = [(k, v) for k, v in sorted(rss.items()) if k > min(rss)] or list(rss.items())
    return _slope(points) * 1000 / 1e6


async def _run(quick: bool) -> dict[str, Any]:
    sessions = 2_000 if quick else 10_000
    rounds = 8 if quick else 12
    held_raw, held_sessions = 500, 250
    raw = await _raw_tcp_sessions_per_s(2_000)
    with tempfile.TemporaryDirectory(prefix="cooptracks-soak-") as tmp:
        root = Path(tmp)
        with SeederProcess(root) as seeder:
            quiet = await honest_fetch(root, seeder.addr, seeder.content_id, seeder.track)
            rss: dict[int, int] = {}

            async def sample(done: int) -> None:
                if done % 1000 == 0:
                    rss[done] = seeder.rss_bytes()

            started = time.perf_counter()
            refused = await churn(seeder.addr, sessions, sample)
            took = time.perf_counter() - started
            after = await honest_fetch(root, seeder.addr, seeder.content_id, seeder.track)
            hostile_rss = [seeder.rss_bytes()]
            hostile_disk = [_disk_bytes(seeder.profile)]
            sent_bytes = 0
            for _ in range(rounds):
                sent_bytes += await provide_flood(root, seeder.addr)
                await trio.sleep(2)
                hostile_rss.append(seeder.rss_bytes())
                hostile_disk.append(_disk_bytes(seeder.profile))
            after_hostile = await honest_fetch(root, seeder.addr, seeder.content_id, seeder.track)
            async with (
                hold_raw(seeder.addr, held_raw),
                hold_sessions(seeder.addr, held_sessions) as finished,
            ):
                held = await honest_fetch(root, seeder.addr, seeder.content_id, seeder.track)
            alive = seeder.alive()
    growth = _slope_mb_per_1000(rss)
    per_round_sent = sent_bytes / rounds
    hostile_slope = _slope(list(enumerate(hostile_rss))[HOSTILE_WARMUP:])
    hostile_ratio = hostile_slope / per_round_sent
    return {
        "sessions": sessions,
        "sessions_per_s": round(sessions / took, 1),
        "raw_tcp_sessions_per_s": round(raw, 1),
        "sessions_vs_raw_tcp": round(sessions / took / raw, 4),
        "refused": refused,
        "refused_goal": 0,
        "rss_mb_by_sessions": {k: round(v / 1e6, 1) for k, v in sorted(rss.items())},
        "rss_growth_mb_per_1000": round(growth, 3),
        "rss_growth_goal_mb_per_1000": 1.0,
        "honest_fetch_s": round(quiet, 3),
        "honest_fetch_after_churn_s": round(after, 3),
        "hostile_rounds": rounds,
        "hostile_ids_announced": rounds * FLOODERS * FLOOD_IDS,
        "hostile_sent_mb_per_round": round(per_round_sent / 1e6, 3),
        "hostile_rss_mb": [round(v / 1e6, 1) for v in hostile_rss],
        "hostile_rss_growth_warmup_mb": round(
            (hostile_rss[HOSTILE_WARMUP] - hostile_rss[0]) / 1e6, 2
        ),
        "hostile_rss_growth_mb_per_round": round(hostile_slope / 1e6, 3),
        "hostile_rss_growth_vs_sent": round(hostile_ratio, 3),
        "hostile_rss_growth_goal_vs_sent": HOSTILE_GROWTH_GOAL,
        "hostile_disk_growth_mb": round((hostile_disk[-1] - hostile_disk[0]) / 1e6, 3),
        "hostile_disk_growth_goal_mb": 1.0,
        "honest_fetch_after_hostile_s": round(after_hostile, 3),
        "held_raw_connections": held_raw,
        "held_sessions": held_sessions,
        "held_sessions_finished": finished,
        "honest_fetch_held_s": round(held, 3),
        "honest_fetch_held_vs_quiet": round(held / quiet, 2),
        "honest_fetch_held_goal_s": 1.0,
        "seeder_alive": alive,
        "ok": (
            refused == 0
            and growth < 1.0
            and held < 1.0
            and alive
            and hostile_ratio < HOSTILE_GROWTH_GOAL
            and hostile_disk[-1] - hostile_disk[0] < 1e6
        ),
    }


def run(quick: bool = True) -> dict[str, Any]:
    """Run the soak benchmark (see the module docstring)."""
    return trio.run(_run, quick)
