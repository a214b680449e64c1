"""Holder passes and tiers (kinds ``gate``, ``gate.claim``; a claim is unlocked with the settlement
feature's ``reclaim``).

A ``gate`` (a backstage pass, a holders' discount, a tier such as "patron") asks for holding at
least ``min`` units of an asset, optionally without interruption for ``held_ms`` before the
claim. Holding is computed from the holder's own feed alone: its spendable balance of the asset
only changes by entries of its own feed, so the balance history up to a claim is part of the
claim's feed prefix and every replica computes the same. A ``gate.claim`` locks those ``min``
units until ``until`` (at least the gate's ``lock_ms``), so one set of coins cannot unlock two
accounts (nor two gates) at once, and coins borrowed for a moment stay locked for the stated
period. The holder is the lock's settler: after ``until`` it takes the units back with a
``reclaim`` that is its own witness.

A listing may be gated on a gate (its optional ``gate`` term): holders only, or a holders'
discount (``discount_bps``). A purchase of it names, in its ``claim`` field and in deps, a claim of
the buyer on that gate that is active at the purchase (so the gate's units are locked in the
buyer's own feed at that moment); a holders-only listing refuses a purchase without one, and a
discounted listing charges the full price without one. One claim may serve several purchases of
its holder while it is active: what it proves is that these units were held, and locked away from
every other account, for the claim's whole period.

Rules and conflict cases: docs/PROTOCOL.md, "Holder passes" and "Gated listings".
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.encoding import decode_canonical, encode
from ledger.entry import Entry, decode_entry
from ledger.errors import LedgerError, SemanticError
from ledger.features import selling
from ledger.features.base import DepIndex, Feature, require_dep
from ledger.features.selling import BPS_TOTAL, Listing, Price
from ledger.features.settlement import lock_funds
from ledger.keys import Signer, verify
from ledger.schema import Kind, hash32, integer, record, text

if TYPE_CHECKING:
    from ledger.state import State

MAX_HELD_MS = 10 * 366 * 24 * 3600 * 1000  # ten years


@dataclass(frozen=True)
class Gate:
    id: bytes
    author: bytes
    title: str
    description: str
    asset: bytes
    min: int
    held_ms: int
    lock_ms: int
    timestamp: int


@dataclass(frozen=True)
class Claim:
    id: bytes
    holder: bytes
    gate: bytes
    until: int
    timestamp: int


class GatesView:
    gates: dict[bytes, Gate]
    claims: dict[bytes, Claim]

    def min_held(self, account: bytes, asset: bytes, start: int, end: int) -> int:
        """The least spendable balance ``account`` had of ``asset`` at any time in
        [start, end], from its own feed's balance changes applied so far."""
        balance = 0
        low: int | None = None
        for ts, _h, _k, a, change in self.history.get(account, []):  # type: ignore[attr-defined]
            if a != asset:
                continue
            if ts > end:
                break
            if ts > start and low is None:
                low = balance  # the balance held when the window opened
            balance += change
            if ts > start:
                low = min(low, balance)
        return balance if low is None else min(low, balance)

    def qualifies(self, account: bytes, gate: Gate, at: int) -> bool:
        """Whether ``account`` held at least ``gate.min`` for ``gate.held_ms`` up to ``at``
        (spendable units; a view: only a claim proves it in the ledger)."""
        return self.min_held(account, gate.asset, at - gate.held_ms, at) >= gate.min

    def claim_active(self, claim: Claim, at: int) -> bool:
        lock = self.locks[claim.id]  # type: ignore[attr-defined]
        return lock.closed_by is None and claim.timestamp <= at <= claim.until

    def gates_of(self, author: bytes) -> list[Gate]:
        return sorted(
            (g for g in self.gates.values() if g.author == author),
            key=lambda g: (g.asset, g.min, g.held_ms, g.id),
        )

    def gates_on(self, asset: bytes) -> list[Gate]:
        """The gates (tiers) on a coin, smallest requirement first."""
        return sorted(
            (g for g in self.gates.values() if g.asset == asset),
            key=lambda g: (g.min, g.held_ms, g.id),
        )

    def claims_of(self, holder: bytes) -> list[Claim]:
        return sorted(
            (c for c in self.claims.values() if c.holder == holder),
            key=lambda c: (c.timestamp, c.id),
        )


