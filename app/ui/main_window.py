"""The main window: a sidebar, the views in a stack, the player bar; onboarding before unlock."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.ui.library import LibraryView
from app.ui.network import NetworkPage, SettingsPage
from app.ui.onboarding import OnboardingView
from app.ui.player_bar import PlayerBar
from app.ui.store import StoreView
from app.ui.studio import StudioPage
from app.ui.wallet import WalletPage
from app.ui.widgets import Toast, button, label
from player.engine import Engine

NAV = (("store", "♫   Store"), ("library", "▤   Library"), ("studio", "✎   Studio"),
       ("wallet", "◈   Wallet"), ("network", "⇄   Network"), ("settings", "⚙   Settings"))


class MainWindow(QMainWindow):
    def __init__(self, bridge: Bridge, engine: Engine | None = None, title_note: str = "") -> None:
        super().__init__()
        self.bridge = bridge
        self.setWindowTitle("Cooptracks" + (f" — {title_note}" if title_note else ""))
        self.resize(1280, 800)
        self.setMinimumSize(980, 640)
        self.root = QStackedWidget()
        self.setCentralWidget(self.root)
        self.onboarding = OnboardingView(bridge)
        self.root.addWidget(self.onboarding)
        # the app proper
        self.app_widget = QWidget()
        self.app_widget.setObjectName("content")
        outer = QVBoxLayout(self.app_widget)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        outer.addLayout(body, 1)
        self.sidebar = QWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.sidebar.setFixedWidth(210)
        side = QVBoxLayout(self.sidebar)
        side.setContentsMargins(12, 20, 12, 12)
        side.setSpacing(2)
        brand = label("cooptracks<span style='color:#3ddc97'>.</span>", "brand")
        brand.setTextFormat(Qt.TextFormat.RichText)
        side.addWidget(brand)
        self.nav_group = QButtonGroup(self)
        self.nav: dict[str, object] = {}
        for i, (key, text) in enumerate(NAV):
            if key == "studio":
                side.addWidget(label("CREATE", "navSection"))
            if key == "wallet":
                side.addWidget(label("ACCOUNT", "navSection"))
            b = button(text, "nav")
            b.setCheckable(True)
            self.nav_group.addButton(b, i)
            self.nav[key] = b
            side.addWidget(b)
        side.addStretch(1)
        self.who = label("", "sidebarFoot", wrap=True)
        side.addWidget(self.who)
        body.addWidget(self.sidebar)
        self.pages = QStackedWidget()
        self.pages.setObjectName("pages")
        body.addWidget(self.pages, 1)
        self.store = StoreView(bridge)
        self.library = LibraryView(bridge)
        self.studio = StudioPage(bridge)
        self.wallet = WalletPage(bridge)
        self.network = NetworkPage(bridge)
        self.settings = SettingsPage(bridge)
        self.views = [self.store, self.library, self.studio, self.wallet, self.network,
                      self.settings]
        for v in self.views:
            self.pages.addWidget(v)
        self.player_bar = PlayerBar(bridge, engine)
        outer.addWidget(self.player_bar)
        self.root.addWidget(self.app_widget)
        self.toast = Toast(self)

        self.nav_group.idClicked.connect(self.show_view)
        self.onboarding.unlocked.connect(self._enter_app)
        bridge.sessionOpened.connect(self._enter_app)
        self.store.play_preview.connect(self._play_preview)
        self.library.play_rows.connect(self.player_bar.play_rows)
        self.player_bar.message.connect(self.toast.show_text)
        self.store.release.bought.connect(lambda: self._stale_all())
        bridge.notice.connect(self.toast.show_text)
        bridge.forkDetected.connect(lambda m: self.toast.show_text(m, True, 8000))
        bridge.purchaseFulfilled.connect(
            lambda _: self.toast.show_text("A purchase was granted: your music is downloading."))
        # Ledger changes come in bursts during a sync: refresh the visible view at most 3x/s.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)
        self._refresh_timer.timeout.connect(self._refresh_visible)
        for sig in (bridge.ledgerChanged, bridge.purchaseFulfilled, bridge.saleFulfilled):
            sig.connect(lambda *_: self._stale_all())
        bridge.downloadProgress.connect(self._on_download)
        self.show_view(0)
        if bridge.session is not None:
            self._enter_app()

    # -- navigation ------------------------------------------------------------------------------
    def _enter_app(self) -> None:
        self.root.setCurrentWidget(self.app_widget)
        try:
            info = self.bridge.identity.info()
            self.who.setText(f"{info.name or 'You'}\n{info.peer_id[:10]}…{info.peer_id[-4:]}")
        except Exception:
            pass
        self._stale_all()

    def show_view(self, index: int) -> None:
        self.nav_group.button(index).setChecked(True)
        view = self.views[index]
        self.pages.setCurrentWidget(view)
        if self.bridge.session is not None and getattr(view, "stale", True):
            view.refresh()

    def show_named(self, key: str) -> None:
        self.show_view([k for k, _ in NAV].index(key))

    def _stale_all(self) -> None:
        for v in self.views:
            v.stale = True
        self._refresh_timer.start()

    def _refresh_visible(self) -> None:
        view = self.pages.currentWidget()
        if self.bridge.session is not None and getattr(view, "stale", False):
            view.refresh()

    def _on_download(self, content: bytes, have: int, total: int) -> None:
        if total and have >= total:
            self.library.stale = True
            self._refresh_timer.start()

    def _play_preview(self, preview: bytes, title: str, artist: str) -> None:
        page = self.store.release.page
        art = page.card.artwork if page else None
        self.player_bar.play_preview(preview, title, artist, art)

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        if self.toast.isVisible():
            self.toast.move(self.width() - self.toast.width() - 24,
                            self.height() - self.toast.height() - 100)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player_bar.close_engine()
        super().closeEvent(event)
