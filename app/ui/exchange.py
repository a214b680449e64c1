"""Exchange: pick a pair; its order book with a depth chart and its price over time; a buy/sell
form that shows what the order gets (the split across the best live offers) before it is
confirmed; the user's open orders (cancel), trades, the pair's recent trades and its settlers
(who fills each offer, and when each was last seen: a settler not seen recently is flagged and
orders skip its offers). Everything comes through the bridge (``Bridge.exchange``)."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge, Job
from app.services.exchange_desk import ExchangePage, LevelView, PairView, Quote
from app.ui.tables import DIM, GREEN, SOFT, TEXT, fill, read_only_table
from app.ui.widgets import MessageBar, Page, button, label

RED = "#ff6b81"
WARN = "#ffd27a"
GRID = "#262632"


def when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %H:%M")


class CachedChart(QWidget):
    """A chart drawn once per change of its data or size into a pixmap; a repaint for any
    other reason (the window laid out again, a table beside it refilled) only copies it."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(140)
        self._pixmap: QPixmap | None = None

    def _changed(self) -> None:
        self._pixmap = None
        self.update()

    def paintEvent(self, _event: object) -> None:
        ratio = self.devicePixelRatioF()
        pm = self._pixmap
        if pm is None or pm.deviceIndependentSize().toSize() != self.size():
            pm = QPixmap(self.size() * ratio)
            pm.setDevicePixelRatio(ratio)
            pm.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pm)
            try:
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setFont(_chart_font())
                self.draw(painter)
            finally:
                painter.end()
            self._pixmap = pm
        p = QPainter(self)
        p.drawPixmap(0, 0, pm)
        p.end()

    def draw(self, p: QPainter) -> None:
        raise NotImplementedError


_FONT: list[QFont] = []


def _chart_font() -> QFont:
    if not _FONT:
        _FONT.append(QFont("DejaVu Sans", 8))
    return _FONT[0]


