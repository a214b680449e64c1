"""Campaigns: every all-or-nothing campaign the replica holds, with its goal, a progress bar, the
deadline, the reward tiers and who settles it; success or refund said plainly. Pledging opens a
dialog that says, before anything is signed, what the pledge locks, until when, and when it
comes back; a pledge that is refundable has a reclaim button. "New campaign…" starts one of
the user's own: the form's live summary (from ``FundingDesk.plan_campaign``) says the goal, the
deadline, who settles it and the all-or-nothing rule, and Confirm signs exactly that. Everything
comes through the bridge (``Bridge.funding``)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.services.funding_desk import (
    MAX_FORM_TIERS,
    CampaignCard,
    CampaignPlan,
    PledgePlan,
    SettlerChoice,
)
from app.ui.tables import DIM, GREEN, SOFT
from app.ui.widgets import MessageBar, Page, button, label

RED = "#ff6b81"
WARN = "#ffd27a"
HEADLINE_COLOUR = {"funded": GREEN, "failed": WARN, "lapsed": WARN, "closing": SOFT}


class _PlanDialog(QDialog):
    """A form whose plan the desk computes as the user types (debounced), shown in words before
    Confirm signs exactly that plan."""

    plan: object | None

    def _add_footer(self, lay: QVBoxLayout, confirm_text: str, explain_height: int) -> None:
        """The plan in words, a message bar, Cancel and Confirm, and the typing debounce."""
        self.explain = label("", None, wrap=True)
        self.explain.setTextFormat(Qt.TextFormat.RichText)
        self.explain.setMinimumHeight(explain_height)
        self.explain.setAlignment(Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.explain)
        self.message = MessageBar()
        lay.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_btn = button("Cancel", "ghost")
        self.cancel_btn.clicked.connect(self.reject)
        self.confirm_btn = button(confirm_text, "primary")
        self.confirm_btn.setEnabled(False)
        self.confirm_btn.clicked.connect(self.confirm)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.confirm_btn)
        lay.addLayout(buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._ask_plan)

    def _changed(self) -> None:
        self.plan = None
        self.confirm_btn.setEnabled(False)
        self._timer.start()

    def _ask_plan(self) -> None:
        raise NotImplementedError

    def confirm(self) -> None:
        raise NotImplementedError


class PledgeDialog(_PlanDialog):
    """Pledge to one campaign: the amount, then what it does, then confirm."""

    pledged = Signal(str)

    def __init__(self, bridge: Bridge, campaign: CampaignCard, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.campaign = campaign
        self.plan: PledgePlan | None = None
        self.setWindowTitle(f"Pledge to “{campaign.title}”")
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        lay.setSpacing(10)
        lay.addWidget(label(campaign.title, "h2"))
        lay.addWidget(label(f"by {campaign.artist} · goal {campaign.goal}", "dim"))
        row = QHBoxLayout()
        self.amount = QLineEdit()
        self.amount.setPlaceholderText(f"amount in {campaign.symbol}")
        row.addWidget(self.amount, 1)
        row.addWidget(label(campaign.symbol, "dim"))
        lay.addLayout(row)
        self._add_footer(lay, "Pledge", 190)
        self.amount.textChanged.connect(lambda _: self._changed())
        self.explain.setText(
            f"<span style='color:{DIM}'>Enter an amount: what it locks, until when and when "
            "it comes back appear here before anything is signed.</span>"
        )

    def _ask_plan(self) -> None:
        text = self.amount.text()
        job = self.bridge.funding("plan_pledge", self.campaign.id, text)

        def show(plan: PledgePlan) -> None:
            if self.amount.text() != text:
                return  # typed on meanwhile
            self.plan = plan
            self.message.clear_message()
            self.explain.setText(
                "<br>".join(f"• {html.escape(line)}" for line in plan.lines)
                + f"<br><span style='color:{DIM}'>Your balance after: "
                f"{html.escape(plan.balance_after)}</span>"
            )
            self.confirm_btn.setText(f"Pledge {plan.amount}")
            self.confirm_btn.setEnabled(True)

        def failed(message: str) -> None:
            if self.amount.text() != text:
                return
            self.plan = None
            self.explain.setText("")
            self.message.show_error(message)
            self.confirm_btn.setText("Pledge")
            self.confirm_btn.setEnabled(False)

        job.finished.connect(show)
        job.failed.connect(failed)

    def confirm(self) -> None:
        if self.plan is None:
            return
        self.confirm_btn.setEnabled(False)
        job = self.bridge.funding("pledge", self.campaign.id, self.amount.text(), self.plan)

        def ok(text: str) -> None:
            self.pledged.emit(text)
            self.accept()

        def failed(message: str) -> None:
            self.message.show_error(message)
            self.confirm_btn.setEnabled(self.plan is not None)

        job.finished.connect(ok)
        job.failed.connect(failed)


class NewCampaignDialog(_PlanDialog):
    """Start a campaign of your own: the form, a live summary of what it means, then confirm."""

    started = Signal(str)

    def __init__(self, bridge: Bridge, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.plan: CampaignPlan | None = None
        self.choices: list[SettlerChoice] = []
        self.setWindowTitle("Start your own campaign")
        self.setMinimumWidth(640)
        lay = QVBoxLayout(self)
        lay.setSpacing(10)
        lay.addWidget(label("Start your own campaign", "h2"))
        form = QFormLayout()
        self.title = QLineEdit()
        self.title.setPlaceholderText("what the money is for")
        self.description = QPlainTextEdit()
        self.description.setPlaceholderText("tell your fans about it (optional)")
        self.description.setFixedHeight(60)
        goal_row = QHBoxLayout()
        self.goal = QLineEdit()
        self.goal.setPlaceholderText("goal, e.g. 150")
        self.asset = QLineEdit("CRED")
        self.asset.setToolTip("the asset pledged: CRED, or a coin's symbol or ID")
        self.asset.setMaximumWidth(120)
        goal_row.addWidget(self.goal, 1)
        goal_row.addWidget(self.asset)
        self.days = QLineEdit("30")
        self.days.setToolTip("pledges are taken until this many days from now")
        self.settler = QComboBox()
        self.settler.setToolTip(
            "who closes the campaign after the deadline: you, or a seeder you delegated to, "
            "which keeps it settled while you are away"
        )
        form.addRow("Title", self.title)
        form.addRow("Description", self.description)
        form.addRow("Goal", goal_row)
        form.addRow("Days until the deadline", self.days)
        form.addRow("Settled by", self.settler)
        lay.addLayout(form)
        lay.addWidget(label("REWARD TIERS (OPTIONAL)", "statLabel"))
        grid = QGridLayout()
        self.tiers: list[tuple[QLineEdit, QLineEdit, QLineEdit]] = []
        for i in range(MAX_FORM_TIERS):
            name, minimum, reward = QLineEdit(), QLineEdit(), QLineEdit()
            name.setPlaceholderText(f"tier {i + 1} name")
            minimum.setPlaceholderText("minimum")
            minimum.setMaximumWidth(110)
            reward.setPlaceholderText("reward")
            grid.addWidget(name, i, 0)
            grid.addWidget(minimum, i, 1)
            grid.addWidget(reward, i, 2)
            self.tiers.append((name, minimum, reward))
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(2, 3)
        lay.addLayout(grid)
        self._add_footer(lay, "Start campaign", 120)
        for edit in (self.title, self.goal, self.asset, self.days):
            edit.textChanged.connect(lambda _: self._changed())
        for row in self.tiers:
            for edit in row:
                edit.textChanged.connect(lambda _: self._changed())
        self.description.textChanged.connect(self._changed)
        self.settler.currentIndexChanged.connect(lambda _: self._changed())
        self.explain.setText(
            f"<span style='color:{DIM}'>Fill in the campaign: what it means appears here before "
            "anything is signed.</span>"
        )
        job = self.bridge.funding("settler_choices")
        job.finished.connect(self._show_settlers)
        job.failed.connect(self.message.show_error)

    def _show_settlers(self, choices: list[SettlerChoice]) -> None:
        self.settler.blockSignals(True)
        self.settler.clear()
        for c in choices:
            text = (
                "You (keep the app open around the deadline)"
                if c.seen == "you"
                else f"{c.name} — your seeder, settles it while you are away ({c.seen})"
            )
            self.settler.addItem(text)
        self.choices = list(choices)
        self.settler.blockSignals(False)
        self._changed()

    def _settler_key(self) -> bytes | None:
        i = self.settler.currentIndex()
        return self.choices[i].key if 0 <= i < len(self.choices) else None

    def _form(self) -> tuple:
        return (
            self.title.text(),
            self.description.toPlainText(),
            self.goal.text(),
            self.asset.text(),
            self.days.text(),
            self._settler_key(),
            [(n.text(), m.text(), r.text()) for n, m, r in self.tiers],
        )

    def _ask_plan(self) -> None:
        form = self._form()
        job = self.bridge.funding("plan_campaign", *form)

        def show(plan: CampaignPlan) -> None:
            if self._form() != form:
                return  # typed on meanwhile
            self.plan = plan
            self.message.clear_message()
            self.explain.setText("<br>".join(f"• {html.escape(line)}" for line in plan.lines))
            self.confirm_btn.setText(f"Start campaign for {plan.goal}")
            self.confirm_btn.setEnabled(True)

        def failed(message: str) -> None:
            if self._form() != form:
                return
            self.plan = None
            self.explain.setText("")
            self.message.show_error(message)
            self.confirm_btn.setText("Start campaign")
            self.confirm_btn.setEnabled(False)

        job.finished.connect(show)
        job.failed.connect(failed)

    def confirm(self) -> None:
        if self.plan is None:
            return
        self.confirm_btn.setEnabled(False)
        job = self.bridge.funding("start_campaign", self.plan)

        def ok(text: str) -> None:
            self.started.emit(text)
            self.accept()

        def failed(message: str) -> None:
            self.message.show_error(message)
            self.confirm_btn.setEnabled(self.plan is not None)

        job.finished.connect(ok)
        job.failed.connect(failed)


class CampaignBox(QFrame):
    """One campaign as a card."""

    def __init__(self, view: CampaignsView, c: CampaignCard) -> None:
        super().__init__()
        self.setObjectName("card")
        self.campaign = c
        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 16, 20, 16)
        lay.setSpacing(6)
        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(label(c.title, "h2", wrap=True))
        self.artist = button(f"by {c.artist}", "link", "Open the artist page")
        self.artist.clicked.connect(lambda: view.artist_requested.emit(c.artist_key))
        titles.addWidget(self.artist, 0, Qt.AlignmentFlag.AlignLeft)
        top.addLayout(titles, 1)
        self.pledge_btn = button("Pledge…", "primary")
        self.pledge_btn.setVisible(c.can_pledge)
        self.pledge_btn.clicked.connect(lambda: view.open_pledge(c))
        top.addWidget(self.pledge_btn, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(top)
        if c.description:
            lay.addWidget(label(c.description, "dim", wrap=True))
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(c.fraction * 1000))
        self.bar.setTextVisible(False)
        lay.addWidget(self.bar)
        figures = label(
            f"<b>{html.escape(c.pledged)}</b> pledged of {html.escape(c.goal)} · "
            f"{c.backers} backer{'s' if c.backers != 1 else ''} · {html.escape(c.time_text)}"
        )
        figures.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(figures)
        self.headline = label(c.headline, None, wrap=True)
        colour = HEADLINE_COLOUR.get(c.status)
        if colour:
            self.headline.setStyleSheet(f"color: {colour}; font-weight: 600;")
        lay.addWidget(self.headline)
        settler = label(
            f"Settled by {c.settler}"
            + ("" if c.settler_live else " ⚠ — pledges wait on a settler not seen recently"),
            "dim",
            wrap=True,
        )
        if not c.settler_live:
            settler.setStyleSheet(f"color: {WARN};")
        lay.addWidget(settler)
        if c.tiers:
            tiers = label(
                "<br>".join(
                    f"<b>{html.escape(t.name)}</b> "
                    f"<span style='color:{DIM}'>from {html.escape(t.minimum)}</span> — "
                    f"{html.escape(t.reward)}"
                    for t in c.tiers
                ),
                None,
                wrap=True,
            )
            tiers.setTextFormat(Qt.TextFormat.RichText)
            lay.addWidget(label("REWARD TIERS", "statLabel"))
            lay.addWidget(tiers)
        self.reclaim_buttons = []
        if c.mine:
            lay.addWidget(label("YOUR PLEDGES", "statLabel"))
        for p in c.mine:
            row = QHBoxLayout()
            text = label(f"{p.amount} — {p.text}", None, wrap=True)
            if p.status == "accepted":
                text.setStyleSheet(f"color: {GREEN};")
            row.addWidget(text, 1)
            if p.refundable:
                b = button("Reclaim", "ghost", "Take the pledge back into your balance")
                b.clicked.connect(lambda _=False, pid=p.id: view.reclaim(pid))
                self.reclaim_buttons.append(b)
                row.addWidget(b)
            lay.addLayout(row)
        if c.my_reward:
            reward = label(c.my_reward, None, wrap=True)
            reward.setStyleSheet(f"color: {GREEN};")
            lay.addWidget(reward)


class CampaignsView(Page):
    artist_requested = Signal(bytes)

    def __init__(self, bridge: Bridge) -> None:
        super().__init__(
            "Campaigns",
            "All or nothing: pledges reach the artist only if the goal is met by the deadline; "
            "otherwise every pledge comes back",
        )
        self.bridge = bridge
        self.cards: list[CampaignCard] = []
        self.boxes: list[CampaignBox] = []
        self.dialog: PledgeDialog | None = None
        self.new_dialog: NewCampaignDialog | None = None
        self.new_btn = button(
            "New campaign…", "primary", "Start your own all-or-nothing campaign for your fans"
        )
        self.new_btn.clicked.connect(self.open_new)
        self.header.addWidget(self.new_btn, 0, Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        body.setObjectName("page")
        self.list = QVBoxLayout(body)
        self.list.setContentsMargins(0, 0, 8, 0)
        self.list.setSpacing(14)
        scroll.setWidget(body)
        self.outer.addWidget(scroll, 1)

    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.funding("campaigns")
        job.finished.connect(self.show_campaigns)
        job.failed.connect(self.message.show_error)

    def show_campaigns(self, cards: list[CampaignCard]) -> None:
        self.cards = list(cards)
        while self.list.count():
            item = self.list.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        self.boxes = [CampaignBox(self, c) for c in cards]
        for box in self.boxes:
            self.list.addWidget(box)
        if not cards:
            self.list.addWidget(label("No campaigns on the swarm yet.", "dim"))
        self.list.addStretch(1)

    def box(self, title: str) -> CampaignBox:
        return next(b for b in self.boxes if b.campaign.title == title)

    def open_pledge(self, campaign: CampaignCard) -> PledgeDialog:
        self.dialog = PledgeDialog(self.bridge, campaign, self)
        self.dialog.pledged.connect(self._pledged)
        self.dialog.open()
        return self.dialog

    def open_new(self) -> NewCampaignDialog:
        self.new_dialog = NewCampaignDialog(self.bridge, self)
        self.new_dialog.started.connect(self._done)
        self.new_dialog.open()
        return self.new_dialog

    def _pledged(self, text: str) -> None:
        self.message.show_success(text)
        self.refresh()

    def _done(self, text: str) -> None:
        self.message.show_success(text)
        self.refresh()

    def reclaim(self, pledge: bytes) -> None:
        job = self.bridge.funding("refund", pledge)
        job.finished.connect(self._done)
        job.failed.connect(self.message.show_error)
