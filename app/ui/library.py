"""Library: owned music, downloads with progress bars, playlists, albums and the offline marker.

The table shows the rows of the collection chosen in the side list (everything, downloads,
offline tracks, a playlist or an album), filtered by the search box and sorted by a clicked
column header (a third click returns to the collection's own order). Rows are known by their
track, never by their row number: the selection follows its tracks when rows are inserted,
sorted or refreshed, and a double-click plays the row's own track.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import shiboken6
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.services.session.views import LibraryRow
from app.ui.widgets import Page, button, cover_pixmap, fmt_duration, label

if TYPE_CHECKING:
    from app.ui.export import ExportDialog

ROW_ROLE = Qt.ItemDataRole.UserRole + 2
SIDE_ROLE = Qt.ItemDataRole.UserRole + 3  # what a side-list entry shows: (kind, key)
ALL, DOWNLOADS, OFFLINE = "All music", "Downloading", "Available offline"
STATE_ORDER = {"ready": 0, "downloading": 1, "queued": 2, "waiting": 3}
SORT_KEYS = (
    lambda r: r.title.lower(),
    lambda r: (r.artist.lower(), r.album.lower()),
    lambda r: (r.album.lower(), r.artist.lower()),
    lambda r: (STATE_ORDER.get(r.state, 9), -(r.have / r.total if r.total else 0)),
    lambda r: r.duration_ms,
)


def playable(row: LibraryRow) -> bool:
    """Granted and begun: its key is here and its manifest too, so it streams as it arrives."""
    return row.track_id is not None and row.total > 0


class StatusCell(QWidget):
    """'Ready' / 'Offline' text, or a progress bar while downloading."""

    def __init__(self) -> None:
        super().__init__()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 8, 0)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(110)
        self.text = label("", "dim")
        lay.addWidget(self.bar)
        lay.addWidget(self.text)
        lay.addStretch(1)

    def show_row(self, row: LibraryRow) -> None:
        if row.state == "waiting":
            self.bar.hide()
            self.text.setText("Waiting for the grant…")
        elif row.ready:
            self.bar.hide()
            self.text.setText("⬇ Offline" if row.offline else "✓ Downloaded")
            self.text.setStyleSheet("color: #3ddc97;" if row.offline else "")
        else:
            self.set_progress(row.have, row.total)

    def set_progress(self, have: int, total: int) -> None:
        if total and have >= total:
            self.bar.hide()
            self.text.setText("✓ Downloaded")
            return
        self.bar.show()
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(have)
        self.text.setText(f"{int(100 * have / total)}%" if total else "queued")


def _side_item(text: str, kind: str, key: object = None) -> QListWidgetItem:
    item = QListWidgetItem(text)
    item.setData(SIDE_ROLE, (kind, key))
    if kind == "section":  # a heading, like COLLECTION above the list
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setForeground(QColor("#6b6b7d"))
        font = QFont("DejaVu Sans", 8)
        font.setBold(True)
        item.setFont(font)
    return item


class LibraryView(Page):
    play_rows = Signal(list, int)  # rows, start index
    artist_requested = Signal(str)  # a track's artist, by name

    def __init__(self, bridge: Bridge) -> None:
        super().__init__("Library", "Music you own, on this computer")
        self.bridge = bridge
        self.rows: list[LibraryRow] = []
        self.shown: list[LibraryRow] = []
        self.positions: list[int | None] = []  # a shown row's position in its playlist
        self._rows_shown = False
        self._pending_play: bytes | None = None  # asked to play before its download began
        self._waiting_note: bytes | None = None  # the track the "waiting" message is about
        self.playlists: list[tuple[str, tuple[int, ...]]] = []
        self.sort_column: int | None = None
        self.sort_order = Qt.SortOrder.AscendingOrder
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search your library")
        self.search.setClearButtonEnabled(True)
        self.search.setFixedWidth(240)
        self.play_all = button("▶  Play", "primary")
        self.new_list = button(
            "New playlist",
            "ghost",
            "Make an empty playlist; add tracks to it from their right-click menu",
        )
        self.offline_btn = button(
            "Keep offline", "ghost", "Pin the selected tracks on this computer"
        )
        for b in (self.search, self.offline_btn, self.new_list, self.play_all):
            self.header.addWidget(b)
        body = QHBoxLayout()
        body.setSpacing(20)
        side = QVBoxLayout()
        side.addWidget(label("COLLECTION", "statLabel"))
        self.lists = QListWidget()
        self.lists.setObjectName("playlists")
        self.lists.setFixedWidth(210)
        self.lists.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        side.addWidget(self.lists, 1)
        body.addLayout(side)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["TITLE", "ARTIST", "ALBUM", "STATUS", "TIME"])
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.setIconSize(cover_pixmap(None, 36).size())
        self.table.verticalHeader().setDefaultSectionSize(48)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(3, QHeaderView.ResizeMode.Fixed)
        h.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)
        h.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        h.setSectionsClickable(True)
        h.setSortIndicatorShown(False)
        h.setToolTip(
            "Click a column to sort by it; click it again to reverse, a third time "
            "for the list's own order"
        )
        self.table.setColumnWidth(1, 150)
        self.table.setColumnWidth(2, 150)
        self.table.setColumnWidth(3, 190)
        self.table.setColumnWidth(4, 60)
        body.addWidget(self.table, 1)
        self.empty = label(
            "Nothing here yet. Buy music in the Store and it appears here, downloading by itself.",
            "dim",
            wrap=True,
        )
        self.outer.addWidget(self.empty)
        self.outer.addLayout(body, 1)
        self.cells: dict[bytes, StatusCell] = {}
        self.name_dialog: QInputDialog | None = None  # the open "name the playlist" question
        self.confirm: QMessageBox | None = None  # the open "delete the playlist?" question
        self.table.cellDoubleClicked.connect(lambda r, _c: self._play_from(r))
        self.play_all.clicked.connect(self._play_clicked)
        self.lists.currentRowChanged.connect(lambda _: self._fill())
        self.lists.customContextMenuRequested.connect(
            lambda pos: self._exec(
                self.playlist_menu(self.lists.itemAt(pos)), self.lists.viewport().mapToGlobal(pos)
            )
        )
        self.table.customContextMenuRequested.connect(self._table_menu_at)
        h.sectionClicked.connect(self.sort_by)
        self.search.textChanged.connect(lambda _: self._fill())
        self.new_list.clicked.connect(lambda: self.ask_playlist_name([]))
        self.offline_btn.clicked.connect(self._toggle_offline)
        bridge.downloadProgress.connect(self._on_progress)
        self.export_dialog: ExportDialog | None = None  # the "Save to folder" dialog, once opened

    # -- loading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.call("library_rows")
        job.finished.connect(self._show_rows)
        job.failed.connect(self.message.show_error)
        self._load_playlists()

    def _load_playlists(self, select: str | None = None) -> None:
        pl = self.bridge.call("playlists")
        pl.finished.connect(
            lambda lists: self._show_playlists(lists, select) if shiboken6.isValid(self) else None
        )
        pl.failed.connect(self.message.show_error)

    def _side_entries(self) -> list[QListWidgetItem]:
        items = [
            _side_item(ALL, "all"),
            _side_item(DOWNLOADS, "downloads"),
            _side_item(OFFLINE, "offline"),
        ]
        items += [
            _side_item(f"♫  {name}  ({len(ids)})", "playlist", name) for name, ids in self.playlists
        ]
        albums = sorted(
            {(r.artist, r.album) for r in self.rows if r.album},
            key=lambda a: (a[0].lower(), a[1].lower()),
        )
        if albums:
            items.append(_side_item("ALBUMS", "section"))
        for artist, album in albums:
            item = _side_item(f"◉  {album}", "album", (artist, album))
            item.setToolTip(f"{album} — {artist}")
            items.append(item)
        return items

    def _rebuild_side(self, select: tuple[str, object] | None = None) -> None:
        current = select or self.current_collection()
        self.lists.blockSignals(True)
        self.lists.clear()
        row = 0
        for n, item in enumerate(self._side_entries()):
            self.lists.addItem(item)
            if item.data(SIDE_ROLE) == current:
                row = n
        self.lists.setCurrentRow(row)
        self.lists.blockSignals(False)

    def _show_playlists(
        self, lists: list[tuple[str, tuple[int, ...]]], select: str | None = None
    ) -> None:
        self.playlists = lists
        self._rebuild_side(("playlist", select) if select else None)
        self._fill()

    def _show_rows(self, rows: list[LibraryRow]) -> None:
        if rows == self.rows and self._rows_shown:
            self._play_pending()
            return  # nothing changed: keep the table, its selection and scroll
        albums_before = {(r.artist, r.album) for r in self.rows}
        self.rows = rows
        if self._waiting_note is not None and not any(
            r.content == self._waiting_note and r.state == "waiting" for r in rows
        ):
            self._waiting_note = None  # its grant came: the message has done its work
            self.message.clear_message()
        self._rows_shown = True
        if {(r.artist, r.album) for r in rows} != albums_before:
            self._rebuild_side()
        self._fill()
        self._play_pending()

    # -- what is shown -------------------------------------------------------------------------
    def current_collection(self) -> tuple[str, object]:
        item = self.lists.currentItem()
        data = item.data(SIDE_ROLE) if item is not None else None
        return data if data else ("all", None)

    def current_playlist(self) -> str | None:
        kind, key = self.current_collection()
        return key if kind == "playlist" else None  # type: ignore[return-value]

    def _collection(self) -> tuple[list[LibraryRow], list[int | None]]:
        kind, key = self.current_collection()
        if kind == "playlist":
            ids = dict(self.playlists).get(key, ())  # type: ignore[call-overload]
            by_id = {r.track_id: r for r in self.rows if r.track_id is not None}
            pairs = [(by_id[i], pos) for pos, i in enumerate(ids) if i in by_id]
            return [r for r, _ in pairs], [p for _, p in pairs]
        if kind == "downloads":
            rows = [r for r in self.rows if not r.ready]
        elif kind == "offline":
            rows = [r for r in self.rows if r.offline]
        elif kind == "album":
            rows = [r for r in self.rows if (r.artist, r.album) == key]
        else:
            rows = list(self.rows)
        return rows, [None] * len(rows)

    def visible_rows(self) -> list[LibraryRow]:
        return self._visible()[0]

    def _visible(self) -> tuple[list[LibraryRow], list[int | None]]:
        rows, positions = self._collection()
        words = self.search.text().lower().split()
        pairs = [
            (r, p)
            for r, p in zip(rows, positions, strict=True)
            if all(w in f"{r.title} {r.artist} {r.album}".lower() for w in words)
        ]
        if self.sort_column is not None:
            pairs.sort(
                key=lambda rp: SORT_KEYS[self.sort_column](rp[0]),  # type: ignore[index]
                reverse=self.sort_order == Qt.SortOrder.DescendingOrder,
            )
        return [r for r, _ in pairs], [p for _, p in pairs]

    def sort_by(self, column: int) -> None:
        """A header click: ascending, then descending, then the collection's own order."""
        h = self.table.horizontalHeader()
        if self.sort_column != column:
            self.sort_column, self.sort_order = column, Qt.SortOrder.AscendingOrder
        elif self.sort_order == Qt.SortOrder.AscendingOrder:
            self.sort_order = Qt.SortOrder.DescendingOrder
        else:
            self.sort_column = None
        h.setSortIndicatorShown(self.sort_column is not None)
        if self.sort_column is not None:
            h.setSortIndicator(self.sort_column, self.sort_order)
        self._fill()

    def _row_key(self, n: int) -> object:
        """What a shown row stands for: its track, and in a playlist its place there."""
        return (self.shown[n].content, self.positions[n])

    def _fill(self) -> None:
        picked = {self._row_key(n) for n in self._selected_indexes()}
        current_n = self.table.currentRow()
        current = self._row_key(current_n) if 0 <= current_n < len(self.shown) else None
        rows, positions = self._visible()
        self.shown, self.positions = rows, positions
        self.table.clearSelection()
        self.table.setRowCount(len(rows))
        self.cells = {}
        for n, r in enumerate(rows):
            title = QTableWidgetItem(
                QIcon(cover_pixmap(r.artwork, 36, r.artist + " " + r.album, 5)), "  " + r.title
            )
            title.setData(ROW_ROLE, r)
            self.table.setItem(n, 0, title)
            self.table.setItem(n, 1, QTableWidgetItem(r.artist))
            self.table.setItem(n, 2, QTableWidgetItem(r.album))
            cell = StatusCell()
            cell.show_row(r)
            self.table.setCellWidget(n, 3, cell)
            self.cells[r.content] = cell
            t = QTableWidgetItem(fmt_duration(r.duration_ms))
            t.setForeground(QColor("#8a8a9c"))
            self.table.setItem(n, 4, t)
            for c in (1, 2):
                item = self.table.item(n, c)
                assert item is not None  # set just above
                item.setForeground(QColor("#b8b8c8"))
        # the selection follows its tracks, wherever they moved
        model, sel = self.table.model(), self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        for n in range(len(rows)):
            key = self._row_key(n)
            if key in picked:
                sel.select(model.index(n, 0), flags.Select | flags.Rows)
            if key == current:
                sel.setCurrentIndex(model.index(n, 0), flags.NoUpdate)
        self.empty.setVisible(not self.rows)
        self.play_all.setEnabled(any(playable(r) for r in rows))

    def _on_progress(self, content: bytes, have: int, total: int) -> None:
        cell = self.cells.get(content)
        if cell is not None:
            cell.set_progress(have, total)
        if total and (have >= total or content == self._pending_play):
            self.play_all.setEnabled(True)
        if content == self._pending_play and total:
            job = self.bridge.call("library_rows")  # the manifest is here: it can stream
            job.finished.connect(self._show_rows)

    # -- playing -------------------------------------------------------------------------------
    def _play_clicked(self) -> None:
        n = self.table.currentRow()
        if 0 <= n < len(self.shown) and n in self._selected_indexes():
            self._play_from(n)
            return
        first = next((i for i, r in enumerate(self.shown) if playable(r)), None)
        self._play_from(0 if first is None else first)

    def _play_from(self, n: int) -> None:
        """Play the track shown at row ``n``, then the playable rows after it."""
        if not 0 <= n < len(self.shown):
            return
        target = self.shown[n]
        if target.state == "waiting" or target.track_id is None:
            self._waiting_note = target.content
            self.message.show_warning(
                f"“{target.title}” is waiting for the grant: it plays once the artist's node "
                "or a seeder confirms your purchase."
            )
            return
        if not playable(target):
            self._pending_play = target.content
            self.bridge.download(target.content)
            self.message.show_warning(
                f"“{target.title}” is still downloading: it starts "
                "playing as soon as its first part arrives."
            )
            return
        self._pending_play = self._waiting_note = None
        self.message.clear_message()
        queue = [i for i, r in enumerate(self.shown) if playable(r)]
        self.play_rows.emit([self.shown[i] for i in queue], queue.index(n))

    def _play_pending(self) -> None:
        if self._pending_play is None:
            return
        for n, r in enumerate(self.shown):
            if r.content == self._pending_play and playable(r):
                self._play_from(n)
                return

    # -- selection -----------------------------------------------------------------------------
    def _selected_indexes(self) -> list[int]:
        picked = {i.row() for i in self.table.selectionModel().selectedRows()}
        return sorted(i for i in picked if i < len(self.shown))

    def _selected_rows(self) -> list[LibraryRow]:
        return [self.shown[i] for i in self._selected_indexes()]

    def _owned_ids(self, rows: list[LibraryRow]) -> list[int]:
        return [r.track_id for r in rows if r.track_id is not None]

    # -- menus ---------------------------------------------------------------------------------
    def _exec(self, menu: QMenu | None, at: QPoint) -> None:
        if menu is not None:
            menu.exec(at)

    def _table_menu_at(self, pos: QPoint) -> None:
        n = self.table.rowAt(pos.y())
        if n < 0:
            return
        if n not in self._selected_indexes():
            self.table.selectRow(n)
        self._exec(self.track_menu(n), self.table.viewport().mapToGlobal(pos))

    def track_menu(self, n: int | None = None) -> QMenu:
        """The right-click menu of the track at row ``n`` (by default the current one) and
        the other selected rows."""
        if n is None:
            n = max(0, self.table.currentRow())
        rows = self._selected_rows() or [self.shown[n]]
        menu = QMenu(self)
        menu.addAction("▶  Play").triggered.connect(lambda: self._play_from(n))
        artist = self.shown[n].artist
        go = menu.addAction(f"Go to {artist}" if artist else "Go to the artist")
        go.triggered.connect(lambda: self.artist_requested.emit(artist))
        go.setEnabled(bool(artist))
        add = menu.addMenu("Add to playlist")
        ids = self._owned_ids(rows)
        for name, _ in self.playlists:
            add.addAction(name).triggered.connect(
                lambda _=False, name=name: self.add_to_playlist(name, ids)
            )
        if self.playlists:
            add.addSeparator()
        add.addAction("New playlist…").triggered.connect(lambda: self.ask_playlist_name(ids))
        add.setEnabled(bool(ids))
        if not ids:
            add.setToolTip("Tracks waiting for their grant join playlists once they are yours")
        playlist = self.current_playlist()
        if playlist is not None:
            # in a playlist every shown row has its position there
            positions = cast(
                "list[int]",
                [self.positions[i] for i in self._selected_indexes()] or [self.positions[n]],
            )
            menu.addAction(f"Remove from “{playlist}”").triggered.connect(
                lambda: self.remove_from_playlist(playlist, positions)
            )
            pos = cast("int", self.positions[n])
            length = len(dict(self.playlists).get(playlist, ()))
            ordered = self.sort_column is None and not self.search.text().strip()
            up = menu.addAction("Move up")
            up.triggered.connect(lambda: self.move_in_playlist(playlist, pos, pos - 1))
            down = menu.addAction("Move down")
            down.triggered.connect(lambda: self.move_in_playlist(playlist, pos, pos + 1))
            up.setEnabled(ordered and pos is not None and pos > 0)
            down.setEnabled(ordered and pos is not None and pos < length - 1)
        menu.addSeparator()
        offline = bool(ids) and all(r.offline for r in rows if r.track_id is not None)
        keep = menu.addAction("Stop keeping offline" if offline else "Keep offline")
        keep.triggered.connect(self._toggle_offline)
        keep.setEnabled(bool(ids))
        menu.addSeparator()
        for action in self.export_menu(rows).actions():
            action.setParent(menu)
            menu.addAction(action)
        return menu

    def playlist_menu(self, item: QListWidgetItem | str | None) -> QMenu | None:
        """The right-click menu of a playlist (its side-list entry or its name); None for the
        other entries of the side list."""
        if isinstance(item, str):
            name = item
        else:
            data = item.data(SIDE_ROLE) if item is not None else None
            if not data or data[0] != "playlist":
                return None
            name = data[1]
        menu = QMenu(self)
        menu.addAction("Rename…").triggered.connect(lambda: self.ask_rename(name))
        menu.addAction("Delete playlist…").triggered.connect(lambda: self.ask_delete(name))
        return menu

    # -- questions (window-modal, never blocking the event loop) ------------------------------
    def _ask_text(self, title: str, prompt: str, value: str, done: Callable[[str], object]) -> None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle(title)
        dialog.setLabelText(prompt)
        dialog.setTextValue(value)
        dialog.setOkButtonText("Save")
        dialog.textValueSelected.connect(done)
        dialog.finished.connect(lambda _: setattr(self, "name_dialog", None))
        self.name_dialog = dialog
        dialog.open()

    def ask_playlist_name(self, track_ids: list[int]) -> None:
        """Ask for a name, then make a playlist of ``track_ids`` (empty from the header)."""
        count = len(track_ids)
        prompt = (
            "Name of the new playlist:"
            if not count
            else f"Name of the new playlist ({count} track{'s' if count != 1 else ''}):"
        )
        self._ask_text(
            "New playlist", prompt, "", lambda name: self.create_playlist(name, track_ids)
        )

    def ask_rename(self, name: str) -> None:
        self._ask_text(
            "Rename playlist",
            f"New name for “{name}”:",
            name,
            lambda new: self.rename_playlist(name, new),
        )

    def ask_delete(self, name: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete playlist",
            f"Delete the playlist “{name}”? Its tracks stay in your library.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.buttonClicked.connect(lambda b: self.delete_playlist(name) if b is delete else None)
        box.finished.connect(lambda _: setattr(self, "confirm", None))
        self.confirm = box
        box.open()

    # -- playlist edits ------------------------------------------------------------------------
    def _edit(self, method: str, *args: object, select: str | None = None) -> None:
        job = self.bridge.call(method, *args)
        job.finished.connect(
            lambda _: self._load_playlists(select) if shiboken6.isValid(self) else None
        )
        job.failed.connect(self.message.show_error)

    def create_playlist(self, name: str, track_ids: list[int]) -> None:
        self._edit("create_playlist", name, track_ids, select=self.current_playlist())

    def add_to_playlist(self, name: str, track_ids: list[int]) -> None:
        self._edit("add_to_playlist", name, track_ids, select=self.current_playlist())

    def remove_from_playlist(self, name: str, positions: list[int]) -> None:
        self._edit("remove_from_playlist", name, positions, select=name)

    def move_in_playlist(self, name: str, from_pos: int, to_pos: int) -> None:
        self._edit("move_in_playlist", name, from_pos, to_pos, select=name)

    def rename_playlist(self, name: str, new_name: str) -> None:
        self._edit("rename_playlist", name, new_name, select=new_name.strip())

    def delete_playlist(self, name: str) -> None:
        self._edit("delete_playlist", name)

    def _toggle_offline(self) -> None:
        rows = [r for r in self._selected_rows() if r.track_id is not None]
        if not rows:
            self.message.show_warning("Select the tracks to keep offline first.")
            return
        target = not all(r.offline for r in rows)
        for r in rows:  # each one reloads the rows when done: jobs may end in any order
            job = self.bridge.call("set_offline", r.track_id, target)
            job.finished.connect(
                lambda _: (
                    shiboken6.isValid(self)
                    and self.bridge.call("library_rows").finished.connect(self._show_rows)
                )
            )
            job.failed.connect(self.message.show_error)

    # -- saving owned music to a folder (app/ui/export.py) -------------------------------------
    def export_menu(self, rows: list[LibraryRow] | None = None) -> QMenu:
        """The context menu's export actions for ``rows`` (by default the selected tracks)."""
        rows = self._selected_rows() if rows is None else rows
        menu = QMenu(self)
        one = menu.addAction("Save to folder…", lambda: self.save_to_folder(rows))
        album = menu.addAction(
            "Save album to folder…", lambda: self.save_to_folder(rows[:1], album=True)
        )
        menu.addAction(
            "Save whole collection to folder…", lambda: self.save_to_folder([], everything=True)
        )
        one.setEnabled(bool(rows))
        album.setEnabled(len({(r.artist, r.album) for r in rows}) == 1)
        return menu

    def save_to_folder(
        self, rows: list[LibraryRow], album: bool = False, everything: bool = False
    ) -> None:
        from app.ui.export import open_export

        if everything:
            what: dict[str, object] = {"everything": True}
        elif album:
            what = {"album_of": rows[0].content}
        else:
            what = {"contents": [r.content for r in rows]}
        self.export_dialog = open_export(self.bridge, self, **what)
