"""Wallet: balances per asset, send, history, trusted issuers (with a warning on untrusted);
what is locked (per purpose, with when each unlocks) and in flight; stakes and dividends, and
holder passes (``app.ui.wallet_funding``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.services.exchange_desk import HoldingView
from app.services.session.views import BalanceView, WalletView
from app.ui.tables import GREEN, SOFT, TEXT, fill, read_only_table
from app.ui.wallet_funding import PassesPanel, StakesPanel
from app.ui.widgets import MessageBar, Page, button, card, label

KIND_NAMES = {
    "send": "Sent",
    "receive": "Received",
    "purchase": "Purchase",
    "asset.mint": "Minted",
    "grant": "Sale",
    "payout": "Sale",
    "offer": "Offer (locked)",
    "take": "Take (paid, waiting)",
    "cancel": "Offer ended",
    "reclaim": "Reclaimed",
}


class BalanceCard(QFrame):
    def __init__(self, b: BalanceView, on_trust: Callable[[bytes], object]) -> None:
        super().__init__()
        self.setObjectName("card")
        self.setMinimumWidth(240)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 14, 18, 14)
        lay.setSpacing(4)
        lay.addWidget(label(b.name.upper(), "statLabel"))
        lay.addWidget(label(b.amount, "statValue"))
        if b.incoming and b.incoming not in ("0", "0.00", "0.0"):
            lay.addWidget(label(f"+{b.incoming} arriving", "dim"))
        if b.trusted:
            ok = label("✓ trusted issuer", "dim")
            ok.setStyleSheet(f"color: {GREEN};")
            lay.addWidget(ok)
        else:
            warn = label(
                "⚠ Issuer not trusted: anyone can issue a token with this name. "
                "Its value is only what its issuer stands behind.",
                "dim",
                wrap=True,
            )
            warn.setStyleSheet("color: #ffd27a;")
            lay.addWidget(warn)
            trust = button("Trust this issuer", "ghost")
            trust.clicked.connect(lambda: on_trust(b.issuer))
            lay.addWidget(trust, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addStretch(1)


class WalletPage(Page):
    def __init__(self, bridge: Bridge) -> None:
        super().__init__("Wallet", "Credits and tokens held by your identity")
        self.bridge = bridge
        self.view: WalletView | None = None
        self.holdings: list[HoldingView] = []
        # the page scrolls, so nothing is squeezed on a short window
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body.setObjectName("page")
        scroll.setWidget(body)
        self.body = QVBoxLayout(body)
        self.body.setContentsMargins(0, 0, 10, 0)
        self.body.setSpacing(14)
        self.outer.addWidget(scroll, 1)
        self.page_scroll = scroll
        self.cards = QGridLayout()
        self.cards.setSpacing(14)
        self.body.addLayout(self.cards)
        self.locked_title = label("Locked and in flight", "h2")
        self.locked_table = read_only_table(
            ["ASSET", "WHAT", "AMOUNT", "UNTIL"], {0: 90, 2: 130, 3: 260}, stretch=1
        )
        self.locked_summary = label("", "dim", wrap=True)  # per asset: available, locked, ...
        self.body.addWidget(self.locked_title)
        self.body.addWidget(self.locked_summary)
        self.body.addWidget(self.locked_table)
        row = QHBoxLayout()
        row.setSpacing(20)
        # send
        send, sl = card("Send")
        send.setFixedWidth(330)
        self.to = QLineEdit()
        self.to.setPlaceholderText("Recipient's peer ID (12D3KooW…) or public key")
        self.asset = QComboBox()
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("Amount")
        self.send_btn = button("Send", "primary")
        self.send_msg = MessageBar()
        self._error_balances: tuple[str, ...] | None = None  # when a send was refused
        for w in (self.to, self.asset, self.amount):
            sl.addWidget(w)
        sl.addWidget(self.send_btn, 0, Qt.AlignmentFlag.AlignRight)
        sl.addWidget(self.send_msg)
        sl.addSpacing(10)
        self.me = label("", "mono", wrap=True)
        self.me.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_btn = button("Copy", "ghost", "Copy your peer ID: others paste it to pay you")
        self.copy_btn.clicked.connect(self.copy_id)
        sl.addWidget(label("Your peer ID, to receive:", "dim"))
        sl.addWidget(self.me)
        sl.addWidget(self.copy_btn, 0, Qt.AlignmentFlag.AlignLeft)
        send.setMinimumHeight(send.sizeHint().height())  # the tabs beside it give way, not it
        row.addWidget(send, 0, Qt.AlignmentFlag.AlignTop)
        # history, stakes and dividends, passes
        self.tabs = QTabWidget()
        self.history = read_only_table(["WHEN", "WHAT", "AMOUNT"], {0: 150, 2: 150}, stretch=1)
        self.stakes = StakesPanel(bridge)
        self.passes = PassesPanel(bridge)
        self.tabs.addTab(self.history, "History")
        self.tabs.addTab(self.stakes, "Stakes and dividends")
        self.tabs.addTab(self.passes, "Passes")
        self.tabs.setMinimumHeight(420)
        row.addWidget(self.tabs, 1)
        self.body.addLayout(row, 1)
        self.send_btn.clicked.connect(self.send)

    def show_tab(self, panel: QWidget) -> None:
        """Open one of the tabs (history, stakes, passes) and scroll it into view."""
        self.tabs.setCurrentWidget(panel)
        self.page_scroll.ensureWidgetVisible(self.tabs, 0, 0)

    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.call("wallet_view")
        job.finished.connect(self._show)
        job.failed.connect(self.message.show_error)
        held = self.bridge.exchange("holdings")
        held.finished.connect(self._show_holdings)
        held.failed.connect(self.message.show_error)
        self.stakes.refresh()
        self.passes.refresh()

    def _show_holdings(self, holdings: list[HoldingView]) -> None:
        self.holdings = list(holdings)
        rows: list[tuple] = []
        for h in holdings:
            for lk in h.locks:
                rows.append(
                    (
                        h.symbol,
                        _lock_what(lk.what, lk.settler),
                        lk.amount_text,
                        f"unlocks by {_when(lk.unlocks)}",
                    )
                )
            for f in h.flights:
                until = f"back by {_when(f.until)} if unsettled" if f.until else "arriving"
                rows.append(
                    (h.symbol, (f.what[:1].upper() + f.what[1:], SOFT), f.amount_text, until)
                )
        self.locked_title.setText(
            "Locked and in flight" + ("" if rows else ": nothing; all you hold is available")
        )
        self.locked_summary.setText(
            "   ·   ".join(
                f"{h.symbol}: {h.available} available, {h.locked} locked, {h.in_flight} in flight"
                for h in holdings
                if h.locks or h.flights
            )
        )
        self.locked_summary.setVisible(bool(rows))
        fill(self.locked_table, rows)
        self.locked_table.setVisible(bool(rows))
        height = (
            self.locked_table.horizontalHeader().height()
            + 4
            + sum(self.locked_table.rowHeight(r) for r in range(len(rows)))
        )
        self.locked_table.setFixedHeight(min(150, height))

    def _show(self, view: WalletView) -> None:
        balances = tuple(b.amount for b in view.balances)
        if self._error_balances is not None and balances != self._error_balances:
            self._error_balances = None  # credit arrived or left: the refusal is stale
            self.send_msg.clear_message()
        self.view = view
        while self.cards.count():
            item = self.cards.takeAt(0)
            assert item is not None  # count() > 0
            w = item.widget()
            if w is not None:
                w.deleteLater()
        per_row = 3 if len(view.balances) > 3 else max(1, len(view.balances))  # no clipping
        for i, b in enumerate(view.balances):
            self.cards.addWidget(BalanceCard(b, self.trust), i // per_row, i % per_row)
        if not view.balances:
            self.cards.addWidget(
                label(
                    "No credits yet. A credits gateway or a friend can send "
                    "you some; share your key below.",
                    "dim",
                    wrap=True,
                ),
                0,
                0,
            )
        chosen = self.asset.currentData()  # a refresh keeps the asset the user picked
        self.asset.clear()
        for b in view.balances:
            self.asset.addItem(f"{b.symbol} — {b.name}", b.asset)
        if self.asset.findData(chosen) >= 0:
            self.asset.setCurrentIndex(self.asset.findData(chosen))
        my_id = view.me_id or view.me.hex()
        self.me.setToolTip(my_id)
        # A zero-width space lets the label wrap the ID instead of cutting it off.
        self.me.setText("\u200b".join(my_id[i : i + 26] for i in range(0, len(my_id), 26)))
        fill(
            self.history,
            [
                (
                    dt.datetime.fromtimestamp(h.timestamp / 1000).strftime("%Y-%m-%d %H:%M"),
                    KIND_NAMES.get(h.kind, h.kind) + (f" · {h.what}" if h.what else ""),
                    (("+" if h.positive else "") + h.change, GREEN if h.positive else TEXT),
                )
                for h in view.history
            ],
        )

    def copy_id(self) -> None:
        QGuiApplication.clipboard().setText(self.me.toolTip())
        self.send_msg.show_success("Your peer ID is copied.")

    def trust(self, issuer: bytes) -> None:
        job = self.bridge.call("set_trusted", issuer, True)
        job.finished.connect(lambda _: self.refresh())
        job.failed.connect(self.message.show_error)

    def send(self) -> None:
        self.send_msg.clear_message()
        self._error_balances = None
        asset = self.asset.currentData()
        if asset is None:
            self.send_msg.show_error("You have nothing to send yet.")
            return
        self.send_btn.setEnabled(False)
        job = self.bridge.call("send", self.to.text(), asset, self.amount.text())

        def ok(_: object) -> None:
            self.send_btn.setEnabled(True)
            self.send_msg.show_success("Sent. It arrives when the recipient's node syncs.")
            self.amount.clear()
            self.refresh()

        def failed(m: str) -> None:
            self.send_btn.setEnabled(True)
            self.send_msg.show_error(m)
            if self.view is not None:
                self._error_balances = tuple(b.amount for b in self.view.balances)

        job.finished.connect(ok)
        job.failed.connect(failed)


def _lock_what(what: str, settler: str) -> str:
    if what == "stake" and settler == "you":  # accepted: the staker ends it after the term
        return "Staked: the artist accepted it; you take it back after its term"
    if what == "stake":
        return f"Staked, waiting for {settler} to accept (comes back if refused)"
    if what == "gate.claim":
        return "Locked for a holder pass you claimed; back when the pass's period ends"
    return f"Locked in {'an' if what[:1] in 'aeiou' else 'a'} {what}, settled by {settler}"


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %Y %H:%M")
