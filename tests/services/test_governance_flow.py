"""Votes and a label through the services, across several nodes with real ledgers: a label
charters itself with a seeder as settler; fans vote (one changes its vote); the seeder closes
after the closing time; the label's node pays the artist as voted and cannot pay otherwise; a bad
item in the settle loop is skipped without stopping the others."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.services.errors import UserError
from app.services.governance import GovernanceService, settle_governance
from app.services.shop import ShopService
from app.services.studio import ReleaseDraft, StudioService
from app.services.wallet import WalletService
from ledger.entry import create_entry


def now() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def label(world: Any) -> dict[str, Any]:
    """Coop Records: COOP held by three fans, 500 CRD in the treasury, chartered, with a
    seeder as its settler and a 30-second voting period."""
    coop_core, seeder, artist = world.core("coop"), world.core("seeder"), world.core("artist")
    fans = [world.core(f"fan{i}") for i in range(3)]
    wallet = WalletService(coop_core)
    coop = wallet.issue("COOP", "Coop Records", 0, 10**6, ())
    wallet.mint(coop.id, "3000")
    for fan in fans:
        wallet.send(fan.me, coop.id, "1000")
    world.fund(coop_core, "500")
    GovernanceService(coop_core).charter(
        method="token",
        asset=coop.id,
        quorum="500",
        threshold="50.01",
        period_s=30,
        settler=seeder.me,
    )
    world.sync()
    return {"label": coop_core, "seeder": seeder, "artist": artist, "fans": fans, "coop": coop}


def test_a_label_pays_an_artist_only_as_its_members_voted(world: Any, label: Any) -> None:
    lab, seeder, artist, fans = label["label"], label["seeder"], label["artist"], label["fans"]
    with pytest.raises(UserError, match="passed proposal"):
        WalletService(lab).send(artist.me, world.credits.id, "200")
    pid = GovernanceService(fans[0]).propose(
        "An advance for the artist",
        community=lab.me,
        closes_in_s=30,
        action={"do": "send", "asset": world.credits.id, "to": artist.me, "amount": "200"},
    )
    world.sync()
    GovernanceService(fans[0]).vote(pid, ["yes"], "600")
    GovernanceService(fans[1]).vote(pid, ["no"], "300")
    GovernanceService(fans[2]).vote(pid, ["no"], "700")
    GovernanceService(fans[2]).vote(pid, ["yes"], "200")  # changes its mind: the latest counts
    world.sync()
    view = GovernanceService(artist).proposal_view(pid)
    assert view.status == "open" and view.tally.tally == (800, 300)
    with pytest.raises(UserError, match="still open"):
        GovernanceService(seeder).close(pid)
    closes = view.proposal.closes
    assert settle_governance(fans[0], clock=lambda: closes + 1).closed == []  # not the settler
    report = settle_governance(seeder, clock=lambda: closes + 1)
    assert report.closed == [pid]
    world.sync()
    result = lab.ledger.state.results[pid]
    assert (result.tally, result.turnout, result.passed) == ((800, 300), 1100, True)
    report = settle_governance(lab, clock=lambda: closes + 2)  # the label's node carries it out
    assert report.carried_out == [pid]
    assert settle_governance(lab, clock=lambda: closes + 3).carried_out == []  # only once
    world.sync()
    artist.settle()
    assert artist.ledger.state.balance(artist.me, world.credits.id) == 200_00
    for fan, back in zip(fans, (1000, 1000, 1000), strict=True):  # the close unlocked the votes
        fan.settle()
        assert fan.ledger.state.balance(fan.me, label["coop"].id) == back
    world.sync()
    hashes = {core.ledger.state_hash() for core in world.cores}
    assert len(hashes) == 1
    done = GovernanceService(fans[1]).proposal_view(pid)
    assert done.status == "passed" and done.carried_out_by is not None


def test_a_failed_proposal_pays_nothing(world: Any, label: Any) -> None:
    lab, seeder, artist, fans = label["label"], label["seeder"], label["artist"], label["fans"]
    pid = GovernanceService(fans[0]).propose(
        "A big advance",
        community=lab.me,
        closes_in_s=30,
        action={"do": "send", "asset": world.credits.id, "to": artist.me, "amount": "400"},
    )
    world.sync()
    GovernanceService(fans[1]).vote(pid, ["no"])  # all it holds: 1000 against
    GovernanceService(fans[0]).vote(pid, ["yes"], "100")
    world.sync()
    closes = lab.ledger.state.proposals[pid].closes
    settle_governance(seeder, clock=lambda: closes + 1)
    world.sync()
    assert not lab.ledger.state.results[pid].passed
    assert settle_governance(lab, clock=lambda: closes + 2).carried_out == []
    with pytest.raises(UserError, match="not passed"):
        GovernanceService(lab).carry_out(pid)


def test_one_bad_item_does_not_stop_the_label_carrying_out_the_others(
    world: Any, label: Any
) -> None:
    """Two passed proposals: paying more than the treasury holds fails (and is skipped for a
    while, with its reason); signing the artist is still carried out."""
    lab, seeder, artist, fans = label["label"], label["seeder"], label["artist"], label["fans"]
    gov = GovernanceService(fans[0])
    too_much = gov.propose(
        "Pay 900",
        community=lab.me,
        closes_in_s=30,
        action={"do": "send", "asset": world.credits.id, "to": artist.me, "amount": "900"},
    )
    sign = gov.propose(
        "Sign the artist",
        community=lab.me,
        closes_in_s=30,
        action={"do": "sign", "to": artist.me, "amount": "2000"},
    )
    world.sync()
    for pid in (too_much, sign):
        GovernanceService(fans[1]).vote(pid, ["yes"], "400")
        GovernanceService(fans[2]).vote(pid, ["yes"], "400")
    world.sync()
    later = max(p.closes for p in lab.ledger.state.proposals.values()) + 1
    assert sorted(settle_governance(seeder, clock=lambda: later).closed) == sorted([too_much, sign])
    world.sync()
    report = settle_governance(lab, clock=lambda: later + 1)
    assert report.carried_out == [sign]
    assert [item for item, _ in report.skipped] == [too_much]
    assert "not enough" in report.skipped[0][1] or "overdraft" in report.skipped[0][1]
    assert settle_governance(lab, clock=lambda: later + 2).skipped == []  # not retried at once
    assert lab.ledger.state.signed_artists(lab.me) == {artist.me: 2000}


def test_votes_by_method_and_a_plain_proposal(world: Any, label: Any) -> None:
    """Quadratic weights, one member one vote from a list, an approval vote, and the errors a
    voter can make."""
    fans, seeder = label["fans"], label["seeder"]
    coop = label["coop"]
    gov = GovernanceService(fans[0])
    quad = gov.propose(
        "Quadratic?", method="quadratic", asset=coop.id, closes_in_s=60, settler=seeder.me
    )
    members = gov.propose(
        "Members only",
        method="member",
        members=[f.me for f in fans[:2]],
        choices=["red", "blue", "green"],
        approval=True,
        closes_in_s=60,
        settler=seeder.me,
    )
    world.sync()
    GovernanceService(fans[1]).vote(quad, ["yes"], "900")
    GovernanceService(fans[2]).vote(quad, ["no"], "100")
    GovernanceService(fans[1]).vote(members, ["red", "green"])
    with pytest.raises(UserError, match="member list"):
        GovernanceService(fans[2]).vote(members, ["red"])
    with pytest.raises(UserError, match="not a choice"):
        GovernanceService(fans[0]).vote(members, ["purple"])
    with pytest.raises(UserError, match="not enough COOP"):
        GovernanceService(fans[0]).vote(quad, ["yes"], "1001")
    world.sync()
    view = GovernanceService(seeder).proposal_view(quad)
    assert view.tally.tally == (30, 10)
    # the settler marks time while votes it will count are locked, so unlocks can be proven
    market = seeder.settle().market
    assert market is not None and market.checkpoints == 1
    assert seeder.ledger.state.checkpoints[seeder.me]
    later = max(p.closes for p in seeder.ledger.state.proposals.values()) + 1
    settle_governance(seeder, clock=lambda: later)
    r = seeder.ledger.state.results[members]
    assert (r.tally, r.voters, r.passed) == ((1, 0, 1), 1, False)  # a tie has no winner
    assert seeder.ledger.state.results[quad].passed
    world.sync()
    with pytest.raises(UserError, match="passed"):
        GovernanceService(fans[1]).vote(quad, ["yes"], "1")


def test_a_voter_takes_back_an_uncounted_vote_after_the_close_window(tmp_path: Any) -> None:
    """Nobody closed the proposal: once the close window passed and the settler wrote its next
    entry (a checkpoint, since a vote lock waits on it), the voter's node reclaims the lock."""
    from app.profile import Profile
    from app.services.core import Core
    from app.services.market import settle_market
    from ledger.features.governance import CLOSE_WINDOW_MS
    from ledger.keys import Signer
    from ledger.ledger import Ledger

    clock = [now()]

    def node(name: str) -> Core:
        profile = Profile(tmp_path / name)
        profile.ensure()
        return Core(
            profile, Signer.generate(), Ledger.open(profile.ledger_db, clock=lambda: clock[0])
        )

    fan, seeder = node("fan"), node("seeder")
    try:
        wallet = WalletService(fan)
        coin = wallet.issue("FAN", "Fan coin", 0, 10**6, ())
        wallet.mint(coin.id, "100")
        pid = GovernanceService(fan, clock=lambda: clock[0]).propose(
            "Nobody counts this", asset=coin.id, closes_in_s=60, settler=seeder.me
        )
        GovernanceService(fan, clock=lambda: clock[0]).vote(pid, ["yes"], "100")
        seeder.ledger.ingest(fan.ledger.feed_range(fan.me, 1, 100))
        assert fan.ledger.state.balance(fan.me, coin.id) == 0
        clock[0] = fan.ledger.state.proposals[pid].closes + CLOSE_WINDOW_MS + 1_000
        assert settle_governance(fan, clock=lambda: clock[0]).reclaimed == []  # no proof yet
        assert settle_market(seeder, clock=lambda: clock[0]).checkpoints == 1  # overdue lock
        fan.ledger.ingest(seeder.ledger.feed_range(seeder.me, 1, 100))
        report = settle_governance(fan, clock=lambda: clock[0])
        assert len(report.reclaimed) == 1
        assert fan.ledger.state.balance(fan.me, coin.id) == 100
        assert (
            GovernanceService(fan, clock=lambda: clock[0]).proposal_view(pid).status == "unsettled"
        )
    finally:
        fan.close()
        seeder.close()


