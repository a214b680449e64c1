"""Store: a grid of releases with search-as-you-type, and the release page (tracks, previews,
Buy with name-your-price, purchase status until the grant arrives)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.services.session.views import BuyQuote, ReleaseCard, ReleasePage
from app.ui.clickable import clickable
from app.ui.widgets import MessageBar, Page, button, cover_pixmap, fmt_duration, label

if TYPE_CHECKING:
    from app.ui.export import ExportDialog

TILE = 176
CARD_ROLE = Qt.ItemDataRole.UserRole + 1


class TileDelegate(QStyledItemDelegate):
    """Paints a release: cover, title, artist, price (or an 'Owned' badge)."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(TILE + 20, TILE + 78)

    def paint(
        self,
        p: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        card: ReleaseCard = index.data(CARD_ROLE)
        r = option.rect
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if option.state & QStyle.StateFlag.State_MouseOver:
            p.setBrush(QColor("#1c1c25"))
            p.setPen(Qt.PenStyle.NoPen)
            p.drawRoundedRect(r.adjusted(2, 2, -2, -2), 10, 10)
        x, y = r.x() + 10, r.y() + 10
        p.drawPixmap(x, y, cover_pixmap(card.artwork, TILE, card.artist + " " + card.title))
        title_font = QFont("DejaVu Sans", 10, QFont.Weight.Bold)
        small = QFont("DejaVu Sans", 9)
        p.setFont(title_font)
        p.setPen(QColor("#f2f2f7"))
        fm = QFontMetrics(title_font)
        p.drawText(
            QRect(x, y + TILE + 8, TILE, 20),
            Qt.AlignmentFlag.AlignLeft,
            fm.elidedText(card.title, Qt.TextElideMode.ElideRight, TILE),
        )
        p.setFont(small)
        p.setPen(QColor("#a3a3b5"))
        fm2 = QFontMetrics(small)
        p.drawText(
            QRect(x, y + TILE + 28, TILE, 18),
            Qt.AlignmentFlag.AlignLeft,
            fm2.elidedText(card.artist, Qt.TextElideMode.ElideRight, TILE),
        )
        badge = "Owned" if card.owned else ("Yours" if card.mine else card.price)
        p.setPen(QColor("#3ddc97") if (card.owned or card.mine) else QColor("#c9c9d6"))
        p.drawText(QRect(x, y + TILE + 46, TILE, 18), Qt.AlignmentFlag.AlignLeft, badge)
        p.restore()


class TrackList(QTreeWidget):
    """Numbered tracks with duration, a preview button each, and a Buy button for tracks sold
    on their own."""

    preview_requested = Signal(int)
    buy_requested = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setColumnCount(5)
        self.setHeaderLabels(["#", "TITLE", "", "TIME", ""])
        self.setRootIsDecorated(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        h = self.header()
        h.setStretchLastSection(False)
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        h.setSectionResizeMode(3, QHeaderView.ResizeMode.Fixed)
        h.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)
        self.setColumnWidth(0, 40)
        self.setColumnWidth(2, 120)
        self.setColumnWidth(3, 60)
        self.setColumnWidth(4, 150)
        self.buttons: list = []
        self.buy_buttons: dict[int, object] = {}  # track index -> its Buy button

    def show_tracks(self, page: ReleasePage) -> None:
        self.clear()
        self.buttons = []
        self.buy_buttons = {}
        sellable = not page.card.mine
        for t in page.tracks:
            item = QTreeWidgetItem([str(t.index + 1), t.title, "", fmt_duration(t.duration_ms)])
            item.setSizeHint(0, QSize(0, 42))
            item.setForeground(0, QColor("#8a8a9c"))
            item.setForeground(3, QColor("#8a8a9c"))
            self.addTopLevelItem(item)
            b = button("▶  Preview", "preview")
            b.setMinimumHeight(26)
            b.clicked.connect(lambda _=False, i=t.index: self.preview_requested.emit(i))
            self.buttons.append(b)
            if t.owned:
                note = label("✓ Owned")
                note.setStyleSheet("color: #3ddc97;")
                self.setItemWidget(item, 2, note)
            elif t.preview is None:
                note = label("no preview", "dim")
                note.setToolTip("The artist published this track without a preview clip")
                self.setItemWidget(item, 2, note)
            else:
                self.setItemWidget(item, 2, b)
            if t.price and sellable and not t.owned:
                if t.bought:
                    note = label("signed · waiting", "dim")
                    note.setToolTip("Your purchase waits for the artist's node or a seeder")
                    self.setItemWidget(item, 4, note)
                else:
                    buy = button(f"Buy · {t.price.replace('from ', '')}", "ghost")
                    buy.setMinimumHeight(26)
                    buy.setToolTip("Buy this track on its own")
                    buy.clicked.connect(lambda _=False, i=t.index: self.buy_requested.emit(i))
                    self.buy_buttons[t.index] = buy
                    self.setItemWidget(item, 4, buy)
        self.setColumnHidden(4, not any(t.price for t in page.tracks) or not sellable)
        self.setFixedHeight(40 + 43 * max(1, len(page.tracks)))


def confirm_text(quote: BuyQuote) -> str:
    """The question before a purchase is signed: what, for how much, who gets what."""
    by = f" by {quote.artist}" if quote.artist else ""
    price = quote.price.replace(" ", "\u00a0")  # "4.00 CRED" stays on one line
    return (
        f"Buy “{quote.what}”{by} for {price}?\n\n"
        "The payment goes to:\n"
        + "\n".join(f"  •  {line}" for line in quote.split)
        + f"\n\nYour balance afterwards: {quote.balance_after}"
    )


class ReleaseView(QWidget):
    """The release page."""

    back = Signal()
    play_preview = Signal(object, str, str)  # preview content id, title, artist
    stop_preview = Signal()
    bought = Signal()
    artist_requested = Signal(bytes)  # the release's artist (public key)

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.setObjectName("page")
        self.page: ReleasePage | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(32, 20, 32, 16)
        outer.setSpacing(14)
        self.back_btn = button("‹  Store", "link")
        self.back_btn.clicked.connect(self.back.emit)
        outer.addWidget(self.back_btn, 0, Qt.AlignmentFlag.AlignLeft)
        top = QHBoxLayout()
        top.setSpacing(28)
        self.cover = label()
        self.cover.setFixedSize(240, 240)
        top.addWidget(self.cover, 0, Qt.AlignmentFlag.AlignTop)
        info = QVBoxLayout()
        info.setSpacing(6)
        self.kind = label("ALBUM", "eyebrow")
        self.title = label("", "h1", wrap=True)
        self.artist = label("", "h2")
        self._artist_click = clickable(self.artist, "Open the artist page")
        self._artist_click.clicked.connect(self._artist_clicked)
        self.meta = label("", "dim")
        self.description = label("", "dim", wrap=True)
        for w in (self.kind, self.title, self.artist, self.meta, self.description):
            info.addWidget(w)
        info.addSpacing(8)
        buy_row = QHBoxLayout()
        buy_row.setSpacing(10)
        self.price = label("", "h2")
        self.amount = QLineEdit()
        self.amount.setFixedWidth(110)
        self.amount.setPlaceholderText("amount")
        self.amount.setToolTip("Name your price: pay the minimum or more")
        self.symbol = label("", "dim")
        self.buy_btn = button("Buy", "primary")
        buy_row.addWidget(self.price)
        buy_row.addWidget(self.amount)
        buy_row.addWidget(self.symbol)
        buy_row.addWidget(self.buy_btn)
        self.save_btn = button(
            "Save to folder…", "ghost", "Save the release as plain audio files (FLAC, MP3, …)"
        )
        self.save_btn.hide()
        self.save_btn.clicked.connect(self.save_to_folder)
        self.export_dialog: ExportDialog | None = None
        buy_row.addWidget(self.save_btn)
        buy_row.addStretch(1)
        info.addLayout(buy_row)
        self.balance = label("", "dim")
        info.addWidget(self.balance)
        self.status = MessageBar()
        info.addWidget(self.status)
        info.addStretch(1)  # below the messages: one appearing never moves the Buy button
        top.addLayout(info, 1)
        outer.addLayout(top)
        self.tracks = TrackList()
        self.tracks.preview_requested.connect(self._preview)
        self.tracks.buy_requested.connect(self.buy_track)
        outer.addWidget(self.tracks)
        outer.addStretch(1)
        self.buy_btn.clicked.connect(self.buy)
        self.amount.returnPressed.connect(self.buy)
        self.amount.textChanged.connect(self._amount_changed)
        self.confirm: QMessageBox | None = None  # the open "buy for …?" question
        self._error_balance: str | None = None  # the balance when a buy was refused
        self.playing_preview: bytes | None = None

    def _artist_clicked(self) -> None:
        if self.page is not None and self.page.card.artist_key:
            self.artist_requested.emit(self.page.card.artist_key)

    def open(self, listing_id: bytes) -> None:
        self.status.clear_message()
        self._error_balance = None
        self.amount.clear()
        self._listing = listing_id
        self.reload()

    def reload(self) -> None:
        job = self.bridge.call("release", self._listing)
        job.finished.connect(self.show_page)
        job.failed.connect(self.status.show_error)

    def show_page(self, page: ReleasePage) -> None:
        self.page = page
        c = page.card
        self.cover.setPixmap(cover_pixmap(c.artwork, 240, c.artist + " " + c.title, 12))
        self.kind.setText(
            ("SINGLE" if c.track_count == 1 else "ALBUM")
            + (" · " + c.genre.upper() if c.genre else "")
        )
        self.title.setText(c.title)
        self.artist.setText(c.artist)
        total = sum(t.duration_ms for t in page.tracks)
        self.meta.setText(
            f"{c.track_count} track{'s' if c.track_count != 1 else ''} · "
            f"{fmt_duration(total)}" + (" · " + ", ".join(c.tags) if c.tags else "")
        )
        self.description.setText(page.description)
        self.description.setVisible(bool(page.description))
        self.tracks.show_tracks(page)
        can_buy = not page.purchase_state and not c.mine
        self.price.setText("Name your price" if page.nyp and can_buy else "")
        self.price.setVisible(page.nyp and can_buy)
        self.amount.setVisible(page.nyp and can_buy)
        self.symbol.setVisible(page.nyp and can_buy)
        self.symbol.setText(f"{page.symbol} (min {page.min_price})")
        if page.nyp and not self.amount.text():
            self.amount.setText(page.min_price)
        self.buy_btn.setVisible(can_buy)
        self._label_buy()
        self.balance.setText(f"Your balance: {page.balance}" if can_buy else "")
        self.balance.setVisible(can_buy)
        if self._error_balance is not None and page.balance != self._error_balance:
            self._error_balance = None  # credit arrived (or left): the refusal is stale
            self.status.clear_message()
        self.set_playing(self.playing_preview)
        if not page.asset_trusted and can_buy:
            self.status.show_warning(
                "The credits this release is priced in come from an issuer "
                "you have not marked as trusted (see Wallet)."
            )
        self._show_state(page.purchase_state, c.mine)
        self.save_btn.setVisible(page.purchase_state == "owned" or c.mine)

    def _show_state(self, state: str, mine: bool) -> None:
        if mine:
            self.status.show_success("This is your release. Its sales are in the Studio.")
        elif state == "waiting":
            self.status.show_warning(
                "Purchase signed. Waiting for the artist's node or a seeder to grant it…"
            )
        elif state == "granted":
            self.status.show_success("Granted. Unlocking your tracks…")
        elif state == "owned":
            self.status.show_success(
                "In your library. Downloads start by themselves; play them from Library."
            )

    def _label_buy(self) -> None:
        page = self.page
        if page is None:
            return
        if page.nyp:
            typed = self.amount.text().strip()
            self.buy_btn.setText(f"Buy · {typed} {page.symbol}" if typed else "Buy")
        else:
            self.buy_btn.setText(f"Buy · {page.card.price}")

    def _amount_changed(self) -> None:
        self._label_buy()
        if self._error_balance is not None:  # the amount the refusal was about is gone
            self._error_balance = None
            self.status.clear_message()

    def buy(self) -> None:
        """Buy the release: check it and ask, with the price and the split; sign on Buy."""
        if self.page is None:
            return
        amount = self.amount.text().strip() if self.page.nyp else None
        self._ask_and_buy(self.buy_btn, amount, None)

    def buy_track(self, index: int) -> None:
        """Buy one track at its own price (the minimum, for name-your-price tracks)."""
        if self.page is None:
            return
        self._ask_and_buy(self.tracks.buy_buttons.get(index), None, index)  # type: ignore[arg-type]

    def _ask_and_buy(
        self, origin: QPushButton | None, amount: str | None, track: int | None
    ) -> None:
        page = self.page
        assert page is not None

        def enable(on: bool) -> None:  # a track's button goes when the page is rebuilt
            if origin is not None and shiboken6.isValid(origin):
                origin.setEnabled(on)

        def refused(message: str) -> None:
            if shiboken6.isValid(self):  # answers may come after the window closed
                enable(True)
                self._error_balance = page.balance
                self.status.show_error(message)

        def ask(quote: BuyQuote) -> None:
            if not shiboken6.isValid(self):
                return
            enable(True)
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Confirm your purchase",
                confirm_text(quote),
                QMessageBox.StandardButton.Cancel,
                self,
            )
            go = box.addButton(f"Buy for {quote.price}", QMessageBox.ButtonRole.AcceptRole)
            box.setDefaultButton(go)
            box.buttonClicked.connect(lambda b: sign() if b is go else None)
            box.finished.connect(lambda _: setattr(self, "confirm", None))
            self.confirm = box
            box.open()

        def sign() -> None:
            enable(False)
            job = self.bridge.call("buy", page.card.id, amount, track)
            job.finished.connect(signed)
            job.failed.connect(refused)

        def signed(_purchase: object) -> None:
            if shiboken6.isValid(self):
                enable(True)
                self.bought.emit()
                self.reload()
                self.bridge.sync_now()

        enable(False)
        self.status.clear_message()
        self._error_balance = None
        job = self.bridge.call("quote", page.card.id, amount, track)
        job.finished.connect(ask)
        job.failed.connect(refused)

    def set_playing(self, preview: bytes | None) -> None:
        """The preview playing now (None: none): its button turns into Stop."""
        self.playing_preview = preview
        if self.page is None:
            return
        for t, b in zip(self.page.tracks, self.tracks.buttons, strict=False):
            playing = preview is not None and t.preview == preview
            b.setText("■  Stop" if playing else "▶  Preview")
            b.setToolTip("Stop the preview" if playing else "Play a preview of this track")

    def save_to_folder(self) -> None:
        from app.ui.export import open_export

        if self.page is not None:
            self.export_dialog = open_export(self.bridge, self, release=self.page.card.id)

    def _preview(self, index: int) -> None:
        if self.page is None:
            return
        t = self.page.tracks[index]
        if t.preview is not None and t.preview == self.playing_preview:
            self.stop_preview.emit()
        elif t.preview is not None:
            self.play_preview.emit(t.preview, f"{t.title} (preview)", self.page.card.artist)


