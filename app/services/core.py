"""The core of a running node: the unlocked identity, ledger, chunk store and content keys.

``Core`` is plain Python with no Qt and no network. The CLI, the headless seeder and the GUI all
build one and reach the domain through the services in this package (wallet, studio, shop). The
swarm feeds it entries; ``settle()`` then does what a node does on its own: receive incoming
transfers, fulfil purchases it may grant, collect keys from grants to it, close the campaigns
and settle the exchange offers it is the settler of (``app/services/funding.py``,
``app/services/market.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.profile import Profile
from app.services.errors import UserError
from app.services.events import (
    EventBus,
    ForkDetected,
    LedgerChanged,
    PurchaseFulfilled,
    SaleFulfilled,
)
from app.services.identity import IdentityService
from app.services.keys import KeyStore
from ledger.chunkstore import ChunkStore
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.forks import ForkProof
from ledger.keys import Signer, seal_to
from ledger.ledger import Ledger
from ledger.state import State

if TYPE_CHECKING:
    from app.services.coins import CoinsSettleReport
    from app.services.funding import FundingSettleReport
    from app.services.market import MarketSettleReport

log = logging.getLogger(__name__)


@dataclass
class SettleReport:
    received: list[bytes] = field(default_factory=list)  # receive entries written
    granted: list[bytes] = field(default_factory=list)  # purchases we fulfilled
    unlocked: list[bytes] = field(default_factory=list)  # purchases whose keys we now hold
    market: MarketSettleReport | None = None  # what we settled on the exchange
    funding: FundingSettleReport | None = None  # campaigns we closed, pledges we took back
    unlocked_claims: list[bytes] = field(default_factory=list)  # pass claims whose period ended
    coins: CoinsSettleReport | None = None  # stakes accepted, distributions, shares collected


class Core:
    """One identity's node state, opened from a profile."""

    def __init__(self, profile: Profile, signer: Signer, ledger: Ledger | None = None) -> None:
        self.profile = profile.ensure()
        self.signer = signer
        self.me = signer.public_key
        self.events = EventBus()
        self.ledger = ledger or Ledger.open(profile.ledger_db)
        self.chunks = ChunkStore(profile.content_dir)
        self.keys = KeyStore(profile.keys_db, signer)
        self.ledger.add_listener(self._on_entries)
        self.ledger.add_fork_listener(self._on_fork)
        self.market_skips: dict[bytes, int] = {}  # exchange items that failed, until when
        self.funding_skips: dict[bytes, int] = {}  # campaign items that failed, until when
        self.coin_skips: dict[bytes, int] = {}  # stake and charter items that failed, until when

    @classmethod
    def open(cls, profile: Profile, passphrase: str | None) -> Core:
        """Unlock the profile's identity and open its stores."""
        return cls(profile, IdentityService(profile).unlock(passphrase))

    def close(self) -> None:
        self.keys.close()
        self.ledger.close()

    def __enter__(self) -> Core:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_entries(self, entries: list[Entry]) -> None:
        self.events.emit(LedgerChanged(len(entries), self.ledger.state_hash()))

    def _on_fork(self, proof: ForkProof) -> None:
        self.events.emit(ForkDetected(proof.author, proof.seq))

    @property
    def awaiting_own_feed(self) -> bool:
        """True after a restore until our own feed has been pulled from peers."""
        return self.profile.restore_marker.exists()

    def feed_recovered(self) -> None:
        """The swarm calls this once a sync round with peers has finished (or the user confirms
        that this identity never wrote anything): writing is safe again."""
        self.profile.restore_marker.unlink(missing_ok=True)

    def require_writable(self) -> None:
        if self.awaiting_own_feed:
            raise UserError("this identity was restored and its earlier entries are not back yet",
                            hint="connect to peers so the node can pull its own feed first")

    def append(self, kind: str, body: dict, deps: list[bytes] | tuple[bytes, ...] = ()) -> Entry:
        """Write to our own feed, turning ledger refusals into a message for the user."""
        self.require_writable()
        try:
            return self.ledger.append(self.signer, kind, body, deps)
        except LedgerError as err:
            raise UserError(str(err)) from err

    # -- what a node does by itself --------------------------------------------------------------
    def settle(self) -> SettleReport:
        """Receive incoming transfers, fulfil purchases we may grant, collect our grants."""
        report = SettleReport()
        if self.awaiting_own_feed:
            return report
        report.received.extend(self._receive_incoming())
        state = self.ledger.state
        for purchase in state.unfulfilled_for(self.me):
            if self._grant(purchase.id):
                report.granted.append(purchase.id)
        for purchase in state.purchases_by(self.me):
            if self._collect_keys(purchase.id):
                report.unlocked.append(purchase.id)
        # The economic features' duties (imported here: each of those modules imports this one).
        from app.services.coins import settle_coins  # stakes, distributions, collections
        from app.services.funding import settle_campaigns  # a campaign settler's duties
        from app.services.market import settle_market  # the exchange's settler duties
        from app.services.passes import unlock_expired  # claims whose period is over

        report.funding = settle_campaigns(self)
        report.unlocked_claims = unlock_expired(self)
        report.coins = settle_coins(self)  # an issuer behind on its charter pays first
        report.market = settle_market(self)  # after: its checkpoint covers pledges too
        return report

    def _receive_incoming(self) -> list[bytes]:
        """Receive every incoming transfer; returns the receive entries written.

        The transfers are chosen under the ledger's write lock, so a CLI command and a running
        node on this profile never both receive the same ones (the second finds none left)."""
        def compose(state: State) -> tuple[dict, list[bytes]] | None:
            # A receive names at most 64 transfers; larger backlogs take several entries.
            batch = sorted({t.source for t in state.incoming(self.me)[:64]})
            return ({"transfers": batch}, batch) if batch else None

        written: list[bytes] = []
        while self.ledger.state.incoming(self.me):  # no write lock when nothing is due
            try:
                entry = self.ledger.append_composed(self.signer, "receive", compose)
            except LedgerError as err:  # a read-only profile, a store kept busy: next round
                log.warning("could not receive incoming transfers: %s", err)
                return written
            if entry is None:
                return written
            written.append(entry.hash)
        return written

    def _grant(self, purchase_id: bytes) -> bool:
        state = self.ledger.state
        purchase = state.purchases[purchase_id]
        listing = state.listings[purchase.listing]
        deps = [purchase_id]
        if listing.artist != self.me:
            delegation = state.agent_delegation(self.me, listing)
            if delegation is None:
                return False
            deps.append(delegation.id)
            for content, sealed in delegation.sealed.items():
                if content not in self.keys:
                    self.keys.put(content, self.signer.open_sealed(sealed), "delegation")
        keys = []
        for content in listing.contents(purchase.track):
            key = self.keys.get(content)
            if key is None:
                log.warning("cannot fulfil %s: no key for %s", purchase_id.hex()[:12],
                            content.hex()[:12])
                return False
            keys.append({"content": content, "sealed": seal_to(purchase.buyer, key)})
        self.append("grant", {"purchase": purchase_id, "keys": keys}, deps=deps)
        self.events.emit(SaleFulfilled(purchase_id, purchase.buyer))
        return True

    def _collect_keys(self, purchase_id: bytes) -> bool:
        state = self.ledger.state
        purchase = state.purchases[purchase_id]
        new = False
        for grant_id in purchase.granted_by:
            grant = state.grants[grant_id]
            for content, sealed in grant.sealed.items():
                if content in self.keys:
                    continue
                try:
                    key = self.signer.open_sealed(sealed)
                except LedgerError:
                    log.warning("grant %s holds a key we cannot open", grant_id.hex()[:12])
                    continue
                self.keys.put(content, key, "purchase")
                new = True
            if new:
                self.events.emit(PurchaseFulfilled(purchase_id, grant.granter))
        return new

    def content_key(self, content: bytes) -> bytes | None:
        return self.keys.get(content)

    def content_path(self) -> Path:
        return self.chunks.root
