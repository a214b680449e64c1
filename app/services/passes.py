"""Holder passes and tiers for people and for doors (no Qt).

``PassService`` defines gates (a backstage pass, a holders' discount, a tier), claims them (which
locks the coins for the stated period), shows a claim as a compact signed text, checks such a
text at a door against the local replica, and lists a coin's tiers and who qualifies.
``unlock_expired`` is what a node does by itself from ``Core.settle()``: take back the coins of
its claims whose period is over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from app.services.core import Core, register_settler_duty
from app.services.errors import UserError
from app.services.market import now_ms
from app.services.money import format_amount, parse_amount
from app.services.wallet import WalletService
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.features.gates import PASS_FRESH_MS, read_pass, show_pass
from ledger.state import Claim, Gate

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class PassCheck:
    """What a door learns from a shown pass."""

    ok: bool
    reason: str
    holder: bytes | None = None
    gate: bytes | None = None
    until: int | None = None
    confirmed: bool = False  # the replica holds the claim, with effect, its coins still locked


class _PassFields(TypedDict):
    """The fields of a shown pass that every ``PassCheck`` from ``check`` repeats."""

    holder: bytes
    gate: bytes
    until: int


class PassService:
    def __init__(self, core: Core, clock: Callable[[], int] = now_ms) -> None:
        self.core = core
        self.clock = clock
        self.wallet = WalletService(core)

    def _append(
        self,
        kind: str,
        body: dict,
        deps: list[bytes] | tuple[bytes, ...] = (),
        timestamp: int | None = None,
    ) -> Entry:
        self.core.require_writable()
        try:
            return self.core.ledger.append(
                self.core.signer,
                kind,
                body,
                sorted(set(deps)),
                timestamp=self.clock() if timestamp is None else timestamp,
            )
        except LedgerError as err:
            raise UserError(str(err)) from err

    def _find(self, ref: str | bytes, table: dict, what: str) -> bytes:
        if isinstance(ref, bytes):
            found = [ref] if ref in table else []
        else:
            prefix = ref.strip().lower()
            found = [k for k in table if k.hex().startswith(prefix)] if prefix else []
        if len(found) != 1:
            raise UserError(
                f"no {what} {ref if isinstance(ref, str) else ref.hex()[:12]}"
                if not found
                else f"{ref!r} matches several {what}s"
            )
        return found[0]

    def gate(self, ref: str | bytes) -> Gate:
        state = self.core.ledger.state
        return state.gates[self._find(ref, state.gates, "gate")]

    def claim_of(self, ref: str | bytes) -> Claim:
        state = self.core.ledger.state
        return state.claims[self._find(ref, state.claims, "claim")]

    # -- writing ---------------------------------------------------------------------------------
    def create_gate(
        self,
        title: str,
        asset_ref: str | bytes,
        minimum: str | int,
        *,
        held_days: float = 0,
        lock_days: float = 1,
        description: str = "",
    ) -> bytes:
        asset = self.wallet.asset(asset_ref)
        units = parse_amount(minimum, asset.precision)
        if units <= 0:
            raise UserError("a gate asks for a positive amount")
        if not title.strip():
            raise UserError("a gate needs a title")
        if held_days < 0 or lock_days <= 0:
            raise UserError("holding days are zero or more, locking days more than zero")
        deps = [] if asset.issuer == self.core.me else [asset.id]
        return self._append(
            "gate",
            {
                "title": title.strip(),
                "description": description,
                "asset": asset.id,
                "min": units,
                "held_ms": int(held_days * DAY_MS),
                "lock_ms": int(lock_days * DAY_MS),
            },
            deps,
        ).hash

    def claim(self, gate_ref: str | bytes, lock_days: float | None = None) -> bytes:
        gate = self.gate(gate_ref)
        asset = self.core.ledger.state.assets[gate.asset]
        self.core.settle()  # incoming units become spendable first
        now = self.clock()
        state = self.core.ledger.state
        if not state.qualifies(self.core.me, gate, now):
            held = state.min_held(self.core.me, gate.asset, now - gate.held_ms, now)
            days = f" for {gate.held_ms / DAY_MS:g} days" if gate.held_ms else ""
            raise UserError(
                f"the gate asks for {format_amount(gate.min, asset.precision)} "
                f"{asset.symbol} held{days}; you held "
                f"{format_amount(held, asset.precision)} (spendable)"
            )
        lock_ms = gate.lock_ms if lock_days is None else int(lock_days * DAY_MS)
        if lock_ms < gate.lock_ms:
            raise UserError(f"the gate locks the coins for {gate.lock_ms / DAY_MS:g} days at least")
        deps = [] if gate.author == self.core.me else [gate.id]
        # dated ``now``: the lock runs ``lock_ms`` from the claim's own timestamp
        return self._append(
            "gate.claim", {"gate": gate.id, "until": now + lock_ms}, deps, timestamp=now
        ).hash

    def unlock(self, claim_ref: str | bytes) -> bytes:
        claim = self.claim_of(claim_ref)
        if claim.holder != self.core.me:
            raise UserError("that is not your claim")
        if self.core.ledger.state.locks[claim.id].closed_by is not None:
            raise UserError("that claim's coins are already back")
        if self.clock() <= claim.until:
            raise UserError("the claim's coins stay locked until its period is over")
        return self._append("reclaim", {"of": claim.id, "proof": claim.id}).hash

    # -- the door --------------------------------------------------------------------------------
    def show(self, claim_ref: str | bytes, challenge: str = "") -> str:
        claim = self.claim_of(claim_ref)
        if claim.holder != self.core.me:
            raise UserError("that is not your claim")
        if not self.core.ledger.state.claim_active(claim, self.clock()):
            raise UserError("that claim is over: claim the gate again")
        try:
            entry = self.core.ledger.entry(claim.id)
            assert entry is not None  # a claim in the state was applied from a stored entry
            return show_pass(self.core.signer, entry, self.clock(), challenge)
        except ValueError as err:
            raise UserError(str(err)) from err

    def check(
        self, text: str, gate_ref: str | bytes | None = None, challenge: str | None = None
    ) -> PassCheck:
        """Check a shown pass: both signatures, the gate, freshness, the door's challenge, and
        (when this replica holds the claim) that it holds in the ledger with its coins locked."""
        try:
            shown = read_pass(text)
        except LedgerError as err:
            return PassCheck(False, str(err))
        now = self.clock()
        base: _PassFields = dict(holder=shown.holder, gate=shown.gate, until=shown.until)
        if gate_ref is not None and shown.gate != self.gate(gate_ref).id:
            return PassCheck(False, "the pass is for another gate", **base)
        if challenge is not None and shown.challenge != challenge:
            return PassCheck(False, "the pass answers another challenge", **base)
        if abs(now - shown.shown_at) > PASS_FRESH_MS:
            return PassCheck(False, "the pass was not shown just now", **base)
        if now > shown.until:
            return PassCheck(False, "the claim's period is over", **base)
        led = self.core.ledger
        claim = led.state.claims.get(shown.claim.hash)
        if claim is None:
            if led.has(shown.claim.hash):
                return PassCheck(False, "the ledger refused or voided this claim", **base)
            return PassCheck(
                True,
                "signed by the holder; this replica does not hold the claim "
                "yet (sync to confirm the coins)",
                **base,
            )
        if not led.is_effective(claim.id) or not led.state.claim_active(claim, now):
            return PassCheck(False, "the claim's coins are no longer locked", **base)
        return PassCheck(
            True, "confirmed: the holder's coins are locked for this gate", confirmed=True, **base
        )

    # -- reading ---------------------------------------------------------------------------------
    def tiers(self, asset_ref: str | bytes, who: bytes | None = None) -> list[tuple[Gate, bool]]:
        """The gates on a coin, smallest requirement first, and whether ``who`` (default: us)
        qualifies now."""
        asset = self.wallet.asset(asset_ref)
        state = self.core.ledger.state
        who = who or self.core.me
        now = self.clock()
        return [(g, state.qualifies(who, g, now)) for g in state.gates_on(asset.id)]

    def my_claims(self) -> list[tuple[Claim, bool]]:
        state = self.core.ledger.state
        now = self.clock()
        return [(c, state.claim_active(c, now)) for c in state.claims_of(self.core.me)]


def unlock_expired(core: Core, clock: Callable[[], int] = now_ms) -> list[bytes]:
    """Take back the coins of our claims whose period is over; each on its own."""
    if core.awaiting_own_feed:
        return []
    service = PassService(core, clock)
    out = []
    for claim in core.ledger.state.claims_of(core.me):
        if core.ledger.state.locks[claim.id].closed_by is None and clock() > claim.until:
            try:
                out.append(service.unlock(claim.id))
            except UserError as err:
                log.warning("passes: could not unlock %s: %s", claim.id.hex()[:12], err)
    return out


__all__ = ["PassCheck", "PassService", "unlock_expired"]


register_settler_duty("passes", unlock_expired, order=20)
