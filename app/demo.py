"""The demo world: a few artists with releases of generated music, a credits gateway, a seeder,
and the user as a fan holding demo credits, all on this machine (Qt-free).

``build_world(root)`` makes the profiles once (music synthesised with numpy, encoded with PyAV,
published through the real StudioService; nothing is downloaded); the world starts as if the
swarm had already run for a while (every replica converged, the seeder holding every release).
``DemoSwarm`` then runs the actors that are online as real nodes: one ``cooptracks seed``
process each on 127.0.0.1, stopped with the demo (a pipe each node watches closes when the
demo's process ends, however it ends). Two artists are online; the other two have their laptops
shut, and the seeder, their delegated sales agent, fulfils their sales.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from nacl import pwhash

from app.demo_community import check_vote, make_community
from app.demo_funding import check_funding, make_funding
from app.demo_market import MOSS, NEON, CoinPlan, make_market
from app.profile import Profile
from app.services.core import Core
from app.services.errors import UserError
from app.services.identity import IdentityInfo, IdentityService
from app.services.profiles import ProfileService
from app.services.replica import converge, copy_content
from app.services.session.network import ProgressFn
from app.services.studio import ReleaseDraft, StudioService
from app.services.wallet import WalletService

if TYPE_CHECKING:
    from app.services.swarm import SwarmSettings
    from ledger.state import Asset

log = logging.getLogger(__name__)

WORLD_VERSION = 6
ONLINE_ARTISTS = frozenset({"artist-1", "artist-3"})  # the others' laptops are shut
FAN_PASSPHRASE = "cooptracks-demo"
ACTOR_PASSPHRASE = "demo-actor-passphrase"
FAST_KDF = (pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN)
RATE = 44100


# -- music -----------------------------------------------------------------------------------------
NOTE = {
    n: i for i, n in enumerate(["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"])
}


def _freq(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _env(n: int, attack: float = 0.01, release: float = 0.3) -> np.ndarray:
    t = np.arange(n) / RATE
    a = np.clip(t / max(attack, 1e-4), 0, 1)
    r = np.exp(-t / max(release, 1e-3))
    return a * r


def _voice(freq: float, n: int, timbre: str) -> np.ndarray:
    t = np.arange(n) / RATE
    if timbre == "pad":
        sig = sum(np.sin(2 * math.pi * freq * (1 + d) * t) for d in (-0.003, 0.0, 0.004)) / 3
        sig = sig * np.clip(t / 0.4, 0, 1) * np.exp(-t / 3.0)
    elif timbre == "pluck":
        sig = (
            np.sin(2 * math.pi * freq * t)
            + 0.4 * np.sin(4 * math.pi * freq * t)
            + 0.15 * np.sin(6 * math.pi * freq * t)
        )
        sig = sig * _env(n, 0.005, 0.35)
    elif timbre == "saw":
        sig = sum(np.sin(2 * math.pi * k * freq * t) / k for k in range(1, 8)) * 0.5
        sig = sig * _env(n, 0.01, 0.25)
    else:  # bell
        sig = np.sin(
            2 * math.pi * freq * t + 1.5 * np.sin(2 * math.pi * freq * 3.5 * t) * np.exp(-t / 0.5)
        )
        sig = sig * _env(n, 0.002, 0.8)
    return sig


@dataclass(frozen=True)
class Song:
    title: str
    root: str
    mode: str  # "major" / "minor"
    bpm: int
    seconds: float
    lead: str
    pad: str
    progression: tuple[int, ...]  # scale degrees, one chord per bar
    seed: int
    fmt: str  # "flac", "ogg", "mp3"


SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10]}


def synthesize(song: Song) -> np.ndarray:
    """A short piece: chords on the pad, an arpeggio/melody on the lead, a soft kick; stereo."""
    rng = np.random.default_rng(song.seed)
    n_total = int(song.seconds * RATE)
    left = np.zeros(n_total + RATE * 4)
    right = np.zeros_like(left)
    scale = SCALES[song.mode]
    base = 48 + NOTE[song.root]
    beat = 60.0 / song.bpm
    bar = 4 * beat
    bars = int(song.seconds / bar) + 1

    def add(sig: np.ndarray, start_s: float, gain: float, pan: float) -> None:
        i = int(start_s * RATE)
        j = min(i + len(sig), len(left))
        left[i:j] += sig[: j - i] * gain * (1 - pan)
        right[i:j] += sig[: j - i] * gain * (1 + pan)

    def degree(d: int, octave: int = 0) -> int:
        return base + 12 * (octave + d // 7) + scale[d % 7]

    for b in range(bars):
        chord = song.progression[b % len(song.progression)]
        start = b * bar
        notes = [degree(chord), degree(chord + 2), degree(chord + 4)]
        for k, m in enumerate(notes):
            add(_voice(_freq(m + 12), int(bar * RATE * 1.2), song.pad), start, 0.09, -0.3 + 0.3 * k)
        add(_voice(_freq(notes[0] - 12), int(bar * RATE), "pad"), start, 0.12, 0.0)
        # lead: an eighth-note pattern over the chord tones, with a little melody
        steps = 8
        for s in range(steps):
            if rng.random() < 0.22:
                continue
            d = chord + [0, 2, 4, 7, 4, 2, 5, 4][(s + b) % 8] + int(rng.integers(-1, 2)) * 0
            m = degree(d, 1)
            length = int(beat * RATE * (1.0 if s % 2 == 0 else 0.6))
            add(
                _voice(_freq(m), length, song.lead),
                start + s * beat / 2,
                0.16,
                0.35 if s % 2 else -0.35,
            )
        # kick on beats 1 and 3
        for k in (0, 2):
            kn = int(0.25 * RATE)
            t = np.arange(kn) / RATE
            kick = np.sin(2 * math.pi * (50 + 90 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
            add(kick, start + k * beat, 0.35, 0.0)
    # a simple stereo echo for space
    d = int(beat * 0.75 * RATE)
    left[d:] += 0.25 * right[:-d]
    right[d:] += 0.25 * left[:-d]
    stereo = np.stack([left[:n_total], right[:n_total]])
    fade = int(1.5 * RATE)
    stereo[:, -fade:] *= np.linspace(1, 0, fade)
    stereo[:, :2000] *= np.linspace(0, 1, 2000)
    peak = float(np.max(np.abs(stereo))) or 1.0
    return (stereo / peak * 0.85).astype(np.float32)


_ENCODINGS = {  # container, codec, sample format, planar
    "flac": ("flac", "flac", "s16", False),
    "ogg": ("ogg", "libvorbis", "fltp", True),
    "mp3": ("mp3", "libmp3lame", "s16p", True),
}


def encode(samples: np.ndarray, path: Path, fmt: str, tags: dict[str, str]) -> Path:
    """Encode stereo float samples to ``path`` with PyAV, then tag with mutagen."""
    import av

    container, codec, sample_fmt, planar = _ENCODINGS[fmt]
    try:
        out = av.open(str(path), "w", format=container)
        stream = cast("av.AudioStream", out.add_stream(codec, rate=RATE))
    except Exception:
        if fmt == "ogg":  # FFmpeg builds without libvorbis have the native encoder
            out.close()
            out = av.open(str(path), "w", format=container)
            stream = cast(
                "av.AudioStream",
                out.add_stream("vorbis", rate=RATE, options={"strict": "experimental"}),
            )
        else:
            raise
    with out:
        stream.layout = "stereo"
        stream.format = sample_fmt
        data = (samples * 32767).astype(np.int16) if sample_fmt.startswith("s16") else samples
        frame_size = 1152 if fmt == "mp3" else 4096
        pts = 0
        for i in range(0, data.shape[1], frame_size):
            block = data[:, i : i + frame_size]
            arr = block if planar else block.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(arr), format=sample_fmt, layout="stereo"
            )
            frame.sample_rate = RATE
            frame.pts = pts
            frame.time_base = Fraction(1, RATE)
            pts += block.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    _tag(path, fmt, tags)
    return path


def _tag(path: Path, fmt: str, tags: dict[str, str]) -> None:
    import mutagen

    if fmt == "mp3":
        from mutagen.easyid3 import EasyID3

        try:
            f = EasyID3(str(path))
        except Exception:
            f = mutagen.File(str(path), easy=True)
            f.add_tags()
        for k, v in tags.items():
            f[k] = v
        f.save()
        return
    f = mutagen.File(str(path))
    for k, v in tags.items():
        f[k] = v
    f.save()


# -- artwork ---------------------------------------------------------------------------------------
def _png(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def make_cover(
    style: int, c1: tuple[int, int, int], c2: tuple[int, int, int], seed: int, size: int = 360
) -> bytes:
    """A generated album cover: a gradient with circles, stripes or waves."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    a, b = np.array(c1, float), np.array(c2, float)
    mix = (x * 0.4 + y * 0.6)[..., None]
    img = a * (1 - mix) + b * mix
    if style == 0:  # sun and horizon
        cx, cy, r = 0.5, 0.55, 0.28
        d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
        sun = (d < r) & ((y < 0.62) | (np.sin(y * 90) > 0))
        img[sun] = img[sun] * 0.2 + np.array([255, 214, 150]) * 0.8
    elif style == 1:  # concentric rings
        d = np.sqrt((x - 0.3) ** 2 + (y - 0.7) ** 2)
        ring = np.sin(d * 48) > 0.55
        img[ring] = img[ring] * 0.55 + 255 * 0.45
    elif style == 2:  # waves
        for k in range(7):
            yy = 0.2 + k * 0.1 + 0.03 * np.sin(x * 12 + k)
            band = np.abs(y - yy) < 0.012
            img[band] = 245
    else:  # scattered dots
        for _ in range(40):
            cx, cy, r = rng.random(), rng.random(), 0.01 + rng.random() * 0.05
            d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
            img[d < r] = img[d < r] * 0.4 + 255 * 0.6
    noise = rng.normal(0, 4, img.shape)
    return _png(np.clip(img + noise, 0, 255).astype(np.uint8))


