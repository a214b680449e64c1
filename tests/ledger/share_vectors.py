"""Test vectors of referral and seeder shares, gated listings and stakes answered by the issuer's
agent (tests/vectors/shares.json): a history from fixed seeds and timestamps, each entry with the
outcome a conforming implementation must reach when the entries are judged in the listed order
(accepted, or rejected with a phrase of the reason), every conflict case of docs/PROTOCOL.md
("Referral and seeder shares", "Gated listings", and stakes answered by an agent in "Coins tied to
sales") among them, then the balances, the per-asset accounting and the state hash. A file of its
own, so the coin vectors (tests/vectors/coins.json) keep their hashes.

Regenerate after an intentional change (and say so in docs/PROTOCOL.md)::

    .venv/bin/python -m tests.ledger.share_vectors > tests/vectors/shares.json
"""

from __future__ import annotations

from typing import Any

from ledger.entry import Entry
from tests.ledger.coin_vectors import SEEDS as COIN_SEEDS
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

SEEDS = {**COIN_SEEDS, "label": "07" * 32, "seeder2": "08" * 32}
DAY = 24


def _listing(crd: Entry, split: list[tuple[bytes, int]], remainder: bytes, **terms: Any) -> dict:
    return {
        "title": "Third album",
        "artist_name": "Artist",
        "genre": "ambient",
        "tags": [],
        "description": "",
        "artwork": None,
        "tracks": [
            {
                "title": "One",
                "content": bytes(range(32)),
                "preview": None,
                "duration_ms": 1000,
                "prices": [],
            }
        ],
        "prices": [{"asset": crd.hash, "amount": 1_000, "nyp": False}],
        "split": [{"to": to, "bps": bps} for to, bps in split],
        "remainder": remainder,
        "supersedes": None,
        **terms,
    }


def _purchase(li: Entry, amount: int, payouts: list[tuple[bytes, int]], **terms: Any) -> dict:
    return {
        "listing": li.hash,
        "track": None,
        "asset": li.body["prices"][0]["asset"],
        "amount": amount,
        "payouts": [{"to": to, "amount": a} for to, a in payouts],
        **terms,
    }


def _share_steps(st: Steps, crd: Entry) -> None:
    add, pk = st.add, st.pk
    artist, label = pk["artist"], pk["label"]
    add(
        "listing: shares over 5000 bps together",
        "artist",
        "listing",
        _listing(crd, [(artist, 10_000)], artist, shares={"seeders": 3_000, "referrer": 2_001}),
        at=1,
        expect="at most 5000",
    )
    li = add(
        "listing: 10% for seeders, 5% for a referrer, the rest split 70/30 with the label",
        "artist",
        "listing",
        _listing(
            crd,
            [(artist, 7_000), (label, 3_000)],
            artist,
            shares={"seeders": 1_000, "referrer": 500},
        ),
        at=1,
    )
    add(
        "purchase: payouts ignoring the reserved shares",
        "fan",
        "purchase",
        _purchase(li, 1_000, [(artist, 700), (label, 300)]),
        [li],
        at=2,
        expect="split exactly",
    )
    add(
        "purchase: the buyer as its own referrer",
        "fan",
        "purchase",
        _purchase(li, 1_000, [(artist, 630), (label, 270), (pk["fan"], 50)], referrer=pk["fan"]),
        [li],
        at=2,
        expect="own referrer",
    )
    bought = add(
        "purchase: referred by fan2 (50), 100 held for seeders, 595/255 split",
        "fan",
        "purchase",
        _purchase(li, 1_000, [(artist, 595), (label, 255), (pk["fan2"], 50)], referrer=pk["fan2"]),
        [li],
        at=2,
    )
    add(
        "receipt: by someone other than the buyer",
        "fan2",
        "receipt",
        {"purchase": bought.hash, "seeders": [{"to": pk["seeder"], "bytes": 10}]},
        [bought],
        at=3,
        expect="of its author",
    )
    add(
        "receipt: the buyer names itself as a seeder",
        "fan",
        "receipt",
        {"purchase": bought.hash, "seeders": [{"to": pk["fan"], "bytes": 10}]},
        at=3,
        expect="itself as a seeder",
    )
    add(
        "receipt: a seeder named twice",
        "fan",
        "receipt",
        {
            "purchase": bought.hash,
            "seeders": [{"to": pk["seeder"], "bytes": 1}, {"to": pk["seeder"], "bytes": 2}],
        },
        at=3,
        expect="appears twice",
    )
    add(
        "receipt: two seeders by bytes (66 and 33), 1 of rounding to the remainder",
        "fan",
        "receipt",
        {
            "purchase": bought.hash,
            "seeders": [
                {"to": pk["seeder"], "bytes": 2_000_000},
                {"to": pk["seeder2"], "bytes": 1_000_000},
            ],
        },
        at=3,
    )
    add(
        "receipt: a second receipt for the same purchase",
        "fan",
        "receipt",
        {"purchase": bought.hash, "seeders": []},
        at=3,
        expect="already has a receipt",
    )
    plain = add(
        "purchase: no referrer named, its share goes through the split",
        "fan2",
        "purchase",
        _purchase(li, 1_000, [(artist, 630), (label, 270)]),
        [li],
        at=4,
    )
    add(
        "receipt: no seeder named, the held share goes to the remainder",
        "fan2",
        "receipt",
        {"purchase": plain.hash, "seeders": []},
        at=4,
    )


