"""The core of a running node: the unlocked identity, ledger, chunk store and content keys.

``Core`` is plain Python with no Qt and no network. The CLI, the headless seeder and the GUI all
build one and reach the domain through the services in this package (wallet, studio, shop). The
swarm feeds it entries; ``settle()`` then does what a node does on its own: receive incoming
transfers, fulfil purchases it may grant, collect keys from grants to it, and run the settler
duties the economic features register (``register_settler_duty``): close the campaigns it
settles (``app/services/funding.py``), unlock expired pass claims (``passes.py``), accept
stakes and distribute (``coins.py``), close proposals or carry out its charter
(``governance.py``), and settle the exchange offers it is the settler of (``market.py``).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
from app.services.reports import (
    CoinsSettleReport,
    FundingSettleReport,
    GovernanceSettleReport,
    MarketSettleReport,
)
from content.chunkstore import ChunkStore
from content.format import ContentError
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.forks import ForkProof
from ledger.keys import Signer, can_receive_sealed, seal_to
from ledger.ledger import Ledger
from ledger.state import Listing, State

log = logging.getLogger(__name__)

# Settler duties of economic features (the exchange's fills, cancels and checkpoints, ...):
# each feature's service module registers its duty here when it is imported (app/services
# imports them all), and every settle round runs each one after the purchases. Core itself
# then imports none of them.
SETTLER_DUTIES: dict[str, tuple[int, Callable[[Core], object]]] = {}


def register_settler_duty(name: str, duty: Callable[[Core], object], order: int = 50) -> None:
    """Run ``duty(core)`` in every settle round, lowest ``order`` first; its result is
    ``SettleReport.duties[name]``."""
    SETTLER_DUTIES[name] = (order, duty)


MAX_KEY_VERDICTS = 4096  # (content, key) pairs checked against their content, remembered
MAX_COLLECTED = 65_536  # grants to us already read this run


@dataclass
class SettleReport:
    received: list[bytes] = field(default_factory=list)  # receive entries written
    granted: list[bytes] = field(default_factory=list)  # purchases we fulfilled
    unlocked: list[bytes] = field(default_factory=list)  # purchases whose keys we now hold
    skipped: list[tuple[bytes, str]] = field(default_factory=list)  # (item, why) this round
    duties: dict[str, object] = field(default_factory=dict)  # each settler duty's report

    @property
    def market(self) -> MarketSettleReport | None:
        """What we settled on the exchange this round."""
        return self.duties.get("market")  # type: ignore[return-value]

    @property
    def governance(self) -> GovernanceSettleReport | None:
        """Proposals closed, charters carried out and votes reclaimed this round."""
        return self.duties.get("governance")  # type: ignore[return-value]

    @property
    def funding(self) -> FundingSettleReport | None:
        """Campaigns we closed and pledges we took back this round."""
        return self.duties.get("funding")  # type: ignore[return-value]

    @property
    def coins(self) -> CoinsSettleReport | None:
        """Stakes accepted, distributions and shares collected this round."""
        return self.duties.get("coins")  # type: ignore[return-value]

    @property
    def unlocked_claims(self) -> list[bytes]:
        """Pass claims whose period ended, unlocked this round."""
        return self.duties.get("passes", [])  # type: ignore[return-value]


class Skip(Exception):
    """One item of work for others cannot be done now; the message says why."""


class NeedsFirstChunk(Skip):
    """A key cannot be checked (so is not granted) until the content's first chunk is here."""

    def __init__(self, content: bytes) -> None:
        super().__init__(
            f"the key for {content.hex()[:12]} is granted once it opens the content's first "
            "chunk, which is not here yet"
        )
        self.content = content


