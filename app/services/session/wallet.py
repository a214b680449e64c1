"""The wallet: balances and history, sending, and which issuers are trusted."""

from __future__ import annotations

from app.services.money import format_amount
from app.services.session.base import SessionBase
from app.services.session.views import BalanceView, HistoryView, WalletView, decimal_text
from ledger.keys import peer_id


class WalletMixin(SessionBase):
    """What the Wallet view shows and does."""

    def wallet_view(self) -> WalletView:
        balances = tuple(
            BalanceView(
                b.asset.id,
                b.asset.symbol,
                b.asset.name,
                b.text,
                format_amount(b.incoming, b.asset.precision),
                b.trusted,
                b.asset.issuer,
            )
            for b in self.wallet.balances()
        )
        history = tuple(
            HistoryView(
                h.timestamp,
                h.kind,
                format_amount(h.change, h.asset.precision, h.asset.symbol),
                h.change >= 0,
                self._history_what(h.kind, h.entry),
            )
            for h in self.wallet.history()[:200]
        )
        return WalletView(balances, history, self.me, peer_id(self.me))

    def _history_what(self, kind: str, entry: bytes) -> str:
        """The release (and track) a purchase paid for, by its artist; "" for other kinds."""
        state = self.core.ledger.state
        purchase = state.purchases.get(entry) if kind == "purchase" else None
        if purchase is None or purchase.listing not in state.listings:
            return ""
        listing = state.listings[purchase.listing]
        title = f"“{listing.title}”"
        if purchase.track is not None and 0 <= purchase.track < len(listing.tracks):
            title = f"“{listing.tracks[purchase.track].title}” from {title}"
        return f"{title} by {listing.artist_name}" if listing.artist_name else title

    def send(self, to_text: str, asset: bytes, amount: str) -> bytes:
        """Send to a peer ID (12D3KooW…) or a 64-hex public key."""
        from app.services.identity import parse_public_key

        to = parse_public_key(to_text)
        with self._lock:
            entry = self.wallet.send(to, asset, decimal_text(amount) or amount)
        self.network.sync(self.core)
        return entry

    def set_trusted(self, issuer: bytes, trusted: bool) -> None:
        self.wallet.set_trusted(issuer, trusted)
