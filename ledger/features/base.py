"""What a ledger feature is made of, and the small helpers its rules share.

A feature module (``ledger/features/<name>.py``) keeps one capability together: its kinds'
schemas, its rules (validation level 6), the derived tables it adds to the state, the queries
over them (a "view", mixed into ``ledger.state.State``) and its sections of the state hash.
``ledger/features/__init__.py`` lists the features in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.schema import Kind

if TYPE_CHECKING:
    from ledger.state import State

DepIndex = Mapping[bytes, tuple[bytes, int]]  # entry hash -> (author, seq), for every dep
Rule = Callable[["State", Entry, Mapping[str, Any], DepIndex], None]
# A check one feature adds to another feature's kind (a charter binding its author's sends): it
# runs before the kind's rule, raises SemanticError without changing anything, and may return
# what to do once the rule has succeeded.
Guard = Callable[["State", Entry, Mapping[str, Any], DepIndex], Callable[[], None] | None]


@dataclass(frozen=True)
class Feature:
    """One capability of the ledger.

    ``tables(state)`` adds the feature's derived tables to a fresh state; ``hash_sections(state)``
    returns its sections of the state-hash document (see docs/PROTOCOL.md, "State hash"); features
    added after v1 return their sections only when they are non-empty, so the hash of a ledger
    that does not use them is what it always was. ``guards`` are checks the feature adds to
    kinds of other features (run before their rules; see ``Guard``).
    """

    name: str
    kinds: tuple[Kind, ...]
    rules: Mapping[str, Rule]
    tables: Callable[[State], None]
    view: type  # the queries, a base class of ledger.state.State
    hash_sections: Callable[[State], dict[str, Any]] = field(default=lambda _s: {})
    guards: Mapping[str, Guard] = field(default_factory=dict)  # kind -> check (any feature's)
    # kind -> the deps named in a body that may be void (a vote a fork voided, named by a
    # close): the entry keeps its effect and its rule reads ``state.voided`` to skip them.
    voidable: Mapping[str, Callable[[Mapping[str, Any]], Iterable[bytes]]] = field(
        default_factory=dict
    )


def require_dep(entry: Entry, ref: bytes, what: str) -> None:
    """A rule that reads another feed's entry must find it named in ``deps``."""
    if ref not in entry.deps:
        raise SemanticError(f"the {what} {ref.hex()[:12]} must be listed in deps")


# Checks a feature adds to every spend (a send, a purchase, a lock, a conditional payment): each
# raises SemanticError to forbid it. Coins use it to stop an issuer that is behind on its charter.
SPEND_CHECKS: list[Callable[[State, Entry, bytes, int], None]] = []


def require_funds(state: State, entry: Entry, asset: bytes, amount: int) -> None:
    """The author's spendable balance (its own feed prefix) covers ``amount``, and no feature
    forbids the author to spend (``SPEND_CHECKS``)."""
    for check in SPEND_CHECKS:
        check(state, entry, asset, amount)
    have = state.balance(entry.author, asset)
    if have < amount:
        raise SemanticError(f"overdraft: balance {have}, needs {amount}")


def log_change(state: State, account: bytes, entry: Entry, asset: bytes, change: int) -> None:
    """Record a change of ``account``'s spendable balance in its history."""
    state.history.setdefault(account, []).append(
        (entry.timestamp, entry.hash, entry.kind, asset, change)
    )


def credit(state: State, account: bytes, entry: Entry, asset: bytes, amount: int) -> None:
    key = (account, asset)
    state.balances[key] = state.balances.get(key, 0) + amount
    log_change(state, account, entry, asset, amount)


def debit(state: State, entry: Entry, asset: bytes, amount: int) -> None:
    """Take ``amount`` from the author's balance; the caller has checked the funds."""
    state.balances[(entry.author, asset)] -= amount
    log_change(state, entry.author, entry, asset, -amount)