def _agent_stake_steps(st: Steps, crd: Entry, art: Entry) -> None:
    add, pk = st.add, st.pk
    artist = pk["artist"]
    deleg = st.deleg = add(
        "setup: the artist delegates to the seeder",
        "artist",
        "delegate",
        {"agent": pk["seeder"], "listings": [], "keys": []},
        at=40,
    )
    charter = add(
        "setup: 20% of the artist's CRD sales to ART stakers",
        "artist",
        "coin.charter",
        {"asset": art.hash, "sales_asset": crd.hash, "bps": 2_000},
        [crd],
        at=40,
    )

    def stake_body(settler: str) -> dict[str, Any]:
        return {
            "charter": charter.hash,
            "amount": 100,
            "accept_by": T0 + 42 * HOUR,
            "until": T0 + 400 * HOUR,
            "settler": pk[settler],
        }

    add(
        "stake: naming the seeder as settler without the delegation",
        "fan",
        "stake",
        stake_body("seeder"),
        [charter],
        at=41,
        expect="name the delegation",
    )
    add(
        "stake: naming the buyer itself as settler",
        "fan",
        "stake",
        stake_body("fan"),
        [charter, deleg],
        at=41,
        expect="not its staker",
    )
    staked = add(
        "stake: 100 ART, answered by the artist's agent (the seeder)",
        "fan",
        "stake",
        stake_body("seeder"),
        [charter, deleg],
        at=41,
    )
    add(
        "stake.accept: by the artist, not the settler the stake names",
        "artist",
        "stake.accept",
        {"stake": staked.hash},
        [staked],
        at=41.5,
        expect="or the agent the stake names",
    )
    accept = add(
        "stake.accept: by the seeder, while the artist is away",
        "seeder",
        "stake.accept",
        {"stake": staked.hash},
        [staked],
        at=41.5,
    )
    listing = add(
        "setup: a plain listing",
        "artist",
        "listing",
        _listing(crd, [(artist, 10_000)], artist),
        at=43,
    )
    sale = add(
        "setup: a sale of 1000",
        "fan2",
        "purchase",
        _purchase(listing, 1_000, [(artist, 1_000)]),
        [listing],
        at=43,
    )
    add("setup: the artist receives it", "artist", "receive", {"transfers": [sale.hash]}, [sale],
        at=43)  # fmt: skip
    blind = add(
        "distribute: naming none of the agent's feed, the agent's stake does not count",
        "artist",
        "distribute",
        {"charter": charter.hash, "amount": 100},
        at=44,
    )
    counted = add(
        "distribute: naming the agent's acceptance, the stake counts (100 of 100)",
        "artist",
        "distribute",
        {"charter": charter.hash, "amount": 100},
        [accept],
        at=44,
    )
    add(
        "collect: a distribution the stake does not count in",
        "fan",
        "collect",
        {"stake": staked.hash, "distributions": [blind.hash]},
        [blind],
        at=45,
        expect="does not count",
    )
    add(
        "collect: the distribution that named the agent's prefix",
        "fan",
        "collect",
        {"stake": staked.hash, "distributions": [counted.hash]},
        [counted],
        at=45,
    )


