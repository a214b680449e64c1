"""The demo's community: a label run as a DAO on the seeder (Qt-free).

Called by ``app.demo.build_world`` before the world's replicas converge. "Coop Records" issues a
governance token (COOP), hands it to three members and to the fan, and binds its feed with a
charter: quadratic votes of COOP holders, counted by the always-on seeder; from then on its
treasury (credits from the gateway) moves only as its members vote. Three days ago two
proposals were made; both closed yesterday and the seeder counted them today: one passed (the
label paid for a music video, carried out from the treasury), one failed. One member's vote on
the passed one reached the seeder only after its close: it shows as an omitted vote. An open
proposal asks to sign an artist; one member has voted on it, the fan has not yet.

Entries of the past are dated in the past: only each feed's own order constrains timestamps, so
each feed is written oldest first (its past, then what it does now).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.profile import Profile
from app.services.core import Core
from app.services.governance import GovernanceService, settle_governance
from app.services.identity import IdentityService
from app.services.replica import converge, replicate
from app.services.wallet import WalletService
from ledger.entry import Entry
from ledger.state import Asset

if TYPE_CHECKING:
    from app.demo import Actor, DemoWorld
    from app.services.session import Session

HOUR = 3600 * 1000
DAY = 24 * HOUR
LABEL = "Coop Records"
LABEL_SLUG = "label"
TOKEN = "COOP"
PERIOD_MS = 2 * DAY  # the charter's shortest voting period
OPEN_FOR_MS = 21 * DAY  # the open proposal: the world is built once and reused
QUORUM = 10  # votes (quadratic weight)
FAN_COOP = 16  # the fan's 16 COOP count as 4 votes


@dataclass(frozen=True)
class Member:
    slug: str
    name: str
    coop: int  # COOP held: √ of it is the member's vote


MEMBERS = (
    Member("member-1", "Ada Brightwater", 100),
    Member("member-2", "Rafe Okoro", 81),
    Member("member-3", "Juno Park", 36),
)
SOON_PROPOSER = "member-3"  # whose feed is old enough to date a proposal that closes soon


def _identity(root: Path, slug: str, passphrase: str, kdf: tuple[int, int]) -> Core:
    prof = Profile(root / slug)
    ids = IdentityService(prof, *kdf)
    ids.create(passphrase, "")
    prof.update_config(mdns=False)
    return Core(prof, ids.unlock(passphrase))


def _write(core: Core, kind: str, body: dict, deps: list[bytes], at: int) -> Entry:
    return core.ledger.append(core.signer, kind, body, sorted(set(deps)), timestamp=at)


def _vote(core: Core, proposal: bytes, choice: int, units: int, at: int) -> Entry:
    body = {"proposal": proposal, "choices": [choice], "units": units, "qualifier": None}
    return _write(core, "vote", body, [proposal], at)


def make_community(
    root: Path,
    seeder: Core,
    gateway: Core,
    fan: Core,
    artists: list[Core],
    cred: Asset,
    actors: list[Actor],
    make_actor: Callable[[str, str, Path, bool], Actor],
    passphrase: str,
    kdf: tuple[int, int],
) -> list[Core]:
    """The label, its members, its charter, treasury and proposals. ``artists`` in cast order;
    the label and members join ``actors`` (offline: the seeder settles their votes). Returns
    the cores made (open). ``make_actor`` is ``app.demo.Actor`` (passed in: the demo imports
    this module)."""
    now = int(time.time() * 1000)
    t0 = now - 3 * DAY
    label = _identity(root, LABEL_SLUG, passphrase, kdf)
    members = [_identity(root, m.slug, passphrase, kdf) for m in MEMBERS]
    # the label's past: its name, its token, the token handed out, then the charter
    _write(
        label,
        "profile",
        {
            "name": LABEL,
            "bio": "A cooperative label: COOP holders vote on who we sign and what we fund.",
            "links": [],
        },
        [],
        t0,
    )
    issue = _write(
        label,
        "asset.issue",
        {
            "symbol": TOKEN,
            "name": "Coop Records membership token",
            "precision": 0,
            "max_supply": 100_000,
            "flags": [],
        },
        [],
        t0,
    )
    coop = issue.hash
    _write(label, "asset.mint", {"asset": coop, "amount": 1000}, [], t0)
    for who, amount in [*zip(members, (m.coop for m in MEMBERS), strict=True), (fan, FAN_COOP)]:
        memo = "welcome to Coop Records"
        _write(label, "send", {"asset": coop, "to": who.me, "amount": amount, "memo": memo}, [], t0)
    gov = GovernanceService(label, clock=lambda: t0 + 1)
    gov.charter(
        method="quadratic",
        asset=coop.hex(),
        quorum=QUORUM,
        threshold="50.01",
        period_s=PERIOD_MS / 1000,
        settler=seeder.me,
    )
    # the members' past: names, their COOP received, two proposals and their votes
    for n, (m, core) in enumerate(zip(MEMBERS, members, strict=True)):
        _write(core, "profile", {"name": m.name, "bio": "Coop Records member", "links": []}, [], t0)
        replicate(label, core)
        replicate(gateway, core)  # the credits the treasury pays in
        sources = sorted({t.source for t in core.ledger.state.incoming(core.me)})
        _write(core, "receive", {"transfers": sources}, sources, t0 + HOUR + n)
    ada, rafe, juno = members
    marrow, ottoline = artists[1], artists[3]
    video = _propose(
        ada,
        label,
        t0 + 2 * HOUR,
        "Fund a music video for Marrow & Moss",
        "Marrow & Moss asked for help with a video for their next single. The label pays "
        "40 CRED from the treasury to the band; they keep the rights.",
        {"do": "send", "asset": cred.id.hex(), "to": marrow.me, "amount": "40.00"},
    )
    vinyl = _propose(
        rafe,
        label,
        t0 + 2 * HOUR + 1,
        "Press 300 vinyl copies of the next Coop sampler",
        "A first physical release: 300 copies, paid from the treasury (120 CRED).",
        {"do": "send", "asset": cred.id.hex(), "to": rafe.me, "amount": "120.00"},
    )
    for core in members:
        replicate(ada, core)
        replicate(rafe, core)
    _vote(ada, video, 0, 64, t0 + 3 * HOUR)  # yes, √64 = 8
    _vote(rafe, video, 0, 49, t0 + 3 * HOUR + 1)  # yes, 7
    _vote(ada, vinyl, 1, 36, t0 + 3 * HOUR + 2)  # no, 6
    _vote(rafe, vinyl, 0, 25, t0 + 3 * HOUR + 3)  # yes, 5
    # treasury: credits from the gateway, taken in now
    WalletService(gateway).send(label.me, cred.id, "250.00", "Coop Records treasury")
    converge(gateway, label, seeder, *members)
    label.settle()
    # the seeder counts today: both closed yesterday
    converge(label, seeder, *members)
    settle_governance(seeder)
    # Juno's vote was made in time but reached the seeder only after the close: omitted
    converge(seeder, juno)
    _vote(juno, video, 1, 36, t0 + 3 * HOUR + 4)  # no, 6
    converge(seeder, label, juno)
    label.settle()  # the label carries out what passed: the video is paid
    # now: an open proposal to sign an artist; Ada has voted yes
    converge(label, ada, ottoline)
    sign = GovernanceService(ada, clock=lambda: now - 5 * HOUR).propose(
        "Sign Ottoline Vale to Coop Records",
        text="Ottoline Vale's bedroom dream pop fits the label. The label would take a 15% "
        "share of her releases and put her on the next sampler.",
        community=label.me,
        closes_in_s=OPEN_FOR_MS / 1000,
        action={"do": "sign", "to": ottoline.me, "amount": "1500"},
    )
    converge(seeder, ada, rafe)
    for core, choice, units in ((ada, 0, 100), (rafe, 1, 49)):  # Ada yes (10), Rafe no (7)
        core.settle()  # the units the count released come back
        _vote(core, sign, choice, units, int(time.time() * 1000))
    converge(label, seeder, fan, *members)
    actors.append(make_actor(LABEL, "label", root / LABEL_SLUG, False))
    actors += [make_actor(m.name, "member", root / m.slug, False) for m in MEMBERS]
    return [label, *members]


def _propose(core: Core, label: Core, at: int, title: str, text: str, action: dict) -> bytes:
    replicate(label, core)
    return GovernanceService(core, clock=lambda: at).propose(
        title, text=text, community=label.me, closes_in_s=PERIOD_MS / 1000, action=action
    )


def proposal_closing_soon(
    root: Path,
    passphrase: str,
    seconds: float,
    into: list[Core],
    title: str = "Coop Records night: Friday?",
) -> bytes:
    """World building for the headless check and tests: a member asks the label's members a
    question under the charter that closes ``seconds`` from now (dated so that the charter's
    voting period ends then); the member's node does not run, so its feed is copied into the
    open cores ``into``. Returns the proposal's ID."""
    member = Core.open(Profile(root / SOON_PROPOSER), passphrase)
    try:
        charter = next(iter(member.ledger.state.charters.values()))
        closes = int(time.time() * 1000) + int(seconds * 1000)
        at = closes - charter.period_ms
        proposal = GovernanceService(member, clock=lambda: at).propose(
            title,
            text="The label's first live night: Friday at the Old Pier, or not at all?",
            community=charter.author,
            closes_in_s=charter.period_ms / 1000,
        )
        for core in into:
            replicate(member, core)
        return proposal
    finally:
        member.close()


