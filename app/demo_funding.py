"""The demo's fan economy: coin charters and stakes, holder passes, running campaigns and the
reviews of verified buyers (Qt-free).

Called by ``app.demo.build_world`` after the exchange (``app.demo_market``) and before the
world's replicas converge. The coin artists (MOSS, NEON) commit a share of their sales to
stakers; two makers stake with them; three listeners buy releases, so the artists' nodes
distribute and the stakers collect; the listeners review what they bought and an artist
replies. Lumen Drift runs a campaign that the always-on seeder settles (so it closes while the
artist's laptop is shut), Neon Harbor a smaller one it settles itself; both are under way with
pledges. Marrow & Moss opens a backstage pass to holders of 10 MOSS (the fan holds 12), and a
larger tier the fan does not reach. The fan gets 30 NEON to stake.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.profile import Profile
from app.services.coins import CoinService
from app.services.core import Core
from app.services.funding import CampaignService
from app.services.identity import IdentityService
from app.services.passes import PassService
from app.services.profiles import ProfileService
from app.services.replica import converge
from app.services.reviews import ReviewService
from app.services.shop import ShopService
from app.services.wallet import WalletService
from ledger.state import Asset

if TYPE_CHECKING:
    from app.demo import DemoSwarm, DemoWorld
    from app.services.session import Session

FAST_KDF = (1, 8192)  # argon2id's minimum limits: the check's throwaway observer identity

DAY_S = 24 * 3600
LISTENERS = ("Mara Lind", "Theo Park", "Juno Reyes")
BIOS = {
    "Lumen Drift": (
        "Ambient sketches recorded on night ferries and in empty stations. Pressing the first "
        "record on vinyl with the help of the people who listen.",
        ("https://lumendrift.example", "fediverse: @lumendrift@sound.example"),
    ),
    "Marrow & Moss": (
        "A folk duo from a flat above a bakery. MOSS holders get in backstage; a fifth of our "
        "sales goes to those who stake it.",
        ("https://marrowandmoss.example",),
    ),
    "Neon Harbor": (
        "Synthwave for long drives. Stake NEON and a quarter of every sale comes back to you.",
        ("https://neonharbor.example", "https://neonharbor.example/tour"),
    ),
}
# (buyer, release title, stars, review)
REVIEWS = (
    (0, "Small Rooms", 5, "Warm, close, a little sad. The harmonies on the second track!"),
    (1, "Small Rooms", 4, "Lovely songs; I wish it were longer."),
    (1, "Afterglow Drive", 5, "Exactly the drive-at-dusk record I wanted."),
    (2, "Afterglow Drive", 3, "Good hooks, the mix is a bit loud for me."),
    (2, "Night Ferry", 5, "Put it on, close your eyes, you are on the water."),
)
REPLY = (
    "Afterglow Drive",
    2,
    "Fair point: the next one gets a gentler master. Thanks for listening!",
)


def _listener(root: Path, n: int, name: str, passphrase: str, kdf: tuple[int, int]) -> Core:
    prof = Profile(root / f"listener-{n + 1}")
    ids = IdentityService(prof, *kdf)
    ids.create(passphrase, name)
    prof.update_config(mdns=False)
    core = Core(prof, ids.unlock(passphrase))
    ProfileService(core, ids).publish(name, "Listens a lot; buys what stays.")
    return core


def _coin(core: Core, symbol: str) -> Asset:
    return next(a for a in core.ledger.state.assets.values() if a.symbol == symbol)


def make_funding(
    root: Path, cores: list[Core], cred: Asset, passphrase: str, kdf: tuple[int, int]
) -> list[Core]:
    """Charters, stakes, passes, campaigns and reviews; returns the listeners' cores (open)."""
    by = {c.profile.root.name: c for c in cores}
    seeder, gateway, fan = by["seeder"], by["gateway"], by["fan"]
    lumen, moss_artist, neon_artist = by["artist-1"], by["artist-2"], by["artist-3"]
    makers = [by[k] for k in sorted(by) if k.startswith("maker-")]
    for artist in (lumen, moss_artist, neon_artist):
        name = artist.ledger.state.profiles[artist.me].name
        bio, links = BIOS.get(name, ("", ()))
        ProfileService(artist).publish(name, bio, list(links))
    listeners = [_listener(root, n, name, passphrase, kdf) for n, name in enumerate(LISTENERS)]
    gw = WalletService(gateway)
    for who in listeners:
        gw.send(who.me, cred.id, "60.00")
    everyone = [*cores, *listeners]
    converge(*everyone)
    moss, neon = _coin(moss_artist, "MOSS"), _coin(neon_artist, "NEON")
    # charters: a share of each coin artist's sales goes to the holders who stake the coin
    CoinService(moss_artist).write_charter(moss.id, cred.id, "20")
    CoinService(neon_artist).write_charter(neon.id, cred.id, "25")
    WalletService(neon_artist).send(fan.me, neon.id, "30")  # the fan stakes these in the app
    # holder passes on MOSS: one the fan qualifies for, one it does not
    passes = PassService(moss_artist)
    passes.create_gate(
        "Backstage pass",
        moss.id,
        "10",
        lock_days=1,
        description="Meet the duo after any show this season; show the pass at the door.",
    )
    passes.create_gate(
        "Inner circle",
        moss.id,
        "150",
        held_days=7,
        lock_days=30,
        description="Early mixes and a seat at the next album's listening session.",
    )
    PassService(neon_artist).create_gate(
        "Tour listening party", neon.id, "20", lock_days=2, description="The new set, first."
    )
    converge(*everyone)
    # makers stake with the issuers, whose nodes accept
    stakes = [
        (makers[0], moss, moss_artist, "300"),
        (makers[1], neon, neon_artist, "200"),
        (makers[0], neon, neon_artist, "100"),
    ]
    for maker, coin, _, amount in stakes:
        maker.settle()
        CoinService(maker).stake(coin.id, amount, days=180)
    converge(*everyone)
    for issuer in (moss_artist, neon_artist):
        issuer.settle()  # accepts the stakes waiting on it
    converge(*everyone)
    # listeners buy; the artists grant, receive the sales and distribute to the stakers
    state = fan.ledger.state
    listings = {li.title: li for li in state.current_listings()}
    bought: set[tuple[int, str]] = set()
    for n, title, _, _ in REVIEWS:
        if (n, title) in bought:
            continue
        bought.add((n, title))
        li = listings[title]
        listeners[n].settle()
        ShopService(listeners[n]).buy(li.id, amount="6.00" if li.prices[0].nyp else None)
    converge(*everyone)
    for artist in (lumen, moss_artist, neon_artist):
        artist.settle()  # grants, receives the payouts
        artist.settle()  # distributes what the charter committed
    converge(*everyone)
    for who in (*makers, *listeners):
        who.settle()  # receive the grants; the makers collect their dividends
    converge(*everyone)
    review_ids = {}
    for n, title, rating, text in REVIEWS:
        review_ids[(title, n)] = ReviewService(listeners[n]).review(
            listings[title].id, rating, text
        )
    converge(*everyone)
    title, n, text = REPLY
    ReviewService(neon_artist).reply(review_ids[(title, n)].hex(), text)
    # campaigns: one the seeder settles, one the artist settles itself
    vinyl = CampaignService(lumen).create(
        "Night Ferry on vinyl",
        "150.00",
        cred.id,
        deadline_in_s=30 * DAY_S,
        close_window_s=7 * DAY_S,
        tiers=[
            ("Supporter", "5.00", "your name in the sleeve notes"),
            ("Patron", "20.00", "a signed copy of the record"),
            ("Producer", "60.00", "the record, a test pressing and a studio afternoon"),
        ],
        description="300 copies on 180 g vinyl, pressed locally. All or nothing: if the goal "
        "is not met, every pledge comes back.",
        settler=seeder.me,
    )
    van = CampaignService(neon_artist).create(
        "Tour van repairs",
        "40.00",
        cred.id,
        deadline_in_s=12 * DAY_S,
        close_window_s=3 * DAY_S,
        tiers=[("Road crew", "5.00", "a tour poster"), ("Roadie", "15.00", "two tickets")],
        description="The van needs a new clutch before the summer dates.",
    )
    converge(*everyone)
    for who, camp, amount in (
        (listeners[0], vinyl, "20.00"),
        (listeners[1], vinyl, "8.00"),
        (makers[1], vinyl, "60.00"),
        (listeners[2], van, "25.00"),
        (makers[0], van, "20.00"),
    ):
        who.settle()
        CampaignService(who).pledge(camp, amount)
    converge(*everyone)
    return listeners


