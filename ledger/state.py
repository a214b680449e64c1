"""Derived state and the semantic rules of each kind (validation level 6).

The state is a pure function of the set of effective entries. That holds because an entry's
validity and effect depend only on its author's feed prefix and on its declared dependencies:

* only the author's own feed debits the author, and a feed is applied in sequence order;
* credits arrive as in-flight transfers and become spendable only when the recipient's own feed
  records a ``receive`` naming the sending entries, which must be among its dependencies;
* a rule that looks at another author's feed (an agent's grant checking that the artist has not
  revoked the delegation) looks only at the prefix of that feed named in the dependencies.

Every rule and conflict case is written down in docs/PROTOCOL.md ("Kinds").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.encoding import encode, hash32
from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.keys import can_receive_sealed
from ledger.kinds import BPS_TOTAL


@dataclass(frozen=True)
class Asset:
    id: bytes
    issuer: bytes
    symbol: str
    name: str
    precision: int
    max_supply: int
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Transfer:
    """Units sent by ``source`` (a send or purchase entry) to ``to``, not yet received."""

    source: bytes
    sender: bytes
    to: bytes
    asset: bytes
    amount: int
    timestamp: int


@dataclass(frozen=True)
class Price:
    asset: bytes
    amount: int  # the price, or the minimum when ``nyp`` (name your price)
    nyp: bool


@dataclass(frozen=True)
class Track:
    title: str
    content: bytes
    preview: bytes | None
    duration_ms: int
    prices: tuple[Price, ...]


@dataclass(frozen=True)
class Share:
    to: bytes
    bps: int


@dataclass(frozen=True)
class Listing:
    id: bytes
    artist: bytes
    seq: int
    timestamp: int
    title: str
    artist_name: str
    genre: str
    tags: tuple[str, ...]
    description: str
    artwork: bytes | None
    tracks: tuple[Track, ...]
    prices: tuple[Price, ...]
    split: tuple[Share, ...]
    remainder: bytes
    supersedes: bytes | None

    def price_for(self, asset: bytes, track: int | None) -> Price | None:
        prices = self.prices if track is None else self.tracks[track].prices
        return next((p for p in prices if p.asset == asset), None)

    def contents(self, track: int | None) -> tuple[bytes, ...]:
        """Content IDs a purchase of the release (None) or of one track unlocks."""
        if track is None:
            return tuple(t.content for t in self.tracks)
        return (self.tracks[track].content,)


@dataclass(frozen=True)
class Payout:
    to: bytes
    amount: int


@dataclass
class Purchase:
    id: bytes
    buyer: bytes
    listing: bytes
    track: int | None
    asset: bytes
    amount: int
    timestamp: int
    granted_by: list[bytes] = field(default_factory=list)  # grant entry hashes


@dataclass(frozen=True)
class Grant:
    id: bytes
    granter: bytes
    purchase: bytes
    buyer: bytes
    sealed: Mapping[bytes, bytes]  # content ID -> content key sealed to the buyer
    timestamp: int


@dataclass
class Delegation:
    id: bytes
    artist: bytes
    agent: bytes
    seq: int
    listings: tuple[bytes, ...]  # empty: every listing of the artist
    sealed: Mapping[bytes, bytes]  # content ID -> content key sealed to the agent
    revoked_at: int | None = None  # the artist's seq of the revoke entry

    def covers(self, listing: bytes) -> bool:
        return not self.listings or listing in self.listings

    def active_at(self, artist_seq: int) -> bool:
        """Whether the delegation holds in the artist's feed prefix up to ``artist_seq``."""
        return self.seq <= artist_seq and (self.revoked_at is None or self.revoked_at > artist_seq)


@dataclass(frozen=True)
class Profile:
    name: str
    bio: str
    links: tuple[str, ...]
    seq: int


