"""The demo world: a few artists with releases of generated music, a credits gateway, a seeder,
and the user as a fan holding demo credits, all on this machine (Qt-free).

``build_world(root)`` makes the profiles once (music synthesised with numpy, encoded with PyAV,
published through the real StudioService; nothing is downloaded). ``LocalSwarm`` is the demo's
network: until the libp2p swarm (``p2p``) offers a node the app can drive, the demo actors run
in-process and replicate by passing signed entries between their ledgers
(``Ledger.feed_range`` + ``Ledger.ingest``, the same validation a network peer's entries get) and
copying verified chunks between chunk stores. The artists are "offline" (their laptops are shut);
the seeder is their delegated sales agent, so purchases are fulfilled by the seeder, as designed.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from nacl import pwhash

from app.profile import Profile
from app.services.core import Core
from app.services.errors import UserError
from app.services.identity import IdentityService
from app.services.studio import ReleaseDraft, StudioService
from app.services.ui_support import NetworkStatus, PeerView, ProgressFn
from app.services.wallet import WalletService
from ledger.keys import peer_id

log = logging.getLogger(__name__)

WORLD_VERSION = 3
FAN_PASSPHRASE = "cooptracks-demo"
ACTOR_PASSPHRASE = "demo-actor-passphrase"
FAST_KDF = (pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN)
RATE = 44100


# -- music -----------------------------------------------------------------------------------------
NOTE = {n: i for i, n in enumerate(["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#",
                                     "B"])}


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
        sig = (np.sin(2 * math.pi * freq * t) + 0.4 * np.sin(4 * math.pi * freq * t)
               + 0.15 * np.sin(6 * math.pi * freq * t))
        sig = sig * _env(n, 0.005, 0.35)
    elif timbre == "saw":
        sig = sum(np.sin(2 * math.pi * k * freq * t) / k for k in range(1, 8)) * 0.5
        sig = sig * _env(n, 0.01, 0.25)
    else:  # bell
        sig = np.sin(2 * math.pi * freq * t + 1.5 * np.sin(2 * math.pi * freq * 3.5 * t)
                     * np.exp(-t / 0.5))
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
            add(_voice(_freq(m), length, song.lead), start + s * beat / 2, 0.16,
                0.35 if s % 2 else -0.35)
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
        stream = out.add_stream(codec, rate=RATE)
    except Exception:
        if fmt == "ogg":  # FFmpeg builds without libvorbis have the native encoder
            out.close()
            out = av.open(str(path), "w", format=container)
            stream = out.add_stream("vorbis", rate=RATE, options={"strict": "experimental"})
        else:
            raise
    with out:
        stream.layout = "stereo"  # type: ignore[attr-defined]
        stream.format = sample_fmt  # type: ignore[attr-defined]
        data = (samples * 32767).astype(np.int16) if sample_fmt.startswith("s16") else samples
        frame_size = 1152 if fmt == "mp3" else 4096
        pts = 0
        for i in range(0, data.shape[1], frame_size):
            block = data[:, i:i + frame_size]
            arr = block if planar else block.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=sample_fmt,
                                               layout="stereo")
            frame.sample_rate = RATE
            frame.pts = pts
            frame.time_base = Fraction(1, RATE)
            pts += block.shape[1]
            for packet in stream.encode(frame):  # type: ignore[attr-defined]
                out.mux(packet)
        for packet in stream.encode(None):  # type: ignore[attr-defined]
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
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def make_cover(style: int, c1: tuple[int, int, int], c2: tuple[int, int, int], seed: int,
               size: int = 360) -> bytes:
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
        ring = (np.sin(d * 48) > 0.55)
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
        DemoArtist("Lumen Drift", (
            DemoRelease("Night Ferry", "Ambient", ("ambient", "chill"),
                        "Slow chords for a crossing at night.", "4.00", False, "1.50",
                        (0, (30, 40, 110), (220, 90, 120)), (
                            Song("Harbour Lights", "D", "major", 84, secs(24), "bell", "pad",
                                 (0, 4, 5, 3), 1, "flac"),
                            Song("Deck at 2 AM", "A", "minor", 76, secs(22), "pluck", "pad",
                                 (0, 5, 3, 4), 2, "ogg"),
                            Song("Landfall", "F", "major", 90, secs(20), "bell", "pad",
                                 (0, 3, 4, 0), 3, "mp3"))),
        )),
        DemoArtist("Marrow & Moss", (
            DemoRelease("Small Rooms", "Folk", ("folk", "acoustic"),
                        "Plucked songs recorded in small rooms. Pay what you like.", "3.00",
                        True, None, (2, (40, 90, 60), (200, 190, 120)), (
                            Song("Kettle Song", "G", "major", 104, secs(18), "pluck", "pad",
                                 (0, 3, 4, 0), 4, "flac"),
                            Song("Moss on the Sill", "E", "minor", 96, secs(20), "pluck", "pad",
                                 (0, 5, 6, 4), 5, "ogg"))),
        )),
        DemoArtist("Neon Harbor", (
            DemoRelease("Afterglow Drive", "Synthwave", ("synthwave", "electronic"),
                        "Late-night synths and a steady kick.", "5.00", False, "2.00",
                        (0, (60, 20, 90), (250, 120, 60)), (
                            Song("Coastline 1987", "C", "minor", 112, secs(22), "saw", "pad",
                                 (0, 5, 2, 6), 6, "mp3"),
                            Song("Chrome Sunset", "E", "minor", 118, secs(20), "saw", "pad",
                                 (0, 3, 5, 4), 7, "flac"),
                            Song("Tail Lights", "A", "minor", 108, secs(18), "saw", "pad",
                                 (5, 3, 0, 4), 8, "ogg"))),
            DemoRelease("Pixel Tides", "Electronic", ("electronic", "chiptune"),
                        "Bright bells over tidal arpeggios.", "2.50", True, None,
                        (1, (10, 70, 100), (120, 230, 200)), (
                            Song("Low Tide", "B", "minor", 124, secs(16), "bell", "pad",
                                 (0, 4, 3, 5), 9, "flac"),)),
        )),
        DemoArtist("Ottoline Vale", (
            DemoRelease("Paper Lanterns", "Indie", ("indie", "dream pop"),
                        "Bedroom dream pop with bells and tape echo.", "4.50", False, None,
                        (3, (120, 40, 60), (250, 200, 140)), (
                            Song("Lantern Walk", "F", "major", 100, secs(20), "bell", "pad",
                                 (0, 5, 3, 4), 10, "ogg"),
                            Song("Folded Letters", "D", "minor", 92, secs(18), "pluck", "pad",
                                 (0, 3, 6, 4), 11, "mp3"))),
        )),
    )


# -- replication -----------------------------------------------------------------------------------
def replicate(src: Core, dst: Core) -> int:
    """Copy every entry ``dst`` lacks from ``src`` (per-feed ranges, validated by ``ingest``)."""
    moved = 0
    for author, (seq, _) in src.ledger.frontier().items():
        have = dst.ledger.head_seq(author)
        if have < seq:
            wires = src.ledger.feed_range(author, have + 1, seq - have)
            dst.ledger.ingest(wires)
            moved += len(wires)
    return moved


def copy_content(src: Core, dst: Core, content: bytes, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None, bytes_per_s: float | None = None) -> int:
    """Copy a content item's manifest and missing chunks, each verified by the receiving store."""
    manifest_bytes = src.chunks.manifest_bytes(content)
    if manifest_bytes is None:
        raise UserError("no peer has this content")
    manifest = dst.chunks.put_manifest(manifest_bytes, content)
    total = len(manifest.chunks)
    missing = set(dst.chunks.missing_chunks(manifest))
    moved = 0
    done = total - len(missing)
    if progress:
        progress(done, total)
    for i, chunk_id in enumerate(manifest.chunks):
        if i not in missing:
            continue
        if cancel is not None and cancel.is_set():
            raise UserError("the download was cancelled; it resumes where it stopped")
        data = src.chunks.get_chunk(chunk_id)
        if data is None:
            raise UserError("a peer lost a chunk of this track")
        dst.chunks.put_chunk(data, chunk_id)
        moved += len(data)
        done += 1
        if bytes_per_s:
            time.sleep(len(data) / bytes_per_s)
        if progress:
            progress(done, total)
    return moved


