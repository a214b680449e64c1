"""Library: owned music, downloads with progress bars, playlists and the offline marker.

Tracks are found with the search field; a right click on tracks adds them to a playlist, removes
or moves them in the playlist shown, or keeps them offline; a right click on a playlist renames
or deletes it. Every action names tracks by their library ID, never by a row number, so rows
that move (a purchase inserted above) never change what an action applies to."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QIcon
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
from app.services.ui_support import LibraryRow
from app.ui.widgets import Page, button, cover_pixmap, fmt_duration, label

ROW_ROLE = Qt.ItemDataRole.UserRole + 2
ALL, DOWNLOADS, OFFLINE = "All music", "Downloading", "Available offline"


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


class LibraryView(Page):
    play_rows = Signal(list, int)  # rows, start index

    def __init__(self, bridge: Bridge) -> None:
        super().__init__("Library", "Music you own, on this computer")
        self.bridge = bridge
        self.rows: list[LibraryRow] = []
        self._rows_shown = False
        self.playlists: list[tuple[str, tuple[int, ...]]] = []
        self.play_all = button("▶  Play", "primary")
        self.new_list = button("New playlist", "ghost",
                               "Make an empty playlist; right-click tracks to add them")
        self.offline_btn = button("Keep offline", "ghost",
                                  "Pin the selected tracks on this computer")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search your music")
        self.search.setClearButtonEnabled(True)
        self.search.setFixedWidth(240)
        self.header.addWidget(self.search)
        for b in (self.offline_btn, self.new_list, self.play_all):
            self.header.addWidget(b)
        body = QHBoxLayout()
        body.setSpacing(20)
        side = QVBoxLayout()
        side.addWidget(label("COLLECTION", "statLabel"))
        self.lists = QListWidget()
        self.lists.setObjectName("playlists")
        self.lists.setFixedWidth(190)
        side.addWidget(self.lists, 1)
        body.addLayout(side)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["TITLE", "ARTIST", "ALBUM", "STATUS", "TIME"])
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(cover_pixmap(None, 36).size())
        self.table.verticalHeader().setDefaultSectionSize(48)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(3, QHeaderView.ResizeMode.Fixed)
        h.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)
        h.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.table.setColumnWidth(1, 150)
        self.table.setColumnWidth(2, 150)
        self.table.setColumnWidth(3, 190)
        self.table.setColumnWidth(4, 60)
        body.addWidget(self.table, 1)
        self.empty = label("Nothing here yet. Buy music in the Store and it appears here, "
                           "downloading by itself.", "dim", wrap=True)
        self.outer.addWidget(self.empty)
        self.outer.addLayout(body, 1)
        self.cells: dict[bytes, StatusCell] = {}
        self.shown: list[LibraryRow] = []
        self.positions: list[int | None] = []  # each shown row's place in the playlist shown
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.lists.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.lists.customContextMenuRequested.connect(self._list_menu)
        self.search.textChanged.connect(lambda _: self._fill())
        self.table.cellDoubleClicked.connect(lambda r, _c: self._play_from(r))
        self.play_all.clicked.connect(lambda: self._play_from(max(0, self.table.currentRow())))
        self.lists.currentRowChanged.connect(lambda _: self._fill())
        self.new_list.clicked.connect(self._new_playlist)
        self.offline_btn.clicked.connect(self._toggle_offline)
        bridge.downloadProgress.connect(self._on_progress)

    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.call("library_rows")
        job.finished.connect(self._show_rows)
        job.failed.connect(self.message.show_error)
        pl = self.bridge.call("playlists")
        pl.finished.connect(self._show_playlists)

    def _show_playlists(self, lists: list[tuple[str, tuple[int, ...]]]) -> None:
        current = self._selected_filter()[0] if self.lists.currentRow() >= 0 else ALL
        self.playlists = lists
        self.lists.blockSignals(True)
        self.lists.clear()
        for name in (ALL, DOWNLOADS, OFFLINE):
            self.lists.addItem(QListWidgetItem(name))
        for name, ids in lists:
            self.lists.addItem(QListWidgetItem(f"♫  {name}  ({len(ids)})"))
        names = [ALL, DOWNLOADS, OFFLINE, *(name for name, _ in lists)]  # by name, not count
        self.lists.setCurrentRow(names.index(current) if current in names else 0)
        self.lists.blockSignals(False)
        self._fill()

    def _show_rows(self, rows: list[LibraryRow]) -> None:
        if rows == self.rows and self._rows_shown:
            return  # nothing changed: keep the table, its selection and scroll
        self.rows = rows
        self._rows_shown = True
        self._fill()

    def _selected_filter(self) -> tuple[str, tuple[int, ...]]:
        i = self.lists.currentRow()
        if i <= 2:
            return ((ALL, DOWNLOADS, OFFLINE)[max(i, 0)], ())
        name, ids = self.playlists[i - 3]
        return name, ids

    def current_playlist(self) -> str | None:
        """The name of the playlist shown, or None for the collection views."""
        return None if self.lists.currentRow() <= 2 else self._selected_filter()[0]

    def _visible(self) -> list[tuple[int | None, LibraryRow]]:
        """(position in the playlist shown, row) of what the table shows, search applied."""
        which, ids = self._selected_filter()
        if which == ALL:
            found: list[tuple[int | None, LibraryRow]] = [(None, r) for r in self.rows]
        elif which == DOWNLOADS:
            found = [(None, r) for r in self.rows if not r.ready]
        elif which == OFFLINE:
            found = [(None, r) for r in self.rows if r.offline]
        else:
            by_id = {r.track_id: r for r in self.rows}
            found = [(pos, by_id[i]) for pos, i in enumerate(ids) if i in by_id]
        words = self.search.text().lower().split()
        if words:
            found = [(pos, r) for pos, r in found
                     if all(w in f"{r.title} {r.artist} {r.album}".lower() for w in words)]
        return found

    def visible_rows(self) -> list[LibraryRow]:
        return [r for _, r in self._visible()]

    def _fill(self) -> None:
        selected = {r.track_id for r in self._selected_rows()}  # kept by track, not by row
        visible = self._visible()
        rows = [r for _, r in visible]
        self.shown = rows
        self.positions = [pos for pos, _ in visible]
        self.table.setRowCount(len(rows))
        self.cells = {}
        for n, r in enumerate(rows):
            title = QTableWidgetItem(QIcon(cover_pixmap(r.artwork, 36, r.artist + " " + r.album,
                                                        5)), "  " + r.title)
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
                self.table.item(n, c).setForeground(QColor("#b8b8c8"))
        self.empty.setVisible(not self.rows)
        self.play_all.setEnabled(any(r.ready for r in rows))
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for n, r in enumerate(rows):
            if r.track_id is not None and r.track_id in selected:
                self.table.selectRow(n)
        self.table.setSelectionMode(mode)

    def _on_progress(self, content: bytes, have: int, total: int) -> None:
        cell = self.cells.get(content)
        if cell is not None:
            cell.set_progress(have, total)
            if total and have >= total:
                self.play_all.setEnabled(True)

    def _play_from(self, row: int) -> None:
        rows = [r for r in self.shown if r.ready]
        target = self.shown[row] if 0 <= row < len(self.shown) else None
        if target is not None and not target.ready:  # never start another track instead
            self.message.show_warning(f"“{target.title}” is still downloading; it plays once "
                                      "it has arrived.")
            return
        if not rows:
            self.message.show_warning("These tracks are still downloading.")
            return
        start = rows.index(target) if target in rows else 0
        self.play_rows.emit(rows, start)

    def _selected_rows(self) -> list[LibraryRow]:
        picked = {i.row() for i in self.table.selectedIndexes()}
        return [self.shown[i] for i in sorted(picked) if i < len(self.shown)]

    def _selected_positions(self) -> list[int]:
        picked = {i.row() for i in self.table.selectedIndexes()}
        return [p for i in sorted(picked) if i < len(self.positions)
                and (p := self.positions[i]) is not None]

    def _new_playlist(self) -> None:
        name, ok = QInputDialog.getText(self, "New playlist", "Name of the playlist:")
        if ok:
            self.create_playlist(name, [])

    def create_playlist(self, name: str, track_ids: list[int]) -> None:
        self._then_refresh(self.bridge.call("create_playlist", name, track_ids))

    def _then_refresh(self, job) -> None:  # type: ignore[no-untyped-def]
        job.finished.connect(lambda _: self.refresh())
        job.failed.connect(self.message.show_error)

    # -- editing playlists ----------------------------------------------------------------------
    def add_selected_to(self, name: str) -> None:
        ids = [r.track_id for r in self._selected_rows() if r.track_id is not None]
        if not ids:
            self.message.show_warning("Select the tracks to add first.")
            return
        self._then_refresh(self.bridge.call("add_to_playlist", name, ids))

    def remove_selected(self) -> None:
        name = self.current_playlist()
        if name is None:
            return
        _, ids = self._selected_filter()
        items = [(p, ids[p]) for p in self._selected_positions() if p < len(ids)]
        if items:  # one call, checked against the tracks shown; the view follows when done
            self._then_refresh(self.bridge.call("remove_items_from_playlist", name, items))

    def move_selected(self, step: int) -> None:
        name, positions = self.current_playlist(), self._selected_positions()
        if name is None or len(positions) != 1:
            return
        _, ids = self._selected_filter()
        target = positions[0] + step
        if 0 <= target < len(ids):
            self._then_refresh(self.bridge.call("move_in_playlist", name, positions[0], target))

    def rename_playlist(self, name: str, new_name: str) -> None:
        self._then_refresh(self.bridge.call("rename_playlist", name, new_name))

    def delete_playlist(self, name: str) -> None:
        self._then_refresh(self.bridge.call("delete_playlist", name))

    def track_menu(self) -> QMenu:
        """The actions on the selected tracks (the table's context menu)."""
        menu = QMenu(self)
        rows = self._selected_rows()
        play = menu.addAction("Play")
        play.setEnabled(len(rows) == 1 and rows[0].ready)
        if rows:
            play.triggered.connect(lambda: self._play_from(self.shown.index(rows[0])))
        add = menu.addMenu("Add to playlist")
        for name, _ in self.playlists:
            add.addAction(name).triggered.connect(lambda _=False, n=name: self.add_selected_to(n))
        if self.playlists:
            add.addSeparator()
        add.addAction("New playlist…").triggered.connect(self._new_playlist_with_selection)
        add.setEnabled(bool(rows))
        shown = self.current_playlist()
        if shown is not None:
            menu.addSeparator()
            menu.addAction(f"Remove from “{shown}”").triggered.connect(self.remove_selected)
            up = menu.addAction("Move up")
            up.triggered.connect(lambda: self.move_selected(-1))
            down = menu.addAction("Move down")
            down.triggered.connect(lambda: self.move_selected(1))
            single = len(self._selected_positions()) == 1
            up.setEnabled(single)
            down.setEnabled(single)
        menu.addSeparator()
        offline = menu.addAction("Keep offline")
        offline.setCheckable(True)
        offline.setChecked(bool(rows) and all(r.offline for r in rows))
        offline.setEnabled(bool(rows))
        offline.triggered.connect(self._toggle_offline)
        return menu

    def _new_playlist_with_selection(self) -> None:
        ids = [r.track_id for r in self._selected_rows() if r.track_id is not None]
        name, ok = QInputDialog.getText(self, "New playlist", "Name of the playlist:")
        if ok:
            self.create_playlist(name, ids)

    def _table_menu(self, pos: QPoint) -> None:
        item = self.table.itemAt(pos)
        if item is not None and item.row() not in {i.row() for i in
                                                   self.table.selectedIndexes()}:
            self.table.selectRow(item.row())  # a right click acts on the row under it
        self.track_menu().exec(self.table.viewport().mapToGlobal(pos))

    def playlist_menu(self, name: str) -> QMenu:
        """Rename or delete a playlist (the playlist list's context menu)."""
        menu = QMenu(self)
        menu.addAction("Rename…").triggered.connect(lambda: self._ask_rename(name))
        menu.addAction("Delete playlist").triggered.connect(lambda: self._ask_delete(name))
        return menu

    def _list_menu(self, pos: QPoint) -> None:
        row = self.lists.indexAt(pos).row()
        if row > 2 and row - 3 < len(self.playlists):
            self.playlist_menu(self.playlists[row - 3][0]).exec(
                self.lists.viewport().mapToGlobal(pos))

    def _ask_rename(self, name: str) -> None:
        new, ok = QInputDialog.getText(self, "Rename playlist", "New name:", text=name)
        if ok and new.strip() and new.strip() != name:
            self.rename_playlist(name, new)

    def _ask_delete(self, name: str) -> None:
        answer = QMessageBox.question(self, "Delete playlist",
                                      f"Delete the playlist “{name}”? Its tracks stay in "
                                      "your library.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_playlist(name)

    def _toggle_offline(self) -> None:
        rows = [r for r in self._selected_rows() if r.track_id is not None]
        if not rows:
            self.message.show_warning("Select the tracks to keep offline first.")
            return
        target = not all(r.offline for r in rows)
        for r in rows:
            self.bridge.call("set_offline", r.track_id, target)
        self.bridge.call("library_rows").finished.connect(self._show_rows)
