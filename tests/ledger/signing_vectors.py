"""Signing and charter-amendment test vectors (tests/vectors/signings.json): Coop Records signs
an artist as voted, the artist accepts, its listings then pay the label its share, the label
releases it as voted, the members amend the charter, and a voter's fork voids its vote only.
Each entry comes with the outcome a conforming implementation must reach when the entries are
judged in the listed order (accepted, or rejected with a reason), then the results, balances,
accounting and state hash; every conflict case of docs/PROTOCOL.md ("Signings", "Charter
amendments", "A voter forks") has a step.

Regenerate after an intentional change (and say so in docs/PROTOCOL.md)::

    .venv/bin/python -m tests.ledger.signing_vectors > tests/vectors/signings.json
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.entry import Entry, create_entry
from ledger.keys import Signer
from tests.ledger.governance_vectors import SEEDS as GOVERNANCE_SEEDS
from tests.ledger.histories import (
    HOUR,
    T0,
    Steps,
    accounting_by_symbol,
    judged,
    named_balances,
    print_vectors,
    seed_names,
    vector_steps,
)

SEEDS = {**GOVERNANCE_SEEDS, "indie": "09" * 32}
CID = bytes(range(32))


def _steps() -> list[dict[str, Any]]:
    st = Steps(SEEDS)
    s, steps, add, pk = st.s, st.steps, st.add, st.pk
    fans = ("fan", "fan2", "fan3")
    crd = st.credits(flags=())

    st.pay("gateway", crd, "label", 50_000, at=0.02, received=0.021)
    st.pay("gateway", crd, "fan3", 5_000, at=0.021, received=0.022)
    coop = add(
        "setup: the label's token",
        "label",
        "asset.issue",
        {"symbol": "COOP", "name": "Coop", "precision": 0, "max_supply": 10**6, "flags": []},
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
        "charter: token-weighted COOP, quorum 500, more than half, 1 h, counted by the seeder",
        "label",
        "charter",
        {"period_ms": HOUR, "settler": pk["seeder"], **gov},
        at=0.1,
    )

    def listing(title: str, split: list[tuple[str, int]], supersedes: Entry | None = None):
        return {
            "title": title,
            "artist_name": "Artist",
            "genre": "",
            "tags": [],
            "description": "",
            "artwork": None,
            "tracks": [
                {
                    "title": "One",
                    "content": CID,
                    "preview": None,
                    "duration_ms": 1000,
                    "prices": [],
                }
            ],
            "prices": [{"asset": crd.hash, "amount": 999, "nyp": False}],
            "split": [{"to": pk[n], "bps": bps} for n, bps in split],
            "remainder": pk["artist"],
            "supersedes": supersedes.hash if supersedes else None,
        }

    before = add(
        "listing before any signing: all to the artist",
        "artist",
        "listing",
        listing("Before", [("artist", 10_000)]),
        at=0.2,
    )

    def vote_on(p: Entry, at: float, votes: dict[str, tuple[int, int]]) -> list[Entry]:
        return [
            add(
                f"vote: {fan}, {'yes' if choice == 0 else 'no'}, {units} COOP",
                fan,
                "vote",
                {"proposal": p.hash, "choices": [choice], "units": units, "qualifier": None},
                [p],
                at=at,
            )
            for fan, (choice, units) in votes.items()
        ]

    def put(title: str, act: dict[str, Any], at: float, deps: Sequence[Entry] = ()) -> Entry:
        return add(
            f"proposal: {title}",
            "fan",
            "proposal",
            {
                "title": title,
                "text": "",
                "style": "yes_no",
                "choices": ["yes", "no"],
                "closes": T0 + int((at + 1.5) * HOUR),
                "settler": pk["seeder"],
                "charter": charter.hash,
                "action": act,
                **gov,
            },
            [charter, *deps],
            at=at,
        )

    def close(p: Entry, votes: list[Entry], at: float, case: str) -> Entry:
        return add(
            case,
            "seeder",
            "close",
            {"proposal": p.hash, "votes": [v.hash for v in votes]},
            [p, *votes],
            at=at,
        )

    def unlock(c: Entry, at: float, who: tuple[str, ...] = fans) -> None:
        for fan in who:
            add(
                f"receive: {fan}'s COOP unlocked",
                fan,
                "receive",
                {"transfers": [c.hash]},
                [c],
                at=at,
            )

    # -- signing ---------------------------------------------------------------------------------
    p_sign = put(
        "Sign the artist for 20 %",
        {"do": "sign", "asset": None, "to": pk["artist"], "amount": 2_000},
        0.5,
    )
    vs = vote_on(p_sign, 1, {"fan": (0, 600), "fan2": (0, 300), "fan3": (1, 200)})
    c_sign = close(p_sign, vs, 2.2, "close: 900 yes, 200 no: passed")
    unlock(c_sign, 2.25)
    add(
        "a signing not as voted (25 %)",
        "label",
        "sign",
        {"artist": pk["artist"], "share_bps": 2_500},
        [c_sign],
        at=2.3,
        expect="exactly",
    )
    signing = add(
        "sign: the label signs the artist for 20 %, as voted",
        "label",
        "sign",
        {"artist": pk["artist"], "share_bps": 2_000},
        [c_sign],
        at=2.3,
    )
    add(
        "listing after the signing, before the artist accepted: not bound",
        "artist",
        "listing",
        listing("Unbound", [("artist", 10_000)]),
        at=2.35,
    )
    add(
        "an acceptance by anybody but the artist",
        "fan",
        "sign.accept",
        {"signing": signing.hash, "until": None},
        [signing],
        at=2.4,
        expect="accepted by the artist",
    )
    add(
        "an acceptance naming an entry that is not a signing",
        "artist",
        "sign.accept",
        {"signing": charter.hash, "until": None},
        [charter],
        at=2.4,
        expect="not a signing",
    )
    add(
        "an acceptance whose term ends before it",
        "artist",
        "sign.accept",
        {"signing": signing.hash, "until": T0 + int(2.4 * HOUR)},
        [signing],
        at=2.4,
        expect="term ends",
    )
    add(
        "accept: the artist accepts the signing, until released",
        "artist",
        "sign.accept",
        {"signing": signing.hash, "until": None},
        [signing],
        at=2.4,
    )
    add(
        "the same signing accepted twice",
        "artist",
        "sign.accept",
        {"signing": signing.hash, "until": None},
        [signing],
        expect="already accepted",
    )
    indie = add(
        "an unchartered label signs the artist for 80.01 % (no vote needed)",
        "indie",
        "sign",
        {"artist": pk["artist"], "share_bps": 8_001},
        at=2.4,
    )
    add(
        "accepting it would give the labels more than the whole split",
        "artist",
        "sign.accept",
        {"signing": indie.hash, "until": None},
        [indie],
        expect="whole split",
    )
    add(
        "a listing of the signed artist that leaves the label out",
        "artist",
        "listing",
        listing("Solo", [("artist", 10_000)]),
        expect="signed to",
    )
    add(
        "a listing that gives the label less than signed (19.99 %)",
        "artist",
        "listing",
        listing("Short", [("artist", 8_001), ("label", 1_999)]),
        expect="at least 2000",
    )
    add(
        "a new version of an earlier listing is a listing published after the acceptance",
        "artist",
        "listing",
        listing("Before (remaster)", [("artist", 10_000)], supersedes=before),
        expect="signed to",
    )
    signed = add(
        "listing: the label's 20 % in the split",
        "artist",
        "listing",
        listing("Signed", [("artist", 8_000), ("label", 2_000)]),
        at=2.5,
    )

    def buy(li: Entry, payouts: list[tuple[str, int]], case: str) -> Entry:
        return add(
            case,
            "fan3",
            "purchase",
            {
                "listing": li.hash,
                "track": None,
                "asset": crd.hash,
                "amount": 999,
                "payouts": [{"to": pk[n], "amount": a} for n, a in payouts],
            },
            [li],
            at=2.6,
        )

    buy(signed, [("artist", 800), ("label", 199)], "purchase: 199 of 999 to the label")
    buy(before, [("artist", 999)], "purchase of the earlier listing: nothing to the label")
    # -- release ---------------------------------------------------------------------------------
    add(
        "a chartered label's release without a vote",
        "label",
        "sign.release",
        {"signing": signing.hash},
        [signing],
        at=2.7,
        expect="passed proposal",
    )
    p_rel = put(
        "Release the artist",
        {"do": "release", "asset": signing.hash, "to": pk["artist"], "amount": 2_000},
        3,
    )
    vs = vote_on(p_rel, 3.5, {"fan": (0, 600), "fan2": (0, 300)})
    c_rel = close(p_rel, vs, 4.7, "close: 900 yes: passed")
    unlock(c_rel, 4.75, ("fan", "fan2"))
    release = add(
        "release: the label releases the artist, as voted",
        "label",
        "sign.release",
        {"signing": signing.hash},
        [signing, c_rel],
        at=4.8,
    )
    add(
        "the same release carried out twice",
        "label",
        "sign.release",
        {"signing": signing.hash},
        [signing, c_rel],
        expect="already carried out",
    )
    add(
        "a listing after the release that does not name it: still bound",
        "artist",
        "listing",
        listing("Too soon", [("artist", 10_000)]),
        at=4.9,
        expect="signed to",
    )
    add(
        "listing: naming the release, all to the artist again",
        "artist",
        "listing",
        listing("Free", [("artist", 10_000)]),
        [release],
        at=4.9,
    )
    add(
        "listing: later listings are free without naming it",
        "artist",
        "listing",
        listing("Free again", [("artist", 10_000)]),
    )
    # -- charter amendment -----------------------------------------------------------------------
    members = sorted(pk[f] for f in fans)
    draft = add(
        "draft: one member one vote for the three fans, quorum 2, 1 h",
        "fan",
        "charter.draft",
        {
            "period_ms": HOUR,
            "settler": pk["seeder"],
            "method": "member",
            "asset": None,
            "members": members,
            "min_holding": 0,
            "quorum": 2,
            "threshold_bps": 5_001,
        },
        at=5,
    )
    add(
        "an amendment proposal that does not name its draft in deps",
        "fan2",
        "proposal",
        {
            "title": "Amend",
            "text": "",
            "style": "yes_no",
            "choices": ["yes", "no"],
            "closes": T0 + int(6.6 * HOUR),
            "settler": pk["seeder"],
            "charter": charter.hash,
            "action": {"do": "amend", "asset": draft.hash, "to": pk["label"], "amount": 1},
            **gov,
        },
        [charter],
        at=5.1,
        expect="deps",
    )
    p_amend = put(
        "Amend the charter to the draft",
        {"do": "amend", "asset": draft.hash, "to": pk["label"], "amount": 1},
        5.1,
        [draft],
    )
    vs = vote_on(p_amend, 5.5, {"fan": (0, 600), "fan2": (0, 300), "fan3": (1, 100)})
    c_amend = close(p_amend, vs, 6.7, "close: 900 yes, 100 no: passed")
    add(
        "a second charter that carries out nothing",
        "label",
        "charter",
        {**draft.body},
        at=6.8,
        expect="already has a charter",
    )
    add(
        "a charter amendment other than the one voted (period 2 h)",
        "label",
        "charter",
        {**draft.body, "period_ms": 2 * HOUR},
        [c_amend],
        at=6.8,
        expect="exactly",
    )
    add(
        "amend: the label's charter becomes the draft, as voted",
        "label",
        "charter",
        {**draft.body},
        [c_amend],
        at=6.8,
    )
    add(
        "a proposal passed under the replaced charter cannot be carried out",
        "label",
        "sign.release",
        {"signing": signing.hash},
        [signing, c_rel],
        expect="not under",
    )
    # -- a voter forks ---------------------------------------------------------------------------
    fan3_vote = vs[2]
    fork = create_entry(
        s["fan3"],
        fan3_vote.seq,
        fan3_vote.prev,
        fan3_vote.timestamp,
        "profile",
        {"name": "twin", "bio": "", "links": []},
        [],
    )
    steps.append(
        {
            "case": "fork: fan3 signs another entry at the seq of its vote; the vote counts "
            "nothing, the close stands: 900 yes of 900",
            "signer": "fan3",
            "entry": fork,
            "expect": "accepted",
        }
    )
    return steps


def build_vectors() -> dict[str, Any]:
    steps = _steps()
    with judged(steps) as led:
        balances = named_balances(led, SEEDS)
        accounting = accounting_by_symbol(led)
        state = led.state
        names = seed_names(SEEDS)
        results = {
            r.proposal.hex(): {
                "close": r.close.hex(),
                "tally": list(r.tally),
                "turnout": r.turnout,
                "voters": r.voters,
                "passed": r.passed,
            }
            for r in state.results.values()
        }
        label = Signer.from_seed(bytes.fromhex(SEEDS["label"])).public_key
        artist = Signer.from_seed(bytes.fromhex(SEEDS["artist"])).public_key
        engagements = [
            {
                "signing": e.signing.hex(),
                "label": names[e.label],
                "bps": e.bps,
                "until": e.until,
                "released_by": e.released_by.hex() if e.released_by else None,
            }
            for e in state.engagements.get(artist, [])
        ]
        charter = state.charters[label].id.hex()
        quarantined = {names[a]: seq for a, seq in led.quarantined().items()}
        state_hash = led.state_hash().hex()
    return {
        "description": "Cooptracks signing and charter-amendment test vectors; see "
        "docs/PROTOCOL.md, 'Votes and charters'. Judge the entries in this order; 'expect' is "
        "'accepted' or a phrase of the rejection reason. Rejected entries do not move their "
        "author's head. The last entry is a second entry at a seq fan3 already used (a fork).",
        "seeds": SEEDS,
        "steps": vector_steps(steps),
        "results": results,
        "engagements": engagements,
        "label_charter": charter,
        "quarantined": quarantined,
        "balances": balances,
        "accounting": accounting,
        "state_hash": state_hash,
    }


def main() -> None:
    print_vectors(build_vectors)


if __name__ == "__main__":
    main()