class PriceChart(CachedChart):
    """The pair's trade prices over time (a line with a soft fill), painted with QPainter."""

    def __init__(self) -> None:
        super().__init__()
        self.points: tuple[tuple[int, float], ...] = ()
        self.unit = ""

    def set_points(self, points: tuple[tuple[int, float], ...], unit: str) -> None:
        if (points, unit) == (self.points, self.unit):
            return
        self.points, self.unit = points, unit
        self._changed()

    def draw(self, p: QPainter) -> None:
        r = QRectF(self.rect()).adjusted(52, 22, -12, -24)
        p.setPen(QColor(SOFT))
        p.drawText(
            QRectF(0, 0, self.width(), 18),
            Qt.AlignmentFlag.AlignLeft,
            f"  Price ({self.unit})" if self.unit else "  Price",
        )
        p.setPen(QPen(QColor(GRID), 1))
        for i in range(5):
            y = r.top() + r.height() * i / 4
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        if not self.points:
            p.setPen(QColor(DIM))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "No trades yet")
            return
        t0, t1 = self.points[0][0], self.points[-1][0]
        span = max(1, t1 - t0)
        lo = min(v for _, v in self.points)
        hi = max(v for _, v in self.points)
        pad = (hi - lo) * 0.12 or hi * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad

        def at(t: int, v: float) -> QPointF:
            x = r.left() + r.width() * ((t - t0) / span if t1 > t0 else 1.0)
            return QPointF(x, r.bottom() - r.height() * (v - lo) / (hi - lo))

        pts = [at(t, v) for t, v in self.points]  # at most CHART_POINTS (the desk thins)
        if len(pts) == 1:
            pts.insert(0, QPointF(r.left(), pts[0].y()))
        area = QPolygonF([QPointF(pts[0].x(), r.bottom()), *pts, QPointF(pts[-1].x(), r.bottom())])
        g = QLinearGradient(0, r.top(), 0, r.bottom())
        g.setColorAt(0, QColor(61, 220, 151, 90))
        g.setColorAt(1, QColor(61, 220, 151, 0))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(g)
        p.drawPolygon(area)
        p.setBrush(Qt.BrushStyle.NoBrush)
        # segments, not one polyline: stroking a zigzag polyline computes every join with
        # antialiasing (9 ms for 120 points here); round caps close the joins (1 ms)
        p.setPen(QPen(QColor(GREEN), 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLines([QLineF(a, b) for a, b in pairwise(pts)])
        p.setBrush(QColor(GREEN))
        p.drawEllipse(pts[-1], 3, 3)
        p.setPen(QColor(DIM))
        for i in range(5):
            v = hi - (hi - lo) * i / 4
            p.drawText(
                QRectF(0, r.top() + r.height() * i / 4 - 8, 46, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{v:.3g}",
            )
        fmt = "%H:%M" if span < 20 * 3600_000 else "%d %b"
        for t, align in ((t0, Qt.AlignmentFlag.AlignLeft), (t1, Qt.AlignmentFlag.AlignRight)):
            p.drawText(
                QRectF(r.left(), r.bottom() + 6, r.width(), 16),
                align,
                dt.datetime.fromtimestamp(t / 1000).strftime(fmt),
            )


class DepthChart(CachedChart):
    """Cumulative amounts offered around the mid price: bids (green) left, asks (red) right."""

    def __init__(self) -> None:
        super().__init__()
        self.asks: tuple[LevelView, ...] = ()
        self.bids: tuple[LevelView, ...] = ()
        self.unit = ""

    def set_book(self, asks: tuple[LevelView, ...], bids: tuple[LevelView, ...], unit: str) -> None:
        live = (
            tuple(lv for lv in asks if not lv.stale),
            tuple(lv for lv in bids if not lv.stale),
            unit,
        )
        if live == (self.asks, self.bids, self.unit):
            return
        self.asks, self.bids, self.unit = live
        self._changed()

    def draw(self, p: QPainter) -> None:
        r = QRectF(self.rect()).adjusted(52, 22, -12, -24)
        p.setPen(QColor(SOFT))
        p.drawText(
            QRectF(0, 0, self.width(), 18),
            Qt.AlignmentFlag.AlignLeft,
            f"  Depth ({self.unit})" if self.unit else "  Depth",
        )
        p.setPen(QPen(QColor(GRID), 1))
        for i in range(5):
            gy = r.top() + r.height() * i / 4
            p.drawLine(QPointF(r.left(), gy), QPointF(r.right(), gy))
        if not self.asks and not self.bids:
            p.setPen(QColor(DIM))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "No live offers")
            return
        prices = [lv.price for lv in self.asks + self.bids]
        lo, hi = min(prices), max(prices)
        pad = (hi - lo) * 0.06 or hi * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
        top = max([lv.total for lv in self.asks + self.bids] + [1e-9]) * 1.08

        def x(price: float) -> float:
            return r.left() + r.width() * (price - lo) / (hi - lo)

        def y(total: float) -> float:
            return r.bottom() - r.height() * total / top

        for levels, colour, edge in ((self.bids, GREEN, r.left()), (self.asks, RED, r.right())):
            if not levels:
                continue
            path = QPainterPath(QPointF(x(levels[0].price), r.bottom()))
            prev = 0.0
            for lv in levels:
                path.lineTo(QPointF(x(lv.price), y(prev)))
                path.lineTo(QPointF(x(lv.price), y(lv.total)))
                prev = lv.total
            path.lineTo(QPointF(edge, y(prev)))
            path.lineTo(QPointF(edge, r.bottom()))
            path.closeSubpath()
            c = QColor(colour)
            c.setAlpha(60)
            p.fillPath(path, c)
            p.setPen(QPen(QColor(colour), 1.6))
            p.drawPath(path)
        p.setPen(QColor(DIM))
        for i in range(5):
            v = top - top * i / 4
            p.drawText(
                QRectF(0, r.top() + r.height() * i / 4 - 8, 46, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{v:.0f}",
            )
        for v, align in (
            (lo, Qt.AlignmentFlag.AlignLeft),
            ((lo + hi) / 2, Qt.AlignmentFlag.AlignHCenter),
            (hi, Qt.AlignmentFlag.AlignRight),
        ):
            p.drawText(QRectF(r.left(), r.bottom() + 6, r.width(), 16), align, f"{v:.3g}")


class ExchangeView(Page):
    """The Exchange page (see the module docstring)."""

    def __init__(self, bridge: Bridge) -> None:
        super().__init__("Exchange", "Artist coins against credits, offer by offer")
        self.bridge = bridge
        self.pairs: list[PairView] = []
        self.page: ExchangePage | None = None
        self.quote: Quote | None = None
        self._quote_args: tuple | None = None
        self._loading = False
        self._again = False
        self._load_error = False
        # header: the pair and its figures
        self.pair_box = QComboBox()
        self.pair_box.setMinimumWidth(170)
        self.pair_box.currentIndexChanged.connect(self._pair_chosen)
        self.header.addWidget(label("Pair", "dim"))
        self.header.addWidget(self.pair_box)
        self.figures: dict[str, QLabel] = {}
        for key in ("Last", "Ask", "Bid", "Spread", "24 h volume"):
            box = QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(label(key.upper(), "statLabel"))
            value = label("—", "h2")
            box.addWidget(value)
            self.figures[key] = value
            self.header.addSpacing(10)
            self.header.addLayout(box)
        self.warning = label("", "dim", wrap=True)
        self.warning.setStyleSheet(f"color: {WARN};")
        self.warning.hide()
        self.outer.addWidget(self.warning)
        # top: charts and the book (left), the order form (right)
        top = QHBoxLayout()
        top.setSpacing(16)
        left = QVBoxLayout()
        left.setSpacing(10)
        charts = QHBoxLayout()
        charts.setSpacing(12)
        self.price_chart = PriceChart()
        self.depth_chart = DepthChart()
        for chart in (self.price_chart, self.depth_chart):
            frame = QFrame()
            frame.setObjectName("card")
            lay = QVBoxLayout(frame)
            lay.setContentsMargins(6, 8, 6, 4)
            lay.addWidget(chart)
            charts.addWidget(frame, 1)
        left.addLayout(charts)
        book = QHBoxLayout()
        book.setSpacing(12)
        cols = ["PRICE", "AMOUNT", "DEPTH", "SETTLED BY"]
        self.bids_table = read_only_table(cols, {0: 62, 1: 62, 2: 56}, stretch=3)
        self.asks_table = read_only_table(cols, {0: 62, 1: 62, 2: 56}, stretch=3)
        for title, table in (
            ("Buyers (bids)", self.bids_table),
            ("Sellers (asks)", self.asks_table),
        ):
            col = QVBoxLayout()
            col.setSpacing(4)
            col.addWidget(label(title, "h2"))
            col.addWidget(table, 1)
            book.addLayout(col, 1)
        left.addLayout(book, 1)
        self.book_note = label(
            "⚠ marks a settler not seen for 15 minutes: orders skip its offers until it is back.",
            "dim",
            wrap=True,
        )
        left.addWidget(self.book_note)
        top.addLayout(left, 1)
        top.addWidget(self._order_form(), 0)
        self.outer.addLayout(top, 5)
        # bottom: the user's orders and trades, the market's trades, the settlers
        self.tabs = QTabWidget()
        self.orders_table = read_only_table(
            ["PAIR", "SIDE", "PRICE", "AMOUNT", "LEFT", "SETTLER", "STATUS", ""],
            {0: 100, 1: 60, 2: 80, 3: 80, 4: 80, 6: 110, 7: 100},
            stretch=5,
        )
        self.orders_table.verticalHeader().setDefaultSectionSize(38)
        self.history_table = read_only_table(
            ["WHEN", "PAIR", "SIDE", "AMOUNT", "PRICE", "TOTAL", "AS", "STATUS"],
            {0: 110, 1: 100, 2: 60, 3: 100, 4: 80, 5: 100, 6: 70},
            stretch=7,
        )
        self.trades_table = read_only_table(
            ["WHEN", "SIDE", "PRICE", "AMOUNT", "TOTAL"], {0: 120, 1: 70, 2: 90, 3: 100}, stretch=4
        )
        self.settlers_table = read_only_table(
            ["SETTLER", "OFFERS", "LAST SEEN", "PEER ID"], {0: 170, 1: 70, 2: 300}, stretch=3
        )
        self.tabs.addTab(self.orders_table, "My open orders")
        self.tabs.addTab(self.history_table, "My trades")
        self.tabs.addTab(self.trades_table, "Market trades")
        self.tabs.addTab(self.settlers_table, "Settlers")
        self.outer.addWidget(self.tabs, 3)
        self._quote_timer = QTimer(self)
        self._quote_timer.setSingleShot(True)
        self._quote_timer.setInterval(250)
        self._quote_timer.timeout.connect(self.request_quote)

    def _order_form(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("card")
        lay = QVBoxLayout(frame)
        lay.setContentsMargins(16, 14, 16, 12)
        lay.setSpacing(7)
        frame.setFixedWidth(330)
        sides = QHBoxLayout()
        self.buy_btn = button("Buy", "ghost")
        self.sell_btn = button("Sell", "ghost")
        self.side_group = QButtonGroup(self)
        for b in (self.buy_btn, self.sell_btn):
            b.setCheckable(True)
            self.side_group.addButton(b)
            sides.addWidget(b)
        self.buy_btn.setChecked(True)
        lay.addLayout(sides)
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("Amount")
        self.limit = QLineEdit()
        self.limit.setPlaceholderText("Limit price (optional)")
        self.rest = QCheckBox("Rest what is not filled as my offer")
        self.rest.setToolTip(
            "Needs a limit price: the unfilled part waits in the book at that "
            "price, settled by your node while it runs."
        )
        for w in (self.amount, self.limit, self.rest):
            lay.addWidget(w)
        self.balances = label("", "dim", wrap=True)
        lay.addWidget(self.balances)
        self.quote_text = label("Type an amount to see what the order gets.", "dim", wrap=True)
        lay.addWidget(self.quote_text)
        self.fills_table = read_only_table(["PRICE", "AMOUNT", "TOTAL"], {0: 80, 1: 80}, stretch=2)
        self.fills_table.setMaximumHeight(96)
        lay.addWidget(self.fills_table)
        self.place_btn = button("Confirm order", "primary")
        self.place_btn.setEnabled(False)
        lay.addWidget(self.place_btn)
        self.form_msg = MessageBar()
        lay.addWidget(self.form_msg)
        lay.addStretch(1)
        self.amount.textChanged.connect(self._inputs_changed)
        self.limit.textChanged.connect(self._inputs_changed)
        self.rest.toggled.connect(self._inputs_changed)
        self.side_group.buttonToggled.connect(lambda *_: self._inputs_changed())
        self.place_btn.clicked.connect(self.place)
        return frame

    # -- data ----------------------------------------------------------------------------------
    @property
    def current(self) -> PairView | None:
        i = self.pair_box.currentIndex()
        return self.pairs[i] if 0 <= i < len(self.pairs) else None

    def refresh(self) -> None:
        self.stale = False
        if self._loading:
            self._again = True
            return
        self._loading = True
        job = self.bridge.exchange("pairs")
        job.finished.connect(self._show_pairs)
        job.failed.connect(self._failed)

    def _failed(self, message: str) -> None:
        self._loading = False
        self._load_error = True
        self.message.show_error(message)

    def _show_pairs(self, pairs: list[PairView]) -> None:
        chosen = self.current
        same = [(p.base, p.quote, p.last) for p in pairs] == [
            (p.base, p.quote, p.last) for p in self.pairs
        ]
        self.pairs = list(pairs)
        if same and self.pairs:  # the same pairs: the picker stays as it is
            self._load_page()
            return
        self.pair_box.blockSignals(True)
        self.pair_box.clear()
        for p in self.pairs:
            self.pair_box.addItem(f"{p.label}   {p.last}", p.base)
        keep = next(
            (
                i
                for i, p in enumerate(self.pairs)
                if chosen and (p.base, p.quote) == (chosen.base, chosen.quote)
            ),
            0,
        )
        self.pair_box.setCurrentIndex(keep if self.pairs else -1)
        self.pair_box.blockSignals(False)
        if not self.pairs:
            self._loading = False
            self.message.show_warning("No market yet: nobody has offered a coin here.")
            return
        self._load_page()

    def _load_page(self) -> None:
        pair = self.current
        if pair is None:
            self._loading = False
            return
        self._loading = True
        job = self.bridge.exchange("page", pair.base, pair.quote)
        job.finished.connect(self._show_page)
        job.failed.connect(self._failed)

    def choose_pair(self, label_text: str) -> None:
        """Pick a pair by its label (``"MOSS/CRED"``)."""
        for i, p in enumerate(self.pairs):
            if p.label == label_text:
                self.pair_box.setCurrentIndex(i)
                return
        raise KeyError(label_text)

    def _pair_chosen(self, _index: int) -> None:
        self.page = None
        self.quote = None
        self._show_quote(None)
        if not self._loading:
            self._load_page()
        else:
            self._again = True

    def _show_page(self, page: ExchangePage) -> None:
        self._loading = False
        pair = self.current
        if pair is not None and (page.pair.base, page.pair.quote) != (pair.base, pair.quote):
            self._load_page()  # the pair changed while this one loaded
            return
        before, self.page = self.page, page
        if page == before:  # a refresh that brings the same page leaves the widgets alone
            self._after_page()
            return
        if self._load_error:  # loading works again; other messages stay until replaced
            self._load_error = False
            self.message.clear_message()
        q, b = page.pair.quote_symbol, page.pair.base_symbol
        self.figures["Last"].setText(page.last_text)
        self.figures["Ask"].setText(page.pair.best_ask)
        self.figures["Bid"].setText(page.pair.best_bid)
        self.figures["Spread"].setText(page.spread_text)
        self.figures["24 h volume"].setText(page.volume_text)
        self.warning.setText(page.warning)
        self.warning.setVisible(bool(page.warning))
        unit = f"{q} per {b}"
        self.price_chart.set_points(page.history, unit)
        self.depth_chart.set_book(page.asks, page.bids, b)
        self.book_note.setVisible(any(lv.stale for lv in page.asks + page.bids))
        for table, levels, colour in (
            (self.asks_table, page.asks, RED),
            (self.bids_table, page.bids, GREEN),
        ):
            fill(
                table,
                [
                    (
                        (lv.price_text, DIM if lv.stale else colour),
                        (lv.amount_text, DIM if lv.stale else TEXT),
                        (f"{lv.total:g}", DIM),
                        (lv.settlers, WARN if lv.stale else SOFT),
                    )
                    for lv in levels
                ],
            )
        self.amount.setPlaceholderText(f"Amount of {b}")
        self.limit.setPlaceholderText(f"Limit price, {q} per {b} (optional)")
        self.balances.setText(f"You have {page.base_available} and {page.quote_available}.")
        if before is None or page.orders != before.orders:
            self._fill_orders(page)
        if before is None or page.my_trades != before.my_trades:
            self._fill_history(page)
        if before is None or page.trades != before.trades:
            self._fill_trades(page)
        if before is None or page.settlers != before.settlers:
            self._fill_settlers(page)
        self._after_page()

    def _fill_history(self, page: ExchangePage) -> None:
        fill(
            self.history_table,
            [
                (
                    when(t.timestamp),
                    t.pair,
                    (t.side, GREEN if t.side == "buy" else RED),
                    t.amount_text,
                    t.price_text,
                    t.total_text,
                    t.role,
                    (
                        t.status,
                        GREEN if t.status == "filled" else WARN if t.status == "waiting" else SOFT,
                    ),
                )
                for t in page.my_trades
            ],
        )

    def _fill_trades(self, page: ExchangePage) -> None:
        fill(
            self.trades_table,
            [
                (
                    when(t.timestamp),
                    (t.side, GREEN if t.side == "buy" else RED),
                    t.price_text,
                    t.amount_text,
                    t.total_text,
                )
                for t in page.trades
            ],
        )

    def _fill_settlers(self, page: ExchangePage) -> None:
        fill(
            self.settlers_table,
            [
                (s.name, str(s.offers), (s.seen_text, SOFT if s.live else WARN), s.peer_id)
                for s in page.settlers
            ],
        )

    def _after_page(self) -> None:
        if self._again:
            self._again = False
            self.refresh()
        elif self.amount.text().strip():
            self.request_quote()  # the book moved: the quote shown follows it

    def _fill_orders(self, page: ExchangePage) -> None:
        fill(
            self.orders_table,
            [
                (
                    o.pair,
                    (o.side, GREEN if o.side == "buy" else RED),
                    o.price_text,
                    o.amount_text,
                    o.left_text,
                    o.settler,
                    o.status,
                )
                for o in page.orders
            ],
        )
        for row, o in enumerate(page.orders):
            b = button("Cancel", "ghost")
            b.clicked.connect(lambda _=False, oid=o.id: self.cancel(oid))
            self.orders_table.setCellWidget(row, 7, b)
        self.tabs.setTabText(0, f"My open orders ({len(page.orders)})")

    # -- the order form ------------------------------------------------------------------------
    @property
    def side(self) -> str:
        return "sell" if self.sell_btn.isChecked() else "buy"

    def set_side(self, side: str) -> None:
        (self.sell_btn if side == "sell" else self.buy_btn).setChecked(True)

    def _inputs_changed(self, *_: object) -> None:
        self.place_btn.setEnabled(False)
        self.form_msg.clear_message()
        self._quote_timer.start()

    def _args(self) -> tuple | None:
        pair = self.current
        if pair is None:
            return None
        return (
            pair.base,
            pair.quote,
            self.side,
            self.amount.text(),
            self.limit.text(),
            self.rest.isChecked(),
        )

    def request_quote(self) -> None:
        args = self._args()
        if args is None or not self.amount.text().strip():
            self._show_quote(None)
            return
        job: Job = self.bridge.exchange("quote", *args)
        job.finished.connect(lambda q, a=args: self._quoted(a, q))
        job.failed.connect(lambda m, a=args: self._quote_failed(a, m))

    def _quoted(self, args: tuple, quote: Quote) -> None:
        if args != self._args():
            return  # the inputs changed since: a newer quote is on its way
        self._quote_args = args
        self._show_quote(quote)

    def _quote_failed(self, args: tuple, message: str) -> None:
        if args != self._args():
            return
        self._show_quote(None)
        self.quote_text.setText(message[:1].upper() + message[1:])
        self.quote_text.setStyleSheet(f"color: {RED};")

    def _show_quote(self, quote: Quote | None) -> None:
        self.quote = quote
        self.quote_text.setStyleSheet("")
        if quote is None:
            self.quote_text.setText("Type an amount to see what the order gets.")
            fill(self.fills_table, [])
            self.place_btn.setEnabled(False)
            self.place_btn.setText("Confirm order")
            return
        self.quote_text.setText(quote.summary)
        fill(self.fills_table, [(f.price_text, f.amount_text, f.total_text) for f in quote.fills])
        self.place_btn.setEnabled(quote.can_place)
        verb = "buy" if quote.side == "buy" else "sell"
        if quote.base_units:
            self.place_btn.setText(f"{verb.capitalize()} {quote.base_text} for {quote.quote_text}")
        elif quote.rests:
            self.place_btn.setText(f"Rest a {verb} offer for {quote.unfilled_text}")
        else:
            self.place_btn.setText("Confirm order")

    def place(self) -> None:
        args, quote = self._quote_args, self.quote
        if quote is None or args is None or args != self._args():
            self.form_msg.show_error("The order changed since its quote; check it again.")
            return
        self.place_btn.setEnabled(False)
        job = self.bridge.exchange("place", *args, quote)

        def ok(text: str) -> None:
            self.form_msg.show_success(text)
            self.amount.blockSignals(True)
            self.amount.clear()
            self.amount.blockSignals(False)
            self._show_quote(None)
            self.refresh()

        def failed(message: str) -> None:
            self.form_msg.show_error(message)
            self.request_quote()

        job.finished.connect(ok)
        job.failed.connect(failed)

    def cancel(self, offer: bytes) -> None:
        job = self.bridge.exchange("cancel", offer)

        def done(text: str) -> None:
            self.message.show_success(text)
            self.refresh()

        job.finished.connect(done)
        job.failed.connect(self.message.show_error)
