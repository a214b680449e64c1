"""Shop: the catalog from the local replica, buying, and the state of our purchases."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.core import Core
from app.services.errors import UserError
from app.services.events import PurchaseMade
from app.services.money import format_amount, parse_amount
from ledger.state import Listing, compute_payouts


@dataclass(frozen=True)
class PurchaseStatus:
    purchase: bytes
    listing: Listing
    track: int | None
    amount: int
    asset: bytes
    timestamp: int
    granted: bool  # a seller has answered with a grant
    unlocked: bool  # we hold every content key


@dataclass(frozen=True)
class PriceText:
    """A listing's (first) price as people read it."""

    shown: str  # "4.00 CRED", or "from 3.00 CRED" for name-your-price
    plain: str  # "4.00": no symbol, no thousands separators (what a price field holds)
    symbol: str  # "?" when the asset is not in the replica yet
    nyp: bool


class ShopService:
    def __init__(self, core: Core) -> None:
        self.core = core

    def price_text(self, listing: Listing) -> PriceText:
        """The listing's price formatted in its asset's precision and symbol."""
        price = listing.prices[0]
        asset = self.core.ledger.state.assets.get(price.asset)
        precision, symbol = (asset.precision, asset.symbol) if asset else (0, "?")
        shown = ("from " if price.nyp else "") + format_amount(price.amount, precision, symbol)
        return PriceText(shown, format_amount(price.amount, precision).replace(",", ""), symbol,
                         price.nyp)

    def catalog(self) -> list[Listing]:
        """Every live release, newest first (offline too: it is the local replica)."""
        return self.core.ledger.state.current_listings()

    def listing(self, ref: str | bytes) -> Listing:
        listings = self.core.ledger.state.listings
        if isinstance(ref, str):
            matches = [lid for lid in listings if lid.hex().startswith(ref.lower())] if ref else []
            if len(matches) != 1:
                raise UserError(f"no single release matches {ref!r}")
            ref = matches[0]
        listing = listings.get(ref)
        if listing is None:
            raise UserError("no such release in the local catalog",
                            hint="sync with peers first")
        return listing

    def owns(self, content: bytes) -> bool:
        return self.core.content_key(content) is not None

    def buy(self, listing_ref: str | bytes, track: int | None = None,
            amount: str | int | None = None, asset: bytes | None = None) -> bytes:
        """Pay for a release (or one track) following its split. Works offline: the purchase
        syncs when peers are reachable and is fulfilled when a seller's node sees it."""
        self.core.require_writable()
        core = self.core
        listing = self.listing(listing_ref)
        if listing.artist == core.me:
            raise UserError("this is your own release")
        if track is not None and not 0 <= track < len(listing.tracks):
            raise UserError(f"the release has no track {track + 1}")
        prices = listing.prices if track is None else listing.tracks[track].prices
        if not prices:
            raise UserError("this track is not sold on its own; buy the release")
        already = [p for p in core.ledger.state.purchases_by(core.me)
                   if p.listing == listing.id and p.track in (None, track)]
        if already:
            raise UserError("you already bought this", hint="it is in your library")
        core.settle()  # incoming credits become spendable first
        state = core.ledger.state
        if asset is None:
            # The first accepted asset we hold enough of, else the first accepted one.
            affordable = [p for p in prices if state.balance(core.me, p.asset) >= p.amount]
            price = (affordable or list(prices))[0]
        else:
            price = next((p for p in prices if p.asset == asset), None)  # type: ignore[assignment]
            if price is None:
                raise UserError("the release is not sold for that asset")
        info = state.assets.get(price.asset)
        precision, symbol = (info.precision, info.symbol) if info else (0, "?")
        units = price.amount if amount is None else parse_amount(amount, precision)
        shown = format_amount(price.amount, precision, symbol)
        if price.nyp and units < price.amount:
            raise UserError(f"the minimum price is {shown}")
        if not price.nyp and units != price.amount:
            raise UserError(f"the price is {shown}")
        have = state.balance(core.me, price.asset)
        if have < units:
            raise UserError(f"not enough credit: you have {format_amount(have, precision, symbol)}"
                            f", the price is {format_amount(units, precision, symbol)}")
        payouts = compute_payouts(units, listing.split, listing.remainder)
        entry = core.append("purchase", {
            "listing": listing.id, "track": track, "asset": price.asset, "amount": units,
            "payouts": [{"to": p.to, "amount": p.amount} for p in payouts]},
            deps=[listing.id])
        core.events.emit(PurchaseMade(entry.hash, listing.id))
        return entry.hash

    def purchases(self) -> list[PurchaseStatus]:
        state = self.core.ledger.state
        out = []
        for p in state.purchases_by(self.core.me):
            listing = state.listings[p.listing]
            unlocked = all(self.owns(c) for c in listing.contents(p.track))
            out.append(PurchaseStatus(p.id, listing, p.track, p.amount, p.asset, p.timestamp,
                                      bool(p.granted_by), unlocked))
        return out

    def owned_contents(self) -> set[bytes]:
        return {c for s in self.purchases() if s.unlocked
                for c in s.listing.contents(s.track)}
