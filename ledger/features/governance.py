"""Votes and labels that obey them (kinds ``proposal``, ``vote``, ``count``, ``close``,
``charter``, ``charter.draft``, ``sign``, ``sign.accept``, ``sign.release``); built on the
settlement patterns (``ledger/features/settlement.py``).

* A **proposal** names its choices, its method (token-weighted, quadratic, one member one vote,
  one verified buyer one vote), quorum, pass threshold, closing time and **settler**: the one
  feed that counts it.
* A **vote** locks the units its weight needs until the proposal is counted (a lock of purpose
  ``vote``, settler: the proposal's, deadline: the end of the close window), so tokens cannot
  vote twice by moving. A later vote of the same voter replaces the earlier one; it locks only
  the units beyond what the voter's earlier votes on the proposal already locked, and nothing
  earlier is unlocked by it, so whichever of the voter's votes the settler counts is covered.
* The settler's ``count`` entries (when there are more votes than one entry names) and its final
  ``close`` name the votes they count, at most one per voter, and release those voters' locks.
  The result (per choice, turnout, quorum met, passed) is a pure function of the close and the
  settler's feed prefix with its dependencies. Votes that no count named are unlocked with a
  ``reclaim`` and a deadline proof after the close window; valid votes a close left out are a
  view (``omitted``), so censorship is visible.
* A **charter** binds its author's feed: from then on its ``send``, ``asset.mint``, ``sign``,
  ``sign.release`` and ``charter`` (an amendment to a voted ``charter.draft``) entries are valid
  only when they name, in deps, the close of a passed proposal under its current charter whose
  action they carry out exactly, once; its purchases, offers, takes and votes are refused. The
  ledger, not trust, enforces the vote.
* A **signing** binds once the artist accepts it (``sign.accept``, in its own feed): its later
  listings give the label at least the signed share of their split (``signing_guard`` on
  ``listing``), until the term ends or a ``sign.release`` of the label is named in its feed.
* A vote voided by a fork in its voter's feed counts nothing; the count naming it stands.

Tallies and omitted votes are views of what a replica holds; the rules read only an entry's own
feed prefix and its deps. Rules and conflict cases: docs/PROTOCOL.md, "Votes and charters".
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from math import isqrt
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.errors import SemanticError, VoidedError
from ledger.features.base import DepIndex, Feature, require_dep
from ledger.features.settlement import Lock, close_lock, lock_funds, require_settler
from ledger.schema import (
    Kind,
    array,
    hash32,
    integer,
    nullable,
    one_of,
    public_key,
    record,
    text,
)

if TYPE_CHECKING:
    from ledger.state import State

BPS_TOTAL = 10_000
MAX_CHOICES = 16
MAX_MEMBERS = 256
MAX_COUNTED = 63  # votes per count/close entry: with the proposal, the 64 deps an entry may name
# The settler counts within this window after the closing time; vote locks are reclaimable with
# a deadline proof only after it, so a count always precedes any proof in the settler's feed.
CLOSE_WINDOW_MS = 24 * 3600 * 1000
METHODS = ("token", "quadratic", "member", "buyer")
STYLES = ("yes_no", "single", "approval")
ACTIONS = ("send", "mint", "sign", "release", "amend")
# What a chartered feed may not do at all: its funds move only as its proposals say.
_FORBIDDEN_TO_CHARTERED = ("purchase", "offer", "take", "vote")


@dataclass(frozen=True)
class Action:
    """What a passed proposal under a charter lets the chartered feed do, exactly once."""

    do: str  # send, mint, sign, release or amend
    # send, mint: the asset; sign: None; release: the ``sign`` entry; amend: the charter.draft
    asset: bytes | None
    # send: the recipient; mint, amend: the chartered feed; sign, release: the artist
    to: bytes
    # send, mint: units; sign, release: the label's share in basis points; amend: 1
    amount: int


@dataclass(frozen=True)
class Rules:
    """Who votes and how a proposal passes (a proposal's own, or a charter's)."""

    method: str
    asset: bytes | None
    members: tuple[bytes, ...]
    min_holding: int
    quorum: int
    threshold_bps: int


@dataclass(frozen=True)
class Charter:
    id: bytes
    author: bytes
    rules: Rules
    period_ms: int
    settler: bytes
    timestamp: int


@dataclass(frozen=True)
class Proposal:
    id: bytes
    proposer: bytes
    community: bytes  # whose buyers vote by "buyer": the charter's author, else the proposer
    title: str
    text: str
    style: str
    choices: tuple[str, ...]
    rules: Rules
    closes: int
    settler: bytes
    charter: bytes | None
    action: Action | None
    timestamp: int

    @property
    def close_by(self) -> int:
        return self.closes + CLOSE_WINDOW_MS


@dataclass(slots=True)
class Vote:
    id: bytes
    voter: bytes
    proposal: bytes
    choices: tuple[int, ...]
    units: int  # what the voter stakes (token, quadratic, member by holding), else 0
    weight: int
    lock: bytes | None  # the lock this vote made (units beyond the voter's earlier votes)
    timestamp: int
    covered: int  # the units this vote and the voter's earlier votes on the proposal locked
    counted_by: bytes | None = None


@dataclass(frozen=True)
class Signing:
    """A label's ``sign`` entry: the share of the artist's sales it asks for."""

    id: bytes
    label: bytes
    artist: bytes
    bps: int


@dataclass
class Engagement:
    """A signing the artist accepted (``sign.accept``): from then on, until ``until`` or a
    release the artist's feed names, the artist's listings give ``label`` at least ``bps``."""

    signing: bytes
    label: bytes
    bps: int
    accept: bytes
    until: int | None
    released_by: bytes | None = None  # the label's release, once an artist entry named it

    def binds(self, timestamp: int) -> bool:
        return self.released_by is None and (self.until is None or timestamp < self.until)


@dataclass(frozen=True)
class Result:
    """A proposal's outcome: a pure function of its close and the counts before it."""

    proposal: bytes
    close: bytes
    tally: tuple[int, ...]  # weight per choice
    turnout: int  # total weight counted (once per voter, also under approval)
    voters: int
    quorum_met: bool
    winner: int | None  # the choice with the most weight, if exactly one has the most
    passed: bool


