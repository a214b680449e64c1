"""The wallet's stakes, dividends and passes: stake a chartered coin with its artist (and unstake
after the term), the dividends the stakes earned (collect), the holder passes the user can claim
or holds, and a pass shown as a QR code with its copyable ``ctpass1:`` proof. Everything comes
through the bridge (``Bridge.funding``)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.services.funding_desk import PassesView, ShownPass, StakesView
from app.ui.tables import DIM, GREEN, SOFT, fill, read_only_table
from app.ui.widgets import MessageBar, button, label


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %Y %H:%M")


class QrCode(QWidget):
    """A QR code painted from its module matrix (dark on white, with a quiet zone)."""

    def __init__(self) -> None:
        super().__init__()
        self.matrix: tuple[tuple[bool, ...], ...] = ()
        self.setMinimumSize(300, 300)

    def set_matrix(self, matrix: tuple[tuple[bool, ...], ...]) -> None:
        self.matrix = matrix
        self.update()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        side = min(self.width(), self.height())
        x0, y0 = (self.width() - side) / 2, (self.height() - side) / 2
        p.fillRect(QRectF(x0, y0, side, side), QColor("white"))
        n = len(self.matrix)
        if not n:
            return
        cell = side / (n + 8)  # four modules of quiet zone on each side
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("black"))
        for r, row in enumerate(self.matrix):
            for c, dark in enumerate(row):
                if dark:
                    p.drawRect(QRectF(x0 + (c + 4) * cell, y0 + (r + 4) * cell, cell, cell))


class PassDialog(QDialog):
    """A claimed pass shown for a door: its QR code and the signed text to copy."""

    def __init__(self, shown: ShownPass, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.shown = shown
        self.setWindowTitle(f"Pass: {shown.title}")
        lay = QVBoxLayout(self)
        lay.setSpacing(10)
        lay.addWidget(label(shown.title, "h2"))
        lay.addWidget(
            label(
                f"Valid until {_when(shown.until)}. Signed just now: a door accepts it for a few "
                "minutes; show it again for a fresh one.",
                "dim",
                wrap=True,
            )
        )
        self.qr = QrCode()
        self.qr.set_matrix(shown.qr)
        lay.addWidget(self.qr, 1)
        self.text = QPlainTextEdit(shown.text)
        self.text.setReadOnly(True)
        self.text.setMaximumHeight(90)
        lay.addWidget(self.text)
        row = QHBoxLayout()
        self.message = MessageBar()
        row.addWidget(self.message, 1)
        self.copy_btn = button("Copy proof", "ghost", "Copy the ctpass1: text")
        self.copy_btn.clicked.connect(self.copy)
        close = button("Close", "primary")
        close.clicked.connect(self.accept)
        row.addWidget(self.copy_btn)
        row.addWidget(close)
        lay.addLayout(row)
        self.resize(460, 640)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.shown.text)
        self.message.show_success("Copied.")


class StakesPanel(QWidget):
    """Stake a chartered coin, see the stakes and the dividends they earned, collect."""

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.view: StakesView | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 8, 0, 0)
        lay.setSpacing(8)
        form = QHBoxLayout()
        self.coin = QComboBox()
        self.coin.setMinimumWidth(220)
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("coins")
        self.amount.setFixedWidth(90)
        self.days = QLineEdit("30")
        self.days.setFixedWidth(60)
        self.stake_btn = button("Stake", "primary")
        self.stake_btn.clicked.connect(self.stake)
        form.addWidget(self.coin)
        form.addWidget(self.amount)
        form.addWidget(label("for", "dim"))
        form.addWidget(self.days)
        form.addWidget(label("days", "dim"))
        form.addWidget(self.stake_btn)
        form.addStretch(1)
        lay.addLayout(form)
        self.charter = label("", "dim", wrap=True)
        lay.addWidget(self.charter)
        self.coin.currentIndexChanged.connect(lambda _: self._show_charter())
        self.charter.setMaximumHeight(40)
        self.charter.hide()  # the combo box's tooltip says it: the tab is short
        self.message = MessageBar()
        lay.addWidget(self.message)
        self.table = read_only_table(
            ["COIN", "STAKED", "STATUS", "UNTIL", "DIVIDENDS", ""],
            {0: 70, 1: 100, 3: 150, 4: 110, 5: 100},
            2,
        )
        self.table.setMinimumHeight(90)
        self.table.verticalHeader().setDefaultSectionSize(36)
        lay.addWidget(self.table, 2)
        row = QHBoxLayout()
        self.received = label("", None, wrap=True)
        row.addWidget(self.received, 1)
        self.collect_btn = button("Collect", "ghost", "Collect the dividends due to your stakes")
        self.collect_btn.clicked.connect(self.collect)
        row.addWidget(self.collect_btn)
        lay.addLayout(row)
        self.dividends = read_only_table(["WHEN", "COIN", "DIVIDEND", ""], {0: 150, 1: 70}, 3)
        self.dividends.setMinimumHeight(70)
        lay.addWidget(self.dividends, 1)

    def refresh(self) -> None:
        job = self.bridge.funding("stakes")
        job.finished.connect(self.show_stakes)
        job.failed.connect(self.message.show_error)

    def show_stakes(self, view: StakesView) -> None:
        self.view = view
        current = self.coin.currentData()
        self.coin.blockSignals(True)
        self.coin.clear()
        for c in view.coins:
            self.coin.addItem(f"{c.symbol} — {c.artist} (you hold {c.balance})", c.id)
        i = self.coin.findData(current) if current is not None else -1
        self.coin.setCurrentIndex(max(0, i))
        self.coin.blockSignals(False)
        self._show_charter()
        self.stake_btn.setEnabled(bool(view.coins))
        rows = []
        for s in view.stakes:
            rows.append(
                (
                    s.coin,
                    s.amount,
                    (s.status, GREEN if s.status == "staked" else SOFT),
                    _when(s.until),
                    s.collected,
                    "",
                )
            )
        for r in range(self.table.rowCount()):
            self.table.removeCellWidget(r, 5)
        fill(self.table, rows)
        for r, s in enumerate(view.stakes):
            if s.can_unstake:
                b = button("Unstake", "ghost")
                b.clicked.connect(lambda _=False, sid=s.id: self.unstake(sid))
                self.table.setCellWidget(r, 5, b)
        self.received.setText(
            f"Dividends received: {view.received}" + (f" · due now: {view.due}" if view.due else "")
        )
        self.collect_btn.setEnabled(bool(view.due))
        self.dividends.setVisible(bool(view.dividends))
        fill(
            self.dividends,
            [
                (
                    _when(d.timestamp),
                    d.coin,
                    (d.amount, GREEN if d.collected else SOFT),
                    ("collected", DIM) if d.collected else ("due", SOFT),
                )
                for d in view.dividends
            ],
        )

    def _show_charter(self) -> None:
        cid = self.coin.currentData()
        coin = next((c for c in self.view.coins if c.id == cid), None) if self.view else None
        self.coin.setToolTip(coin.charter if coin else "")
        self.charter.setText(
            f"{coin.charter}; a stake stays locked for its term and earns a share of each "
            "distribution."
            if coin
            else "You hold no coin whose artist shares its sales."
        )

    def _run(self, method: str, *args: object) -> None:
        self.message.clear_message()
        job = self.bridge.funding(method, *args)
        job.finished.connect(self._done)
        job.failed.connect(self.message.show_error)

    def _done(self, text: str) -> None:
        self.message.show_success(text)
        self.refresh()

    def stake(self) -> None:
        coin = self.coin.currentData()
        if coin is None:
            self.message.show_error("You hold no coin to stake.")
            return
        self._run("stake", coin, self.amount.text(), self.days.text())
        self.amount.clear()

    def unstake(self, stake: bytes) -> None:
        self._run("unstake", stake)

    def collect(self) -> None:
        self._run("collect")


class PassesPanel(QWidget):
    """The holder passes on coins the user holds: claim one, show a claimed one."""

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.view: PassesView | None = None
        self.dialog: PassDialog | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 8, 0, 0)
        lay.setSpacing(8)
        lay.addWidget(
            label(
                "Artists open passes to the holders of their coin. Claiming locks the coins "
                "for the stated time (so one set of coins opens one door); then show the pass.",
                "dim",
                wrap=True,
            )
        )
        self.message = MessageBar()
        lay.addWidget(self.message)
        self.table = read_only_table(["PASS", "NEEDS", "STATUS", ""], {1: 180, 2: 140, 3: 130}, 0)
        self.table.verticalHeader().setDefaultSectionSize(44)
        self.table.setWordWrap(True)
        lay.addWidget(self.table, 1)

    def refresh(self) -> None:
        job = self.bridge.funding("passes_view")
        job.finished.connect(self.show_passes)
        job.failed.connect(self.message.show_error)

    def show_passes(self, view: PassesView) -> None:
        self.view = view
        rows = []
        for g in view.gates:
            if g.active_claim is not None and g.claim_until is not None:
                status = (f"yours until {_when(g.claim_until)}", GREEN)
            elif g.qualifies:
                status = ("you qualify", SOFT)
            else:
                status = ("not enough held", DIM)
            rows.append((f"{g.title} · {g.artist}", g.need, status, ""))
        for r in range(self.table.rowCount()):
            self.table.removeCellWidget(r, 3)
        fill(self.table, rows)
        for r, g in enumerate(view.gates):
            if g.active_claim is not None:
                b = button("Show pass", "primary")
                b.clicked.connect(lambda _=False, cid=g.active_claim: self.show_pass(cid))
            elif g.qualifies:
                b = button("Claim", "ghost", "Lock the coins and claim the pass")
                b.clicked.connect(lambda _=False, gid=g.id: self.claim(gid))
            else:
                continue
            self.table.setCellWidget(r, 3, b)
        if not view.gates:
            self.message.show_warning("No passes on the coins you hold.")

    def _done(self, text: str) -> None:
        self.message.show_success(text)
        self.refresh()

    def claim(self, gate: bytes) -> None:
        self.message.clear_message()
        job = self.bridge.funding("claim", gate)
        job.finished.connect(self._done)
        job.failed.connect(self.message.show_error)

    def show_pass(self, claim: bytes) -> None:
        job = self.bridge.funding("show_pass", claim)
        job.finished.connect(self._open_pass)
        job.failed.connect(self.message.show_error)

    def _open_pass(self, shown: ShownPass) -> None:
        self.dialog = PassDialog(shown, self)
        self.dialog.open()


__all__ = ["PassDialog", "PassesPanel", "QrCode", "StakesPanel"]
