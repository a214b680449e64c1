"""The standing buyback through the services with real ledgers: an artist keeps 10% of its
sales as a bid for its coin; each sale its node receives adds a bid funded by that share (never
twice for the same sales, also after the node starts again); a holder sells coins into it and the
artist's node fills."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.coins import CoinService, settle_coins
from app.services.errors import UserError
from app.services.market import MarketService
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.wallet import WalletService


def test_a_share_of_each_sale_becomes_a_standing_bid(world: Any, audio_files: Any) -> None:
    artist, buyer, holder = (world.core(n) for n in ("artist", "buyer", "holder"))
    wallet = WalletService(artist)
    ann = wallet.issue("ANN", "Ann coin", 0, 10**9, ("artistcoin",))
    wallet.mint(ann.id, "1000")
    wallet.send(holder.me, ann.id, "100")
    world.fund(buyer, "100")
    coins = CoinService(artist)
    with pytest.raises(UserError, match="no charter"):
        coins.set_buyback(ann.id, "10", "0.05")
    coins.write_charter(ann.id, world.credits.id, "20")
    with pytest.raises(UserError, match="at most 80%"):
        coins.set_buyback(ann.id, "90", "0.05")
    coins.set_buyback("ANN", "10", "0.05")  # 10 % of sales, at 0.05 CRD per ANN
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
    report = artist.settle().coins  # receive the sale, distribute the stakers', bid 10 %
    assert report is not None and len(report.buyback) == 1
    offer = artist.ledger.state.offers[report.buyback[0]]
    assert (offer.sell, offer.sell_amount, offer.want, offer.want_amount) == (
        world.credits.id,
        100,  # 10 % of 10.00 CRD, in cents
        ann.id,
        20,  # at 5 cents per ANN
    )
    assert settle_coins(artist).buyback == []  # those sales are bid once
    reopened = CoinService(artist)  # the policy and what it bid live in the profile
    assert reopened.buyback_due(artist.ledger.state.charter_of(ann.id), _policy(artist, ann)) == (
        0,
        0,
    )
    world.sync()
    holder.settle()
    MarketService(holder).take(offer.id.hex()[:12], "1")  # all 1.00 CRD of it, for 20 ANN
    world.sync()
    artist.settle()  # the artist's node fills its bid
    world.sync()
    holder.settle()
    artist.settle()  # receives the coins it bought back
    assert holder.ledger.state.balance(holder.me, world.credits.id) == 100
    assert artist.ledger.state.balance(artist.me, ann.id) == 900 + 20
    coins.set_buyback(ann.id, "0", "0.05")
    assert "buyback" in artist.profile.read_config() and not _policies(artist)


def _policies(core: Any) -> dict:
    return core.profile.read_config().get("buyback", {})


def _policy(core: Any, coin: Any) -> dict:
    return _policies(core)[coin.id.hex()]
