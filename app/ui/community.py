"""Community: the proposals this node holds, open and closed; a proposal's page with its text,
its results as bars with turnout against the quorum, whether it passed, and the votes its
settler's close left out; a vote dialog that says what the vote locks and until when before
anything is signed; the labels run by their members, with their treasury and the proposals that
moved it; and a new proposal in one's own community. Everything comes through the bridge
(``Bridge.community``)."""

from __future__ import annotations

import datetime as dt
from html import escape

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.services.community_desk import (
    CommunityOverview,
    LabelView,
    ProposalPage,
    ProposalRow,
    VoteQuote,
)
from app.ui.tables import DIM, GREEN, SOFT, TEXT, fill, read_only_table
from app.ui.widgets import MessageBar, Page, button, label

RED = "#ff6b81"
WARN = "#ffd27a"
TRACK = "#262632"
INDICATORS = f"""
QRadioButton, QCheckBox {{ spacing: 10px; padding: 3px 0; }}
QRadioButton::indicator, QCheckBox::indicator {{
    width: 14px; height: 14px; border: 2px solid {SOFT}; background: transparent;
}}
QRadioButton::indicator {{ border-radius: 9px; }}
QCheckBox::indicator {{ border-radius: 4px; }}
QRadioButton::indicator:checked, QCheckBox::indicator:checked {{
    background: {GREEN}; border-color: {GREEN};
}}
"""
STATUS_COLOUR = {"open": GREEN, "counting": WARN, "passed": GREEN, "failed": RED}


def when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %H:%M")


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class ResultBars(QWidget):
    """One bar per choice (its share of the votes, the pass threshold marked on yes/no), then
    the turnout against the quorum line."""

    def __init__(self) -> None:
        super().__init__()
        self.page: ProposalPage | None = None
        self.threshold = 0.0  # share of turnout a yes/no needs, 0..1

    def set_page(self, page: ProposalPage, threshold: float) -> None:
        self.page, self.threshold = page, threshold
        self.setMinimumHeight(36 * (len(page.bars) + 1) + 30)
        self.update()

    def paintEvent(self, _event: object) -> None:
        page = self.page
        if page is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        name_w, text_w = 120.0, 130.0
        left = name_w + 8
        width = max(40.0, self.width() - left - text_w - 8)
        row = 36.0
        p.setFont(QFont("DejaVu Sans", 10))
        for i, bar in enumerate(page.bars):
            y = i * row + 6
            p.setPen(QColor(TEXT if bar.leading else SOFT))
            p.drawText(
                QRectF(0, y, name_w, 22),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                bar.choice,
            )
            track = QRectF(left, y + 3, width, 16)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(TRACK))
            p.drawRoundedRect(track, 8, 8)
            if bar.weight:
                colour = QColor(GREEN if bar.leading else "#6c7bd9")
                if page.status == "failed" and bar.leading and page.style == "yes_no":
                    colour = QColor(RED)
                p.setBrush(colour)
                p.drawRoundedRect(QRectF(left, y + 3, max(16.0, width * bar.share), 16), 8, 8)
            p.setPen(QColor(SOFT))
            p.drawText(
                QRectF(left + width + 8, y, text_w, 22),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                bar.text,
            )
            if page.style == "yes_no" and i == 0 and self.threshold:
                x = left + width * self.threshold
                p.setPen(QPen(QColor(WARN), 1.5, Qt.PenStyle.DashLine))
                p.drawLine(int(x), int(y), int(x), int(y + 22))
                p.setFont(QFont("DejaVu Sans", 8))
                p.drawText(
                    QRectF(x - 60, y + 22, 120, 14), Qt.AlignmentFlag.AlignHCenter, "to pass"
                )
                p.setFont(QFont("DejaVu Sans", 10))
        # turnout against the quorum
        y = len(page.bars) * row + 14
        scale = max(page.turnout, page.quorum, 1) * 1.15
        p.setPen(QColor(SOFT))
        p.drawText(
            QRectF(0, y, name_w, 22),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            "turnout",
        )
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(TRACK))
        p.drawRoundedRect(QRectF(left, y + 3, width, 16), 8, 8)
        if page.turnout:
            p.setBrush(QColor(GREEN if page.quorum_met else WARN))
            p.drawRoundedRect(
                QRectF(left, y + 3, max(16.0, width * page.turnout / scale), 16), 8, 8
            )
        p.setPen(QColor(SOFT))
        p.drawText(
            QRectF(left + width + 8, y, text_w, 22),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{page.turnout} of quorum {page.quorum}" if page.quorum else f"{page.turnout}",
        )
        if page.quorum:
            x = left + width * page.quorum / scale
            p.setPen(QPen(QColor(WARN), 2, Qt.PenStyle.DashLine))
            p.drawLine(int(x), int(y - 2), int(x), int(y + 24))
            p.setFont(QFont("DejaVu Sans", 8))
            p.drawText(QRectF(x - 60, y + 24, 120, 14), Qt.AlignmentFlag.AlignHCenter, "quorum")


