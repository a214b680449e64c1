"""Read-only tables as the views show them (peers, wallet history): one way to build and fill."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

GREEN = "#3ddc97"
DIM = "#8a8a9c"
SOFT = "#a3a3b5"
TEXT = "#f2f2f7"

Cell = str | tuple[str, str]  # text, or (text, colour)


def read_only_table(
    headers: Sequence[str], widths: Mapping[int, int], stretch: int
) -> QTableWidget:
    """A table without grid, row numbers or editing; column ``stretch`` takes the spare width."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setShowGrid(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
    for column, width in widths.items():
        table.setColumnWidth(column, width)
    return table


def fill(table: QTableWidget, rows: Sequence[Sequence[Cell]]) -> None:
    """Replace the table's rows; a cell is its text or ``(text, colour)``."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            text, colour = value if isinstance(value, tuple) else (value, None)
            item = QTableWidgetItem(text)
            if colour is not None:
                item.setForeground(QColor(colour))
            table.setItem(r, c, item)
