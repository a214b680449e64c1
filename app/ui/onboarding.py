"""First run (create an identity or restore one from its recovery phrase) and unlock.

This is the first screen of every launch, shown before the services have loaded: it needs only
to know whether the profile has an identity. The bridge is handed over by ``attach`` a moment
later; a passphrase entered before that is kept and used then. Each step is built when first
shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui.widgets import MessageBar, back_and_go, hand_cursor, label
from app.ui.widgets import button as _button

if TYPE_CHECKING:
    from app.bridge import Bridge, Job

WELCOME, CREATE, RESTORE, UNLOCK = range(4)


def _password(placeholder: str) -> QLineEdit:
    e = QLineEdit()
    e.setEchoMode(QLineEdit.EchoMode.Password)
    e.setPlaceholderText(placeholder)
    return e


def button(text: str, name: str) -> QPushButton:
    # No cursor yet: setting one loads PySide6's Qt namespace, which the first paint can do
    # without. ``polish`` adds the pointing hands once the window is up.
    return _button(text, name, hand=False)


def _step() -> tuple[QWidget, QVBoxLayout]:
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(8)
    return w, lay


class OnboardingView(QWidget):
    """A centred card with four steps: welcome, create, restore, unlock."""

    unlocked = Signal()
    wants_backend = Signal()  # an action needs the bridge: load it now if not yet under way
    painted = Signal()  # once, after the first paint

    def __init__(self, has_identity: bool) -> None:
        super().__init__()
        self.bridge: Bridge | None = None
        self._pending: Callable[[Bridge], Job] | None = None
        self._painted = False
        self._polished = False
        self.setObjectName("page")
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.card = QFrame()
        self.card.setObjectName("card")
        self.card.setFixedWidth(480)
        row.addWidget(self.card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        lay = QVBoxLayout(self.card)
        lay.setContentsMargins(36, 32, 36, 30)
        lay.setSpacing(12)
        # Rich text is detected from the markup (Qt's default AutoText format).
        brand = label("cooptracks<span style='color:#3ddc97'>.</span>", "h1")
        lay.addWidget(brand)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack)
        self.message = MessageBar()
        lay.addWidget(self.message)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.hide()
        lay.addWidget(self.busy)
        self._steps: dict[int, QWidget] = {}
        for _ in range(4):  # placeholders, replaced by each step when first shown
            self.stack.addWidget(QWidget())
        self._goto(UNLOCK if has_identity else WELCOME)

    # -- the steps, built on first show ----------------------------------------------------------
    def _build(self, index: int) -> QWidget:
        return (self._build_welcome, self._build_create, self._build_restore, self._build_unlock)[
            index
        ]()

    def _build_welcome(self) -> QWidget:
        w, wl = _step()
        wl.setSpacing(10)
        wl.addWidget(
            label("Music straight from artists, with no server in the middle.", "h2", wrap=True)
        )
        wl.addWidget(
            label(
                "Your identity is a key that lives only on this computer. It signs "
                "your purchases and proves what you own. Protect it with a "
                "passphrase; a 24-word recovery phrase brings it back on another "
                "machine.",
                "dim",
                wrap=True,
            )
        )
        wl.addSpacing(8)
        self.to_create = button("Create my identity", "primary")
        self.to_restore = button("I have a recovery phrase", "ghost")
        wl.addWidget(self.to_create)
        wl.addWidget(self.to_restore)
        self.to_create.clicked.connect(lambda: self._goto(CREATE))
        self.to_restore.clicked.connect(lambda: self._goto(RESTORE))
        return w

    def _build_create(self) -> QWidget:
        from app.services.identity import MIN_PASSPHRASE

        c, cl = _step()
        cl.addWidget(label("Create your identity", "h2"))
        cl.addWidget(
            label(
                "Your name is shown to artists you buy from. You can change it later.",
                "dim",
                wrap=True,
            )
        )
        self.public_note = label(
            "What is public: there is no server, so every peer keeps a copy of the ledger. "
            "Your name, your public key and every purchase you make (which release, the "
            "price, when) are visible to everyone, for good. After a download your computer "
            "tells peers it holds that track, with your IP address; you can turn that off in "
            'Settings → Network ("Share what I bought"). Your library, playlists and the '
            "keys to your tracks stay private.",
            "dim",
            wrap=True,
        )
        cl.addWidget(self.public_note)
        self.name = QLineEdit()
        self.name.setPlaceholderText("Display name (optional)")
        self.new_pass = _password(f"Passphrase (at least {MIN_PASSPHRASE} characters)")
        self.new_pass2 = _password("Repeat the passphrase")
        for e in (self.name, self.new_pass, self.new_pass2):
            cl.addWidget(e)
        crow, self.create_back, self.create_btn = back_and_go("Create identity", hand=False)
        cl.addLayout(crow)
        self.create_back.clicked.connect(lambda: self._goto(WELCOME))
        self.create_btn.clicked.connect(self.create)
        self.new_pass2.returnPressed.connect(self.create)
        return c

    def _build_restore(self) -> QWidget:
        r, rl = _step()
        rl.addWidget(label("Restore from a recovery phrase", "h2"))
        self.phrase = QPlainTextEdit()
        self.phrase.setPlaceholderText("The 24 words, separated by spaces")
        self.phrase.setFixedHeight(90)
        self.restore_pass = _password("New passphrase for this computer")
        rl.addWidget(self.phrase)
        rl.addWidget(self.restore_pass)
        rrow, self.restore_back, self.restore_btn = back_and_go("Restore", hand=False)
        rl.addLayout(rrow)
        self.restore_back.clicked.connect(lambda: self._goto(WELCOME))
        self.restore_btn.clicked.connect(self.restore)
        return r

    def _build_unlock(self) -> QWidget:
        u, ul = _step()
        self.welcome_back = label("Welcome back", "h2")
        ul.addWidget(self.welcome_back)
        ul.addWidget(label("Enter your passphrase to unlock your identity.", "dim", wrap=True))
        self.unlock_pass = _password("Passphrase")
        ul.addWidget(self.unlock_pass)
        self.unlock_btn = button("Unlock", "primary")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.unlock_btn)
        ul.addLayout(row)
        self.unlock_btn.clicked.connect(self.unlock)
        self.unlock_pass.returnPressed.connect(self.unlock)
        self.unlock_pass.setFocus()
        return u

    def _action_buttons(self) -> list[QWidget]:
        names = ("create_btn", "restore_btn", "unlock_btn")
        return [getattr(self, n) for n in names if hasattr(self, n)]

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.painted.emit()

    def polish(self) -> None:
        """Finishing touches left out of the first paint (pointing-hand cursors)."""
        self._polished = True
        hand_cursor(*self.card.findChildren(QPushButton))

    # -- the bridge --------------------------------------------------------------------------
    def attach(self, bridge: Bridge) -> None:
        """Take the loaded bridge; run what the user asked for while it was loading."""
        self.bridge = bridge
        self.polish()
        self.reset()
        if self._pending is not None:
            action, self._pending = self._pending, None
            self._watch(action(bridge))

    def reset(self) -> None:
        """Show the step that fits the profile (unlock when it has an identity)."""
        if self.bridge is None:
            return
        if self.bridge.identity_exists():
            try:
                name = self.bridge.identity.info().name
            except Exception:
                name = ""
            if UNLOCK not in self._steps or self.stack.currentIndex() != UNLOCK:
                self._goto(UNLOCK)
            self.welcome_back.setText(f"Welcome back{', ' + name if name else ''}")
        elif self.stack.currentIndex() == UNLOCK:
            self._goto(WELCOME)

    def _goto(self, index: int) -> None:
        self.message.clear_message()
        if index not in self._steps:
            step = self._build(index)
            old = self.stack.widget(index)
            assert old is not None  # the stack holds a placeholder for every step
            self.stack.insertWidget(index, step)
            self.stack.removeWidget(old)
            old.deleteLater()
            self._steps[index] = step
            if self._polished:
                hand_cursor(*step.findChildren(QPushButton))
        # Size the card to the visible step only (a stack is as tall as its tallest page).
        for i in range(self.stack.count()):
            policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
            page = self.stack.widget(i)
            assert page is not None  # i < count()
            page.setSizePolicy(policy, policy)
        self.stack.setCurrentIndex(index)
        self.stack.adjustSize()
        self.card.adjustSize()

    def _start(self, action: Callable[[Bridge], Job]) -> None:
        self.message.clear_message()
        self.busy.show()
        for b in self._action_buttons():
            b.setEnabled(False)
        if self.bridge is None:  # still loading: run it on attach
            self._pending = action
            self.wants_backend.emit()
            return
        self._watch(action(self.bridge))

    def _watch(self, job: Job) -> None:
        job.finished.connect(self._done)
        job.failed.connect(self._failed)

    def _done(self, _session: object) -> None:
        self.busy.hide()
        self._enable()
        for e in ("unlock_pass", "new_pass", "new_pass2", "restore_pass"):
            if hasattr(self, e):
                getattr(self, e).clear()
        self.unlocked.emit()

    def _failed(self, message: str) -> None:
        self.busy.hide()
        self._enable()
        self.message.show_error(message)

    def show_failure(self, message: str) -> None:
        """The services could not load: say so, and keep what was typed."""
        self._pending = None
        self._failed(message)

    def _enable(self) -> None:
        for b in self._action_buttons():
            b.setEnabled(True)

    # -- actions ---------------------------------------------------------------------------------
    # the name hides QWidget.create(); kept, as callers and tests use it
    def create(self) -> None:  # type: ignore[override]
        from app.services.identity import MIN_PASSPHRASE

        p1, p2 = self.new_pass.text(), self.new_pass2.text()
        if p1 != p2:
            self.message.show_error("The two passphrases differ.")
            return
        if len(p1) < MIN_PASSPHRASE:
            self.message.show_error(f"Choose a passphrase of at least {MIN_PASSPHRASE} characters.")
            return
        name = self.name.text().strip()
        self._start(lambda b: b.create_identity(p1, name))

    def restore(self) -> None:
        phrase, passphrase = self.phrase.toPlainText(), self.restore_pass.text()
        self._start(lambda b: b.restore_identity(phrase, passphrase))

    def unlock(self) -> None:
        if not self.unlock_pass.text():
            self.message.show_error("Enter your passphrase.")
            return
        passphrase = self.unlock_pass.text()
        self._start(lambda b: b.unlock(passphrase))

    def unlock_with(self, passphrase: str) -> None:
        """Unlock without typing (the demo), as soon as the services are loaded."""
        self._start(lambda b: b.unlock(passphrase))
