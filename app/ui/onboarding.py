"""First run (create an identity or restore one from its recovery phrase) and unlock."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge, Job
from app.services.identity import MIN_PASSPHRASE
from app.ui.widgets import MessageBar, button, label


def _password(placeholder: str) -> QLineEdit:
    e = QLineEdit()
    e.setEchoMode(QLineEdit.EchoMode.Password)
    e.setPlaceholderText(placeholder)
    return e


class OnboardingView(QWidget):
    """A centred card with four steps: welcome, create, restore, unlock."""

    unlocked = Signal()

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
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
        brand = label("cooptracks<span style='color:#3ddc97'>.</span>", "h1")
        brand.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(brand)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack)
        self.message = MessageBar()
        lay.addWidget(self.message)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.hide()
        lay.addWidget(self.busy)

        # welcome
        w = QWidget()
        wl = QVBoxLayout(w)
        wl.setContentsMargins(0, 0, 0, 0)
        wl.setSpacing(10)
        wl.addWidget(label("Music straight from artists, with no server in the middle.",
                           "h2", wrap=True))
        wl.addWidget(label("Your identity is a key that lives only on this computer. It signs "
                           "your purchases and proves what you own. Protect it with a "
                           "passphrase; a 24-word recovery phrase brings it back on another "
                           "machine.", "dim", wrap=True))
        wl.addSpacing(8)
        self.to_create = button("Create my identity", "primary")
        self.to_restore = button("I have a recovery phrase", "ghost")
        wl.addWidget(self.to_create)
        wl.addWidget(self.to_restore)
        self.stack.addWidget(w)

        # create
        c = QWidget()
        cl = QVBoxLayout(c)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(8)
        cl.addWidget(label("Create your identity", "h2"))
        cl.addWidget(label("Your name is shown to artists you buy from. You can change it "
                           "later.", "dim", wrap=True))
        self.name = QLineEdit()
        self.name.setPlaceholderText("Display name (optional)")
        self.new_pass = _password(f"Passphrase (at least {MIN_PASSPHRASE} characters)")
        self.new_pass2 = _password("Repeat the passphrase")
        for e in (self.name, self.new_pass, self.new_pass2):
            cl.addWidget(e)
        crow = QHBoxLayout()
        self.create_back = button("Back", "ghost")
        self.create_btn = button("Create identity", "primary")
        crow.addWidget(self.create_back)
        crow.addStretch(1)
        crow.addWidget(self.create_btn)
        cl.addLayout(crow)
        self.stack.addWidget(c)

        # restore
        r = QWidget()
        rl = QVBoxLayout(r)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(8)
        rl.addWidget(label("Restore from a recovery phrase", "h2"))
        self.phrase = QPlainTextEdit()
        self.phrase.setPlaceholderText("The 24 words, separated by spaces")
        self.phrase.setFixedHeight(90)
        self.restore_pass = _password("New passphrase for this computer")
        rl.addWidget(self.phrase)
        rl.addWidget(self.restore_pass)
        rrow = QHBoxLayout()
        self.restore_back = button("Back", "ghost")
        self.restore_btn = button("Restore", "primary")
        rrow.addWidget(self.restore_back)
        rrow.addStretch(1)
        rrow.addWidget(self.restore_btn)
        rl.addLayout(rrow)
        self.stack.addWidget(r)

        # unlock
        u = QWidget()
        ul = QVBoxLayout(u)
        ul.setContentsMargins(0, 0, 0, 0)
        ul.setSpacing(8)
        self.welcome_back = label("Welcome back", "h2")
        ul.addWidget(self.welcome_back)
        ul.addWidget(label("Enter your passphrase to unlock your identity.", "dim", wrap=True))
        self.unlock_pass = _password("Passphrase")
        ul.addWidget(self.unlock_pass)
        self.unlock_btn = button("Unlock", "primary")
        ul.addWidget(self.unlock_btn, 0, Qt.AlignmentFlag.AlignRight)
        self.stack.addWidget(u)

        self.to_create.clicked.connect(lambda: self._goto(1))
        self.to_restore.clicked.connect(lambda: self._goto(2))
        self.create_back.clicked.connect(lambda: self._goto(0))
        self.restore_back.clicked.connect(lambda: self._goto(0))
        self.create_btn.clicked.connect(self.create)
        self.new_pass2.returnPressed.connect(self.create)
        self.restore_btn.clicked.connect(self.restore)
        self.unlock_btn.clicked.connect(self.unlock)
        self.unlock_pass.returnPressed.connect(self.unlock)
        self.reset()

    def reset(self) -> None:
        if self.bridge.identity_exists():
            try:
                name = self.bridge.identity.info().name
            except Exception:
                name = ""
            self.welcome_back.setText(f"Welcome back{', ' + name if name else ''}")
            self._goto(3)
        else:
            self._goto(0)

    def _goto(self, index: int) -> None:
        self.message.clear_message()
        # Size the card to the visible step only (a stack is as tall as its tallest page).
        for i in range(self.stack.count()):
            policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
            self.stack.widget(i).setSizePolicy(policy, policy)
        self.stack.setCurrentIndex(index)
        self.stack.adjustSize()
        self.card.adjustSize()

    def _start(self, job: Job) -> None:
        self.message.clear_message()
        self.busy.show()
        for b in (self.create_btn, self.restore_btn, self.unlock_btn):
            b.setEnabled(False)
        job.finished.connect(self._done)
        job.failed.connect(self._failed)

    def _done(self, _session: object) -> None:
        self.busy.hide()
        self._enable()
        self.unlock_pass.clear()
        self.new_pass.clear()
        self.new_pass2.clear()
        self.restore_pass.clear()
        self.unlocked.emit()

    def _failed(self, message: str) -> None:
        self.busy.hide()
        self._enable()
        self.message.show_error(message)

    def _enable(self) -> None:
        for b in (self.create_btn, self.restore_btn, self.unlock_btn):
            b.setEnabled(True)

    # -- actions ---------------------------------------------------------------------------------
    def create(self) -> None:
        p1, p2 = self.new_pass.text(), self.new_pass2.text()
        if p1 != p2:
            self.message.show_error("The two passphrases differ.")
            return
        if len(p1) < MIN_PASSPHRASE:
            self.message.show_error(f"Choose a passphrase of at least {MIN_PASSPHRASE} "
                                    "characters.")
            return
        self._start(self.bridge.create_identity(p1, self.name.text().strip()))

    def restore(self) -> None:
        self._start(self.bridge.restore_identity(self.phrase.toPlainText(),
                                                 self.restore_pass.text()))

    def unlock(self) -> None:
        if not self.unlock_pass.text():
            self.message.show_error("Enter your passphrase.")
            return
        self._start(self.bridge.unlock(self.unlock_pass.text()))