def _reward_steps(st: Steps, crd: Entry, art: Entry) -> None:
    add, pk = st.add, st.pk
    artist = pk["artist"]
    tiers = [
        {"name": "Supporter", "min": 100, "reward": "20 ART", "coins": 20},
        {"name": "Patron", "min": 500, "reward": "50 ART and the album", "coins": 50,
         "release": True},
    ]  # fmt: skip
    body = {
        "title": "Fourth album",
        "description": "",
        "asset": crd.hash,
        "goal": 600,
        "deadline": T0 + 52 * HOUR,
        "close_by": T0 + 54 * HOUR,
        "tiers": tiers,
        "settler": pk["seeder"],
    }
    add(
        "campaign: coin tiers without a reward asset",
        "artist",
        "campaign",
        body,
        [crd],
        at=50,
        expect="reward_asset",
    )
    camp = add(
        "campaign: settled by the seeder, tiers of ART coins and the release",
        "artist",
        "campaign",
        {**body, "reward_asset": art.hash},
        [crd],
        at=50,
    )
    patron = add("pledge: fan, 500 (Patron)", "fan", "pledge", {"campaign": camp.hash,
                 "amount": 500}, [camp], at=51)  # fmt: skip
    supporter = add("pledge: fan2, 100 (Supporter)", "fan2", "pledge", {"campaign": camp.hash,
                    "amount": 100}, [camp], at=51)  # fmt: skip
    shut = add(
        "campaign.close: funded by the seeder",
        "seeder",
        "campaign.close",
        {"campaign": camp.hash, "success": True, "pledges": sorted([patron.hash,
         supporter.hash])},
        [camp, patron, supporter],
        at=53,
    )  # fmt: skip

    def coins(backer: str) -> dict[str, Any]:
        return {"campaign": camp.hash, "close": shut.hash, "backer": pk[backer]}

    add("campaign.reward: coins, without the close in deps", "artist", "campaign.reward",
        coins("fan"), [], at=54, expect="deps")  # fmt: skip
    add("campaign.reward: coins, by the settler instead of the artist", "seeder",
        "campaign.reward", coins("fan"), [shut, camp], at=54,
        expect="only the artist")  # fmt: skip
    add("campaign.reward: 50 ART to the patron", "artist", "campaign.reward", coins("fan"),
        [shut], at=54)  # fmt: skip
    add("campaign.reward: the patron's coins again", "artist", "campaign.reward",
        coins("fan"), [shut], at=54, expect="already delivered")  # fmt: skip
    add("campaign.reward: 20 ART to the supporter", "artist", "campaign.reward",
        coins("fan2"), [shut], at=54)  # fmt: skip
    album = _listing(crd, [(artist, 10_000)], artist, campaign=camp.hash)
    album["title"] = "Fourth album"
    album["tracks"][0]["content"] = bytes(range(1, 33))
    li = add("listing: the campaign's release", "artist", "listing", album, at=55)
    sealed = [{"content": bytes(range(1, 33)), "sealed": b"\x07" * 80}]

    def release(backer: str) -> dict[str, Any]:
        return {**coins(backer), "listing": li.hash, "keys": sealed}

    add("campaign.reward: the release to a supporter (no release in the tier)", "seeder",
        "campaign.reward", release("fan2"), [shut, camp, li, st.deleg], at=56,
        expect="does not give the release")  # fmt: skip
    add("campaign.reward: the release, without the delegation", "seeder",
        "campaign.reward", release("fan"), [shut, camp, li], at=56,
        expect="delegation")  # fmt: skip
    add("campaign.reward: the release sealed to the patron by the seeder", "seeder",
        "campaign.reward", release("fan"), [shut, camp, li, st.deleg], at=56)  # fmt: skip


