"""Test vectors of the coin features (tests/vectors/coins.json): campaigns, passes, stakes,
reviews. A history from fixed seeds and timestamps, each entry with the outcome a conforming
implementation must reach when the entries are judged in the listed order (accepted, or rejected
with a phrase of the reason), every conflict case of docs/PROTOCOL.md ("Campaigns", "Holder
passes", "Coins tied to sales", "Reviews") among them, then the balances, the per-asset
accounting and the state hash.

Regenerate after an intentional change (and say so in docs/PROTOCOL.md)::

    .venv/bin/python -m tests.ledger.coin_vectors > tests/vectors/coins.json
"""

from __future__ import annotations

from typing import Any

from ledger.entry import Entry
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
    "seeder": "05" * 32,
    "fan2": "06" * 32,
}


def _campaign_steps(st: Steps, crd: Entry) -> None:
    add, pk = st.add, st.pk

    def body(goal: int, deadline: float, close_by: float, settler: str) -> dict[str, Any]:
        return {
            "title": "Second album",
            "description": "",
            "asset": crd.hash,
            "goal": goal,
            "deadline": T0 + int(deadline * HOUR),
            "close_by": T0 + int(close_by * HOUR),
            "tiers": [
                {"name": "Supporter", "min": 100, "reward": "the album"},
                {"name": "Patron", "min": 1_000, "reward": "the album and a pass"},
            ],
            "settler": pk[settler],
        }

    add(
        "a campaign names another feed's asset in deps",
        "artist",
        "campaign",
        body(2_000, 20, 22, "seeder"),
        at=10,
        expect="deps",
    )
    camp = add(
        "campaign: 2 000 CRD by hour 20, closed by the seeder by hour 22",
        "artist",
        "campaign",
        body(2_000, 20, 22, "seeder"),
        [crd],
        at=10,
    )
    add(
        "the settler does not pledge to its campaign",
        "seeder",
        "pledge",
        {"campaign": camp.hash, "amount": 10},
        [camp],
        at=11,
        expect="neither the artist",
    )
    p1 = add(
        "pledge: 1 500 CRD, a conditional transfer to the artist",
        "fan",
        "pledge",
        {"campaign": camp.hash, "amount": 1_500},
        [camp],
        at=11,
    )
    p2 = add(
        "pledge: 600 CRD", "fan2", "pledge", {"campaign": camp.hash, "amount": 600}, [camp], at=12
    )
    p3 = add(
        "pledge: 200 CRD more, which the settler does not count",
        "fan",
        "pledge",
        {"campaign": camp.hash, "amount": 200},
        [camp],
        at=19,
    )
    add(
        "pledge after the deadline",
        "fan2",
        "pledge",
        {"campaign": camp.hash, "amount": 5},
        [camp],
        at=20.5,
        expect="deadline has passed",
    )
    add(
        "only the settler counts",
        "artist",
        "campaign.count",
        {"campaign": camp.hash, "pledges": [p1.hash]},
        [p1],
        at=20.6,
        expect="settler",
    )
    add(
        "success before the deadline",
        "seeder",
        "campaign.close",
        {"campaign": camp.hash, "success": True, "pledges": sorted([p1.hash, p2.hash])},
        [camp, p1, p2],
        at=19.5,
        expect="only after its deadline",
    )
    add(
        "success below the goal",
        "seeder",
        "campaign.close",
        {"campaign": camp.hash, "success": True, "pledges": [p1.hash]},
        [camp, p1],
        at=20.6,
        expect="do not reach the goal",
    )
    count = add(
        "count: the seeder counts pledge 1",
        "seeder",
        "campaign.count",
        {"campaign": camp.hash, "pledges": [p1.hash]},
        [camp, p1],
        at=20.6,
    )
    add(
        "a pledge is counted once",
        "seeder",
        "campaign.count",
        {"campaign": camp.hash, "pledges": [p1.hash]},
        [camp, p1],
        expect="already counted",
    )
    close = add(
        "close, funded: pledges 1 and 2 (2 100 CRD) are the artist's in one transfer",
        "seeder",
        "campaign.close",
        {"campaign": camp.hash, "success": True, "pledges": [p2.hash]},
        [camp, p2],
        at=20.7,
    )
    add(
        "a second close",
        "seeder",
        "campaign.close",
        {"campaign": camp.hash, "success": False, "pledges": []},
        [camp],
        expect="already closed",
    )
    add(
        "refund of a counted pledge",
        "fan",
        "reclaim",
        {"of": p1.hash, "proof": close.hash},
        [close],
        at=21,
        expect="already accepted",
    )
    add(
        "refund of the pledge the close left out, with the close as proof",
        "fan",
        "reclaim",
        {"of": p3.hash, "proof": close.hash},
        [close],
        at=21,
    )
    add(
        "receive: the artist's 2 100 CRD from the close",
        "artist",
        "receive",
        {"transfers": [close.hash]},
        [close],
        at=21,
    )
    del count
    # a campaign that fails, and one nobody closes
    camp2 = add(
        "campaign: 10 000 CRD, self-settled",
        "artist",
        "campaign",
        body(10_000, 30, 31, "artist"),
        [crd],
        at=25,
    )
    q = add(
        "pledge to the second campaign",
        "fan2",
        "pledge",
        {"campaign": camp2.hash, "amount": 300},
        [camp2],
        at=26,
    )
    fail = add(
        "close, failed (may come before the deadline)",
        "artist",
        "campaign.close",
        {"campaign": camp2.hash, "success": False, "pledges": []},
        at=27,
    )
    add(
        "refund of a pledge of a failed campaign, with the close as proof",
        "fan2",
        "reclaim",
        {"of": q.hash, "proof": fail.hash},
        [fail],
        at=27.5,
    )
    camp3 = add(
        "campaign: 500 CRD, settled by the seeder, which will not close it",
        "artist",
        "campaign",
        body(500, 40, 41, "seeder"),
        [crd],
        at=35,
    )
    r = add(
        "pledge to the third campaign",
        "fan",
        "pledge",
        {"campaign": camp3.hash, "amount": 700},
        [camp3],
        at=36,
    )
    add(
        "a close of another campaign proves nothing",
        "fan",
        "reclaim",
        {"of": r.hash, "proof": fail.hash},
        [fail],
        at=37,
        expect="deadline proof",
    )
    cp = add(
        "checkpoint of the seeder after close_by", "seeder", "checkpoint", {"open": 1}, at=41.5
    )
    add(
        "close after close_by",
        "seeder",
        "campaign.close",
        {"campaign": camp3.hash, "success": True, "pledges": [r.hash]},
        [camp3, r],
        expect="close_by has passed",
    )
    add(
        "refund by deadline proof: nobody closed it by close_by",
        "fan",
        "reclaim",
        {"of": r.hash, "proof": cp.hash},
        [cp],
        at=42,
    )


