"""Money: assets, balances and transfers (kinds ``asset.issue``, ``asset.mint``, ``send``,
``receive``).

Only an author's own feed debits it; credits arrive as in-flight transfers and become spendable
when the recipient's own feed records a ``receive`` naming the sending entries in its deps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features.base import DepIndex, Feature, log_change, require_dep, require_funds
from ledger.schema import Kind, array, hash32, integer, one_of, public_key, record, text

if TYPE_CHECKING:
    from ledger.state import State

MAX_TRANSFERS_PER_RECEIVE = 64

# Features that follow what an account receives (coins count an issuer's sales) learn here of
# each transfer a ``receive`` takes: callback(state, receive entry, transfer).
RECEIVED: list[Callable[[State, Entry, Transfer], None]] = []


@dataclass(frozen=True)
class Asset:
    id: bytes
    issuer: bytes
    symbol: str
    name: str
    precision: int
    max_supply: int
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Transfer:
    """Units sent by ``source`` (a send, purchase, fill, ...) to ``to``, not yet received."""

    source: bytes
    sender: bytes
    to: bytes
    asset: bytes
    amount: int
    timestamp: int


class MoneyView:
    assets: dict[bytes, Asset]
    supply: dict[bytes, int]
    balances: dict[tuple[bytes, bytes], int]
    inflight: dict[tuple[bytes, bytes], Transfer]  # (source, recipient)
    history: dict[bytes, list[tuple[int, bytes, str, bytes, int]]]
    # ^ account -> [(timestamp, entry hash, kind, asset, signed amount change)]

    def balance(self, account: bytes, asset: bytes) -> int:
        """Spendable units: received and neither sent nor locked."""
        return self.balances.get((account, asset), 0)

    def balances_of(self, account: bytes) -> dict[bytes, int]:
        return {asset: v for (acct, asset), v in self.balances.items() if acct == account and v}

    def incoming(self, account: bytes) -> list[Transfer]:
        """In-flight transfers to ``account``: what its node should ``receive`` next."""
        return sorted(
            (t for (_, to), t in self.inflight.items() if to == account),
            key=lambda t: (t.timestamp, t.source),
        )


def send_in_flight(state: State, entry: Entry, to: bytes, asset: bytes, amount: int) -> None:
    """Create the in-flight transfer ``(entry, to)``; the recipient's ``receive`` takes it."""
    state.inflight[(entry.hash, to)] = Transfer(
        entry.hash, entry.author, to, asset, amount, entry.timestamp
    )


def apply_asset_issue(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    state.assets[entry.hash] = Asset(
        entry.hash,
        entry.author,
        body["symbol"],
        body["name"],
        body["precision"],
        body["max_supply"],
        tuple(body["flags"]),
    )
    state.supply[entry.hash] = 0


def apply_asset_mint(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    asset = state.assets.get(body["asset"])
    if asset is None or asset.issuer != entry.author:
        raise SemanticError("only an asset's issuer mints it, after issuing it")
    supply = state.supply[asset.id] + body["amount"]
    if supply > asset.max_supply:
        raise SemanticError(f"minting past the maximum supply {asset.max_supply}")
    state.supply[asset.id] = supply
    key = (entry.author, asset.id)
    state.balances[key] = state.balances.get(key, 0) + body["amount"]
    log_change(state, entry.author, entry, asset.id, body["amount"])


def apply_send(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    if body["to"] == entry.author:
        raise SemanticError("a send to oneself is not allowed")
    require_funds(state, entry, body["asset"], body["amount"])
    state.balances[(entry.author, body["asset"])] -= body["amount"]
    send_in_flight(state, entry, body["to"], body["asset"], body["amount"])
    log_change(state, entry.author, entry, body["asset"], -body["amount"])


def apply_receive(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    transfers = []
    for source in body["transfers"]:
        require_dep(entry, source, "transfer")
        transfer = state.inflight.get((source, entry.author))
        if transfer is None:
            raise SemanticError(f"no unreceived transfer to the author in {source.hex()[:12]}")
        transfers.append(transfer)
    for t in transfers:
        del state.inflight[(t.source, entry.author)]
        key = (entry.author, t.asset)
        state.balances[key] = state.balances.get(key, 0) + t.amount
        log_change(state, entry.author, entry, t.asset, t.amount)
        for hook in RECEIVED:
            hook(state, entry, t)


def _tables(state: State) -> None:
    state.assets = {}
    state.supply = {}
    state.balances = {}
    state.inflight = {}
    state.history = {}


def _hash_sections(state: State) -> dict[str, Any]:
    return {
        "assets": sorted(
            [
                a.id,
                a.issuer,
                a.symbol,
                a.name,
                a.precision,
                a.max_supply,
                list(a.flags),
                state.supply.get(a.id, 0),
            ]
            for a in state.assets.values()
        ),
        "balances": sorted([acct, asset, v] for (acct, asset), v in state.balances.items() if v),
        "inflight": sorted([t.source, t.to, t.asset, t.amount] for t in state.inflight.values()),
    }


FEATURE = Feature(
    name="money",
    kinds=(
        Kind(
            "asset.issue",
            record(
                symbol=text(12, 1, r"[A-Z0-9]+"),
                name=text(80, 1),
                precision=integer(0, 18),
                max_supply=integer(1),
                flags=array(one_of("stable", "artistcoin"), 2, unique=True),
            ),
            "Create an asset issued by the author; its ID is this entry's hash.",
        ),
        Kind(
            "asset.mint",
            record(asset=hash32, amount=integer(1)),
            "The issuer credits itself new units, up to the asset's maximum supply.",
        ),
        Kind(
            "send",
            record(asset=hash32, to=public_key, amount=integer(1), memo=text(280)),
            "Move units from the author to another identity (in flight until received).",
        ),
        Kind(
            "receive",
            record(transfers=array(hash32, MAX_TRANSFERS_PER_RECEIVE, 1, unique=True)),
            "Accept the in-flight transfers to the author made by the entries named.",
        ),
    ),
    rules={
        "asset.issue": apply_asset_issue,
        "asset.mint": apply_asset_mint,
        "send": apply_send,
        "receive": apply_receive,
    },
    tables=_tables,
    view=MoneyView,
    hash_sections=_hash_sections,
)
