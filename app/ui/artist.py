"""The artist page: the profile (name, bio, links), releases, the artist's coin (price, holders,
staked share, what its charter commits to holders), the user's tier and passes on it, the
artist's proposals and campaigns, and reviews from verified buyers with the artist's replies; a
user holding a granted purchase writes a review here. Reached from an artist's name on a release
page, in the library and in the player bar. Everything comes through the bridge
(``Bridge.artists``)."""

from __future__ import annotations

import datetime as dt
import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.bridge import Bridge
from app.services.artist_desk import ArtistPage, CoinLine, stars
from app.ui.tables import DIM, GREEN, SOFT, fill, read_only_table
from app.ui.widgets import MessageBar, button, card, label

WARN = "#ffd27a"


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %Y")


class CoinBox(QFrame):
    """One of the artist's coins: its figures, its charter, the user's tier and passes."""

    def __init__(self, coin: CoinLine) -> None:
        super().__init__()
        self.setObjectName("card")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 14, 18, 14)
        lay.setSpacing(6)
        lay.addWidget(label(f"{coin.symbol} — {coin.name}", "h2"))
        figures = QHBoxLayout()
        figures.setSpacing(28)
        price, _, note = coin.price.partition(" (")
        for caption, value in (
            ("PRICE" + (f" ({note.rstrip(')')})" if note else ""), price),
            ("HOLDERS", str(coin.holders)),
            ("SUPPLY", coin.supply),
        ):
            box = QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(label(caption.upper(), "statLabel"))
            value_label = label(value, "h2")
            box.addWidget(value_label)
            figures.addLayout(box)
        figures.addStretch(1)
        lay.addLayout(figures)
        lay.addWidget(label(coin.staked, "dim", wrap=True))
        self.charter = label(coin.charter, None, wrap=True)
        lay.addWidget(self.charter)
        mine = label(f"{coin.mine} · {coin.tier}", None, wrap=True)
        mine.setStyleSheet(f"color: {GREEN};" if coin.tier.startswith("Your tier") else "")
        lay.addWidget(mine)
        for t in coin.tiers:
            state = (
                f"claimed until {_day(t.claimed_until)}"
                if t.claimed_until
                else ("you qualify: claim it in Wallet → Passes" if t.qualifies else "not yet")
            )
            line = label(f"◆ {t.title}: {t.need} — {state}", "dim", wrap=True)
            if t.qualifies or t.claimed_until:
                line.setStyleSheet(f"color: {SOFT};")
            lay.addWidget(line)


