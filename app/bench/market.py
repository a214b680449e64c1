"""Exchange benchmark: ``cooptracks bench market --json`` (also ``bench exchange``).

* ``ingest_ratio``: a market history (coins handed to makers, credits to takers, offers, takes,
  the settler's fills and the receives that follow) ingested batch by batch into a fresh ledger
  file, against the raw single-core pynacl verify of the same entries measured batch by batch
  interleaved with it (as ``bench ledger`` does): total verify time / total ingest time.
  Goal: >= 0.6.
* ``settle``: what a settler does, through ingest, sign and commit: a ledger that holds the offers
  ingests takes in batches and answers each with a signed ``fill``, one durable commit per fill
  (``Ledger.append``), as the seeder's settle loop does. ``settle_fills_per_s``, against the raw
  rate of signing and verifying one entry (``raw_sign_verify_per_s``).
* ``book_p95_ms``: the order book query (``State.book(pair, now, limit=50)``, best 50 offers of
  one pair) with every offer of the run open on that one pair (100k in the full run), p95 over
  queries each made after an offer or a fill changed the book. ``book_build_ms``: the first query
  after a restart, which sorts the pair. ``rebuild_s``: reopening the ledger file (replaying every
  entry into the state). Goal: p95 < 5 ms at 100k open offers.
"""

from __future__ import annotations

import gc
import hashlib
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nacl import bindings as sodium

from ledger.entry import Entry, create_entry
from ledger.keys import Signer
from ledger.ledger import Ledger

T0 = 1_700_000_000_000
FAR = T0 + 10**11  # offers and takes that do not expire during the run


def _signer(name: str) -> Signer:
    return Signer.from_seed(hashlib.blake2b(name.encode(), digest_size=32).digest())


class _Market:
    """A valid market history, built quickly without a ledger."""

    def __init__(self, makers: int, takers: int) -> None:
        self.rnd = random.Random(11)
        self.heads: dict[bytes, Entry] = {}
        self.clock = T0
        self.gw, self.artist, self.seeder = (_signer(n) for n in ("gw", "artist", "seeder"))
        self.makers = [_signer(f"maker{i}") for i in range(makers)]
        self.takers = [_signer(f"taker{i}") for i in range(takers)]

    def add(
        self, who: Signer, kind: str, body: dict[str, Any], deps: Sequence[bytes] = ()
    ) -> Entry:
        head = self.heads.get(who.public_key)
        self.clock += 7
        e = create_entry(
            who,
            head.seq + 1 if head else 1,
            head.hash if head else None,
            self.clock,
            kind,
            body,
            sorted(set(deps)),
        )
        self.heads[who.public_key] = e
        return e

    def setup(self) -> list[Entry]:
        out = []
        self.crd = self.add(
            self.gw,
            "asset.issue",
            {
                "symbol": "CRD",
                "name": "Credits",
                "precision": 2,
                "max_supply": 10**15,
                "flags": ["stable"],
            },
        ).hash
        self.ann = self.add(
            self.artist,
            "asset.issue",
            {
                "symbol": "ANN",
                "name": "Ann coin",
                "precision": 0,
                "max_supply": 10**15,
                "flags": ["artistcoin"],
            },
        ).hash
        out += [self.heads[self.gw.public_key], self.heads[self.artist.public_key]]
        out.append(self.add(self.gw, "asset.mint", {"asset": self.crd, "amount": 10**14}))
        out.append(self.add(self.artist, "asset.mint", {"asset": self.ann, "amount": 10**14}))
        for people, giver, asset in (
            (self.makers, self.artist, self.ann),
            (self.takers, self.gw, self.crd),
        ):
            for p in people:
                sent = self.add(
                    giver,
                    "send",
                    {"asset": asset, "to": p.public_key, "amount": 10**11, "memo": ""},
                )
                out += [sent, self.add(p, "receive", {"transfers": [sent.hash]}, [sent.hash])]
        return out

    def offers(self, n: int) -> list[Entry]:
        out = []
        for i in range(n):
            amount = self.rnd.randint(100, 1000)
            out.append(
                self.add(
                    self.makers[i % len(self.makers)],
                    "offer",
                    {
                        "sell": self.ann,
                        "sell_amount": amount,
                        "want": self.crd,
                        "want_amount": amount * self.rnd.randint(20, 400),
                        "min_fill": 10,
                        "expires": FAR,
                        "fill_or_kill": False,
                        "settler": self.seeder.public_key,
                    },
                )
            )
        return out

    def take(self, offer: Entry, taker: Signer) -> Entry:
        amount = offer.body["sell_amount"]
        pay = -(-amount * offer.body["want_amount"] // amount)
        return self.add(
            taker,
            "take",
            {"offer": offer.hash, "amount": amount, "pay": pay, "deadline": FAR},
            [offer.hash],
        )

    def trades(self, offers: list[Entry]) -> list[Entry]:
        """Takes of ``offers``, the seeder's fills, and the takers' receives in batches."""
        out: list[Entry] = []
        due: dict[bytes, list[bytes]] = {}
        for i, offer in enumerate(offers):
            taker = self.takers[i % len(self.takers)]
            t = self.take(offer, taker)
            f = self.add(self.seeder, "fill", {"take": t.hash}, [t.hash])
            out += [t, f]
            # takers receive their coins; the makers' feeds already hold later offers here
            due.setdefault(taker.public_key, []).append(f.hash)
            for who, fills in list(due.items()):
                if len(fills) >= 16:
                    signer = next(s for s in self.takers if s.public_key == who)
                    out.append(self.add(signer, "receive", {"transfers": fills}, fills))
                    del due[who]
        return out


def _checks(entries: list[Entry]) -> list[tuple[bytes, bytes, bytes]]:
    return [(e.author, e.signature, e.signed_bytes) for e in entries]


def _verify(checks: list[tuple[bytes, bytes, bytes]]) -> None:
    for author, signature, message in checks:
        sodium.crypto_sign_open(signature + message, author)


def _ingest_vs_verify(led: Ledger, entries: list[Entry], batch: int = 1000) -> dict[str, Any]:
    wires = [e.wire for e in entries]
    checks = _checks(entries)
    verify_s = ingest_s = 0.0
    accepted = 0
    for i in range(0, len(wires), batch):
        t = time.perf_counter()
        _verify(checks[i : i + batch])
        t1 = time.perf_counter()
        report = led.ingest(wires[i : i + batch])
        ingest_s += time.perf_counter() - t1
        verify_s += t1 - t
        accepted += len(report.accepted)
        if report.rejected:
            raise RuntimeError(f"bench history rejected: {report.rejected[0].reason}")
    if accepted != len(wires) or led.pending_count():
        raise RuntimeError(f"bench history not fully accepted: {accepted}/{len(wires)}")
    return {
        "entries": len(wires),
        "ingest_per_s": round(len(wires) / ingest_s, 1),
        "raw_verify_per_s": round(len(wires) / verify_s, 1),
        "ratio": round(verify_s / ingest_s, 3),
    }


def _p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[-1] * 1000, 3)


