"""Artistcoins tied to sales (kinds ``coin.charter``, ``stake``, ``stake.accept``,
``stake.refuse``, ``distribute``, ``collect``; unstaking and unanswered stakes use the settlement
feature's ``reclaim``).

A coin's issuer publishes a ``coin.charter``: it commits ``bps`` basis points of the sales it
receives from then on (purchase payouts in ``sales_asset``, counted by its own ``receive``
entries) to the holders who stake the coin. A ``stake`` locks coins for a term (``until``); the
issuer's feed accepts it (``stake.accept``: from then on it counts, and after ``until`` the staker
takes it back with its own reclaim) or refuses it (the coins go back in flight); a stake not
answered by ``accept_by`` is reclaimed with a deadline proof. A ``distribute`` is one entry of the
issuer, however many stakers: it moves the amount into a pool (a lock) and fixes the total
staked at that point of the issuer's feed; each staker ``collect``s its share,
``⌊amount × stake / total⌋``, with its own entry (pull, not push); the rounding dust stays with
the issuer. An issuer whose committed share exceeds what it distributed cannot spend (send, buy,
offer, take, pledge, lock) until it distributes: its own feed shows it.

Rules and conflict cases: docs/PROTOCOL.md, "Coins tied to sales".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.encoding import INT_MAX
from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features.base import SPEND_CHECKS, DepIndex, Feature, credit, log_change, require_dep
from ledger.features.money import RECEIVED, Transfer
from ledger.features.selling import BPS_TOTAL
from ledger.features.settlement import Lock, close_lock, lock_funds
from ledger.schema import Kind, array, hash32, integer, optional, public_key, record

if TYPE_CHECKING:
    from ledger.state import State

MAX_COLLECT = 63  # distributions per collect: each is in deps, with the stake's charter's feed


@dataclass
class Charter:
    id: bytes
    issuer: bytes
    asset: bytes
    sales_asset: bytes
    bps: int
    timestamp: int
    sales: int = 0  # purchase payouts in sales_asset the issuer received since the charter
    distributed: int = 0
    # agent -> the highest seq of its feed the issuer's distributions named so far: stakes that
    # agent accepted up to there count (see ``counts_in``)
    agent_seqs: dict[bytes, int] = field(default_factory=dict)

    @property
    def committed(self) -> int:
        """The stakers' share of the sales received, rounded down."""
        return self.sales * self.bps // BPS_TOTAL

    @property
    def owed(self) -> int:
        return max(0, self.committed - self.distributed)


@dataclass
class Stake:
    id: bytes
    staker: bytes
    charter: bytes
    amount: int
    accept_by: int
    until: int
    timestamp: int
    accepted_seq: int | None = None  # the settler's seq of its acceptance
    answer: bytes | None = None  # the acceptance or refusal
    settler: bytes = b""  # who answers it: the issuer, or an agent it delegated


@dataclass
class Distribution:
    id: bytes
    charter: bytes
    seq: int  # in the issuer's feed
    timestamp: int
    amount: int
    total_staked: int
    paid: int  # Σ shares, the pool's size; amount − paid is the dust kept by the issuer
    collected: set[bytes] = field(default_factory=set)  # stakes that collected
    issuer: bytes = b""
    agent_seqs: Mapping[bytes, int] = field(default_factory=dict)  # the charter's, at this point

    def share(self, stake: Stake) -> int:
        return self.amount * stake.amount // self.total_staked if self.total_staked else 0


def counts_in(stake: Stake, dist: Distribution) -> bool:
    """A stake counts in a distribution when it was accepted before it and its term has not
    ended at the distribution's time. Accepted before: by the issuer, earlier in its feed; by an
    agent, at or below the agent's seq that the issuer's distributions have named in deps."""
    if stake.charter != dist.charter or stake.accepted_seq is None:
        return False
    if stake.settler in (b"", dist.issuer):
        before = stake.accepted_seq < dist.seq
    else:
        before = stake.accepted_seq <= dist.agent_seqs.get(stake.settler, 0)
    return before and stake.until >= dist.timestamp


