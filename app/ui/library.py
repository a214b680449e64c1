"""Library: owned music, downloads with progress bars, playlists and the offline marker."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMenu,
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
                               "Make a playlist from the selected tracks")
        self.offline_btn = button("Keep offline", "ghost",
                                  "Pin the selected tracks on this computer")
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
        self.table.cellDoubleClicked.connect(lambda r, _c: self._play_from(r))
        self.play_all.clicked.connect(lambda: self._play_from(max(0, self.table.currentRow())))
        self.lists.currentRowChanged.connect(lambda _: self._fill())
        self.new_list.clicked.connect(self._new_playlist)
        self.offline_btn.clicked.connect(self._toggle_offline)
        bridge.downloadProgress.connect(self._on_progress)
        self.export_dialog = None  # the "Save to folder" dialog, once opened
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)

    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.call("library_rows")
        job.finished.connect(self._show_rows)
        job.failed.connect(self.message.show_error)
        pl = self.bridge.call("playlists")
        pl.finished.connect(self._show_playlists)

    def _show_playlists(self, lists: list[tuple[str, tuple[int, ...]]]) -> None:
        current = self.lists.currentItem().text() if self.lists.currentItem() else ALL
        self.playlists = lists
        self.lists.blockSignals(True)
        self.lists.clear()
        for name in (ALL, DOWNLOADS, OFFLINE):
            self.lists.addItem(QListWidgetItem(name))
        for name, ids in lists:
            self.lists.addItem(QListWidgetItem(f"♫  {name}  ({len(ids)})"))
        names = [self.lists.item(i).text() for i in range(self.lists.count())]
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

    def visible_rows(self) -> list[LibraryRow]:
        which, ids = self._selected_filter()
        if which == ALL:
            return list(self.rows)
        if which == DOWNLOADS:
            return [r for r in self.rows if not r.ready]
        if which == OFFLINE:
            return [r for r in self.rows if r.offline]
        by_id = {r.track_id: r for r in self.rows}
        return [by_id[i] for i in ids if i in by_id]

    def _fill(self) -> None:
        rows = self.visible_rows()
        self.shown = rows
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

    def _on_progress(self, content: bytes, have: int, total: int) -> None:
        cell = self.cells.get(content)
        if cell is not None:
            cell.set_progress(have, total)
            if total and have >= total:
                self.play_all.setEnabled(True)

    def _play_from(self, row: int) -> None:
        rows = [r for r in getattr(self, "shown", []) if r.ready]
        if not rows:
            self.message.show_warning("These tracks are still downloading.")
            return
        target = self.shown[row] if 0 <= row < len(self.shown) else rows[0]
        start = rows.index(target) if target in rows else 0
        self.play_rows.emit(rows, start)

    def _selected_rows(self) -> list[LibraryRow]:
        picked = {i.row() for i in self.table.selectedIndexes()}
        return [self.shown[i] for i in sorted(picked) if i < len(self.shown)]

    def _new_playlist(self) -> None:
        name, ok = QInputDialog.getText(self, "New playlist", "Name of the playlist:")
        if ok:
            self.create_playlist(name, [r.track_id for r in self._selected_rows()
                                        if r.track_id is not None])

    def create_playlist(self, name: str, track_ids: list[int]) -> None:
        job = self.bridge.call("create_playlist", name, track_ids)
        job.finished.connect(lambda _: self.refresh())
        job.failed.connect(self.message.show_error)

    def _toggle_offline(self) -> None:
        rows = [r for r in self._selected_rows() if r.track_id is not None]
        if not rows:
            self.message.show_warning("Select the tracks to keep offline first.")
            return
        target = not all(r.offline for r in rows)
        for r in rows:
            self.bridge.call("set_offline", r.track_id, target)
        self.bridge.call("library_rows").finished.connect(self._show_rows)

    # -- saving owned music to a folder (app/ui/export.py) -------------------------------------
    def _context_menu(self, pos) -> None:  # type: ignore[no-untyped-def]
        row = self.table.rowAt(pos.y())
        if row >= 0 and row not in {i.row() for i in self.table.selectedIndexes()}:
            self.table.selectRow(row)
        menu = self.export_menu()
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def export_menu(self) -> QMenu:
        """The context menu's export actions for the selected tracks."""
        rows = self._selected_rows()
        menu = QMenu(self)
        one = menu.addAction("Save to folder…", lambda: self.save_to_folder(rows))
        album = menu.addAction("Save album to folder…",
                               lambda: self.save_to_folder(rows[:1], album=True))
        menu.addAction("Save whole collection to folder…",
                       lambda: self.save_to_folder([], everything=True))
        one.setEnabled(bool(rows))
        album.setEnabled(len({(r.artist, r.album) for r in rows}) == 1)
        return menu

    def save_to_folder(self, rows: list[LibraryRow], album: bool = False,
                       everything: bool = False) -> None:
        from app.ui.export import open_export

        if everything:
            what: dict[str, object] = {"everything": True}
        elif album:
            what = {"album_of": rows[0].content}
        else:
            what = {"contents": [r.content for r in rows]}
        self.export_dialog = open_export(self.bridge, self, **what)
