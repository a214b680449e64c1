"""Referral and seeder shares of a sale (a listing's optional ``shares`` term, a purchase's
optional ``referrer``, and the kind ``receipt``).

A listing may reserve, out of each purchase's amount and before its split, ``referrer`` basis
points for an identity the buyer names in its purchase, and ``seeders`` basis points for the
seeders that served the buyer. Both are decided by the buyer's own feed, so both are decidable
from feed prefixes and deps alone:

* the referrer's share is a payout of the purchase itself (merged with the referrer's split payout
  if it has one); a purchase that names no referrer pays that share through the split as usual;
* the seeders' share is held in a lock of the buyer's feed (named by the purchase), and the
  buyer's ``receipt`` for that purchase, written once its download is done, names the seeders it
  downloaded from with the bytes each served: each gets ``⌊held × bytes / Σ bytes⌋`` in flight from
  the receipt, the rounding rest (or all of it, for a receipt that names no seeder) goes to the
  listing's remainder recipient. One receipt per purchase: the lock closes with it.

What a self-owned second account can gain: the buyer names its referrer and its seeders, and
nothing in the ledger can tell a second account of the buyer from another person. So a buyer can
steer the reserved shares of its *own* purchase to itself, which is at most a discount of
``referrer + seeders`` basis points on that purchase (never more than 50%: ``MAX_RESERVED_BPS``).
It cannot collect anything from other people's purchases, which name their own referrers and
seeders. The buyer's own key is refused as referrer or seeder, which only keeps honest clients
honest.

Rules and conflict cases: docs/PROTOCOL.md, "Referral and seeder shares".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.encoding import INT_MAX
from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features import selling
from ledger.features.base import DepIndex, Feature
from ledger.features.money import send_in_flight
from ledger.features.selling import (
    BPS_TOTAL,
    Listing,
    Payout,
    Reserve,
    compute_payouts,
    merge_payouts,
)
from ledger.features.settlement import Lock
from ledger.schema import Kind, array, hash32, integer, public_key, record

if TYPE_CHECKING:
    from ledger.state import State

MAX_SEEDERS = 16
SEEDERS_LOCK = "purchase"  # the purpose of the lock holding a purchase's seeders' share


@dataclass(frozen=True)
class Receipt:
    id: bytes
    buyer: bytes
    purchase: bytes
    seeders: tuple[tuple[bytes, int], ...]  # (seeder, bytes served), as the buyer named them
    payouts: tuple[Payout, ...]
    timestamp: int


def listing_shares(listing: Listing) -> tuple[int, int]:
    """(seeders bps, referrer bps) the listing reserves; (0, 0) when it has no shares term."""
    shares = listing.terms.get("shares")
    return (0, 0) if shares is None else (shares["seeders"], shares["referrer"])


def purchase_payouts(
    listing: Listing, amount: int, referrer: bytes | None
) -> tuple[list[Payout], int]:
    """(payouts, held seeders' share) of a purchase of ``amount``, as the purchase rule wants
    them (for clients that compose a purchase or show a sale)."""
    seeders_bps, referrer_bps = listing_shares(listing)
    extra = [Payout(referrer, amount * referrer_bps // BPS_TOTAL)] if referrer is not None else []
    held = amount * seeders_bps // BPS_TOTAL
    base = amount - held - sum(p.amount for p in extra)
    return merge_payouts(compute_payouts(base, listing.split, listing.remainder), extra), held


def seeder_payouts(held: int, seeders: list[tuple[bytes, int]], remainder: bytes) -> list[Payout]:
    """The receipt's payouts: ``⌊held × bytes / Σ bytes⌋`` to each seeder in the order named, the
    rounding rest (or everything, with no seeder named) to ``remainder``."""
    total = sum(b for _, b in seeders)
    paid = [Payout(to, held * b // total) for to, b in seeders] if total else []
    rest = held - sum(p.amount for p in paid)
    return merge_payouts(paid, [Payout(remainder, rest)])


class SharesView:
    receipts: dict[bytes, Receipt]  # receipt entry -> receipt
    _receipt_of: dict[bytes, bytes]  # purchase -> its receipt

    def seeders_share(self, purchase: bytes) -> int:
        """What the purchase still holds for its seeders (0: nothing held, or receipted)."""
        lock = self.locks.get(purchase)  # type: ignore[attr-defined]
        return 0 if lock is None or lock.purpose != SEEDERS_LOCK else lock.amount

    def receipt_of(self, purchase: bytes) -> Receipt | None:
        rid = self._receipt_of.get(purchase)
        return None if rid is None else self.receipts[rid]

    def awaiting_receipt(self, buyer: bytes) -> list[bytes]:
        """The buyer's purchases whose seeders' share waits for its receipt."""
        return sorted(
            p.id
            for p in self.purchases_by(buyer)  # type: ignore[attr-defined]
            if self.seeders_share(p.id)
        )

    def referrals_of(self, referrer: bytes) -> list[bytes]:
        """Purchases that name ``referrer``."""
        return sorted(
            p.id
            for p in self.purchases.values()  # type: ignore[attr-defined]
            if p.terms.get("referrer") == referrer
        )


def _check_listing(state: State, entry: Entry, body: Mapping[str, Any]) -> None:
    """LISTING_TERMS: the shares reserved are at most ``MAX_RESERVED_BPS`` together."""
    shares = body.get("shares")
    if shares is not None and shares["seeders"] + shares["referrer"] > selling.MAX_RESERVED_BPS:
        raise SemanticError(
            f"a listing reserves at most {selling.MAX_RESERVED_BPS} basis points "
            "for seeders and a referrer together"
        )


def _reserve(
    state: State, entry: Entry, body: Mapping[str, Any], listing: Listing, amount: int
) -> Reserve:
    """RESERVE_TERMS: the referrer's payout and the seeders' held share of one purchase."""
    seeders_bps, referrer_bps = listing_shares(listing)
    referrer = body.get("referrer")
    payouts: tuple[Payout, ...] = ()
    if referrer is not None:
        if not referrer_bps:
            raise SemanticError("the listing reserves no referrer share: name no referrer")
        if referrer == entry.author:
            raise SemanticError("a buyer cannot be its own referrer")
        payouts = (Payout(referrer, amount * referrer_bps // BPS_TOTAL),)
    held = amount * seeders_bps // BPS_TOTAL
    if not held:
        return Reserve(payouts)

    def hold() -> None:
        # The purchase already debited the buyer: the held share moves into a lock of the
        # buyer's feed that only its receipt for this purchase ends.
        state.locks[entry.hash] = Lock(
            entry.hash, SEEDERS_LOCK, entry.author, body["asset"], held, entry.author, INT_MAX
        )

    return Reserve(payouts, held, hold)


def apply_receipt(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """The buyer names the seeders that served a purchase; the held share goes to them."""
    purchase = state.purchases.get(body["purchase"])
    if purchase is None or purchase.buyer != entry.author:
        raise SemanticError("a receipt names a purchase of its author")
    if body["purchase"] in state._receipt_of:
        raise SemanticError("the purchase already has a receipt: its seeders were paid")
    lock = state.locks.get(purchase.id)
    if lock is None or lock.purpose != SEEDERS_LOCK:
        raise SemanticError("the purchase holds no seeders' share")
    seeders = [(s["to"], s["bytes"]) for s in body["seeders"]]
    if len({to for to, _ in seeders}) != len(seeders):
        raise SemanticError("a seeder appears twice in the receipt")
    if any(to == entry.author for to, _ in seeders):
        raise SemanticError("a buyer does not name itself as a seeder")
    listing = state.listings[purchase.listing]
    payouts = seeder_payouts(lock.amount, seeders, listing.remainder)
    for payout in payouts:
        send_in_flight(state, entry, payout.to, lock.asset, payout.amount)
    lock.amount = 0
    lock.closed_by = entry.hash
    state.receipts[entry.hash] = Receipt(
        entry.hash, entry.author, purchase.id, tuple(seeders), tuple(payouts), entry.timestamp
    )
    state._receipt_of[purchase.id] = entry.hash


def _tables(state: State) -> None:
    state.receipts = {}
    state._receipt_of = {}


def _hash_sections(state: State) -> dict[str, Any]:
    if not state.receipts:
        return {}
    return {
        "receipts": sorted(
            [r.id, r.purchase, [[p.to, p.amount] for p in r.payouts]]
            for r in state.receipts.values()
        )
    }


selling.LISTING_TERMS.append(_check_listing)
selling.RESERVE_TERMS.append(_reserve)

SEEDER = record(to=public_key, bytes=integer(1))

FEATURE = Feature(
    name="shares",
    kinds=(
        Kind(
            "receipt",
            record(purchase=hash32, seeders=array(SEEDER, MAX_SEEDERS)),
            "The buyer names the seeders that served a purchase, with the bytes each served; "
            "the share the purchase held for seeders is paid out pro rata.",
        ),
    ),
    rules={"receipt": apply_receipt},
    tables=_tables,
    view=SharesView,
    hash_sections=_hash_sections,
)