def test_a_settler_counts_many_votes_in_batches_then_closes(tmp_path: Any) -> None:
    """70 voters: more than one entry may name, so the settler writes a count of 63 and a close
    of 7; the result counts every voter once."""
    from app.profile import Profile
    from app.services.core import Core
    from tests.ledger.factory import Scenario
    from tests.ledger.governance import proposal, vote

    sc = Scenario()
    issuer, seeder = sc.signer("issuer"), sc.signer("seeder")
    coin = sc.issue(issuer, "VOTE", precision=0)
    sc.mint(issuer, coin, 70_000)
    p = proposal(
        sc, issuer, settler=seeder, method="token", asset=coin, quorum=1, closes=sc.t0 + 10**8
    )
    for i in range(70):
        voter = sc.signer(f"voter{i}")
        sc.receive(voter, sc.send(issuer, coin, voter, 1 + i))
        vote(sc, voter, p, [i % 2], units=1 + i)
    core = Core(Profile(tmp_path / "seeder"), seeder)
    try:
        assert not core.ledger.ingest(sc.wires()).rejected
        closes = p.body["closes"]
        report = settle_governance(core, clock=lambda: closes + 1)
        assert report.closed == [p.hash]
        kinds = [e.kind for e in core.ledger.feed(seeder.public_key)]
        assert kinds == ["count", "close"]
        r = core.ledger.state.results[p.hash]
        assert r.voters == 70 and r.turnout == sum(range(1, 71))
        assert r.tally == (sum(range(1, 71, 2)), sum(range(2, 71, 2)))
        assert core.ledger.state.omitted(p.hash) == []
    finally:
        core.close()