# -- the cast --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoRelease:
    title: str
    genre: str
    tags: tuple[str, ...]
    description: str
    price: str
    nyp: bool
    track_price: str | None
    cover: tuple[int, tuple[int, int, int], tuple[int, int, int]]
    songs: tuple[Song, ...]


@dataclass(frozen=True)
class DemoArtist:
    name: str
    releases: tuple[DemoRelease, ...]


def _cast(quick: bool) -> tuple[DemoArtist, ...]:
    s = 6.0 if quick else 1.0  # quick: short tracks for tests and the headless check

    def secs(v: float) -> float:
        return max(4.0, v / s)

    return (
        DemoArtist(
            "Lumen Drift",
            (
                DemoRelease(
                    "Night Ferry",
                    "Ambient",
                    ("ambient", "chill"),
                    "Slow chords for a crossing at night.",
                    "4.00",
                    False,
                    "1.50",
                    (0, (30, 40, 110), (220, 90, 120)),
                    (
                        Song(
                            "Harbour Lights",
                            "D",
                            "major",
                            84,
                            secs(24),
                            "bell",
                            "pad",
                            (0, 4, 5, 3),
                            1,
                            "flac",
                        ),
                        Song(
                            "Deck at 2 AM",
                            "A",
                            "minor",
                            76,
                            secs(22),
                            "pluck",
                            "pad",
                            (0, 5, 3, 4),
                            2,
                            "ogg",
                        ),
                        Song(
                            "Landfall",
                            "F",
                            "major",
                            90,
                            secs(20),
                            "bell",
                            "pad",
                            (0, 3, 4, 0),
                            3,
                            "mp3",
                        ),
                    ),
                ),
            ),
        ),
        DemoArtist(
            "Marrow & Moss",
            (
                DemoRelease(
                    "Small Rooms",
                    "Folk",
                    ("folk", "acoustic"),
                    "Plucked songs recorded in small rooms. Pay what you like.",
                    "3.00",
                    True,
                    None,
                    (2, (40, 90, 60), (200, 190, 120)),
                    (
                        Song(
                            "Kettle Song",
                            "G",
                            "major",
                            104,
                            secs(18),
                            "pluck",
                            "pad",
                            (0, 3, 4, 0),
                            4,
                            "flac",
                        ),
                        Song(
                            "Moss on the Sill",
                            "E",
                            "minor",
                            96,
                            secs(20),
                            "pluck",
                            "pad",
                            (0, 5, 6, 4),
                            5,
                            "ogg",
                        ),
                    ),
                ),
            ),
        ),
        DemoArtist(
            "Neon Harbor",
            (
                DemoRelease(
                    "Afterglow Drive",
                    "Synthwave",
                    ("synthwave", "electronic"),
                    "Late-night synths and a steady kick.",
                    "5.00",
                    False,
                    "2.00",
                    (0, (60, 20, 90), (250, 120, 60)),
                    (
                        Song(
                            "Coastline 1987",
                            "C",
                            "minor",
                            112,
                            secs(22),
                            "saw",
                            "pad",
                            (0, 5, 2, 6),
                            6,
                            "mp3",
                        ),
                        Song(
                            "Chrome Sunset",
                            "E",
                            "minor",
                            118,
                            secs(20),
                            "saw",
                            "pad",
                            (0, 3, 5, 4),
                            7,
                            "flac",
                        ),
                        Song(
                            "Tail Lights",
                            "A",
                            "minor",
                            108,
                            secs(18),
                            "saw",
                            "pad",
                            (5, 3, 0, 4),
                            8,
                            "ogg",
                        ),
                    ),
                ),
                DemoRelease(
                    "Pixel Tides",
                    "Electronic",
                    ("electronic", "chiptune"),
                    "Bright bells over tidal arpeggios.",
                    "2.50",
                    True,
                    None,
                    (1, (10, 70, 100), (120, 230, 200)),
                    (
                        Song(
                            "Low Tide",
                            "B",
                            "minor",
                            124,
                            secs(16),
                            "bell",
                            "pad",
                            (0, 4, 3, 5),
                            9,
                            "flac",
                        ),
                    ),
                ),
            ),
        ),
        DemoArtist(
            "Ottoline Vale",
            (
                DemoRelease(
                    "Paper Lanterns",
                    "Indie",
                    ("indie", "dream pop"),
                    "Bedroom dream pop with bells and tape echo.",
                    "4.50",
                    False,
                    None,
                    (3, (120, 40, 60), (250, 200, 140)),
                    (
                        Song(
                            "Lantern Walk",
                            "F",
                            "major",
                            100,
                            secs(20),
                            "bell",
                            "pad",
                            (0, 5, 3, 4),
                            10,
                            "ogg",
                        ),
                        Song(
                            "Folded Letters",
                            "D",
                            "minor",
                            92,
                            secs(18),
                            "pluck",
                            "pad",
                            (0, 3, 6, 4),
                            11,
                            "mp3",
                        ),
                    ),
                ),
            ),
        ),
    )