class ArtistView(QWidget):
    """The artist page (a view of its own in the main window's stack)."""

    back = Signal()
    open_release = Signal(bytes)
    open_campaigns = Signal()

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.setObjectName("page")
        self.page: ArtistPage | None = None
        self._artist: bytes | str | None = None
        self.stale = True
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(scroll)
        body = QWidget()
        body.setObjectName("page")
        scroll.setWidget(body)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(32, 20, 32, 18)
        lay.setSpacing(12)
        self.back_btn = button("‹  Back", "link")
        self.back_btn.clicked.connect(self.back.emit)
        lay.addWidget(self.back_btn, 0, Qt.AlignmentFlag.AlignLeft)
        self.eyebrow = label("ARTIST", "eyebrow")
        self.name = label("", "h1", wrap=True)
        self.seen = label("", "dim")
        self.bio = label("", None, wrap=True)
        self.links = label("", "dim", wrap=True)
        self.links.setTextFormat(Qt.TextFormat.RichText)
        self.links.setOpenExternalLinks(False)
        self.links.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.eyebrow, self.name, self.seen, self.bio, self.links):
            lay.addWidget(w)
        self.message = MessageBar()
        lay.addWidget(self.message)
        cols = QHBoxLayout()
        cols.setSpacing(20)
        left = QVBoxLayout()
        left.setSpacing(10)
        right = QVBoxLayout()
        right.setSpacing(10)
        cols.addLayout(left, 1)
        cols.addLayout(right, 1)
        lay.addLayout(cols)
        # releases
        left.addWidget(label("Releases", "h2"))
        self.releases = read_only_table(
            ["TITLE", "GENRE", "TRACKS", "PRICE", "RATING"], {1: 90, 2: 60, 3: 110, 4: 120}, 0
        )
        self.releases.setMinimumWidth(300)
        self.releases.setToolTip("Double-click a release to open it in the store")
        self.releases.cellDoubleClicked.connect(self._release_clicked)
        left.addWidget(self.releases)
        # reviews
        self.reviews_title = label("Reviews from verified buyers", "h2")
        left.addWidget(self.reviews_title)
        self.reviews_box = QVBoxLayout()
        self.reviews_box.setSpacing(8)
        left.addLayout(self.reviews_box)
        write, wl = card("Write a review")
        self.write_card = write
        self.review_release = QComboBox()
        self.review_stars = QComboBox()
        for n in range(5, 0, -1):
            self.review_stars.addItem(stars(n), n)
        self.review_text = QLineEdit()
        self.review_text.setPlaceholderText("What did you think? (optional)")
        self.review_btn = button("Sign review", "primary")
        self.review_btn.clicked.connect(self.write_review)
        self.review_msg = MessageBar()
        row = QHBoxLayout()
        row.addWidget(self.review_release, 2)
        row.addWidget(self.review_stars, 1)
        wl.addLayout(row)
        wl.addWidget(self.review_text)
        wl.addWidget(self.review_btn, 0, Qt.AlignmentFlag.AlignRight)
        wl.addWidget(self.review_msg)
        left.addWidget(write)
        left.addStretch(1)
        # coin, campaigns, proposals
        self.coin_title = label("Coin", "h2")
        right.addWidget(self.coin_title)
        self.coins_box = QVBoxLayout()
        self.coins_box.setSpacing(10)
        right.addLayout(self.coins_box)
        right.addWidget(label("Campaigns", "h2"))
        self.campaigns_box = QVBoxLayout()
        self.campaigns_box.setSpacing(6)
        right.addLayout(self.campaigns_box)
        self.to_campaigns = button("Open Campaigns to pledge  ›", "link")
        self.to_campaigns.clicked.connect(self.open_campaigns.emit)
        right.addWidget(self.to_campaigns, 0, Qt.AlignmentFlag.AlignLeft)
        right.addWidget(label("Proposals", "h2"))
        self.proposals = label("", "dim", wrap=True)
        right.addWidget(self.proposals)
        right.addStretch(1)

    # -- loading -----------------------------------------------------------------------------------
    def open(self, artist: bytes | str) -> None:
        """Show the page of ``artist`` (a public key, or a name as the library shows it)."""
        self._artist = artist
        self.page = None
        self.message.clear_message()
        self.review_msg.clear_message()
        self.name.setText(artist if isinstance(artist, str) else "…")
        self.refresh()

    def refresh(self) -> None:
        self.stale = False
        if self._artist is None:
            return
        job = self.bridge.artists("page", self._artist)
        job.finished.connect(self.show_page)
        job.failed.connect(self.message.show_error)

    def show_page(self, page: ArtistPage) -> None:
        self.page = page
        self._artist = page.key  # a name resolved once stays this artist
        self.name.setText(page.name)
        self.seen.setText(f"{page.peer_id[:12]}…{page.peer_id[-6:]} · {page.last_seen}")
        self.bio.setText(page.bio)
        self.bio.setVisible(bool(page.bio))
        self.links.setText("  ·  ".join(html.escape(link) for link in page.links))
        self.links.setVisible(bool(page.links))
        fill(
            self.releases,
            [
                (
                    r.title,
                    r.genre,
                    str(r.tracks),
                    ("Owned", GREEN) if r.owned else r.price,
                    (r.rating or "no reviews", SOFT if r.rating else DIM),
                )
                for r in page.releases
            ],
        )
        self.releases.setFixedHeight(
            self.releases.horizontalHeader().height()
            + 6
            + sum(self.releases.rowHeight(r) for r in range(len(page.releases)))
        )
        self._clear(self.coins_box)
        for coin in page.coins:
            self.coins_box.addWidget(CoinBox(coin))
        self.coin_title.setText("Coin" if len(page.coins) <= 1 else "Coins")
        if not page.coins:
            self.coins_box.addWidget(
                label("No coin: this artist has not issued one.", "dim", wrap=True)
            )
        self._clear(self.campaigns_box)
        for c in page.campaigns:
            box = QVBoxLayout()
            box.setSpacing(3)
            box.addWidget(label(f"{c.title} — {c.status}", None, wrap=True))
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(c.fraction * 1000))
            bar.setTextVisible(False)
            box.addWidget(bar)
            box.addWidget(label(f"{c.progress} · pledges until {_day(c.deadline)}", "dim"))
            holder = QWidget()
            holder.setLayout(box)
            self.campaigns_box.addWidget(holder)
        if not page.campaigns:
            self.campaigns_box.addWidget(label("No campaigns.", "dim"))
        self.to_campaigns.setVisible(any(c.status == "open" for c in page.campaigns))
        self.proposals.setText(
            "\n".join(f"• {p.title} — {p.status}, closes {_day(p.closes)}" for p in page.proposals)
            or "No proposals."
        )
        self.reviews_title.setText(f"Reviews from verified buyers · {page.rating}")
        self._clear(self.reviews_box)
        for rv in page.reviews:
            frame = QFrame()
            frame.setObjectName("card")
            bl = QVBoxLayout(frame)
            bl.setContentsMargins(14, 10, 14, 10)
            bl.setSpacing(3)
            head = label(
                f"<span style='color:{WARN}'>{stars(rv.rating)}</span>  "
                f"<b>{html.escape(rv.reviewer)}</b>"
                f"<span style='color:{DIM}'> on {html.escape(rv.release)} · "
                f"{_day(rv.timestamp)} · verified buyer</span>"
            )
            head.setTextFormat(Qt.TextFormat.RichText)
            bl.addWidget(head)
            if rv.text:
                bl.addWidget(label(rv.text, None, wrap=True))
            if rv.reply:
                reply = label(f"↳ {page.name}: {rv.reply}", "dim", wrap=True)
                reply.setStyleSheet(f"color: {SOFT}; padding-left: 14px;")
                bl.addWidget(reply)
            elif page.is_me:  # the artist answers on its own page
                row = QHBoxLayout()
                answer = QLineEdit()
                answer.setPlaceholderText("Reply as the artist")
                send = button("Reply", "ghost")
                send.clicked.connect(
                    lambda _=False, rid=rv.id, box=answer: self.write_reply(rid, box.text())
                )
                row.addWidget(answer, 1)
                row.addWidget(send)
                bl.addLayout(row)
            self.reviews_box.addWidget(frame)
        if not page.reviews:
            self.reviews_box.addWidget(label("No reviews yet.", "dim"))
        reviewable = [r for r in page.releases if r.can_review]
        current = self.review_release.currentData()
        self.review_release.clear()
        for r in reviewable:
            self.review_release.addItem(r.title, r.id)
        if current is not None:
            i = self.review_release.findData(current)
            if i >= 0:
                self.review_release.setCurrentIndex(i)
        self.write_card.setVisible(bool(reviewable))

    @staticmethod
    def _clear(box: QVBoxLayout) -> None:
        while box.count():
            item = box.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()

    def _release_clicked(self, row: int, _col: int) -> None:
        if self.page is not None and 0 <= row < len(self.page.releases):
            self.open_release.emit(self.page.releases[row].id)

    # -- writing -----------------------------------------------------------------------------------
    def write_reply(self, review: bytes, text: str) -> None:
        job = self.bridge.artists("reply", review, text)
        job.finished.connect(self._replied)
        job.failed.connect(self.message.show_error)

    def _replied(self, text: str) -> None:
        self.message.show_success(text)
        self.refresh()

    def write_review(self) -> None:
        self.review_msg.clear_message()
        listing = self.review_release.currentData()
        if listing is None:
            self.review_msg.show_error("Choose a release you bought.")
            return
        self.review_btn.setEnabled(False)
        job = self.bridge.artists(
            "review", listing, self.review_stars.currentData(), self.review_text.text()
        )

        def ok(text: str) -> None:
            self.review_btn.setEnabled(True)
            self.review_msg.show_success(text)
            self.review_text.clear()
            self.refresh()

        def failed(text: str) -> None:
            self.review_btn.setEnabled(True)
            self.review_msg.show_error(text)

        job.finished.connect(ok)
        job.failed.connect(failed)
