"""The "Save to folder" dialog: owned music out as plain audio files.

Opened from the Library (a track's context menu) and from an owned release's page. It asks the
bridge what the export would write (ownership is checked there), lets the user pick a format and
a folder (Settings remember both), warns before making lossless files from lossy originals, then
shows progress per track and in total, with Cancel. Nothing here touches files or the ledger:
the bridge runs ``app.services.export`` on a worker thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QProgressBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.widgets import MessageBar, button, fmt_duration, label

if TYPE_CHECKING:
    from app.bridge import Bridge, ExportJob, Job
    from app.services.export import ExportPlan, ExportProgress, ExportReport

GREEN, DIM = "#3ddc97", "#8a8a9c"
STAGES = {
    "downloading": "Downloading",
    "writing": "Writing",
    "encoding": "Converting",
    "written": "✓ Saved",
    "skipped": "✓ Already there",
}


class ExportDialog(QDialog):
    """Pick a format and a folder, then watch the files being written."""

    def __init__(self, bridge: Bridge, plan_job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.plan: ExportPlan | None = None
        self.job: ExportJob | None = None
        self.report: ExportReport | None = None
        self.setObjectName("page")
        self.setWindowTitle("Save to folder")
        self.setMinimumSize(680, 640)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(28, 22, 28, 20)
        outer.setSpacing(12)
        self.heading = label("Save to folder", "h2")
        self.what = label("Checking what you own…", "dim", wrap=True)
        outer.addWidget(self.heading)
        outer.addWidget(self.what)
        form = QGridLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(10)
        self.format = QComboBox()
        for key, text, lossless in bridge.export_formats():
            self.format.addItem(text, key)
            self.format.setItemData(
                self.format.count() - 1,
                "Lossless" if lossless or key == "original" else "Lossy",
                Qt.ItemDataRole.ToolTipRole,
            )
        self.folder = QLineEdit()
        self.choose = button("Choose…", "ghost")
        fmt, folder = bridge.export_defaults()
        self.format.setCurrentIndex(max(0, self.format.findData(fmt)))
        self.folder.setText(_shown_path(folder))
        form.addWidget(label("Format"), 0, 0)
        form.addWidget(self.format, 0, 1, 1, 2)
        form.addWidget(label("Folder"), 1, 0)
        form.addWidget(self.folder, 1, 1)
        form.addWidget(self.choose, 1, 2)
        form.setColumnStretch(1, 1)
        outer.addLayout(form)
        self.names = label(
            "Files are named Artist/Album/NN Title, with tags and the cover.", "dim", wrap=True
        )
        outer.addWidget(self.names)
        warn_row = QHBoxLayout()
        self.warning = MessageBar()
        self.use_original = button(
            "Use original", "ghost", "Save the files exactly as the artist published them"
        )
        self.use_original.hide()
        warn_row.addWidget(self.warning, 1)
        warn_row.addWidget(self.use_original, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(warn_row)
        self.tracks = QTreeWidget()
        self.tracks.setHeaderLabels(["TRACK", "TIME", "STATUS"])
        self.tracks.setRootIsDecorated(False)
        self.tracks.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        h = self.tracks.header()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        h.setStretchLastSection(False)
        self.tracks.setColumnWidth(1, 60)
        self.tracks.setColumnWidth(2, 150)
        self.tracks.setMinimumHeight(150)
        outer.addWidget(self.tracks, 1)
        self.track_caption = label("", "dim")
        self.track_bar = QProgressBar()
        self.total_caption = label("", "dim")
        self.total_bar = QProgressBar()
        self.total_bar.setObjectName("big")
        for bar in (self.track_bar, self.total_bar):
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
        progress = QGridLayout()
        progress.setVerticalSpacing(4)
        progress.addWidget(self.track_caption, 0, 0)
        progress.addWidget(self.track_bar, 1, 0)
        progress.addWidget(self.total_caption, 2, 0)
        progress.addWidget(self.total_bar, 3, 0)
        outer.addLayout(progress)
        self._show_progress(False)
        self.message = MessageBar()
        outer.addWidget(self.message)
        buttons = QHBoxLayout()
        self.open_folder = button("Open folder", "ghost")
        self.open_folder.hide()
        self.cancel_btn = button("Cancel", "ghost")
        self.save_btn = button("Save", "primary")
        self.save_btn.setEnabled(False)
        buttons.addWidget(self.open_folder)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.save_btn)
        outer.addLayout(buttons)
        self.choose.clicked.connect(self._choose_folder)
        self.format.currentIndexChanged.connect(lambda _: self._changed())
        self.folder.textEdited.connect(lambda _: self._changed())
        self.use_original.clicked.connect(
            lambda: self.format.setCurrentIndex(self.format.findData("original"))
        )
        self.save_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self._cancel_or_close)
        self.open_folder.clicked.connect(self._open_folder)
        plan_job.finished.connect(self._show_plan)
        plan_job.failed.connect(self._plan_failed)

    # -- before ------------------------------------------------------------------------------
    def _show_plan(self, plan: ExportPlan) -> None:
        self.plan = plan
        n = len(plan.items)
        self.heading.setText(f"Save {plan.what}")
        self.what.setText(
            f"{n} track{'s' if n != 1 else ''} · {fmt_duration(int(plan.seconds * 1000))}"
        )
        self.tracks.clear()
        folders = sorted({item.folder for item in plan.items})
        for item in plan.items:
            name = item.stem if len(folders) == 1 else f"{item.folder}/{item.stem}"
            row = QTreeWidgetItem([name, fmt_duration(item.duration_ms), "Waiting"])
            row.setToolTip(0, f"{item.folder}/{item.stem}")
            row.setForeground(2, Qt.GlobalColor.gray)
            self.tracks.addTopLevelItem(row)
        where = f"{folders[0]}/" if len(folders) == 1 else "Artist/Album/"
        self.names.setText(f"Saved as {where}NN Title, with tags and the release cover.")
        self.save_btn.setEnabled(True)
        self._update_warning()

    def _plan_failed(self, message: str) -> None:
        self.heading.setText("Nothing to save")
        self.what.setText("")
        self.message.show_error(message)
        self.save_btn.setEnabled(False)

    @property
    def chosen_folder(self) -> Path:
        return Path(self.folder.text().strip()).expanduser()

    @property
    def chosen_format(self) -> str:
        return str(self.format.currentData())

    def _changed(self) -> None:
        self._update_warning()
        if not self.running:
            self.save_btn.show()

    def _update_warning(self) -> None:
        text = self.bridge.export_warning(self.plan, self.chosen_format) if self.plan else None
        if text:
            self.warning.show_warning(text)
        else:
            self.warning.clear_message()
        self.use_original.setVisible(bool(text))

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Save to folder", self.folder.text())
        if path:
            self.folder.setText(_shown_path(Path(path)))
            self._changed()

    # -- during ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.plan is None or self.running:
            return
        folder = self.folder.text().strip()
        if not folder:
            self.message.show_error("choose a folder to save into")
            return
        self.message.clear_message()
        self.report = None
        for widget in (self.format, self.folder, self.choose, self.save_btn, self.use_original):
            widget.setEnabled(False)
        self.open_folder.hide()
        self._show_progress(True)
        self.track_bar.setValue(0)
        self.total_bar.setValue(0)
        self.cancel_btn.setText("Cancel")
        self.job = self.bridge.export(self.plan, self.chosen_format, self.chosen_folder)
        self.job.step.connect(self._on_step)
        self.job.finished.connect(self._done)
        self.job.failed.connect(self._failed)

    def _on_step(self, p: ExportProgress) -> None:
        n = p.track + 1
        self.track_caption.setText(
            f"Track {n} of {p.tracks}: {p.title} — {STAGES.get(p.stage, p.stage)}"
        )
        self.track_bar.setValue(int(p.track_fraction * 1000))
        self.total_caption.setText(f"Total: {p.percent}%")
        self.total_bar.setValue(int(p.total_fraction * 1000))
        row = self.tracks.topLevelItem(p.track)
        if row is not None:
            done = p.stage in ("written", "skipped")
            row.setText(
                2,
                STAGES[p.stage]
                if done
                else f"{STAGES.get(p.stage, p.stage)} {int(p.track_fraction * 100)}%",
            )
            row.setForeground(2, Qt.GlobalColor.green if done else Qt.GlobalColor.white)
            if not done:
                self.tracks.scrollToItem(row)

    def _done(self, report: ExportReport) -> None:
        self.report = report
        self._finish()
        self.total_bar.setValue(1000)
        self.total_caption.setText("Total: 100%")
        self.message.show_success(
            report.summary().replace(str(report.folder), _shown_path(report.folder)) + "."
        )
        self.save_btn.hide()  # done; changing the format or the folder offers it again
        self.open_folder.show()
        self.cancel_btn.setText("Close")

    def _failed(self, message: str) -> None:
        self._finish()
        self.message.show_error(message)
        self.save_btn.setText("Try again")
        self.cancel_btn.setText("Close")

    def _finish(self) -> None:
        for widget in (self.format, self.folder, self.choose, self.save_btn):
            widget.setEnabled(True)
        self.use_original.setEnabled(True)

    def _show_progress(self, visible: bool) -> None:
        for w in (self.track_caption, self.track_bar, self.total_caption, self.total_bar):
            w.setVisible(visible)

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.done

    def _cancel_or_close(self) -> None:
        if self.running:
            assert self.job is not None
            self.job.cancel()
            self.cancel_btn.setEnabled(False)
            self.cancel_btn.setText("Stopping…")
            self.job.failed.connect(lambda _: self.cancel_btn.setEnabled(True))
            return
        self.close()

    def _open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.chosen_folder)))

    def reject(self) -> None:  # Escape or the window's close button: stop a running export
        if self.running:
            self._cancel_or_close()
            return
        super().reject()


def _shown_path(path: Path) -> str:
    """``path`` as people read it: the home folder as ``~``."""
    try:
        return "~/" + path.expanduser().relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)


def open_export(bridge: Bridge, parent: QWidget, **what: Any) -> ExportDialog:
    """Open the dialog for ``bridge.plan_export(**what)`` (release=, track=, contents=,
    album_of=, everything=) without blocking; the caller keeps the returned dialog."""
    dialog = ExportDialog(bridge, bridge.plan_export(**what), parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    dialog.open()
    return dialog
