"""An artist starts a campaign from the real window (offline, on the demo world's replica): the
form's live summary says the goal, the deadline, who settles it and the all-or-nothing rule; bad
input keeps Confirm disabled with a sentence and signs nothing; confirming signs exactly the plan
and the campaign appears in the list."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.demo import DemoWorld
from app.services.funding_desk import when
from tests.app.helpers import unlock


def test_an_artist_starts_a_campaign_settled_by_its_seeder(qtbot, launch, world: DemoWorld) -> None:
    artist = world.actor("artist-1")
    parts = launch(artist.profile)  # offline: the replica is enough
    unlock(qtbot, parts, artist.passphrase)
    win = parts.window
    core = parts.bridge.session.core
    seeder = world.actor("seeder")
    win.nav["campaigns"].click()
    camp = win.campaigns
    qtbot.waitUntil(lambda: len(camp.boxes) >= 2, timeout=10_000)
    assert camp.new_btn.isVisible() and "own" in camp.new_btn.toolTip()
    qtbot.mouseClick(camp.new_btn, Qt.MouseButton.LeftButton)
    dialog = camp.new_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.settler.count() >= 2, timeout=10_000)
    assert dialog.settler.itemText(0).startswith("You")
    assert any(seeder.name in dialog.settler.itemText(i) for i in range(dialog.settler.count()))
    head = core.ledger.head_seq(core.me)

    # bad input: a sentence, Confirm disabled
    qtbot.keyClicks(dialog.title, "Studio time")
    qtbot.keyClicks(dialog.goal, "lots")
    qtbot.waitUntil(lambda: "not an amount" in dialog.message.text(), timeout=10_000)
    assert not dialog.confirm_btn.isEnabled() and "Traceback" not in dialog.message.text()
    dialog.goal.clear()
    qtbot.keyClicks(dialog.goal, "80")
    dialog.days.clear()
    qtbot.keyClicks(dialog.days, "-2")
    qtbot.waitUntil(lambda: "in the future" in dialog.message.text(), timeout=10_000)
    assert not dialog.confirm_btn.isEnabled()
    dialog.days.clear()
    qtbot.keyClicks(dialog.days, "14")
    name, minimum, reward = dialog.tiers[0]
    qtbot.keyClicks(name, "Patron")
    qtbot.keyClicks(reward, "a signed test pressing")
    qtbot.waitUntil(lambda: "needs a minimum" in dialog.message.text(), timeout=10_000)
    assert not dialog.confirm_btn.isEnabled()
    qtbot.keyClicks(minimum, "20")

    # the seeder settles it; the summary says so
    seeder_index = next(
        i for i in range(dialog.settler.count()) if seeder.name in dialog.settler.itemText(i)
    )
    dialog.settler.setCurrentIndex(seeder_index)
    qtbot.waitUntil(lambda: dialog.confirm_btn.isEnabled(), timeout=10_000)
    plan = dialog.plan
    assert plan is not None
    text = dialog.explain.text()
    assert "Raises 80.00 CRED" in text
    assert f"if the goal is not met by {when(plan.deadline)}, every pledge is refunded" in text
    assert f"{seeder.name} settles it while you are away" in text
    assert "Patron" in text and "20.00 CRED" in text
    assert core.ledger.head_seq(core.me) == head  # nothing signed yet

    qtbot.mouseClick(dialog.confirm_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Studio time" in camp.message.text(), timeout=10_000)
    qtbot.waitUntil(
        lambda: any(b.campaign.title == "Studio time" for b in camp.boxes), timeout=10_000
    )
    card = camp.box("Studio time").campaign
    assert card.goal == "80.00 CRED" and card.own and not card.can_pledge
    assert card.settler.startswith(seeder.name)
    assert core.ledger.head_seq(core.me) == head + 1
    (c,) = [c for c in core.ledger.state.campaigns.values() if c.title == "Studio time"]
    assert (c.goal, c.deadline, c.settler) == (8000, plan.deadline, plan.settler)