class VoteDialog(QDialog):
    """Choose, say how much to lock, read what the vote locks and until when, then sign."""

    voted = Signal(str)

    def __init__(self, bridge: Bridge, page: ProposalPage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.proposal = page
        self.quote: VoteQuote | None = None
        self._quoted_args: tuple | None = None
        self.setWindowTitle("Vote")
        self.setModal(True)
        self.setStyleSheet(INDICATORS)
        self.setMinimumWidth(480)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(22, 18, 22, 16)
        lay.setSpacing(10)
        lay.addWidget(label(page.title, "h2", wrap=True))
        lay.addWidget(label(page.method_text, "dim", wrap=True))
        self.group = QButtonGroup(self)
        self.group.setExclusive(page.style != "approval")
        self.choice_buttons: list[QAbstractButton] = []
        for i, choice in enumerate(page.choices):
            b: QAbstractButton = (
                QCheckBox(choice) if page.style == "approval" else QRadioButton(choice)
            )
            self.group.addButton(b, i)
            self.choice_buttons.append(b)
            lay.addWidget(b)
        self.units = QLineEdit()
        self.units.setPlaceholderText(f"{page.symbol} to lock")
        self.units.setVisible(page.needs_units)
        if page.needs_units:
            lay.addWidget(label(f"How many {page.symbol} to lock", "dim"))
            lay.addWidget(self.units)
            lay.addWidget(label(f"You can lock up to {page.available_text}.", "dim"))
        self.summary = label("Choose to see what your vote locks and until when.", wrap=True)
        self.summary.setObjectName("dim")
        lay.addWidget(self.summary)
        self.error = MessageBar()
        lay.addWidget(self.error)
        row = QHBoxLayout()
        row.addStretch(1)
        self.cancel_btn = button("Cancel", "ghost")
        self.sign_btn = button("Sign vote", "primary")
        self.sign_btn.setEnabled(False)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.sign_btn)
        lay.addLayout(row)
        self.cancel_btn.clicked.connect(self.reject)
        self.sign_btn.clicked.connect(self.sign)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.request_quote)
        self.group.buttonToggled.connect(lambda *_: self._changed())
        self.units.textChanged.connect(lambda *_: self._changed())

    def choose(self, choice: str) -> None:
        self.choice_buttons[self.proposal.choices.index(choice)].setChecked(True)

    def _args(self) -> tuple:
        picked = [i for i, b in enumerate(self.choice_buttons) if b.isChecked()]
        return (self.proposal.id, picked, self.units.text())

    def _changed(self) -> None:
        self.sign_btn.setEnabled(False)
        self.quote = None
        self._timer.start()

    def request_quote(self) -> None:
        args = self._args()
        if not args[1]:
            self.summary.setText("Choose to see what your vote locks and until when.")
            return
        job = self.bridge.community("quote_vote", *args)
        job.finished.connect(lambda q, a=args: self._quoted(a, q))
        job.failed.connect(lambda m, a=args: self._quote_failed(a, m))

    def _quoted(self, args: tuple, quote: VoteQuote) -> None:
        if args != self._args():
            return
        self.quote, self._quoted_args = quote, args
        self.error.clear_message()
        self.summary.setText(quote.summary)
        self.sign_btn.setText(f"Sign vote: {quote.weight_text.split(' (')[0]}")
        self.sign_btn.setEnabled(True)

    def _quote_failed(self, args: tuple, message: str) -> None:
        if args != self._args():
            return
        self.quote = None
        self.summary.setText("")
        self.error.show_error(sentence(message))
        self.sign_btn.setEnabled(False)

    def sign(self) -> None:
        args, quote = self._args(), self.quote
        if quote is None or args != self._quoted_args:
            self.error.show_error("The vote changed since it was checked; check it again.")
            return
        self.sign_btn.setEnabled(False)
        job = self.bridge.community("vote", *args, quote)

        def ok(text: str) -> None:
            self.voted.emit(text)
            self.accept()

        def failed(message: str) -> None:
            self.error.show_error(sentence(message))
            self.request_quote()

        job.finished.connect(ok)
        job.failed.connect(failed)


