"""A fan in Community, through the real window on the demo swarm: sees Coop Records' open
proposals, its closed ones (one with a vote the settler left out) and its treasury with the
proposal that moved it; votes through the dialog, which says what the vote locks and until
when and refuses bad input without signing; the seeder, as the proposal's settler, closes it;
the results bars, the notice and the unlocked COOP follow.

The swarm is real: the demo's seeder runs as a ``cooptracks seed`` process on 127.0.0.1; the
app's session runs its own libp2p node.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget

from app.demo import ACTOR_PASSPHRASE, DemoSwarm, DemoWorld
from app.demo_community import proposal_closing_soon
from app.profile import Profile
from app.services.community_desk import when_text
from app.services.core import Core
from app.services.swarm import SwarmNetwork
from app.ui.community import CommunityView
from tests.app.helpers import unlock

CLOSES_S = 35.0  # the question closes this long after it is asked: time to start and vote


def _rows(table: QTableWidget) -> list[list[str]]:
    return [
        [table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def _click_row(qtbot, table: QTableWidget, title: str) -> None:  # type: ignore[no-untyped-def]
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == title)
    rect = table.visualItemRect(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_a_fan_votes_on_the_labels_proposal(qtbot, launch, world: DemoWorld, request) -> None:
    # a member asks the label a question that closes soon (its node does not run: the entry
    # is copied to the fan and the seeder, as a sync would have before)
    cores = [
        Core.open(Profile(world.fan), world.fan_passphrase),
        Core.open(Profile(world.actor("seeder").profile), ACTOR_PASSPHRASE),
    ]
    try:
        question = proposal_closing_soon(world.root, ACTOR_PASSPHRASE, CLOSES_S, cores)
    finally:
        for core in cores:
            core.close()
    seeder = DemoSwarm(world, roles=("seeder",)).start()
    request.addfinalizer(seeder.stop)
    seeder.wait_ready()
    fan = launch(world.fan, lambda: SwarmNetwork(seeder.settings()))
    unlock(qtbot, fan, world.fan_passphrase)
    win = fan.window
    win.nav["community"].click()  # the sidebar reaches it like the other views
    view = win.view("community")
    assert isinstance(view, CommunityView) and win.pages.currentWidget() is view
    qtbot.waitUntil(
        lambda: view.overview is not None and len(view.overview.open) == 2, timeout=15_000
    )
    opened = {r[0]: r for r in _rows(view.open_table)}
    sign = opened["Sign Ottoline Vale to Coop Records"]
    assert sign[1:3] == ["Coop Records", "Quadratic (COOP)"] and sign[4] == "Open"
    assert sign[5] == "17 votes from 2 voters"
    closed = {r[0]: r for r in _rows(view.closed_table)}
    assert closed["Fund a music video for Marrow & Moss"][4] == "Passed · ⚠ 1 left out"
    assert closed["Press 300 vinyl copies of the next Coop sampler"][4] == "Failed"
    # the label's treasury, and the proposal that moved it
    [card] = view.label_cards
    assert card.treasury.text() == "767 COOP   210.00 CRED"
    [move] = card.moves
    assert move.startswith("Fund a music video for Marrow & Moss: sent 40.00 CRED to Marrow & Moss")

    # a closed proposal: its results and the vote the seeder's close left out
    view.tabs.setCurrentIndex(1)
    _click_row(qtbot, view.closed_table, "Fund a music video for Marrow & Moss")
    qtbot.waitUntil(lambda: view.page is not None and view.page.title.startswith("Fund"))
    assert view.stack.currentIndex() == 1
    assert view.p_status.text().startswith("Passed: yes has 15 of 15 votes")
    assert view.omitted_box.isVisible()
    assert view.omitted_title.text() == "⚠ 1 vote left out of the count"
    assert _rows(view.omitted_table)[0][:3] == ["Juno Park", "no", "6"]
    assert view.p_done.text().startswith("Carried out on")
    assert not view.vote_btn.isVisible()
    qtbot.mouseClick(view.back_btn, Qt.MouseButton.LeftButton)

    # the question closing soon: the vote dialog says what it locks and until when
    view.tabs.setCurrentIndex(0)
    _click_row(qtbot, view.open_table, "Coop Records night: Friday?")
    qtbot.waitUntil(lambda: view.page is not None and view.page.id == question)
    page = view.page
    qtbot.mouseClick(view.vote_btn, Qt.MouseButton.LeftButton)
    dialog = view.dialog
    assert dialog is not None and dialog.isVisible()
    session = fan.bridge.session
    votes = lambda: session.core.ledger.state.votes_by.get(session.me, [])  # noqa: E731
    dialog.choose("yes")
    for bad, message in (
        ("17", "Not enough COOP: you can lock 16 COOP in all"),
        ("abc", "'abc' is not an amount"),
    ):
        dialog.units.clear()
        qtbot.keyClicks(dialog.units, bad)
        qtbot.waitUntil(lambda m=message: m in dialog.error.text(), timeout=10_000)
        assert not dialog.sign_btn.isEnabled() and "Traceback" not in dialog.error.text()
    dialog.units.clear()
    qtbot.keyClicks(dialog.units, "16")
    qtbot.waitUntil(dialog.sign_btn.isEnabled, timeout=10_000)
    assert dialog.sign_btn.text() == "Sign vote: 4 votes"
    summary = dialog.summary.text()
    assert summary.startswith("Vote yes: counts as 4 votes (√16, rounded down). Locks 16 COOP")
    assert when_text(page.close_by) in summary and when_text(page.closes) in summary
    assert votes() == []  # nothing signed before the click, nor for the bad input
    qtbot.mouseClick(dialog.sign_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    assert view.message.text().startswith("Vote signed: 4 votes")
    assert len(votes()) == 1 and votes()[0].units == 16
    qtbot.waitUntil(lambda: view.page.my_vote_text == "Your vote: yes (4 votes)", timeout=10_000)

    # the seeder counts it after the close; the bars, the notice and the COOP follow
    qtbot.waitUntil(lambda: view.page.counted, timeout=int(CLOSES_S * 1000) + 45_000)
    page = view.page
    assert [(b.choice, b.weight) for b in page.bars] == [("yes", 4), ("no", 0)]
    assert (page.turnout, page.quorum, page.status) == (4, 10, "failed")
    assert view.p_status.text().startswith("Failed: yes has 4 of 4 votes; the quorum of 10")
    assert view.results_title.text() == "Results, counted by Always-on Seeder"
    assert not view.omitted_box.isVisible()
    qtbot.waitUntil(
        lambda: "Your 16 COOP are on their way back" in win.toast.text(), timeout=10_000
    )
    assert win.toast.text().startswith("“Coop Records night: Friday?” failed")


def test_bad_input_signs_nothing_and_a_fan_asks_the_label(qtbot, launch, world: DemoWorld) -> None:
    fan = launch(world.fan)  # offline: the proposals are the replica's
    unlock(qtbot, fan, world.fan_passphrase)
    win = fan.window
    win.show_named("community")
    view = win.view("community")
    assert isinstance(view, CommunityView)
    qtbot.waitUntil(lambda: view.overview is not None and bool(view.label_cards), timeout=15_000)
    session = fan.bridge.session
    head = lambda: session.core.ledger.head_seq(session.me)  # noqa: E731
    before = head()
    _click_row(qtbot, view.open_table, "Sign Ottoline Vale to Coop Records")
    qtbot.waitUntil(lambda: view.page is not None and view.vote_btn.isVisible(), timeout=10_000)
    qtbot.mouseClick(view.vote_btn, Qt.MouseButton.LeftButton)
    dialog = view.dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.units, "8")  # no choice yet: nothing to quote, nothing to sign
    dialog.request_quote()
    assert dialog.summary.text().startswith("Choose to see what your vote locks")
    assert not dialog.sign_btn.isEnabled()
    dialog.choose("no")
    for bad, message in (("0", "Lock at least some COOP"), ("2.5", "decimals"), ("", "Say how")):
        dialog.units.clear()
        qtbot.keyClicks(dialog.units, bad)
        qtbot.waitUntil(lambda m=message: m in dialog.error.text(), timeout=10_000)
        assert not dialog.sign_btn.isEnabled()
    qtbot.mouseClick(dialog.cancel_btn, Qt.MouseButton.LeftButton)
    assert head() == before
    # a new question to the label: its charter's rules apply
    qtbot.mouseClick(view.back_btn, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.new_btn, Qt.MouseButton.LeftButton)
    ask = view.propose_dialog
    assert ask is not None and ask.community.currentText().startswith("Coop Records")
    qtbot.mouseClick(ask.go, Qt.MouseButton.LeftButton)  # no title
    qtbot.waitUntil(lambda: "Give the proposal a title" in ask.error.text(), timeout=10_000)
    assert head() == before
    qtbot.keyClicks(ask.title, "A Coop Records stall at the market?")
    ask.days.setText("3")
    qtbot.mouseClick(ask.go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not ask.isVisible(), timeout=10_000)
    assert view.message.text().startswith("Proposal published; voting closes")
    qtbot.waitUntil(
        lambda: any(
            r.title == "A Coop Records stall at the market?" and r.method == "Quadratic (COOP)"
            for r in view.overview.open
        ),
        timeout=10_000,
    )
