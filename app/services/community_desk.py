"""Community as the desktop app shows it (Qt-free, synchronous, called on worker threads).

``CommunityDesk`` shapes ``GovernanceService`` for the Community view: the proposals held here
(open and closed, with their community, method, closing time and status), one proposal's page
(its text, choices, results as bars with turnout and quorum, whether it passed, the votes the
settler's close left out, what a label does if it passes), a quote of what a vote locks and
until when before anything is signed, the vote itself, the chartered labels with their treasury
and the proposals that moved it, and a proposal in one's own community. ``watch`` turns closes
of proposals the user voted on or made, and the user's vote locks coming back, into notices.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import isqrt

from app.services.core import Core
from app.services.errors import UserError
from app.services.events import Event, LedgerChanged, Notice
from app.services.governance import GovernanceService, ProposalView
from app.services.money import format_amount, parse_amount
from app.services.profiles import display_name
from app.services.watch import StatusWatch
from ledger.features.governance import CLOSE_WINDOW_MS, Charter, Proposal, Rules, Vote
from ledger.state import State

log = logging.getLogger(__name__)

STATUS_TEXT = {
    "open": "Open",
    "counting": "Closed, being counted",
    "passed": "Passed",
    "failed": "Failed",
    "unsettled": "Never counted",
}


def now_ms() -> int:
    return int(time.time() * 1000)


def when_text(ms: int) -> str:
    """A moment as the user reads it: ``"Tue 22 Dec 14:05"`` (local time)."""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%a %d %b %H:%M")


def span_text(ms: int) -> str:
    """A duration in words: ``"5 min"``, ``"3 h"``, ``"2 days"``."""
    s = max(0, ms // 1000)
    if s < 90:
        return f"{s} s"
    if s < 90 * 60:
        return f"{s // 60} min"
    if s < 48 * 3600:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


# -- view models ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProposalRow:
    id: bytes
    title: str
    community: str  # the label (or proposer) whose question it is
    chartered: bool  # under a label's charter: what passes binds the label
    method: str  # "Quadratic (COOP)", "Token (MOSS)", "One member, one vote", "Buyers"
    closes: int
    closes_text: str  # "closes Tue 22 Dec 14:05" / "closed Sat 05 Dec 12:00"
    status: str  # open, counting, passed, failed, unsettled
    status_text: str
    turnout_text: str  # "17 votes from 2 voters"
    my_vote: str  # "you voted yes" or ""
    omitted: int


@dataclass(frozen=True)
class ChoiceBar:
    choice: str
    weight: int
    share: float  # of the turnout, 0..1
    text: str  # "10 votes · 59 %"
    leading: bool  # the winner once closed, the one ahead while open


@dataclass(frozen=True)
class OmittedVote:
    voter: str
    choices: str
    weight: int
    when: int
    why: str


@dataclass(frozen=True)
class ProposalPage:
    id: bytes
    title: str
    text: str
    proposer: str
    community: str
    chartered: bool
    method_text: str  # how votes weigh, in a sentence
    rules_text: str  # quorum and threshold
    threshold: float  # the share of the votes a proposal needs to pass, 0..1
    style: str  # yes_no, single, approval
    choices: tuple[str, ...]
    closes: int
    close_by: int
    closes_text: str
    status: str
    status_text: str  # a sentence: "Passed: yes has 15 of 15 votes; the quorum of 10 was met."
    bars: tuple[ChoiceBar, ...]
    turnout: int
    quorum: int
    turnout_text: str
    quorum_met: bool
    passed: bool | None  # None while not closed
    counted: bool  # the bars are the settler's result (else a running tally of votes here)
    omitted: tuple[OmittedVote, ...]
    action_text: str  # what the label does if it passes ("" without an action)
    carried_out_text: str
    settler: str
    my_vote_text: str
    can_vote: bool
    why_not: str  # when the user cannot vote, why
    needs_units: bool  # the user chooses how many units to lock
    symbol: str  # the asset votes lock ("" when none)
    available_text: str  # what the user can lock ("" when none)


@dataclass(frozen=True)
class VoteQuote:
    proposal: bytes
    choices: tuple[int, ...]
    units: int  # the vote's units
    lock_units: int  # what this vote locks beyond the user's earlier votes
    lock_text: str  # "16 COOP" or "nothing"
    weight: int
    weight_text: str  # "4 votes (√16)"
    until: int  # ms: the lock lasts at most until then
    until_text: str
    summary: str  # the sentence the dialog shows before signing


@dataclass(frozen=True)
class TreasuryMove:
    when: int
    proposal: str  # the proposal's title
    what: str  # "sent 40.00 CRED to Marrow & Moss"
    status: str  # "carried out" / "passed, waiting for the label"


@dataclass(frozen=True)
class LabelView:
    key: bytes
    name: str
    charter_text: str  # the charter in a sentence
    settler: str
    balances: tuple[tuple[str, str], ...]  # (symbol, amount) the treasury holds
    moves: tuple[TreasuryMove, ...]  # newest first
    open_proposals: int
    signed: tuple[str, ...]  # artists the label signed, with its share
    mine: bool  # the user holds what votes under this charter (or is a member)


@dataclass(frozen=True)
class CommunityOverview:
    open: tuple[ProposalRow, ...]  # closing soonest first
    closed: tuple[ProposalRow, ...]  # newest first
    labels: tuple[LabelView, ...]


# -- the desk --------------------------------------------------------------------------------------
class CommunityDesk:
    """The Community view's services for one identity (``core``)."""

    def __init__(
        self,
        core: Core,
        sync: Callable[[], object] | None = None,
        lock: threading.RLock | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.core = core
        self.gov = GovernanceService(core, clock)
        self.clock = clock
        self._sync = sync
        self._lock = lock or threading.RLock()
        self._watch = StatusWatch()  # the user's proposals and vote locks -> last status
        self._watch_lock = threading.Lock()
        core.events.subscribe(self._on_event)

    @property
    def state(self) -> State:
        return self.core.ledger.state

    def _name(self, key: bytes) -> str:
        return "you" if key == self.core.me else display_name(self.state, key)

    # -- describing ------------------------------------------------------------------------------
    def _symbol(self, rules: Rules) -> str:
        asset = self.state.assets.get(rules.asset) if rules.asset else None
        return asset.symbol if asset else ""

    def _method(self, rules: Rules) -> str:
        sym = self._symbol(rules)
        return {
            "token": f"Token ({sym})",
            "quadratic": f"Quadratic ({sym})",
            "member": "One member, one vote",
            "buyer": "One buyer, one vote",
        }[rules.method]

    def _method_text(self, rules: Rules) -> str:
        sym = self._symbol(rules)
        if rules.method == "token":
            return f"Token vote: each {sym} you lock is one vote."
        if rules.method == "quadratic":
            return (
                f"Quadratic vote: locking n {sym} gives √n votes (rounded down), so 16 {sym} "
                "give 4 votes and 100 give 10."
            )
        if rules.method == "member" and rules.members:
            return f"One vote per member ({len(rules.members)} on the list)."
        if rules.method == "member":
            asset = self.state.assets[rules.asset]  # type: ignore[index]
            least = format_amount(rules.min_holding, asset.precision, asset.symbol)
            return f"One vote per holder of at least {least} (locked while the vote runs)."
        return "One vote per verified buyer of the community's releases."

    def _weights(self, rules: Rules, n: int) -> str:
        return f"{n} vote{'s' if n != 1 else ''}"

    def _rules_text(self, rules: Rules) -> str:
        quorum = (
            f"Quorum: {self._weights(rules, rules.quorum)}"
            if rules.quorum
            else "No quorum (any turnout counts)"
        )
        pct = f"{rules.threshold_bps / 100:g} %"
        return f"{quorum}; passes with at least {pct} of the votes cast."

    def _action_text(self, p: Proposal) -> str:
        act = p.action
        if act is None:
            return ""
        label = self._name(p.community)
        if act.do == "sign":
            return (
                f"If it passes, {label} signs {self._name(act.to)} with a "
                f"{act.amount / 100:g} % share of the artist's releases."
            )
        asset = self.state.assets[act.asset]  # type: ignore[index]
        amount = format_amount(act.amount, asset.precision, asset.symbol)
        if act.do == "mint":
            return f"If it passes, {label} mints {amount} into its treasury."
        return f"If it passes, {label} sends {amount} from its treasury to {self._name(act.to)}."

    def _done_text(self, p: Proposal) -> str:
        act = p.action
        if act is None:
            return ""
        if act.do == "sign":
            return f"signed {self._name(act.to)} ({act.amount / 100:g} %)"
        asset = self.state.assets[act.asset]  # type: ignore[index]
        amount = format_amount(act.amount, asset.precision, asset.symbol)
        if act.do == "mint":
            return f"minted {amount}"
        return f"sent {amount} to {self._name(act.to)}"

    def _choices_text(self, p: Proposal, picked: Sequence[int]) -> str:
        return ", ".join(p.choices[i] for i in picked)

    def _row(self, v: ProposalView) -> ProposalRow:
        p, state = v.proposal, self.state
        closed = v.status in ("passed", "failed")
        verb = "closes" if v.status == "open" else "closed"
        tally = v.tally
        return ProposalRow(
            p.id,
            p.title,
            self._name(p.community),
            p.charter is not None,
            self._method(p.rules),
            p.closes,
            f"{verb} {when_text(p.closes)}",
            v.status,
            STATUS_TEXT[v.status],
            f"{self._weights(p.rules, tally.turnout)} from {tally.voters} "
            f"voter{'s' if tally.voters != 1 else ''}" + ("" if closed else " so far"),
            "" if v.my_vote is None else f"you voted {self._choices_text(p, v.my_vote.choices)}",
            len(state.omitted(p.id)),
        )

    # -- reading ---------------------------------------------------------------------------------
    def overview(self) -> CommunityOverview:
        """Open and closed proposals, and the chartered labels with their treasuries."""
        with self._lock:
            views = self.gov.proposals()
            rows = [self._row(v) for v in views]
            open_rows = sorted(
                (r for r in rows if r.status in ("open", "counting")), key=lambda r: r.closes
            )
            closed = sorted(
                (r for r in rows if r.status not in ("open", "counting")),
                key=lambda r: -r.closes,
            )
            return CommunityOverview(tuple(open_rows), tuple(closed), tuple(self.labels()))

    def page(self, proposal_ref: bytes | str) -> ProposalPage:
        """Everything the proposal page shows."""
        with self._lock:
            v = self.gov.proposal_view(proposal_ref)
            p, state, tally = v.proposal, self.state, v.tally
            counted = p.id in state.results
            top = max(tally.tally) if tally.tally else 0
            ahead = [i for i, w in enumerate(tally.tally) if w == top]
            bars = tuple(
                ChoiceBar(
                    c,
                    w,
                    (w / tally.turnout) if tally.turnout else 0.0,
                    f"{self._weights(p.rules, w)} · "
                    f"{round(100 * w / tally.turnout) if tally.turnout else 0} %",
                    top > 0 and len(ahead) == 1 and ahead[0] == i,
                )
                for i, (c, w) in enumerate(zip(p.choices, tally.tally, strict=True))
            )
            omitted = tuple(self._omitted(p, o) for o in v.omitted)
            can, why = self._can_vote(v)
            symbol = self._symbol(p.rules) if p.rules.method in ("token", "quadratic") else ""
            available = ""
            if symbol:
                asset = state.assets[p.rules.asset]  # type: ignore[index]
                have = self._available(asset.id)
                covered = state.covered_units(p.id, self.core.me)
                available = format_amount(have + covered, asset.precision, asset.symbol)
            done = ""
            if v.carried_out_by is not None:
                entry = self.core.ledger.entry(v.carried_out_by)
                at = f" on {when_text(entry.timestamp)}" if entry is not None else ""
                done = f"Carried out{at}: {self._name(p.community)} {self._done_text(p)}."
            elif p.action is not None and v.status == "passed":
                done = f"Passed: waiting for {self._name(p.community)} to carry it out."
            return ProposalPage(
                p.id,
                p.title,
                p.text,
                self._name(p.proposer),
                self._name(p.community),
                p.charter is not None,
                self._method_text(p.rules),
                self._rules_text(p.rules),
                p.rules.threshold_bps / 10_000,
                p.style,
                p.choices,
                p.closes,
                p.close_by,
                ("Closes " if v.status == "open" else "Closed ") + when_text(p.closes),
                v.status,
                self._status_text(v),
                bars,
                tally.turnout,
                p.rules.quorum,
                f"Turnout: {self._weights(p.rules, tally.turnout)} from {tally.voters} "
                f"voter{'s' if tally.voters != 1 else ''}",
                tally.quorum_met,
                tally.passed if counted else None,
                counted,
                omitted,
                self._action_text(p),
                done,
                self._name(p.settler),
                ""
                if v.my_vote is None
                else f"Your vote: {self._choices_text(p, v.my_vote.choices)}"
                + (f" ({self._weights(p.rules, v.my_vote.weight)})"),
                can,
                why,
                symbol != "",
                symbol,
                available,
            )

    def _status_text(self, v: ProposalView) -> str:
        p, t = v.proposal, v.tally
        quorum = (
            f"the quorum of {self._weights(p.rules, p.rules.quorum)} was "
            f"{'met' if t.quorum_met else 'not met'}"
            if p.rules.quorum
            else "no quorum needed"
        )
        lead = (
            f"{p.choices[t.winner]} has {t.tally[t.winner]} of {t.turnout} votes"
            if t.winner is not None
            else "no single choice leads"
        )
        if v.status == "passed":
            return f"Passed: {lead}; {quorum}. Counted by {self._name(p.settler)}."
        if v.status == "failed":
            return f"Failed: {lead}; {quorum}. Counted by {self._name(p.settler)}."
        if v.status == "counting":
            return (
                f"Voting has ended; {self._name(p.settler)} counts the votes by "
                f"{when_text(p.close_by)}."
            )
        if v.status == "unsettled":
            return (
                f"Nobody counted this vote by {when_text(p.close_by)}: it has no result, and "
                "voters take their locked units back."
            )
        left = p.closes - self.clock()
        return f"Open for {span_text(left)} more. So far {lead}."

    def _omitted(self, p: Proposal, vote: Vote) -> OmittedVote:
        counted = self.state.counted.get(p.id, {}).get(vote.voter)
        why = (
            "replaced after the vote that was counted"
            if counted is not None
            else "made before the close, left out of the count"
        )
        return OmittedVote(
            self._name(vote.voter),
            self._choices_text(p, vote.choices),
            vote.weight,
            vote.timestamp,
            why,
        )

    def _available(self, asset: bytes) -> int:
        """The balance, with what is arriving (a vote receives it before it locks)."""
        state = self.state
        return state.balance(self.core.me, asset) + sum(
            t.amount for t in state.incoming(self.core.me) if t.asset == asset
        )

    def _can_vote(self, v: ProposalView) -> tuple[bool, str]:
        p, state, me = v.proposal, self.state, self.core.me
        if v.status != "open":
            return False, "Voting has ended."
        if me in state.charters:
            return False, "A chartered identity does not vote."
        rules = p.rules
        if rules.method in ("token", "quadratic"):
            covered = state.covered_units(p.id, me)
            if self._available(rules.asset) + covered <= 0:  # type: ignore[arg-type]
                return False, f"You hold no {self._symbol(rules)} to vote with."
        elif rules.method == "member" and rules.members and me not in rules.members:
            return False, "You are not on this proposal's member list."
        elif rules.method == "member" and not rules.members:
            covered = state.covered_units(p.id, me)
            if self._available(rules.asset) + covered < rules.min_holding:  # type: ignore[arg-type]
                return False, "You do not hold the minimum to vote."
        elif rules.method == "buyer" and self.gov._qualifying_grant(p) is None:
            return False, "Only buyers of this community's releases vote."
        return True, ""

    # -- voting ----------------------------------------------------------------------------------
    def quote_vote(
        self, proposal_ref: bytes | str, choices: Sequence[str | int], units: str = ""
    ) -> VoteQuote:
        """What a vote would lock, until when, and how much it weighs; nothing is signed.
        Raises ``UserError`` with a readable sentence for anything that would not be valid."""
        with self._lock:
            v = self.gov.proposal_view(proposal_ref)
            p, state, me = v.proposal, self.state, self.core.me
            can, why = self._can_vote(v)
            if not can:
                raise UserError(why)
            picked = sorted({self.gov._choice(p, str(c)) for c in choices})
            if not picked:
                raise UserError(
                    "choose one or more choices" if p.style == "approval" else "choose one"
                )
            if p.style != "approval" and len(picked) != 1:
                raise UserError("choose exactly one")
            rules = p.rules
            covered = state.covered_units(p.id, me)
            symbol = ""
            precision = 0
            if rules.method in ("token", "quadratic"):
                asset = state.assets[rules.asset]  # type: ignore[index]
                symbol, precision = asset.symbol, asset.precision
                text = units.strip()
                if not text:
                    raise UserError(f"say how many {symbol} to lock")
                amount = parse_amount(text, precision)
                if amount <= 0:
                    raise UserError(f"lock at least some {symbol} to vote")
                have = self._available(asset.id)
                if amount - covered > have:
                    raise UserError(
                        f"not enough {symbol}: you can lock "
                        f"{format_amount(have + covered, precision, symbol)} in all"
                    )
                weight = amount if rules.method == "token" else isqrt(amount)
                if weight <= 0:
                    raise UserError(
                        f"{format_amount(amount, precision, symbol)} is less than one vote"
                    )
            elif rules.method == "member" and not rules.members:
                asset = state.assets[rules.asset]  # type: ignore[index]
                symbol, precision = asset.symbol, asset.precision
                amount, weight = rules.min_holding, 1
            else:
                amount, weight = 0, 1
            extra = max(0, amount - covered)
            lock_text = format_amount(extra, precision, symbol) if extra else "nothing"
            how = ""
            if rules.method == "quadratic":
                how = f" (√{format_amount(amount, precision)}, rounded down)"
            elif rules.method == "token":
                how = f" (one per {symbol})"
            weight_text = f"{self._weights(rules, weight)}{how}"
            settler = self._name(p.settler)
            if extra:
                lock = (
                    f"Locks {lock_text} until {settler} counts the vote after it closes "
                    f"({when_text(p.closes)}), at the latest until {when_text(p.close_by)}; "
                    "then they come back to you."
                )
            elif covered:
                lock = (
                    "Locks nothing more: your earlier vote already locked "
                    f"{format_amount(covered, precision, symbol)}."
                )
            else:
                lock = "Locks nothing."
            replaces = " It replaces your earlier vote." if v.my_vote is not None else ""
            summary = (
                f"Vote {self._choices_text(p, picked)}: counts as {weight_text}. {lock}{replaces}"
            )
            return VoteQuote(
                p.id,
                tuple(picked),
                amount,
                extra,
                lock_text,
                weight,
                weight_text,
                p.closes + CLOSE_WINDOW_MS,
                when_text(p.closes + CLOSE_WINDOW_MS),
                summary,
            )

    def vote(
        self,
        proposal_ref: bytes | str,
        choices: Sequence[str | int],
        units: str = "",
        expect: VoteQuote | None = None,
    ) -> str:
        """Sign the vote; with ``expect`` (the quote the user confirmed), refuse when what it
        would lock or weigh changed. Returns what to tell the user."""
        with self._lock:
            quote = self.quote_vote(proposal_ref, choices, units)
            if expect is not None and (quote.lock_units, quote.weight, quote.choices) != (
                expect.lock_units,
                expect.weight,
                expect.choices,
            ):
                raise UserError(f"the vote changed since you checked it: {quote.summary}")
            p = self.state.proposals[quote.proposal]
            sym = p.rules.method in ("token", "quadratic")
            self.gov.vote(
                quote.proposal, [str(c) for c in quote.choices], quote.units if sym else None
            )
            self._remember()
        self._sync_soon()
        locked = f"; {quote.lock_text} locked until it is counted" if quote.lock_units else ""
        return f"Vote signed: {quote.weight_text}{locked}."

    def propose(
        self,
        title: str,
        text: str = "",
        choices: Sequence[str] = ("yes", "no"),
        days: str = "3",
        community: bytes | None = None,
    ) -> str:
        """A question to a community: under a label's charter (``community``: its rules,
        settler and shortest voting period apply), else to the user's own buyers (one buyer,
        one vote), counted by the user's node. Returns what to tell the user."""
        title = title.strip()
        if not title:
            raise UserError("give the proposal a title")
        if len(title) > 200:
            raise UserError("the title is at most 200 characters")
        names = [c.strip() for c in choices if c.strip()]
        if len(names) < 2:
            raise UserError("offer at least two choices")
        if len(set(names)) != len(names):
            raise UserError("the choices must differ")
        try:
            period = float(days)
        except ValueError as exc:
            raise UserError(f"{days!r} is not a number of days") from exc
        if not 0 < period <= 365:
            raise UserError("a vote runs between a moment and a year")
        with self._lock:
            if community is not None:
                pid = self.gov.propose(
                    title,
                    text=text,
                    choices=names,
                    community=community,
                    closes_in_s=period * 86400,
                )
            else:
                pid = self.gov.propose(
                    title, text=text, choices=names, method="buyer", closes_in_s=period * 86400
                )
            self._remember()
        self._sync_soon()
        closes = self.state.proposals[pid].closes
        return f"Proposal published; voting closes {when_text(closes)}."

    def _sync_soon(self) -> None:
        if self._sync is not None:
            try:
                self._sync()
            except Exception:  # the next sync round carries it
                pass

    # -- labels ----------------------------------------------------------------------------------
    def _charter_text(self, c: Charter) -> str:
        r = c.rules
        who = {
            "token": f"{self._symbol(r)} holders, one vote per {self._symbol(r)}",
            "quadratic": f"{self._symbol(r)} holders, quadratic (√ of what each locks)",
            "member": "members, one vote each",
            "buyer": "buyers of its releases, one vote each",
        }[r.method]
        return (
            f"Run by its {who}. {self._rules_text(r)} Votes run at least "
            f"{span_text(c.period_ms)}; {self._name(c.settler)} counts them. Its treasury moves "
            "only as a passed proposal says."
        )

    def labels(self) -> list[LabelView]:
        """Chartered labels: their charter, treasury and the proposals that moved it."""
        with self._lock:
            state, me = self.state, self.core.me
            out = []
            for author, c in state.charters.items():
                balances = tuple(
                    (state.assets[a].symbol, format_amount(u, state.assets[a].precision))
                    for a, u in sorted(
                        state.balances_of(author).items(), key=lambda kv: state.assets[kv[0]].symbol
                    )
                    if u > 0
                )
                moves = []
                n_open = 0
                for p in state.proposals.values():
                    if p.charter != c.id:
                        continue
                    status = state.proposal_status(p, self.clock())
                    n_open += status == "open"
                    if p.action is None or status != "passed":
                        continue
                    done = state.executed.get(p.id)
                    entry = self.core.ledger.entry(done) if done else None
                    result = state.results[p.id]
                    close = self.core.ledger.entry(result.close)
                    at = (
                        entry.timestamp
                        if entry is not None
                        else (close.timestamp if close is not None else p.closes)
                    )
                    moves.append(
                        TreasuryMove(
                            at,
                            p.title,
                            self._done_text(p),
                            "carried out" if done else "passed, waiting for the label",
                        )
                    )
                moves.sort(key=lambda m: -m.when)
                r = c.rules
                if r.method in ("token", "quadratic") or (r.method == "member" and r.asset):
                    mine = self._available(r.asset) > 0  # type: ignore[arg-type]
                else:
                    mine = me in r.members or author == me
                signed = tuple(
                    f"{self._name(artist)} ({bps / 100:g} %)"
                    for artist, bps in state.signed_artists(author).items()
                )
                out.append(
                    LabelView(
                        author,
                        self._name(author),
                        self._charter_text(c),
                        self._name(c.settler),
                        balances,
                        tuple(moves),
                        n_open,
                        signed,
                        mine or author == me,
                    )
                )
            out.sort(key=lambda lv: (not lv.mine, lv.name))
            return out

    # -- notices ---------------------------------------------------------------------------------
    def _statuses(self) -> dict[bytes, str]:
        """Proposals the user voted on or made -> open or closed; the user's vote locks ->
        locked, released (counted) or reclaimed."""
        state, me = self.state, self.core.me
        out: dict[bytes, str] = {}
        for p in state.proposals.values():
            if p.proposer == me:
                out[p.id] = "closed" if p.id in state.results else "open"
        for vote in state.votes_by.get(me, ()):
            out[vote.proposal] = "closed" if vote.proposal in state.results else "open"
            if vote.lock is not None:
                lk = state.locks[vote.lock]
                if lk.closed_by is None:
                    out[vote.lock] = "locked"
                else:  # a count releases the votes up to the one it counted; else a reclaim
                    counted = state.counted.get(vote.proposal, {}).get(me)
                    ballots = state.ballots.get((vote.proposal, me), [])
                    released = counted is not None and any(
                        v is vote for v in ballots[: ballots.index(counted) + 1]
                    )
                    out[vote.lock] = "released" if released else "reclaimed"
        return out

    def _remember(self) -> None:
        with self._watch_lock:
            self._watch.remember(self._statuses().items())

    def _on_event(self, event: Event) -> None:
        """New entries (on the thread that took them in): look for closes and unlocks. Takes
        only the watch lock, never the session's, so it cannot wait on a sync in progress."""
        if isinstance(event, LedgerChanged):
            try:
                self.watch()
            except Exception:  # a notice is never worth breaking the ledger's listeners
                log.debug("community notices skipped", exc_info=True)

    def watch(self) -> list[str]:
        """Sentences for closes of proposals the user voted on or made, and for vote locks
        that came back, since the last call (the first call only looks); each is also emitted
        as a ``Notice``."""
        with self._watch_lock:
            changes = self._watch.changes(self._statuses())
            state = self.state
            closed: dict[bytes, str] = {}
            texts: list[str] = []
            for item, _, status in changes:
                if item not in state.proposals:
                    continue
                if status == "closed":
                    p, r = state.proposals[item], state.results[item]
                    verdict = "passed" if r.passed else "failed"
                    closed[item] = (
                        f"“{p.title}” {verdict}: {self._weights(p.rules, r.turnout)} "
                        f"from {r.voters} voter{'s' if r.voters != 1 else ''}."
                    )
            for item, _, status in changes:
                if status not in ("released", "reclaimed"):
                    continue
                vote = state.votes.get(item)
                if vote is None:
                    continue
                lk = state.locks[item]
                asset = state.assets[lk.asset]
                amount = format_amount(self._lock_size(vote), asset.precision, asset.symbol)
                title = state.proposals[vote.proposal].title
                if status == "reclaimed":
                    texts.append(
                        f"Refunded: nobody counted your vote on “{title}”; the {amount} it "
                        "locked are back."
                    )
                elif vote.proposal in closed:
                    closed[vote.proposal] += f" Your {amount} are on their way back."
                else:
                    texts.append(
                        f"Your vote on “{title}” was counted: the {amount} it locked are on "
                        "their way back."
                    )
            texts = list(closed.values()) + texts
        for text in texts:
            self.core.events.emit(Notice(text))
        return texts

    def _lock_size(self, vote: Vote) -> int:
        """What ``vote`` locked: its units beyond the voter's earlier votes on the proposal."""
        ballots = self.state.ballots.get((vote.proposal, vote.voter), [])
        earlier = ballots[: next((i for i, v in enumerate(ballots) if v is vote), len(ballots))]
        return max(0, vote.units - max((v.units for v in earlier), default=0))


__all__ = [
    "ChoiceBar",
    "CommunityDesk",
    "CommunityOverview",
    "LabelView",
    "OmittedVote",
    "ProposalPage",
    "ProposalRow",
    "TreasuryMove",
    "VoteQuote",
    "span_text",
    "when_text",
]