def run(quick: bool = False) -> dict[str, Any]:
    n_offers = 10_000 if quick else 100_000
    n_trades = 2_000 if quick else 10_000
    n_settle = 300 if quick else 1_000
    gc.collect()
    with tempfile.TemporaryDirectory() as d:
        m = _Market(makers=50, takers=50)
        setup = m.setup()
        offers = m.offers(n_offers)
        trades = m.trades(offers[:n_trades])
        market_entries = [*setup, *offers[:n_trades], *trades]  # the ingest mix
        # 1. ingest of market entries against raw verify
        led = Ledger.open(Path(d) / "ingest.sqlite")
        try:
            ingest = _ingest_vs_verify(led, market_entries)
        finally:
            led.close()
        # 2. settling: takes arrive in batches, each answered with a signed, committed fill
        led = Ledger.open(Path(d) / "settle.sqlite")
        try:
            open_offers = offers[n_trades : n_trades + n_settle]
            led.ingest([e.wire for e in [*setup, *offers[:n_trades], *trades, *open_offers]])
            takes = [m.take(o, m.takers[i % len(m.takers)]) for i, o in enumerate(open_offers)]
            settle_s = 0.0
            for i in range(0, len(takes), 100):
                t = time.perf_counter()
                led.ingest([e.wire for e in takes[i : i + 100]])
                for take in takes[i : i + 100]:
                    led.append(
                        m.seeder, "fill", {"take": take.hash}, [take.hash], timestamp=T0 + 10**9
                    )
                settle_s += time.perf_counter() - t
            sample = _signer("sample")
            t = time.perf_counter()
            for i in range(n_settle):
                e = create_entry(sample, 1, None, T0 + i, "checkpoint", {"open": i})
                sodium.crypto_sign_open(e.signature + e.signed_bytes, e.author)
            sign_verify_s = time.perf_counter() - t
            # 3. the book with every remaining offer open on one pair
            led.ingest([e.wire for e in offers[n_trades + n_settle :]])
            state = led.state
            open_count = sum(1 for lk in state.locks.values() if lk.closed_by is None)
            samples = []
            extra = m.offers(200)
            for i, e in enumerate(extra):  # each query follows a change of the book
                led.ingest([e.wire])
                t = time.perf_counter()
                best = state.book(m.ann, m.crd, T0 + 10**9, limit=50)
                samples.append(time.perf_counter() - t)
                if i == 0 and len(best) != 50:
                    raise RuntimeError("the book query returned too few offers")
            path = led.store.path
        finally:
            led.close()
        t = time.perf_counter()
        led = Ledger.open(path)
        rebuild_s = time.perf_counter() - t
        try:
            t = time.perf_counter()
            led.state.book(m.ann, m.crd, T0 + 10**9, limit=50)
            build_ms = (time.perf_counter() - t) * 1000
            entries_held = led.count()
        finally:
            led.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "ingest_ratio": ingest["ratio"],
        "book_p95_ms": _p95(samples),
        "ingest": ingest,
        "settle_fills_per_s": round(n_settle / settle_s, 1),
        "raw_sign_verify_per_s": round(n_settle / sign_verify_s, 1),
        "open_offers_on_pair": open_count,
        "book_median_ms": round(statistics.median(samples) * 1000, 3),
        "book_build_ms": round(build_ms, 1),
        "rebuild_s": round(rebuild_s, 2),
        "rebuild_entries": entries_held,
        "trades": n_trades,
        "max_rss_mb": round(rss_mb, 1),
        "goals": {"ingest_ratio": ">= 0.6", "book_p95_ms": "< 5 at 100k open offers"},
    }
