"""What a hostile artist or buyer can write, built from real signed entries.

Each helper writes through the ledger's own ``append`` (so every entry is one the ledger accepts
from anybody) or, for keys the ledger must refuse, signs by hand and ingests the wire like a
network peer's entry.
"""

from __future__ import annotations

import os
from typing import Any

from nacl import bindings as sodium

from app.services.core import Core
from ledger.entry import Entry, create_entry
from ledger.keys import seal_to, verify_fast
from ledger.state import Listing, compute_payouts

_P = 2**255 - 19


def raw_purchase(core: Core, listing: Listing, amount: int | None = None) -> Entry:
    """A purchase of the whole release written directly (the shop refuses one's own release)."""
    price = listing.prices[0]
    amount = price.amount if amount is None else amount
    payouts = compute_payouts(amount, listing.split, listing.remainder)
    return core.append("purchase", {
        "listing": listing.id, "track": None, "asset": price.asset, "amount": amount,
        "payouts": [{"to": p.to, "amount": p.amount} for p in payouts]}, deps=[listing.id])


def raw_listing(core: Core, contents: list[bytes], asset: bytes, price: int = 100,
                artwork: bytes | None = None, title: str = "Hostile") -> Listing:
    """A listing of ``contents`` (which may be anybody's content IDs) by ``core``."""
    entry = core.append("listing", {
        "title": title, "artist_name": "Eve", "genre": "", "tags": [], "description": "",
        "artwork": artwork,
        "tracks": [{"title": f"t{i}", "content": c, "preview": None, "duration_ms": 1000,
                    "prices": []} for i, c in enumerate(contents)],
        "prices": [{"asset": asset, "amount": price, "nyp": False}],
        "split": [{"to": core.me, "bps": 10_000}], "remainder": core.me, "supersedes": None})
    return core.ledger.state.listings[entry.hash]


def raw_delegation(core: Core, agent: bytes, sealed: dict[bytes, bytes],
                   listings: list[bytes] | None = None) -> Entry:
    """A delegation carrying whatever sealed bytes the author likes."""
    return core.append("delegate", {
        "agent": agent, "listings": sorted(listings or []),
        "keys": [{"content": c, "sealed": s} for c, s in sealed.items()]})


def garbage_sealed() -> bytes:
    return os.urandom(80)


def sealed_key(agent: bytes, key: bytes) -> bytes:
    return seal_to(agent, key)


class TwistedSigner:
    """Signs with a real seed under its public key plus the order-2 point (0, -1).

    libsodium verifies such a signature whenever the challenge scalar is even, but cannot
    convert the key to X25519: nothing can be sealed to it.
    """

    def __init__(self, seed: bytes) -> None:
        from nacl.signing import SigningKey

        self.seed = seed
        pk = int.from_bytes(bytes(SigningKey(seed).verify_key), "little")
        y, sign = pk & ((1 << 255) - 1), pk >> 255
        self.public_key = ((_P - y) % _P | ((sign ^ 1) << 255)).to_bytes(32, "little")

    def sign(self, message: bytes) -> bytes:
        return sodium.crypto_sign(message, self.seed + self.public_key)[:64]


def twisted_entry(signer: TwistedSigner, seq: int, prev: bytes | None, timestamp: int,
                  kind: str, body: dict[str, Any], deps: list[bytes]) -> Entry:
    """An entry by ``signer`` whose signature verifies (the timestamp is nudged until it does)."""
    for ts in range(timestamp, timestamp + 256):
        entry = create_entry(signer, seq, prev, ts, kind, body, deps)  # type: ignore[arg-type]
        if verify_fast(entry.author, entry.signed_bytes, entry.signature):
            return entry
    raise AssertionError("no verifying signature found")