class Sums:
    """What the counts of a proposal added up so far (kept as they are applied, so a close of
    many votes does not go over all of them again)."""

    __slots__ = ("tally", "turnout", "voters")

    def __init__(self, choices: int) -> None:
        self.tally = [0] * choices
        self.turnout = 0
        self.voters = 0

    def add(self, votes: list[Vote]) -> None:
        tally = self.tally
        for v in votes:
            w = v.weight
            for c in v.choices:
                tally[c] += w
            self.turnout += w
        self.voters += len(votes)


def tally_result(proposal: Proposal, close: bytes, votes: list[Vote]) -> Result:
    """Tally counted votes: quorum on turnout, and the pass threshold as the leading choice's
    share of turnout (for yes/no, the share of "yes")."""
    sums = Sums(len(proposal.choices))
    sums.add(votes)
    return _result(proposal, close, sums)


def _result(proposal: Proposal, close: bytes, sums: Sums) -> Result:
    tally, turnout = sums.tally, sums.turnout
    quorum_met = turnout >= proposal.rules.quorum and turnout > 0
    top = max(tally)
    leaders = [i for i, t in enumerate(tally) if t == top]
    winner = leaders[0] if top > 0 and len(leaders) == 1 else None
    judged = 0 if proposal.style == "yes_no" else winner
    passed = (
        quorum_met
        and judged is not None
        and tally[judged] * BPS_TOTAL >= proposal.rules.threshold_bps * turnout
    )
    return Result(
        proposal.id, close, tuple(tally), turnout, sums.voters, quorum_met, winner, passed
    )