def _gate_steps(st: Steps) -> None:
    add, pk = st.add, st.pk
    art = add(
        "setup",
        "artist",
        "asset.issue",
        {
            "symbol": "ART",
            "name": "Artist coin",
            "precision": 0,
            "max_supply": 1_000_000,
            "flags": ["artistcoin"],
        },
        at=50,
    )
    add("setup", "artist", "asset.mint", {"asset": art.hash, "amount": 1_000})
    sent = add(
        "setup", "artist", "send", {"asset": art.hash, "to": pk["fan"], "amount": 150, "memo": ""}
    )
    add(
        "setup: the fan holds 150 ART from hour 51",
        "fan",
        "receive",
        {"transfers": [sent.hash]},
        [sent],
        at=51,
    )
    gate = add(
        "gate: hold 100 ART for 24 hours; a claim locks them for 1 hour",
        "artist",
        "gate",
        {
            "title": "Backstage",
            "description": "",
            "asset": art.hash,
            "min": 100,
            "held_ms": 24 * HOUR,
            "lock_ms": HOUR,
        },
        at=52,
    )
    add(
        "claim before the coins were held for 24 hours",
        "fan",
        "gate.claim",
        {"gate": gate.hash, "until": T0 + 75 * HOUR},
        [gate],
        at=74,
        expect="held at least 0",
    )
    add(
        "claim locking for less than the gate's period",
        "fan",
        "gate.claim",
        {"gate": gate.hash, "until": T0 + 76 * HOUR - 1},
        [gate],
        at=75,
        expect="at least timestamp",
    )
    claim = add(
        "claim: 100 ART locked until hour 76",
        "fan",
        "gate.claim",
        {"gate": gate.hash, "until": T0 + 76 * HOUR},
        [gate],
        at=75,
    )
    add(
        "the same coins cannot claim again (50 left)",
        "fan",
        "gate.claim",
        {"gate": gate.hash, "until": T0 + 77 * HOUR},
        [gate],
        at=75.5,
        expect="held at least 50",
    )
    add(
        "nor move to another account while locked",
        "fan",
        "send",
        {"asset": art.hash, "to": pk["fan2"], "amount": 100, "memo": ""},
        at=75.5,
        expect="overdraft",
    )
    add(
        "unlock before the period is over",
        "fan",
        "reclaim",
        {"of": claim.hash, "proof": claim.hash},
        at=76,
        expect="after the deadline",
    )
    add(
        "unlock after it: the holder is its own witness",
        "fan",
        "reclaim",
        {"of": claim.hash, "proof": claim.hash},
        at=76.1,
    )


