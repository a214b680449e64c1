"""Wallet: balances per asset, sending, history, issuing assets, trusted issuers."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.core import Core
from app.services.errors import UserError
from app.services.money import format_amount, parse_amount
from ledger.state import Asset


@dataclass(frozen=True)
class BalanceLine:
    asset: Asset
    amount: int
    incoming: int  # in flight to us, spendable once received
    trusted: bool

    @property
    def text(self) -> str:
        return format_amount(self.amount, self.asset.precision, self.asset.symbol)


@dataclass(frozen=True)
class HistoryLine:
    timestamp: int
    entry: bytes
    kind: str
    asset: Asset
    change: int


class WalletService:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- trust (a local choice, never on the ledger) ---------------------------------------------
    def trusted_issuers(self) -> set[bytes]:
        config = self.core.profile.read_config()
        return {bytes.fromhex(h) for h in config.get("trusted_issuers", [])}

    def set_trusted(self, issuer: bytes, trusted: bool) -> None:
        issuers = {i.hex() for i in self.trusted_issuers()}
        (issuers.add if trusted else issuers.discard)(issuer.hex())
        self.core.profile.update_config(trusted_issuers=sorted(issuers))

    def is_trusted(self, asset: Asset, trusted: set[bytes] | None = None) -> bool:
        """Our own assets and those of issuers we chose to trust (``trusted`` if already read)."""
        issuers = self.trusted_issuers() if trusted is None else trusted
        return asset.issuer == self.core.me or asset.issuer in issuers

    # -- queries ---------------------------------------------------------------------------------
    def asset(self, ref: str | bytes) -> Asset:
        """Find an asset by its ID (hex or bytes) or, if unambiguous, its symbol."""
        assets = self.core.ledger.state.assets
        if isinstance(ref, bytes):
            if ref in assets:
                return assets[ref]
            raise UserError(f"unknown asset {ref.hex()[:12]}")
        try:
            raw = bytes.fromhex(ref)
            if raw in assets:
                return assets[raw]
        except ValueError:
            pass
        matches = [a for a in assets.values() if a.symbol == ref.upper()]
        issuers = self.trusted_issuers()
        trusted = [a for a in matches if self.is_trusted(a, issuers)]
        if len(trusted) == 1:
            return trusted[0]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UserError(f"no asset called {ref}")
        raise UserError(f"several assets are called {ref}; give the asset ID")

    def balances(self) -> list[BalanceLine]:
        state = self.core.ledger.state
        mine = state.balances_of(self.core.me)
        incoming: dict[bytes, int] = {}
        for t in state.incoming(self.core.me):
            incoming[t.asset] = incoming.get(t.asset, 0) + t.amount
        issuers = self.trusted_issuers()
        lines = [
            BalanceLine(
                state.assets[a],
                mine.get(a, 0),
                incoming.get(a, 0),
                self.is_trusted(state.assets[a], issuers),
            )
            for a in set(mine) | set(incoming)
        ]
        return sorted(lines, key=lambda b: (b.asset.symbol, b.asset.id))

    def history(self) -> list[HistoryLine]:
        state = self.core.ledger.state
        return [
            HistoryLine(ts, h, kind, state.assets[a], change)
            for ts, h, kind, a, change in reversed(state.history.get(self.core.me, []))
        ]

    # -- actions ---------------------------------------------------------------------------------
    def send(self, to: bytes, asset_ref: str | bytes, amount: str | int, memo: str = "") -> bytes:
        self.core.require_writable()
        asset = self.asset(asset_ref)
        units = parse_amount(amount, asset.precision)
        if units <= 0:
            raise UserError("send a positive amount")
        if to == self.core.me:
            raise UserError("that is your own key")
        self.core.settle()
        have = self.core.ledger.state.balance(self.core.me, asset.id)
        if have < units:
            raise UserError(
                f"not enough {asset.symbol}: you have "
                f"{format_amount(have, asset.precision)}, sending "
                f"{format_amount(units, asset.precision)}"
            )
        return self.core.append(
            "send", {"asset": asset.id, "to": to, "amount": units, "memo": memo}
        ).hash

    def issue(
        self, symbol: str, name: str, precision: int, max_supply: int, flags: tuple[str, ...] = ()
    ) -> Asset:
        entry = self.core.append(
            "asset.issue",
            {
                "symbol": symbol,
                "name": name,
                "precision": precision,
                "max_supply": max_supply,
                "flags": sorted(set(flags)),
            },
        )
        return self.core.ledger.state.assets[entry.hash]

    def mint(self, asset_ref: str | bytes, amount: str | int) -> bytes:
        asset = self.asset(asset_ref)
        return self.core.append(
            "asset.mint", {"asset": asset.id, "amount": parse_amount(amount, asset.precision)}
        ).hash
