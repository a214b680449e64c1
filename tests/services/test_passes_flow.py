"""Holder passes through the services with real ledgers: an artist's gate, a fan's claim that
locks its coins, the pass shown as text and checked at a door (confirmed by the door's replica,
or signed-only before it syncs), the checks a door makes, tiers, and unlocking after the period."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.errors import UserError
from app.services.market import now_ms
from app.services.passes import PassService, unlock_expired
from app.services.wallet import WalletService


def coin(world: Any, artist: Any, fan: Any) -> Any:
    wallet = WalletService(artist)
    asset = wallet.issue("ANN", "Ann coin", 0, 10**9, ("artistcoin",))
    wallet.mint(asset.id, "10000")
    wallet.send(fan.me, asset.id, "150")
    world.sync()
    fan.settle()
    world.sync()
    return asset


def test_a_fan_claims_a_backstage_pass_and_shows_it_at_the_door(world: Any) -> None:
    artist, fan, door = world.core("artist"), world.core("fan"), world.core("door")
    ann = coin(world, artist, fan)
    t0 = now_ms()
    backstage = PassService(artist).create_gate("Backstage", ann.id, "100", lock_days=1 / 1440)
    vip = PassService(artist).create_gate("VIP", ann.id, "100", held_days=30)
    world.sync()
    passes = PassService(fan, clock=lambda: t0 + 1000)
    assert [(g.title, ok) for g, ok in passes.tiers(ann.id)] == [
        ("Backstage", True),
        ("VIP", False),
    ]
    with pytest.raises(UserError, match="held for 30 days; you held 0"):
        passes.claim(vip)
    claim = passes.claim(backstage.hex()[:10])
    assert fan.ledger.state.balance(fan.me, ann.id) == 50
    with pytest.raises(UserError, match="you held 50"):  # the same coins cannot unlock it twice
        passes.claim(backstage)
    with pytest.raises(UserError, match=r"not enough|overdraft"):  # nor go to another account
        WalletService(fan).send(artist.me, ann.id, "100")
    text = passes.show(claim, challenge="door-7")
    assert text.startswith("ctpass1:") and len(text) < 700
    at_door = PassService(door, clock=lambda: t0 + 2000)
    early = at_door.check(text, backstage, challenge="door-7")
    assert early.ok and not early.confirmed and "does not hold" in early.reason
    world.sync()  # the door's replica now holds the claim
    seen = at_door.check(text, backstage, challenge="door-7")
    assert seen.ok and seen.confirmed and seen.holder == fan.me
    assert not at_door.check(text, vip).ok  # another gate
    assert not at_door.check(text, backstage, challenge="door-8").ok  # another challenge
    stale = PassService(door, clock=lambda: t0 + 20 * 60_000).check(text, backstage)
    assert not stale.ok and "just now" in stale.reason
    tampered = text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:]
    assert not at_door.check(tampered, backstage).ok
    assert not at_door.check("hello", backstage).ok
    # after the period the fan's node takes the coins back; the pass is over
    later = t0 + 61_000 + 1000
    assert unlock_expired(fan, clock=lambda: later) == [fan.ledger.state.locks[claim].closed_by]
    assert fan.ledger.state.balance(fan.me, ann.id) == 150
    world.sync()
    assert (
        not PassService(door, clock=lambda: later).check(show_again(fan, claim, t0), backstage).ok
    )


def show_again(fan: Any, claim: bytes, t0: int) -> str:
    """The text the fan showed while the claim held (re-made with the earlier clock)."""
    from ledger.features.gates import show_pass

    return show_pass(fan.signer, fan.ledger.entry(claim), t0 + 61_500)
