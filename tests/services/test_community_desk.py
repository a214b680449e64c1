"""The Community view's services over real ledgers: a vote quote that says what the vote locks
and until when, and a vote that locks exactly that; bad input refused with a sentence and
nothing signed; results with turnout, quorum and the votes a close left out; a label's treasury
and the proposals that moved it; notices for a close and for vote locks coming back; a proposal
in one's own community."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.services.community_desk import CommunityDesk, when_text
from app.services.errors import UserError
from app.services.events import Notice
from app.services.exchange_desk import ExchangeDesk
from app.services.governance import GovernanceService, settle_governance
from app.services.profiles import short_peer_id
from app.services.wallet import WalletService
from ledger.features.governance import CLOSE_WINDOW_MS


@pytest.fixture
def coop(world: Any) -> dict[str, Any]:
    """Coop Records: COOP held by a fan (20) and two members (100, 49), 300 CRD in the
    treasury, chartered for quadratic votes counted by a seeder, a 30-second voting period."""
    lab, seeder, artist = world.core("coop"), world.core("seeder"), world.core("artist")
    fan, ada, rafe = world.core("fan"), world.core("ada"), world.core("rafe")
    wallet = WalletService(lab)
    token = wallet.issue("COOP", "Coop Records", 0, 10**6, ())
    wallet.mint(token.id, "1000")
    for core, amount in ((fan, "20"), (ada, "100"), (rafe, "49")):
        wallet.send(core.me, token.id, amount)
    world.fund(lab, "300")
    GovernanceService(lab).charter(
        method="quadratic", asset=token.id, quorum="10", period_s=30, settler=seeder.me
    )
    world.sync()
    for core in (fan, ada, rafe, lab):
        core.settle()
    world.sync()
    pid = GovernanceService(ada).propose(
        "Pay for a video",
        text="40 CRD to the artist.",
        community=lab.me,
        closes_in_s=30,
        action={"do": "send", "asset": world.credits.id, "to": artist.me, "amount": "40"},
    )
    world.sync()
    return {
        "label": lab,
        "seeder": seeder,
        "artist": artist,
        "fan": fan,
        "ada": ada,
        "rafe": rafe,
        "token": token,
        "pid": pid,
    }


def test_the_quote_says_what_a_vote_locks_and_until_when(world: Any, coop: Any) -> None:
    fan, pid, token = coop["fan"], coop["pid"], coop["token"]
    desk = CommunityDesk(fan)
    p = fan.ledger.state.proposals[pid]
    quote = desk.quote_vote(pid, ["yes"], "20")
    assert (quote.lock_units, quote.weight, quote.until) == (20, 4, p.closes + CLOSE_WINDOW_MS)
    assert quote.weight_text == "4 votes (√20, rounded down)"
    assert "Locks 20 COOP" in quote.summary and when_text(p.close_by) in quote.summary
    assert fan.ledger.state.votes_by.get(fan.me, []) == []  # a quote signs nothing
    text = desk.vote(pid, ["yes"], "20", quote)
    assert text == "Vote signed: 4 votes (√20, rounded down); 20 COOP locked until it is counted."
    assert fan.ledger.state.balance(fan.me, token.id) == 0
    [held] = [h for h in ExchangeDesk(fan).holdings() if h.symbol == "COOP"]  # the wallet's view
    [lock] = held.locks
    assert (held.locked, lock.what, lock.unlocks) == ("20", "vote on “Pay for a video”", p.close_by)
    page = desk.page(pid)
    assert page.my_vote_text == "Your vote: yes (4 votes)"
    assert [(b.choice, b.weight) for b in page.bars] == [("yes", 4), ("no", 0)]
    # changing the vote with as many units locks nothing more
    again = desk.quote_vote(pid, ["no"], "20")
    assert again.lock_units == 0 and "Locks nothing more" in again.summary
    assert "replaces your earlier vote" in again.summary


def test_bad_vote_input_is_a_sentence_and_signs_nothing(world: Any, coop: Any) -> None:
    fan, pid = coop["fan"], coop["pid"]
    desk = CommunityDesk(fan)
    before = fan.ledger.head_seq(fan.me)
    for choices, units, message in (
        (["yes"], "", "how many COOP"),
        (["maybe"], "4", "not a choice"),
        (["yes", "no"], "4", "exactly one"),
        ([], "4", "choose one"),
        (["yes"], "abc", "not an amount"),
        (["yes"], "1.5", "decimals"),
        (["yes"], "0", "at least some COOP"),
        (["yes"], "21", "you can lock 20 COOP in all"),
    ):
        with pytest.raises(UserError, match=message):
            desk.vote(pid, choices, units)
    assert fan.ledger.head_seq(fan.me) == before
    with pytest.raises(UserError, match="changed since"):  # the quote confirmed was another
        desk.vote(pid, ["yes"], "9", desk.quote_vote(pid, ["yes"], "16"))
    assert fan.ledger.head_seq(fan.me) == before
    with pytest.raises(UserError, match="no proposal"):
        desk.page("ffff")


def test_results_omitted_votes_and_the_treasury_the_proposal_moved(world: Any, coop: Any) -> None:
    lab, seeder, ada, rafe, fan = (coop[k] for k in ("label", "seeder", "ada", "rafe", "fan"))
    pid = coop["pid"]
    CommunityDesk(ada).vote(pid, ["yes"], "100")  # 10
    CommunityDesk(fan).vote(pid, ["no"], "16")  # 4
    world.sync()
    rafe.ledger.ingest(seeder.ledger.feed_range(lab.me, 1, 100))
    CommunityDesk(rafe).vote(pid, ["no"], "49")  # 7, made in time; the seeder has not seen it
    closes = seeder.ledger.state.proposals[pid].closes
    settle_governance(seeder, clock=lambda: closes + 1)
    world.sync()  # now everybody holds Rafe's vote, after the close
    settle_governance(lab, clock=lambda: closes + 2)  # the label pays, as voted
    world.sync()
    desk = CommunityDesk(fan)
    page = desk.page(pid)
    assert page.status == "passed" and page.counted and page.passed
    assert [(b.choice, b.weight, b.text) for b in page.bars] == [
        ("yes", 10, "10 votes · 71 %"),
        ("no", 4, "4 votes · 29 %"),
    ]
    assert (page.turnout, page.quorum, page.quorum_met) == (14, 10, True)
    assert page.status_text.startswith("Passed: yes has 10 of 14 votes; the quorum of 10")
    [omitted] = page.omitted
    assert (omitted.voter, omitted.choices, omitted.weight) == (short_peer_id(rafe.me), "no", 7)
    assert "left out of the count" in omitted.why
    assert page.carried_out_text.startswith("Carried out on ")
    assert not page.can_vote and page.why_not == "Voting has ended."
    ov = desk.overview()
    assert ov.open == () and [(r.title, r.status, r.omitted) for r in ov.closed] == [
        ("Pay for a video", "passed", 1)
    ]
    [label] = ov.labels
    assert label.key == lab.me and label.mine
    assert dict(label.balances)["CRD"] == "260.00"
    [move] = label.moves
    assert (move.proposal, move.status) == ("Pay for a video", "carried out")
    assert move.what.startswith("sent 40.00 CRD to ")
    assert "quadratic" in label.charter_text and "counts them" in label.charter_text


def test_notices_for_a_close_and_for_vote_locks_coming_back(world: Any, coop: Any) -> None:
    fan, seeder, pid = coop["fan"], coop["seeder"], coop["pid"]
    desk = CommunityDesk(fan)
    notices: list[str] = []
    fan.events.subscribe(lambda e: notices.append(e.text) if isinstance(e, Notice) else None)
    desk.watch()  # the first look only remembers
    desk.vote(pid, ["yes"], "16")
    assert notices == []
    world.sync()
    closes = seeder.ledger.state.proposals[pid].closes
    settle_governance(seeder, clock=lambda: closes + 1)
    world.sync()  # the close arrives: the desk watches new entries as they come in
    assert notices == [
        "“Pay for a video” failed: 4 votes from 1 voter. Your 16 COOP are on their way back."
    ]
    assert desk.watch() == []  # said once


def test_an_uncounted_vote_lock_coming_back_is_a_refund_notice(tmp_path: Any) -> None:
    """Nobody counted the vote: once the close window passed and the settler wrote on, the
    voter's node takes the lock back, and the desk says so."""
    from app.profile import Profile
    from app.services.core import Core
    from app.services.market import settle_market
    from ledger.keys import Signer
    from ledger.ledger import Ledger

    clock = [int(time.time() * 1000)]

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
        desk = CommunityDesk(fan, clock=lambda: clock[0])
        notices: list[str] = []
        fan.events.subscribe(lambda e: notices.append(e.text) if isinstance(e, Notice) else None)
        desk.watch()
        desk.vote(pid, ["yes"], "64")
        seeder.ledger.ingest(fan.ledger.feed_range(fan.me, 1, 100))
        clock[0] = fan.ledger.state.proposals[pid].close_by + 1_000
        assert settle_market(seeder, clock=lambda: clock[0]).checkpoints == 1  # overdue lock
        fan.ledger.ingest(seeder.ledger.feed_range(seeder.me, 1, 100))
        assert settle_governance(fan, clock=lambda: clock[0]).reclaimed
        assert notices == [
            "Refunded: nobody counted your vote on “Nobody counts this”; the 64 FAN it locked "
            "are back."
        ]
        page = desk.page(pid)
        assert page.status == "unsettled" and page.status_text.startswith("Nobody counted")
    finally:
        fan.close()
        seeder.close()


def test_a_proposal_in_ones_own_community(world: Any, coop: Any) -> None:
    fan, lab = coop["fan"], coop["label"]
    desk = CommunityDesk(fan)
    for args, message in (
        (("", "", ["yes", "no"]), "title"),
        (("Tour?", "", ["yes"]), "two choices"),
        (("Tour?", "", ["yes", "yes"]), "differ"),
        (("Tour?", "", ["yes", "no"], "soon"), "number of days"),
    ):
        with pytest.raises(UserError, match=message):
            desk.propose(*args)  # type: ignore[arg-type]
    text = desk.propose("Which city next?", "", ["Leeds", "Lyon"], "2")
    assert text.startswith("Proposal published; voting closes ")
    mine = [r for r in desk.overview().open if r.title == "Which city next?"]
    assert mine and mine[0].method == "One buyer, one vote" and mine[0].community == "you"
    desk.propose("A label night", "", ["yes", "no"], "1", lab.me)  # the charter's rules apply
    [row] = [r for r in desk.overview().open if r.title == "A label night"]
    assert row.chartered and row.method == "Quadratic (COOP)"
