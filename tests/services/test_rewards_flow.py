"""Campaign rewards delivered by the nodes themselves, with real ledgers: a campaign settled by
the artist's seeder, with coin tiers and a release tier; once funded, the artist's node sends
each backer its coins (one entry per backer, once); when the artist publishes
the campaign's release, the seeder's node (its sales agent) seals it to the patrons, and the
patron's node takes the keys and can open the tracks."""

from __future__ import annotations

from typing import Any

from app.services.funding import CampaignService, settle_campaigns
from app.services.market import now_ms
from app.services.replica import copy_content
from app.services.studio import ReleaseDraft, StudioService
from app.services.wallet import WalletService

TIERS = [("Supporter", "10", "20 ANN"), ("Patron", "50", "50 ANN and the album")]


def test_backers_get_their_coins_and_the_release_automatically(
    world: Any, audio_files: Any
) -> None:
    artist, seeder = world.core("artist"), world.core("seeder")
    patron, supporter, small = (world.core(n) for n in ("patron", "supporter", "small"))
    for fan in (patron, supporter, small):
        world.fund(fan, "100")
    wallet = WalletService(artist)
    ann = wallet.issue("ANN", "Ann coin", 0, 10**9, ("artistcoin",))
    wallet.mint(ann.id, "1000")
    StudioService(artist).delegate(seeder.me)  # the seeder sells (and delivers) for the artist
    t0 = now_ms()
    cid = CampaignService(artist, clock=lambda: t0).create(
        "Second album",
        "60",
        world.credits.id,
        deadline_in_s=30,
        close_window_s=120,
        tiers=TIERS,
        settler=seeder.me,
        reward_coin=ann.id,
        tier_coins={"Supporter": "20", "Patron": "50"},
        release_tiers=("Patron",),
    )
    world.sync()
    CampaignService(patron).pledge(cid, "55")
    CampaignService(supporter).pledge(cid, "15")
    CampaignService(small).pledge(cid, "5")  # below every tier
    world.sync()
    assert settle_campaigns(seeder, clock=lambda: t0 + 91_000).funded == [cid]
    world.sync()
    report = settle_campaigns(artist)  # the artist's node sends the coins, once per backer
    assert len(report.rewarded) == 2
    assert settle_campaigns(artist).rewarded == []
    world.sync()
    for fan in (patron, supporter, small):
        fan.settle()
    assert [f.ledger.state.balance(f.me, ann.id) for f in (patron, supporter, small)] == [
        50,
        20,
        0,
    ]
    # the release, published later for the campaign, reaches the patron through the seeder
    listing = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files[:1]),
                title="Second album",
                artist_name="Ann",
                price="9",
                asset=world.credits.id,
                preview_seconds=0.0,
                campaign=cid,
            )
        )
        .listing
    )
    world.sync()
    content = listing.tracks[0].content
    copy_content(artist, seeder, content)  # pinned, as a seeder does: an agent checks keys
    assert settle_campaigns(artist).rewarded == []  # the seeder settles it, not the artist
    delivered = settle_campaigns(seeder).rewarded
    assert len(delivered) == 1
    world.sync()
    assert patron.content_key(content) is None
    assert settle_campaigns(patron).unlocked == delivered
    assert patron.content_key(content) == artist.content_key(content)
    assert supporter.content_key(content) is None and settle_campaigns(supporter).unlocked == []
    world.sync()
    assert len({c.ledger.state_hash() for c in world.cores}) == 1