# -- a pass shown at a door: a compact, signed, checkable text ------------------------------------

PASS_PREFIX = "ctpass1:"
PASS_DOMAIN = b"cooptracks.pass.v1\x00"
PASS_FRESH_MS = 5 * 60 * 1000  # a shown pass is accepted this long either side of the door's clock
MAX_CHALLENGE = 64
MAX_PASS_TEXT = 4096


@dataclass(frozen=True)
class ShownPass:
    """A pass as a door reads it: the holder's claim entry, when it was shown, the door's
    challenge, and the holder's signature over them (checked by ``read_pass``)."""

    claim: Entry
    shown_at: int
    challenge: str

    @property
    def holder(self) -> bytes:
        return self.claim.author

    @property
    def gate(self) -> bytes:
        gate: bytes = self.claim.body["gate"]
        return gate

    @property
    def until(self) -> int:
        until: int = self.claim.body["until"]
        return until


def _pass_message(claim: bytes, shown_at: int, challenge: str) -> bytes:
    return PASS_DOMAIN + encode([claim, shown_at, challenge])


def show_pass(signer: Signer, claim: Entry, shown_at: int, challenge: str = "") -> str:
    """The text a holder shows (as a QR code or typed): ``ctpass1:`` and the unpadded base64url
    of ``canonical([claim entry wire, shown_at, challenge, signature])``, the signature by the
    holder over ``"cooptracks.pass.v1\0" || canonical([claim hash, shown_at, challenge])``."""
    if claim.author != signer.public_key or claim.kind != "gate.claim":
        raise ValueError("a pass shows the holder's own claim")
    if len(challenge) > MAX_CHALLENGE:
        raise ValueError(f"a challenge is at most {MAX_CHALLENGE} characters")
    sig = signer.sign(_pass_message(claim.hash, shown_at, challenge))
    raw = encode([claim.wire, shown_at, challenge, sig])
    return PASS_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_pass(text: str) -> ShownPass:
    """Decode a shown pass and check both signatures (the claim entry's and the showing).
    Raises LedgerError with a reason. Whether the claim holds in the ledger (the holder held the
    coins and they are still locked) is the replica's to say: ``ledger.is_effective`` and
    ``state.claim_active``."""
    text = text.strip()
    if not text.startswith(PASS_PREFIX) or len(text) > MAX_PASS_TEXT:
        raise LedgerError("not a Cooptracks pass")
    body = text[len(PASS_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise LedgerError("the pass is not valid base64url") from exc
    value = decode_canonical(raw)
    if not (
        isinstance(value, list)
        and len(value) == 4
        and isinstance(value[0], bytes)
        and type(value[1]) is int
        and isinstance(value[2], str)
        and isinstance(value[3], bytes)
        and len(value[2]) <= MAX_CHALLENGE
    ):
        raise LedgerError("the pass has the wrong shape")
    wire, shown_at, challenge, sig = value
    claim = decode_entry(wire)
    claim.verify_signature()
    b = claim.body
    if claim.kind != "gate.claim" or not (
        isinstance(b.get("gate"), bytes) and len(b["gate"]) == 32 and type(b.get("until")) is int
    ):
        raise LedgerError("the pass does not carry a claim")
    verify(claim.author, _pass_message(claim.hash, shown_at, challenge), sig)
    return ShownPass(claim, shown_at, challenge)


def apply_gate(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    asset = state.assets.get(body["asset"])
    if body["asset"] not in entry.deps and (asset is None or asset.issuer != entry.author):
        raise SemanticError("the gate's asset must be listed in deps")
    if asset is None:
        raise SemanticError("the gate's asset is not an asset")
    state.gates[entry.hash] = Gate(
        entry.hash,
        entry.author,
        body["title"],
        body["description"],
        body["asset"],
        body["min"],
        body["held_ms"],
        body["lock_ms"],
        entry.timestamp,
    )


def apply_claim(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    gate = state.gates.get(body["gate"])
    if gate is None or gate.author != entry.author:
        require_dep(entry, body["gate"], "gate")
    if gate is None:
        raise SemanticError("the claim names an entry that is not a gate")
    if body["until"] < entry.timestamp + gate.lock_ms:
        raise SemanticError(
            f"the claim locks its units until at least timestamp + {gate.lock_ms} ms"
        )
    held = state.min_held(entry.author, gate.asset, entry.timestamp - gate.held_ms, entry.timestamp)
    if held < gate.min:
        raise SemanticError(
            f"the holder held at least {held} (spendable) over the gate's "
            f"{gate.held_ms} ms, the gate asks for {gate.min}"
        )
    lock_funds(state, entry, gate.asset, gate.min, entry.author, body["until"])
    state.claims[entry.hash] = Claim(
        entry.hash, entry.author, gate.id, body["until"], entry.timestamp
    )


def _check_listing(state: State, entry: Entry, body: Mapping[str, Any]) -> None:
    """LISTING_TERMS: a gated listing names a gate it may rely on, and the gate does something."""
    term = body.get("gate")
    if term is None:
        return
    gate = state.gates.get(term["gate"])
    if gate is None or gate.author != entry.author:
        require_dep(entry, term["gate"], "gate")
    if gate is None:
        raise SemanticError("the listing's gate names an entry that is not a gate")
    if not term["holders_only"] and not term["discount_bps"]:
        raise SemanticError("a gated listing is holders only or gives holders a discount")


def holder_price(price: Price, discount_bps: int) -> Price:
    """The price (or the name-your-price minimum) for a holder: the discount rounded down, at
    least 1 (a free release is not a listing)."""
    amount = max(1, price.amount - price.amount * discount_bps // BPS_TOTAL)
    return Price(price.asset, amount, price.nyp)


def _price_for_holder(
    state: State, entry: Entry, body: Mapping[str, Any], listing: Listing, price: Price
) -> Price:
    """PRICE_TERMS: a gated listing's price for this buyer, checking the claim it names."""
    term = listing.terms.get("gate")
    ref = body.get("claim")
    if term is None:
        if ref is not None:
            raise SemanticError("the listing is not gated: name no claim")
        return price
    if ref is None:
        if term["holders_only"]:
            raise SemanticError(
                "the listing is for holders only: name an active claim on its gate in deps"
            )
        return price
    require_dep(entry, ref, "claim")
    claim = state.claims.get(ref)
    if claim is None or claim.holder != entry.author:
        raise SemanticError("the purchase names a claim that is not the buyer's")
    if claim.gate != term["gate"]:
        raise SemanticError("the claim is on another gate than the listing's")
    if not state.claim_active(claim, entry.timestamp):
        raise SemanticError("the claim is not active at the purchase (expired or unlocked)")
    return holder_price(price, term["discount_bps"])


def _tables(state: State) -> None:
    state.gates = {}
    state.claims = {}


def _hash_sections(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.gates:
        out["gates"] = sorted(
            [g.id, g.author, g.asset, g.min, g.held_ms, g.lock_ms] for g in state.gates.values()
        )
    if state.claims:
        out["claims"] = sorted([c.id, c.holder, c.gate, c.until] for c in state.claims.values())
    return out


selling.LISTING_TERMS.append(_check_listing)
selling.PRICE_TERMS.append(_price_for_holder)

FEATURE = Feature(
    name="gates",
    kinds=(
        Kind(
            "gate",
            record(
                title=text(200, 1),
                description=text(2000),
                asset=hash32,
                min=integer(1),
                held_ms=integer(0, MAX_HELD_MS),
                lock_ms=integer(1, MAX_HELD_MS),
            ),
            "A pass, tier or holders' privilege: hold at least min of an asset (for held_ms); "
            "a claim locks them for lock_ms.",
        ),
        Kind(
            "gate.claim",
            record(gate=hash32, until=integer(0)),
            "Qualify for a gate: lock its min units of the asset until ``until``.",
        ),
    ),
    rules={"gate": apply_gate, "gate.claim": apply_claim},
    tables=_tables,
    view=GatesView,
    hash_sections=_hash_sections,
)