def _pass(world: Any, label: Any, title: str, action: dict[str, Any]) -> tuple[bytes, int]:
    """Put ``action`` to the label's members; fan0 and fan1 vote yes (1200 of 1200); the
    seeder closes after the closing time; everybody syncs."""
    lab, seeder, fans = label["label"], label["seeder"], label["fans"]
    pid = GovernanceService(fans[0]).propose(title, community=lab.me, action=action)
    world.sync()
    GovernanceService(fans[0]).vote(pid, ["yes"], "600")
    GovernanceService(fans[1]).vote(pid, ["yes"], "600")
    world.sync()
    closes = lab.ledger.state.proposals[pid].closes
    assert settle_governance(seeder, clock=lambda: closes + 1).closed == [pid]
    world.sync()
    return pid, closes


def test_a_signed_artist_publishes_with_the_labels_share_until_released(
    world: Any, label: Any, audio_files: Any
) -> None:
    lab, artist, fans = label["label"], label["artist"], label["fans"]
    pid, closes = _pass(
        world, label, "Sign the artist", {"do": "sign", "to": artist.me, "amount": "2000"}
    )
    assert settle_governance(lab, clock=lambda: closes + 2).carried_out == [pid]
    world.sync()
    signing = lab.ledger.state.executed[pid]
    GovernanceService(artist).accept_signing(signing.hex()[:16])
    assert GovernanceService(artist).label_shares() == {lab.me: 2000}

    def publish(title: str) -> bytes:
        draft = ReleaseDraft(
            files=tuple(audio_files[:1]),
            title=title,
            artist_name="Ann",
            price="10.00",
            asset=world.credits.id,
            preview_seconds=0.0,
        )
        return StudioService(artist).publish(draft).listing.id

    # the studio gives the label its share of the split; a hand-made listing without it fails
    listing = publish("Signed")
    split = {s.to: s.bps for s in artist.ledger.state.listings[listing].split}
    assert split == {artist.me: 8000, lab.me: 2000}
    entry = artist.ledger.entry(listing)
    assert entry is not None
    with pytest.raises(UserError, match="signed to"):
        artist.append("listing", {**entry.body, "split": [{"to": artist.me, "bps": 10_000}]})
    world.fund(fans[2], "50")
    world.sync()
    ShopService(fans[2]).buy(listing)
    world.sync()
    lab.settle()
    assert lab.ledger.state.balance(lab.me, world.credits.id) == 500_00 + 200  # 20 % of 10.00
    # the members release the artist; its listings are free again once its feed names it
    rel, closes = _pass(world, label, "Release", {"do": "release", "signing": signing.hex()})
    assert settle_governance(lab, clock=lambda: closes + 2).carried_out == [rel]
    world.sync()
    release = lab.ledger.state.releases[signing]
    assert artist.ledger.has(release)
    free = publish("Free")  # the studio names the release in deps
    assert {s.to: s.bps for s in artist.ledger.state.listings[free].split} == {artist.me: 10_000}
    assert release in artist.ledger.entry(free).deps  # type: ignore[union-attr]
    assert GovernanceService(artist).label_shares() == {}
    world.sync()
    assert len({core.ledger.state_hash() for core in world.cores}) == 1


