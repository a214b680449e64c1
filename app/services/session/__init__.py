"""What the desktop app needs from the services, shaped for views (Qt-free, synchronous).

A :class:`Session` is one unlocked identity with its services (wallet, shop, studio, library) and
a :class:`Network` (the swarm, the in-process demo swarm, or nothing). Every method may block on
SQLite or hashing, so the GUI calls them only through ``app.bridge.Bridge`` on a worker thread;
the CLI-style headless demo check calls them directly. Results are frozen dataclasses.

The facade is split by concern into mixins, one module each: ``store``, ``artwork``, ``library``,
``wallet``, ``studio`` and ``settings`` (identity, network status and settings); ``Session``
composes them, and its ``__init__`` wires every service they share. ``network`` holds the
``Network`` port and ``views`` the dataclasses the methods return.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from app.profile import Profile
from app.services.artist_desk import ArtistDesk
from app.services.community_desk import CommunityDesk
from app.services.core import Core
from app.services.exchange_desk import ExchangeDesk
from app.services.funding_desk import FundingDesk
from app.services.identity import IdentityService
from app.services.library import LibraryService
from app.services.profiles import ProfileService
from app.services.session.library import LibraryMixin
from app.services.session.network import Network, OfflineNetwork
from app.services.session.settings import SettingsMixin
from app.services.session.studio import StudioMixin
from app.services.session.views import SyncReport
from app.services.session.wallet import WalletMixin
from app.services.shop import ShopService
from app.services.wallet import WalletService
from ledger.keys import Signer
from ledger.ledger import Ledger


class Session(StudioMixin, LibraryMixin, WalletMixin, SettingsMixin):
    """One unlocked identity with its services, for the GUI (through the bridge)."""

    def __init__(
        self,
        profile: Profile,
        signer: Signer,
        network: Network | None = None,
        identity: IdentityService | None = None,
    ) -> None:
        self.profile = profile
        self.identity = identity or IdentityService(profile)
        # Signatures of a batch are checked by the ingesting worker thread itself, or by verifier
        # processes for large batches: not by a pool of threads here, whose GIL turns between
        # signatures (two threads, every 50 us) would keep the GUI thread waiting for the GIL.
        self.core = Core(profile, signer, Ledger.open(profile.ensure().ledger_db, verify_threads=1))
        self.network: Network = network or OfflineNetwork()
        self.shop = ShopService(self.core)
        self.wallet = WalletService(self.core)
        from app.services.studio import StudioService  # heavy (encoders): on unlock, off-GUI

        self.studio = StudioService(self.core)
        self.library = LibraryService(profile)
        self.profiles = ProfileService(self.core, self.identity)
        self._lock = threading.RLock()
        self.exchange = ExchangeDesk(self.core, lambda: self.network.sync(self.core), self._lock)
        self.community = CommunityDesk(self.core, lambda: self.network.sync(self.core), self._lock)
        self.artists = ArtistDesk(self.core, self.exchange, self._lock)
        self.funding = FundingDesk(self.core, lambda: self.network.sync(self.core), self._lock)
        self._art_cache: OrderedDict[bytes, bytes] = OrderedDict()  # LRU, ARTWORK_CACHE_BYTES
        self._art_cached_bytes = 0
        self._art_missed: dict[bytes, tuple[float, float, str]] = {}
        # ^ content -> (when to ask again, current wait, why it could not be had)
        self._catalog_hash: bytes | None = None
        self.downloads: dict[bytes, tuple[int, int]] = {}

    def close(self) -> None:
        self.library.close()
        self.core.close()

    # -- sync ------------------------------------------------------------------------------------
    def refresh(self) -> SyncReport:
        """Sync with peers, then do what a node does alone (receive, grant, collect keys).

        Entries that other processes on this profile wrote (a CLI command beside the app) are
        taken in first, also while the node is offline."""
        with self._lock:
            self.core.ledger.refresh()
            received = self.network.sync(self.core)
            report = self.core.settle()
            if report.received or report.granted:
                received += self.network.sync(self.core)
                report2 = self.core.settle()
                report.unlocked.extend(report2.unlocked)
            self._register_owned()
            self.exchange.watch()  # fills, refunds and cancels become notices
            return SyncReport(received, list(report.unlocked))


def open_session(
    profile: Profile,
    passphrase: str,
    network: Network | None = None,
    identity: IdentityService | None = None,
) -> Session:
    """Unlock a profile and open its session (blocking: argon2id and SQLite)."""
    identity = identity or IdentityService(profile)
    signer = identity.unlock(passphrase)
    return Session(profile, signer, network, identity)
