"""Coins tied to sales through the services with real ledgers: an artist's charter, fans'
stakes accepted by the artist's node, a sale that makes the artist's node distribute (it cannot
spend until it does), fans' nodes collecting their shares, a refused stake, unstaking after the
term."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.coins import CoinService, settle_coins
from app.services.errors import UserError
from app.services.market import now_ms
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.wallet import WalletService


def credits(core: Any, world: Any) -> int:
    return core.ledger.state.balance(core.me, world.credits.id)


def test_sales_flow_to_stakers_who_collect_their_shares(world: Any, audio_files: Any) -> None:
    artist, fan, fan2, buyer = (world.core(n) for n in ("artist", "fan", "fan2", "buyer"))
    wallet = WalletService(artist)
    ann = wallet.issue("ANN", "Ann coin", 0, 10**9, ("artistcoin",))
    wallet.mint(ann.id, "10000")
    wallet.send(fan.me, ann.id, "300")
    wallet.send(fan2.me, ann.id, "100")
    world.fund(buyer, "100")
    world.fund(artist, "5")
    coins = CoinService(artist)
    coins.write_charter(ann.id, world.credits.id, "25")  # 25 % of CRD sales to stakers
    world.sync()
    s1 = CoinService(fan).stake("ANN", "300", days=30)
    s2 = CoinService(fan2).stake(ann.id, "100", days=30)
    world.sync()
    report = settle_coins(artist)  # the artist's node accepts the stakes
    assert sorted(report.accepted) == sorted([s1, s2])
    world.sync()
    assert CoinService(fan).view(ann.id).staked == 400
    release = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files[:1]),
                title="First",
                artist_name="Ann",
                price="9.99",
                asset=world.credits.id,
                preview_seconds=0.0,
            )
        )
        .listing.id
    )
    world.sync()
    ShopService(buyer).buy(release)
    world.sync()
    with pytest.raises(UserError, match="behind on its charter by 249"):  # 25 % of 999
        received_without_paying(artist, world)
    settled = artist.settle()
    assert settled.coins is not None and len(settled.coins.distributed) == 1
    view = CoinService(artist).view(ann.id)
    assert (view.charter.committed, view.charter.owed) == (249, 0)
    world.sync()
    for core in (fan, fan2):
        assert core.settle().coins.collected  # type: ignore[union-attr]
    world.sync()
    assert credits(fan, world) == 249 * 300 // 400 and credits(fan2, world) == 249 * 100 // 400
    assert [got for _, _, got in CoinService(fan).my_stakes()] == [186]
    # the artist spends again, less what it distributed
    WalletService(artist).send(buyer.me, world.credits.id, "1")


def received_without_paying(artist: Any, world: Any) -> None:
    """Receive the sale and sign a send before distributing: the ledger refuses it. (The wallet
    settles first, which distributes, so a user's send just works.)"""
    artist._receive_incoming()
    artist.append(
        "send", {"asset": world.credits.id, "to": world.gateway.me, "amount": 1, "memo": ""}
    )


def test_a_refused_stake_comes_back_and_a_stake_ends_with_its_term(world: Any) -> None:
    artist, fan = world.core("artist"), world.core("fan")
    wallet = WalletService(artist)
    ann = wallet.issue("ANN", "Ann coin", 0, 10**9, ("artistcoin",))
    wallet.mint(ann.id, "1000")
    wallet.send(fan.me, ann.id, "300")
    world.sync()
    CoinService(artist).write_charter(ann.id, world.credits.id, "10")
    world.sync()
    t0 = now_ms()
    no = CoinService(fan, clock=lambda: t0).stake(
        ann.id, "100", days=1 / 1440, answer_within_ms=30_000
    )  # a minute's term
    yes = CoinService(fan, clock=lambda: t0).stake(
        ann.id, "100", days=1 / 1440, answer_within_ms=30_000
    )
    world.sync()
    CoinService(artist).accept(no, accept=False)
    assert settle_coins(artist).accepted == [yes]
    world.sync()
    fan.settle()
    assert fan.ledger.state.balance(fan.me, ann.id) == 200  # 300 − the accepted 100
    with pytest.raises(UserError, match="term is not over"):
        CoinService(fan).unstake(yes)
    until = fan.ledger.state.stakes[yes].until
    assert settle_coins(fan, clock=lambda: until + 1).unstaked == [yes]
    assert fan.ledger.state.balance(fan.me, ann.id) == 300
    with pytest.raises(UserError, match="no charter"):
        CoinService(fan).stake(world.credits.id, "1", days=1)
