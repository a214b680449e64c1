"""Network: peers, reachability, seeding and bandwidth; Settings: identity and public profile,
recovery phrase, storage folders, the seeding quota, bandwidth caps and LAN discovery."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
)

from app.bridge import Bridge
from app.services.session.network import NetworkStatus
from app.ui.tables import DIM, GREEN, SOFT, fill, read_only_table
from app.ui.widgets import (
    MessageBar,
    Page,
    StatCard,
    button,
    card,
    fmt_bytes,
    form_card,
    label,
)


class NetworkPage(Page):
    """The session's node: peers (known by name, or by ID), reachability, seeding, bandwidth."""

    def __init__(self, bridge: Bridge) -> None:
        super().__init__("Network", "Your node on the swarm")
        self.bridge = bridge
        self.status: NetworkStatus | None = None
        cards = QHBoxLayout()
        self.c_peers = StatCard("Peers connected")
        self.c_reach = StatCard("Reachability")
        self.c_seed = StatCard("Seeding")
        self.c_bw = StatCard("Bandwidth ↓ / ↑")
        for c in (self.c_peers, self.c_reach, self.c_seed, self.c_bw):
            cards.addWidget(c)
        self.outer.addLayout(cards)
        self.mode = label("", "dim", wrap=True)
        self.mode.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outer.addWidget(self.mode)
        self.table = read_only_table(
            ["PEER", "ROLE", "PEER ID", "ADDRESS", "CONNECTION", "RECEIVED", "SENT", "STATUS"],
            {0: 170, 1: 70, 3: 200, 4: 150, 5: 85, 6: 85, 7: 85},
            stretch=2,
        )
        self.outer.addWidget(self.table, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(2000)
        self._timer.timeout.connect(lambda: self.refresh() if self.isVisible() else None)
        self._timer.start()

    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.call("network_status", io=True)
        job.finished.connect(self._show)
        job.failed.connect(self.message.show_error)

    def _show(self, st: NetworkStatus) -> None:
        self.status = st
        self.c_peers.set(f"{len(st.online)} / {len(st.peers)}")
        self.c_reach.set(st.reach)
        self.c_seed.set(f"{st.seeding_items} items · {fmt_bytes(st.seeding_bytes)}")
        self.c_bw.set(f"{fmt_bytes(st.rate_in)}/s · {fmt_bytes(st.rate_out)}/s")
        parts = [
            st.mode[:1].upper() + st.mode[1:],
            (
                f"this node {st.peer_id[:12]}…{st.peer_id[-6:]} listens on {st.listen}"
                if st.peer_id
                else f"listening: {st.listen}"
            ),
            st.reachability,
        ]
        if st.discovery:
            parts.append(st.discovery)
        parts.append(
            f"received {fmt_bytes(st.bytes_in)}, sent {fmt_bytes(st.bytes_out)}"
            + (f", {st.downloads} downloads running" if st.downloads else "")
        )
        self.mode.setText("  ·  ".join(parts))
        fill(
            self.table,
            [
                (
                    p.name,
                    p.role,
                    (p.peer_id, SOFT),
                    p.address,
                    ("via relay" if p.connection == "relayed" else "direct")
                    + (", dialled in" if p.inbound else ", dialled out")
                    if p.online
                    else "",
                    fmt_bytes(p.bytes_in) if p.online else "",
                    fmt_bytes(p.bytes_out) if p.online else "",
                    ("● online", GREEN) if p.online else ("○ offline", DIM),
                )
                for p in st.peers
            ],
        )


class SettingsPage(Page):
    profilePublished = Signal()  # a new name, bio or links went into the ledger

    def __init__(self, bridge: Bridge) -> None:
        super().__init__("Settings", "Identity, recovery, storage and network")
        self.bridge = bridge
        grid = QGridLayout()
        grid.setSpacing(16)
        # identity
        ident, il = form_card("Identity and public profile")
        self.name = QLineEdit()
        self.name.setMaxLength(80)
        self.name.setPlaceholderText("The name peers see")
        self.bio = QPlainTextEdit()
        self.bio.setPlaceholderText("A few words about you (optional)")
        self.bio.setFixedHeight(64)
        self.links = QPlainTextEdit()
        self.links.setPlaceholderText("Links, one per line (up to 8)")
        self.links.setFixedHeight(52)
        self.publish_profile = button("Publish profile", "ghost")
        self.profile_state = label("", "dim", wrap=True)
        self.profile_msg = MessageBar()
        self.peer = label("", "mono")
        self.key = label("", "mono", wrap=True)
        self.created = label("", "dim")
        for w in (self.peer, self.key):
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        il.addRow("Name", self.name)
        il.addRow("Bio", self.bio)
        il.addRow("Links", self.links)
        prow = QHBoxLayout()
        prow.addWidget(self.profile_state, 1)
        prow.addWidget(self.publish_profile)
        il.addRow(prow)
        il.addRow(self.profile_msg)
        il.addRow("Peer ID", self.peer)
        il.addRow("Public key", self.key)
        il.addRow("Created", self.created)
        grid.addWidget(ident, 0, 0)
        # storage
        store, sl = form_card("Storage")
        self.profile = label("", "mono", wrap=True)
        self.content = label("", "mono", wrap=True)
        self.used = label("", "dim")
        self.quota = QDoubleSpinBox()
        self.quota.setRange(0, 10_000)
        self.quota.setSuffix(" GB")
        self.quota.setDecimals(1)
        self.save_quota = button("Save", "ghost")
        qrow = QHBoxLayout()
        qrow.addWidget(self.quota)
        qrow.addWidget(self.save_quota)
        sl.addRow("Profile", self.profile)
        sl.addRow("Music store", self.content)
        sl.addRow("Used", self.used)
        sl.addRow("Seeding quota", qrow)
        self.store_msg = MessageBar()
        sl.addRow(self.store_msg)
        grid.addWidget(store, 0, 1)
        # network: bandwidth caps (live) and LAN discovery (next unlock)
        net, nl = card("Network")
        self.max_up = self._rate_box()
        self.max_down = self._rate_box()
        self.lan = QCheckBox("Find peers on this network (mDNS)")
        self.share = QCheckBox("Share what I bought")
        self.share.setToolTip(
            "Announce and serve the tracks you bought. Peers then see your "
            "peer ID (your public identity) and IP addresses as a holder of "
            "them. Off: only your own releases are announced and served."
        )
        self.save_net = button("Save", "ghost")
        caps = QHBoxLayout()
        caps.setSpacing(10)
        for text, box in (("Upload cap", self.max_up), ("Download cap", self.max_down)):
            caps.addWidget(label(text))
            caps.addWidget(box)
            caps.addSpacing(14)
        caps.addWidget(self.lan)
        caps.addWidget(self.share)
        caps.addStretch(1)
        caps.addWidget(self.save_net)
        nl.addLayout(caps)
        nl.addWidget(
            label(
                "Caps are totals for all peers and apply at once; LAN discovery "
                "and sharing what you bought change the next time you unlock. "
                "Purchases themselves are public ledger entries either way.",
                "dim",
                wrap=True,
            )
        )
        self.net_msg = MessageBar()
        nl.addWidget(self.net_msg)
        grid.addWidget(net, 1, 0, 1, 2)
        # recovery phrase
        rec, rl = card("Recovery phrase")
        rl.addWidget(
            label(
                "These 24 words are your identity. Anyone who sees them can spend "
                "your credits and sign as you. Write them down, keep them offline.",
                "dim",
                wrap=True,
            )
        )
        row = QHBoxLayout()
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Your passphrase")
        self.reveal_btn = button("Reveal", "ghost")
        self.hide_btn = button("Hide", "ghost")
        self.hide_btn.hide()
        row.addWidget(self.passphrase, 1)
        row.addWidget(self.reveal_btn)
        row.addWidget(self.hide_btn)
        rl.addLayout(row)
        self.phrase = label("", "phrase", wrap=True)
        self.phrase.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.phrase.hide()
        rl.addWidget(self.phrase)
        self.rec_msg = MessageBar()
        rl.addWidget(self.rec_msg)
        grid.addWidget(rec, 2, 0, 1, 2)
        grid.addWidget(self._saving_card(), 3, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self.outer.addLayout(grid)
        self.outer.addStretch(1)
        self.reveal_btn.clicked.connect(self.reveal)
        self.passphrase.returnPressed.connect(self.reveal)
        self.hide_btn.clicked.connect(self._hide_phrase)
        self.save_quota.clicked.connect(self._save_quota)
        self.save_net.clicked.connect(self._save_network)
        self.publish_profile.clicked.connect(self._publish_profile)

    def _saving_card(self) -> QFrame:
        """ "Save to folder" defaults: the format and folder the export dialog starts with."""
        box, lay = card("Saving music to a folder")
        row = QHBoxLayout()
        self.export_format = QComboBox()
        for key, text, _lossless in self.bridge.export_formats():
            self.export_format.addItem(text, key)
        self.export_folder = QLineEdit()
        self.save_export = button("Save", "ghost")
        row.addWidget(label("Format"))
        row.addWidget(self.export_format)
        row.addSpacing(14)
        row.addWidget(label("Folder"))
        row.addWidget(self.export_folder, 1)
        row.addWidget(self.save_export)
        lay.addLayout(row)
        lay.addWidget(
            label(
                'What Library and release pages offer under "Save to folder…"; '
                "the dialog remembers your last choice.",
                "dim",
                wrap=True,
            )
        )
        self.export_msg = MessageBar()
        lay.addWidget(self.export_msg)
        self.save_export.clicked.connect(self._save_export_defaults)
        return box

    def _show_export_defaults(self) -> None:
        fmt, folder = self.bridge.export_defaults()
        self.export_format.setCurrentIndex(max(0, self.export_format.findData(fmt)))
        self.export_folder.setText(str(folder))

    def _save_export_defaults(self) -> None:
        job = self.bridge.remember_export(
            str(self.export_format.currentData()), self.export_folder.text()
        )
        job.finished.connect(lambda _: self.export_msg.show_success("Saved."))
        job.failed.connect(self.export_msg.show_error)

    @staticmethod
    def _rate_box() -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(0, 10_000)
        box.setDecimals(1)
        box.setSingleStep(1.0)
        box.setSuffix(" Mbit/s")
        box.setSpecialValueText("No cap")  # shown at 0
        box.setMinimumWidth(130)
        return box

    def refresh(self) -> None:
        self.stale = False
        job = self.bridge.call("settings_view")
        job.finished.connect(self._show)
        job.failed.connect(self.message.show_error)

    def _show(self, v: dict) -> None:
        self.name.setText(str(v["name"]))
        self.bio.setPlainText(str(v.get("bio", "")))
        self.links.setPlainText("\n".join(v.get("links", [])))
        self.profile_state.setText(
            "Your name, bio and links are public: they are signed into the ledger and every "
            "peer shows them."
            if v.get("published")
            else "Not published yet: peers see your releases' artist name and your peer ID."
        )
        self.peer.setText(str(v["peer_id"]))
        self.key.setText(str(v["public_key"]))
        created = int(v["created_ms"])
        self.created.setText(
            dt.datetime.fromtimestamp(created / 1000).strftime("%Y-%m-%d %H:%M") if created else ""
        )
        self.profile.setText(str(v["profile"]))
        self.content.setText(str(v["content"]))
        self.used.setText(fmt_bytes(int(v["content_bytes"])))
        self.quota.setValue(float(v["seeding_quota_gb"]))
        self.max_up.setValue(float(v["max_upload_kbps"]) / 1000)
        self.max_down.setValue(float(v["max_download_kbps"]) / 1000)
        self.lan.setChecked(bool(v["lan_discovery"]))
        self._show_export_defaults()
        self.share.setChecked(bool(v.get("share_purchases", True)))

    def reveal(self) -> None:
        self.rec_msg.clear_message()
        job = self.bridge.call("reveal_phrase", self.passphrase.text())

        def show(phrase: str) -> None:
            words = phrase.split()
            self.phrase.setText(
                "   ".join(
                    f"{i + 1:>2}. {w:<10}" + ("\n" if (i + 1) % 6 == 0 else "")
                    for i, w in enumerate(words)
                ).replace("\n   ", "\n")
            )
            self.phrase.show()
            self.hide_btn.show()
            self.passphrase.clear()

        job.finished.connect(show)
        job.failed.connect(self.rec_msg.show_error)

    def _hide_phrase(self) -> None:
        self.phrase.clear()
        self.phrase.hide()
        self.hide_btn.hide()

    def _save_network(self) -> None:
        self.net_msg.clear_message()
        job = self.bridge.call(
            "set_network_settings",
            self.max_up.value() * 1000,
            self.max_down.value() * 1000,
            self.lan.isChecked(),
            self.share.isChecked(),
        )
        job.finished.connect(self.net_msg.show_success)
        job.failed.connect(self.net_msg.show_error)

    def _publish_profile(self) -> None:
        self.profile_msg.clear_message()
        links = [line for line in self.links.toPlainText().splitlines() if line.strip()]
        job = self.bridge.call("set_profile", self.name.text(), self.bio.toPlainText(), links)

        def done(message: str) -> None:
            self.profile_msg.show_success(message)
            self.profilePublished.emit()
            self.refresh()

        job.finished.connect(done)
        job.failed.connect(self.profile_msg.show_error)

    def _save_quota(self) -> None:
        job = self.bridge.call("set_seeding_quota", self.quota.value())
        job.finished.connect(lambda _: self.store_msg.show_success("Seeding quota saved."))
        job.failed.connect(self.store_msg.show_error)