class ProposeDialog(QDialog):
    """A new question to one of the user's communities."""

    proposed = Signal(str)

    def __init__(self, bridge: Bridge, labels: list[LabelView], parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("New proposal")
        self.setModal(True)
        self.setStyleSheet(INDICATORS)
        self.setMinimumWidth(480)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(22, 18, 22, 16)
        lay.setSpacing(8)
        lay.addWidget(label("New proposal", "h2"))
        self.community = QComboBox()
        self.keys: list[bytes | None] = []
        for lv in labels:
            if lv.mine:
                self.community.addItem(f"{lv.name} (its charter's rules)")
                self.keys.append(lv.key)
        self.community.addItem("Your own buyers (one buyer, one vote)")
        self.keys.append(None)
        self.title = QLineEdit()
        self.title.setPlaceholderText("Title")
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("What is proposed, and why")
        self.text.setMaximumHeight(110)
        self.choices = QLineEdit("yes, no")
        self.choices.setToolTip("The choices, separated by commas")
        self.days = QLineEdit("3")
        for caption, w in (
            ("Community", self.community),
            ("Title", self.title),
            ("Text", self.text),
            ("Choices (comma separated)", self.choices),
            ("Voting days", self.days),
        ):
            lay.addWidget(label(caption, "dim"))
            lay.addWidget(w)
        self.error = MessageBar()
        lay.addWidget(self.error)
        row = QHBoxLayout()
        row.addStretch(1)
        cancel = button("Cancel", "ghost")
        self.go = button("Publish proposal", "primary")
        row.addWidget(cancel)
        row.addWidget(self.go)
        lay.addLayout(row)
        cancel.clicked.connect(self.reject)
        self.go.clicked.connect(self.publish)

    def publish(self) -> None:
        self.go.setEnabled(False)
        job = self.bridge.community(
            "propose",
            self.title.text(),
            self.text.toPlainText(),
            [c for c in self.choices.text().split(",")],
            self.days.text(),
            self.keys[self.community.currentIndex()],
        )

        def ok(text: str) -> None:
            self.proposed.emit(text)
            self.accept()

        def failed(message: str) -> None:
            self.error.show_error(sentence(message))
            self.go.setEnabled(True)

        job.finished.connect(ok)
        job.failed.connect(failed)


class LabelCard(QFrame):
    """A label run by its members: its charter and treasury (left), the proposals that moved
    the treasury (right)."""

    def __init__(self, lv: LabelView) -> None:
        super().__init__()
        self.setObjectName("card")
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 12, 16, 12)
        row.setSpacing(18)
        left = QVBoxLayout()
        left.setSpacing(4)
        left.addWidget(label(lv.name, "h2"))
        left.addWidget(label(lv.charter_text, "dim", wrap=True))
        if lv.signed:
            left.addWidget(label("Signed: " + ", ".join(lv.signed), "dim", wrap=True))
        left.addWidget(label("TREASURY", "statLabel"))
        self.treasury = label(
            "   ".join(f"{amount} {sym}" for sym, amount in lv.balances) or "empty", "h2"
        )
        left.addWidget(self.treasury)
        left.addStretch(1)
        row.addLayout(left, 1)
        right = QVBoxLayout()
        right.setSpacing(4)
        right.addWidget(label("PROPOSALS THAT MOVED IT", "statLabel"))
        self.moves: list[str] = []  # one line per move, as shown
        for m in lv.moves[:6]:
            colour = GREEN if m.status == "carried out" else WARN
            status = "" if m.status == "carried out" else f" ({m.status})"
            self.moves.append(f"{m.proposal}: {m.what}{status}, {when(m.when)}")
            line = label(
                f"<span style='color:{TEXT}'>{escape(m.proposal)}</span><br>"
                f"<span style='color:{colour}'>{escape(m.what)}{escape(status)}</span>"
                f"<span style='color:{DIM}'> · {when(m.when)}</span>",
                wrap=True,
            )
            line.setTextFormat(Qt.TextFormat.RichText)
            right.addWidget(line)
        if not lv.moves:
            right.addWidget(label("No proposal has moved its treasury yet.", "dim"))
        right.addStretch(1)
        row.addLayout(right, 1)