class GovernanceView:
    proposals: dict[bytes, Proposal]
    votes: dict[bytes, Vote]
    voters: dict[bytes, dict[bytes, list[Vote]]]  # proposal -> voter -> its votes in feed order
    votes_by: dict[bytes, list[Vote]]  # voter -> its votes on every proposal
    counted: dict[bytes, dict[bytes, Vote]]  # proposal -> voter -> the vote counted
    sums: dict[bytes, Sums]  # proposal -> what its counts added up so far
    counts: dict[bytes, bytes]  # count or close entry -> proposal
    results: dict[bytes, Result]  # proposal -> its result, once closed
    closes: dict[bytes, bytes]  # close entry -> proposal
    charters: dict[bytes, Charter]  # author -> its charter
    charter_ids: dict[bytes, Charter]  # charter entry -> the charter
    executed: dict[bytes, bytes]  # proposal -> the chartered feed's entry that carried it out
    signings: dict[tuple[bytes, bytes], tuple[int, bytes]]  # (label, artist) -> (bps, entry)
    sign_entries: dict[bytes, Signing]  # sign entry -> the signing
    engagements: dict[bytes, list[Engagement]]  # artist -> the signings it accepted, feed order
    releases: dict[bytes, bytes]  # sign entry -> the label's release of it
    drafts: dict[bytes, tuple[Rules, int, bytes]]  # charter.draft -> (rules, period, settler)
    voided: set[bytes]  # entries without effect (the ledger's): votes a close names may be void
    fork_counted: set[bytes]  # proposals whose counts named votes a fork voided

    @property
    def ballots(self) -> dict[tuple[bytes, bytes], list[Vote]]:
        """(proposal, voter) -> the voter's votes on the proposal in feed order."""
        return {(p, voter): b for p, by in self.voters.items() for voter, b in by.items()}

    def covered_units(self, proposal: bytes, voter: bytes) -> int:
        """The units ``voter``'s votes on ``proposal`` locked so far (a new vote locks more
        only beyond them)."""
        ballot = self.voters.get(proposal, {}).get(voter)
        return ballot[-1].covered if ballot else 0

    def proposal_status(self, proposal: Proposal, now: int | None = None) -> str:
        """open, counting (closing time passed, not closed), passed, failed, or unsettled (the
        close window passed without a close)."""
        result = self.results.get(proposal.id)
        if result is not None:
            return "passed" if result.passed else "failed"
        if now is None or now <= proposal.closes:
            return "open"
        return "counting" if now <= proposal.close_by else "unsettled"

    def latest_votes(self, proposal: bytes) -> dict[bytes, Vote]:
        """Each voter's latest vote on ``proposal`` that this replica holds."""
        return {voter: votes[-1] for voter, votes in self.voters.get(proposal, {}).items()}

    def running_tally(self, proposal: Proposal) -> Result:
        """What the latest votes held here would give if counted now (a view, decides nothing)."""
        return tally_result(
            proposal, b"", sorted(self.latest_votes(proposal.id).values(), key=lambda v: v.id)
        )

    def omitted(self, proposal: bytes) -> list[Vote]:
        """Valid votes made before the closing time that the settler's counts left out: each
        voter's latest vote, when it is not the one counted. Only once the proposal is closed."""
        if proposal not in self.results:
            return []
        counted = self.counted.get(proposal, {})
        return sorted(
            (v for voter, v in self.latest_votes(proposal).items() if counted.get(voter) is not v),
            key=lambda v: (v.timestamp, v.id),
        )

    def proposals_to_close(self, settler: bytes, now: int) -> list[Proposal]:
        """Proposals ``settler`` counts whose closing time passed and that are not closed."""
        return sorted(
            (
                p
                for p in self.proposals.values()
                if p.settler == settler
                and p.id not in self.results
                and p.closes < now <= p.close_by
            ),
            key=lambda p: (p.closes, p.id),
        )

    def uncounted(self, proposal: bytes) -> list[Vote]:
        """The latest vote of each voter not counted yet, oldest first: what a settler counts."""
        counted = self.counted.get(proposal, {})
        return sorted(
            (v for voter, v in self.latest_votes(proposal).items() if voter not in counted),
            key=lambda v: (v.timestamp, v.id),
        )

    def label_shares(self, listing: bytes) -> list[tuple[bytes, int, int]]:
        """For each label that signed the listing's artist: (label, share signed in bps, share
        the listing's split gives it). A view: whether a listing honours a signing is the
        artist's and the label's business, not a rule."""
        li = self.listings[listing]  # type: ignore[attr-defined]
        given = {s.to: s.bps for s in li.split}
        return sorted(
            (label, bps, given.get(label, 0))
            for (label, artist), (bps, _) in self.signings.items()
            if artist == li.artist
        )

    def binding_shares(
        self, artist: bytes, timestamp: int, naming: Collection[bytes] = ()
    ) -> dict[bytes, int]:
        """What a listing of ``artist`` dated ``timestamp`` (naming ``naming`` in deps) must
        give each label it is bound to (accepted signings, not past their term, not released
        as far as the artist's feed and ``naming`` say), in basis points."""
        out: dict[bytes, int] = {}
        for e in self.engagements.get(artist, ()):
            if e.binds(timestamp) and self.releases.get(e.signing, b"") not in naming:
                out[e.label] = out.get(e.label, 0) + e.bps
        return out

    def releases_to_name(self, artist: bytes, timestamp: int) -> list[bytes]:
        """Releases held here of signings that still bind ``artist``'s feed: a listing that
        names them in deps is free of those signings."""
        return sorted(
            rel
            for e in self.engagements.get(artist, ())
            if e.binds(timestamp) and (rel := self.releases.get(e.signing)) is not None
        )

    def signed_artists(self, label: bytes) -> dict[bytes, int]:
        """Artists ``label`` signed, with its share in basis points."""
        return {artist: bps for (lb, artist), (bps, _) in self.signings.items() if lb == label}