def _stake_steps(st: Steps, crd: Entry) -> None:
    add, pk = st.add, st.pk
    coin = add(
        "setup",
        "seeder",
        "asset.issue",
        {
            "symbol": "SEED",
            "name": "Seeder coin",
            "precision": 0,
            "max_supply": 1_000_000,
            "flags": ["artistcoin"],
        },
        at=80,
    )
    add("setup", "seeder", "asset.mint", {"asset": coin.hash, "amount": 1_000})
    for fan, n in (("fan", 300), ("fan2", 150)):
        sent = add(
            "setup", "seeder", "send", {"asset": coin.hash, "to": pk[fan], "amount": n, "memo": ""}
        )
        add("setup", fan, "receive", {"transfers": [sent.hash]}, [sent], at=81)
    add(
        "a charter by someone who did not issue the coin",
        "fan",
        "coin.charter",
        {"asset": coin.hash, "sales_asset": crd.hash, "bps": 2_500},
        [crd, coin],
        at=82,
        expect="only a coin's issuer",
    )
    charter = add(
        "charter: 25 % of the CRD sales the seeder receives go to stakers",
        "seeder",
        "coin.charter",
        {"asset": coin.hash, "sales_asset": crd.hash, "bps": 2_500},
        [crd],
        at=82,
    )
    listing = add(
        "setup: a listing by the seeder at 999 CRD",
        "seeder",
        "listing",
        {
            "title": "Live set",
            "artist_name": "Seeder",
            "genre": "",
            "tags": [],
            "description": "",
            "artwork": None,
            "tracks": [
                {
                    "title": "Set",
                    "content": b"\x42" * 32,
                    "preview": None,
                    "duration_ms": 1000,
                    "prices": [],
                }
            ],
            "prices": [{"asset": crd.hash, "amount": 999, "nyp": False}],
            "split": [{"to": pk["seeder"], "bps": 10_000}],
            "remainder": pk["seeder"],
            "supersedes": None,
        },
    )
    s1 = add(
        "stake: 300 SEED locked until hour 200, answered by hour 84",
        "fan",
        "stake",
        {
            "charter": charter.hash,
            "amount": 300,
            "accept_by": T0 + 84 * HOUR,
            "until": T0 + 200 * HOUR,
        },
        [charter],
        at=83,
    )
    s2 = add(
        "stake: 100 SEED",
        "fan2",
        "stake",
        {
            "charter": charter.hash,
            "amount": 100,
            "accept_by": T0 + 84 * HOUR,
            "until": T0 + 200 * HOUR,
        },
        [charter],
        at=83,
    )
    s3 = add(
        "stake: 50 more SEED, which the issuer refuses",
        "fan2",
        "stake",
        {
            "charter": charter.hash,
            "amount": 50,
            "accept_by": T0 + 84 * HOUR,
            "until": T0 + 200 * HOUR,
        },
        [charter],
        at=83.1,
    )
    add(
        "only the issuer accepts a stake",
        "fan",
        "stake.accept",
        {"stake": s2.hash},
        [s2],
        at=83.5,
        expect="only the coin's issuer",
    )
    acc1 = add(
        "stake.accept: stake 1 counts from here on",
        "seeder",
        "stake.accept",
        {"stake": s1.hash},
        [s1],
        at=83.5,
    )
    add("stake.accept: stake 2", "seeder", "stake.accept", {"stake": s2.hash}, [s2])
    no = add(
        "stake.refuse: stake 3 goes back in flight",
        "seeder",
        "stake.refuse",
        {"stake": s3.hash},
        [s3],
    )
    add(
        "a stake answered twice",
        "seeder",
        "stake.accept",
        {"stake": s3.hash},
        [s3],
        expect="already answered",
    )
    add("receive: the refused stake back", "fan2", "receive", {"transfers": [no.hash]}, [no], at=84)
    buy = add(
        "purchase of the seeder's listing",
        "fan",
        "purchase",
        {
            "listing": listing.hash,
            "track": None,
            "asset": crd.hash,
            "amount": 999,
            "payouts": [{"to": pk["seeder"], "amount": 999}],
        },
        [listing],
        at=85,
    )
    add(
        "receive: the sale; 25 % of 999 = 249 is now owed to stakers",
        "seeder",
        "receive",
        {"transfers": [buy.hash]},
        [buy],
        at=86,
    )
    add(
        "an issuer behind on its charter cannot send",
        "seeder",
        "send",
        {"asset": crd.hash, "to": pk["fan"], "amount": 1, "memo": ""},
        at=86.5,
        expect="behind on its charter by 249",
    )
    dist = add(
        "distribute 249: shares 186 and 62 (floor), 1 unit of dust stays",
        "seeder",
        "distribute",
        {"charter": charter.hash, "amount": 249},
        at=87,
    )
    add(
        "the issuer spends again",
        "seeder",
        "send",
        {"asset": crd.hash, "to": pk["fan"], "amount": 1, "memo": ""},
    )
    add(
        "collect: the fan's 186",
        "fan",
        "collect",
        {"stake": s1.hash, "distributions": [dist.hash]},
        [dist],
        at=88,
    )
    add(
        "a second collect of one distribution",
        "fan",
        "collect",
        {"stake": s1.hash, "distributions": [dist.hash]},
        [dist],
        expect="already collected",
    )
    add(
        "collect by a stake the issuer refused",
        "fan2",
        "collect",
        {"stake": s3.hash, "distributions": [dist.hash]},
        [dist],
        at=88,
        expect="does not count",
    )
    add(
        "collect: fan2's 62",
        "fan2",
        "collect",
        {"stake": s2.hash, "distributions": [dist.hash]},
        [dist],
        at=88,
    )
    add(
        "unstake before the term is over",
        "fan",
        "reclaim",
        {"of": s1.hash, "proof": s1.hash},
        [acc1],
        at=199,
        expect="after the deadline",
    )
    add(
        "unstake without naming the acceptance it relies on",
        "fan",
        "reclaim",
        {"of": s1.hash, "proof": s1.hash},
        at=200.4,
        expect="stake's acceptance",
    )
    add(
        "unstake after it: the staker is its own witness (naming the acceptance)",
        "fan",
        "reclaim",
        {"of": s1.hash, "proof": s1.hash},
        [acc1],
        at=200.5,
    )


