"""Votes benchmark: ``cooptracks bench votes --json``.

A token-weighted proposal with 100k votes from distinct voters (10k with ``--quick``), each voter
first given its coins (a send and a receive, ingested untimed). Timed: the votes, then the
settler's counts (63 votes each) and its close, ingested batch by batch into a fresh ledger file,
against the raw single-core pynacl verify of the same entries measured batch by batch interleaved
with it (as ``bench market`` does; the ledger lowers the thread switch interval during ingest,
as ``bench ledger`` does). ``tally_ratio`` = total verify time / total ingest time,
the result included (it is computed when the close is applied). Goal: >= 0.6.
``running_tally_ms``: the view of the latest votes held (``State.running_tally``) over all of
them, which a client shows before the close.
"""

from __future__ import annotations

import gc
import hashlib
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.bench.market import _ingest_vs_verify
from ledger.entry import Entry, create_entry
from ledger.features.governance import MAX_COUNTED
from ledger.keys import Signer
from ledger.ledger import FAST_SWITCH_INTERVAL, Ledger

T0 = 1_700_000_000_000


def _signer(name: str) -> Signer:
    return Signer.from_seed(hashlib.blake2b(name.encode(), digest_size=32).digest())


def _history(voters: int) -> tuple[list[Entry], list[Entry], list[Entry], bytes]:
    """(setup, votes, counts and close, proposal id): a valid history, built without a ledger."""
    heads: dict[bytes, Entry] = {}
    clock = [T0]

    def add(
        who: Signer,
        kind: str,
        body: dict[str, Any],
        deps: Sequence[bytes] = (),
        at: int | None = None,
    ) -> Entry:
        head = heads.get(who.public_key)
        clock[0] += 1
        e = create_entry(
            who,
            head.seq + 1 if head else 1,
            head.hash if head else None,
            at if at is not None else clock[0],
            kind,
            body,
            sorted(set(deps)),
        )
        heads[who.public_key] = e
        return e

    issuer, seeder = _signer("issuer"), _signer("seeder")
    setup = [
        add(
            issuer,
            "asset.issue",
            {"symbol": "COOP", "name": "Coop", "precision": 0, "max_supply": 10**15, "flags": []},
        )
    ]
    coin = setup[0].hash
    setup.append(add(issuer, "asset.mint", {"asset": coin, "amount": 10**12}))
    people = [_signer(f"voter{i}") for i in range(voters)]
    for i, p in enumerate(people):
        sent = add(
            issuer, "send", {"asset": coin, "to": p.public_key, "amount": 100 + i % 100, "memo": ""}
        )
        setup += [sent, add(p, "receive", {"transfers": [sent.hash]}, [sent.hash])]
    closes = T0 + 10**9
    proposal = add(
        issuer,
        "proposal",
        {
            "title": "Sign the artist?",
            "text": "",
            "style": "yes_no",
            "choices": ["yes", "no"],
            "closes": closes,
            "settler": seeder.public_key,
            "charter": None,
            "action": None,
            "method": "token",
            "asset": coin,
            "members": [],
            "min_holding": 0,
            "quorum": 1,
            "threshold_bps": 5001,
        },
    )
    setup.append(proposal)
    votes = [
        add(
            p,
            "vote",
            {
                "proposal": proposal.hash,
                "choices": [i % 2],
                "units": 1 + i % 100,
                "qualifier": None,
            },
            [proposal.hash],
        )
        for i, p in enumerate(people)
    ]
    counts = []
    for i in range(0, len(votes), MAX_COUNTED):
        batch = [v.hash for v in votes[i : i + MAX_COUNTED]]
        last = i + MAX_COUNTED >= len(votes)
        counts.append(
            add(
                seeder,
                "close" if last else "count",
                {"proposal": proposal.hash, "votes": sorted(batch)},
                [proposal.hash, *batch],
                at=closes + 1 + i,
            )
        )
    return setup, votes, counts, proposal.hash


def run(quick: bool = False) -> dict[str, Any]:
    voters = 10_000 if quick else 100_000
    gc.collect()
    t = time.perf_counter()
    setup, votes, counts, proposal = _history(voters)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        led = Ledger.open(Path(d) / "votes.sqlite", switch_interval=FAST_SWITCH_INTERVAL)
        try:
            for i in range(0, len(setup), 5000):
                report = led.ingest([e.wire for e in setup[i : i + 5000]])
                if report.rejected:
                    raise RuntimeError(f"bench setup rejected: {report.rejected[0].reason}")
            timed = _ingest_vs_verify(led, [*votes, *counts])
            state = led.state
            result = state.results[proposal]
            if result.voters != voters:
                raise RuntimeError(f"the close counted {result.voters} of {voters} voters")
            t = time.perf_counter()
            running = state.running_tally(state.proposals[proposal])
            running_s = time.perf_counter() - t
            if running.tally != result.tally:
                raise RuntimeError("the running tally differs from the close's result")
        finally:
            led.close()
    return {
        "tally_ratio": timed["ratio"],
        "voters": voters,
        "entries_timed": timed["entries"],
        "ingest_per_s": timed["ingest_per_s"],
        "raw_verify_per_s": timed["raw_verify_per_s"],
        "count_entries": len(counts),
        "result": {"tally": list(result.tally), "turnout": result.turnout, "passed": result.passed},
        "running_tally_ms": round(running_s * 1000, 2),
        "build_history_s": round(build_s, 1),
        "goals": {"tally_ratio": ">= 0.6"},
    }