# -- the demo's nodes ----------------------------------------------------------------------------
@dataclass
class Actor:
    name: str
    role: str  # artist, seeder, gateway
    profile: Path
    online: bool  # runs as a node while the demo runs (an offline artist's laptop is shut)
    passphrase: str = ACTOR_PASSPHRASE

    def identity(self) -> IdentityInfo:
        return IdentityService(Profile(self.profile)).info()


# The node processes read stdin until it closes, then stop themselves with SIGTERM (a clean
# shutdown). The demo holds the write end, so when the demo ends, however it ends (a crash or
# kill -9 included), the kernel closes the pipe and no actor outlives it.
_LAUNCHER = """
import os, signal, sys, threading
def _watch_parent():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=_watch_parent, name="parent-watch", daemon=True).start()
from app.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class RunningActor:
    actor: Actor
    peer_id: str
    addr: str  # full multiaddr with /p2p/<peer id>
    addr_file: Path
    log: Path
    process: subprocess.Popen[bytes]


def _free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out on 127.0.0.1 (released again for the nodes to bind)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class DemoSwarm:
    """The demo's actors as real nodes: one ``cooptracks seed`` process per online actor, on
    127.0.0.1, bootstrapped to the seeder. Their addresses go to ``<root>/swarm.json``.

    ``roles`` limits which online actors run (tests start only the seeder); ``extra`` adds
    actors that are not in the world manifest (a test's own artist), ``bootstrap`` peers they
    dial besides this swarm's seeder, and ``name`` names the manifest (``<name>.json``). Use as
    a context manager, or ``start()`` and ``stop()``; ``settings()`` is the fan's node
    configuration.
    """

    def __init__(
        self,
        world: DemoWorld,
        roles: tuple[str, ...] = ("seeder", "gateway", "artist"),
        extra: tuple[Actor, ...] = (),
        settle_interval: float = 1.0,
        bootstrap: tuple[str, ...] = (),
        name: str = "swarm",
    ) -> None:
        self.world = world
        self.name = name
        self.bootstrap = bootstrap
        self.actors = [a for a in world.actors if a.online and a.role in roles] + list(extra)
        # the seeder first: everyone bootstraps to it
        self.actors.sort(key=lambda a: a.role != "seeder")
        self.settle_interval = settle_interval
        self.running: list[RunningActor] = []

    @property
    def manifest(self) -> Path:
        return self.world.root / f"{self.name}.json"

    def start(self) -> DemoSwarm:
        """Start every node process (returns at once; ``wait_ready`` waits for them)."""
        if self.running:
            return self
        logs = self.world.root / "logs"
        logs.mkdir(exist_ok=True)
        ports = _free_ports(len(self.actors))
        plan = []
        for actor, port in zip(self.actors, ports, strict=True):
            pid = actor.identity().peer_id
            plan.append((actor, pid, f"/ip4/127.0.0.1/tcp/{port}/p2p/{pid}"))
        seeders = [addr for a, _, addr in plan if a.role == "seeder"] + list(self.bootstrap)
        root = Path(__file__).resolve().parents[1]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        try:
            for (actor, pid, addr), port in zip(plan, ports, strict=True):
                slug = actor.profile.name
                addr_file = logs / f"{slug}.addr"
                addr_file.unlink(missing_ok=True)
                log_path = logs / f"{slug}.log"
                args = [
                    "--profile",
                    str(actor.profile),
                    "seed",
                    "--listen",
                    f"/ip4/127.0.0.1/tcp/{port}",
                    "--addr-file",
                    str(addr_file),
                    "--settle-interval",
                    str(self.settle_interval),
                    "--no-mdns",
                    "--pin",
                    "all" if actor.role == "seeder" else "none",
                ]
                for other in seeders:
                    if other != addr:
                        args += ["--peer", other]
                with open(log_path, "ab") as log_file:
                    proc = subprocess.Popen(
                        [sys.executable, "-c", _LAUNCHER, *args],
                        stdin=subprocess.PIPE,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        env={**env, "COOPTRACKS_PASSPHRASE": actor.passphrase},
                    )
                self.running.append(RunningActor(actor, pid, addr, addr_file, log_path, proc))
        except BaseException:
            self.stop()
            raise
        self._write_manifest()
        return self

    def _write_manifest(self) -> None:
        doc = {
            "actors": [
                {
                    "name": r.actor.name,
                    "role": r.actor.role,
                    "profile": str(r.actor.profile),
                    "peer_id": r.peer_id,
                    "addr": r.addr,
                    "pid": r.process.pid,
                    "log": str(r.log),
                }
                for r in self.running
            ]
        }
        self.manifest.write_text(json.dumps(doc, indent=2), encoding="utf-8")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every node listens; a node that exits instead is reported with its log."""
        deadline = time.monotonic() + timeout
        for r in self.running:
            while not (r.addr_file.exists() and r.addr_file.read_text().strip()):
                if r.process.poll() is not None or time.monotonic() > deadline:
                    tail = r.log.read_text(errors="replace")[-1500:] if r.log.exists() else ""
                    raise UserError(
                        f"the demo's {r.actor.role} {r.actor.name!r} did not start",
                        hint=f"its log ({r.log}) ends with:\n{tail}",
                    )
                time.sleep(0.05)

    def settings(self, listen: str = "/ip4/127.0.0.1/tcp/0") -> SwarmSettings:
        """The fan's node: bootstraps to every running actor and knows each actor's name."""
        from app.services.swarm import KnownPeer, SwarmSettings

        known: list[KnownPeer] = []
        for a in self.world.actors + [r.actor for r in self.running]:
            try:
                info = a.identity()
            except UserError:
                continue
            if all(k.peer_id != info.peer_id for k in known):
                known.append(KnownPeer(info.peer_id, a.name, a.role))
        return SwarmSettings(
            listen=(listen,),
            bootstrap=tuple(r.addr for r in self.running),
            known=tuple(known),
            label="demo swarm: real nodes on this machine",
        )

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every node cleanly (closing its pipe asks it to); kill what does not stop."""
        for r in self.running:
            if r.process.stdin is not None:
                try:
                    r.process.stdin.close()
                except OSError:
                    pass
        deadline = time.monotonic() + timeout
        for r in self.running:
            try:
                r.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("the demo's %s did not stop; killing it", r.actor.name)
                r.process.kill()
                r.process.wait()
        self.running = []
        self.manifest.unlink(missing_ok=True)

    def __enter__(self) -> DemoSwarm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the world -------------------------------------------------------------------------------------
@dataclass
class DemoWorld:
    root: Path
    fan: Path
    fan_passphrase: str
    actors: list[Actor]

    def actor(self, slug: str) -> Actor:
        """The actor whose profile folder is ``slug`` ("seeder", "artist-2", …)."""
        return next(a for a in self.actors if a.profile.name == slug)


def _manifest(root: Path) -> Path:
    return root / "world.json"


def load_world(root: Path | str) -> DemoWorld | None:
    root = Path(root)
    try:
        doc = json.loads(_manifest(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("version") != WORLD_VERSION:
        return None
    return DemoWorld(
        root,
        root / doc["fan"],
        doc["fan_passphrase"],
        [Actor(a["name"], a["role"], root / a["profile"], a["online"]) for a in doc["actors"]],
    )


def build_world(
    root: Path, quick: bool = False, fresh: bool = False, progress: ProgressFn | None = None
) -> DemoWorld:
    """Create (or reuse) the demo world under ``root``."""
    root = Path(root)
    if not fresh:
        world = load_world(root)
        if world is not None:
            return world
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    cast = _cast(quick)
    steps = 4 + sum(len(r.songs) for a in cast for r in a.releases)
    step = 0

    def tick() -> None:
        nonlocal step
        step += 1
        if progress:
            progress(step, steps)

    def make_identity(name: str, slug: str, passphrase: str = ACTOR_PASSPHRASE) -> Core:
        prof = Profile(root / slug)
        ids = IdentityService(prof, *FAST_KDF)
        ids.create(passphrase, name)
        prof.update_config(mdns=False)  # the demo swarm is this machine's own nodes: no LAN
        core = Core(prof, ids.unlock(passphrase))
        ProfileService(core, ids).publish(name)  # as `identity new --name` does: names are public
        return core

    gateway = make_identity("Demo Credits Gateway", "gateway")
    seeder = make_identity("Always-on Seeder", "seeder")
    fan = make_identity("You", "fan", FAN_PASSPHRASE)
    cores = [gateway, seeder, fan]
    wallet = WalletService(gateway)
    cred = wallet.issue("CRED", "Demo credits", 2, 10**12, ("stable",))
    wallet.mint(cred.id, "100000.00")
    wallet.send(fan.me, cred.id, "25.00")
    tick()
    actors = [
        Actor("Demo Credits Gateway", "gateway", root / "gateway", True),
        Actor("Always-on Seeder", "seeder", root / "seeder", True),
    ]
    audio_dir = root / "generated-audio"
    audio_dir.mkdir()
    coins: list[tuple[Core, CoinPlan, Asset | None]] = []  # artists with a coin on the exchange
    for n, artist in enumerate(cast):
        slug = f"artist-{n + 1}"
        core = make_identity(artist.name, slug)
        cores.append(core)
        converge(gateway, core)
        WalletService(core).set_trusted(gateway.me, True)
        studio = StudioService(core)
        for r_i, rel in enumerate(artist.releases):
            files = []
            for t_i, song in enumerate(rel.songs):
                path = audio_dir / f"{slug}-{r_i}-{t_i}.{song.fmt}"
                encode(
                    synthesize(song),
                    path,
                    song.fmt,
                    {
                        "title": song.title,
                        "artist": artist.name,
                        "album": rel.title,
                        "genre": rel.genre,
                        "tracknumber": str(t_i + 1),
                    },
                )
                files.append(path)
                tick()
            cover = audio_dir / f"{slug}-{r_i}.png"
            style, c1, c2 = rel.cover
            cover.write_bytes(make_cover(style, c1, c2, seed=n * 10 + r_i))
            studio.publish(
                ReleaseDraft(
                    files=tuple(files),
                    title=rel.title,
                    artist_name=artist.name,
                    price=rel.price,
                    asset=cred.id,
                    name_your_price=rel.nyp,
                    track_price=rel.track_price,
                    genre=rel.genre,
                    tags=rel.tags,
                    description=rel.description,
                    preview_seconds=8.0 if quick else 20.0,
                    artwork=cover,
                )
            )
        if n == 1:  # an artistcoin the fan has not chosen to trust: the wallet warns about it
            w = WalletService(core)
            coin = w.issue("MOSS", "Marrow & Moss supporter token", 0, 10_000, ("artistcoin",))
            w.mint(coin.id, "1000")
            w.send(fan.me, coin.id, "12")
            coins.append((core, MOSS, coin))
        if n == 2:
            coins.append((core, NEON, None))
        studio.delegate(seeder.me)  # the seeder sells while the artist's laptop is shut
        actors.append(Actor(artist.name, "artist", root / slug, slug in ONLINE_ARTISTS))
    cores += make_market(root, seeder, gateway, cred, coins, ACTOR_PASSPHRASE, FAST_KDF)
    cores += make_community(
        root, seeder, gateway, fan, cores[3:], cred, actors, Actor, ACTOR_PASSPHRASE, FAST_KDF
    )
    cores += make_funding(root, cores, cred, ACTOR_PASSPHRASE, FAST_KDF)
    tick()
    converge(*cores)  # the swarm's past: every replica holds every entry
    for core in cores:  # the seeder has pinned everything
        if core is seeder or core is fan:
            continue
        for content in core.chunks.content_ids():
            copy_content(core, seeder, content)
    for li in fan.ledger.state.current_listings():  # covers the fan saw last time; previews
        if li.artwork is not None:  # and tracks come over the swarm
            copy_content(seeder, fan, li.artwork)
    WalletService(fan).set_trusted(gateway.me, True)
    tick()
    for core in cores:
        core.close()
    doc = {
        "version": WORLD_VERSION,
        "quick": quick,
        "fan": "fan",
        "fan_passphrase": FAN_PASSPHRASE,
        "actors": [
            {"name": a.name, "role": a.role, "profile": a.profile.name, "online": a.online}
            for a in actors
        ],
    }
    _manifest(root).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    tick()
    return DemoWorld(root, root / "fan", FAN_PASSPHRASE, actors)


def default_demo_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("cooptracks", appauthor=False)) / "demo"


def original_file(world: DemoWorld, artist_name: str, release_title: str, track: int) -> Path:
    """The generated audio file a demo track was published from (to check downloads against)."""
    doc = json.loads(_manifest(world.root).read_text(encoding="utf-8"))
    for n, artist in enumerate(_cast(bool(doc.get("quick")))):
        for r_i, rel in enumerate(artist.releases):
            if artist.name == artist_name and rel.title == release_title:
                song = rel.songs[track]
                return world.root / "generated-audio" / f"artist-{n + 1}-{r_i}-{track}.{song.fmt}"
    raise KeyError(f"{artist_name} — {release_title} is not a demo release")


def make_sales(world: DemoWorld, artist_slug: str, count: int = 7) -> None:
    """History for the studio's sales chart: other fans bought from one artist earlier.

    World building, like the rest of ``build_world``: the buyers' entries are copied between
    the local profiles before any node runs; the artist grants when its node settles.
    """
    from app.services.shop import ShopService

    artist_actor = next(a for a in world.actors if a.profile.name == artist_slug)
    gateway_actor = next(a for a in world.actors if a.role == "gateway")
    seeder_actor = next(a for a in world.actors if a.role == "seeder")
    cores = [
        Core.open(Profile(a.profile), a.passphrase)
        for a in (gateway_actor, artist_actor, seeder_actor)
    ]
    gw, artist, _seeder = cores
    try:
        cred = next(a for a in gw.ledger.state.assets.values() if a.symbol == "CRED")
        amounts = ("2.50", "5.00", "4.00", "7.50", "3.00", "6.00", "9.00")[:count]
        for n, amount in enumerate(amounts):
            prof = Profile(world.root / f"buyer-{n}")
            ids = IdentityService(prof, *FAST_KDF)
            ids.create("buyer passphrase", f"Buyer {n}")
            with Core(prof, ids.unlock("buyer passphrase")) as buyer:
                WalletService(gw).send(buyer.me, cred.id, "20.00")
                converge(gw, buyer, artist)
                buyer.settle()
                shop = ShopService(buyer)
                mine = [li for li in shop.catalog() if li.artist_name == artist_actor.name]
                listing = mine[n % len(mine)]
                shop.buy(listing.id, amount=amount if listing.prices[0].nyp else None)
                converge(buyer, artist, gw)
            artist.settle()  # the artist grants, as its node does when it sees a purchase
            time.sleep(0.4)  # spread the sales over a few seconds for the chart
        converge(*cores)
    finally:
        for core in cores:
            core.close()


def fan_owns(world: DemoWorld, title: str) -> tuple[bytes, int]:
    """World building for screenshots and tests: the fan buys ``title``, its artist grants it,
    and the fan's profile holds the downloaded tracks (as the swarm would have left them).
    Returns (listing id, number of tracks). No node may be running on these profiles."""
    from app.services.shop import ShopService

    fan = Core.open(Profile(world.fan), world.fan_passphrase)
    artists = [
        Core.open(Profile(a.profile), a.passphrase) for a in world.actors if a.role == "artist"
    ]
    try:
        listing = next(li for li in fan.ledger.state.current_listings() if li.title == title)
        artist = next(a for a in artists if a.me == listing.artist)
        fan.settle()
        ShopService(fan).buy(listing.id, amount="4.00" if listing.prices[0].nyp else None)
        converge(fan, artist)
        artist.settle()
        converge(fan, artist)
        fan.settle()
        for t in listing.tracks:
            copy_content(artist, fan, t.content)
        return listing.id, len(listing.tracks)
    finally:
        for core in (fan, *artists):
            core.close()


# -- headless check --------------------------------------------------------------------------------
def run_check(root: Path, log_fn: Callable[[str], object] = print) -> dict[str, float]:
    """The fan's whole flow on the real swarm, without a window: the demo's actors run as node
    processes; the fan's node connects to them over 127.0.0.1; browse, search, preview (fetched
    over libp2p), buy from an artist whose laptop is shut, wait for the seeder's grant as sales
    agent, download over libp2p and check the decrypted bytes against the published file; then
    buy coins on the exchange and wait for the seeder to fill the takes as the offers' settler;
    vote on the label's question and wait for the seeder to count the vote as its settler."""
    import io

    import av

    from app.services.session import open_session
    from app.services.swarm import SwarmNetwork
    from content.source import DirectoryChunkSource
    from player.stream import DecryptingStream

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    world = build_world(root, quick=True, fresh=True)
    timings["build_s"] = time.monotonic() - t0
    log_fn(f"demo world built in {timings['build_s']:.1f} s under {root}")
    t1 = time.monotonic()
    with DemoSwarm(world) as swarm:
        swarm.wait_ready()
        timings["nodes_s"] = time.monotonic() - t1
        log_fn(
            f"{len(swarm.running)} node processes listening in {timings['nodes_s']:.1f} s: "
            + ", ".join(
                f"{r.actor.name} ({r.actor.role}) {r.addr.split('/p2p/')[0]}" for r in swarm.running
            )
        )
        network = SwarmNetwork(swarm.settings())
        session = open_session(Profile(world.fan), world.fan_passphrase, network)
        try:
            network.start(session.core)
            t2 = time.monotonic()
            _wait(
                lambda: len(network.status(session.core).online) == len(swarm.running),
                30,
                "the fan's node did not connect to every demo node",
            )
            st = network.status(session.core)
            log_fn(
                f"fan node {st.peer_id[:16]}… connected to {len(st.online)} peers "
                f"({st.reachability})"
            )
            session.refresh()
            cards = session.catalog()
            assert len(cards) >= 4, f"expected the demo releases, found {len(cards)}"
            log_fn(f"catalog: {len(cards)} releases: " + ", ".join(c.title for c in cards))
            hits = session.search("moss")
            assert hits, "search found nothing for 'moss'"
            page = session.release(hits[0])
            log_fn(
                f"release page: {page.card.artist} — {page.card.title}, {len(page.tracks)} "
                f"tracks, {page.card.price}; balance {page.balance}"
            )
            preview = page.tracks[0].preview
            if preview is not None:
                before = network.status(session.core).bytes_in
                data, mime, _ = session.preview_file(preview)
                with av.open(io.BytesIO(data), "r") as clip:
                    frames = sum(1 for _ in clip.decode(audio=0))
                received = network.status(session.core).bytes_in - before
                assert received >= len(data), "the preview did not come over the swarm"
                log_fn(
                    f"preview: {len(data)} bytes of {mime} fetched over libp2p, "
                    f"{frames} frames decoded"
                )
            else:
                log_fn("preview: none (the preview encoder is not available)")
            purchase = session.buy(page.card.id, page.min_price if page.nyp else None)
            _wait(
                lambda: (
                    bool(session.refresh().unlocked)
                    or session.release(page.card.id).purchase_state == "owned"
                ),
                60,
                "the purchase was not fulfilled (no grant from the artist or the seeder)",
            )
            state = session.core.ledger.state
            granters = {state.grants[g].granter for g in state.purchases[purchase].granted_by}
            names = {a.identity().public_key: a.name for a in world.actors}
            log_fn(
                "bought; granted by "
                + ", ".join(names.get(g, g.hex()[:12]) for g in granters)
                + "; the content keys are unlocked"
            )
            timings["grant_s"] = time.monotonic() - t2
            rows = [r for r in session.library_rows() if r.album == page.card.title]
            for row in rows:
                session.download(row.content, threading.Event())
            rows = [r for r in session.library_rows() if r.album == page.card.title]
            assert rows and all(r.ready for r in rows), "downloads incomplete"
            listing = session.shop.listing(page.card.id)
            for i, t in enumerate(listing.tracks):
                root_dir, key, mime = session.stream_parts(t.content)
                clear = DecryptingStream(DirectoryChunkSource(root_dir, t.content, key)).read()
                original = original_file(world, listing.artist_name, listing.title, i)
                assert clear == original.read_bytes(), f"{t.title!r} differs from the original"
            root_dir, key, mime = session.stream_parts(listing.tracks[0].content)
            stream = DecryptingStream(
                DirectoryChunkSource(root_dir, listing.tracks[0].content, key)
            )
            with av.open(io.BufferedReader(stream), "r") as track:
                frames = sum(1 for _ in track.decode(audio=0))
            assert frames > 10, "the decrypted track did not decode"
            st = network.status(session.core)
            log_fn(
                f"downloaded {len(rows)} tracks over libp2p ({st.bytes_in:,} bytes in); "
                f"decrypted bytes equal the published files; decoded {frames} frames of "
                f"{listing.tracks[0].title!r} ({mime})"
            )
            timings["fan_flow_s"] = time.monotonic() - t2
            t3 = time.monotonic()  # the exchange: buy coins; the seeder settles the makers'
            desk = session.exchange
            quote = desk.quote("MOSS", "CRED", "buy", "10")
            assert quote.can_place, f"the exchange cannot fill a buy: {quote.summary}"
            desk.place("MOSS", "CRED", "buy", "10", expect=quote)
            _wait(
                lambda: (
                    session.refresh() is not None
                    and all(t.status == "filled" for t in desk.my_trades())
                ),
                60,
                "the seeder did not fill the take on the exchange",
            )
            log_fn(
                f"trade ok: bought {quote.base_text} for {quote.quote_text} across "
                f"{len(quote.fills)} offer(s); filled by the seeder as their settler"
            )
            timings["trade_s"] = time.monotonic() - t3
            timings["vote_s"] = check_vote(world, session, _wait, log_fn)
            t4 = time.monotonic()
            check_funding(world, swarm, session, log_fn)
            timings["funding_s"] = time.monotonic() - t4
        finally:
            network.close()
            session.close()
    return timings


def _wait(cond: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.2)
