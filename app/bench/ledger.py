"""Ledger benchmark: ingest and append rates, each as a ratio to a limit measured in the same run.

* ``ingest``: entries from many authors (transfers, receives, listings, purchases with splits,
  grants, profiles) fed to a fresh ledger file in batches, as a peer sync delivers them: decode,
  schema, signature, chain, dependencies, rules and a durable commit per batch. The limit is the
  raw single-core pynacl verify rate (``crypto_sign_open``) over the same entries, measured just
  before each ingest run. Goal: >= 0.70. Measured twice: with the ledger's opt-in fast thread
  switch interval (``Ledger(switch_interval=FAST_SWITCH_INTERVAL)``, as ``cooptracks ledger
  import`` uses) and without it (the default, as in the desktop app); the goal is judged on the
  first, and both ratios are reported.
* ``append``: sign + durable commit of one local entry per transaction, against a raw ``sqlite3``
  loop committing one row per transaction with the same durability settings (WAL, synchronous
  FULL).

``run(quick)`` returns a JSON-able dict; ``cooptracks bench ledger --json`` prints it.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from nacl import bindings as sodium

from ledger.entry import Entry, create_entry
from ledger.keys import Signer
from ledger.ledger import FAST_SWITCH_INTERVAL, Ledger
from ledger.state import Share, compute_payouts

T0 = 1_700_000_000_000


class _Gen:
    """Builds a valid multi-author history quickly, tracking heads and spendable balances."""

    def __init__(self, authors: int, seed: int = 7) -> None:
        self.rnd = random.Random(seed)
        self.signers = [Signer.from_seed(hashlib.blake2b(b"bench%d" % i, digest_size=32).digest())
                        for i in range(authors + 1)]
        self.gw = self.signers[0]
        self.people = self.signers[1:]
        self.heads: dict[bytes, Entry] = {}
        self.entries: list[Entry] = []
        self.clock = T0
        self.balance: dict[bytes, int] = {}
        self.inflight: dict[tuple[bytes, bytes], int] = {}
        self.incoming: dict[bytes, list[bytes]] = {}
        self.listings: list[tuple[Entry, Signer, list[Share]]] = []
        self.ungranted: list[tuple[Entry, Entry, Signer]] = []

    def add(self, who: Signer, kind: str, body: dict[str, Any], deps: list[bytes] = ()) -> Entry:
        head = self.heads.get(who.public_key)
        self.clock += 7
        e = create_entry(who, head.seq + 1 if head else 1, head.hash if head else None,
                         self.clock, kind, body, list(deps))
        self.heads[who.public_key] = e
        self.entries.append(e)
        pk = who.public_key
        if kind == "send":
            self.balance[pk] = self.balance.get(pk, 0) - body["amount"]
            self.inflight[(e.hash, body["to"])] = body["amount"]
            self.incoming.setdefault(body["to"], []).append(e.hash)
        elif kind == "purchase":
            self.balance[pk] = self.balance.get(pk, 0) - body["amount"]
            for x in body["payouts"]:
                self.inflight[(e.hash, x["to"])] = x["amount"]
                self.incoming.setdefault(x["to"], []).append(e.hash)
        elif kind == "receive":
            got = sum(self.inflight.pop((t, pk)) for t in body["transfers"])
            self.balance[pk] = self.balance.get(pk, 0) + got
        elif kind == "asset.mint":
            self.balance[pk] = self.balance.get(pk, 0) + body["amount"]
        return e

    def build(self, total: int) -> list[Entry]:
        gw, rnd = self.gw, self.rnd
        self.asset = asset = self.add(gw, "asset.issue", {
            "symbol": "CRD", "name": "Credits", "precision": 2, "max_supply": 10**15,
            "flags": ["stable"]}).hash
        self.add(gw, "asset.mint", {"asset": asset, "amount": 10**13})
        for p in self.people:
            self.add(gw, "send", {"asset": asset, "to": p.public_key, "amount": 1_000_000,
                                  "memo": ""})
        artists = self.people[: max(2, len(self.people) // 10)]
        for i, a in enumerate(artists):
            other = self.people[(i + 1) % len(self.people)]
            split = [Share(a.public_key, 7000), Share(other.public_key, 3000)]
            li = self.add(a, "listing", {
                "title": f"Release {i}", "artist_name": f"Artist {i}", "genre": "ambient",
                "tags": ["bench"], "description": "", "artwork": None,
                "tracks": [{"title": f"T{t}", "content": hashlib.blake2b(
                    b"%d/%d" % (i, t), digest_size=32).digest(), "preview": None,
                    "duration_ms": 180_000, "prices": []} for t in range(3)],
                "prices": [{"asset": asset, "amount": 999, "nyp": False}],
                "split": [{"to": s.to, "bps": s.bps} for s in split],
                "remainder": a.public_key, "supersedes": None})
            self.listings.append((li, a, split))
        while len(self.entries) < total:
            who = rnd.choice(self.people)
            pk = who.public_key
            r = rnd.random()
            if self.incoming.get(pk) and (r < 0.3 or self.balance.get(pk, 0) < 1000):
                got = self.incoming.pop(pk)[:64]
                self.add(who, "receive", {"transfers": got}, got)
            elif r < 0.55 and self.balance.get(pk, 0) >= 1000:
                to = rnd.choice(self.people)
                if to is who:
                    continue
                self.add(who, "send", {"asset": asset, "to": to.public_key,
                                       "amount": rnd.randint(1, 500), "memo": "thanks"})
            elif r < 0.8 and self.balance.get(pk, 0) >= 1000:
                li, artist, split = rnd.choice(self.listings)
                payouts = compute_payouts(999, split, artist.public_key)
                p = self.add(who, "purchase", {
                    "listing": li.hash, "track": None, "asset": asset, "amount": 999,
                    "payouts": [{"to": x.to, "amount": x.amount} for x in payouts]}, [li.hash])
                self.ungranted.append((p, li, artist))
            elif r < 0.92 and self.ungranted:
                p, li, artist = self.ungranted.pop(0)
                keys = [{"content": t["content"], "sealed": os.urandom(80)}
                        for t in li.body["tracks"]]
                self.add(artist, "grant", {"purchase": p.hash, "keys": keys}, [p.hash])
            else:
                self.add(who, "profile", {"name": f"Person {len(self.entries)}",
                                          "bio": "bench", "links": []})
        return self.entries



def _history(authors: int, total: int) -> list[Entry]:
    return _Gen(authors).build(total)


def _verify_rate(entries: list[Entry]) -> float:
    start = time.perf_counter()
    for e in entries:
        sodium.crypto_sign_open(e.signature + e.signed_bytes, e.author)
    return len(entries) / (time.perf_counter() - start)


def _ingest_rate(entries: list[Entry], path: Path, batch: int,
                 switch_interval: float | None) -> tuple[float, int]:
    wires = [e.wire for e in entries]
    led = Ledger.open(path, switch_interval=switch_interval)
    try:
        start = time.perf_counter()
        accepted = 0
        for i in range(0, len(wires), batch):
            report = led.ingest(wires[i:i + batch])
            accepted += len(report.accepted)
        elapsed = time.perf_counter() - start
        if accepted != len(wires) or led.pending_count():
            raise RuntimeError(f"bench history not fully accepted: {accepted}/{len(wires)}")
        return len(wires) / elapsed, accepted
    finally:
        led.close()


def _append_rate(folder: Path, n: int) -> float:
    led = Ledger.open(folder / "append.sqlite")
    me = Signer.from_seed(bytes([9]) * 32)
    try:
        start = time.perf_counter()
        for i in range(n):
            led.append(me, "profile", {"name": f"me {i}", "bio": "", "links": []})
        return n / (time.perf_counter() - start)
    finally:
        led.close()


def _raw_sqlite_rate(folder: Path, n: int) -> float:
    conn = sqlite3.connect(folder / "raw.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, hash BLOB UNIQUE, data BLOB)")
    payload = os.urandom(300)
    try:
        start = time.perf_counter()
        for _i in range(n):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (hash, data) VALUES (?, ?)", (os.urandom(32), payload))
            conn.execute("COMMIT")
        return n / (time.perf_counter() - start)
    finally:
        conn.close()


def run(quick: bool = True) -> dict[str, Any]:
    authors, total, batch, appends = (200, 20_000, 1000, 300) if quick else \
        (500, 100_000, 1000, 1000)
    t = time.perf_counter()
    entries = _history(authors, total)
    build_s = time.perf_counter() - t
    kinds: dict[str, int] = {}
    for e in entries:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    with tempfile.TemporaryDirectory(prefix="cooptracks-bench-") as d:
        folder = Path(d)
        verify = _verify_rate(entries)
        ingest, _ = _ingest_rate(entries, folder / "ingest.sqlite", batch, FAST_SWITCH_INTERVAL)
        verify_default = _verify_rate(entries)
        ingest_default, _ = _ingest_rate(entries, folder / "ingest-default.sqlite", batch, None)
        append = _append_rate(folder, appends)
        raw = _raw_sqlite_rate(folder, appends)
    return {
        "benchmark": "ledger",
        "quick": quick,
        "authors": authors + 1,
        "entries": len(entries),
        "batch": batch,
        "kinds": kinds,
        "history_build_s": round(build_s, 3),
        "ingest_per_s": round(ingest, 1),
        "raw_verify_per_s": round(verify, 1),
        "ingest_vs_verify": round(ingest / verify, 3),
        "ingest_switch_interval_s": FAST_SWITCH_INTERVAL,
        "ingest_default_per_s": round(ingest_default, 1),
        "raw_verify_default_per_s": round(verify_default, 1),
        "ingest_default_vs_verify": round(ingest_default / verify_default, 3),
        "ingest_goal": 0.70,
        "ingest_ok": ingest / verify >= 0.70,
        "append_per_s": round(append, 1),
        "raw_sqlite_commit_per_s": round(raw, 1),
        "append_vs_raw_commit": round(append / raw, 3),
        "cores": os.cpu_count(),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=1))
