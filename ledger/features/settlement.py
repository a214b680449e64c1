"""The four patterns of the economy without consensus, as rules other features reuse
(docs/PROTOCOL.md, "Settlement patterns"; DESIGN.md, "The economy without consensus"):

1. **Locks.** An author's own feed locks its units for a purpose (an offer, later a vote, a stake,
   a pledge). Locked units cannot be sent or locked again; they leave the lock only by the rule
   of that purpose (``release_lock``, ``close_lock``) or by a deadline proof (``reclaim``).
2. **Settler feeds.** Every lock and conditional transfer names its settler: the one feed that
   decides on it, in its own total order (``require_settler``).
3. **Conditional transfers.** A payment in flight to its final recipient that becomes receivable
   only when the settler accepts it (``accept_conditional``), and returns to the payer when the
   settler refuses it (``refuse_conditional``) or by a deadline proof (``reclaim``).
4. **Deadline proofs.** "Nothing happened by D" is proven by naming, in ``deps``, an entry of the
   settler dated after D (``require_deadline_passed``): timestamps never decrease within a feed,
   so every settler entry that could still act by D precedes it and is already applied.

Kinds: ``checkpoint`` (settler agents write it while they hold open commitments, so deadlines can
be proven while the owner is offline) and ``reclaim`` (a deadline proof returning a lock's
remainder or a conditional transfer to its author).

Conservation, per asset: ``supply = balances + locked + in flight``, where in flight counts plain
transfers not yet received and conditional transfers not yet settled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features.base import DepIndex, Feature, credit, log_change, require_dep, require_funds
from ledger.features.money import Transfer
from ledger.schema import Kind, hash32, integer, record

if TYPE_CHECKING:
    from ledger.state import State


@dataclass(slots=True)
class Lock:
    """Units of ``owner`` held for the purpose of the entry ``id`` (e.g. an offer)."""

    id: bytes
    purpose: str  # the kind of the locking entry
    owner: bytes
    asset: bytes
    amount: int  # still locked
    settler: bytes
    deadline: int  # after this, the owner reclaims the remainder with a deadline proof
    closed_by: bytes | None = None  # the entry that ended it (last fill, cancel, reclaim)


@dataclass(slots=True)
class Conditional:
    """A payment by ``payer`` to ``to``, receivable only once ``settler`` accepts it."""

    source: bytes  # the paying entry (a take, later a pledge or stake)
    payer: bytes
    to: bytes
    asset: bytes
    amount: int
    settler: bytes
    deadline: int  # after this, the payer reclaims it with a deadline proof
    timestamp: int
    outcome: str | None = None  # "accepted", "refused" or "reclaimed"
    settled_by: bytes | None = None


@dataclass(frozen=True)
class Accounting:
    """Where an asset's minted supply is: ``supply == balances + locked + in_flight``."""

    supply: int
    balances: int
    locked: int
    in_flight: int


# Features that lock units learn here when a lock ends (by its own rule or by a reclaim):
# purpose (the locking kind) -> callback(state, lock).
LOCK_CLOSED: dict[str, Callable[[State, Lock], None]] = {}

# Features whose settler can end a resource before its deadline (a campaign's close) say here
# whether ``proof``, a settler entry that the reclaim names in deps, ended the resource of a
# conditional transfer without accepting it; such a transfer is reclaimable with that proof.
CONDITIONAL_ENDED: list[Callable[[State, Conditional, bytes], bool]] = []


class SettlementView:
    locks: dict[bytes, Lock]
    conditional: dict[bytes, Conditional]
    stamps: dict[bytes, int]  # entry hash -> timestamp, for deadline proofs
    last_seen: dict[bytes, tuple[int, bytes]]  # author -> (timestamp, hash) of its latest entry
    checkpoints: dict[bytes, tuple[int, bytes]]  # author -> its latest checkpoint
    _open_of: dict[bytes, set[bytes]]  # key -> open locks and payments it owns or settles

    def open_locks(self, key: bytes) -> list[Lock]:
        """Open locks that ``key`` owns or settles."""
        return [self.locks[i] for i in self._open_of.get(key, ()) if i in self.locks]

    def open_payments(self, key: bytes) -> list[Conditional]:
        """Unsettled conditional payments that ``key`` made or settles."""
        return [self.conditional[i] for i in self._open_of.get(key, ()) if i in self.conditional]

    def locked(self, account: bytes, asset: bytes) -> int:
        return sum(
            lk.amount for lk in self.locks.values() if lk.owner == account and lk.asset == asset
        )

    def accounting(self, asset: bytes) -> Accounting:
        held = sum(v for (_, a), v in self.balances.items() if a == asset)  # type: ignore[attr-defined]
        locked = sum(lk.amount for lk in self.locks.values() if lk.asset == asset)
        moving = sum(t.amount for t in self.inflight.values() if t.asset == asset)  # type: ignore[attr-defined]
        moving += sum(
            c.amount for c in self.conditional.values() if c.asset == asset and c.outcome is None
        )
        return Accounting(self.supply.get(asset, 0), held, locked, moving)  # type: ignore[attr-defined]

    def waiting_on(self, settler: bytes) -> list[Conditional]:
        """Open conditional transfers that only ``settler`` can settle, oldest first."""
        return sorted(
            (c for c in self.open_payments(settler) if c.settler == settler),
            key=lambda c: (c.timestamp, c.source),
        )

    def open_commitments(self, settler: bytes) -> int:
        """How many open locks and conditional transfers wait on ``settler``."""
        return sum(1 for lk in self.open_locks(settler) if lk.settler == settler) + len(
            self.waiting_on(settler)
        )

    def proof_after(self, settler: bytes, deadline: int) -> bytes | None:
        """An entry of ``settler`` dated after ``deadline`` that this replica holds, if any."""
        seen = self.last_seen.get(settler)
        return seen[1] if seen is not None and seen[0] > deadline else None


