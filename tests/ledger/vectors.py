"""Ledger test vectors from fixed seeds and timestamps (tests/vectors/ledger.json).

Regenerate after an intentional format change (and say so in docs/PROTOCOL.md)::

    .venv/bin/python -m tests.ledger.vectors > tests/vectors/ledger.json

JSON conventions: byte strings are objects ``{"$hex": "..."}`` inside bodies, and plain hex strings
in the top-level fields whose names end in ``_hex`` or that are hashes/keys.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from content.format import pack
from ledger.entry import Entry, create_entry
from ledger.forks import make_fork_proof
from ledger.keys import Signer
from ledger.ledger import Ledger
from ledger.state import Share, compute_payouts

T0 = 1_700_000_000_000
SEEDS = {"gateway": "01" * 32, "artist": "02" * 32, "fan": "03" * 32, "agent": "04" * 32}
SEALED = bytes(range(80))  # a stand-in for a sealed box (sealing is randomised; never checked)


def to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$hex": value.hex()}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$hex"}:
            return bytes.fromhex(value["$hex"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def _history() -> tuple[dict[str, Signer], list[tuple[str, Entry]]]:
    s = {name: Signer.from_seed(bytes.fromhex(seed)) for name, seed in SEEDS.items()}
    heads: dict[bytes, Entry] = {}
    out: list[tuple[str, Entry]] = []
    clock = [T0]

    def add(name: str, kind: str, body: dict[str, Any], deps: list[bytes] = ()) -> Entry:
        who = s[name]
        head = heads.get(who.public_key)
        clock[0] += 1000
        e = create_entry(
            who,
            head.seq + 1 if head else 1,
            head.hash if head else None,
            clock[0],
            kind,
            body,
            list(deps),
        )
        heads[who.public_key] = e
        out.append((name, e))
        return e

    _gw, artist, fan = s["gateway"], s["artist"], s["fan"]
    issue = add(
        "gateway",
        "asset.issue",
        {
            "symbol": "CRD",
            "name": "Credits",
            "precision": 2,
            "max_supply": 1_000_000_000,
            "flags": ["stable"],
        },
    )
    add("gateway", "asset.mint", {"asset": issue.hash, "amount": 100_000})
    send = add(
        "gateway",
        "send",
        {"asset": issue.hash, "to": fan.public_key, "amount": 5_000, "memo": "welcome"},
    )
    add("fan", "receive", {"transfers": [send.hash]}, [send.hash])
    split = [Share(artist.public_key, 7000), Share(s["agent"].public_key, 3000)]
    listing = add(
        "artist",
        "listing",
        {
            "title": "Vector Album",
            "artist_name": "Vector Artist",
            "genre": "ambient",
            "tags": ["test"],
            "description": "",
            "artwork": None,
            "tracks": [
                {
                    "title": "One",
                    "content": bytes([0xC1]) * 32,
                    "preview": None,
                    "duration_ms": 60_000,
                    "prices": [],
                }
            ],
            "prices": [{"asset": issue.hash, "amount": 999, "nyp": False}],
            "split": [{"to": x.to, "bps": x.bps} for x in split],
            "remainder": artist.public_key,
            "supersedes": None,
        },
    )
    payouts = compute_payouts(999, split, artist.public_key)
    purchase = add(
        "fan",
        "purchase",
        {
            "listing": listing.hash,
            "track": None,
            "asset": issue.hash,
            "amount": 999,
            "payouts": [{"to": p.to, "amount": p.amount} for p in payouts],
        },
        [listing.hash],
    )
    add(
        "artist",
        "grant",
        {"purchase": purchase.hash, "keys": [{"content": bytes([0xC1]) * 32, "sealed": SEALED}]},
        [purchase.hash],
    )
    return s, out


TWISTED_SEED = "05" * 32


def refused_purchase(listing: Entry, asset: bytes, artist: bytes) -> Entry:
    """A purchase of the vector listing by a key with a small-order component: its signature
    verifies, but the key cannot convert to X25519, so the purchase rule refuses it."""
    from tests.ledger.twisted import TwistedSigner, twisted_entry

    payouts = compute_payouts(
        999,
        [
            Share(artist, 7000),
            Share(Signer.from_seed(bytes.fromhex(SEEDS["agent"])).public_key, 3000),
        ],
        artist,
    )
    return twisted_entry(
        TwistedSigner(bytes.fromhex(TWISTED_SEED)),
        1,
        None,
        T0 + 100_000,
        "purchase",
        {
            "listing": listing.hash,
            "track": None,
            "asset": asset,
            "amount": 999,
            "payouts": [{"to": p.to, "amount": p.amount} for p in payouts],
        },
        [listing.hash],
    )


def build_vectors() -> dict[str, Any]:
    _signers, history = _history()
    entries = []
    for name, e in history:
        entries.append(
            {
                "signer": name,
                "seed": SEEDS[name],
                "author": e.author.hex(),
                "seq": e.seq,
                "prev": None if e.prev is None else e.prev.hex(),
                "timestamp": e.timestamp,
                "deps": [d.hex() for d in e.deps],
                "kind": e.kind,
                "body": to_json(dict(e.body)),
                "body_hash": e.body_hash.hex(),
                "signed_bytes": e.signed_bytes.hex(),
                "signature": e.signature.hex(),
                "hash": e.hash.hex(),
                "wire": e.wire.hex(),
            }
        )
    eve = Signer.from_seed(bytes([0xEE]) * 32)
    fork_a = create_entry(eve, 1, None, T0, "profile", {"name": "Eve", "bio": "", "links": []})
    fork_b = create_entry(eve, 1, None, T0, "profile", {"name": "Eve!", "bio": "", "links": []})
    proof = make_fork_proof(fork_a, fork_b)
    listing = next(e for _, e in history if e.kind == "listing")
    issue = history[0][1]
    refused = refused_purchase(listing, issue.hash, listing.author)
    with tempfile.TemporaryDirectory() as d:
        led = Ledger.open(Path(d) / "v.sqlite", verify_threads=1)
        report = led.ingest([e.wire for _, e in history])
        assert not report.rejected and led.pending_count() == 0
        state_hash = led.state_hash().hex()
        refusal = led.ingest([refused.wire]).rejected[0].reason
        assert led.state_hash().hex() == state_hash
        led.close()
    key = bytes(range(32))
    plain = bytes(i % 251 for i in range(2500))
    packed = pack(plain, key, mime="audio/ogg", chunk_size=1024)
    preview = pack(b"preview bytes", None, mime="audio/ogg", chunk_size=1024)
    return {
        "description": "Cooptracks ledger test vectors; see docs/PROTOCOL.md, 'Test vectors'.",
        "entries": entries,
        "state_hash": {"of": "all entries above", "hash": state_hash},
        "fork_proof": {
            "seed": "ee" * 32,
            "entry_a_wire": fork_a.wire.hex(),
            "entry_b_wire": fork_b.wire.hex(),
            "author": proof.author.hex(),
            "seq": proof.seq,
            "hash_a": proof.hash_a.hex(),
            "hash_b": proof.hash_b.hex(),
            "proof": proof.encoded.hex(),
        },
        "refused_purchase": {
            "why": "the buyer key has a small-order component: the signature verifies, but the "
            "key does not convert to X25519, so no content key can be sealed to it",
            "seed": TWISTED_SEED,
            "author": refused.author.hex(),
            "wire": refused.wire.hex(),
            "hash": refused.hash.hex(),
            "reason": refusal,
        },
        "content": {
            "key": key.hex(),
            "plaintext": "bytes i % 251 for i in 0..2499",
            "mime": "audio/ogg",
            "chunk_size": 1024,
            "chunks": [c.hex() for c in packed.chunks],
            "chunk_hashes": [h.hex() for h in packed.manifest.chunks],
            "manifest": packed.manifest_bytes.hex(),
            "content_id": packed.content_id.hex(),
            "preview_plaintext": "preview bytes",
            "preview_manifest": preview.manifest_bytes.hex(),
            "preview_content_id": preview.content_id.hex(),
        },
    }


def main() -> None:
    json.dump(build_vectors(), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
