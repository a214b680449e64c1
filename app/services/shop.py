"""Shop: the catalog from the local replica, buying, and the state of our purchases."""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.services.core import Core
from app.services.errors import UserError
from app.services.events import PurchaseMade
from app.services.money import format_amount, parse_amount
from ledger.features.gates import holder_price
from ledger.features.shares import purchase_payouts
from ledger.keys import peer_id
from ledger.state import Listing


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
class Quote:
    """What a purchase would pay and to whom, before anything is signed (for a confirmation)."""

    listing: Listing
    track: int | None
    asset: bytes
    amount: int
    payouts: tuple[tuple[bytes, int], ...]  # recipient key, units
    shown: str  # the amount as people read it, "4.00 CRD"
    split_text: tuple[str, ...]  # "Ann (artist) 3.00 CRD", one line per recipient
    referrer: bytes | None = None  # named by the buyer, paid the listing's referrer share
    claim: bytes | None = None  # our active claim on the listing's gate, named by the purchase
    held: int = 0  # kept for the seeders that will serve us, paid by our receipt


MIN_PREFIX = 8  # hex characters of a release ID the CLI needs before it acts on it


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
        return PriceText(
            shown, format_amount(price.amount, precision).replace(",", ""), symbol, price.nyp
        )

    def catalog(self) -> list[Listing]:
        """Every live release, newest first (offline too: it is the local replica)."""
        return self.core.ledger.state.current_listings()

    def listing(self, ref: str | bytes) -> Listing:
        """A release by ID, or (text) by a unique prefix of at least 8 hex characters."""
        listings = self.core.ledger.state.listings
        if isinstance(ref, str):
            text = ref.strip().lower()
            if len(text) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in text):
                raise UserError(
                    f"{ref!r} is not a release ID",
                    hint=f"give at least {MIN_PREFIX} hex characters of it, as "
                    "`cooptracks catalog` shows",
                )
            matches = [lid for lid in listings if lid.hex().startswith(text)]
            if len(matches) > 1:
                raise UserError(
                    f"{len(matches)} releases start with {ref!r}",
                    hint="give more characters of the ID",
                )
            if not matches:
                raise UserError(
                    f"no release matches {ref!r} in the local catalog",
                    hint="run `cooptracks sync` to bring the catalog up to date",
                )
            ref = matches[0]
        listing = listings.get(ref)
        if listing is None:
            raise UserError(
                "no such release in the local catalog",
                hint="run `cooptracks sync` (or open the app) to bring the catalog up to date",
            )
        return listing

    def owns(self, content: bytes) -> bool:
        return self.core.content_key(content) is not None

    def buy(
        self,
        listing_ref: str | bytes,
        track: int | None = None,
        amount: str | int | None = None,
        asset: bytes | None = None,
        referrer: bytes | None = None,
    ) -> bytes:
        """Pay for a release (or one track) following its split (and its shares for a referrer
        we name and the seeders that will serve us). Works offline: the purchase syncs when
        peers are reachable and is fulfilled when a seller's node sees it."""
        quote = self.quote(listing_ref, track, amount, asset, referrer)
        body: dict = {
            "listing": quote.listing.id,
            "track": track,
            "asset": quote.asset,
            "amount": quote.amount,
            "payouts": [{"to": to, "amount": units} for to, units in quote.payouts],
        }
        deps = [quote.listing.id]
        if quote.referrer is not None:
            body["referrer"] = quote.referrer
        if quote.claim is not None:
            body["claim"] = quote.claim
            deps.append(quote.claim)
        entry = self.core.append("purchase", body, deps=deps)
        self.core.events.emit(PurchaseMade(entry.hash, quote.listing.id))
        return entry.hash

    def quote(
        self,
        listing_ref: str | bytes,
        track: int | None = None,
        amount: str | int | None = None,
        asset: bytes | None = None,
        referrer: bytes | None = None,
    ) -> Quote:
        """Check a purchase and say what it would pay to whom; signs nothing. Raises UserError
        for what ``buy`` would refuse (own release, already bought, not enough credit, a
        holders-only release without an active claim, …). A gated release uses our active claim
        on its gate, if we have one (``cooptracks pass claim`` makes one)."""
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
        already = [
            p
            for p in core.ledger.state.purchases_by(core.me)
            if p.listing == listing.id and p.track in (None, track)
        ]
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
        claim = self._gate_claim(listing)
        if claim is not None:
            price = holder_price(price, listing.terms["gate"]["discount_bps"])
        units = price.amount if amount is None else parse_amount(amount, precision)
        shown = format_amount(price.amount, precision, symbol)
        if price.nyp and units < price.amount:
            raise UserError(f"the minimum price is {shown}")
        if not price.nyp and units != price.amount:
            raise UserError(f"the price is {shown}")
        have = state.balance(core.me, price.asset)
        if have < units:
            raise UserError(
                f"not enough credit: you have {format_amount(have, precision, symbol)}"
                f", the price is {format_amount(units, precision, symbol)}"
            )
        if referrer is not None:
            if not listing.terms.get("shares", {}).get("referrer"):
                raise UserError("this release pays no referrer share: leave out the referrer")
            if referrer == core.me:
                raise UserError("you cannot refer yourself")
        payouts, held = purchase_payouts(listing, units, referrer)
        lines = []
        for p in payouts:
            profile = state.profiles.get(p.to)
            who = (profile.name if profile and profile.name else "") or peer_id(p.to)
            if p.to == listing.artist:
                who = f"{listing.artist_name or who} (the artist)"
            elif p.to == referrer:
                who = f"{who} (who referred you)"
            lines.append(f"{who}: {format_amount(p.amount, precision, symbol)}")
        if held:
            lines.append(f"the seeders you download from: {format_amount(held, precision, symbol)}")
        return Quote(
            listing,
            track,
            price.asset,
            units,
            tuple((p.to, p.amount) for p in payouts),
            format_amount(units, precision, symbol),
            tuple(lines),
            referrer,
            claim,
            held,
        )

    def _gate_claim(self, listing: Listing) -> bytes | None:
        """Our claim on a gated listing's gate that is active now, the latest first; None for
        an ungated listing or none active (UserError if the listing is for holders only)."""
        term = listing.terms.get("gate")
        if term is None:
            return None
        state = self.core.ledger.state
        now = int(time.time() * 1000)
        active = [
            c
            for c in reversed(state.claims_of(self.core.me))
            if c.gate == term["gate"] and state.claim_active(c, now + 60_000)
        ]
        if active:
            return active[0].id
        if term["holders_only"]:
            gate = state.gates.get(term["gate"])
            title = f" ({gate.title})" if gate is not None else ""
            raise UserError(
                f"this release is for holders only{title}",
                hint=f"claim its gate first: cooptracks pass claim {term['gate'].hex()[:16]}",
            )
        return None

    def purchases(self) -> list[PurchaseStatus]:
        state = self.core.ledger.state
        out = []
        for p in state.purchases_by(self.core.me):
            listing = state.listings[p.listing]
            unlocked = all(self.owns(c) for c in listing.contents(p.track))
            out.append(
                PurchaseStatus(
                    p.id,
                    listing,
                    p.track,
                    p.amount,
                    p.asset,
                    p.timestamp,
                    bool(p.granted_by),
                    unlocked,
                )
            )
        return out

    def owned_contents(self) -> set[bytes]:
        return {c for s in self.purchases() if s.unlocked for c in s.listing.contents(s.track)}