class CoinsView:
    coin_charters: dict[bytes, Charter]
    stakes: dict[bytes, Stake]
    distributions: dict[bytes, Distribution]
    _charter_of: dict[bytes, bytes]  # asset -> its charter
    _stakes_of: dict[bytes, list[bytes]]  # charter -> stakes
    _charters_by: dict[bytes, list[bytes]]  # issuer -> its charters

    def charter_of(self, asset: bytes) -> Charter | None:
        cid = self._charter_of.get(asset)
        return None if cid is None else self.coin_charters[cid]

    def charters_by(self, issuer: bytes) -> list[Charter]:
        """The issuer's charters, in its feed's order."""
        return [self.coin_charters[c] for c in self._charters_by.get(issuer, [])]

    def stake_status(self, stake: Stake) -> str:
        """pending, staked, refused, ended (term over, not yet taken back) or withdrawn — the
        last two read with the lock; ``ended`` needs a clock, so it is left to callers."""
        lock: Lock = self.locks[stake.id]  # type: ignore[attr-defined]
        if stake.accepted_seq is None:
            if lock.closed_by is None:
                return "pending"
            return "refused" if lock.closed_by == stake.answer else "reclaimed"
        return "withdrawn" if lock.closed_by is not None else "staked"

    def stakes_of(self, charter: bytes) -> list[Stake]:
        return sorted(
            (self.stakes[s] for s in self._stakes_of.get(charter, [])),
            key=lambda s: (s.timestamp, s.id),
        )

    def stakes_by(self, staker: bytes) -> list[Stake]:
        return sorted(
            (s for s in self.stakes.values() if s.staker == staker),
            key=lambda s: (s.timestamp, s.id),
        )

    def staked(self, charter: bytes, at: int) -> int:
        """Accepted stakes whose term includes ``at``, as this replica holds them."""
        return sum(
            s.amount
            for s in self.stakes_of(charter)
            if s.accepted_seq is not None and s.until >= at
        )

    def distributions_of(self, charter: bytes) -> list[Distribution]:
        return sorted(
            (d for d in self.distributions.values() if d.charter == charter), key=lambda d: d.seq
        )

    def uncollected(self, staker: bytes) -> list[tuple[Stake, Distribution, int]]:
        """(stake, distribution, share) the staker may still collect."""
        out = []
        for stake in self.stakes_by(staker):
            for dist in self.distributions_of(stake.charter):
                if counts_in(stake, dist) and stake.id not in dist.collected:
                    share = dist.share(stake)
                    if share:
                        out.append((stake, dist, share))
        return out

    def stakes_to_answer(self, issuer: bytes) -> list[Stake]:
        """Pending stakes that ``issuer`` settles: its own coins' (when it is their settler) or
        those naming it as the issuer's agent."""
        return sorted(
            (
                s
                for s in self.stakes.values()
                if (s.settler or self.coin_charters[s.charter].issuer) == issuer
                and self.stake_status(s) == "pending"
            ),
            key=lambda s: (s.timestamp, s.id),
        )


def _behind(state: State, entry: Entry, _asset: bytes, _amount: int) -> None:
    """SPEND_CHECKS: an issuer behind on a charter cannot spend until it distributes."""
    for charter in state.charters_by(entry.author):
        if charter.owed:
            raise SemanticError(
                f"the issuer is behind on its charter by {charter.owed}: "
                "it distributes before it spends"
            )


def _sale_received(state: State, entry: Entry, transfer: Transfer) -> None:
    """RECEIVED: a purchase payout the issuer receives counts as a sale under its charters."""
    if transfer.source not in state.purchases:
        return
    for charter in state.charters_by(entry.author):
        if charter.sales_asset == transfer.asset:
            charter.sales += transfer.amount