def compute_payouts(amount: int, split: Iterable[Share], remainder: bytes) -> list[Payout]:
    """The exact payouts of ``amount`` under a split: floor per share, the rest to ``remainder``.

    Payouts keep the split's order; the remainder recipient's payout is increased in place, or
    appended if it has no share. Zero payouts are left out.
    """
    shares = list(split)
    amounts = {s.to: amount * s.bps // BPS_TOTAL for s in shares}
    rest = amount - sum(amounts.values())
    order = [s.to for s in shares]
    if remainder not in amounts:
        amounts[remainder] = 0
        order.append(remainder)
    amounts[remainder] += rest
    return [Payout(to, amounts[to]) for to in order if amounts[to] > 0]


def _prices(raw: Iterable[Mapping[str, Any]]) -> tuple[Price, ...]:
    return tuple(Price(p["asset"], p["amount"], p["nyp"]) for p in raw)


class State:
    """Balances, assets, listings, purchases, grants, delegations and profiles."""

    def __init__(self) -> None:
        self.assets: dict[bytes, Asset] = {}
        self.supply: dict[bytes, int] = {}
        self.balances: dict[tuple[bytes, bytes], int] = {}
        self.inflight: dict[tuple[bytes, bytes], Transfer] = {}  # (source, recipient)
        self.profiles: dict[bytes, Profile] = {}
        self.listings: dict[bytes, Listing] = {}
        self.superseded: dict[bytes, bytes] = {}  # old listing -> newer listing
        self.purchases: dict[bytes, Purchase] = {}
        self.grants: dict[bytes, Grant] = {}
        self.delegations: dict[bytes, Delegation] = {}
        self.history: dict[bytes, list[tuple[int, bytes, str, bytes, int]]] = {}
        # ^ account -> [(timestamp, entry hash, kind, asset, signed amount change)]

    # -- queries ---------------------------------------------------------------------------------
    def balance(self, account: bytes, asset: bytes) -> int:
        return self.balances.get((account, asset), 0)

    def balances_of(self, account: bytes) -> dict[bytes, int]:
        return {asset: v for (acct, asset), v in self.balances.items() if acct == account and v}

    def incoming(self, account: bytes) -> list[Transfer]:
        """In-flight transfers to ``account``: what its node should ``receive`` next."""
        return sorted((t for (_, to), t in self.inflight.items() if to == account),
                      key=lambda t: (t.timestamp, t.source))

    def current_listings(self) -> list[Listing]:
        """Listings not superseded by a newer version, newest first."""
        live = [li for lid, li in self.listings.items() if lid not in self.superseded]
        return sorted(live, key=lambda li: (-li.timestamp, li.id))

    def purchases_by(self, buyer: bytes) -> list[Purchase]:
        return sorted((p for p in self.purchases.values() if p.buyer == buyer),
                      key=lambda p: (p.timestamp, p.id))

    def sales_of(self, artist: bytes) -> list[Purchase]:
        mine = {lid for lid, li in self.listings.items() if artist in
                ({s.to for s in li.split} | {li.artist})}
        return sorted((p for p in self.purchases.values() if p.listing in mine),
                      key=lambda p: (p.timestamp, p.id))

    def unfulfilled_for(self, seller: bytes) -> list[Purchase]:
        """Purchases that ``seller`` may fulfil (as artist or active agent) and nobody has."""
        out = []
        for purchase in self.purchases.values():
            if purchase.granted_by:
                continue
            listing = self.listings[purchase.listing]
            if listing.artist == seller or self.agent_delegation(seller, listing) is not None:
                out.append(purchase)
        return sorted(out, key=lambda p: (p.timestamp, p.id))

    def agent_delegation(self, agent: bytes, listing: Listing) -> Delegation | None:
        """The newest unrevoked delegation making ``agent`` a seller of ``listing``."""
        found = [d for d in self.delegations.values()
                 if d.agent == agent and d.artist == listing.artist and d.revoked_at is None
                 and d.covers(listing.id)]
        return max(found, key=lambda d: d.seq, default=None)

    def circulating(self, asset: bytes) -> tuple[int, int]:
        """(sum of balances, sum of in-flight amounts) of an asset, for conservation checks."""
        held = sum(v for (_, a), v in self.balances.items() if a == asset)
        moving = sum(t.amount for t in self.inflight.values() if t.asset == asset)
        return held, moving

    def state_hash(self) -> bytes:
        """A hash of the whole derived state, equal on every replica holding the same entries."""
        doc = {
            "assets": sorted([a.id, a.issuer, a.symbol, a.name, a.precision, a.max_supply,
                              list(a.flags), self.supply.get(a.id, 0)]
                             for a in self.assets.values()),
            "balances": sorted([acct, asset, v] for (acct, asset), v in self.balances.items()
                               if v),
            "inflight": sorted([t.source, t.to, t.asset, t.amount]
                               for t in self.inflight.values()),
            "profiles": sorted([k, p.name, p.bio, list(p.links)]
                               for k, p in self.profiles.items()),
            "listings": sorted([li.id, li.artist, self.superseded.get(li.id)]
                               for li in self.listings.values()),
            "purchases": sorted([p.id, p.buyer, p.listing, p.amount, sorted(p.granted_by)]
                                for p in self.purchases.values()),
            "delegations": sorted([d.id, d.agent, d.revoked_at]
                                  for d in self.delegations.values()),
        }
        return hash32(b"cooptracks.state.v1\x00" + encode(doc))

    # -- rules -----------------------------------------------------------------------------------
    def check_and_apply(self, entry: Entry, dep_seq: Mapping[bytes, tuple[bytes, int]]) -> None:
        """Apply ``entry`` or raise SemanticError without changing anything.

        ``dep_seq`` maps (at least) each of the entry's dependencies to (author, seq); every
        dependency is already applied. Each rule checks everything first and mutates only at the
        end.
        """
        rule = _RULES.get(entry.kind)
        if rule is None:  # the registry and the rules are kept in step by a test
            raise SemanticError(f"no rules for kind {entry.kind}")
        rule(self, entry, entry.body, dep_seq)

    def _log(self, account: bytes, entry: Entry, asset: bytes, change: int) -> None:
        self.history.setdefault(account, []).append(
            (entry.timestamp, entry.hash, entry.kind, asset, change))

    def _require_dep(self, entry: Entry, ref: bytes, what: str) -> None:
        if ref not in entry.deps:
            raise SemanticError(f"the {what} {ref.hex()[:12]} must be listed in deps")

    def _require_funds(self, entry: Entry, asset: bytes, amount: int) -> None:
        have = self.balance(entry.author, asset)
        if have < amount:
            raise SemanticError(f"overdraft: balance {have}, needs {amount}")

    def _apply_profile(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        self.profiles[entry.author] = Profile(body["name"], body["bio"], tuple(body["links"]),
                                              entry.seq)

    def _apply_asset_issue(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        self.assets[entry.hash] = Asset(entry.hash, entry.author, body["symbol"], body["name"],
                                        body["precision"], body["max_supply"],
                                        tuple(body["flags"]))
        self.supply[entry.hash] = 0

    def _apply_asset_mint(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        asset = self.assets.get(body["asset"])
        if asset is None or asset.issuer != entry.author:
            raise SemanticError("only an asset's issuer mints it, after issuing it")
        supply = self.supply[asset.id] + body["amount"]
        if supply > asset.max_supply:
            raise SemanticError(f"minting past the maximum supply {asset.max_supply}")
        self.supply[asset.id] = supply
        key = (entry.author, asset.id)
        self.balances[key] = self.balances.get(key, 0) + body["amount"]
        self._log(entry.author, entry, asset.id, body["amount"])

    def _apply_send(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        if body["to"] == entry.author:
            raise SemanticError("a send to oneself is not allowed")
        self._require_funds(entry, body["asset"], body["amount"])
        key = (entry.author, body["asset"])
        self.balances[key] -= body["amount"]
        self.inflight[(entry.hash, body["to"])] = Transfer(
            entry.hash, entry.author, body["to"], body["asset"], body["amount"], entry.timestamp)
        self._log(entry.author, entry, body["asset"], -body["amount"])

    def _apply_receive(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        transfers = []
        for source in body["transfers"]:
            self._require_dep(entry, source, "transfer")
            transfer = self.inflight.get((source, entry.author))
            if transfer is None:
                raise SemanticError(f"no unreceived transfer to the author in {source.hex()[:12]}")
            transfers.append(transfer)
        for t in transfers:
            del self.inflight[(t.source, entry.author)]
            key = (entry.author, t.asset)
            self.balances[key] = self.balances.get(key, 0) + t.amount
            self._log(entry.author, entry, t.asset, t.amount)

    def _apply_listing(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        split = tuple(Share(s["to"], s["bps"]) for s in body["split"])
        if sum(s.bps for s in split) != BPS_TOTAL:
            raise SemanticError(f"split must sum to {BPS_TOTAL} basis points")
        if len({s.to for s in split}) != len(split):
            raise SemanticError("a recipient appears twice in the split")
        if len({t["content"] for t in body["tracks"]}) != len(body["tracks"]):
            raise SemanticError("a content ID appears twice in the track list")
        old = body["supersedes"]
        if old is not None:
            previous = self.listings.get(old)
            if previous is None or previous.artist != entry.author:
                raise SemanticError("a listing supersedes only an earlier listing of its author")
            if old in self.superseded:
                raise SemanticError("that listing was already superseded")
        tracks = tuple(Track(t["title"], t["content"], t["preview"], t["duration_ms"],
                             _prices(t["prices"])) for t in body["tracks"])
        self.listings[entry.hash] = Listing(
            entry.hash, entry.author, entry.seq, entry.timestamp, body["title"],
            body["artist_name"], body["genre"], tuple(body["tags"]), body["description"],
            body["artwork"], tracks, _prices(body["prices"]), split, body["remainder"], old)
        if old is not None:
            self.superseded[old] = entry.hash

    def _apply_purchase(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        if not can_receive_sealed(entry.author):
            raise SemanticError("the buyer's key cannot receive a sealed content key "
                                "(it does not convert to X25519)")
        self._require_dep(entry, body["listing"], "listing")
        listing = self.listings.get(body["listing"])
        if listing is None:
            raise SemanticError("the purchase names an entry that is not a listing")
        track = body["track"]
        if track is not None and track >= len(listing.tracks):
            raise SemanticError("no such track in the listing")
        price = listing.price_for(body["asset"], track)
        if price is None:
            raise SemanticError("the listing does not accept that asset for this item")
        amount = body["amount"]
        if price.nyp and amount < price.amount:
            raise SemanticError(f"name-your-price minimum is {price.amount}")
        if not price.nyp and amount != price.amount:
            raise SemanticError(f"the price is {price.amount}")
        expected = compute_payouts(amount, listing.split, listing.remainder)
        given = [Payout(p["to"], p["amount"]) for p in body["payouts"]]
        if given != expected:
            raise SemanticError("payouts do not follow the listing's split exactly")
        self._require_funds(entry, body["asset"], amount)
        key = (entry.author, body["asset"])
        self.balances[key] -= amount
        for payout in expected:
            self.inflight[(entry.hash, payout.to)] = Transfer(
                entry.hash, entry.author, payout.to, body["asset"], payout.amount,
                entry.timestamp)
        self.purchases[entry.hash] = Purchase(entry.hash, entry.author, listing.id, track,
                                              body["asset"], amount, entry.timestamp)
        self._log(entry.author, entry, body["asset"], -amount)

    def _apply_grant(self, entry: Entry, body: Mapping[str, Any],
                     dep_seq: Mapping[bytes, tuple[bytes, int]]) -> None:
        self._require_dep(entry, body["purchase"], "purchase")
        purchase = self.purchases.get(body["purchase"])
        if purchase is None:
            raise SemanticError("the grant names an entry that is not a purchase")
        listing = self.listings[purchase.listing]
        if entry.author != listing.artist:
            # An agent: some delegation in deps must hold at the artist's prefix named in deps.
            artist_seq = max((seq for author, seq in map(dep_seq.__getitem__, entry.deps)
                              if author == listing.artist), default=0)
            if not any((d := self.delegations.get(h)) is not None and d.agent == entry.author
                       and d.artist == listing.artist and d.covers(listing.id)
                       and d.active_at(artist_seq) for h in entry.deps):
                raise SemanticError("the author is neither the artist nor an active sales agent "
                                    "(name the delegation in deps)")
        sealed = {k["content"]: k["sealed"] for k in body["keys"]}
        if len(sealed) != len(body["keys"]) or set(sealed) != set(listing.contents(purchase.track)):
            raise SemanticError("the grant must seal exactly the purchased tracks' keys")
        self.grants[entry.hash] = Grant(entry.hash, entry.author, purchase.id, purchase.buyer,
                                        sealed, entry.timestamp)
        purchase.granted_by.append(entry.hash)

    def _apply_delegate(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        if body["agent"] == entry.author:
            raise SemanticError("an artist cannot delegate to itself")
        for lid in body["listings"]:
            listing = self.listings.get(lid)
            if listing is None or listing.artist != entry.author:
                raise SemanticError("a delegation covers only the author's own listings")
        sealed = {k["content"]: k["sealed"] for k in body["keys"]}
        self.delegations[entry.hash] = Delegation(entry.hash, entry.author, body["agent"],
                                                  entry.seq, tuple(body["listings"]), sealed)

    def _apply_revoke(self, entry: Entry, body: Mapping[str, Any], _d: Any) -> None:
        delegation = self.delegations.get(body["delegation"])
        if delegation is None or delegation.artist != entry.author:
            raise SemanticError("a revoke names one of the author's own delegations")
        if delegation.revoked_at is not None:
            raise SemanticError("that delegation is already revoked")
        delegation.revoked_at = entry.seq


# kind -> rule, resolved once rather than per entry
_RULES: dict[str, Any] = {
    name: getattr(State, "_apply_" + name.replace(".", "_"))
    for name in ("profile", "asset.issue", "asset.mint", "send", "receive", "listing",
                 "purchase", "grant", "delegate", "revoke")
}
