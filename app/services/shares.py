"""Referral and seeder shares on the buyer's side: the receipt that names the seeders a purchase
was downloaded from (docs/PROTOCOL.md, "Referral and seeder shares").

A purchase of a listing that reserves a seeders' share holds that share in a lock of the buyer's
feed until the buyer's ``receipt``. The buyer's node writes it once every track the purchase
unlocks is stored here, naming the providers the swarm downloaded them from with the bytes each
delivered (``Node.served_by``). Content that was already here, or downloaded before a restart,
counts for nobody; a receipt that names nobody pays the share to the listing's remainder
recipient. Each purchase is handled on its own: one that fails is logged and left for the next
round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from app.services.core import Core
from app.services.errors import UserError
from ledger.errors import LedgerError
from ledger.features.shares import MAX_SEEDERS

log = logging.getLogger(__name__)

Served = Callable[[bytes], Mapping[bytes, int]]  # content ID -> {provider key: bytes}


def seeders_for(core: Core, purchase: bytes, served: Served) -> list[tuple[bytes, int]]:
    """(seeder key, bytes) for a receipt of ``purchase``: the bytes each provider delivered of
    the tracks it unlocks, summed, the buyer itself left out, the ``MAX_SEEDERS`` largest."""
    state = core.ledger.state
    p = state.purchases[purchase]
    totals: dict[bytes, int] = {}
    for content in state.listings[p.listing].contents(p.track):
        for key, count in served(content).items():
            if key != core.me and count > 0:
                totals[key] = totals.get(key, 0) + count
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:MAX_SEEDERS]


def due_receipts(core: Core) -> list[bytes]:
    """Our purchases that hold a seeders' share and whose tracks are all stored here."""
    state = core.ledger.state
    out = []
    for pid in state.awaiting_receipt(core.me):
        p = state.purchases[pid]
        if all(core.chunks.is_complete(c) for c in state.listings[p.listing].contents(p.track)):
            out.append(pid)
    return out


def write_receipt(
    core: Core, purchase: bytes, seeders: list[tuple[bytes, int]] | None = None
) -> bytes:
    """Write the receipt of one of our purchases; ``seeders`` None: nobody (the held share goes
    to the listing's remainder recipient). Raises UserError."""
    core.require_writable()
    state = core.ledger.state
    p = state.purchases.get(purchase)
    if p is None or p.buyer != core.me:
        raise UserError("that is not one of your purchases")
    if not state.seeders_share(purchase):
        raise UserError("that purchase holds no seeders' share (or its receipt is written)")
    body = {
        "purchase": purchase,
        "seeders": [{"to": key, "bytes": count} for key, count in seeders or []],
    }
    return core.append("receipt", body).hash


def write_due_receipts(core: Core, served: Served) -> list[bytes]:
    """Write the receipts of our purchases whose tracks are all here; returns the receipts."""
    written = []
    for pid in due_receipts(core):
        try:
            written.append(write_receipt(core, pid, seeders_for(core, pid, served)))
        except (UserError, LedgerError) as exc:  # this purchase only; retried next round
            log.info("receipt of %s not written: %s", pid.hex()[:12], exc)
    return written
