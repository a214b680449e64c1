"""Artist studio: a publish wizard and a sales dashboard with a chart and CSV export."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import cast

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.services.session.views import SaleView, StudioView
from app.ui.widgets import (
    BusyRow,
    MessageBar,
    Page,
    StatCard,
    back_and_go,
    button,
    cover_pixmap,
    label,
)


class SalesChart(QWidget):
    """Cumulative earnings over time (a filled line), painted with QPainter."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(190)
        self.sales: list[SaleView] = []

    def set_sales(self, sales: list[SaleView]) -> None:
        self.sales = sorted(sales, key=lambda s: s.timestamp)
        self.update()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(48, 14, -16, -28)
        p.setPen(QPen(QColor("#262632"), 1))
        for i in range(5):
            y = r.top() + r.height() * i / 4
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        p.setFont(QFont("DejaVu Sans", 8))
        if not self.sales:
            p.setPen(QColor("#8a8a9c"))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "Sales appear here as fans buy")
            return
        t0, t1 = self.sales[0].timestamp, self.sales[-1].timestamp
        span = max(1, t1 - t0)
        total, points = 0, [QPointF(r.left(), r.bottom())]
        for s in self.sales:
            total += s.share
            x = r.left() + r.width() * ((s.timestamp - t0) / span if t1 > t0 else 1.0)
            points.append(QPointF(x, 0))
            points[-1].setY(total)
        top = max(1, total)
        pts = [points[0]] + [
            QPointF(pt.x(), r.bottom() - r.height() * pt.y() / top * 0.92) for pt in points[1:]
        ]
        if len(pts) == 2:
            pts.insert(1, QPointF(r.left(), pts[1].y()))
        path = QPainterPath(pts[0])
        for pt in pts[1:]:
            path.lineTo(pt)
        fill = QPainterPath(path)
        fill.lineTo(QPointF(pts[-1].x(), r.bottom()))
        fill.closeSubpath()
        g = QLinearGradient(0, r.top(), 0, r.bottom())
        g.setColorAt(0, QColor(61, 220, 151, 110))
        g.setColorAt(1, QColor(61, 220, 151, 0))
        p.fillPath(fill, g)
        p.setPen(QPen(QColor("#3ddc97"), 2.2))
        p.drawPath(path)
        p.setPen(QColor("#8a8a9c"))
        for i in range(5):
            value = top * 0.92**-1 * (4 - i) / 4 / 100
            p.drawText(
                QRectF(0, r.top() + r.height() * i / 4 - 8, 42, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{value:.0f}",
            )
        for t, align in ((t0, Qt.AlignmentFlag.AlignLeft), (t1, Qt.AlignmentFlag.AlignRight)):
            fmt = "%H:%M:%S" if span < 3_600_000 else "%d %b %H:%M"
            when = dt.datetime.fromtimestamp(t / 1000).strftime(fmt)
            p.drawText(QRectF(r.left(), r.bottom() + 6, r.width(), 16), align, when)


class PublishWizard(QWidget):
    """Four steps: files, details, price and splits, review. Tags are prefilled from files."""

    published = Signal()

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.files: list[Path] = []
        self.artwork: Path | None = None
        self.assets: list[tuple[bytes, str]] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 8, 0, 0)
        self.steps_label = label("", "eyebrow")
        lay.addWidget(self.steps_label)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack, 1)
        self.message = MessageBar()
        lay.addWidget(self.message)
        self.busy = BusyRow()
        lay.addWidget(self.busy)
        nav, self.back_btn, self.next_btn = back_and_go("Next")
        lay.addLayout(nav)

        # 1. files
        s1 = QWidget()
        l1 = QVBoxLayout(s1)
        l1.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(
            label(
                "Pick the audio files of the release, in track order. Titles are "
                "read from their tags; edit them here.",
                "dim",
                wrap=True,
            ),
            1,
        )
        self.add_btn = button("Add files…", "ghost")
        row.addWidget(self.add_btn)
        l1.addLayout(row)
        self.track_table = QTableWidget(0, 3)
        self.track_table.setHorizontalHeaderLabels(["#", "TITLE", "FILE"])
        self.track_table.verticalHeader().hide()
        self.track_table.setShowGrid(False)
        h = self.track_table.horizontalHeader()
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        h.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.track_table.setColumnWidth(0, 36)
        self.track_table.setColumnWidth(2, 220)
        l1.addWidget(self.track_table, 1)
        self.stack.addWidget(s1)

        # 2. details
        s2 = QWidget()
        l2 = QHBoxLayout(s2)
        l2.setContentsMargins(0, 0, 0, 0)
        l2.setSpacing(24)
        art = QVBoxLayout()
        self.art_preview = label()
        self.art_preview.setFixedSize(180, 180)
        self.art_preview.setPixmap(cover_pixmap(None, 180, "New release"))
        self.art_btn = button("Choose artwork…", "ghost")
        art.addWidget(self.art_preview)
        art.addWidget(self.art_btn)
        art.addStretch(1)
        l2.addLayout(art)
        form = QFormLayout()
        form.setVerticalSpacing(10)
        self.title = QLineEdit()
        self.artist = QLineEdit()
        self.genre = QLineEdit()
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("comma separated")
        self.description = QPlainTextEdit()
        self.description.setFixedHeight(90)
        form.addRow("Title", self.title)
        form.addRow("Artist", self.artist)
        form.addRow("Genre", self.genre)
        form.addRow("Tags", self.tags)
        form.addRow("About", self.description)
        form_box = QVBoxLayout()
        form_box.addLayout(form)
        form_box.addStretch(1)
        l2.addLayout(form_box, 1)
        self.stack.addWidget(s2)

        # 3. price, splits, preview
        s3 = QWidget()
        f3 = QFormLayout(s3)
        f3.setVerticalSpacing(10)
        self.asset = QComboBox()
        self.price = QLineEdit("5.00")
        self.nyp = QCheckBox("Name your price (the price above is the minimum)")
        self.track_price = QLineEdit()
        self.track_price.setPlaceholderText("leave empty to sell only the whole release")
        self.preview_len = QDoubleSpinBox()
        self.preview_len.setRange(0, 90)  # the service's MAX_PREVIEW_S; 0: no previews
        self.preview_len.setValue(30)
        self.preview_len.setSuffix(" s")
        self.splits = QPlainTextEdit()
        self.splits.setPlaceholderText(
            "One collaborator per line: PEER-ID (or hex key) = "
            "PERCENT\nWhat they do not take goes to you"
        )
        self.splits.setFixedHeight(80)
        f3.addRow("Priced in", self.asset)
        f3.addRow("Price", self.price)
        f3.addRow("", self.nyp)
        f3.addRow("Single tracks", self.track_price)
        f3.addRow("Preview length", self.preview_len)
        f3.addRow(
            "",
            label(
                "A preview is clear audio anyone can play: each one lasts at most "
                "half of its track (0 s: no previews).",
                "dim",
                wrap=True,
            ),
        )
        f3.addRow("Splits", self.splits)
        self.stack.addWidget(s3)

        # 4. review
        s4 = QWidget()
        l4 = QHBoxLayout(s4)
        l4.setContentsMargins(0, 0, 0, 0)
        l4.setSpacing(24)
        self.review_art = label()
        self.review_art.setFixedSize(160, 160)
        l4.addWidget(self.review_art, 0, Qt.AlignmentFlag.AlignTop)
        self.review = label("", wrap=True)
        self.review.setTextFormat(Qt.TextFormat.RichText)
        self.review.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        l4.addWidget(self.review, 1)
        self.stack.addWidget(s4)

        self.add_btn.clicked.connect(self._pick_files)
        self.art_btn.clicked.connect(self._pick_art)
        self.back_btn.clicked.connect(lambda: self.goto(self.stack.currentIndex() - 1))
        self.next_btn.clicked.connect(self._next)
        self.goto(0)

    STEPS = ("1  FILES", "2  DETAILS", "3  PRICE & SPLITS", "4  REVIEW & PUBLISH")

    def goto(self, i: int) -> None:
        i = max(0, min(3, i))
        self.message.clear_message()
        self.stack.setCurrentIndex(i)
        self.steps_label.setText(
            "   ›   ".join(
                f"<span style='color:{'#3ddc97' if n == i else '#6b6b7d'}'>{s}</span>"
                for n, s in enumerate(self.STEPS)
            )
        )
        self.steps_label.setTextFormat(Qt.TextFormat.RichText)
        self.back_btn.setVisible(i > 0)
        self.next_btn.setText("Publish" if i == 3 else "Next")
        if i == 3:
            self._fill_review()

    def set_assets(self, assets: tuple[tuple[bytes, str], ...]) -> None:
        current = self.asset.currentText()
        self.assets = list(assets)
        self.asset.clear()
        for _, sym in assets:
            self.asset.addItem(sym)
        if current:
            self.asset.setCurrentText(current)

    # -- step 1 ------------------------------------------------------------------------------
    def _pick_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Audio files",
            str(Path.home()),
            "Audio (*.flac *.mp3 *.ogg *.opus *.m4a *.wav *.aiff)",
        )
        if paths:
            self.add_files([Path(p) for p in paths])

    def add_files(self, paths: list[Path]) -> None:
        """Add files and prefill titles, artist, album, genre and artwork from their tags."""
        job = self.bridge.call("read_tags", paths)
        job.failed.connect(self.message.show_error)
        job.finished.connect(lambda tags: self._add_tagged(paths, tags))

    def _add_tagged(self, paths: list[Path], tags: list[dict]) -> None:
        refused = [str(t["error"]) for t in tags if "error" in t]
        if refused:
            self.message.show_error(
                "Not added: "
                + "; ".join(refused)
                + (". The other files were added." if len(refused) < len(tags) else ".")
            )
        else:
            self.message.clear_message()
        for path, t in zip(paths, tags, strict=True):
            if "error" in t:
                continue
            self.files.append(path)
            n = self.track_table.rowCount()
            self.track_table.insertRow(n)
            num = QTableWidgetItem(str(n + 1))
            num.setFlags(num.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.track_table.setItem(n, 0, num)
            self.track_table.setItem(n, 1, QTableWidgetItem(str(t["title"])))
            f = QTableWidgetItem(path.name)
            f.setFlags(f.flags() & ~Qt.ItemFlag.ItemIsEditable)
            f.setForeground(QColor("#8a8a9c"))
            self.track_table.setItem(n, 2, f)
            if not self.title.text() and t.get("album"):
                self.title.setText(str(t["album"]))
            if not self.artist.text() and t.get("artist"):
                self.artist.setText(str(t["artist"]))
            if not self.genre.text() and t.get("genre"):
                self.genre.setText(str(t["genre"]))
            if self.artwork is None and t.get("artwork"):
                self.art_preview.setPixmap(cover_pixmap(t["artwork"], 180, "art"))
                self._tag_art = t["artwork"]

    def _pick_art(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Artwork", str(Path.home()), "Images (*.png *.jpg *.jpeg)"
        )
        if path:
            self.set_artwork(Path(path))

    def set_artwork(self, path: Path) -> None:
        self.artwork = path
        self.art_preview.setPixmap(cover_pixmap(path.read_bytes(), 180, "art"))

    # -- navigation and publishing ------------------------------------------------------------
    def _next(self) -> None:
        i = self.stack.currentIndex()
        if i == 0 and not self.files:
            self.message.show_error("Add at least one audio file.")
            return
        if i == 1 and not self.title.text().strip():
            self.message.show_error("Give the release a title.")
            return
        if i == 2 and not self.assets:
            self.message.show_error(
                "There is no currency to price in yet: sync with peers "
                "or trust a credits issuer in the Wallet."
            )
            return
        if i < 3:
            self.goto(i + 1)
        else:
            self.publish()

    def _split_specs(self):
        from app.services.errors import UserError
        from app.services.identity import parse_public_key
        from app.services.studio import ShareSpec

        specs = []
        for line in self.splits.toPlainText().splitlines():
            if not line.strip():
                continue
            who, _, pct = line.partition("=")
            try:
                bps = round(float(pct.strip().rstrip("%")) * 100)
            except ValueError as exc:
                raise UserError(f"cannot read the split line {line.strip()!r}") from exc
            specs.append(ShareSpec(parse_public_key(who), bps))  # a peer ID or a hex key
        return tuple(specs)

    def draft(self):
        from app.services.session.views import decimal_text
        from app.services.studio import ReleaseDraft

        titles = tuple(
            # every track row has its title cell
            cast(QTableWidgetItem, self.track_table.item(i, 1)).text()
            for i in range(self.track_table.rowCount())
        )
        asset = self.assets[self.asset.currentIndex()][0] if self.assets else b""
        return ReleaseDraft(
            files=tuple(self.files),
            title=self.title.text(),
            artist_name=self.artist.text(),
            price=decimal_text(self.price.text()) or "",
            asset=asset,  # "3,50" is 3.50
            name_your_price=self.nyp.isChecked(),
            track_price=decimal_text(self.track_price.text()) or None,
            genre=self.genre.text(),
            tags=tuple(t.strip() for t in self.tags.text().split(",") if t.strip()),
            description=self.description.toPlainText(),
            track_titles=titles,
            split=self._split_specs(),
            preview_seconds=self.preview_len.value(),
            artwork=self.artwork,
        )

    def _fill_review(self) -> None:
        self.review_art.setPixmap(self.art_preview.pixmap())
        tracks = "".join(
            f"<li>{cast(QTableWidgetItem, self.track_table.item(i, 1)).text()}</li>"
            for i in range(self.track_table.rowCount())
        )
        price = f"from {self.price.text()}" if self.nyp.isChecked() else self.price.text()
        self.review.setText(
            f"<div style='font-size:16pt;font-weight:bold'>{self.title.text()}</div>"
            f"<div style='color:#a3a3b5;font-size:11pt'>{self.artist.text()} · "
            f"{self.genre.text()}</div><p>{price} {self.asset.currentText()}"
            f"{' · tracks ' + self.track_price.text() if self.track_price.text() else ''}"
            f" · previews of up to {self.preview_len.value():.0f} s, at most half of each "
            f"track</p><ol>{tracks}</ol><p>{self._split_text()}</p>"
            "<p style='color:#a3a3b5'>Publishing encrypts every track with its own key, stores "
            "the chunks here and signs the listing. Seeders pick it up from the swarm.</p>"
        )

    def _split_text(self) -> str:
        """The split as the review shows it: who gets what share of each sale."""
        from app.services.errors import UserError

        try:
            specs = self._split_specs()
        except UserError as err:
            return f"<span style='color:#ff7a7a'>Split: {err}</span>"
        parts = [f"{s.to.hex()[:8]}… {s.bps / 100:g}%" for s in specs]
        rest = 100 - sum(s.bps for s in specs) / 100
        parts.append(f"you {rest:g}%")
        return "Each sale pays " + ", ".join(parts)

    def publish(self) -> None:
        from app.services.errors import UserError

        try:
            draft = self.draft()
        except UserError as err:
            self.message.show_error(str(err))
            return
        self.next_btn.setEnabled(False)
        job = self.bridge.publish(draft)
        self.busy.track(job, "Encrypting tracks…")

        def done(result: object) -> None:
            self.next_btn.setEnabled(True)
            self.reset()
            self.message.show_success(f"Published “{draft.title}”. It is in the Store now.")
            self.published.emit()

        def failed(msg: str) -> None:
            self.next_btn.setEnabled(True)
            self.message.show_error(msg)

        job.finished.connect(done)
        job.failed.connect(failed)

    def reset(self) -> None:
        self.files, self.artwork = [], None
        self.track_table.setRowCount(0)
        for e in (self.title, self.artist, self.genre, self.tags, self.track_price):
            e.clear()
        self.description.clear()
        self.splits.clear()
        self.art_preview.setPixmap(cover_pixmap(None, 180, "New release"))
        self.goto(0)


def agents_text(view: StudioView) -> str:
    """What sells while the artist is offline: each sales agent's releases, and a warning for
    the releases no agent can sell."""
    if not view.releases:
        return ""
    if not view.agents:
        return (
            "⚠ No sales agent: your releases sell only while this app is open. Delegate "
            "them to a seeder (cooptracks delegate) to sell while you are offline."
        )
    lines = []
    for a in view.agents:
        who = a.name or a.peer_id[:12] + "…" + a.peer_id[-6:]
        line = (
            f"Sales agent {who} sells {len(a.can)} of your {len(a.can) + len(a.cannot)} "
            "releases while you are offline"
        )
        if a.cannot:
            line += f". ⚠ It cannot sell: {', '.join(a.cannot)} (delegate them to it)"
        lines.append(line + ".")
    return "\n".join(lines)


class StudioPage(Page):
    def __init__(self, bridge: Bridge) -> None:
        super().__init__("Artist studio", "Publish your music and see what it earns")
        self.bridge = bridge
        self.tabs = QTabWidget()
        self.outer.addWidget(self.tabs, 1)
        # dashboard
        dash = QWidget()
        d = QVBoxLayout(dash)
        d.setContentsMargins(0, 12, 0, 0)
        d.setSpacing(14)
        cards = QHBoxLayout()
        self.c_releases = StatCard("Releases")
        self.c_sales = StatCard("Sales")
        self.c_earned = StatCard("Earned")
        for c in (self.c_releases, self.c_sales, self.c_earned):
            cards.addWidget(c)
        d.addLayout(cards)
        self.agents = label("", "dim", wrap=True)  # who sells what while we are offline
        self.agents.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        d.addWidget(self.agents)
        chart_card = QFrame()
        chart_card.setObjectName("card")
        cl = QVBoxLayout(chart_card)
        head = QHBoxLayout()
        head.addWidget(label("Earnings over time", "h2"))
        head.addStretch(1)
        self.export_btn = button("Export CSV…", "ghost")
        head.addWidget(self.export_btn)
        cl.addLayout(head)
        self.chart = SalesChart()
        cl.addWidget(self.chart)
        d.addWidget(chart_card)
        self.sales_table = QTableWidget(0, 4)
        self.sales_table.setHorizontalHeaderLabels(["WHEN", "RELEASE", "YOUR SHARE", "STATUS"])
        self.sales_table.verticalHeader().hide()
        self.sales_table.setShowGrid(False)
        self.sales_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sales_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.sales_table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.sales_table.setColumnWidth(0, 150)
        self.sales_table.setColumnWidth(2, 130)
        self.sales_table.setColumnWidth(3, 120)
        d.addWidget(self.sales_table, 1)
        self.tabs.addTab(dash, "Dashboard")
        self.wizard = PublishWizard(bridge)
        self.tabs.addTab(self.wizard, "Publish a release")
        self.wizard.published.connect(self.refresh)
        self.export_btn.clicked.connect(self._export)

    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.call("studio_view")
        job.finished.connect(self._show)
        job.failed.connect(self.message.show_error)

    def _show(self, view: StudioView) -> None:
        self.c_releases.set(str(len(view.releases)))
        self.c_sales.set(str(len(view.sales)))
        self.c_earned.set(view.total)
        self.chart.set_sales(list(view.sales))
        self.sales_table.setRowCount(len(view.sales))
        for n, s in enumerate(sorted(view.sales, key=lambda s: -s.timestamp)):
            when = dt.datetime.fromtimestamp(s.timestamp / 1000).strftime("%Y-%m-%d %H:%M")
            for c, text in enumerate(
                (when, s.release, s.amount, "✓ fulfilled" if s.fulfilled else "waiting")
            ):
                self.sales_table.setItem(n, c, QTableWidgetItem(text))
        self.wizard.set_assets(view.assets)
        self.agents.setText(agents_text(view))

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export sales", str(Path.home() / "sales.csv"), "CSV (*.csv)"
        )
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> None:
        job = self.bridge.call("sales_csv")

        def write(text: str) -> None:
            w = self.bridge.save_text(path, text)
            w.finished.connect(lambda _: self.message.show_success(f"Sales saved to {path}"))
            w.failed.connect(self.message.show_error)

        job.finished.connect(write)
        job.failed.connect(self.message.show_error)
