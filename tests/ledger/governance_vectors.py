"""Governance test vectors (tests/vectors/governance.json): Coop Records from fixed seeds and
timestamps, each entry with the outcome a conforming implementation must reach when the entries
are judged in the listed order (accepted, or rejected with a reason), then the results, balances,
accounting and state hash; every conflict case of docs/PROTOCOL.md ("Votes and charters") has a
step.

Regenerate after an intentional change (and say so in docs/PROTOCOL.md)::

    .venv/bin/python -m tests.ledger.governance_vectors > tests/vectors/governance.json
"""

from __future__ import annotations

from typing import Any

from ledger.features.governance import CLOSE_WINDOW_MS
from tests.ledger.histories import (
    HOUR,
    T0,
    Steps,
    accounting_by_symbol,
    judged,
    named_balances,
    print_vectors,
    vector_steps,
)

SEEDS = {
    "gateway": "01" * 32,
    "artist": "02" * 32,
    "fan": "03" * 32,
    "label": "07" * 32,
    "seeder": "05" * 32,
    "fan2": "06" * 32,
    "fan3": "08" * 32,
}


def _steps() -> list[dict[str, Any]]:
    st = Steps(SEEDS)
    steps, add, pk = st.steps, st.add, st.pk
    fans = ("fan", "fan2", "fan3")
    crd = st.credits()
    st.pay("gateway", crd, "label", 50_000, received=0.02)
    coop = add(
        "setup: the label's token",
        "label",
        "asset.issue",
        {
            "symbol": "COOP",
            "name": "Coop Records",
            "precision": 0,
            "max_supply": 1_000_000,
            "flags": [],
        },
    )
    add("setup", "label", "asset.mint", {"asset": coop.hash, "amount": 3_000})
    for fan in fans:
        st.pay("label", coop, fan, 1_000, at=0.03, received=0.04)
    gov = {
        "method": "token",
        "asset": coop.hash,
        "members": [],
        "min_holding": 0,
        "quorum": 500,
        "threshold_bps": 5_001,
    }
    charter = add(
        "charter: token-weighted COOP, quorum 500, more than half, a 1 h period, "
        "counted by the seeder",
        "label",
        "charter",
        {"period_ms": HOUR, "settler": pk["seeder"], **gov},
        at=0.1,
    )
    add(
        "a chartered treasury send without a passed proposal",
        "label",
        "send",
        {"asset": crd.hash, "to": pk["artist"], "amount": 20_000, "memo": ""},
        expect="passed proposal",
    )
    pay = {"do": "send", "asset": crd.hash, "to": pk["artist"], "amount": 20_000}
    closes = T0 + 2 * HOUR

    def proposal_body(title: str, **kw: Any) -> dict[str, Any]:
        return {
            "title": title,
            "text": "",
            "style": "yes_no",
            "choices": ["yes", "no"],
            "closes": closes,
            "settler": pk["seeder"],
            "charter": charter.hash,
            "action": pay,
            **gov,
            **kw,
        }

    add(
        "a proposal under the charter with other rules",
        "fan",
        "proposal",
        proposal_body("Advance", quorum=1),
        [charter],
        at=0.5,
        expect="charter's rules",
    )
    add(
        "a proposal shorter than the charter's period",
        "fan",
        "proposal",
        proposal_body("Advance", closes=T0 + HOUR),
        [charter],
        at=0.5,
        expect="voting period",
    )
    prop = add(
        "proposal: pay the artist an advance of 200 CRD from the treasury",
        "fan",
        "proposal",
        proposal_body("Advance for the artist"),
        [charter],
        at=0.5,
    )
    other = add(
        "proposal: a second question (plain, no action)",
        "fan2",
        "proposal",
        {
            **proposal_body("Which cover?"),
            "charter": None,
            "action": None,
            "style": "single",
            "choices": ["red", "blue"],
        },
        at=0.5,
    )
    add(
        "a vote locking more than the balance",
        "fan",
        "vote",
        {"proposal": prop.hash, "choices": [0], "units": 1_001, "qualifier": None},
        [prop],
        at=1,
        expect="overdraft",
    )
    v1 = add(
        "vote: fan, yes, 600 COOP locked",
        "fan",
        "vote",
        {"proposal": prop.hash, "choices": [0], "units": 600, "qualifier": None},
        [prop],
        at=1,
    )
    add(
        "vote moved between accounts: the locked units cannot be sent",
        "fan",
        "send",
        {"asset": coop.hash, "to": pk["fan3"], "amount": 401, "memo": ""},
        expect="overdraft",
    )
    add(
        "locked weight reused in another proposal",
        "fan",
        "vote",
        {"proposal": other.hash, "choices": [0], "units": 401, "qualifier": None},
        [other],
        expect="overdraft",
    )
    v2 = add(
        "vote: fan2, no, 300 COOP",
        "fan2",
        "vote",
        {"proposal": prop.hash, "choices": [1], "units": 300, "qualifier": None},
        [prop],
        at=1,
    )
    v3a = add(
        "vote: fan3, no, 700 COOP",
        "fan3",
        "vote",
        {"proposal": prop.hash, "choices": [1], "units": 700, "qualifier": None},
        [prop],
        at=1,
    )
    v3b = add(
        "double vote: fan3 changes to yes with 200; it replaces the first and locks nothing new",
        "fan3",
        "vote",
        {"proposal": prop.hash, "choices": [0], "units": 200, "qualifier": None},
        [prop],
        at=1.5,
    )
    add(
        "vote after the closing time",
        "fan2",
        "vote",
        {"proposal": other.hash, "choices": [0], "units": 10, "qualifier": None},
        [other],
        at=2.1,
        expect="closed",
    )
    add(
        "a close before the closing time",
        "seeder",
        "close",
        {"proposal": prop.hash, "votes": [v1.hash]},
        [prop, v1],
        at=1.9,
        expect="window",
    )
    add(
        "a close by anybody but the settler",
        "fan",
        "close",
        {"proposal": prop.hash, "votes": [v1.hash]},
        [prop, v1],
        at=2.2,
        expect="settler",
    )
    add(
        "a close counting one voter twice (a vote and its replacement)",
        "seeder",
        "close",
        {"proposal": prop.hash, "votes": [v1.hash, v3a.hash, v3b.hash]},
        [prop, v1, v3a, v3b],
        at=2.2,
        expect="counted once",
    )
    add(
        "a close counting a vote that is not on the proposal",
        "seeder",
        "close",
        {"proposal": prop.hash, "votes": [other.hash]},
        [prop, other],
        at=2.2,
        expect="not a vote",
    )
    add(
        "a close naming a vote it does not list in deps",
        "seeder",
        "close",
        {"proposal": prop.hash, "votes": [v1.hash]},
        [prop],
        at=2.2,
        expect="deps",
    )
    close = add(
        "close: the seeder counts fan's and fan3's latest votes and leaves fan2's "
        "out (fan2's vote is listed as omitted); 800 yes of 800: passed",
        "seeder",
        "close",
        {"proposal": prop.hash, "votes": [v1.hash, v3b.hash]},
        [prop, v1, v3b],
        at=2.2,
    )
    add(
        "a second close",
        "seeder",
        "close",
        {"proposal": prop.hash, "votes": [v2.hash]},
        [prop, v2],
        expect="already closed",
    )
    add(
        "the treasury send, not exactly as voted",
        "label",
        "send",
        {"asset": crd.hash, "to": pk["artist"], "amount": 20_001, "memo": ""},
        [close],
        at=2.3,
        expect="exactly",
    )
    add(
        "the treasury send naming the proposal instead of its close",
        "label",
        "send",
        {"asset": crd.hash, "to": pk["artist"], "amount": 20_000, "memo": ""},
        [prop],
        at=2.3,
        expect="passed proposal",
    )
    paid = add(
        "the treasury pays the artist as voted",
        "label",
        "send",
        {"asset": crd.hash, "to": pk["artist"], "amount": 20_000, "memo": "advance"},
        [close],
        at=2.3,
    )
    add(
        "the same proposal carried out twice",
        "label",
        "send",
        {"asset": crd.hash, "to": pk["artist"], "amount": 20_000, "memo": ""},
        [close],
        expect="already carried out",
    )
    add(
        "a chartered feed does not trade",
        "label",
        "offer",
        {
            "sell": crd.hash,
            "sell_amount": 10,
            "want": coop.hash,
            "want_amount": 10,
            "min_fill": 1,
            "expires": T0 + 10 * HOUR,
            "fill_or_kill": False,
            "settler": pk["label"],
        },
        expect="chartered",
    )
    add(
        "receive: the artist's advance",
        "artist",
        "receive",
        {"transfers": [paid.hash]},
        [paid],
        at=2.4,
    )
    add(
        "receive: fan's 600 COOP unlocked by the close",
        "fan",
        "receive",
        {"transfers": [close.hash]},
        [close],
        at=2.4,
    )
    add(
        "receive: fan3's 700 COOP (both votes' locks) unlocked by the close",
        "fan3",
        "receive",
        {"transfers": [close.hash]},
        [close],
        at=2.4,
    )
    add(
        "unlock before the close window ended: the close is no deadline proof",
        "fan2",
        "reclaim",
        {"of": v2.hash, "proof": close.hash},
        [close],
        at=2.5,
        expect="not dated after",
    )
    late = add(
        "checkpoint of the seeder after the close window",
        "seeder",
        "checkpoint",
        {"open": 1},
        at=2 + CLOSE_WINDOW_MS / HOUR + 0.1,
    )
    add(
        "a close after the window would race reclaims",
        "seeder",
        "close",
        {"proposal": other.hash, "votes": []},
        [other],
        expect="window",
    )
    add(
        "reclaim: fan2's omitted vote unlocks by deadline proof",
        "fan2",
        "reclaim",
        {"of": v2.hash, "proof": late.hash},
        [late],
        at=2 + CLOSE_WINDOW_MS / HOUR + 0.2,
    )
    return steps


def build_vectors() -> dict[str, Any]:
    steps = _steps()
    with judged(steps) as led:
        balances = named_balances(led, SEEDS)
        accounting = accounting_by_symbol(led)
        state = led.state
        results = {
            r.proposal.hex(): {
                "close": r.close.hex(),
                "tally": list(r.tally),
                "turnout": r.turnout,
                "voters": r.voters,
                "quorum_met": r.quorum_met,
                "winner": r.winner,
                "passed": r.passed,
                "omitted": [v.id.hex() for v in state.omitted(r.proposal)],
            }
            for r in state.results.values()
        }
        state_hash = led.state_hash().hex()
    return {
        "description": "Cooptracks governance test vectors; see docs/PROTOCOL.md, 'Votes and "
        "charters'. Judge the entries in this order; 'expect' is 'accepted' or a "
        "phrase of the rejection reason. Rejected entries do not move their "
        "author's head.",
        "seeds": SEEDS,
        "close_window_ms": CLOSE_WINDOW_MS,
        "steps": vector_steps(steps),
        "results": results,
        "balances": balances,
        "accounting": accounting,
        "state_hash": state_hash,
    }


def main() -> None:
    print_vectors(build_vectors)


if __name__ == "__main__":
    main()
