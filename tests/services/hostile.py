"""What a hostile artist or buyer can write, built from real signed entries.

Each helper writes through the ledger's own ``append`` (so every entry is one the ledger accepts
from anybody) or, for keys the ledger must refuse, signs by hand and ingests the wire like a
network peer's entry.
"""

from __future__ import annotations

import os

from app.services.core import Core
from ledger.entry import Entry
from ledger.keys import seal_to
from ledger.state import Listing, compute_payouts
from tests.ledger.twisted import TwistedSigner, twisted_entry

__all__ = ["TwistedSigner", "twisted_entry"]


def raw_purchase(core: Core, listing: Listing, amount: int | None = None) -> Entry:
    """A purchase of the whole release written directly (the shop refuses one's own release)."""
    price = listing.prices[0]
    amount = price.amount if amount is None else amount
    payouts = compute_payouts(amount, listing.split, listing.remainder)
    return core.append(
        "purchase",
        {
            "listing": listing.id,
            "track": None,
            "asset": price.asset,
            "amount": amount,
            "payouts": [{"to": p.to, "amount": p.amount} for p in payouts],
        },
        deps=[listing.id],
    )


def raw_listing(
    core: Core,
    contents: list[bytes],
    asset: bytes,
    price: int = 100,
    artwork: bytes | None = None,
    title: str = "Hostile",
) -> Listing:
    """A listing of ``contents`` (which may be anybody's content IDs) by ``core``."""
    entry = core.append(
        "listing",
        {
            "title": title,
            "artist_name": "Eve",
            "genre": "",
            "tags": [],
            "description": "",
            "artwork": artwork,
            "tracks": [
                {"title": f"t{i}", "content": c, "preview": None, "duration_ms": 1000, "prices": []}
                for i, c in enumerate(contents)
            ],
            "prices": [{"asset": asset, "amount": price, "nyp": False}],
            "split": [{"to": core.me, "bps": 10_000}],
            "remainder": core.me,
            "supersedes": None,
        },
    )
    return core.ledger.state.listings[entry.hash]


def raw_delegation(
    core: Core, agent: bytes, sealed: dict[bytes, bytes], listings: list[bytes] | None = None
) -> Entry:
    """A delegation carrying whatever sealed bytes the author likes."""
    return core.append(
        "delegate",
        {
            "agent": agent,
            "listings": sorted(listings or []),
            "keys": [{"content": c, "sealed": s} for c, s in sealed.items()],
        },
    )


def garbage_sealed() -> bytes:
    return os.urandom(80)


def sealed_key(agent: bytes, key: bytes) -> bytes:
    return seal_to(agent, key)
