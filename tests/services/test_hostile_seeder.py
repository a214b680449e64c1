"""A seeder fed every hostile input in turn keeps serving an honest fan.

Real profiles and SQLite ledgers, real nodes on 127.0.0.1: the seeder runs the daemon's own
settle loop (``settle_on_change``) and pins everything within a quota. The honest artist has
delegated to it and gone offline. Eve, connected to the same seeder, sends one hostile input
after another; after each, a fan buys one of the honest artist's releases and must get its key
from the seeder, download it from the seeder and decrypt it.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack

import pytest
import trio

from app.commands.swarm import settle_on_change
from app.services.replica import copy_content
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from content.format import new_track_key, pack, unpack
from p2p.gossip import Announce, Provide
from p2p.limits import Limits
from p2p.node import NodeConfig, open_node
from p2p.pinning import SeedPolicy
from p2p.providers import MAX_PER_PEER
from tests.p2p.conftest import trio_test, wait_for
from tests.services.hostile import (
    TwistedSigner,
    garbage_sealed,
    raw_delegation,
    raw_listing,
    raw_purchase,
    sealed_key,
    twisted_entry,
)

pytestmark = pytest.mark.network

LOOPBACK = ("/ip4/127.0.0.1/tcp/0",)
QUOTA = 3 * 1024 * 1024


def node_config(core, **kw):
    return NodeConfig(
        seed=core.signer.seed,
        listen=LOOPBACK,
        gossip_heartbeat=0.2,
        sync_interval=2.0,
        limits=Limits(request_timeout=3.0, ban_seconds=60),
        **kw,
    )


@trio_test
async def test_a_seeder_fed_each_hostile_input_in_turn_keeps_serving_an_honest_fan(
    world, audio_files
):
    artist, seeder, fan, eve = (world.core(n) for n in ("artist", "seeder", "fan", "eve"))
    world.fund(fan, "100")
    world.fund(eve, "100")
    for core in (fan, eve):
        core.settle()
    hostile = []  # (name, what Eve does), run one after the other

    releases = []
    for i in range(7):
        result = StudioService(artist).publish(
            ReleaseDraft(
                files=(audio_files[0],),
                title=f"Honest {i}",
                artist_name="Ann",
                price="1",
                asset=world.credits.id,
                preview_seconds=0.5,
            )
        )
        releases.append(result.listing)
    StudioService(artist).delegate(seeder.me)
    world.sync()
    for li in releases:  # pinned while the artist was online
        for t in li.tracks:
            copy_content(artist, seeder, t.content)
    world.cores.remove(artist)  # the artist's laptop is shut from now on
    victim = releases[-1].tracks[0].content
    credits = world.credits.id

    def garbage_key() -> None:
        listing = raw_listing(eve, [bytes([0xE1]) * 32], credits)
        raw_delegation(eve, seeder.me, {bytes([0xE1]) * 32: garbage_sealed()})
        raw_purchase(eve, listing)

    def poisoned_key() -> None:
        listing = raw_listing(eve, [victim], credits, title="Not yours")
        raw_delegation(eve, seeder.me, {victim: sealed_key(seeder.me, bytes(32))})
        raw_purchase(eve, listing)

    def oversized_content() -> None:
        big = pack(os.urandom(QUOTA + 512 * 1024), new_track_key())
        eve.chunks.put_packed(big.manifest_bytes, big.chunks)
        raw_listing(eve, [big.content_id], credits, title="Huge")

    def sealed_cover() -> None:
        cover = pack(b"\x89PNG\r\n\x1a\n" + os.urandom(2000), new_track_key(), mime="image/png")
        eve.chunks.put_packed(cover.manifest_bytes, cover.chunks)
        raw_listing(eve, [bytes([0xE3]) * 32], credits, artwork=cover.content_id)

    hostile = [
        ("a garbage sealed key", garbage_key),
        ("a wrong key for another's track", poisoned_key),
        ("content over the quota", oversized_content),
        ("a sealed cover", sealed_cover),
    ]

    async with AsyncExitStack() as stack:
        s = await stack.enter_async_context(
            open_node(
                node_config(
                    seeder, seeding=SeedPolicy(mode="all", quota_bytes=QUOTA, retry_interval=0.5)
                ),
                seeder.ledger,
                seeder.chunks,
            )
        )
        e = await stack.enter_async_context(open_node(node_config(eve), eve.ledger, eve.chunks))
        f = await stack.enter_async_context(open_node(node_config(fan), fan.ledger, fan.chunks))
        nursery = await stack.enter_async_context(trio.open_nursery())
        nursery.start_soon(settle_on_change, seeder, 0.5)
        await e.connect(s.addrs[0])
        await f.connect(s.addrs[0])
        await wait_for(
            lambda: (
                len(s.gossip.topic_peers()) >= 2
                and e.gossip.topic_peers()
                and f.gossip.topic_peers()
            ),
            what="gossip mesh",
        )

        async def fan_is_served(listing) -> None:
            await trio.to_thread.run_sync(ShopService(fan).buy, listing.id)
            purchase = next(
                p for p in fan.ledger.state.purchases_by(fan.me) if p.listing == listing.id
            )
            await wait_for(
                lambda: fan.ledger.state.purchases[purchase.id].granted_by,
                timeout=30,
                what=f"grant of {listing.title}",
            )
            report = await trio.to_thread.run_sync(fan.settle)
            assert purchase.id in report.unlocked or fan.content_key(listing.tracks[0].content)
            content = listing.tracks[0].content
            manifest = await f.fetch(content)
            plain = unpack(
                manifest,
                [fan.chunks.get_chunk(c) for c in manifest.chunks],
                fan.content_key(content),
            )
            assert plain == audio_files[0].read_bytes()

        async def eve_feeds(name, act) -> None:
            head = eve.ledger.head_seq(eve.me)
            await trio.to_thread.run_sync(act)
            assert eve.ledger.head_seq(eve.me) > head, name
            await wait_for(
                lambda: seeder.ledger.head_seq(eve.me) == eve.ledger.head_seq(eve.me),
                timeout=30,
                what=f"{name} reaching the seeder",
            )

        rounds = iter(releases)
        await fan_is_served(next(rounds))  # the honest path works to begin with
        for name, act in hostile:
            await eve_feeds(name, act)
            await fan_is_served(next(rounds))
        # A flood of provider announcements, then a purchase by a key nothing can be sealed to.
        for _ in range(MAX_PER_PEER // 256 + 4):
            await e.gossip.publish(Provide(tuple(os.urandom(32) for _ in range(256))))
        twisted = twisted_entry(
            TwistedSigner(bytes([0x66]) * 32),
            1,
            None,
            1_800_000_000_000,
            "purchase",
            {
                "listing": releases[0].id,
                "track": None,
                "asset": credits,
                "amount": 100,
                "payouts": [{"to": artist.me, "amount": 100}],
            },
            [releases[0].id],
        )
        await e.gossip.publish(Announce((twisted.wire,)))
        await wait_for(lambda: len(s.providers) >= MAX_PER_PEER, timeout=30, what="flood")
        await fan_is_served(next(rounds))
        assert len(s.providers) <= MAX_PER_PEER + 16
        assert twisted.hash not in seeder.ledger.state.purchases
        # What the seeder did with Eve's inputs: skipped with reasons, within its quota.
        await wait_for(lambda: len(s.pinner.refused) == 1, timeout=30, what="quota refusal")
        assert seeder.chunks.size_on_disk() <= QUOTA + 1024 * 1024  # the honest releases
        assert len(seeder.skips) == 2  # Eve's two self-purchases, backing off
        nursery.cancel_scope.cancel()


@trio_test
async def test_an_agent_without_the_content_checks_a_key_against_its_first_chunk(
    world, audio_files
):
    """A seeder that pins nothing sells for two artists whose tracks it does not hold. Eve
    delegates a wrong key for her own track; Ann a right one. The agent used to grant a key it
    could not check, so Eve's buyer got a key that opens nothing and the purchase counted as
    fulfilled. Now the agent fetches each track's first chunk from the swarm before it grants:
    Ann's buyer gets the key and decrypts, Eve's purchase is skipped with the reason."""
    ann, eve, seeder, fan = (world.core(n) for n in ("ann", "eve", "seeder", "fan"))
    world.fund(fan, "100")
    fan.settle()
    honest = (
        StudioService(ann)
        .publish(
            ReleaseDraft(
                files=(audio_files[0],),
                title="Honest",
                artist_name="Ann",
                price="1",
                asset=world.credits.id,
                preview_seconds=0.5,
            )
        )
        .listing
    )
    StudioService(ann).delegate(seeder.me)
    track = pack(audio_files[0].read_bytes(), new_track_key())
    eve.chunks.put_packed(track.manifest_bytes, track.chunks)
    wrong = raw_listing(eve, [track.content_id], world.credits.id, title="Wrong key")
    raw_delegation(eve, seeder.me, {track.content_id: sealed_key(seeder.me, bytes(32))})
    world.sync()
    assert seeder.chunks.manifest(track.content_id) is None  # the agent holds neither track
    assert seeder.chunks.manifest(honest.tracks[0].content) is None

    async with AsyncExitStack() as stack:
        nodes = {}
        for core in (ann, eve, seeder, fan):
            nodes[core] = await stack.enter_async_context(
                open_node(node_config(core), core.ledger, core.chunks)
            )
        s = nodes[seeder]
        for core in (ann, eve, fan):
            await nodes[core].connect(s.addrs[0])
        nursery = await stack.enter_async_context(trio.open_nursery())
        nursery.start_soon(settle_on_change, seeder, 0.5, s)
        await trio.to_thread.run_sync(ShopService(fan).buy, honest.id)
        await trio.to_thread.run_sync(ShopService(fan).buy, wrong.id)
        bought = {p.listing: p.id for p in fan.ledger.state.purchases_by(fan.me)}
        await wait_for(
            lambda: fan.ledger.state.purchases[bought[honest.id]].granted_by,
            timeout=60,
            what="the grant of Ann's track",
        )
        await wait_for(  # first deferred until the first chunk is here, then refused
            lambda: "no key we hold opens" in (seeder.skips.reason(bought[wrong.id]) or ""),
            timeout=30,
            what="Eve's purchase skipped",
        )
        assert not fan.ledger.state.purchases[bought[wrong.id]].granted_by
        await trio.to_thread.run_sync(fan.settle)
        content = honest.tracks[0].content
        manifest = await nodes[fan].fetch(content)
        plain = unpack(
            manifest, [fan.chunks.get_chunk(c) for c in manifest.chunks], fan.content_key(content)
        )
        assert plain == audio_files[0].read_bytes()
        nursery.cancel_scope.cancel()