class Backoff:
    """Items whose work failed, with when to try each again: the wait doubles from
    ``first_s`` up to ``max_s``. At most ``cap`` items are kept (the oldest are forgotten and
    simply tried again)."""

    def __init__(
        self,
        first_s: float = 30.0,
        max_s: float = 3600.0,
        cap: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.first_s, self.max_s, self.cap, self.clock = first_s, max_s, cap, clock
        self._items: OrderedDict[bytes, tuple[float, float, str]] = OrderedDict()
        # ^ item -> (retry at, current wait, reason)

    def due(self, item: bytes) -> bool:
        entry = self._items.get(item)
        return entry is None or self.clock() >= entry[0]

    def failed(self, item: bytes, reason: str) -> float:
        """Note a failure; returns how long the item now waits."""
        previous = self._items.pop(item, None)
        wait = self.first_s if previous is None else min(previous[1] * 2, self.max_s)
        self._items[item] = (self.clock() + wait, wait, reason)
        while len(self._items) > self.cap:
            self._items.popitem(last=False)
        return wait

    def succeeded(self, item: bytes) -> None:
        self._items.pop(item, None)

    def reason(self, item: bytes) -> str | None:
        entry = self._items.get(item)
        return None if entry is None else entry[2]

    def __len__(self) -> int:
        return len(self._items)


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
        self._own_content: set[bytes] | None = None  # recomputed after our next listing
        self.skips = Backoff()  # purchases we could not grant, tried again later
        self._collect_skips = Backoff()  # our purchases whose grants could not be read
        self._fits: OrderedDict[tuple[bytes, bytes], bool] = OrderedDict()
        self._collected: OrderedDict[bytes, None] = OrderedDict()  # grants already read
        self._disputed: OrderedDict[bytes, set[bytes]] = OrderedDict()  # content -> keys
        # content whose first chunk a grant waits for -> those purchases
        self._awaiting_chunk: dict[bytes, set[bytes]] = {}
        # Set by a running node: asked (from settle's thread) to fetch a content's first chunk
        self.want_first_chunk: Callable[[bytes], None] | None = None
        self.ledger.add_listener(self._on_entries)
        self.ledger.add_fork_listener(self._on_fork)
        self.market_skips: dict[bytes, int] = {}  # exchange items that failed, until when
        self.governance_skips: dict[bytes, int] = {}  # proposals and votes that failed, until
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
        if any(e.author == self.me and e.kind == "listing" for e in entries):
            self._own_content = None
        self.events.emit(LedgerChanged(len(entries), self.ledger.state_hash()))

    def is_own_content(self, content: bytes) -> bool:
        """Whether ``content`` belongs to one of our own listings (a track, its preview or the
        artwork): what a node that keeps purchases private still announces and serves."""
        own = self._own_content
        if own is None:
            own = set()
            for li in list(self.ledger.state.listings.values()):
                if li.artist == self.me:
                    own.update(t.content for t in li.tracks)
                    own.update(t.preview for t in li.tracks if t.preview)
                    if li.artwork:
                        own.add(li.artwork)
            self._own_content = own
        return content in own

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
            raise UserError(
                "this identity was restored and its earlier entries are not back yet",
                hint="connect to peers so the node can pull its own feed first",
            )

    def append(self, kind: str, body: dict, deps: list[bytes] | tuple[bytes, ...] = ()) -> Entry:
        """Write to our own feed, turning ledger refusals into a message for the user."""
        self.require_writable()
        try:
            return self.ledger.append(self.signer, kind, body, deps)
        except LedgerError as err:
            raise UserError(str(err)) from err

    # -- what a node does by itself --------------------------------------------------------------
    def settle(self) -> SettleReport:
        """Receive incoming transfers, fulfil purchases we may grant, collect our grants.

        Work done for others is isolated per item: a purchase that cannot be granted (a key that
        does not open, a buyer key nothing can be sealed to, any other error) is skipped with a
        logged reason, listed in the report, and not tried again until its back-off has passed;
        the rest of the round goes on.
        """
        report = SettleReport()
        if self.awaiting_own_feed:
            return report
        report.received.extend(self._receive_incoming())
        state = self.ledger.state
        for purchase in state.unfulfilled_for(self.me):
            if self._try(purchase.id, self._grant, self.skips, report):
                report.granted.append(purchase.id)
        for purchase in state.purchases_by(self.me):
            if self._try(purchase.id, self._collect_keys, self._collect_skips, report):
                report.unlocked.append(purchase.id)
        try:
            self._repair_disputed_keys()
        except Exception as exc:  # a damaged chunk store: the keys are decided on a later round
            log.warning("could not check disputed keys: %r", exc)
        for name, (_, duty) in sorted(SETTLER_DUTIES.items(), key=lambda d: d[1][0]):
            try:
                report.duties[name] = duty(self)
            except Exception as exc:  # a duty isolates its items; this guards the round itself
                log.warning("the %s settler duty failed this round: %r", name, exc)
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

    @staticmethod
    def _try(
        item: bytes, work: Callable[[bytes], bool], backoff: Backoff, report: SettleReport
    ) -> bool:
        """Run ``work(item)`` unless the item is backing off; a failure is logged, remembered
        and reported, never raised."""
        if not backoff.due(item):
            return False
        try:
            done = work(item)
        except Exception as exc:  # one bad item never stops the round (docs: threat model)
            reason = str(exc) if isinstance(exc, Skip | UserError | LedgerError) else repr(exc)
            wait = backoff.failed(item, reason)
            log.warning("skipped %s for %.0f s: %s", item.hex()[:12], wait, reason)
            report.skipped.append((item, reason))
            return False
        backoff.succeeded(item)
        return done

    def _grant(self, purchase_id: bytes) -> bool:
        state = self.ledger.state
        purchase = state.purchases[purchase_id]
        listing = state.listings[purchase.listing]
        sealed = self.sealed_keys(
            listing, listing.contents(purchase.track), purchase.buyer, waiting=purchase_id
        )
        if sealed is None:
            return False
        keys, delegation = sealed
        deps = [purchase_id, *delegation]
        self.append("grant", {"purchase": purchase_id, "keys": keys}, deps=deps)
        self.events.emit(SaleFulfilled(purchase_id, purchase.buyer))
        return True

    def sealed_keys(
        self,
        listing: Listing,
        contents: Sequence[bytes],
        to: bytes,
        waiting: bytes | None = None,
    ) -> tuple[list[dict], list[bytes]] | None:
        """The content keys of ``contents`` sealed to ``to``, as the artist or as its sales
        agent, and the delegation the entry names (empty for the artist); None if we are
        neither. Raises Skip for a key we cannot give or a key nothing can be sealed to, and
        NeedsFirstChunk while a key cannot be checked yet: the first chunk is asked for, and
        ``waiting`` (a purchase) is remembered to be settled again when it arrives."""
        delegated: Mapping[bytes, bytes] = {}
        deps: list[bytes] = []
        if listing.artist != self.me:
            delegation = self.ledger.state.agent_delegation(self.me, listing)
            if delegation is None:
                return None
            deps.append(delegation.id)
            delegated = delegation.sealed
        if not can_receive_sealed(to):
            raise Skip("the buyer's key cannot receive a sealed key")
        keys = []
        for content in contents:
            try:
                key = self._key_to_sell(content, delegated.get(content))
            except NeedsFirstChunk:
                if waiting is not None:
                    purchases = self._awaiting_chunk.setdefault(content, set())
                    if len(purchases) < MAX_COLLECTED:
                        purchases.add(waiting)
                    while len(self._awaiting_chunk) > MAX_KEY_VERDICTS:
                        self._awaiting_chunk.pop(next(iter(self._awaiting_chunk)))
                if self.want_first_chunk is not None:
                    self.want_first_chunk(content)
                raise
            keys.append({"content": content, "sealed": seal_to(to, key)})
        return keys, deps

    def _key_to_sell(self, content: bytes, sealed: bytes | None) -> bytes:
        """The key we grant for ``content``: a stored key or the one the listing's artist
        delegated (``sealed``), whichever opens the content's first chunk. A delegated key that
        opens it replaces a stored one that does not. A key is never granted unchecked: while
        the first chunk is not here, NeedsFirstChunk is raised (the grant waits for it). Raises
        Skip."""
        candidates: list[tuple[str, bytes]] = []
        why = f"no key for {content.hex()[:12]}"
        if sealed is not None:
            try:
                candidates.append(("delegation", self.signer.open_sealed(sealed)))
            except LedgerError:
                why = f"the delegation's sealed key for {content.hex()[:12]} does not open"
        stored = self.keys.get(content)
        if stored is not None:
            candidates.append(("stored", stored))
        verdicts = [(source, key, self.key_fits(content, key)) for source, key in candidates]
        for source, key, fits in verdicts:
            if fits:
                if key != stored:
                    self.keys.put(content, key, source, replace=True)
                return key
        if any(fits is None for _source, _key, fits in verdicts):
            raise NeedsFirstChunk(content)
        if verdicts:
            why = f"no key we hold opens {content.hex()[:12]}"
        raise Skip(why)

    def first_chunk_arrived(self, content: bytes) -> None:
        """``content``'s first chunk is here now: grants that waited to check a key against it
        are tried on the next round, without waiting out their back-off."""
        for purchase_id in self._awaiting_chunk.pop(content, ()):
            self.skips.succeeded(purchase_id)

    def key_fits(self, content: bytes, key: bytes) -> bool | None:
        """Whether ``key`` opens the first chunk of ``content``: True or False, or None while
        the manifest or that chunk is not here to check against (docs/PROTOCOL.md, "Content
        keys are checked against the content"). Clear content fits any key."""
        known = self._fits.get((content, key))
        if known is not None:
            return known
        manifest = self.chunks.manifest(content)
        if manifest is None:
            return None
        if not manifest.encrypted:
            return True
        data = self.chunks.get_chunk(manifest.chunks[0])
        if data is None:
            return None
        try:
            manifest.open_chunk(0, data, key)
            fits = True
        except ContentError:
            fits = False
        self._fits[(content, key)] = fits
        while len(self._fits) > MAX_KEY_VERDICTS:
            self._fits.popitem(last=False)
        return fits

    def _collect_keys(self, purchase_id: bytes) -> bool:
        state = self.ledger.state
        purchase = state.purchases[purchase_id]
        new = False
        for grant_id in purchase.granted_by:
            if grant_id in self._collected:
                continue
            grant = state.grants[grant_id]
            for content, sealed in grant.sealed.items():
                try:
                    key = self.signer.open_sealed(sealed)
                except LedgerError:
                    log.warning("grant %s holds a key we cannot open", grant_id.hex()[:12])
                    continue
                stored = self.keys.get(content)
                if stored is None:
                    self.keys.put(content, key, "purchase")
                    new = True
                elif stored != key:
                    # Two grants disagree (one may come from a listing that names another
                    # artist's content): keep the one that opens the content.
                    self._settle_dispute(content, stored, key)
            self._collected[grant_id] = None
            while len(self._collected) > MAX_COLLECTED:
                self._collected.popitem(last=False)
            if new:
                self.events.emit(PurchaseFulfilled(purchase_id, grant.granter))
        return new

    def _settle_dispute(self, content: bytes, stored: bytes, offered: bytes) -> None:
        if self.key_fits(content, stored):
            return
        if self.key_fits(content, offered):
            self.keys.put(content, offered, "purchase", replace=True)
            self._disputed.pop(content, None)
            return
        self._disputed.setdefault(content, set()).add(offered)
        while len(self._disputed) > MAX_COLLECTED:
            self._disputed.popitem(last=False)

    def _repair_disputed_keys(self) -> None:
        """Keys two grants disagreed on, decided once the content is here to check against."""
        for content in list(self._disputed):
            stored = self.keys.get(content)
            if stored is None or self.key_fits(content, stored) is None:
                continue
            offered = self._disputed.pop(content)
            if not self.key_fits(content, stored):
                good = next((k for k in offered if self.key_fits(content, k)), None)
                if good is not None:
                    log.info("replaced a key for %s that did not open it", content.hex()[:12])
                    self.keys.put(content, good, "purchase", replace=True)

    def content_key(self, content: bytes) -> bytes | None:
        return self.keys.get(content)

    def content_path(self) -> Path:
        return self.chunks.root
