"""Sales agents: an artist delegates selling to another identity, typically an always-on seeder
(kinds ``delegate``, ``revoke``). The agent's grants are judged in ``ledger/features/selling.py``
with ``agent_may_grant`` at the artist's feed prefix named in the grant's deps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError
from ledger.features.base import DepIndex, Feature
from ledger.schema import SEALED_KEY, Kind, array, hash32, public_key, record

if TYPE_CHECKING:
    from ledger.features.selling import Listing
    from ledger.state import State

MAX_DELEGATED_LISTINGS = 256
MAX_DELEGATED_KEYS = 1024


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


class AgentsView:
    delegations: dict[bytes, Delegation]

    def agent_delegation(self, agent: bytes, listing: Listing) -> Delegation | None:
        """The newest unrevoked delegation making ``agent`` a seller of ``listing``."""
        found = [
            d
            for d in self.delegations.values()
            if d.agent == agent
            and d.artist == listing.artist
            and d.revoked_at is None
            and d.covers(listing.id)
        ]
        return max(found, key=lambda d: d.seq, default=None)


def agent_may_grant(state: State, entry: Entry, listing: Listing, dep_seq: DepIndex) -> bool:
    """Some delegation in deps makes the author an agent for ``listing``, active at the
    artist's prefix named in deps (the highest artist seq among the deps)."""
    artist_seq = max(
        (seq for author, seq in map(dep_seq.__getitem__, entry.deps) if author == listing.artist),
        default=0,
    )
    return any(
        (d := state.delegations.get(h)) is not None
        and d.agent == entry.author
        and d.artist == listing.artist
        and d.covers(listing.id)
        and d.active_at(artist_seq)
        for h in entry.deps
    )


def apply_delegate(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    if body["agent"] == entry.author:
        raise SemanticError("an artist cannot delegate to itself")
    for lid in body["listings"]:
        listing = state.listings.get(lid)
        if listing is None or listing.artist != entry.author:
            raise SemanticError("a delegation covers only the author's own listings")
    sealed = {k["content"]: k["sealed"] for k in body["keys"]}
    state.delegations[entry.hash] = Delegation(
        entry.hash, entry.author, body["agent"], entry.seq, tuple(body["listings"]), sealed
    )


def apply_revoke(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    delegation = state.delegations.get(body["delegation"])
    if delegation is None or delegation.artist != entry.author:
        raise SemanticError("a revoke names one of the author's own delegations")
    if delegation.revoked_at is not None:
        raise SemanticError("that delegation is already revoked")
    delegation.revoked_at = entry.seq


def _tables(state: State) -> None:
    state.delegations = {}


def _hash_sections(state: State) -> dict[str, Any]:
    return {
        "delegations": sorted([d.id, d.agent, d.revoked_at] for d in state.delegations.values())
    }


FEATURE = Feature(
    name="agents",
    kinds=(
        Kind(
            "delegate",
            record(
                agent=public_key,
                listings=array(hash32, MAX_DELEGATED_LISTINGS, unique=True),
                keys=array(SEALED_KEY, MAX_DELEGATED_KEYS),
            ),
            "Make another identity a sales agent for some (or, if empty, all) listings.",
        ),
        Kind("revoke", record(delegation=hash32), "End a delegation made earlier in this feed."),
    ),
    rules={"delegate": apply_delegate, "revoke": apply_revoke},
    tables=_tables,
    view=AgentsView,
    hash_sections=_hash_sections,
)