def _gated_steps(st: Steps, crd: Entry) -> Entry:
    add, pk = st.add, st.pk
    artist = pk["artist"]
    art = add(
        "setup: the artist's coin",
        "artist",
        "asset.issue",
        {
            "symbol": "ART",
            "name": "Artist coin",
            "precision": 0,
            "max_supply": 1_000_000,
            "flags": ["artistcoin"],
        },
        at=10,
    )
    add("setup", "artist", "asset.mint", {"asset": art.hash, "amount": 10_000}, at=10)
    st.pay("artist", art, "fan", 150, at=10, received=10)
    gate = add(
        "setup: a gate of 100 ART, locked a day",
        "artist",
        "gate",
        {
            "title": "Holders",
            "description": "",
            "asset": art.hash,
            "min": 100,
            "held_ms": 0,
            "lock_ms": DAY * 3_600_000,
        },
        at=10,
    )

    def gated(holders_only: bool, discount_bps: int) -> dict[str, Any]:
        terms = {"gate": gate.hash, "holders_only": holders_only, "discount_bps": discount_bps}
        return _listing(crd, [(artist, 10_000)], artist, gate=terms)

    add(
        "listing: gated, neither holders only nor discounted",
        "artist",
        "listing",
        gated(False, 0),
        at=11,
        expect="holders only or",
    )
    only = add(
        "listing: holders only",
        "artist",
        "listing",
        gated(True, 0),
        at=11,
    )
    discount = add(
        "listing: 25% off for holders",
        "artist",
        "listing",
        gated(False, 2_500),
        at=11,
    )
    add(
        "purchase: holders only, no claim",
        "fan",
        "purchase",
        _purchase(only, 1_000, [(artist, 1_000)]),
        [only],
        at=12,
        expect="holders only",
    )
    claim = add(
        "gate.claim: the fan locks 100 ART for a day",
        "fan",
        "gate.claim",
        {"gate": gate.hash, "until": T0 + (12 + DAY) * HOUR},
        [gate],
        at=12,
    )
    add(
        "purchase: a claim named but not in deps",
        "fan",
        "purchase",
        _purchase(only, 1_000, [(artist, 1_000)], claim=claim.hash),
        [only],
        at=12,
        expect="deps",
    )
    add(
        "purchase: someone else's claim",
        "fan2",
        "purchase",
        _purchase(only, 1_000, [(artist, 1_000)], claim=claim.hash),
        [only, claim],
        at=12,
        expect="not the buyer's",
    )
    add(
        "purchase: holders only, with the buyer's active claim",
        "fan",
        "purchase",
        _purchase(only, 1_000, [(artist, 1_000)], claim=claim.hash),
        [only, claim],
        at=12,
    )
    add(
        "purchase: the holders' price without a claim",
        "fan2",
        "purchase",
        _purchase(discount, 750, [(artist, 750)]),
        [discount],
        at=12,
        expect="price is 1000",
    )
    add(
        "purchase: the full price with a claim",
        "fan",
        "purchase",
        _purchase(discount, 1_000, [(artist, 1_000)], claim=claim.hash),
        [discount, claim],
        at=12,
        expect="price is 750",
    )
    add(
        "purchase: the holders' price with the buyer's claim",
        "fan",
        "purchase",
        _purchase(discount, 750, [(artist, 750)], claim=claim.hash),
        [discount, claim],
        at=12,
    )
    add(
        "reclaim: the claim's units back after its day",
        "fan",
        "reclaim",
        {"of": claim.hash, "proof": claim.hash},
        at=12 + DAY + 1,
    )
    add(
        "purchase: holders only, with a claim that has ended",
        "fan",
        "purchase",
        _purchase(only, 1_000, [(artist, 1_000)], claim=claim.hash),
        [only, claim],
        at=12 + DAY + 1,
        expect="not active",
    )
    return art


def _steps() -> list[dict[str, Any]]:
    st = Steps(SEEDS)
    st.deleg = None  # type: ignore[attr-defined]
    crd = st.credits()
    for fan in ("fan", "fan2"):
        st.pay("gateway", crd, fan, 5_000, received=0.02)
    _share_steps(st, crd)
    art = _gated_steps(st, crd)
    _agent_stake_steps(st, crd, art)
    _reward_steps(st, crd, art)
    return st.steps


def build_vectors() -> dict[str, Any]:
    steps = _steps()
    with judged(steps) as led:
        balances = named_balances(led, SEEDS)
        accounting = accounting_by_symbol(led)
        state = led.state
        names = seed_names(SEEDS)
        symbols = {a.id: a.symbol for a in state.assets.values()}
        in_flight = {
            f"{names[t.to]} {symbols[t.asset]} {t.source.hex()[:12]}": t.amount
            for t in sorted(state.inflight.values(), key=lambda t: (t.to, t.source))
        }
        state_hash = led.state_hash().hex()
    return {
        "description": "Cooptracks test vectors of referral and seeder shares, gated "
        "listings and stakes answered by the issuer's agent; see docs/PROTOCOL.md. Judge the "
        "entries in this order; 'expect' is 'accepted' or a phrase of the rejection reason. "
        "Rejected entries do not move their author's head.",
        "seeds": SEEDS,
        "steps": vector_steps(steps),
        "balances": balances,
        "in_flight": in_flight,
        "accounting": accounting,
        "state_hash": state_hash,
    }


def main() -> None:
    print_vectors(build_vectors)


if __name__ == "__main__":
    main()
