"""``cooptracks bench library``: import rate, search latency, time to first audio.

Figures and the limit each is compared with, all measured in the same run:

- ``import``: files/s for a full import (one read of each file for both the BLAKE2b hash and
  the tag parser, completeness checks, cover art stored once per distinct image with its header
  facts, SQLite insert with FTS triggers) over a few hundred generated, tagged files of all
  seven formats, a third of them with a tiny embedded cover, against the raw ``mutagen.File``
  read rate over the same files (page cache warm for both). Goal ratio >= 0.5.
- ``import_with_covers``: the same, but laid out as albums of 12 tracks whose files all embed
  that album's 500x500 JPEG cover (no goal; it shows what artwork costs), and the rate of the
  thumbnail pass that follows an import (``Library.make_thumbnails``: decode, scale, encode).
- ``search``: p50/p95 latency of ranked (bm25), prefix-matching queries of one or two words over
  100k catalog track rows, through ``Library.search``. Goal p95 < 5 ms. The limit beside it is the
  same FTS match without ranking or joins.
- ``first_audio``: time from "play" of a local encrypted track (open its manifest from the chunk
  store, build the decrypting stream, open the demuxer, decode until the first audio frame) to
  that first frame, against the same from the clear file on disk. PyAV does the decoding (the
  same FFmpeg that Qt Multimedia's backend uses), so no audio device is needed.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import mutagen

from content.chunkstore import ChunkStore
from content.format import new_track_key, pack
from content.source import DirectoryChunkSource
from player.catalog import CatalogRelease, CatalogTrack
from player.library import Library
from player.stream import DecryptingStream, demuxer_for

_ONSETS = [
    "",
    "b",
    "br",
    "c",
    "ch",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "pl",
    "r",
    "s",
    "sh",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"]
_CODAS = ["", "", "n", "r", "s", "t", "l", "nd", "ck", "ng", "m"]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    """Pronounceable made-up words with a realistic spread of 3-letter prefixes.

    The list is in rank order: callers pick words with Zipf-like weights, as words in real
    titles are (a few very common, a long tail of rare ones).
    """
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
            for _ in range(rng.randint(1, 3))
        )
        if len(word) >= 3 and word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _zipf_sample(rng: random.Random, words: list[str], k: int) -> list[str]:
    weights = [1.0 / (rank + 10) for rank in range(len(words))]
    return rng.choices(words, weights=weights, k=k)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- import -----------------------------------------------------------------------------------


def _audio_factory() -> Any:
    """The generator of real audio and image files the tests use too (player/samples.py)."""
    from player import samples

    return samples


_ALBUM_TRACKS = 12


def _make_files(folder: Path, count: int, rng: random.Random, covers: bool) -> int:
    """Tagged copies of one short tone per format; returns the number of distinct covers."""
    factory = _audio_factory()

    bases = [
        factory.make_tone(folder, f"base-{fmt}", fmt, seconds=1.0)
        for fmt in sorted(factory.FORMATS)
    ]
    words = _vocabulary(rng, 400)
    album_covers: dict[int, bytes] = {}
    for i in range(count):
        base = bases[i % len(bases)]
        path = folder / f"{i:04d} track{base.suffix}"
        shutil.copyfile(base, path)
        if covers:
            album = i // _ALBUM_TRACKS
            if album not in album_covers:
                album_covers[album] = factory.make_cover(500, 500, "jpeg", seed=album)
            artwork: bytes | None = album_covers[album]
        else:
            artwork = factory.TINY_PNG if i % 3 == 0 else None
        factory.tag_file(
            path,
            title=" ".join(rng.sample(words, 3)),
            artist=" ".join(rng.sample(words, 2)),
            album=rng.choice(words),
            genre=rng.choice(["Rock", "Jazz", "Folk", "Ambient"]),
            track=i % _ALBUM_TRACKS + 1,
            artwork=artwork,
        )
    for base in bases:
        base.unlink()
    return len(album_covers) if covers else 1


def _bench_import(work: Path, count: int, rounds: int, covers: bool = False) -> dict[str, Any]:
    rng = random.Random(1)
    folder = work / "music"
    folder.mkdir()
    distinct_covers = _make_files(folder, count, rng, covers)
    files = sorted(folder.iterdir())
    for path in files:  # warm the page cache so both passes read from memory
        path.read_bytes()
    # Interleaved rounds, best of each: the machines running this are shared, and a single
    # sub-second pass is at the mercy of whatever else runs.
    raw_s = import_s = reimport_s = thumbs_s = float("inf")
    for round_no in range(rounds):
        started = time.perf_counter()
        for path in files:
            mutagen.File(str(path))
        raw_s = min(raw_s, time.perf_counter() - started)

        library = Library(work / f"import-{round_no}.sqlite")
        started = time.perf_counter()
        report = library.import_folder(folder)
        import_s = min(import_s, time.perf_counter() - started)
        started = time.perf_counter()
        again = library.import_folder(folder)
        reimport_s = min(reimport_s, time.perf_counter() - started)
        stored = library.connection.execute("SELECT count(*) FROM artwork").fetchone()[0]
        started = time.perf_counter()
        thumbnails = library.make_thumbnails()
        thumbs_s = min(thumbs_s, time.perf_counter() - started)
        library.close()
        assert thumbnails == stored, (thumbnails, stored)
        assert report.added == count and not report.failed and not report.warnings, report
        assert again.unchanged == count, again
        assert stored == distinct_covers, (stored, distinct_covers)
    raw_rate, import_rate = count / raw_s, count / import_s
    return {
        "files": count,
        "formats": sorted({p.suffix[1:] for p in files}),
        "distinct_covers": distinct_covers,
        "mutagen_read_files_per_s": round(raw_rate, 1),
        "import_files_per_s": round(import_rate, 1),
        "ratio": round(import_rate / raw_rate, 3),
        **({} if covers else {"goal_ratio": 0.5}),
        "reimport_unchanged_files_per_s": round(count / reimport_s, 1),
        "thumbnails_per_s": round(distinct_covers / thumbs_s, 1),
        "rounds": rounds,
    }


# -- search -----------------------------------------------------------------------------------


def _releases(
    rng: random.Random, words: list[str], releases: int, per_release: int
) -> list[CatalogRelease]:
    genres = ["Rock", "Jazz", "Folk", "Ambient", "Hip Hop", "Classical", "Electronic", "Blues"]
    out = []
    for r in range(releases):
        artist = " ".join(_zipf_sample(rng, words, 2)).title()
        title = " ".join(_zipf_sample(rng, words, rng.randint(1, 3))).title()
        tracks = tuple(
            CatalogTrack(
                " ".join(_zipf_sample(rng, words, rng.randint(1, 4))).title(),
                rng.randbytes(32),
                rng.randbytes(32),
                rng.randint(60_000, 400_000),
            )
            for _ in range(per_release)
        )
        out.append(
            CatalogRelease(
                r.to_bytes(32, "big"),
                rng.randbytes(32),
                artist,
                title,
                rng.choice(genres),
                tuple(_zipf_sample(rng, words, 2)),
                tracks,
                1_700_000_000_000 + r,
            )
        )
    return out


def _bench_search(work: Path, rows: int, queries: int) -> dict[str, Any]:
    rng = random.Random(2)
    words = _vocabulary(rng, 3000)
    per_release = 10
    releases = _releases(rng, words, rows // per_release, per_release)
    library = Library(work / "search.sqlite")
    started = time.perf_counter()
    library.sync_catalog(releases)
    index_s = time.perf_counter() - started
    conn = library.connection
    # What people type: one or two words, often cut short (at least 3 letters), chosen with
    # the same skew as the catalog's own words.
    texts = []
    for _ in range(queries):
        picked = _zipf_sample(rng, words, rng.choice([1, 1, 2]))
        texts.append(" ".join(w[: rng.randint(3, len(w))] for w in picked))
    for text in texts[:20]:  # warm up
        library.search(text, scopes=("catalog",))
    ranked: list[float] = []
    raw: list[float] = []
    hits = 0
    from player.search import fts_query

    for text in texts:
        started = time.perf_counter()
        result = library.search(text, limit=50, scopes=("catalog",))
        ranked.append((time.perf_counter() - started) * 1000)
        hits += len(result.catalog)
        match = fts_query(text)
        started = time.perf_counter()
        conn.execute(
            "SELECT rowid FROM catalog_fts WHERE catalog_fts MATCH ? LIMIT 50", (match,)
        ).fetchall()
        raw.append((time.perf_counter() - started) * 1000)
    library.close()
    return {
        "catalog_rows": rows,
        "index_rows_per_s": round(rows / index_s, 1),
        "queries": queries,
        "mean_hits": round(hits / queries, 1),
        "p50_ms": round(_percentile(ranked, 0.5), 3),
        "p95_ms": round(_percentile(ranked, 0.95), 3),
        "p99_ms": round(_percentile(ranked, 0.99), 3),
        "max_ms": round(max(ranked), 3),
        "goal_p95_ms": 5.0,
        "unranked_match_p50_ms": round(_percentile(raw, 0.5), 3),
        "unranked_match_p95_ms": round(_percentile(raw, 0.95), 3),
    }


# -- time to first audio ----------------------------------------------------------------------


def _first_frame(stream: Any, fmt: str | None) -> None:
    with av.open(stream, format=fmt) as container:
        next(container.decode(audio=0))


def _bench_first_audio(work: Path, repeats: int) -> dict[str, Any]:
    path = _audio_factory().make_tone(work, "track", "mp3", seconds=30.0)
    key = new_track_key()
    packed = pack(path.read_bytes(), key, mime="audio/mpeg")
    store = ChunkStore(work / "content")
    store.put_packed(packed.manifest_bytes, packed.chunks)
    encrypted: list[float] = []
    clear: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        source = DirectoryChunkSource(store, packed.content_id, key)
        with DecryptingStream(source) as stream:
            _first_frame(stream, demuxer_for(source.manifest.mime))
        encrypted.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        _first_frame(str(path), None)
        clear.append((time.perf_counter() - started) * 1000)
    enc, plain = statistics.median(encrypted), statistics.median(clear)
    return {
        "track": "30 s MP3, 128 kbit/s, 256 KiB chunks",
        "chunks": len(packed.chunks),
        "encrypted_ms_median": round(enc, 3),
        "clear_file_ms_median": round(plain, 3),
        "ratio": round(enc / plain, 3),
    }


def run(quick: bool) -> dict[str, Any]:
    """Run the library benchmarks; ``quick`` keeps the run under a minute on a small machine."""
    with tempfile.TemporaryDirectory(prefix="cooptracks-bench-library-") as tmp:
        work = Path(tmp)
        (work / "import").mkdir()
        (work / "covers").mkdir()
        (work / "search").mkdir()
        (work / "audio").mkdir()
        return {
            "benchmark": "library",
            "quick": quick,
            "import": _bench_import(work / "import", 300 if quick else 800, 5 if quick else 7),
            "import_with_covers": _bench_import(
                work / "covers", 300 if quick else 800, 5 if quick else 7, covers=True
            ),
            "search": _bench_search(work / "search", 100_000, 300 if quick else 2000),
            "first_audio": _bench_first_audio(work / "audio", 10 if quick else 50),
        }
