"""Referral and seeder shares and gated listings through the services with real ledgers: an
artist publishes with shares and a gate, a fan buys naming a referrer (or with its claim), and
the fan's node writes the receipt naming the peers it downloaded the tracks from; once with the
real swarm (two libp2p nodes on loopback), where the bytes come from the download itself."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from app.services.errors import UserError
from app.services.market import now_ms
from app.services.passes import PassService
from app.services.replica import copy_content
from app.services.shares import due_receipts, write_due_receipts, write_receipt
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.swarm import KnownPeer, SwarmNetwork, SwarmSettings
from app.services.wallet import WalletService
from ledger.keys import peer_id


def draft(world: Any, files: Any, **changes: Any) -> ReleaseDraft:
    fields: dict[str, Any] = {
        "files": tuple(files),
        "title": "Shared",
        "artist_name": "Ann",
        "price": "10",
        "asset": world.credits.id,
        "preview_seconds": 0.0,
    }
    fields.update(changes)
    return ReleaseDraft(**fields)


def incoming(core: Any) -> dict[bytes, int]:
    return {t.source: t.amount for t in core.ledger.state.incoming(core.me)}


def test_a_referred_purchase_and_the_receipt_that_pays_the_seeders(
    world: Any, audio_files: Any
) -> None:
    artist, fan, friend, seeder, seeder2 = (
        world.core(n) for n in ("artist", "fan", "friend", "seeder", "seeder2")
    )
    world.fund(fan, "50")
    fan.settle()
    listing = (
        StudioService(artist)
        .publish(draft(world, audio_files, seeders_bps=1_000, referrer_bps=500))
        .listing
    )
    world.sync()
    shop = ShopService(fan)
    with pytest.raises(UserError, match="refer yourself"):
        shop.quote(listing.id, referrer=fan.me)
    quote = shop.quote(listing.id, referrer=friend.me)
    assert (quote.amount, quote.held) == (1_000, 100)
    assert any("who referred you" in line and "0.50" in line for line in quote.split_text)
    assert any("seeders you download from" in line and "1.00" in line for line in quote.split_text)
    purchase = shop.buy(listing.id, referrer=friend.me)
    world.sync()
    assert incoming(friend) == {purchase: 50} and incoming(artist) == {purchase: 850}
    assert [s.my_share for s in StudioService(artist).sales()] == [850]
    # nothing is due before the tracks are here; then the receipt names who served them
    assert due_receipts(fan) == []
    assert write_due_receipts(fan, lambda c: {}) == []
    for track in listing.tracks:
        copy_content(artist, fan, track.content)
    assert due_receipts(fan) == [purchase]
    first, second = (t.content for t in listing.tracks)
    served = {first: {seeder.me: 3_000, fan.me: 99}, second: {seeder.me: 1_000, seeder2.me: 4_000}}
    [receipt] = write_due_receipts(fan, lambda c: served.get(c, {}))
    body = fan.ledger.entry(receipt).body
    assert [(s["to"], s["bytes"]) for s in body["seeders"]] == [
        (seeder2.me, 4_000),
        (seeder.me, 4_000),
    ] or [(s["to"], s["bytes"]) for s in body["seeders"]] == [
        (seeder.me, 4_000),
        (seeder2.me, 4_000),
    ]
    world.sync()
    assert incoming(seeder) == {receipt: 50} and incoming(seeder2) == {receipt: 50}
    assert due_receipts(fan) == [] and write_due_receipts(fan, lambda c: served[c]) == []
    with pytest.raises(UserError, match="holds no seeders' share"):
        write_receipt(fan, purchase)
    seeder.settle()
    assert seeder.ledger.state.balance(seeder.me, world.credits.id) == 50


def test_a_release_without_a_referrer_share_refuses_a_referrer(
    world: Any, audio_files: Any
) -> None:
    artist, fan, friend = world.core("artist"), world.core("fan"), world.core("friend")
    world.fund(fan, "50")
    fan.settle()
    listing = StudioService(artist).publish(draft(world, audio_files[:1])).listing
    world.sync()
    with pytest.raises(UserError, match="no referrer share"):
        ShopService(fan).buy(listing.id, referrer=friend.me)
    with pytest.raises(UserError, match="at most 50%"):
        StudioService(artist).publish(
            draft(world, audio_files[:1], seeders_bps=3_000, referrer_bps=2_500)
        )


def test_holders_only_and_holder_discounts_use_the_fans_claim(world: Any, audio_files: Any) -> None:
    artist, fan, fan2 = world.core("artist"), world.core("fan"), world.core("fan2")
    for f in (fan, fan2):
        world.fund(f, "50")
        f.settle()
    wallet = WalletService(artist)
    ann = wallet.issue("ANN", "Ann coin", 0, 10**9, ("artistcoin",))
    wallet.mint(ann.id, "10000")
    wallet.send(fan.me, ann.id, "150")
    gate = PassService(artist).create_gate("Holders", ann.id, "100", lock_days=1)
    studio = StudioService(artist)
    with pytest.raises(UserError, match="holders only or gives holders a discount"):
        studio.publish(draft(world, audio_files[:1], gate=gate))
    only = studio.publish(
        draft(world, audio_files[:1], title="Only", gate=gate, holders_only=True)
    ).listing
    cheaper = studio.publish(
        draft(world, audio_files[1:], title="Cheaper", gate=gate, holder_discount_bps=2_500)
    ).listing
    world.sync()
    fan.settle()
    with pytest.raises(UserError, match="holders only") as err:
        ShopService(fan).buy(only.id)
    assert "pass claim" in (err.value.hint or "")
    assert ShopService(fan2).quote(cheaper.id).amount == 1_000  # no claim: the full price
    claim = PassService(fan, clock=now_ms).claim(gate)
    bought = ShopService(fan).buy(only.id)
    entry = fan.ledger.entry(bought)
    assert entry.body["claim"] == claim and claim in entry.deps
    quote = ShopService(fan).quote(cheaper.id)
    assert (quote.amount, quote.claim) == (750, claim)
    ShopService(fan).buy(cheaper.id)
    world.sync()
    assert sorted(incoming(artist).values()) == [750, 1_000]


# -- with the real swarm --------------------------------------------------------------------------

LOOPBACK = ("/ip4/127.0.0.1/tcp/0",)


def wait(cond: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.network
def test_the_fans_node_names_the_peer_that_served_its_download(
    world: Any, audio_files: Any
) -> None:
    artist, fan = world.core("artist"), world.core("fan")
    world.fund(fan, "50")
    fan.settle()
    listing = StudioService(artist).publish(draft(world, audio_files, seeders_bps=2_000)).listing
    seller = SwarmNetwork(SwarmSettings(listen=LOOPBACK))
    seller.start(artist)
    buyer = None
    try:
        addr = seller._node.addrs[0]  # type: ignore[union-attr]
        buyer = SwarmNetwork(
            SwarmSettings(
                listen=LOOPBACK,
                bootstrap=(addr,),
                known=(KnownPeer(peer_id(artist.me), "Ann", "artist"),),
            )
        )
        buyer.start(fan)
        wait(lambda: buyer.sync(fan) >= 0 and listing.id in fan.ledger.state.listings)
        purchase = ShopService(fan).buy(listing.id)
        first, second = (t.content for t in listing.tracks)
        buyer.fetch(fan, first, lambda d, t: None, threading.Event())
        assert fan.ledger.state.receipt_of(purchase) is None  # one track is not all of them
        buyer.fetch(fan, second, lambda d, t: None, threading.Event())
        receipt = fan.ledger.state.receipt_of(purchase)
        assert receipt is not None
        stored = sum(
            len(fan.chunks.get_chunk(c) or b"")
            for content in (first, second)
            for c in fan.chunks.manifest(content).chunks  # type: ignore[union-attr]
        )
        assert receipt.seeders == ((artist.me, stored),)
        assert [(p.to, p.amount) for p in receipt.payouts] == [(artist.me, 200)]
        wait(lambda: buyer.sync(fan) >= 0 and receipt.id in artist.ledger.state.receipts)
    finally:
        if buyer is not None:
            buyer.close()
        seller.close()