# -- the patterns, for other features' rules -------------------------------------------------------


def require_settler(entry: Entry, settler: bytes, what: str) -> None:
    if entry.author != settler:
        raise SemanticError(f"only the {what}'s settler decides on it")


def require_deadline_passed(
    state: State,
    entry: Entry,
    proof: bytes,
    settler: bytes,
    deadline: int,
    dep_seq: DepIndex,
    target: bytes,
) -> None:
    """``proof`` is in deps, is the settler's, and is dated after ``deadline``.

    A settler proving its own deadline (a maker that settles its own offer) is its own witness:
    the entry itself must be dated after the deadline, and ``proof`` names the target again.
    """
    if entry.author == settler:
        if proof != target or entry.timestamp <= deadline:
            raise SemanticError("a settler reclaims only after the deadline, with proof = of")
        return
    require_dep(entry, proof, "deadline proof")
    author, _ = dep_seq[proof]
    if author != settler:
        raise SemanticError("the deadline proof must be an entry of the settler's feed")
    stamp = state.stamps.get(proof)
    if stamp is None or stamp <= deadline:
        raise SemanticError(f"the deadline proof is not dated after the deadline {deadline}")


def lock_funds(
    state: State, entry: Entry, asset: bytes, amount: int, settler: bytes, deadline: int
) -> Lock:
    """Move ``amount`` of the author's spendable units into a lock named by the entry."""
    require_funds(state, entry, asset, amount)
    state.balances[(entry.author, asset)] -= amount
    log_change(state, entry.author, entry, asset, -amount)
    lock = Lock(entry.hash, entry.kind, entry.author, asset, amount, settler, deadline)
    state.locks[entry.hash] = lock
    _opened(state, entry.hash, lock.owner, settler)
    return lock


def release_lock(state: State, lock: Lock, amount: int, entry: Entry, to: bytes) -> None:
    """Release ``amount`` of an open lock in flight to ``to`` (source: ``entry``)."""
    if lock.closed_by is not None or amount > lock.amount:
        raise SemanticError(f"the lock holds {lock.amount}, cannot release {amount}")
    lock.amount -= amount
    state.inflight[(entry.hash, to)] = Transfer(
        entry.hash, lock.owner, to, lock.asset, amount, entry.timestamp
    )
    if lock.amount == 0:
        _closed(state, lock, entry)


def close_lock(state: State, lock: Lock, entry: Entry) -> int:
    """End an open lock, returning its remainder to the owner: straight to its balance when the
    owner's own feed closes it, else in flight to the owner. Returns the remainder."""
    if lock.closed_by is not None:
        raise SemanticError("the lock is already closed")
    rest = lock.amount
    lock.amount = 0
    if rest and entry.author == lock.owner:
        credit(state, lock.owner, entry, lock.asset, rest)
    elif rest:  # one entry may close several locks of one owner (a count of votes): one transfer
        held = state.inflight.get((entry.hash, lock.owner))
        state.inflight[(entry.hash, lock.owner)] = Transfer(
            entry.hash,
            lock.owner,
            lock.owner,
            lock.asset,
            rest + (held.amount if held is not None else 0),
            entry.timestamp,
        )
    _closed(state, lock, entry)
    return rest


def _opened(state: State, item: bytes, *keys: bytes) -> None:
    for key in keys:
        state._open_of.setdefault(key, set()).add(item)


def _ended(state: State, item: bytes, *keys: bytes) -> None:
    for key in keys:
        items = state._open_of.get(key)
        if items is not None:
            items.discard(item)
            if not items:
                del state._open_of[key]