def _review_steps(st: Steps, crd: Entry) -> None:
    add, pk = st.add, st.pk
    listing = add(
        "setup: the artist lists a single at 200 CRD",
        "artist",
        "listing",
        {
            "title": "Single",
            "artist_name": "Artist",
            "genre": "",
            "tags": [],
            "description": "",
            "artwork": None,
            "tracks": [
                {
                    "title": "A",
                    "content": b"\x43" * 32,
                    "preview": None,
                    "duration_ms": 1000,
                    "prices": [],
                }
            ],
            "prices": [{"asset": crd.hash, "amount": 200, "nyp": False}],
            "split": [{"to": pk["artist"], "bps": 10_000}],
            "remainder": pk["artist"],
            "supersedes": None,
        },
        at=210,
    )
    buy = add(
        "setup: fan2 buys it",
        "fan2",
        "purchase",
        {
            "listing": listing.hash,
            "track": None,
            "asset": crd.hash,
            "amount": 200,
            "payouts": [{"to": pk["artist"], "amount": 200}],
        },
        [listing],
        at=211,
    )
    grant = add(
        "setup: the artist grants it (a fixed stand-in for the sealed key)",
        "artist",
        "grant",
        {"purchase": buy.hash, "keys": [{"content": b"\x43" * 32, "sealed": b"\x00" * 80}]},
        [buy],
        at=212,
    )
    add(
        "a review by someone whose purchase was not granted to it",
        "fan",
        "review",
        {"grant": grant.hash, "rating": 1, "text": ""},
        [grant],
        at=213,
        expect="only the buyer",
    )
    add(
        "a review naming the purchase instead of its grant",
        "fan2",
        "review",
        {"grant": buy.hash, "rating": 5, "text": ""},
        [buy],
        at=213,
        expect="not a grant",
    )
    add(
        "review: 3 stars",
        "fan2",
        "review",
        {"grant": grant.hash, "rating": 3, "text": "short"},
        [grant],
        at=213,
    )
    later = add(
        "review: 5 stars, the buyer's latest, which counts",
        "fan2",
        "review",
        {"grant": grant.hash, "rating": 5, "text": "grew on me"},
        [grant],
        at=214,
    )
    add(
        "a reply by someone other than the artist",
        "fan",
        "review.reply",
        {"review": later.hash, "text": "me too"},
        [later],
        at=215,
        expect="only the listing's artist",
    )
    add(
        "review.reply by the artist",
        "artist",
        "review.reply",
        {"review": later.hash, "text": "thank you"},
        [later],
        at=215,
    )


def _steps() -> list[dict[str, Any]]:
    st = Steps(SEEDS)
    crd = st.credits()
    for fan in ("fan", "fan2"):
        st.pay("gateway", crd, fan, 5_000, received=0.02)
    _campaign_steps(st, crd)
    _gate_steps(st)
    _stake_steps(st, crd)
    _review_steps(st, crd)
    return st.steps


def build_vectors() -> dict[str, Any]:
    steps = _steps()
    with judged(steps) as led:
        balances = named_balances(led, SEEDS)
        accounting = accounting_by_symbol(led)
        state_hash = led.state_hash().hex()
    return {
        "description": "Cooptracks coin-feature test vectors (campaigns, passes, "
        "stakes, reviews); see "
        "docs/PROTOCOL.md. "
        "Judge the entries in this order; 'expect' is 'accepted' or a phrase of "
        "the rejection reason. Rejected entries do not move their author's head.",
        "seeds": SEEDS,
        "steps": vector_steps(steps),
        "balances": balances,
        "accounting": accounting,
        "state_hash": state_hash,
    }


def main() -> None:
    print_vectors(build_vectors)


if __name__ == "__main__":
    main()