def test_members_amend_the_labels_charter(world: Any, label: Any) -> None:
    lab, seeder, fans = label["label"], label["seeder"], label["fans"]
    with pytest.raises(UserError, match="already has a charter"):
        GovernanceService(lab).charter(method="member", members=[f.me for f in fans], quorum="2")
    draft = GovernanceService(fans[0]).draft_charter(
        method="member", members=[f.me for f in fans], quorum="2", period_s=60, settler=seeder.me
    )
    world.sync()
    pid, closes = _pass(world, label, "One member, one vote", {"do": "amend", "draft": draft})
    assert settle_governance(lab, clock=lambda: closes + 2).carried_out == [pid]
    world.sync()
    charters = {core.ledger.state.charters[lab.me].id for core in world.cores}
    assert charters == {lab.ledger.state.executed[pid]}
    rules = lab.ledger.state.charters[lab.me].rules
    assert (rules.method, rules.quorum, len(rules.members)) == ("member", 2, 3)
    # the next proposal under the label votes by the new rules: one vote each, nothing locked
    nxt = GovernanceService(fans[2]).propose(
        "Pay the artist",
        community=lab.me,
        action={"do": "send", "asset": world.credits.id, "to": label["artist"].me, "amount": "1"},
    )
    world.sync()
    GovernanceService(fans[2]).vote(nxt, ["yes"])
    assert GovernanceService(fans[2]).proposal_view(nxt).tally.tally == (1, 0)


