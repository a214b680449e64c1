"""Reviews of releases by their verified buyers, and the artist's replies (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.core import Core
from app.services.errors import UserError
from app.services.shop import ShopService
from ledger.features.reviews import MAX_REVIEW
from ledger.state import Reply, Review


@dataclass(frozen=True)
class ReviewLine:
    review: Review
    reply: Reply | None


class ReviewService:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.shop = ShopService(core)

    def review(self, listing_ref: str | bytes, rating: int, text: str = "") -> bytes:
        """Rate a release we bought and were granted (1..5 stars); a later review replaces it."""
        listing = self.shop.listing(listing_ref)
        if not 1 <= rating <= 5:
            raise UserError("a rating is 1 to 5 stars")
        if len(text) > MAX_REVIEW:
            raise UserError(f"a review is at most {MAX_REVIEW} characters")
        state = self.core.ledger.state
        granted = [
            g
            for p in state.purchases_by(self.core.me)
            if p.listing == listing.id
            for g in p.granted_by
        ]
        if not granted:
            bought = any(p.listing == listing.id for p in state.purchases_by(self.core.me))
            raise UserError(
                "your purchase of this release is not granted yet"
                if bought
                else "only buyers of this release review it"
            )
        return self.core.append(
            "review", {"grant": granted[0], "rating": rating, "text": text}, [granted[0]]
        ).hash

    def reply(self, review_ref: str, text: str) -> bytes:
        state = self.core.ledger.state
        prefix = review_ref.strip().lower()
        found = [r for r in state.reviews if r.hex().startswith(prefix)] if prefix else []
        if len(found) != 1:
            raise UserError(
                f"no review {review_ref}"
                if not found
                else f"{review_ref!r} matches several reviews"
            )
        review = state.reviews[found[0]]
        if state.listings[review.listing].artist != self.core.me:
            raise UserError("only the release's artist replies to its reviews")
        if not text.strip():
            raise UserError("say something in the reply")
        return self.core.append(
            "review.reply", {"review": review.id, "text": text}, [review.id]
        ).hash

    def reviews(self, listing_ref: str | bytes) -> tuple[list[ReviewLine], tuple[int, int]]:
        """The reviews that count (each buyer's latest), newest first, and (sum, count)."""
        listing = self.shop.listing(listing_ref)
        state = self.core.ledger.state
        return (
            [ReviewLine(r, state.reply_to(r.id)) for r in state.reviews_of(listing.id)],
            state.rating_of(listing.id),
        )
