"""Stakes answered by the issuer's agent through the services with real ledgers: the artist
delegates to a seeder; a fan stakes ``via_agent``; the seeder's node accepts it while the artist
is away (the artist's node does not); a sale makes the artist's node distribute, naming the
agent's acceptance so the stake counts; the fan's node collects."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.coins import CoinService, settle_coins
from app.services.errors import UserError
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.wallet import WalletService


def test_the_seeder_accepts_a_stake_for_the_away_artist(world: Any, audio_files: Any) -> None:
    artist, seeder, fan, buyer = (world.core(n) for n in ("artist", "seeder", "fan", "buyer"))
    wallet = WalletService(artist)
    ann = wallet.issue("ANN", "Ann coin", 0, 10**9, ("artistcoin",))
    wallet.mint(ann.id, "1000")
    wallet.send(fan.me, ann.id, "300")
    world.fund(buyer, "100")
    CoinService(artist).write_charter(ann.id, world.credits.id, "20")
    world.sync()
    with pytest.raises(UserError, match="delegated no agent"):
        CoinService(fan).stake(ann.id, "100", days=30, via_agent=True)
    StudioService(artist).delegate(seeder.me)
    world.sync()
    sid = CoinService(fan).stake(ann.id, "100", days=30, via_agent=True)
    world.sync()
    assert fan.ledger.state.stakes[sid].settler == seeder.me
    assert settle_coins(artist).accepted == []  # not the artist's to answer
    with pytest.raises(UserError, match="or the agent the stake names"):
        CoinService(artist).accept(sid)
    assert settle_coins(seeder).accepted == [sid]
    world.sync()
    assert fan.ledger.state.stake_status(fan.ledger.state.stakes[sid]) == "staked"
    release = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files[:1]),
                title="First",
                artist_name="Ann",
                price="10",
                asset=world.credits.id,
                preview_seconds=0.0,
            )
        )
        .listing.id
    )
    world.sync()
    ShopService(buyer).buy(release)
    world.sync()
    settled = artist.settle()  # receives the sale, distributes naming the agent's acceptance
    assert settled.coins is not None and len(settled.coins.distributed) == 1
    dist = artist.ledger.state.distributions[settled.coins.distributed[0]]
    assert (dist.total_staked, dist.paid) == (100, 200)  # 20% of 1000, one staker
    world.sync()
    assert fan.settle().coins.collected  # type: ignore[union-attr]
    assert fan.ledger.state.balance(fan.me, world.credits.id) == 200
