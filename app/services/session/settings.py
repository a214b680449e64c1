"""Identity, the public profile, the network's status and the settings that go with them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from app.services.errors import UserError
from app.services.identity import IdentityInfo
from app.services.session.base import SessionBase
from app.services.session.network import (
    MAX_KBPS,
    NetworkStatus,
    bytes_per_second,
    kbps_setting,
)
from ledger.keys import peer_id

log = logging.getLogger(__name__)


class SettingsMixin(SessionBase):
    """What the Settings and Network views show and do."""

    def identity_info(self) -> IdentityInfo:
        return self.identity.info()

    def reveal_phrase(self, passphrase: str) -> str:
        return self.identity.export_phrase(passphrase)

    def set_profile(self, name: str, bio: str, links: Sequence[str]) -> str:
        """Publish the public profile (Settings, onboarding). Returns what to tell the user."""
        with self._lock:
            entry = self.profiles.publish(name, bio, links)
        if entry is None:
            return "Your public profile is unchanged."
        try:
            self.network.sync(self.core)
        except Exception as exc:
            log.info("the profile will sync later: %s", exc)
        return "Published: peers now see this profile."

    def network_status(self) -> NetworkStatus:
        """The network's status, with peers the swarm knows only by ID named from the ledger
        (a seeder is an artist's sales agent, a gateway issues credits), and reachability not
        left at "Checking…" once a peer is connected."""
        from dataclasses import replace

        st = self.network.status(self.core)
        who = self._ledger_roles()
        peers = tuple(
            replace(p, role=who[p.peer_id][0], name=who[p.peer_id][1] or p.name)
            if p.role == "peer" and p.peer_id in who
            else p
            for p in st.peers
        )
        reach, sentence = st.reach, st.reachability
        if st.reach == "Checking…" and any(p.online for p in peers):
            reach = "Connected"
            sentence = (
                "connected to peers (outbound); whether they can dial this node is not "
                "known yet: no peer has made the dial-back check"
            )
        return replace(st, peers=peers, reach=reach, reachability=sentence)

    def _ledger_roles(self) -> dict[str, tuple[str, str]]:
        """Peer ID -> (role, name) of the identities the ledger says something about."""
        state = self.core.ledger.state
        roles: dict[str, tuple[str, str]] = {}

        def note(key: bytes, role: str, name: str = "") -> None:
            profile = state.profiles.get(key)
            roles.setdefault(peer_id(key), (role, (profile.name if profile else "") or name))

        for d in state.delegations.values():  # an artist's sales agent: a seeder
            if d.revoked_at is None:
                note(d.agent, "seeder", f"seeder {peer_id(d.agent)[-6:]}")
        for li in state.listings.values():
            note(li.artist, "artist", li.artist_name)
        for asset in state.assets.values():
            note(asset.issuer, "gateway")
        return roles

    def settings_view(self) -> dict[str, object]:
        info = self.identity.info()
        cfg = self.profile.read_config()
        public = self.profiles.mine()
        return {
            "name": public.name if public else info.name,
            "peer_id": info.peer_id,
            "public_key": info.public_key.hex(),
            "published": public is not None,
            "bio": public.bio if public else "",
            "links": list(public.links) if public else [],
            "profile": str(self.profile.root),
            "content": str(self.profile.content_dir),
            "content_bytes": self.core.chunks.size_on_disk(),
            "seeding_quota_gb": float(cfg.get("seeding_quota_gb", 5.0)),
            "created_ms": info.created_ms,
            **self.network_settings(),
        }

    def set_seeding_quota(self, gigabytes: float) -> None:
        if gigabytes < 0:
            raise UserError("the seeding quota cannot be negative")
        self.profile.update_config(seeding_quota_gb=round(float(gigabytes), 2))

    def network_settings(self) -> dict[str, object]:
        """The Settings page's network card: bandwidth caps (kbit/s, 0 = none) and LAN
        discovery, as saved in the profile's ``config.json``."""
        cfg = self.profile.read_config()
        return {
            "max_upload_kbps": kbps_setting(cfg, "max_upload_kbps"),
            "max_download_kbps": kbps_setting(cfg, "max_download_kbps"),
            "lan_discovery": bool(cfg.get("mdns", True)),
            "share_purchases": cfg.get("share_purchases", True) is not False,
        }

    def set_network_settings(
        self,
        upload_kbps: float,
        download_kbps: float,
        lan_discovery: bool,
        share_purchases: bool | None = None,
    ) -> str:
        """Save the caps and apply them to the running node at once; LAN discovery and
        sharing purchases change with the next unlock. Returns what the user should be told."""
        for name, value in (("upload", upload_kbps), ("download", download_kbps)):
            if not 0 <= value <= MAX_KBPS:
                raise UserError(
                    f"the {name} cap must be between 0 (no cap) and {MAX_KBPS // 1000:,} Mbit/s"
                )
        before = self.network_settings()
        share = before["share_purchases"] if share_purchases is None else bool(share_purchases)
        self.profile.update_config(
            max_upload_kbps=round(float(upload_kbps), 1),
            max_download_kbps=round(float(download_kbps), 1),
            mdns=bool(lan_discovery),
            share_purchases=share,
        )
        self.network.set_bandwidth(bytes_per_second(upload_kbps), bytes_per_second(download_kbps))
        later = []
        if bool(lan_discovery) != before["lan_discovery"]:
            later.append(f"LAN discovery {'starts' if lan_discovery else 'stops'}")
        if share != before["share_purchases"]:
            later.append(
                "peers are told of your purchases"
                if share
                else "your purchases are no longer announced or served"
            )
        if later:
            return (
                f"Saved. Bandwidth caps apply now; {' and '.join(later)} the next time you unlock."
            )
        return "Saved. Bandwidth caps apply now."