class CommunityView(Page):
    """The Community page (see the module docstring)."""

    def __init__(self, bridge: Bridge) -> None:
        super().__init__("Community", "Proposals and votes; labels run by their members")
        self.bridge = bridge
        self.overview: CommunityOverview | None = None
        self.page: ProposalPage | None = None
        self._page_id: bytes | None = None  # the proposal the page shows or is loading
        self.dialog: VoteDialog | None = None
        self.propose_dialog: ProposeDialog | None = None
        self._loading = False
        self._again = False
        self.new_btn = button("New proposal", "ghost")
        self.new_btn.clicked.connect(self.open_propose)
        self.header.addWidget(self.new_btn)
        self.stack = QStackedWidget()
        self.outer.addWidget(self.stack, 1)
        # the list: proposals (top), the labels run by their members (below)
        self.list_page = QWidget()
        body = QVBoxLayout(self.list_page)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(10)
        cols = ["PROPOSAL", "COMMUNITY", "METHOD", "CLOSES", "STATUS", "VOTES", "YOUR VOTE"]
        widths = {1: 130, 2: 130, 3: 105, 4: 140, 5: 170, 6: 90}
        self.open_table = read_only_table(cols, widths, stretch=0)
        self.closed_table = read_only_table(cols, widths, stretch=0)
        for table in (self.open_table, self.closed_table):
            table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
            table.verticalHeader().setDefaultSectionSize(38)
            table.setCursor(Qt.CursorShape.PointingHandCursor)
            table.setToolTip("Click a proposal to read it, see its results and vote")
            table.cellClicked.connect(lambda r, _c, t=table: self._row_clicked(t, r))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.open_table, "Open")
        self.tabs.addTab(self.closed_table, "Closed")
        body.addWidget(self.tabs, 1)
        body.addWidget(label("Labels run by their members", "h2"))
        self.labels_box = QVBoxLayout()
        self.labels_box.setSpacing(10)
        body.addLayout(self.labels_box, 0)
        self.label_cards: list[LabelCard] = []
        self.no_labels = label("No label here is run by a charter yet.", "dim", wrap=True)
        self.no_labels.hide()
        body.addWidget(self.no_labels)
        self.stack.addWidget(self.list_page)
        self.stack.addWidget(self._proposal_page())

    def _proposal_page(self) -> QWidget:
        w = QWidget()
        outer = QVBoxLayout(w)
        outer.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.back_btn = button("← All proposals", "ghost")
        self.back_btn.clicked.connect(self.show_list)
        top.addWidget(self.back_btn)
        top.addStretch(1)
        outer.addLayout(top)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(0, 6, 12, 6)
        lay.setSpacing(10)
        self.p_title = label("", "h1", wrap=True)
        self.p_meta = label("", "dim", wrap=True)
        self.p_status = label("", "h2", wrap=True)
        self.p_text = label("", wrap=True)
        self.p_action = label("", wrap=True)
        self.p_action.setStyleSheet(f"color: {WARN};")
        self.p_done = label("", wrap=True)
        self.p_done.setStyleSheet(f"color: {GREEN};")
        for x in (self.p_title, self.p_meta, self.p_status, self.p_text, self.p_action):
            lay.addWidget(x)
        lay.addWidget(self.p_done)
        results = QFrame()
        results.setObjectName("card")
        rl = QVBoxLayout(results)
        rl.setContentsMargins(16, 12, 16, 12)
        self.results_title = label("Results", "h2")
        rl.addWidget(self.results_title)
        self.bars = ResultBars()
        rl.addWidget(self.bars)
        self.p_turnout = label("", "dim", wrap=True)
        rl.addWidget(self.p_turnout)
        self.p_rules = label("", "dim", wrap=True)
        rl.addWidget(self.p_rules)
        lay.addWidget(results)
        self.omitted_box = QFrame()
        self.omitted_box.setObjectName("card")
        ol = QVBoxLayout(self.omitted_box)
        ol.setContentsMargins(16, 12, 16, 12)
        self.omitted_title = label("", "h2", wrap=True)
        self.omitted_title.setStyleSheet(f"color: {WARN};")
        ol.addWidget(self.omitted_title)
        ol.addWidget(
            label(
                "Valid votes made before the close that the settler's count left out. The "
                "result above does not include them; their locked units come back to their "
                "voters after the close window.",
                "dim",
                wrap=True,
            )
        )
        self.omitted_table = read_only_table(
            ["VOTER", "CHOICE", "VOTES", "MADE", "WHY"], {0: 150, 1: 90, 2: 70, 3: 110}, stretch=4
        )
        self.omitted_table.setMaximumHeight(140)
        ol.addWidget(self.omitted_table)
        lay.addWidget(self.omitted_box)
        vote_row = QHBoxLayout()
        self.my_vote = label("", "dim", wrap=True)
        self.vote_btn = button("Vote…", "primary")
        self.vote_btn.clicked.connect(self.open_vote)
        vote_row.addWidget(self.my_vote, 1)
        vote_row.addWidget(self.vote_btn)
        lay.addLayout(vote_row)
        lay.addStretch(1)
        scroll.setWidget(inner)
        outer.addWidget(scroll, 1)
        return w

    # -- data ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.stale = False
        if self._loading:
            self._again = True
            return
        self._loading = True
        job = self.bridge.community("overview")
        job.finished.connect(self._show_overview)
        job.failed.connect(self._failed)

    def _failed(self, message: str) -> None:
        self._loading = False
        self.message.show_error(sentence(message))

    def _show_overview(self, ov: CommunityOverview) -> None:
        self._loading = False
        before, self.overview = self.overview, ov
        if ov != before:
            for table, rows in ((self.open_table, ov.open), (self.closed_table, ov.closed)):
                self._fill(table, rows)
            self.tabs.setTabText(0, f"Open ({len(ov.open)})")
            self.tabs.setTabText(1, f"Closed ({len(ov.closed)})")
            if before is None or ov.labels != before.labels:
                self._show_labels(ov.labels)
            if not ov.open and not ov.closed:
                self.message.show_warning("No proposals here yet.")
        if self._page_id is not None and self.stack.currentIndex() == 1:
            self._load_page(self._page_id)
        if self._again:
            self._again = False
            self.refresh()

    def _fill(self, table: QTableWidget, rows: tuple[ProposalRow, ...]) -> None:
        fill(
            table,
            [
                (
                    r.title,
                    r.community,
                    (r.method, SOFT),
                    (when(r.closes), SOFT),
                    (
                        r.status_text + (f" · ⚠ {r.omitted} left out" if r.omitted else ""),
                        WARN if r.omitted else STATUS_COLOUR.get(r.status, DIM),
                    ),
                    (r.turnout_text.removesuffix(" so far"), SOFT),
                    (r.my_vote.removeprefix("you voted "), GREEN),
                )
                for r in rows
            ],
        )

    def _show_labels(self, labels: tuple[LabelView, ...]) -> None:
        for card in self.label_cards:
            self.labels_box.removeWidget(card)
            card.deleteLater()
        self.label_cards = [LabelCard(lv) for lv in labels]
        for card in self.label_cards:
            self.labels_box.addWidget(card)
        self.no_labels.setVisible(not labels)

    def _row_clicked(self, table: QTableWidget, row: int) -> None:
        ov = self.overview
        if ov is None:
            return
        rows = ov.open if table is self.open_table else ov.closed
        if 0 <= row < len(rows):
            self.open_proposal(rows[row].id)

    def open_proposal(self, proposal: bytes) -> None:
        self._page_id = proposal
        self.stack.setCurrentIndex(1)
        self._load_page(proposal)

    def open_by_title(self, title: str) -> None:
        ov = self.overview
        rows = (ov.open + ov.closed) if ov else ()
        self.open_proposal(next(r.id for r in rows if r.title == title))

    def show_list(self) -> None:
        self.stack.setCurrentIndex(0)
        self.refresh()

    def _load_page(self, proposal: bytes) -> None:
        job = self.bridge.community("page", proposal)
        job.finished.connect(self._show_page)
        job.failed.connect(self._failed)

    def _show_page(self, page: ProposalPage) -> None:
        if page.id != self._page_id or page == self.page:
            return  # another proposal was opened since, or nothing changed
        self.page = page
        self.p_title.setText(page.title)
        kind = "label (chartered)" if page.chartered else "community"
        self.p_meta.setText(
            f"{page.community} · {kind} · proposed by {page.proposer} · "
            f"{page.closes_text} · counted by {page.settler}"
        )
        self.p_status.setText(page.status_text)
        colour = {"passed": GREEN, "failed": RED}.get(page.status, TEXT)
        self.p_status.setStyleSheet(f"color: {colour};")
        self.p_text.setText(page.text)
        self.p_text.setVisible(bool(page.text))
        self.p_action.setText(page.action_text)
        self.p_action.setVisible(bool(page.action_text) and not page.carried_out_text)
        self.p_done.setText(page.carried_out_text)
        self.p_done.setVisible(bool(page.carried_out_text))
        self.results_title.setText(
            f"Results, counted by {page.settler}"
            if page.counted
            else f"Running tally of the votes this node holds ({page.settler} counts them "
            "after the close)"
        )
        self.bars.set_page(page, page.threshold)
        self.p_turnout.setText(
            page.turnout_text
            + (
                f"; quorum {page.quorum} {'met' if page.quorum_met else 'not met'}"
                if page.quorum
                else ""
            )
        )
        self.p_rules.setText(f"{page.method_text} {page.rules_text}")
        n = len(page.omitted)
        self.omitted_box.setVisible(bool(n))
        self.omitted_title.setText(f"⚠ {n} vote{'s' if n != 1 else ''} left out of the count")
        fill(
            self.omitted_table,
            [
                (o.voter, o.choices, str(o.weight), when(o.when), (o.why, WARN))
                for o in page.omitted
            ],
        )
        self.my_vote.setText(page.my_vote_text or page.why_not)
        self.vote_btn.setVisible(page.can_vote)
        self.vote_btn.setText("Change vote…" if page.my_vote_text else "Vote…")

    # -- voting and proposing ----------------------------------------------------------------------
    def open_vote(self) -> VoteDialog | None:
        if self.page is None or not self.page.can_vote:
            return None
        self.dialog = VoteDialog(self.bridge, self.page, self)
        self.dialog.voted.connect(self._voted)
        self.dialog.open()
        return self.dialog

    def _voted(self, text: str) -> None:
        self.message.show_success(text)
        self.refresh()

    def open_propose(self) -> ProposeDialog:
        labels = list(self.overview.labels) if self.overview else []
        self.propose_dialog = ProposeDialog(self.bridge, labels, self)
        self.propose_dialog.proposed.connect(self._voted)
        self.propose_dialog.open()
        return self.propose_dialog