def test_a_forked_voter_counts_nothing_and_every_replica_agrees(world: Any, label: Any) -> None:
    """fan1 votes yes with 600 and then equivocates at the seq of its vote, after the seeder
    closed and the label paid: the close stands without fan1's vote (100 yes, 300 no: failed),
    the payment is kept without effect, nobody closes or pays again, and all replicas agree."""
    lab, seeder, artist, fans = label["label"], label["seeder"], label["artist"], label["fans"]
    pid = GovernanceService(fans[0]).propose(
        "An advance",
        community=lab.me,
        action={"do": "send", "asset": world.credits.id, "to": artist.me, "amount": "200"},
    )
    world.sync()
    GovernanceService(fans[0]).vote(pid, ["yes"], "100")
    vote = GovernanceService(fans[1]).vote(pid, ["yes"], "600")
    GovernanceService(fans[2]).vote(pid, ["no"], "300")
    world.sync()
    closes = lab.ledger.state.proposals[pid].closes
    assert settle_governance(seeder, clock=lambda: closes + 1).closed == [pid]
    world.sync()
    lab.settle()  # receives the treasury's credits, and carries out what passed
    settle_governance(lab, clock=lambda: closes + 2)
    world.sync()
    paid = lab.ledger.state.executed[pid]
    assert lab.ledger.state.results[pid].passed
    # fan1 signs a second entry at the seq of its vote; its node is not needed for that
    original = fans[1].ledger.entry(vote)
    assert original is not None
    fork = create_entry(
        fans[1].signer,
        original.seq,
        original.prev,
        original.timestamp,
        "profile",
        {"name": "twin", "bio": "", "links": []},
        [],
    )
    seeder.ledger.ingest([fork.wire])
    proof = seeder.ledger.fork_proofs()[0].encode()
    for core in world.cores:
        core.ledger.ingest_fork_proof(proof)
    world.sync()
    for core in world.cores:
        result = core.ledger.state.results[pid]
        assert (result.tally, result.passed) == ((100, 300), False), core.me.hex()[:8]
        assert not core.ledger.is_effective(paid)
        assert pid not in core.ledger.state.executed
    # the settler does not close again, the label pays nothing more, whatever the time
    assert settle_governance(seeder, clock=lambda: closes + 3).closed == []
    assert settle_governance(lab, clock=lambda: closes + 3).carried_out == []
    world.sync()
    assert lab.ledger.state.balance(lab.me, world.credits.id) == 500_00
    assert len({core.ledger.state_hash() for core in world.cores}) == 1