# -- rules -----------------------------------------------------------------------------------------


def _rules_from(body: Mapping[str, Any]) -> Rules:
    """Check and read the governance fields shared by proposals and charters."""
    method, asset, members, least = (
        body["method"],
        body["asset"],
        body["members"],
        body["min_holding"],
    )
    if method in ("token", "quadratic"):
        if asset is None or members or least:
            raise SemanticError(f"a {method} vote names an asset, no members and no minimum")
    elif method == "member":
        by_list = bool(members) and asset is None and least == 0
        by_holding = not members and asset is not None and least > 0
        if not (by_list or by_holding):
            raise SemanticError(
                "one member one vote names a member list, or an asset and a minimum holding"
            )
    elif asset is not None or members or least:
        raise SemanticError("one buyer one vote names no asset, members or minimum")
    return Rules(method, asset, tuple(members), least, body["quorum"], body["threshold_bps"])


def apply_charter(state: State, entry: Entry, body: Mapping[str, Any], dep_seq: DepIndex) -> None:
    """A feed's first charter binds it; a later one amends it, only by carrying out a passed
    proposal under the current charter whose action is an amendment to exactly this text."""
    after = None
    if entry.author in state.charters:
        if not any(ref in state.closes for ref in entry.deps):
            raise SemanticError(
                "this feed already has a charter: it amends it only by carrying out a passed "
                "amendment (name the proposal's close in deps)"
            )
        after = charter_guard(state, entry, body, dep_seq)
    rules = _rules_from(body)
    if after is not None:
        after()
    charter = Charter(
        entry.hash, entry.author, rules, body["period_ms"], body["settler"], entry.timestamp
    )
    state.charters[entry.author] = charter
    state.charter_ids[entry.hash] = charter


