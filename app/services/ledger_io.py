"""Ledger export, import and verification as JSON lines, for backups, audits and scripting.

Each line is one entry: ``{"hash", "author", "seq", "kind", "timestamp", "wire"}`` with the bytes
in lowercase hex. Only ``wire`` matters on import; the other fields are for people and tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ledger.entry import decode_entry
from ledger.ledger import IngestReport, Ledger
from ledger.store import Store


def export_lines(ledger: Ledger) -> Iterator[str]:
    for wire in ledger.store.iter_wires():
        e = decode_entry(wire)
        yield json.dumps(
            {
                "hash": e.hash.hex(),
                "author": e.author.hex(),
                "seq": e.seq,
                "kind": e.kind,
                "timestamp": e.timestamp,
                "wire": wire.hex(),
            }
        )


@dataclass
class ImportResult:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    pending: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def parse_lines(stream: Iterable[str | bytes], result: ImportResult) -> list[tuple[int, bytes]]:
    """The wires of the stream's lines; each bad line (binary, not JSON, no hex ``wire``) is
    reported with its number and the reading goes on."""
    out = []
    for number, raw in enumerate(stream, 1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                result.lines += 1
                result.rejected.append(
                    (number, f"not text: a binary line ({exc.reason} at byte {exc.start})")
                )
                continue
        else:
            line = raw
        if not line.strip():
            continue
        result.lines += 1
        try:
            doc = json.loads(line)
            wire = bytes.fromhex(doc["wire"])
        except (ValueError, KeyError, TypeError) as exc:
            result.rejected.append((number, f"not a JSON line with a hex 'wire': {exc}"))
            continue
        out.append((number, wire))
    return out


def import_stream(ledger: Ledger, stream: Iterable[str | bytes]) -> ImportResult:
    """Ingest every line; each bad entry is reported with its line and reason, nothing else
    changes because of it."""
    result = ImportResult()
    items = parse_lines(stream, result)
    report: IngestReport = ledger.ingest([w for _, w in items])
    # Rejections name an entry hash, or None for bytes that did not decode; the latter are
    # matched to the undecodable lines in order.
    by_hash: dict[bytes, int] = {}
    undecodable: list[int] = []
    for number, wire in items:
        try:
            by_hash[decode_entry(wire).hash] = number
        except Exception:
            undecodable.append(number)
    for rejection in report.rejected:
        line = (
            by_hash.get(rejection.hash)
            if rejection.hash
            else (undecodable.pop(0) if undecodable else 0)
        )
        result.rejected.append((line or 0, rejection.reason))
    result.rejected.sort()
    result.accepted = len(report.accepted)
    result.duplicates = report.duplicates
    result.pending = ledger.pending_count()
    return result


def verify_file(stream: Iterable[str | bytes]) -> ImportResult:
    """Check a JSON-lines export on its own, in a throwaway in-memory ledger."""
    ledger = Ledger(Store(":memory:"), verify_threads=1)
    try:
        return import_stream(ledger, stream)
    finally:
        ledger.close()


def verify_store(ledger: Ledger) -> list[str]:
    """Re-check every stored entry's signature and chain, and SQLite's integrity. Problems."""
    problems = []
    check = ledger.store.integrity_check()
    if check != "ok":
        problems.append(f"sqlite integrity_check: {check}")
    fresh = Ledger(Store(":memory:"), verify_threads=2)
    try:
        report = fresh.ingest(list(ledger.store.iter_wires()))
        problems += [f"{(r.hash or b'').hex()[:12]}: {r.reason}" for r in report.rejected]
        if fresh.pending_count():
            problems.append(f"{fresh.pending_count()} stored entries lack their dependencies")
        if not problems and fresh.state_hash() != ledger.state_hash():
            problems.append("state hash differs from a fresh replay")
    finally:
        fresh.close()
    return problems
