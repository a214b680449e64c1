"""Proposals, votes, charters and their settlement, for people and for settlers (no Qt).

``GovernanceService`` writes charters, proposals and votes, and reads proposals with their
running tally, result and omitted votes. ``settle_governance`` is what a node does by itself,
called from ``Core.settle()`` (so a headless seeder does it too): as a settler, count and close
the proposals whose closing time passed; as a chartered label, carry out the passed proposals
under its charter; as a voter, take back vote locks nobody counted once the close window passed.
Every item is handled on its own: one bad item is skipped with a logged reason, for a while, and
never stops the loop. (Checkpoints for open vote locks are written by the exchange's settle
loop, which writes them for every open lock a settler holds for others.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from app.services.core import register_settler_duty
from app.services.errors import UserError
from app.services.money import parse_amount
from app.services.reports import GovernanceSettleReport
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.features.governance import BPS_TOTAL, MAX_COUNTED
from ledger.keys import Signer
from ledger.ledger import Ledger
from ledger.state import Asset, Proposal, Result, Vote

log = logging.getLogger(__name__)

SKIP_FOR_MS = 60 * 1000  # an item that failed is not retried for this long
MAX_SKIPS = 1024


def now_ms() -> int:
    return int(time.time() * 1000)


class Node(Protocol):
    """What this service needs of ``app.services.core.Core`` (typed here so that the core,
    which calls ``settle_governance``, and this module do not import each other)."""

    ledger: Ledger
    signer: Signer
    me: bytes
    governance_skips: dict[bytes, int]

    @property
    def awaiting_own_feed(self) -> bool: ...

    def require_writable(self) -> None: ...

    def settle(self) -> Any: ...


@dataclass(frozen=True)
class ProposalView:
    proposal: Proposal
    status: str  # open, counting, passed, failed, unsettled
    tally: Result  # the result once closed, else the running tally of the votes held here
    omitted: tuple[Vote, ...]
    my_vote: Vote | None
    carried_out_by: bytes | None

    @property
    def id(self) -> bytes:
        return self.proposal.id


def threshold_bps(percent: str | float) -> int:
    """``"50.01"`` (per cent) as basis points."""
    try:
        value = float(percent)
    except ValueError as exc:
        raise UserError(f"{percent!r} is not a percentage") from exc
    bps = round(value * 100)
    if not 1 <= bps <= BPS_TOTAL:
        raise UserError("the pass threshold is between 0.01 and 100 per cent")
    return bps


class GovernanceService:
    """Charters, proposals and votes, for the identity of ``core``."""

    def __init__(self, core: Node, clock: Callable[[], int] = now_ms) -> None:
        self.core = core
        self.clock = clock

    def asset(self, ref: str | bytes) -> Asset:
        """An asset by its ID (bytes or hex) or its symbol (ours first, else a unique one)."""
        assets = self.core.ledger.state.assets
        raw = ref if isinstance(ref, bytes) else None
        if raw is None:
            try:
                raw = bytes.fromhex(cast(str, ref))  # not bytes, or raw would be set
            except ValueError:
                raw = None
        if raw is not None and raw in assets:
            return assets[raw]
        named = [a for a in assets.values() if isinstance(ref, str) and a.symbol == ref.upper()]
        ours = [a for a in named if a.issuer == self.core.me]
        if len(ours) == 1 or len(named) == 1:
            return (ours or named)[0]
        raise UserError(
            f"several assets are called {cast(str, ref)}; give the asset ID"
            if named
            else f"no asset {ref if isinstance(ref, str) else ref.hex()[:12]}"
        )

    def _append(
        self, kind: str, body: dict, deps: Sequence[bytes] = (), at: int | None = None
    ) -> Entry:
        self.core.require_writable()
        try:
            entry = self.core.ledger.append(
                self.core.signer,
                kind,
                body,
                sorted(set(deps)),
                timestamp=self.clock() if at is None else at,
            )
        except LedgerError as err:
            raise UserError(str(err)) from err
        return entry

    def _rules(
        self,
        method: str,
        asset: str | None,
        members: Sequence[bytes],
        min_holding: str | int,
        quorum: str | int,
        threshold: str | float,
    ) -> dict:
        if method not in ("token", "quadratic", "member", "buyer"):
            raise UserError("the method is token, quadratic, member or buyer")
        found = self.asset(asset) if asset else None
        if method in ("token", "quadratic") and found is None:
            raise UserError(f"a {method} vote needs the asset whose holders vote")
        least = parse_amount(min_holding, found.precision) if found else 0
        if method == "member" and not members and (found is None or least <= 0):
            raise UserError("one member one vote needs members, or an asset and a minimum holding")
        if method == "member" and members:
            found, least = None, 0
        if method == "buyer":
            found, least = None, 0
        weight = (
            parse_amount(quorum, found.precision)
            if (found is not None and method == "token")
            else int(quorum)
        )
        return {
            "method": method,
            "asset": found.id if found else None,
            "members": sorted(set(members)) if method == "member" else [],
            "min_holding": least if method == "member" else 0,
            "quorum": weight,
            "threshold_bps": threshold_bps(threshold),
        }

    # -- writing ---------------------------------------------------------------------------------
    def charter(
        self,
        *,
        method: str = "token",
        asset: str | None = None,
        members: Sequence[bytes] = (),
        min_holding: str | int = 0,
        quorum: str | int = 0,
        threshold: str | float = "50.01",
        period_s: float = 3 * 24 * 3600,
        settler: bytes | None = None,
    ) -> bytes:
        """Bind our own feed: from now on it sends, mints and signs only as voted."""
        state = self.core.ledger.state
        if self.core.me in state.charters:
            raise UserError(
                "this identity already has a charter: propose an amendment "
                "(draft-charter, then propose --amend)"
            )
        return self._append(
            "charter",
            self._charter_body(
                method, asset, members, min_holding, quorum, threshold, period_s, settler
            ),
        ).hash

    def _charter_body(
        self,
        method: str,
        asset: str | None,
        members: Sequence[bytes],
        min_holding: str | int,
        quorum: str | int,
        threshold: str | float,
        period_s: float,
        settler: bytes | None,
    ) -> dict:
        if period_s <= 0:
            raise UserError("the voting period is positive")
        return {
            "period_ms": int(period_s * 1000),
            "settler": settler or self.core.me,
            **self._rules(method, asset, members, min_holding, quorum, threshold),
        }

    def draft_charter(
        self,
        *,
        method: str = "token",
        asset: str | None = None,
        members: Sequence[bytes] = (),
        min_holding: str | int = 0,
        quorum: str | int = 0,
        threshold: str | float = "50.01",
        period_s: float = 3 * 24 * 3600,
        settler: bytes | None = None,
    ) -> bytes:
        """Publish a charter's new text, for a proposal to amend a label's charter to it."""
        body = self._charter_body(
            method, asset, members, min_holding, quorum, threshold, period_s, settler
        )
        return self._append("charter.draft", body).hash

    def accept_signing(self, signing_ref: str | bytes, term_s: float | None = None) -> bytes:
        """As the artist a label signed: accept, so that our listings from now on (for
        ``term_s`` seconds, or until the label releases us) give the label its share."""
        state = self.core.ledger.state
        signing = state.sign_entries.get(_ref(signing_ref, state.sign_entries))
        if signing is None:
            raise UserError("no such signing")
        if signing.artist != self.core.me:
            raise UserError("that signing names another artist")
        now = self.clock()
        until = None if term_s is None else now + int(term_s * 1000)
        body = {"signing": signing.id, "until": until}
        return self._append("sign.accept", body, [signing.id], at=now).hash

    def label_shares(self) -> dict[bytes, int]:
        """What our listings must give each label we accepted a signing of, now (bps)."""
        return self.core.ledger.state.binding_shares(self.core.me, self.clock())

    def propose(
        self,
        title: str,
        *,
        text: str = "",
        choices: Sequence[str] = ("yes", "no"),
        approval: bool = False,
        method: str = "token",
        asset: str | None = None,
        members: Sequence[bytes] = (),
        min_holding: str | int = 0,
        quorum: str | int = 0,
        threshold: str | float = "50.01",
        closes_in_s: float | None = None,
        settler: bytes | None = None,
        community: bytes | None = None,
        action: dict | None = None,
    ) -> bytes:
        """Make a proposal. ``community``: a chartered label whose charter it falls under (its
        rules, settler and period then apply); ``action``: what the label does if it passes
        (``{"do": "send" | "mint" | "sign", "asset": ref, "to": key, "amount": text}``)."""
        choices = [c.strip() for c in choices]
        style = "approval" if approval else ("yes_no" if choices == ["yes", "no"] else "single")
        if len(choices) < 2:
            raise UserError("a proposal offers at least two choices")
        state = self.core.ledger.state
        deps: list[bytes] = []
        charter_id = None
        seen = state.last_seen.get(self.core.me)  # our feed's timestamps never go back
        now = max(self.clock(), seen[0] if seen else 0)
        if community is not None:
            charter = state.charters.get(community)
            if charter is None:
                raise UserError("that identity has no charter")
            rules = {
                "method": charter.rules.method,
                "asset": charter.rules.asset,
                "members": list(charter.rules.members),
                "min_holding": charter.rules.min_holding,
                "quorum": charter.rules.quorum,
                "threshold_bps": charter.rules.threshold_bps,
            }
            settler = charter.settler
            charter_id = charter.id
            deps.append(charter.id)
            closes = now + max(int((closes_in_s or 0) * 1000), charter.period_ms)
        else:
            rules = self._rules(method, asset, members, min_holding, quorum, threshold)
            closes = now + int((closes_in_s or 3 * 24 * 3600) * 1000)
        act = None
        if action is not None:
            if community is None:
                raise UserError("an action is voted under a label's charter (give --charter)")
            if style != "yes_no":
                raise UserError("a proposal with an action is a yes/no question")
            act = self._action(action, community)
            if act["do"] == "amend":
                deps.append(act["asset"])  # the draft, for voters to read
        body = {
            "title": title,
            "text": text,
            "style": style,
            "choices": choices,
            "closes": closes,
            "settler": settler or self.core.me,
            "charter": charter_id,
            "action": act,
            **rules,
        }
        # dated when ``closes`` was computed, so the voting period holds to the millisecond
        return self._append("proposal", body, deps, at=now).hash

    def _action(self, action: dict, community: bytes) -> dict:
        do = action.get("do")
        state = self.core.ledger.state
        if do == "sign":
            bps = int(action["amount"])
            return {"do": "sign", "asset": None, "to": action["to"], "amount": bps}
        if do == "release":
            signing = state.sign_entries.get(_ref(action["signing"], state.sign_entries))
            if signing is None or signing.label != community:
                raise UserError("that is not a signing of this label")
            return {
                "do": "release",
                "asset": signing.id,
                "to": signing.artist,
                "amount": signing.bps,
            }
        if do == "amend":
            draft = _ref(action["draft"], state.drafts)
            if draft not in state.drafts:
                raise UserError("no such charter draft")
            return {"do": "amend", "asset": draft, "to": community, "amount": 1}
        if do not in ("send", "mint"):
            raise UserError("the action is send, mint, sign, release or amend")
        asset = self.asset(action["asset"])
        units = parse_amount(action["amount"], asset.precision)
        to = community if do == "mint" else action["to"]
        return {"do": do, "asset": asset.id, "to": to, "amount": units}

    def vote(
        self, proposal_ref: str | bytes, choices: Sequence[str], units: str | int | None = None
    ) -> bytes:
        """Vote (again: the latest vote counts). ``choices``: names or numbers; ``units``: what
        a token or quadratic vote locks (default: all we hold beyond what we locked already)."""
        view = self.proposal_view(proposal_ref)
        p = view.proposal
        if view.status != "open":
            raise UserError(f"that proposal is {view.status}")
        picked = sorted({self._choice(p, c) for c in choices})
        if not picked or (p.style != "approval" and len(picked) != 1):
            raise UserError("choose exactly one" if p.style != "approval" else "choose one or more")
        self.core.settle()  # incoming units become spendable first
        state = self.core.ledger.state
        deps = [p.id]
        qualifier = None
        method = p.rules.method
        covered = state.covered_units(p.id, self.core.me)
        if method in ("token", "quadratic"):
            asset = state.assets[p.rules.asset]  # type: ignore[index]
            have = state.balance(self.core.me, asset.id)
            amount = covered + have if units is None else parse_amount(units, asset.precision)
            if amount <= 0:
                raise UserError(f"you hold no {asset.symbol} to vote with")
            if amount - covered > have:
                raise UserError(f"not enough {asset.symbol}: you can lock {covered + have} in all")
        elif method == "member":
            if p.rules.members:
                if self.core.me not in p.rules.members:
                    raise UserError("you are not on this proposal's member list")
                amount = 0
            else:
                amount = p.rules.min_holding
                if amount - covered > state.balance(self.core.me, p.rules.asset):  # type: ignore[arg-type]
                    raise UserError("you do not hold the minimum to vote")
        else:
            amount = 0
            grant = self._qualifying_grant(p)
            if grant is None:
                raise UserError(
                    "only buyers of this community's releases vote, once their "
                    "purchase was fulfilled"
                )
            qualifier = grant
            deps.append(grant)
        return self._append(
            "vote",
            {"proposal": p.id, "choices": picked, "units": amount, "qualifier": qualifier},
            deps,
        ).hash

    def _choice(self, p: Proposal, text: str) -> int:
        text = str(text).strip()
        if text in p.choices:
            return p.choices.index(text)
        if text.isdigit() and int(text) < len(p.choices):
            return int(text)
        raise UserError(f"{text!r} is not a choice: {', '.join(p.choices)}")

    def _qualifying_grant(self, p: Proposal) -> bytes | None:
        state = self.core.ledger.state
        for purchase in state.purchases_by(self.core.me):
            if state.listings[purchase.listing].artist == p.community and purchase.granted_by:
                return purchase.granted_by[0]
        return None

    def close(self, proposal_ref: str | bytes) -> Result:
        """As the proposal's settler: count the latest vote of every voter held here, then
        close. Raises if the closing time has not passed or the window is over."""
        p = self.proposal_view(proposal_ref).proposal
        if p.settler != self.core.me:
            raise UserError("only the proposal's settler closes it")
        now = self.clock()
        if now <= p.closes:
            raise UserError("the proposal is still open")
        if now > p.close_by:
            raise UserError("the close window has passed: voters take their units back")
        return self._close(p)

    def _close(self, p: Proposal) -> Result:
        state = self.core.ledger.state
        todo = [v.id for v in state.uncounted(p.id)]
        while p.id not in state.results:
            batch, todo = todo[:MAX_COUNTED], todo[MAX_COUNTED:]
            self._append(
                "count" if todo else "close",
                {"proposal": p.id, "votes": sorted(batch)},
                [p.id, *batch],
            )
        return state.results[p.id]

    def carry_out(self, proposal_ref: str | bytes) -> bytes:
        """As a chartered label: do what a passed proposal under our charter says, once."""
        p = self.proposal_view(proposal_ref).proposal
        before = self.core.ledger.state.executed.get(p.id)
        self.core.settle()  # receives first; the settle loop itself carries out what passed
        done = self.core.ledger.state.executed.get(p.id)
        if done is not None and before is None:
            return done
        return self._carry_out(p)

    def _carry_out(self, p: Proposal) -> bytes:
        state = self.core.ledger.state
        charter = state.charters.get(self.core.me)
        if charter is None or p.charter != charter.id or p.action is None:
            raise UserError("that proposal does not ask anything of this identity")
        result = state.results.get(p.id)
        if result is None or not result.passed:
            raise UserError("that proposal has not passed")
        if p.id in state.executed:
            raise UserError("that proposal was already carried out")
        act = p.action
        if act.do == "send":
            return self._append(
                "send",
                {"asset": act.asset, "to": act.to, "amount": act.amount, "memo": p.title[:280]},
                [result.close],
            ).hash
        if act.do == "mint":
            return self._append(
                "asset.mint", {"asset": act.asset, "amount": act.amount}, [result.close]
            ).hash
        if act.do == "release" and act.asset is not None:
            return self._append(
                "sign.release", {"signing": act.asset}, [result.close, act.asset]
            ).hash
        if act.do == "amend" and act.asset is not None:
            rules, period_ms, settler = state.drafts[act.asset]
            body = {
                "period_ms": period_ms,
                "settler": settler,
                "method": rules.method,
                "asset": rules.asset,
                "members": list(rules.members),
                "min_holding": rules.min_holding,
                "quorum": rules.quorum,
                "threshold_bps": rules.threshold_bps,
            }
            return self._append("charter", body, [result.close]).hash
        return self._append(
            "sign", {"artist": act.to, "share_bps": act.amount}, [result.close]
        ).hash

    # -- reading ---------------------------------------------------------------------------------
    def proposal_view(self, ref: str | bytes) -> ProposalView:
        """A proposal by its ID (bytes, hex, or a unique hex prefix)."""
        proposals = self.core.ledger.state.proposals
        if isinstance(ref, bytes):
            found = [ref] if ref in proposals else []
        else:
            prefix = ref.strip().lower()
            found = [pid for pid in proposals if pid.hex().startswith(prefix)] if prefix else []
        if len(found) != 1:
            raise UserError(
                f"no proposal {ref if isinstance(ref, str) else ref.hex()[:12]}"
                if not found
                else f"{ref!r} matches several proposals"
            )
        return self._view(proposals[found[0]])

    def _view(self, p: Proposal) -> ProposalView:
        state = self.core.ledger.state
        result = state.results.get(p.id) or state.running_tally(p)
        return ProposalView(
            p,
            state.proposal_status(p, self.clock()),
            result,
            tuple(state.omitted(p.id)),
            state.latest_votes(p.id).get(self.core.me),
            state.executed.get(p.id),
        )

    def proposals(self, community: bytes | None = None) -> list[ProposalView]:
        """Every proposal held here (of one community if given), newest first."""
        state = self.core.ledger.state
        return [
            self._view(p)
            for p in sorted(
                (
                    p
                    for p in state.proposals.values()
                    if community is None or p.community == community
                ),
                key=lambda p: (-p.timestamp, p.id),
            )
        ]


def _ref(ref: str | bytes, known: Mapping[bytes, object]) -> bytes:
    """An entry ID from bytes, hex, or a unique hex prefix of one of ``known``."""
    if isinstance(ref, bytes):
        return ref
    prefix = ref.strip().lower()
    found = [k for k in known if k.hex().startswith(prefix)] if prefix else []
    if len(found) != 1:
        raise UserError(f"no single entry {ref!r}" if not found else f"{ref!r} is ambiguous")
    return found[0]


# -- what a node does by itself ------------------------------------------------------------------


def settle_governance(core: Node, clock: Callable[[], int] = now_ms) -> GovernanceSettleReport:
    """Close what we settle, carry out what our charter's members passed, and take back our
    vote locks that nobody counted. Each item on its own; a failure is logged and skipped."""
    report = GovernanceSettleReport()
    if core.awaiting_own_feed:
        return report
    service = GovernanceService(core, clock)
    state = core.ledger.state
    me = core.me
    skips: dict[bytes, int] = core.governance_skips

    def attempt(item: bytes, what: str, fn: Callable[[], object]) -> bool:
        now = clock()
        if skips.get(item, 0) > now:
            return False
        try:
            fn()
            return True
        except (UserError, LedgerError) as err:
            log.warning("governance: skipped %s %s: %s", what, item.hex()[:12], err)
            report.skipped.append((item, str(err)))
            if len(skips) >= MAX_SKIPS:
                for key in sorted(skips, key=skips.__getitem__)[: MAX_SKIPS // 4]:
                    del skips[key]
            skips[item] = now + SKIP_FOR_MS
            return False

    # 1. proposals we settle whose closing time passed
    for p in state.proposals_to_close(me, clock()):
        if attempt(p.id, "close", lambda p=p: service._close(p)):  # type: ignore[misc]
            report.closed.append(p.id)
    # 2. passed proposals under our charter, not carried out yet
    charter = state.charters.get(me)
    if charter is not None:
        for pid, result in sorted(state.results.items(), key=lambda kv: kv[1].close):
            p = state.proposals[pid]
            if (
                p.charter != charter.id
                or p.action is None
                or not result.passed
                or pid in state.executed
            ):
                continue
            if attempt(pid, "carry out", lambda p=p: service._carry_out(p)):  # type: ignore[misc]
                report.carried_out.append(pid)
    # 3. our vote locks that nobody counted, once the close window passed
    now = clock()
    for vote in [v for v in state.votes_by.get(me, ()) if v.lock is not None]:
        lock = state.locks[vote.lock]  # type: ignore[index]
        if lock.closed_by is not None or now <= lock.deadline:
            continue
        proof = vote.lock if lock.settler == me else state.proof_after(lock.settler, lock.deadline)
        if proof is None:
            continue
        deps = [] if lock.settler == me else [proof]
        if attempt(
            vote.id,
            "reclaim",
            lambda v=vote, pr=proof, d=deps: service._append(  # type: ignore[misc]
                "reclaim", {"of": v.lock, "proof": pr}, d
            ),
        ):
            report.reclaimed.append(vote.id)
    if report.anything:
        log.info(
            "governance: %d closed, %d carried out, %d reclaimed",
            len(report.closed),
            len(report.carried_out),
            len(report.reclaimed),
        )
    return report


__all__ = [
    "GovernanceService",
    "GovernanceSettleReport",
    "ProposalView",
    "settle_governance",
    "threshold_bps",
]


register_settler_duty("governance", settle_governance, order=40)
