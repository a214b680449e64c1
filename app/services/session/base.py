"""What every part of the :class:`~app.services.session.Session` facade may use: the services
and state that ``Session.__init__`` wires (declared here for the type checker) and the name an
artist is shown by."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from app.profile import Profile
from app.services.core import Core
from app.services.exchange_desk import ExchangeDesk
from app.services.identity import IdentityService
from app.services.library import LibraryService
from app.services.profiles import ProfileService, artist_name
from app.services.session.network import Network
from app.services.shop import ShopService
from app.services.wallet import WalletService
from ledger.state import Listing

if TYPE_CHECKING:
    from app.services.studio import StudioService


class SessionBase:
    """The attributes ``Session.__init__`` sets; each part of the facade works through them."""

    profile: Profile
    identity: IdentityService
    core: Core
    network: Network
    shop: ShopService
    wallet: WalletService
    studio: StudioService
    library: LibraryService
    profiles: ProfileService
    exchange: ExchangeDesk
    downloads: dict[bytes, tuple[int, int]]
    _lock: threading.RLock
    _art_cache: OrderedDict[bytes, bytes]
    _art_cached_bytes: int
    _art_missed: dict[bytes, tuple[float, float, str]]
    _catalog_hash: bytes | None

    @property
    def me(self) -> bytes:
        return self.core.me

    def _artist(self, li: Listing) -> str:
        return artist_name(self.core.ledger.state, li)