def apply_charter(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    asset = state.assets.get(body["asset"])
    if asset is None or asset.issuer != entry.author:
        raise SemanticError("only a coin's issuer writes its charter, after issuing it")
    if body["asset"] in state._charter_of:
        raise SemanticError("the coin already has a charter")
    if body["sales_asset"] == body["asset"]:
        raise SemanticError("the charter shares sales in another asset than the coin")
    sales = state.assets.get(body["sales_asset"])
    if body["sales_asset"] not in entry.deps and (sales is None or sales.issuer != entry.author):
        raise SemanticError("the charter's sales asset must be listed in deps")
    if sales is None:
        raise SemanticError("the sales asset is not an asset")
    charter = Charter(
        entry.hash, entry.author, body["asset"], body["sales_asset"], body["bps"], entry.timestamp
    )
    state.coin_charters[entry.hash] = charter
    state._charter_of[body["asset"]] = entry.hash
    state._charters_by.setdefault(entry.author, []).append(entry.hash)
    state._stakes_of[entry.hash] = []


def _require_agent(
    state: State, entry: Entry, issuer: bytes, agent: bytes, dep_seq: DepIndex
) -> None:
    """A stake that names an agent as its settler names, in deps, a delegation of the issuer to
    that agent, not revoked at the issuer's feed prefix the deps name (the highest issuer seq
    among them): the agent answers it, on the issuer's behalf, while the issuer is offline."""
    if agent == entry.author:
        raise SemanticError("a stake's settler is not its staker")
    issuer_seq = max(
        (seq for author, seq in map(dep_seq.__getitem__, entry.deps) if author == issuer),
        default=0,
    )
    if not any(
        (d := state.delegations.get(h)) is not None
        and d.artist == issuer
        and d.agent == agent
        and d.active_at(issuer_seq)
        for h in entry.deps
    ):
        raise SemanticError(
            "a stake's settler is the issuer or an agent it delegated (name the delegation in deps)"
        )


def apply_stake(state: State, entry: Entry, body: Mapping[str, Any], dep_seq: DepIndex) -> None:
    require_dep(entry, body["charter"], "charter")
    charter = state.coin_charters.get(body["charter"])
    if charter is None:
        raise SemanticError("the stake names an entry that is not a charter")
    if entry.author == charter.issuer:
        raise SemanticError("an issuer does not stake with itself")
    if not entry.timestamp < body["accept_by"] < body["until"]:
        raise SemanticError("a stake is answered by accept_by, after it and before until")
    settler = body.get("settler", charter.issuer)
    if settler != charter.issuer:
        _require_agent(state, entry, charter.issuer, settler, dep_seq)
    lock_funds(state, entry, charter.asset, body["amount"], settler, body["accept_by"])
    state.stakes[entry.hash] = Stake(
        entry.hash,
        entry.author,
        charter.id,
        body["amount"],
        body["accept_by"],
        body["until"],
        entry.timestamp,
        settler=settler,
    )
    state._stakes_of[charter.id].append(entry.hash)


def _stake_to_answer(state: State, entry: Entry, ref: bytes) -> tuple[Stake, Lock]:
    require_dep(entry, ref, "stake")
    stake = state.stakes.get(ref)
    if stake is None:
        raise SemanticError("that entry is not a stake")
    if entry.author != (stake.settler or state.coin_charters[stake.charter].issuer):
        raise SemanticError("only the coin's issuer (or the agent the stake names) answers it")
    lock = state.locks[stake.id]
    if stake.answer is not None or lock.closed_by is not None:
        raise SemanticError("the stake was already answered or taken back")
    if entry.timestamp > stake.accept_by:
        raise SemanticError("the stake's accept_by has passed: its staker takes it back")
    return stake, lock


def apply_accept(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """The issuer accepts: the stake counts from here on in its feed; the lock becomes the
    staker's own to end after ``until`` (a reclaim that is its own witness)."""
    stake, lock = _stake_to_answer(state, entry, body["stake"])
    stake.accepted_seq, stake.answer = entry.seq, entry.hash
    lock.settler, lock.deadline = stake.staker, stake.until


def apply_refuse(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    stake, lock = _stake_to_answer(state, entry, body["stake"])
    stake.answer = entry.hash
    close_lock(state, lock, entry)  # in flight back to the staker


def apply_distribute(
    state: State, entry: Entry, body: Mapping[str, Any], dep_seq: DepIndex
) -> None:
    charter = state.coin_charters.get(body["charter"])
    if charter is None or charter.issuer != entry.author:
        raise SemanticError("only the charter's issuer distributes under it")
    amount = body["amount"]
    # Stakes accepted by agents count up to the agents' feed prefixes named in deps, never
    # less than an earlier distribution of the charter named (the issuer's feed order).
    agent_seqs = dict(charter.agent_seqs)
    for author, seq in map(dep_seq.__getitem__, entry.deps):
        if author != entry.author and seq > agent_seqs.get(author, 0):
            agent_seqs[author] = seq
    dist = Distribution(
        entry.hash,
        charter.id,
        entry.seq,
        entry.timestamp,
        amount,
        0,
        0,
        issuer=entry.author,
        agent_seqs=agent_seqs,
    )
    counted = [
        s for s in map(state.stakes.__getitem__, state._stakes_of[charter.id]) if counts_in(s, dist)
    ]
    dist.total_staked = sum(s.amount for s in counted)
    dist.paid = sum(dist.share(s) for s in counted)
    have = state.balance(entry.author, charter.sales_asset)
    if have < dist.paid:
        raise SemanticError(f"overdraft: balance {have}, the shares need {dist.paid}")
    if dist.paid:
        key = (entry.author, charter.sales_asset)
        state.balances[key] -= dist.paid
        log_change(state, entry.author, entry, charter.sales_asset, -dist.paid)
        state.locks[entry.hash] = Lock(
            entry.hash,
            "distribute",
            entry.author,
            charter.sales_asset,
            dist.paid,
            entry.author,
            INT_MAX,
        )
    charter.distributed += amount
    charter.agent_seqs = dict(agent_seqs)
    state.distributions[entry.hash] = dist


def apply_collect(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    stake = state.stakes.get(body["stake"])
    if stake is None or stake.staker != entry.author:
        raise SemanticError("a collect names a stake of its author")
    shares = []
    for ref in body["distributions"]:
        require_dep(entry, ref, "distribution")
        dist = state.distributions.get(ref)
        if dist is None or dist.charter != stake.charter:
            raise SemanticError(f"{ref.hex()[:12]} is not a distribution of the stake's coin")
        if not counts_in(stake, dist):
            raise SemanticError(f"the stake does not count in {ref.hex()[:12]}")
        if stake.id in dist.collected:
            raise SemanticError(f"the stake already collected {ref.hex()[:12]}")
        shares.append((dist, dist.share(stake)))
    for dist, share in shares:
        dist.collected.add(stake.id)
        if share:
            pool = state.locks[dist.id]
            pool.amount -= share
            if pool.amount == 0:  # emptied by many stakers' collects, in no one order:
                pool.closed_by = dist.id  # named by the distribution, on every replica
            credit(state, entry.author, entry, pool.asset, share)


def _tables(state: State) -> None:
    state.coin_charters = {}
    state.stakes = {}
    state.distributions = {}
    state._charter_of = {}
    state._stakes_of = {}
    state._charters_by = {}


def _hash_sections(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.coin_charters:
        out["coin_charters"] = sorted(
            [c.id, c.issuer, c.asset, c.sales, c.distributed] for c in state.coin_charters.values()
        )
    if state.stakes:
        out["stakes"] = sorted(
            [s.id, s.staker, s.charter, s.amount, s.accepted_seq, s.answer]
            for s in state.stakes.values()
        )
    if state.distributions:
        out["distributions"] = sorted(
            [d.id, d.amount, d.total_staked, d.paid, sorted(d.collected)]
            for d in state.distributions.values()
        )
    return out


def _unstake_guard(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """An unstake (the staker's reclaim of an accepted stake, its own witness) relies on the
    acceptance, which made the lock the staker's own: it must name it in deps, or a replica
    holding only the reclaim's dependencies would judge it differently."""
    stake = state.stakes.get(body["of"])
    if stake is not None and stake.accepted_seq is not None and entry.author == stake.staker:
        assert stake.answer is not None
        require_dep(entry, stake.answer, "stake's acceptance")
    return None


SPEND_CHECKS.append(_behind)
RECEIVED.append(_sale_received)

FEATURE = Feature(
    name="coins",
    kinds=(
        Kind(
            "coin.charter",
            record(asset=hash32, sales_asset=hash32, bps=integer(1, BPS_TOTAL)),
            "The issuer commits bps of the sales it receives in sales_asset to stakers.",
        ),
        Kind(
            "stake",
            record(
                charter=hash32,
                amount=integer(1),
                accept_by=integer(0),
                until=integer(0),
                settler=optional(public_key),
            ),
            "Lock coins with their issuer until ``until``; the issuer (or the agent named as "
            "settler) answers by accept_by.",
        ),
        Kind("stake.accept", record(stake=hash32), "The issuer counts a stake from here on."),
        Kind(
            "stake.refuse",
            record(stake=hash32),
            "The issuer refuses a stake: the coins go back to the staker.",
        ),
        Kind(
            "distribute",
            record(charter=hash32, amount=integer(1)),
            "The issuer pays stakers pro rata, one entry for all: each collects its share.",
        ),
        Kind(
            "collect",
            record(stake=hash32, distributions=array(hash32, MAX_COLLECT, 1, unique=True)),
            "A staker takes its shares of distributions.",
        ),
    ),
    rules={
        "coin.charter": apply_charter,
        "stake": apply_stake,
        "stake.accept": apply_accept,
        "stake.refuse": apply_refuse,
        "distribute": apply_distribute,
        "collect": apply_collect,
    },
    tables=_tables,
    view=CoinsView,
    hash_sections=_hash_sections,
    guards={"reclaim": _unstake_guard},
)