CHECK_CLOSES_S = 20.0  # the headless check's question closes this long after it is asked


def check_vote(
    world: DemoWorld,
    session: Session,
    wait: Callable[[Callable[[], bool], float, str], None],
    log_fn: Callable[[str], object],
) -> float:
    """The headless check's vote: a member asks a question under the label's charter that
    closes in ``CHECK_CLOSES_S``; the fan votes with its COOP through the Community desk (the
    quote first); the seeder, as the question's settler, closes it on its own replica and its
    close reaches the fan: the fan's vote must be the one counted, with the quoted weight.
    Returns the seconds it took."""
    t = time.monotonic()
    member = world.actor(SOON_PROPOSER)
    pid = proposal_closing_soon(world.root, member.passphrase, CHECK_CLOSES_S, [session.core])
    desk = session.community
    quote = desk.quote_vote(pid, ["yes"], str(FAN_COOP))
    desk.vote(pid, ["yes"], str(FAN_COOP), quote)
    state = session.core.ledger.state
    wait(
        lambda: session.refresh() is not None and pid in state.results,
        CHECK_CLOSES_S + 60,
        "the seeder did not close the vote",
    )
    result = state.results[pid]
    close = session.core.ledger.entry(result.close)
    seeder = world.actor("seeder").identity().public_key
    vote = state.latest_votes(pid)[session.me]
    assert close is not None and close.author == seeder, "the close is not the seeder's"
    assert vote.counted_by is not None, "the seeder's close left the fan's vote out"
    assert vote.weight == quote.weight and result.tally[0] >= quote.weight, "wrong weight"
    page = desk.page(pid)
    log_fn(
        f"vote ok: voted yes with {quote.lock_text} ({quote.weight_text}); the seeder closed "
        f"it on its replica and counted it: {page.status}, "
        + ", ".join(f"{b.choice} {b.weight}" for b in page.bars)
        + f", turnout {page.turnout} of quorum {page.quorum}"
    )
    return time.monotonic() - t


__all__ = [
    "FAN_COOP",
    "LABEL",
    "MEMBERS",
    "TOKEN",
    "check_vote",
    "make_community",
    "proposal_closing_soon",
]
