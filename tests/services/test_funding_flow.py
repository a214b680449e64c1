"""Campaigns through the services, across several nodes with real ledgers: a seeder named as
settler closes a funded campaign while the artist is offline and backers get their tiers; a
failed campaign refunds every pledge; a campaign nobody closed in time is refunded by deadline
proof; the settler loop skips a bad campaign and closes the others."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.errors import UserError
from app.services.funding import CampaignService, settle_campaigns
from app.services.market import now_ms, settle_market

TIERS = [("Supporter", "5", "the album"), ("Patron", "50", "the album and a pass")]


def credits(core: Any, world: Any) -> int:
    core.settle()
    return core.ledger.state.balance(core.me, world.credits.id)


def start(
    world: Any,
    artist: Any,
    goal: str,
    settler: Any = None,
    t0: int | None = None,
    window_s: int = 120,
) -> tuple[bytes, int]:
    """A campaign taking pledges for 30 s; closed within ``window_s`` after (the settler
    waits half of that, at most 10 minutes, for late pledges)."""
    t0 = t0 or now_ms()
    cid = CampaignService(artist, clock=lambda: t0).create(
        "Second album",
        goal,
        world.credits.id,
        deadline_in_s=30,
        close_window_s=window_s,
        tiers=TIERS,
        settler=settler.me if settler else None,
    )
    world.sync()
    return cid, t0


def test_a_seeder_closes_a_funded_campaign_while_the_artist_is_away(world: Any) -> None:
    artist, seeder = world.core("artist"), world.core("seeder")
    fans = [world.core(f"fan{i}") for i in range(3)]
    for fan in fans:
        world.fund(fan, "100")
    cid, t0 = start(world, artist, "80", settler=seeder)
    CampaignService(fans[0]).pledge(cid.hex()[:10], "60")
    CampaignService(fans[1]).pledge(cid, "25")
    world.sync()
    world.cores.remove(artist)  # the artist goes offline
    assert settle_campaigns(seeder, clock=lambda: t0 + 31_000).funded == []  # grace for late
    world.cores.remove(seeder)  # a late pledge the seeder does not see before it closes
    late = CampaignService(fans[2], clock=lambda: t0 + 29_000).pledge(cid, "10")
    report = settle_campaigns(seeder, clock=lambda: t0 + 91_000)
    assert report.funded == [cid] and report.counted == []
    world.cores.append(seeder)
    world.sync()
    view = CampaignService(fans[0]).campaign_view(cid)
    assert view.status == "funded" and view.campaign.counted == 85_00
    assert [(b.amount, b.tier.name) for b in view.backers] == [
        (60_00, "Patron"),
        (25_00, "Supporter"),
    ]
    # the late pledge went back to its backer with the close as proof
    assert dict((p.id, s) for p, s in CampaignService(fans[2]).my_pledges())[late] == "refundable"
    assert settle_campaigns(fans[2]).refunded == [late]
    world.sync()
    assert credits(fans[2], world) == 100_00
    assert [credits(f, world) for f in fans[:2]] == [40_00, 75_00]
    world.cores.append(artist)  # back online: the pledges are the artist's, in one transfer
    world.sync()
    assert credits(artist, world) == 85_00
    world.sync()
    hashes = {c.ledger.state_hash() for c in world.cores}
    assert len(hashes) == 1


def test_a_failed_campaign_refunds_every_pledge(world: Any) -> None:
    artist, fan, fan2 = world.core("artist"), world.core("fan"), world.core("fan2")
    world.fund(fan, "100")
    world.fund(fan2, "100")
    cid, t0 = start(world, artist, "500")
    CampaignService(fan).pledge(cid, "60")
    CampaignService(fan2).pledge(cid, "70")
    world.sync()
    with pytest.raises(UserError, match="succeeds only after its deadline"):
        CampaignService(artist, clock=lambda: t0 + 1000).close(cid, success=True)
    report = artist.settle().funding  # the artist settles its own campaign
    assert report is not None and report.failed == []  # not before the deadline
    assert settle_campaigns(artist, clock=lambda: t0 + 91_000).failed == [cid]
    world.sync()
    assert [credits(f, world) for f in (fan, fan2)] == [100_00, 100_00]
    assert {s for _, s in CampaignService(fan).my_pledges()} == {"reclaimed"}
    assert credits(artist, world) == 0
    with pytest.raises(UserError, match="campaign is failed"):
        CampaignService(fan).pledge(cid, "1")


def test_a_campaign_nobody_closed_is_refunded_by_deadline_proof(world: Any) -> None:
    artist, seeder, fan = world.core("artist"), world.core("seeder"), world.core("fan")
    world.fund(fan, "100")
    cid, t0 = start(world, artist, "10", settler=seeder)
    pid = CampaignService(fan).pledge(cid, "20")
    world.sync()
    with pytest.raises(UserError, match="pending"):
        CampaignService(fan).refund(pid)
    # the seeder was away past close_by: too late to close; its checkpoint proves it
    after = t0 + 151_000
    assert settle_campaigns(seeder, clock=lambda: after).funded == []
    assert settle_market(seeder, clock=lambda: after).checkpoints == 1
    world.sync()
    assert settle_market(fan, clock=lambda: after).reclaimed == [pid]
    world.sync()
    assert credits(fan, world) == 100_00
    assert CampaignService(fan, clock=lambda: after).campaign_view(cid).status == "lapsed"


def test_the_settler_loop_skips_a_bad_campaign_and_closes_the_others(world: Any) -> None:
    artist, fan = world.core("artist"), world.core("fan")
    world.fund(fan, "100")
    t0 = now_ms()
    c1, _ = start(world, artist, "10", t0=t0, window_s=200)  # closes between 130 and 230 s
    c2, _ = start(world, artist, "10", t0=t0, window_s=200)
    CampaignService(fan).pledge(c1, "10")
    CampaignService(fan).pledge(c2, "10")
    world.sync()
    original = artist.ledger.append
    calls: list[Any] = []

    def flaky(signer: Any, kind: str, body: dict, *a: Any, **kw: Any) -> Any:
        calls.append(body.get("campaign"))
        if body.get("campaign") == c1:
            from ledger.errors import LedgerError

            raise LedgerError("disk full")
        return original(signer, kind, body, *a, **kw)

    artist.ledger.append = flaky  # type: ignore[method-assign]
    try:
        later = t0 + 131_000
        report = settle_campaigns(artist, clock=lambda: later)
        assert report.funded == [c2] and [i for i, _ in report.skipped] == [c1]
        again = settle_campaigns(artist, clock=lambda: later + 1)  # not retried at once
        assert again.funded == [] and again.skipped == [] and calls.count(c1) == 1
    finally:
        artist.ledger.append = original  # type: ignore[method-assign]
    assert settle_campaigns(artist, clock=lambda: later + 61_000).funded == [c1]


def test_campaign_mistakes_get_a_clear_message(world: Any) -> None:
    artist, fan = world.core("artist"), world.core("fan")
    world.sync()
    service = CampaignService(artist)
    with pytest.raises(UserError, match="no asset"):
        service.create("X", "10", "NOPE", deadline_in_s=60)
    with pytest.raises(UserError, match="positive"):
        service.create("X", "0", world.credits.id, deadline_in_s=60)
    with pytest.raises(UserError, match="own positive minimum"):
        service.create(
            "X", "10", world.credits.id, deadline_in_s=60, tiers=[("A", "5", ""), ("B", "5", "")]
        )
    cid, _ = start(world, artist, "10")
    with pytest.raises(UserError, match="you run or settle"):
        service.pledge(cid, "1")
    with pytest.raises(UserError, match="not enough CRD"):
        CampaignService(fan).pledge(cid, "1")
    with pytest.raises(UserError, match="no campaign"):
        CampaignService(fan).pledge("abcdef", "1")
    with pytest.raises(UserError, match="only the campaign's settler"):
        CampaignService(fan).close(cid)