def check_funding(
    world: DemoWorld, swarm: DemoSwarm, session: Session, log_fn: Callable[[str], object]
) -> None:
    """The headless check's funding part: the fan pledges to the seeder-settled campaign and
    claims the holders-only pass; a second replica (a fresh node that syncs from the swarm)
    must then hold the pledge, and must confirm the pass as a door would. Prints ``pledge ok``
    and ``pass ok``; raises AssertionError otherwise."""
    from app.services.swarm import SwarmNetwork

    desk = session.funding
    vinyl = next(c for c in desk.campaigns() if c.title == "Night Ferry on vinyl")
    plan = desk.plan_pledge(vinyl.id, "2.00")
    desk.pledge(vinyl.id, "2.00", plan)
    pledge = next(
        p.id for p in session.core.ledger.state.pledges_of(vinyl.id) if p.backer == session.me
    )
    gate = next(g for g in desk.passes_view().gates if g.title == "Backstage pass")
    desk.claim(gate.id)
    claim = next(g.active_claim for g in desk.passes_view().gates if g.id == gate.id)
    assert claim is not None, "the pass claim did not take effect"
    shown = desk.show_pass(claim)
    session.network.sync(session.core)
    prof = Profile(world.root / "observer")
    ids = IdentityService(prof, *FAST_KDF)
    if not ids.exists():
        ids.create("observer passphrase", "Observer")
    observer = Core(prof, ids.unlock("observer passphrase"))
    network = SwarmNetwork(swarm.settings())
    try:
        network.start(observer)
        deadline = time.monotonic() + 60
        while True:
            session.network.sync(session.core)
            network.sync(observer)
            state = observer.ledger.state
            if pledge in state.pledges and claim in state.claims:
                break
            if time.monotonic() > deadline:
                raise AssertionError("the second replica did not receive the pledge and the claim")
            time.sleep(0.3)
        seen = CampaignService(observer).campaign_view(vinyl.id)
        assert state.pledge_status(state.pledges[pledge]) in ("pending", "counted")
        log_fn(
            f"pledge ok: 2.00 CRED to “{vinyl.title}”; a second replica holds it "
            f"({seen.amount(seen.pledged)} pledged of {seen.amount(seen.campaign.goal)})"
        )
        check = PassService(observer).check(shown.text)
        assert check.ok and check.confirmed, f"the door refused the pass: {check.reason}"
        log_fn(f"pass ok: “{gate.title}” claimed; a second replica confirms it ({check.reason})")
    finally:
        network.close()
        observer.close()


__all__ = ["LISTENERS", "check_funding", "make_funding"]
