"""Reviews from verified buyers (kinds ``review``, ``review.reply``).

A ``review`` names a grant of the author's own purchase in ``deps``: only a buyer whose purchase
of the release was granted reviews it, and every replica that holds the review holds the grant.
The latest review of a buyer for a listing (highest seq in the buyer's feed) is the one that
counts; the listing's artist may ``review.reply`` (the latest reply counts).

Rules: docs/PROTOCOL.md, "Reviews".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features.base import DepIndex, Feature, require_dep
from ledger.schema import Kind, hash32, integer, record, text

if TYPE_CHECKING:
    from ledger.state import State

MAX_REVIEW = 1000


@dataclass(frozen=True)
class Review:
    id: bytes
    buyer: bytes
    listing: bytes
    purchase: bytes
    seq: int
    timestamp: int
    rating: int
    text: str


@dataclass(frozen=True)
class Reply:
    id: bytes
    review: bytes
    seq: int
    text: str


class ReviewsView:
    reviews: dict[bytes, Review]
    _latest_review: dict[tuple[bytes, bytes], bytes]  # (listing, buyer) -> review
    _latest_reply: dict[bytes, Reply]  # review -> the artist's latest reply

    def reviews_of(self, listing: bytes) -> list[Review]:
        """The review that counts per buyer (its latest), newest first."""
        return sorted(
            (self.reviews[r] for (li, _), r in self._latest_review.items() if li == listing),
            key=lambda r: (-r.timestamp, r.id),
        )

    def rating_of(self, listing: bytes) -> tuple[int, int]:
        """(sum of ratings, number of reviews that count): the average is their ratio."""
        counted = self.reviews_of(listing)
        return sum(r.rating for r in counted), len(counted)

    def reply_to(self, review: bytes) -> Reply | None:
        return self._latest_reply.get(review)


def apply_review(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    require_dep(entry, body["grant"], "grant")
    grant = state.grants.get(body["grant"])
    if grant is None:
        raise SemanticError("the review names an entry that is not a grant")
    if grant.buyer != entry.author:
        raise SemanticError("only the buyer whose purchase was granted reviews it")
    purchase = state.purchases[grant.purchase]
    review = Review(
        entry.hash,
        entry.author,
        purchase.listing,
        purchase.id,
        entry.seq,
        entry.timestamp,
        body["rating"],
        body["text"],
    )
    state.reviews[entry.hash] = review
    key = (purchase.listing, entry.author)
    old = state._latest_review.get(key)
    if old is None or state.reviews[old].seq < entry.seq:
        state._latest_review[key] = entry.hash


def apply_reply(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    require_dep(entry, body["review"], "review")
    review = state.reviews.get(body["review"])
    if review is None:
        raise SemanticError("the reply names an entry that is not a review")
    if state.listings[review.listing].artist != entry.author:
        raise SemanticError("only the listing's artist replies to its reviews")
    old = state._latest_reply.get(review.id)
    if old is None or old.seq < entry.seq:
        state._latest_reply[review.id] = Reply(entry.hash, review.id, entry.seq, body["text"])


def _tables(state: State) -> None:
    state.reviews = {}
    state._latest_review = {}
    state._latest_reply = {}


def _hash_sections(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.reviews:
        out["reviews"] = sorted(
            [r.id, r.buyer, r.listing, r.rating] for r in state.reviews.values()
        )
    if state._latest_reply:
        out["replies"] = sorted([r.review, r.id] for r in state._latest_reply.values())
    return out


FEATURE = Feature(
    name="reviews",
    kinds=(
        Kind(
            "review",
            record(grant=hash32, rating=integer(1, 5), text=text(MAX_REVIEW)),
            "A verified buyer rates a release (1..5) and says why; its latest review counts.",
        ),
        Kind(
            "review.reply",
            record(review=hash32, text=text(MAX_REVIEW, 1)),
            "The listing's artist answers a review; its latest reply counts.",
        ),
    ),
    rules={"review": apply_review, "review.reply": apply_reply},
    tables=_tables,
    view=ReviewsView,
    hash_sections=_hash_sections,
)