def _closed(state: State, lock: Lock, entry: Entry) -> None:
    lock.closed_by = entry.hash
    _ended(state, lock.id, lock.owner, lock.settler)
    hook = LOCK_CLOSED.get(lock.purpose)
    if hook is not None:
        hook(state, lock)


def pay_conditionally(
    state: State, entry: Entry, asset: bytes, amount: int, to: bytes, settler: bytes, deadline: int
) -> Conditional:
    """Debit the author and hold ``amount`` as a conditional transfer to ``to``."""
    require_funds(state, entry, asset, amount)
    state.balances[(entry.author, asset)] -= amount
    log_change(state, entry.author, entry, asset, -amount)
    cond = Conditional(
        entry.hash, entry.author, to, asset, amount, settler, deadline, entry.timestamp
    )
    state.conditional[entry.hash] = cond
    _opened(state, entry.hash, cond.payer, settler)
    return cond


def require_open(cond: Conditional) -> None:
    if cond.outcome is not None:
        raise SemanticError(f"that payment was already {cond.outcome}")


def accept_conditional(state: State, cond: Conditional, entry: Entry) -> None:
    """The settler accepts: the payment is in flight to its recipient (source: ``entry``)."""
    require_open(cond)
    cond.outcome, cond.settled_by = "accepted", entry.hash
    _ended(state, cond.source, cond.payer, cond.settler)
    state.inflight[(entry.hash, cond.to)] = Transfer(
        entry.hash, cond.payer, cond.to, cond.asset, cond.amount, entry.timestamp
    )


def refuse_conditional(state: State, cond: Conditional, entry: Entry) -> None:
    """The settler refuses: the payment is in flight back to the payer (source: ``entry``)."""
    require_open(cond)
    cond.outcome, cond.settled_by = "refused", entry.hash
    _ended(state, cond.source, cond.payer, cond.settler)
    state.inflight[(entry.hash, cond.payer)] = Transfer(
        entry.hash, cond.payer, cond.payer, cond.asset, cond.amount, entry.timestamp
    )


# -- kinds -----------------------------------------------------------------------------------------


def apply_checkpoint(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    state.checkpoints[entry.author] = (entry.timestamp, entry.hash)


def apply_reclaim(state: State, entry: Entry, body: Mapping[str, Any], dep_seq: DepIndex) -> None:
    """Take back a lock's remainder or a conditional payment after its deadline passed with no
    decision by the settler, proven by the settler's entry named in ``proof``."""
    target = body["of"]
    lock = state.locks.get(target)
    cond = state.conditional.get(target)
    if lock is not None and lock.owner == entry.author:
        if lock.closed_by is not None:
            raise SemanticError("the lock is already closed")
        require_deadline_passed(
            state, entry, body["proof"], lock.settler, lock.deadline, dep_seq, target
        )
        close_lock(state, lock, entry)
    elif cond is not None and cond.payer == entry.author:
        require_open(cond)
        proof = body["proof"]
        ended = proof in entry.deps and any(hook(state, cond, proof) for hook in CONDITIONAL_ENDED)
        if not ended:
            require_deadline_passed(
                state, entry, proof, cond.settler, cond.deadline, dep_seq, target
            )
        cond.outcome, cond.settled_by = "reclaimed", entry.hash
        _ended(state, cond.source, cond.payer, cond.settler)
        credit(state, entry.author, entry, cond.asset, cond.amount)
    else:
        raise SemanticError("a reclaim names the author's own lock or conditional payment")


def _tables(state: State) -> None:
    state.locks = {}
    state.conditional = {}
    state.stamps = {}
    state.last_seen = {}
    state.checkpoints = {}
    state._open_of = {}


def _hash_sections(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.locks:
        out["locks"] = sorted(
            [lk.id, lk.owner, lk.asset, lk.amount, lk.closed_by] for lk in state.locks.values()
        )
    if state.conditional:
        out["conditional"] = sorted(
            [c.source, c.payer, c.to, c.asset, c.amount, c.outcome, c.settled_by]
            for c in state.conditional.values()
        )
    if state.checkpoints:
        out["checkpoints"] = sorted([a, h] for a, (_, h) in state.checkpoints.items())
    return out


FEATURE = Feature(
    name="settlement",
    kinds=(
        Kind(
            "checkpoint",
            record(open=integer(0)),
            "A settler's periodic mark of time while it holds ``open`` commitments.",
        ),
        Kind(
            "reclaim",
            record(of=hash32, proof=hash32),
            "Take back a lock's remainder or a conditional payment after its deadline, proven "
            "by a settler entry dated after it.",
        ),
    ),
    rules={"checkpoint": apply_checkpoint, "reclaim": apply_reclaim},
    tables=_tables,
    view=SettlementView,
    hash_sections=_hash_sections,
)