def apply_proposal(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    rules = _rules_from(body)
    style, choices = body["style"], tuple(body["choices"])
    if style == "yes_no" and choices != ("yes", "no"):
        raise SemanticError('a yes/no proposal has the choices ["yes", "no"]')
    if body["closes"] <= entry.timestamp:
        raise SemanticError("the proposal closes before it is made")
    community = entry.author
    charter_ref = body["charter"]
    if charter_ref is not None:
        require_dep(entry, charter_ref, "charter")
        charter = state.charter_ids.get(charter_ref)
        if charter is None:
            raise SemanticError("the proposal names an entry that is not a charter")
        if rules != charter.rules:
            raise SemanticError("a proposal under a charter votes by the charter's rules")
        if body["settler"] != charter.settler:
            raise SemanticError("a proposal under a charter is counted by the charter's settler")
        if body["closes"] < entry.timestamp + charter.period_ms:
            raise SemanticError(f"the charter's voting period is {charter.period_ms} ms")
        community = charter.author
    raw = body["action"]
    action = None
    if raw is not None:
        if charter_ref is None or style != "yes_no":
            raise SemanticError("an action belongs to a yes/no proposal under a charter")
        action = Action(raw["do"], raw["asset"], raw["to"], raw["amount"])
        if action.do in ("sign", "release"):
            if (action.asset is None) != (action.do == "sign"):
                raise SemanticError(
                    "a signing names no asset; a release names the signing as its asset"
                )
            if not 1 <= action.amount <= BPS_TOTAL:
                raise SemanticError(f"a {action.do} names a share of 1..10000 bps")
            if action.to == community:
                raise SemanticError("a label does not sign itself")
        elif action.do == "amend":
            if action.to != community or action.amount != 1 or action.asset is None:
                raise SemanticError(
                    "an amendment names the charter draft as its asset, the chartered feed "
                    "and the amount 1"
                )
            require_dep(entry, action.asset, "charter draft")
            if action.asset not in state.drafts:
                raise SemanticError("the amendment names an entry that is not a charter draft")
        elif action.asset is None or action.amount < 1:
            raise SemanticError(f"a {action.do} names an asset and a positive amount")
        elif action.do == "mint" and action.to != community:
            raise SemanticError("a mint credits the chartered feed itself")
    state.proposals[entry.hash] = Proposal(
        entry.hash,
        entry.author,
        community,
        body["title"],
        body["text"],
        style,
        choices,
        rules,
        body["closes"],
        body["settler"],
        charter_ref,
        action,
        entry.timestamp,
    )


def _vote_weight(state: State, entry: Entry, proposal: Proposal, body: Mapping[str, Any]) -> int:
    """The vote's weight under the proposal's method; raises if the author may not vote so."""
    rules, units, qualifier = proposal.rules, body["units"], body["qualifier"]
    if rules.method != "buyer" and qualifier is not None:
        raise SemanticError("only a buyer's vote names a qualifying grant")
    if rules.method in ("token", "quadratic"):
        if units < 1:
            raise SemanticError("a token vote locks at least one unit")
        return units if rules.method == "token" else isqrt(units)
    if rules.method == "member":
        if rules.members:
            if entry.author not in rules.members:
                raise SemanticError("the voter is not on the member list")
            if units:
                raise SemanticError("a listed member's vote locks nothing (units 0)")
        elif units != rules.min_holding:
            raise SemanticError(
                f"a member's vote locks exactly the minimum holding {rules.min_holding}"
            )
        return 1
    if units:
        raise SemanticError("a buyer's vote locks nothing (units 0)")
    if qualifier is None:
        raise SemanticError("a buyer's vote names a grant of its purchase from the proposer")
    require_dep(entry, qualifier, "qualifying grant")
    grant = state.grants.get(qualifier)
    if grant is None or grant.buyer != entry.author:
        raise SemanticError("the qualifier is not a grant of the voter's purchase")
    listing = state.listings[state.purchases[grant.purchase].listing]
    if listing.artist != proposal.community:
        raise SemanticError("the qualifying purchase is not of the community's releases")
    return 1


def apply_vote(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    if entry.author in state.charters:
        raise SemanticError(
            "a chartered feed does not vote: its funds move only as its proposals say"
        )
    pid = body["proposal"]
    require_dep(entry, pid, "proposal")
    proposal = state.proposals.get(pid)
    if proposal is None:
        raise SemanticError("the vote names an entry that is not a proposal")
    if entry.timestamp > proposal.closes:
        raise SemanticError("the proposal has closed")
    choices = tuple(body["choices"])
    if max(choices) >= len(proposal.choices):
        raise SemanticError(f"the proposal has {len(proposal.choices)} choices")
    if len(choices) != 1 and proposal.style != "approval":
        raise SemanticError("this proposal takes exactly one choice per vote")
    weight = _vote_weight(state, entry, proposal, body)
    by_voter = state.voters.get(pid)
    ballot = by_voter.get(entry.author) if by_voter is not None else None
    covered = ballot[-1].covered if ballot else 0
    units = body["units"]
    lock: Lock | None = None
    if units > covered and proposal.rules.asset is not None:  # lock_funds checks the balance
        lock = lock_funds(
            state, entry, proposal.rules.asset, units - covered, proposal.settler, proposal.close_by
        )
        covered = units
    vote = Vote(
        entry.hash,
        entry.author,
        pid,
        choices,
        units,
        weight,
        lock.id if lock else None,
        entry.timestamp,
        covered,
    )
    state.votes[entry.hash] = vote
    if ballot is None:
        if by_voter is None:
            by_voter = state.voters[pid] = {}
        by_voter[entry.author] = [vote]
    else:
        ballot.append(vote)
    votes_by = state.votes_by.get(entry.author)
    if votes_by is None:
        state.votes_by[entry.author] = [vote]
    else:
        votes_by.append(vote)


def _count(
    state: State, entry: Entry, body: Mapping[str, Any]
) -> tuple[Proposal, list[Vote], Callable[[], None] | None]:
    """Check a count or close: by the settler, in the window, of distinct voters' votes (votes
    a fork voided count nothing; the follow-up notes that the proposal's count skipped some)."""
    require_dep(entry, body["proposal"], "proposal")
    proposal = state.proposals.get(body["proposal"])
    if proposal is None:
        raise SemanticError("that entry is not a proposal")
    require_settler(entry, proposal.settler, "proposal")
    if proposal.id in state.results:
        raise SemanticError("the proposal is already closed")
    if not proposal.closes < entry.timestamp <= proposal.close_by:
        raise SemanticError(
            "a proposal is counted after its closing time and within the close window"
        )
    counted = state.counted.get(proposal.id, {})
    votes: list[Vote] = []
    voters: set[bytes] = set()
    skipped = False
    deps = set(entry.deps)
    for ref in body["votes"]:
        if ref not in deps:
            require_dep(entry, ref, "vote")
        if ref in state.voided:  # a fork in the voter's feed voided it: it counts nothing
            skipped = True
            continue
        vote = state.votes.get(ref)
        if vote is None or vote.proposal != proposal.id:
            raise SemanticError(f"{ref.hex()[:12]} is not a vote on this proposal")
        if vote.voter in counted or vote.voter in voters:
            raise SemanticError("a voter is counted once")
        voters.add(vote.voter)
        votes.append(vote)
    if skipped:
        return proposal, votes, lambda: state.fork_counted.add(proposal.id)
    return proposal, votes, None


def _record_count(state: State, entry: Entry, proposal: Proposal, votes: list[Vote]) -> None:
    counted = state.counted.setdefault(proposal.id, {})
    ballots = state.voters.get(proposal.id, {})
    locks = state.locks
    for vote in votes:
        vote.counted_by = entry.hash
        counted[vote.voter] = vote
        # Unlock every lock the voter's votes made up to the one counted (later votes of the
        # voter are not in every replica yet; they keep their locks until a reclaim).
        for earlier in ballots[vote.voter]:
            if earlier.lock is not None:
                lock = locks[earlier.lock]
                if lock.closed_by is None:
                    close_lock(state, lock, entry)
            if earlier is vote:
                break
    sums = state.sums.get(proposal.id)
    if sums is None:
        sums = state.sums[proposal.id] = Sums(len(proposal.choices))
    sums.add(votes)
    state.counts[entry.hash] = proposal.id


def apply_count(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    proposal, votes, skipped = _count(state, entry, body)
    _record_count(state, entry, proposal, votes)
    if skipped is not None:
        skipped()


def apply_close(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    proposal, votes, skipped = _count(state, entry, body)
    _record_count(state, entry, proposal, votes)
    if skipped is not None:
        skipped()
    state.results[proposal.id] = _result(proposal, entry.hash, state.sums[proposal.id])
    state.closes[entry.hash] = proposal.id


def apply_sign(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    if body["artist"] == entry.author:
        raise SemanticError("a label does not sign itself")
    state.signings[(entry.author, body["artist"])] = (body["share_bps"], entry.hash)
    state.sign_entries[entry.hash] = Signing(
        entry.hash, entry.author, body["artist"], body["share_bps"]
    )


def _binding(state: State, entry: Entry) -> tuple[dict[bytes, int], list[tuple[Engagement, bytes]]]:
    """The shares the author's accepted signings bind an entry of its feed to (label -> bps),
    and the releases the entry names in deps for signings not yet known released in the feed.
    Decided by the author's feed prefix and the entry's deps only."""
    required: dict[bytes, int] = {}
    released: list[tuple[Engagement, bytes]] = []
    for e in state.engagements.get(entry.author, ()):
        if not e.binds(entry.timestamp):
            continue
        rel = state.releases.get(e.signing)
        if rel is not None and rel in entry.deps:
            released.append((e, rel))
            continue
        required[e.label] = required.get(e.label, 0) + e.bps
    return required, released


def _acknowledge(released: list[tuple[Engagement, bytes]]) -> Callable[[], None] | None:
    if not released:
        return None

    def mark() -> None:
        for e, rel in released:
            e.released_by = rel

    return mark


def signing_guard(
    state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex
) -> Callable[[], None] | None:
    """A listing of a signed artist gives each label it accepted a signing of, in its split,
    at least the signed share (until the term ends or the listing names the label's release
    in deps). Purchases follow the split exactly, so every sale pays the label."""
    if entry.author not in state.engagements:
        return None
    required, released = _binding(state, entry)
    given = {s["to"]: s["bps"] for s in body["split"]}
    for label, bps in sorted(required.items()):
        if given.get(label, 0) < bps:
            raise SemanticError(
                f"the artist is signed to {label.hex()[:12]}: its listings give that label at "
                f"least {bps} bps of the split (the split gives {given.get(label, 0)})"
            )
    return _acknowledge(released)


def apply_accept(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """The artist accepts a label's signing: from now on (until ``until``, or a release its
    feed names) its listings pay the label the signed share through their split."""
    require_dep(entry, body["signing"], "signing")
    signing = state.sign_entries.get(body["signing"])
    if signing is None:
        raise SemanticError("the acceptance names an entry that is not a signing")
    if signing.artist != entry.author:
        raise SemanticError("a signing is accepted by the artist it names")
    engaged = state.engagements.get(entry.author, [])
    if any(e.signing == signing.id for e in engaged):
        raise SemanticError("that signing was already accepted")
    if state.releases.get(signing.id) in entry.deps:
        raise SemanticError("that signing was released")
    until = body["until"]
    if until is not None and until <= entry.timestamp:
        raise SemanticError("the term ends before the acceptance")
    required, released = _binding(state, entry)
    if sum(required.values()) + signing.bps > BPS_TOTAL:
        raise SemanticError("the artist's signings would take more than the whole split")
    after = _acknowledge(released)
    if after is not None:
        after()
    state.engagements.setdefault(entry.author, []).append(
        Engagement(signing.id, signing.label, signing.bps, entry.hash, until)
    )


def apply_release(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """The label ends a signing (a chartered label: only as a passed proposal says)."""
    require_dep(entry, body["signing"], "signing")
    signing = state.sign_entries.get(body["signing"])
    if signing is None:
        raise SemanticError("the release names an entry that is not a signing")
    if signing.label != entry.author:
        raise SemanticError("a signing is released by the label that made it")
    if signing.id in state.releases:
        raise SemanticError("that signing was already released")
    state.releases[signing.id] = entry.hash


def apply_draft(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """A charter's text put to a vote: a proposal under a charter may amend it to this."""
    state.drafts[entry.hash] = (_rules_from(body), body["period_ms"], body["settler"])


# -- the charter's guard ---------------------------------------------------------------------------


def _carries_out(state: State, entry: Entry, body: Mapping[str, Any]) -> Callable[[Action], bool]:
    """Whether a proposal's action is exactly what ``entry`` does."""
    if entry.kind == "send":
        wanted = Action("send", body["asset"], body["to"], body["amount"])
    elif entry.kind == "asset.mint":
        wanted = Action("mint", body["asset"], entry.author, body["amount"])
    elif entry.kind == "sign":
        wanted = Action("sign", None, body["artist"], body["share_bps"])
    elif entry.kind == "sign.release":
        signing = state.sign_entries.get(body["signing"])
        if signing is None:
            return lambda _a: False  # the rule says why
        wanted = Action("release", signing.id, signing.artist, signing.bps)
    else:  # charter: an amendment to exactly this text
        text = (_rules_from(body), body["period_ms"], body["settler"])
        return lambda a: (
            a.do == "amend"
            and a.to == entry.author
            and a.asset is not None
            and state.drafts.get(a.asset) == text
        )
    return lambda a: a == wanted


def charter_guard(
    state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex
) -> Callable[[], None] | None:
    """A chartered feed's send, mint, signing, release or charter amendment carries out a passed
    proposal under its current charter, named (by its close) in deps, exactly and once; its
    purchases, offers, takes and votes are refused. An amendment voids what passed under the
    old charter and was not carried out."""
    charter = state.charters.get(entry.author)
    if charter is None:
        return None
    if entry.kind in _FORBIDDEN_TO_CHARTERED:
        raise SemanticError(
            f"a chartered feed does not {entry.kind}: its funds move only as its proposals say"
        )
    carries_out = _carries_out(state, entry, body)
    reasons = []
    for ref in entry.deps:
        pid = state.closes.get(ref)
        if pid is None:
            continue
        proposal = state.proposals[pid]
        if proposal.charter != charter.id:
            reasons.append("that proposal is not under this feed's charter")
        elif not state.results[pid].passed:
            if pid in state.fork_counted:  # it passed when the close was written
                raise VoidedError("that proposal did not pass once a fork voided votes it counted")
            reasons.append("that proposal did not pass")
        elif proposal.action is None or not carries_out(proposal.action):
            reasons.append("the entry does not carry out the proposal's action exactly")
        elif pid in state.executed:
            reasons.append("that proposal was already carried out")
        else:
            return lambda: state.executed.__setitem__(pid, entry.hash)
    raise SemanticError(
        reasons[0]
        if reasons
        else f"a chartered feed's {entry.kind} names the close of a passed proposal in deps"
    )


def _refuse_chartered(
    state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex
) -> Callable[[], None] | None:
    if entry.author in state.charters:
        raise SemanticError(
            f"a chartered feed does not {entry.kind}: its funds move only as its proposals say"
        )
    return None


def apply_sign_checked(
    state: State, entry: Entry, body: Mapping[str, Any], dep_seq: DepIndex
) -> None:
    after = charter_guard(state, entry, body, dep_seq)
    apply_sign(state, entry, body, dep_seq)
    if after is not None:
        after()


# -- tables and hash -------------------------------------------------------------------------------


def _tables(state: State) -> None:
    state.proposals = {}
    state.votes = {}
    state.voters = {}
    state.votes_by = {}
    state.counted = {}
    state.sums = {}
    state.counts = {}
    state.results = {}
    state.closes = {}
    state.charters = {}
    state.charter_ids = {}
    state.executed = {}
    state.signings = {}
    state.sign_entries = {}
    state.engagements = {}
    state.releases = {}
    state.drafts = {}
    state.voided = set()  # the ledger replaces it with its set of entries without effect
    state.fork_counted = set()


def _hash_sections(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.proposals:
        out["proposals"] = sorted([p.id, p.proposer, p.settler] for p in state.proposals.values())
    if state.votes:
        out["votes"] = sorted(
            [v.id, v.voter, v.proposal, v.weight, v.lock, v.counted_by]
            for v in state.votes.values()
        )
    if state.results:
        out["results"] = sorted(
            [r.proposal, r.close, list(r.tally), r.turnout, r.passed]
            for r in state.results.values()
        )
    if state.charters:
        out["charters"] = sorted([c.author, c.id] for c in state.charters.values())
    if state.executed:
        out["executed"] = sorted([p, e] for p, e in state.executed.items())
    if state.signings:
        out["signings"] = sorted([lb, a, bps, e] for (lb, a), (bps, e) in state.signings.items())
    if state.engagements:
        out["engagements"] = sorted(
            [artist, e.signing, e.accept, e.until, e.released_by]
            for artist, es in state.engagements.items()
            for e in es
        )
    if state.releases:
        out["releases"] = sorted([s, r] for s, r in state.releases.items())
    if state.drafts:
        out["drafts"] = sorted(state.drafts)
    return out


_GOVERNANCE = dict(
    method=one_of(*METHODS),
    asset=nullable(hash32),
    members=array(public_key, MAX_MEMBERS, unique=True),
    min_holding=integer(0),
    quorum=integer(0),
    threshold_bps=integer(1, BPS_TOTAL),
)
ACTION = record(do=one_of(*ACTIONS), asset=nullable(hash32), to=public_key, amount=integer(1))

FEATURE = Feature(
    name="governance",
    kinds=(
        Kind(
            "proposal",
            record(
                title=text(200, 1),
                text=text(4000),
                style=one_of(*STYLES),
                choices=array(text(80, 1), MAX_CHOICES, 2, unique=True),
                closes=integer(0),
                settler=public_key,
                charter=nullable(hash32),
                action=nullable(ACTION),
                **_GOVERNANCE,
            ),
            "Ask a community a question: choices, method, quorum, threshold, closing time, "
            "settler; under a charter, optionally an action the chartered feed may then take.",
        ),
        Kind(
            "vote",
            record(
                proposal=hash32,
                choices=array(integer(0, MAX_CHOICES - 1), MAX_CHOICES, 1, unique=True),
                units=integer(0),
                qualifier=nullable(hash32),
            ),
            "Vote on a proposal, locking the units the method weighs until it is counted.",
        ),
        Kind(
            "count",
            record(proposal=hash32, votes=array(hash32, MAX_COUNTED, 1, unique=True)),
            "The settler counts votes of a proposal (before its close, when there are many).",
        ),
        Kind(
            "close",
            record(proposal=hash32, votes=array(hash32, MAX_COUNTED, unique=True)),
            "The settler counts the last votes and closes the proposal: the result is final.",
        ),
        Kind(
            "charter",
            record(period_ms=integer(1), settler=public_key, **_GOVERNANCE),
            "Bind the author's feed to its members' votes: sends, mints and signings only as "
            "passed proposals say.",
        ),
        Kind(
            "sign",
            record(artist=public_key, share_bps=integer(1, BPS_TOTAL)),
            "A label signs an artist, whose listings then share their sales with it.",
        ),
        Kind(
            "sign.accept",
            record(signing=hash32, until=nullable(integer(0))),
            "The artist accepts a label's signing: its later listings give the label the "
            "signed share of their split, until the term ends or the label releases it.",
        ),
        Kind(
            "sign.release",
            record(signing=hash32),
            "The label ends a signing (a chartered label only as a passed proposal says).",
        ),
        Kind(
            "charter.draft",
            record(period_ms=integer(1), settler=public_key, **_GOVERNANCE),
            "A charter's new text, put to a vote by a proposal to amend a label's charter.",
        ),
    ),
    rules={
        "proposal": apply_proposal,
        "vote": apply_vote,
        "count": apply_count,
        "close": apply_close,
        "charter": apply_charter,
        "sign": apply_sign_checked,
        "sign.accept": apply_accept,
        "sign.release": apply_release,
        "charter.draft": apply_draft,
    },
    tables=_tables,
    view=GovernanceView,
    hash_sections=_hash_sections,
    voidable={"count": lambda body: body["votes"], "close": lambda body: body["votes"]},
    guards={
        "send": charter_guard,
        "asset.mint": charter_guard,
        "purchase": _refuse_chartered,
        "offer": _refuse_chartered,
        "take": _refuse_chartered,
        "sign.release": charter_guard,
        "listing": signing_guard,
    },
)