@dataclass
class Actor:
    name: str
    role: str  # artist, seeder, gateway
    profile: Path
    online: bool
    core: Core | None = None
    passphrase: str = ACTOR_PASSPHRASE


class LocalSwarm:
    """The demo's network: in-process actors that replicate entries and serve chunks.

    It satisfies ``app.services.ui_support.Network``. ``bytes_per_s`` throttles chunk copies so
    downloads show progress as they would over a network (None: as fast as the disk).
    """

    def __init__(self, actors: list[Actor], bytes_per_s: float | None = 3_000_000) -> None:
        self.actors = actors
        self.bytes_per_s = bytes_per_s
        self._lock = threading.RLock()
        self.bytes_in = 0
        self.bytes_out = 0
        self._samples: list[tuple[float, int]] = []
        for a in actors:  # offline actors (artists with their laptops shut) stay closed
            if a.core is None and a.online:
                signer = IdentityService(Profile(a.profile)).unlock(a.passphrase)
                a.core = Core(Profile(a.profile), signer)

    def _online(self) -> list[Core]:
        return [a.core for a in self.actors if a.online and a.core is not None]

    def sync(self, core: Core) -> int:
        with self._lock:
            received = 0
            for peer in self._online():
                replicate(core, peer)
                received += replicate(peer, core)
            changed = False
            for peer in self._online():  # what the always-on nodes do by themselves
                report = peer.settle()
                changed |= bool(report.granted or report.received)
            if changed:
                for peer in self._online():
                    for other in self._online():
                        if other is not peer:
                            replicate(peer, other)
                    received += replicate(peer, core)
            return received

    def fetch(self, core: Core, content: bytes, progress: ProgressFn,
              cancel: threading.Event) -> None:
        if core.chunks.is_complete(content):
            m = core.chunks.manifest(content)
            n = len(m.chunks) if m else 1
            progress(n, n)
            return
        for peer in self._online():
            if peer.chunks.is_complete(content):
                def counted(done: int, total: int) -> None:
                    progress(done, total)

                moved = copy_content(peer, core, content, counted, cancel, self.bytes_per_s)
                with self._lock:
                    self.bytes_in += moved
                    self._samples.append((time.monotonic(), moved))
                return
        raise UserError("no online peer has this track yet", hint="try again in a moment")

    def status(self, core: Core) -> NetworkStatus:
        now = time.monotonic()
        with self._lock:
            self._samples = [(t, b) for t, b in self._samples if now - t < 10]
            rate = sum(b for _, b in self._samples) / 10.0
        peers = tuple(PeerView(a.name, self._peer_id(a), "in-process (loopback demo)", a.role,
                               a.online, 0.1 if a.online else None)
                      for a in self.actors if a.profile != core.profile.root)
        return NetworkStatus("demo swarm (in-process)", "in-process, no sockets",
                             "reachable by the demo peers on this machine", peers,
                             len(core.chunks.content_ids()), core.chunks.size_on_disk(),
                             self.bytes_in, self.bytes_out, rate, 0.0)

    @staticmethod
    def _peer_id(actor: Actor) -> str:
        if actor.core is not None:
            return peer_id(actor.core.me)
        try:
            return IdentityService(Profile(actor.profile)).info().peer_id
        except UserError:
            return "?"

    def close(self) -> None:
        for a in self.actors:
            if a.core is not None:
                a.core.close()
                a.core = None


