"""The artist page's and the funding views' desks (Qt-free), on the demo world's real replicas:
what an artist page gathers, a pledge plan that says what it locks and when it comes back,
bad input that signs nothing, a pass claimed and shown (its QR code and a door's check), and the
notices for a closed campaign, a refund and a dividend."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from app.demo import DemoWorld
from app.profile import Profile
from app.services.artist_desk import ArtistDesk
from app.services.coins import CoinService
from app.services.core import Core
from app.services.errors import UserError
from app.services.events import Notice
from app.services.exchange_desk import ExchangeDesk
from app.services.funding import CampaignService
from app.services.funding_desk import FundingDesk, when
from app.services.market import now_ms
from app.services.passes import DAY_MS, PassService
from app.services.replica import converge
from app.services.shop import ShopService


@pytest.fixture
def fan(world: DemoWorld) -> Iterator[Core]:
    core = Core.open(Profile(world.fan), world.fan_passphrase)
    core.settle()
    yield core
    core.close()


def actor(world: DemoWorld, slug: str) -> Core:
    a = world.actor(slug)
    return Core.open(Profile(a.profile), a.passphrase)


def test_an_artist_page_gathers_profile_coin_tiers_campaigns_and_reviews(fan: Core) -> None:
    desk = ArtistDesk(fan, ExchangeDesk(fan))
    page = desk.page("marrow & moss")  # as the library names it
    assert page.name == "Marrow & Moss" and "bakery" in page.bio
    assert page.links == ("https://marrowandmoss.example",)
    assert [r.title for r in page.releases] == ["Small Rooms"]
    (coin,) = page.coins
    assert coin.symbol == "MOSS" and coin.price == "0.30 CRED (last trade)"
    assert coin.holders >= 4 and coin.staked.startswith("300 MOSS staked by 1 holder")
    assert coin.charter.startswith("20 % of the artist's CRED sales go to the holders")
    assert coin.mine == "You hold 12 MOSS" and coin.tier == "Your tier: Backstage pass"
    assert [(t.title, t.qualifies) for t in coin.tiers] == [
        ("Backstage pass", True),
        ("Inner circle", False),
    ]
    assert {(r.reviewer, r.rating) for r in page.reviews} == {("Mara Lind", 5), ("Theo Park", 4)}
    assert page.rating == "★ 4.5 from 2 verified buyers"
    neon = desk.page(next(iter(_artist_of(fan, "Afterglow Drive"))))
    assert [c.title for c in neon.campaigns] == ["Tour van repairs"]
    reply = next(r for r in neon.reviews if r.reviewer == "Juno Reyes")
    assert reply.reply.startswith("Fair point")
    with pytest.raises(UserError, match="no artist called"):
        desk.page("Nobody Here")
    # the fan bought nothing: no review can be written, and none is signed
    with pytest.raises(UserError, match="only buyers"):
        desk.review(page.releases[0].id, 5, "great")


def _artist_of(core: Core, title: str) -> set[bytes]:
    return {li.artist for li in core.ledger.state.current_listings() if li.title == title}


def test_a_pledge_plan_says_what_it_locks_and_bad_input_signs_nothing(fan: Core) -> None:
    desk = FundingDesk(fan)
    cards = {c.title: c for c in desk.campaigns()}
    vinyl = cards["Night Ferry on vinyl"]
    assert vinyl.status == "open" and vinyl.pledged == "88.00 CRED" and vinyl.can_pledge
    assert vinyl.settler.startswith("Always-on Seeder")
    assert [t.name for t in vinyl.tiers] == ["Supporter", "Patron", "Producer"]
    seq = fan.ledger.state.last_seen[fan.me]
    for bad, why in (
        ("", "enter an amount"),
        ("-3", "positive"),
        ("abc", "amount|number|decimal|abc"),
        ("500", "enough"),
    ):
        with pytest.raises(UserError, match=why):
            desk.plan_pledge(vinyl.id, bad)
        with pytest.raises(UserError):
            desk.pledge(vinyl.id, bad)
    assert fan.ledger.state.last_seen[fan.me] == seq  # nothing signed
    plan = desk.plan_pledge(vinyl.id, "20")
    assert plan.amount == "20.00 CRED" and plan.balance_after == "5.00 CRED"
    text = " ".join(plan.lines)
    assert "Locks 20.00 CRED" in text and "Always-on Seeder closes" in text
    assert "by itself if nobody closes it by" in text and "“Patron”" in text
    with pytest.raises(UserError, match="changed"):
        desk.pledge(vinyl.id, "21", plan)
    assert "Pledged 20.00 CRED" in desk.pledge(vinyl.id, "20", plan)
    card = desk.campaign(vinyl.id)
    assert card.pledged == "108.00 CRED"
    assert [(p.amount, p.status) for p in card.mine] == [("20.00 CRED", "pending")]


def test_a_pass_is_claimed_shown_as_a_qr_code_and_checked_at_the_door(
    world: DemoWorld, fan: Core
) -> None:
    desk = FundingDesk(fan)
    gates = {g.title: g for g in desk.passes_view().gates}
    assert gates["Backstage pass"].qualifies and not gates["Inner circle"].qualifies
    with pytest.raises(UserError, match="asks for 150"):
        desk.claim(gates["Inner circle"].id)
    assert "Pass claimed" in desk.claim(gates["Backstage pass"].id)
    view = desk.passes_view()
    claim = next(g.active_claim for g in view.gates if g.title == "Backstage pass")
    assert claim is not None and view.claims[0].active
    shown = desk.show_pass(claim)
    assert shown.text.startswith("ctpass1:") and len(shown.qr) >= 21
    assert all(len(row) == len(shown.qr) for row in shown.qr)
    door = actor(world, "artist-2")
    try:
        converge(fan, door)
        check = PassService(door).check(shown.text)
        assert check.ok and check.confirmed
    finally:
        door.close()


def test_notices_for_a_dividend_a_funded_campaign_and_a_refund(world: DemoWorld, fan: Core) -> None:
    notices: list[str] = []
    fan.events.subscribe(lambda e: notices.append(e.text) if isinstance(e, Notice) else None)
    desk = FundingDesk(fan)
    assert desk.watch() == []  # the first look only remembers
    neon_artist = actor(world, "artist-3")
    seeder = actor(world, "seeder")
    try:
        assert "Staked 20 NEON" in desk.stake(
            next(c.id for c in desk.stakes().coins if c.symbol == "NEON"), "20", "30"
        )
        with pytest.raises(UserError, match="not a number of days"):
            desk.stake(next(c.id for c in desk.stakes().coins if c.symbol == "NEON"), "1", "x")
        # a short campaign the seeder settles: one pledge funds it, the other fails
        lumen = actor(world, "artist-1")
        try:
            converge(fan, lumen, seeder)
            short = CampaignService(lumen).create(
                "Short one",
                "3.00",
                "CRED",
                deadline_in_s=0.5,
                close_window_s=600,
                settler=seeder.me,
            )
            short_fail = CampaignService(lumen).create(
                "Too far",
                "500.00",
                "CRED",
                deadline_in_s=0.5,
                close_window_s=600,
                settler=seeder.me,
            )
            converge(fan, lumen, seeder)
        finally:
            lumen.close()
        desk.pledge(short, "3")
        desk.pledge(short_fail, "2")
        converge(fan, neon_artist, seeder)
        neon_artist.settle()  # accepts the stake
        converge(fan, neon_artist)
        assert desk.stakes().stakes[0].status == "staked"
        # a sale of Neon Harbor's: its node distributes, the fan's node collects
        pixel = next(li for li in fan.ledger.state.current_listings() if li.title == "Pixel Tides")
        ShopService(fan).buy(pixel.id, amount="10.00")
        converge(fan, neon_artist)
        neon_artist.settle()
        neon_artist.settle()
        converge(fan, neon_artist)
        later = CampaignService(seeder, clock=lambda: now_ms() + 5000)  # past both deadlines
        later.close(short)
        later.close(short_fail)
        converge(fan, seeder)
        fan.settle()  # collects the dividend, reclaims the failed pledge
        texts = desk.watch()
    finally:
        neon_artist.close()
        seeder.close()
    assert any(t.startswith("Dividend:") and "NEON stake" in t for t in texts), texts
    assert any("“Short one” is funded" in t for t in texts), texts
    assert any("Refunded: your pledge of 2.00 CRED to “Too far”" in t for t in texts), texts
    assert set(texts) <= set(notices)
    stakes = desk.stakes()
    assert stakes.received != "nothing yet" and stakes.dividends[0].collected
    assert CoinService(fan).my_stakes()[0][2] > 0


def test_a_failed_campaigns_pledge_is_refundable_and_reclaimed_by_hand(
    world: DemoWorld, fan: Core
) -> None:
    lumen, seeder = actor(world, "artist-1"), actor(world, "seeder")
    try:
        converge(fan, lumen, seeder)
        camp = CampaignService(lumen).create(
            "Too far", "500.00", "CRED", deadline_in_s=0.5, close_window_s=600, settler=seeder.me
        )
        converge(fan, lumen, seeder)
        desk = FundingDesk(fan)
        desk.pledge(camp, "4")
        converge(fan, seeder)
        CampaignService(seeder, clock=lambda: now_ms() + 5000).close(camp)
        converge(fan, seeder)
    finally:
        lumen.close()
        seeder.close()
    card = desk.campaign(camp)
    assert card.status == "failed" and "every pledge is refunded" in card.headline
    (mine,) = card.mine
    assert mine.refundable and mine.status == "refundable"
    assert "Reclaimed" in desk.refund(mine.id)
    assert desk.campaign(camp).mine[0].status == "reclaimed"
    with pytest.raises(UserError, match="reclaimed"):
        desk.refund(mine.id)


def _entries(core: Core) -> int:
    return core.ledger.head_seq(core.me)


def test_a_campaign_plan_says_what_it_means_and_signs_exactly_that(world: DemoWorld) -> None:
    artist = actor(world, "artist-1")
    try:
        desk = FundingDesk(artist)
        seeder = actor(world, "seeder")
        seeder_key = seeder.me
        seeder.close()
        choices = desk.settler_choices()
        assert choices[0].key == artist.me and choices[0].name == "You"
        assert seeder_key in [c.key for c in choices[1:]]
        before = _entries(artist)
        plan = desk.plan_campaign(
            "  Second pressing ",
            "Another 200 copies.",
            "120.5",
            "CRED",
            "20",
            seeder_key,
            [
                ("Patron", "25", "a signed copy"),
                ("", "", ""),  # a blank row is ignored
                ("Supporter", "5", "your name in the notes"),
            ],
        )
        assert _entries(artist) == before  # planning signs nothing
        assert plan.goal == "120.50 CRED" and plan.title == "Second pressing"
        assert plan.tiers == (
            ("Supporter", 500, "your name in the notes"),
            ("Patron", 2500, "a signed copy"),
        )
        text = " ".join(plan.lines)
        assert f"if the goal is not met by {when(plan.deadline)}, every pledge is refunded" in text
        assert "Always-on Seeder settles it while you are away" in text
        assert "Tier “Supporter”: from 5.00 CRED — your name in the notes" in text
        assert 19.9 * DAY_MS < plan.deadline - now_ms() <= 20 * DAY_MS
        said = desk.start_campaign(plan)
        assert "Second pressing" in said and _entries(artist) == before + 1
        (c,) = [c for c in artist.ledger.state.campaigns.values() if c.title == "Second pressing"]
        assert (c.goal, c.deadline, c.close_by, c.settler, c.artist) == (
            12050,
            plan.deadline,
            plan.close_by,
            seeder_key,
            artist.me,
        )
        assert c.description == "Another 200 copies."
        assert [(t.name, t.min, t.reward) for t in c.tiers] == list(map(tuple, plan.tiers))
        assert c.asset == plan.asset
        card = next(x for x in desk.campaigns() if x.title == "Second pressing")
        assert card.own and card.status == "open"
        # an altered plan is refused and signs nothing
        with pytest.raises(UserError, match="changed since you confirmed"):
            desk.start_campaign(dataclasses.replace(plan, goal_units=1))
        assert _entries(artist) == before + 1
    finally:
        artist.close()


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("title", "   ", "title"),
        ("goal", "0", "more than zero"),
        ("goal", "-5", "more than zero|not an amount"),
        ("goal", "lots", "not an amount"),
        ("goal", "", "enter the goal"),
        ("asset", "NOPE", "no asset called NOPE"),
        ("days", "-1", "in the future"),
        ("days", "0", "in the future"),
        ("days", "5000", "at most 365 days"),
        ("days", "soon", "not a number of days"),
        ("tiers", [("Patron", "", "a record")], "needs a minimum"),
        ("tiers", [("Patron", "0", "a record")], "above zero"),
        ("tiers", [("", "5", "a record")], "needs a name"),
        ("tiers", [("A", "5", ""), ("B", "5", "")], "same minimum"),
        ("tiers", [(f"T{i}", str(i + 1), "x") for i in range(6)], "at most 5 reward tiers"),
        ("settler", b"\x07" * 32, "delegated"),
    ],
)
def test_a_bad_campaign_form_is_refused_and_signs_nothing(
    world: DemoWorld, field: str, value: object, why: str
) -> None:
    artist = actor(world, "artist-1")
    try:
        desk = FundingDesk(artist)
        form: dict[str, object] = {
            "title": "Good",
            "description": "",
            "goal": "10",
            "asset": "CRED",
            "days": "10",
            "settler": None,
            "tiers": [("Patron", "5", "a record")],
        }
        desk.plan_campaign(**form)  # type: ignore[arg-type]  # the good form plans
        form[field] = value
        before = _entries(artist)
        with pytest.raises(UserError, match=why):
            desk.plan_campaign(**form)  # type: ignore[arg-type]
        assert _entries(artist) == before
    finally:
        artist.close()