class StoreView(QWidget):
    """The grid and the release page, in one stack."""

    play_preview = Signal(object, str, str)
    artist_requested = Signal(bytes)  # a card's artist (public key), from its menu

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.stack = QStackedWidget(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)
        self.browse = Page("Store", "New releases from artists on the swarm")
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search artists, releases, tracks, genres")
        self.search.setClearButtonEnabled(True)
        self.search.setFixedWidth(360)
        self.browse.header.addWidget(self.search)
        self.grid = QListWidget()
        self.grid.setObjectName("grid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setSpacing(6)
        self.grid.setMouseTracking(True)
        self.grid.setItemDelegate(TileDelegate(self.grid))
        self.grid.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.grid.itemClicked.connect(lambda it: self.open_release(it.data(CARD_ROLE).id))
        self.grid.itemActivated.connect(lambda it: self.open_release(it.data(CARD_ROLE).id))
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._grid_menu)
        self.empty = label("", "dim", wrap=True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()
        self.browse.outer.addWidget(self.empty)
        self.browse.outer.addWidget(self.grid, 1)
        self.release = ReleaseView(bridge)
        self.release.back.connect(self.show_grid)
        self.release.play_preview.connect(self.play_preview.emit)
        self.stack.addWidget(self.browse)
        self.stack.addWidget(self.release)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._run_search)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.cards: list[ReleaseCard] = []
        self._catalog_shown = False
        self.stale = True

    @property
    def message(self) -> MessageBar:
        return self.browse.message

    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.call("catalog")
        job.finished.connect(self._show_catalog)
        job.failed.connect(self.message.show_error)
        if self.stack.currentWidget() is self.release and self.release.page is not None:
            self.release.reload()

    def _show_catalog(self, cards: list[ReleaseCard]) -> None:
        if cards == self.cards and self._catalog_shown:
            return  # a sync brought nothing for the store: keep the grid (and its scroll)
        self._catalog_shown = True
        self.cards = cards
        self.grid.clear()
        for c in cards:
            it = QListWidgetItem()
            it.setData(CARD_ROLE, c)
            it.setData(Qt.ItemDataRole.DisplayRole, "")
            it.setToolTip(f"{c.title} — {c.artist}")
            it.setSizeHint(QSize(TILE + 20, TILE + 78))
            self.grid.addItem(it)
        if self.search.text().strip():
            self._run_search()
        self._update_empty(len(cards))

    def _update_empty(self, visible: int) -> None:
        if visible:
            self.empty.hide()
        else:
            self.empty.setText(
                "Nothing matches your search."
                if self.search.text().strip()
                else "The catalog is empty for now. Releases appear here as "
                "your node syncs with peers."
            )
            self.empty.show()

    def _run_search(self) -> None:
        job = self.bridge.call("search", self.search.text())
        job.finished.connect(self._apply_search)

    def _apply_search(self, ids: list[bytes]) -> None:
        wanted = set(ids)
        shown = 0
        for i in range(self.grid.count()):
            it = self.grid.item(i)
            hide = it.data(CARD_ROLE).id not in wanted
            it.setHidden(hide)
            shown += not hide
        self._update_empty(shown)

    def visible_titles(self) -> list[str]:
        return [
            self.grid.item(i).data(CARD_ROLE).title
            for i in range(self.grid.count())
            if not self.grid.item(i).isHidden()
        ]

    def card_menu(self, card: ReleaseCard) -> QMenu:
        """A card's right-click menu: open the release, or its artist's page."""
        menu = QMenu(self)
        menu.addAction("Open release").triggered.connect(lambda: self.open_release(card.id))
        go = menu.addAction(f"Go to {card.artist}")
        go.triggered.connect(lambda: self.artist_requested.emit(card.artist_key))
        go.setEnabled(bool(card.artist_key))
        return menu

    def _grid_menu(self, at: QPoint) -> None:
        item = self.grid.itemAt(at)
        if item is not None:
            self.card_menu(item.data(CARD_ROLE)).popup(self.grid.viewport().mapToGlobal(at))

    def show_grid(self) -> None:
        self.stack.setCurrentWidget(self.browse)

    def open_release(self, listing_id: bytes) -> None:
        self.release.open(listing_id)
        self.stack.setCurrentWidget(self.release)
