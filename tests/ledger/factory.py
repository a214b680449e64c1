"""A scenario builder that signs valid ledger entries without a Ledger.

It tracks every author's feed head itself (seq, prev hash, timestamp), so a test can build a whole
multi-author history first and then deliver the entry set in any order, split, or duplicated.
It also keeps a small model of balances and in-flight transfers so that generated histories stay
valid (no overdrafts, receives only of real transfers), and can double as an oracle.

Signers are derived from names (``sc.signer("fan")``), so scenarios are reproducible byte for byte
when the starting timestamp is fixed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.entry import Entry, create_entry
from ledger.keys import Signer, seal_to
from ledger.state import Share, compute_payouts

T0 = 1_700_000_000_000  # fixed author clock start (ms), so scenarios are reproducible


def signer(name: str) -> Signer:
    """A deterministic identity for a name."""
    return Signer.from_seed(hashlib.blake2b(name.encode(), digest_size=32).digest())


def content_id(name: str) -> bytes:
    return hashlib.blake2b(b"content:" + name.encode(), digest_size=32).digest()


def _ref(x: Entry | bytes) -> bytes:
    return x.hash if isinstance(x, Entry) else x


@dataclass
class Head:
    seq: int
    hash: bytes
    timestamp: int


@dataclass
class Scenario:
    t0: int = T0
    step: int = 1000
    heads: dict[bytes, Head] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    # -- model (kept in step with what the entries do, for valid generation and as an oracle) --
    balances: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    inflight: dict[tuple[bytes, bytes], tuple[bytes, int]] = field(default_factory=dict)
    supply: dict[bytes, int] = field(default_factory=dict)
    issuers: dict[bytes, bytes] = field(default_factory=dict)
    listings: dict[bytes, Mapping[str, Any]] = field(default_factory=dict)
    listing_artist: dict[bytes, bytes] = field(default_factory=dict)
    purchases: dict[bytes, tuple[bytes, bytes, int | None]] = field(default_factory=dict)
    _clock: int = 0

    # -- basics ----------------------------------------------------------------------------------
    def signer(self, name: str) -> Signer:
        return signer(name)

    def next_ts(self) -> int:
        self._clock += self.step
        return self.t0 + self._clock

    def make(
        self,
        who: Signer,
        kind: str,
        body: Mapping[str, Any],
        deps: Iterable[Entry | bytes] = (),
        *,
        timestamp: int | None = None,
        seq: int | None = None,
        prev: bytes | str | None = "head",
        advance: bool = True,
    ) -> Entry:
        """Sign an entry at ``who``'s head (or at an explicit seq/prev for broken chains)."""
        head = self.heads.get(who.public_key)
        s = seq if seq is not None else (head.seq + 1 if head else 1)
        if prev == "head":
            prev = (
                head.hash
                if head and s == head.seq + 1
                else (None if s == 1 else self._prev_at(who.public_key, s))
            )
        ts = (
            timestamp
            if timestamp is not None
            else max(self.next_ts(), head.timestamp if head else 0)
        )
        entry = create_entry(who, s, prev, ts, kind, dict(body), [_ref(d) for d in deps])
        if advance:
            self.heads[who.public_key] = Head(entry.seq, entry.hash, entry.timestamp)
            self.entries.append(entry)
        return entry

    def _prev_at(self, author: bytes, seq: int) -> bytes | None:
        for e in self.entries:
            if e.author == author and e.seq == seq - 1:
                return e.hash
        return None

    def wires(self) -> list[bytes]:
        return [e.wire for e in self.entries]

    def balance(self, who: Signer | bytes, asset: Entry | bytes) -> int:
        pk = who.public_key if isinstance(who, Signer) else who
        return self.balances.get((pk, _ref(asset)), 0)

    def incoming(self, who: Signer) -> list[bytes]:
        return sorted(src for (src, to) in self.inflight if to == who.public_key)

    # -- kinds -----------------------------------------------------------------------------------
    def profile(
        self, who: Signer, name: str = "Someone", bio: str = "", links: Sequence[str] = ()
    ) -> Entry:
        return self.make(who, "profile", {"name": name, "bio": bio, "links": list(links)})

    def issue(
        self,
        who: Signer,
        symbol: str = "CRD",
        max_supply: int = 10**12,
        flags: Sequence[str] = ("stable",),
        precision: int = 2,
        name: str = "Credits",
    ) -> Entry:
        e = self.make(
            who,
            "asset.issue",
            {
                "symbol": symbol,
                "name": name,
                "precision": precision,
                "max_supply": max_supply,
                "flags": list(flags),
            },
        )
        self.issuers[e.hash] = who.public_key
        self.supply[e.hash] = 0
        return e

    def mint(self, who: Signer, asset: Entry | bytes, amount: int) -> Entry:
        e = self.make(who, "asset.mint", {"asset": _ref(asset), "amount": amount})
        key = (who.public_key, _ref(asset))
        self.balances[key] = self.balances.get(key, 0) + amount
        self.supply[_ref(asset)] = self.supply.get(_ref(asset), 0) + amount
        return e

    def send(
        self,
        who: Signer,
        asset: Entry | bytes,
        to: Signer | bytes,
        amount: int,
        memo: str = "",
        deps: Iterable[Entry | bytes] = (),
    ) -> Entry:
        to_pk = to.public_key if isinstance(to, Signer) else to
        e = self.make(
            who, "send", {"asset": _ref(asset), "to": to_pk, "amount": amount, "memo": memo}, deps
        )
        key = (who.public_key, _ref(asset))
        self.balances[key] = self.balances.get(key, 0) - amount
        self.inflight[(e.hash, to_pk)] = (_ref(asset), amount)
        return e

    def receive(
        self, who: Signer, *transfers: Entry | bytes, deps: Iterable[Entry | bytes] | None = None
    ) -> Entry:
        refs = [_ref(t) for t in transfers] or self.incoming(who)
        e = self.make(who, "receive", {"transfers": refs}, refs if deps is None else deps)
        for src in refs:
            got = self.inflight.pop((src, who.public_key), None)
            if got is not None:
                key = (who.public_key, got[0])
                self.balances[key] = self.balances.get(key, 0) + got[1]
        return e

    def listing_body(
        self,
        artist: Signer,
        asset: Entry | bytes,
        price: int = 999,
        nyp: bool = False,
        split: Sequence[tuple[Signer | bytes, int]] | None = None,
        remainder: Signer | bytes | None = None,
        tracks: int = 1,
        track_price: int | None = None,
        supersedes: Entry | bytes | None = None,
        title: str = "Album",
        tag: str = "a",
    ) -> dict[str, Any]:
        def pk(x: Signer | bytes) -> bytes:
            return x.public_key if isinstance(x, Signer) else x

        split = split if split is not None else [(artist, 10_000)]
        track_prices = (
            []
            if track_price is None
            else [{"asset": _ref(asset), "amount": track_price, "nyp": False}]
        )
        return {
            "title": title,
            "artist_name": "Artist",
            "genre": "ambient",
            "tags": ["calm"],
            "description": "",
            "artwork": None,
            "tracks": [
                {
                    "title": f"T{i}",
                    "content": content_id(f"{tag}/{title}/{i}"),
                    "preview": None,
                    "duration_ms": 1000 + i,
                    "prices": track_prices,
                }
                for i in range(tracks)
            ],
            "prices": [{"asset": _ref(asset), "amount": price, "nyp": nyp}],
            "split": [{"to": pk(to), "bps": bps} for to, bps in split],
            "remainder": pk(remainder if remainder is not None else artist),
            "supersedes": None if supersedes is None else _ref(supersedes),
        }

    def listing(
        self, artist: Signer, asset: Entry | bytes, body: Mapping[str, Any] | None = None, **kw: Any
    ) -> Entry:
        body = dict(body) if body is not None else self.listing_body(artist, asset, **kw)
        e = self.make(artist, "listing", body)
        self.listings[e.hash] = body
        self.listing_artist[e.hash] = artist.public_key
        return e

    def payouts(self, listing: Entry | bytes, amount: int) -> list[dict[str, Any]]:
        body = self.listings[_ref(listing)]
        split = [Share(s["to"], s["bps"]) for s in body["split"]]
        return [
            {"to": p.to, "amount": p.amount}
            for p in compute_payouts(amount, split, body["remainder"])
        ]

    def price(self, listing: Entry | bytes, track: int | None = None) -> tuple[bytes, int]:
        body = self.listings[_ref(listing)]
        prices = body["prices"] if track is None else body["tracks"][track]["prices"]
        return prices[0]["asset"], prices[0]["amount"]

    def purchase(
        self,
        buyer: Signer,
        listing: Entry | bytes,
        amount: int | None = None,
        track: int | None = None,
        asset: Entry | bytes | None = None,
        payouts: list[dict[str, Any]] | None = None,
        deps: Iterable[Entry | bytes] | None = None,
    ) -> Entry:
        p_asset, p_amount = self.price(listing, track)
        asset_ref = _ref(asset) if asset is not None else p_asset
        amount = p_amount if amount is None else amount
        payouts = self.payouts(listing, amount) if payouts is None else payouts
        e = self.make(
            buyer,
            "purchase",
            {
                "listing": _ref(listing),
                "track": track,
                "asset": asset_ref,
                "amount": amount,
                "payouts": payouts,
            },
            [listing] if deps is None else deps,
        )
        key = (buyer.public_key, asset_ref)
        self.balances[key] = self.balances.get(key, 0) - amount
        for p in payouts:
            self.inflight[(e.hash, p["to"])] = (asset_ref, p["amount"])
        self.purchases[e.hash] = (buyer.public_key, _ref(listing), track)
        return e

    def keys_for(self, purchase: Entry | bytes, buyer: bytes | None = None) -> list[dict[str, Any]]:
        buyer_pk, listing, track = self.purchases[_ref(purchase)]
        tracks = self.listings[listing]["tracks"]
        chosen = tracks if track is None else [tracks[track]]
        # A fixed 32-byte "content key" per content ID; sealing is randomised, which is fine.
        return [
            {
                "content": t["content"],
                "sealed": seal_to(buyer or buyer_pk, hashlib.sha256(t["content"]).digest()),
            }
            for t in chosen
        ]

    def grant(
        self,
        who: Signer,
        purchase: Entry | bytes,
        keys: list[dict[str, Any]] | None = None,
        deps: Iterable[Entry | bytes] = (),
    ) -> Entry:
        return self.make(
            who,
            "grant",
            {"purchase": _ref(purchase), "keys": self.keys_for(purchase) if keys is None else keys},
            [purchase, *deps],
        )

    def delegate(
        self,
        artist: Signer,
        agent: Signer,
        listings: Sequence[Entry | bytes] = (),
        keys: list[dict[str, Any]] | None = None,
    ) -> Entry:
        return self.make(
            artist,
            "delegate",
            {
                "agent": agent.public_key,
                "listings": [_ref(x) for x in listings],
                "keys": keys or [],
            },
        )

    def revoke(self, artist: Signer, delegation: Entry | bytes) -> Entry:
        return self.make(artist, "revoke", {"delegation": _ref(delegation)})

    def fork(
        self,
        who: Signer,
        seq: int,
        kind: str = "profile",
        body: Mapping[str, Any] | None = None,
        deps: Iterable[Entry | bytes] = (),
    ) -> Entry:
        """A second, different entry at ``who``'s ``seq`` (the head does not move)."""
        body = body or {"name": f"fork {seq}", "bio": "equivocating", "links": []}
        return self.make(who, kind, body, deps, seq=seq, advance=False)


def economy(sc: Scenario | None = None) -> tuple[Scenario, dict[str, Any]]:
    """A small, fully valid store: a gateway with credits, an artist, a fan, an agent."""
    sc = sc or Scenario()
    gw, artist, fan, agent = (sc.signer(n) for n in ("gateway", "artist", "fan", "agent"))
    crd = sc.issue(gw)
    sc.mint(gw, crd, 100_000)
    s = sc.send(gw, crd, fan, 5_000, "welcome")
    sc.receive(fan, s)
    li = sc.listing(artist, crd, price=999, tracks=2, track_price=500)
    return sc, {"gw": gw, "artist": artist, "fan": fan, "agent": agent, "crd": crd, "listing": li}
