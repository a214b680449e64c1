"""Reviews through the services with real ledgers: a buyer whose purchase was granted reviews
the release (its latest review counts), the artist replies, and someone who did not buy it, or
whose purchase is not granted yet, is told so."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.errors import UserError
from app.services.reviews import ReviewService
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService


def test_granted_buyers_review_and_the_artist_replies(world: Any, audio_files: Any) -> None:
    artist, fan, other = world.core("artist"), world.core("fan"), world.core("other")
    world.fund(fan, "100")
    world.sync()
    release = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files[:1]),
                title="First",
                artist_name="Ann",
                price="2",
                asset=world.credits.id,
                preview_seconds=0.0,
            )
        )
        .listing.id
    )
    world.sync()
    ShopService(fan).buy(release)
    with pytest.raises(UserError, match="not granted yet"):
        ReviewService(fan).review(release, 4)
    world.sync()
    artist.settle()  # the artist's node grants the purchase
    world.sync()
    with pytest.raises(UserError, match="only buyers"):
        ReviewService(other).review(release, 1, "never heard it")
    ReviewService(fan).review(release.hex()[:10], 3, "nice")
    rid = ReviewService(fan).review(release, 5, "grew on me")
    world.sync()
    ReviewService(artist).reply(rid.hex()[:12], "thank you")
    world.sync()
    lines, rating = ReviewService(other).reviews(release)
    assert rating == (5, 1)
    assert [(ln.review.text, ln.reply.text if ln.reply else None) for ln in lines] == [
        ("grew on me", "thank you")
    ]
    with pytest.raises(UserError, match="only the release's artist"):
        ReviewService(other).reply(rid.hex()[:12], "me too")
