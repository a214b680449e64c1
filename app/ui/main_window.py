"""The main window: a sidebar, the views in a stack, the player bar; onboarding before unlock.

At launch the window holds only onboarding, so it can paint before the services are loaded.
The bridge arrives later (``attach``). The app proper is built when the identity is unlocked,
and each view on its first show. Ledger changes come in bursts during a sync: they only mark
views stale, and the visible one refreshes at most every ``REFRESH_MS`` (never starved by a
steady stream of changes), the others when they are next shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6 import QtCore
from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui.onboarding import OnboardingView
from app.ui.widgets import Toast, button, label

if TYPE_CHECKING:
    from app.bridge import Bridge
    from app.profile import Profile
    from app.ui.artist import ArtistView
    from app.ui.backend import Backend
    from app.ui.campaigns import CampaignsView
    from app.ui.exchange import ExchangeView
    from app.ui.library import LibraryView
    from app.ui.mpris import MediaKeys
    from app.ui.network import NetworkPage, SettingsPage
    from app.ui.player_bar import PlayerBar
    from app.ui.store import StoreView
    from app.ui.studio import StudioPage
    from app.ui.wallet import WalletPage
    from player.engine import Engine

NAV = (
    ("store", "♫   Store"),
    ("library", "▤   Library"),
    ("exchange", "⇅   Exchange"),
    ("community", "⚑   Community"),
    ("campaigns", "✦   Campaigns"),
    ("studio", "✎   Studio"),
    ("wallet", "◈   Wallet"),
    ("network", "⇄   Network"),
    ("settings", "⚙   Settings"),
)
KEYS = tuple(k for k, _ in NAV)
REFRESH_MS = 400


class MainWindow(QMainWindow):
    def __init__(
        self, profile: Profile, backend: Backend, engine: Engine | None = None, title_note: str = ""
    ) -> None:
        super().__init__()
        self.backend = backend
        self.bridge: Bridge | None = None
        self._engine = engine
        self.setWindowTitle("Cooptracks" + (f" — {title_note}" if title_note else ""))
        self.resize(1280, 800)
        self.setMinimumSize(980, 640)
        self.root = QStackedWidget()
        self.setCentralWidget(self.root)
        self.onboarding = OnboardingView(profile.identity_file.exists())
        self.root.addWidget(self.onboarding)
        self.toast = Toast(self)
        quit_key = QShortcut(QKeySequence("Ctrl+Q"), self)
        quit_key.activated.connect(self.close)
        self.quit_shortcut = quit_key
        self._app_widget: QWidget | None = None
        self._views: dict[str, QWidget] = {}
        self._stale: set[str] = set()
        self.onboarding.unlocked.connect(self._enter_app)
        self.onboarding.wants_backend.connect(backend.start)
        backend.ready.connect(self.attach)
        backend.failed.connect(self.onboarding.show_failure)
        # Load the services once the unlock screen is on screen (or soon, if never painted).
        # Queued: the paint finishes and reaches the screen first.
        self.onboarding.painted.connect(lambda: QTimer.singleShot(0, backend.start))
        QTimer.singleShot(1000, backend.start)

    # -- the bridge arrives ------------------------------------------------------------------------
    def attach(self, bridge: Bridge) -> None:
        """Connect to the loaded services (called once, when the backend is ready)."""
        if self.bridge is not None:
            return
        self.bridge = bridge
        bridge.sessionOpened.connect(self._enter_app)
        bridge.notice.connect(self.toast.show_text)
        bridge.forkDetected.connect(lambda m: self.toast.show_text(m, True, 8000))
        bridge.purchaseFulfilled.connect(
            lambda _: self.toast.show_text("A purchase was granted: your music is downloading.")
        )
        # Bursts of changes: mark stale, refresh the visible view on a steady beat.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_visible)
        for sig in (bridge.ledgerChanged, bridge.purchaseFulfilled, bridge.saleFulfilled):
            sig.connect(lambda *_: self._stale_all())
        bridge.downloadProgress.connect(self._on_download)
        self.onboarding.attach(bridge)
        if bridge.session is not None:
            self._enter_app()

    # -- the app proper, built on unlock --------------------------------------------------------
    @property
    def app_widget(self) -> QWidget:
        if self._app_widget is None:
            self._build_app()
        assert self._app_widget is not None
        return self._app_widget

    def _build_app(self) -> None:
        from app.ui.player_bar import PlayerBar

        bridge = self.backend.wait()
        w = QWidget()
        w.setObjectName("content")
        outer = QVBoxLayout(w)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        outer.addLayout(body, 1)
        self.sidebar = QWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        self.sidebar.setFixedWidth(210)
        side = QVBoxLayout(self.sidebar)
        side.setContentsMargins(12, 20, 12, 12)
        side.setSpacing(2)
        brand = label("cooptracks<span style='color:#3ddc97'>.</span>", "brand")
        brand.setTextFormat(QtCore.Qt.TextFormat.RichText)
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
        self.player_bar: PlayerBar = PlayerBar(bridge, self._engine)
        outer.addWidget(self.player_bar)
        self.player_bar.message.connect(self.toast.show_text)
        self.player_bar.artist_requested.connect(self.show_artist)
        self.nav_group.idClicked.connect(self._nav_clicked)
        self._app_widget = w
        self.root.addWidget(w)
        self.media_keys = self._export_media_keys()

    def _export_media_keys(self) -> MediaKeys | None:
        from app.ui.mpris import MediaKeys

        keys = MediaKeys(self.player_bar, self)
        keys.raise_requested.connect(self._raise)
        return keys if keys.register() else None

    def _raise(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def view(self, key: str) -> QWidget:
        """The view named ``key``, built on first use."""
        v = self._views.get(key)
        if v is None:
            self.app_widget  # noqa: B018 - the pages stack and the player bar live in it
            v = self._make_view(key)
            self._views[key] = v
            self.pages.addWidget(v)
            self._stale.add(key)
        return v

    def _make_view(self, key: str) -> QWidget:
        bridge = self.backend.wait()
        if key == "store":
            from app.ui.store import StoreView

            store = StoreView(bridge)
            store.play_preview.connect(self._play_preview)
            store.release.stop_preview.connect(self.player_bar.player.stop)
            store.release.bought.connect(self._stale_all)
            store.release.artist_requested.connect(self.show_artist)
            store.artist_requested.connect(self.show_artist)
            player = self.player_bar.player
            player.current_changed.connect(lambda *_: self._preview_state())
            player.state_changed.connect(lambda *_: self._preview_state())
            return store
        if key == "library":
            from app.ui.library import LibraryView

            library = LibraryView(bridge)
            library.play_rows.connect(self.player_bar.play_rows)
            library.artist_requested.connect(self.show_artist)
            return library
        if key == "exchange":
            from app.ui.exchange import ExchangeView

            return ExchangeView(bridge)
        if key == "community":
            from app.ui.community import CommunityView

            return CommunityView(bridge)
        if key == "campaigns":
            from app.ui.campaigns import CampaignsView

            campaigns = CampaignsView(bridge)
            campaigns.artist_requested.connect(self.show_artist)
            return campaigns
        if key == "artist":
            from app.ui.artist import ArtistView

            artist = ArtistView(bridge)
            artist.back.connect(self._artist_back)
            artist.open_release.connect(self._open_release)
            artist.open_campaigns.connect(lambda: self.show_named("campaigns"))
            return artist
        if key == "studio":
            from app.ui.studio import StudioPage

            return StudioPage(bridge)
        if key == "wallet":
            from app.ui.wallet import WalletPage

            return WalletPage(bridge)
        if key == "network":
            from app.ui.network import NetworkPage

            return NetworkPage(bridge)
        if key == "settings":
            from app.ui.network import SettingsPage

            settings = SettingsPage(bridge)
            settings.profilePublished.connect(self._show_who)
            return settings
        raise KeyError(key)

    @property
    def store(self) -> StoreView:
        return self.view("store")  # type: ignore[return-value]

    @property
    def library(self) -> LibraryView:
        return self.view("library")  # type: ignore[return-value]

    @property
    def exchange(self) -> ExchangeView:
        return self.view("exchange")  # type: ignore[return-value]

    @property
    def campaigns(self) -> CampaignsView:
        return self.view("campaigns")  # type: ignore[return-value]

    @property
    def artist(self) -> ArtistView:
        return self.view("artist")  # type: ignore[return-value]

    @property
    def studio(self) -> StudioPage:
        return self.view("studio")  # type: ignore[return-value]

    @property
    def wallet(self) -> WalletPage:
        return self.view("wallet")  # type: ignore[return-value]

    @property
    def network(self) -> NetworkPage:
        return self.view("network")  # type: ignore[return-value]

    @property
    def settings(self) -> SettingsPage:
        return self.view("settings")  # type: ignore[return-value]

    @property
    def views(self) -> list[QWidget]:
        """The views built so far."""
        return list(self._views.values())

    # -- navigation ------------------------------------------------------------------------------
    def _enter_app(self) -> None:
        if self.bridge is None or self.bridge.session is None:
            return
        self.root.setCurrentWidget(self.app_widget)
        self._show_who()
        if self.pages.currentWidget() is None:
            self.show_view(0)
        self._stale_all()

    def _show_who(self) -> None:
        """The sidebar's name and peer ID (the name follows the published profile)."""
        if self.bridge is None:
            return
        try:
            info = self.bridge.identity.info()
            self.who.setText(f"{info.name or 'You'}\n{info.peer_id[:10]}…{info.peer_id[-4:]}")
        except Exception:
            pass

    def _nav_clicked(self, index: int) -> None:
        """A sidebar click: Store also leaves a release page for the grid."""
        if KEYS[index] == "store" and self.pages.currentWidget() is self.view("store"):
            store = self.view("store")
            store.stack.setCurrentWidget(store.browse)  # type: ignore[attr-defined]
        self.show_view(index)

    def show_view(self, index: int) -> None:
        key = KEYS[index]
        view = self.view(key)
        self.nav_group.button(index).setChecked(True)
        self.pages.setCurrentWidget(view)
        if key in self._stale:
            self._refresh(key)

    def show_named(self, key: str) -> None:
        self.show_view(KEYS.index(key))

    def show_artist(self, artist: bytes | str) -> None:
        """Open the artist page of ``artist`` (a public key, or the name a track shows)."""
        if not artist:
            return
        view = self.view("artist")
        self._artist_from = self.pages.currentWidget()
        view.open(artist)  # type: ignore[attr-defined]
        self._stale.discard("artist")
        self.pages.setCurrentWidget(view)

    def _artist_back(self) -> None:
        back = getattr(self, "_artist_from", None)
        if back is None or back is self._views.get("artist"):
            back = self.view("store")
        self.pages.setCurrentWidget(back)

    def _open_release(self, listing: bytes) -> None:
        self.show_named("store")
        self.store.open_release(listing)

    def _refresh(self, key: str) -> None:
        if self.bridge is None or self.bridge.session is None:
            return
        self._stale.discard(key)
        view = self._views[key]
        view.refresh()  # type: ignore[attr-defined]

    def _stale_all(self) -> None:
        if not shiboken6.isValid(self._refresh_timer if self.bridge is not None else self):
            return  # a change announced after the window closed
        self._stale.update(self._views)
        # Not restarted while pending: a steady stream of changes must not starve the refresh.
        if self.bridge is not None and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _refresh_visible(self) -> None:
        if self._app_widget is None:
            return
        for key, view in self._views.items():
            if view is self.pages.currentWidget() and key in self._stale:
                self._refresh(key)

    def _on_download(self, content: bytes, have: int, total: int) -> None:
        if total and have >= total and "library" in self._views:
            self._stale.add("library")
            if not self._refresh_timer.isActive():
                self._refresh_timer.start()

    def _preview_state(self) -> None:
        """The release page's Preview button of the clip playing now reads Stop."""
        from player.engine import PlaybackState

        player = self.player_bar.player
        current = player.current
        playing = current is not None and player.state == PlaybackState.PLAYING
        # a queue key is any Hashable (a track id, a preview's content): only a preview matches
        key = current.key if current is not None and playing else None
        self.store.release.set_playing(key)  # type: ignore[arg-type]

    def _play_preview(self, preview: bytes, title: str, artist: str) -> None:
        page = self.store.release.page
        art = page.card.artwork if page else None
        self.player_bar.play_preview(preview, title, artist, art)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.toast.isVisible():
            self.toast.move(
                self.width() - self.toast.width() - 24, self.height() - self.toast.height() - 100
            )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._app_widget is not None:
            if self.media_keys is not None:
                self.media_keys.unregister()
            self.player_bar.close_engine()
        super().closeEvent(event)