# -- the world -------------------------------------------------------------------------------------
@dataclass
class DemoWorld:
    root: Path
    fan: Path
    fan_passphrase: str
    actors: list[Actor]

    def swarm(self, bytes_per_s: float | None = 3_000_000,
              extra: tuple[Actor, ...] = ()) -> LocalSwarm:
        """A fresh swarm over the world's actors (plus ``extra`` ones, e.g. a test's artist)."""
        return LocalSwarm([Actor(a.name, a.role, a.profile, a.online) for a in self.actors]
                          + [Actor(a.name, a.role, a.profile, a.online, None, a.passphrase)
                             for a in extra], bytes_per_s)


def _manifest(root: Path) -> Path:
    return root / "world.json"


def load_world(root: Path) -> DemoWorld | None:
    try:
        doc = json.loads(_manifest(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("version") != WORLD_VERSION:
        return None
    return DemoWorld(root, root / doc["fan"], doc["fan_passphrase"],
                     [Actor(a["name"], a["role"], root / a["profile"], a["online"])
                      for a in doc["actors"]])


def build_world(root: Path, quick: bool = False, fresh: bool = False,
                progress: ProgressFn | None = None) -> DemoWorld:
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
        return Core(prof, ids.unlock(passphrase))

    gateway = make_identity("Demo Credits Gateway", "gateway")
    seeder = make_identity("Always-on Seeder", "seeder")
    fan = make_identity("You", "fan", FAN_PASSPHRASE)
    cores = [gateway, seeder, fan]
    wallet = WalletService(gateway)
    cred = wallet.issue("CRED", "Demo credits", 2, 10**12, ("stable",))
    wallet.mint(cred.id, "100000.00")
    wallet.send(fan.me, cred.id, "25.00")
    tick()
    actors = [Actor("Demo Credits Gateway", "gateway", root / "gateway", True),
              Actor("Always-on Seeder", "seeder", root / "seeder", True)]
    audio_dir = root / "generated-audio"
    audio_dir.mkdir()
    for n, artist in enumerate(cast):
        slug = f"artist-{n + 1}"
        core = make_identity(artist.name, slug)
        cores.append(core)
        replicate(gateway, core)
        WalletService(core).set_trusted(gateway.me, True)
        studio = StudioService(core)
        for r_i, rel in enumerate(artist.releases):
            files = []
            for t_i, song in enumerate(rel.songs):
                path = audio_dir / f"{slug}-{r_i}-{t_i}.{song.fmt}"
                encode(synthesize(song), path, song.fmt,
                       {"title": song.title, "artist": artist.name, "album": rel.title,
                        "genre": rel.genre, "tracknumber": str(t_i + 1)})
                files.append(path)
                tick()
            cover = audio_dir / f"{slug}-{r_i}.png"
            style, c1, c2 = rel.cover
            cover.write_bytes(make_cover(style, c1, c2, seed=n * 10 + r_i))
            studio.publish(ReleaseDraft(
                files=tuple(files), title=rel.title, artist_name=artist.name, price=rel.price,
                asset=cred.id, name_your_price=rel.nyp, track_price=rel.track_price,
                genre=rel.genre, tags=rel.tags, description=rel.description,
                preview_seconds=8.0 if quick else 20.0, artwork=cover))
        if n == 1:  # an artistcoin the fan has not chosen to trust: the wallet warns about it
            w = WalletService(core)
            coin = w.issue("MOSS", "Marrow & Moss supporter token", 0, 10_000, ("artistcoin",))
            w.mint(coin.id, "1000")
            w.send(fan.me, coin.id, "12")
        studio.delegate(seeder.me)  # the seeder sells while the artist's laptop is shut
        actors.append(Actor(artist.name, "artist", root / slug, False))
    tick()
    for _ in range(2):  # everyone converges
        for a in cores:
            for b in cores:
                if a is not b:
                    replicate(a, b)
    for core in cores:  # the seeder pins everything; the fan starts with covers and previews
        if core is seeder or core is fan:
            continue
        for content in core.chunks.content_ids():
            copy_content(core, seeder, content)
    fan_state = fan.ledger.state
    for li in fan_state.current_listings():
        clear = [li.artwork] + [t.preview for t in li.tracks]
        for c in clear:
            if c is not None:
                copy_content(seeder, fan, c)
    WalletService(fan).set_trusted(gateway.me, True)
    tick()
    for core in cores:
        core.close()
    doc = {"version": WORLD_VERSION, "fan": "fan", "fan_passphrase": FAN_PASSPHRASE,
           "actors": [{"name": a.name, "role": a.role, "profile": a.profile.name,
                       "online": a.online} for a in actors]}
    _manifest(root).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    tick()
    return DemoWorld(root, root / "fan", FAN_PASSPHRASE, actors)


def default_demo_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("cooptracks", appauthor=False)) / "demo"


def make_sales(world: DemoWorld, artist_slug: str, count: int = 7) -> None:
    """A handful of other fans buy from one artist, spread over a few seconds (Qt-free)."""
    from nacl import pwhash

    from app.services.shop import ShopService

    artist = next(a for a in world.actors if a.profile.name == artist_slug)
    swarm = world.swarm(None, extra=(Actor(artist.name, "artist", artist.profile, True),))
    gw = next(a.core for a in swarm.actors if a.role == "gateway")
    assert gw is not None
    cred = next(a for a in gw.ledger.state.assets.values() if a.symbol == "CRED")
    try:
        amounts = ("2.50", "5.00", "4.00", "7.50", "3.00", "6.00", "9.00")[:count]
        for n, amount in enumerate(amounts):
            prof = Profile(world.root / f"buyer-{n}")
            ids = IdentityService(prof, pwhash.argon2id.OPSLIMIT_MIN,
                                  pwhash.argon2id.MEMLIMIT_MIN)
            ids.create("buyer passphrase", f"Buyer {n}")
            with Core(prof, ids.unlock("buyer passphrase")) as buyer:
                WalletService(gw).send(buyer.me, cred.id, "20.00")
                replicate(gw, buyer)
                swarm.sync(buyer)
                shop = ShopService(buyer)
                mine = [li for li in shop.catalog() if li.artist_name == artist.name]
                listing = mine[n % len(mine)]
                price = listing.prices[0]
                shop.buy(listing.id, amount=amount if price.nyp else None)
                swarm.sync(buyer)
                replicate(gw, buyer)
            time.sleep(0.4)
    finally:
        swarm.close()


# -- headless check --------------------------------------------------------------------------------
def run_check(root: Path, log_fn=print) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Browse, preview, buy, download and decode a track as the fan, without a window."""
    import io

    import av

    from app.services.ui_support import open_session
    from player.chunkstore import DirectoryChunkSource
    from player.stream import DecryptingStream

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    world = build_world(root, quick=True, fresh=True)
    timings["build_s"] = time.monotonic() - t0
    log_fn(f"demo world built in {timings['build_s']:.1f} s under {root}")
    swarm = world.swarm(bytes_per_s=None)
    session = open_session(Profile(world.fan), world.fan_passphrase, swarm)
    try:
        t1 = time.monotonic()
        session.refresh()
        cards = session.catalog()
        assert len(cards) >= 4, f"expected the demo releases, found {len(cards)}"
        log_fn(f"catalog: {len(cards)} releases: " + ", ".join(c.title for c in cards))
        hits = session.search("neon")
        assert hits, "search found nothing for 'neon'"
        page = session.release(hits[0])
        log_fn(f"release page: {page.card.artist} — {page.card.title}, {len(page.tracks)} "
               f"tracks, {page.card.price}; balance {page.balance}")
        preview = page.tracks[0].preview
        if preview is not None:
            data, mime, _ = session.preview_file(preview)
            with av.open(io.BytesIO(data)) as clip:
                frames = sum(1 for _ in clip.decode(audio=0))
            log_fn(f"preview: {len(data)} bytes of {mime}, {frames} frames decoded")
        else:
            log_fn("preview: none (the preview encoder is not available)")
        session.buy(page.card.id, None)
        report = session.refresh()
        assert report.unlocked, "the purchase was not fulfilled by the seeder"
        log_fn("bought; the seeder granted the purchase and the keys are unlocked")
        for row in session.library_rows():
            session.download(row.content, threading.Event())
        rows = session.library_rows()
        assert rows and all(r.ready for r in rows), "downloads incomplete"
        root_dir, key, mime = session.stream_parts(rows[0].content)
        stream = DecryptingStream(DirectoryChunkSource(root_dir, rows[0].content, key))
        with av.open(io.BufferedReader(stream)) as track:  # type: ignore[arg-type]
            frames = sum(1 for _ in track.decode(audio=0))
        assert frames > 10, "the decrypted track did not decode"
        log_fn(f"downloaded {len(rows)} tracks; decoded {frames} frames of "
               f"{rows[0].title!r} ({mime}) from the encrypted store")
        timings["fan_flow_s"] = time.monotonic() - t1
    finally:
        session.close()
        swarm.close()
    return timings
