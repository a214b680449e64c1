"""Exchange test vectors (tests/vectors/exchange.json): a market history from fixed seeds and
timestamps, each entry with the outcome a conforming implementation must reach when the entries
are judged in the listed order (accepted, or rejected with a reason), the balances, locks and
state hash that follow, and the conflict cases of docs/PROTOCOL.md ("Exchange").

Regenerate after an intentional change (and say so in docs/PROTOCOL.md)::

    .venv/bin/python -m tests.ledger.exchange_vectors > tests/vectors/exchange.json
"""

from __future__ import annotations

from typing import Any

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


def _steps() -> list[dict[str, Any]]:
    st = Steps(SEEDS)
    steps, add, pk = st.steps, st.add, st.pk
    crd = st.credits()
    for fan in ("fan", "fan2"):
        st.pay("gateway", crd, fan, 5_000, received=0.02)
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
        at=0.03,
    )
    add("setup", "artist", "asset.mint", {"asset": art.hash, "amount": 1_000})

    def offer_body(
        amount: int,
        want: int,
        expires_at: float,
        settler: str = "seeder",
        min_fill: int = 10,
        fok: bool = False,
    ) -> dict[str, Any]:
        return {
            "sell": art.hash,
            "sell_amount": amount,
            "want": crd.hash,
            "want_amount": want,
            "min_fill": min_fill,
            "expires": T0 + int(expires_at * HOUR),
            "fill_or_kill": fok,
            "settler": pk[settler],
        }

    add(
        "overdraft via locks: an offer locks more than the balance",
        "artist",
        "offer",
        offer_body(1_001, 3_000, 10),
        at=1,
        expect="overdraft",
    )
    offer = add(
        "offer: 100 ART for at least 300 CRD (3 CRD per ART), settled by the seeder",
        "artist",
        "offer",
        offer_body(100, 300, 10),
        at=1,
    )
    add(
        "overdraft via locks: the locked units cannot be sent",
        "artist",
        "send",
        {"asset": art.hash, "to": pk["fan"], "amount": 901, "memo": ""},
        expect="overdraft",
    )
    add(
        "take priced below the offer (rounding is up, in the maker's favour)",
        "fan",
        "take",
        {"offer": offer.hash, "amount": 35, "pay": 104, "deadline": T0 + 5 * HOUR},
        [offer],
        at=2,
        expect="cost 105",
    )
    take1 = add(
        "take: 35 ART for 105 CRD, a conditional transfer to the maker",
        "fan",
        "take",
        {"offer": offer.hash, "amount": 35, "pay": 105, "deadline": T0 + 5 * HOUR},
        [offer],
        at=2,
    )
    take2 = add(
        "take: 60 ART for 180 CRD",
        "fan2",
        "take",
        {"offer": offer.hash, "amount": 60, "pay": 180, "deadline": T0 + 5 * HOUR},
        [offer],
        at=2,
    )
    take3 = add(
        "take: 10 more ART, which the settler will not answer",
        "fan",
        "take",
        {"offer": offer.hash, "amount": 10, "pay": 30, "deadline": T0 + 4 * HOUR},
        [offer],
        at=2.5,
    )
    add(
        "only the settler fills (the maker is not its settler here)",
        "artist",
        "fill",
        {"take": take1.hash},
        [take1],
        at=3,
        expect="settler",
    )
    fill1 = add(
        "fill: the seeder settles take 1 for the maker",
        "seeder",
        "fill",
        {"take": take1.hash},
        [take1],
        at=3,
    )
    add(
        "double fill of one take",
        "seeder",
        "fill",
        {"take": take1.hash},
        [take1],
        expect="already accepted",
    )
    fill2 = add(
        "fill: take 2 (5 ART left after it)", "seeder", "fill", {"take": take2.hash}, [take2]
    )
    add(
        "fill beyond the lock (10 wanted, 5 left)",
        "seeder",
        "fill",
        {"take": take3.hash},
        [take3],
        expect="5 left",
    )
    add(
        "receive: the taker's ART from the fill",
        "fan",
        "receive",
        {"transfers": [fill1.hash]},
        [fill1],
        at=3.1,
    )
    add(
        "receive: the maker's CRD from both fills",
        "artist",
        "receive",
        {"transfers": [fill1.hash, fill2.hash]},
        [fill1, fill2],
        at=3.1,
    )
    ask = add(
        "cancel asked by the maker: moves nothing by itself",
        "artist",
        "cancel",
        {"offer": offer.hash},
        at=3.2,
    )
    cancel = add(
        "cancel by the settler: the 5 ART left go back to the maker",
        "seeder",
        "cancel",
        {"offer": offer.hash},
        [offer, ask],
        at=3.3,
    )
    add("fill after cancel", "seeder", "fill", {"take": take3.hash}, [take3], expect="closed")
    add(
        "receive: the maker's remainder from the cancel",
        "artist",
        "receive",
        {"transfers": [cancel.hash]},
        [cancel],
        at=3.4,
    )
    early = add(
        "checkpoint of the seeder, before take 3's deadline",
        "seeder",
        "checkpoint",
        {"open": 1},
        at=3.5,
    )
    add(
        "reclaim with a proof dated before the deadline",
        "fan",
        "reclaim",
        {"of": take3.hash, "proof": early.hash},
        [early],
        at=3.6,
        expect="not dated after",
    )
    late = add(
        "checkpoint of the seeder, after take 3's deadline",
        "seeder",
        "checkpoint",
        {"open": 1},
        at=4.5,
    )
    add(
        "fill after the take's deadline",
        "seeder",
        "fill",
        {"take": take3.hash},
        [take3],
        expect="deadline",
    )
    add(
        "reclaim: the taker's 30 CRD come back by deadline proof",
        "fan",
        "reclaim",
        {"of": take3.hash, "proof": late.hash},
        [late],
        at=4.6,
    )
    offer2 = add(
        "offer: fill-or-kill, 50 ART for 200 CRD, self-settled",
        "artist",
        "offer",
        offer_body(50, 200, 6, settler="artist", fok=True, min_fill=50),
        at=5,
    )
    add(
        "fill-or-kill takes only the whole offer",
        "fan2",
        "take",
        {"offer": offer2.hash, "amount": 20, "pay": 80, "deadline": T0 + 6 * HOUR},
        [offer2],
        at=5.1,
        expect="only whole",
    )
    add(
        "reclaim of an offer before it expired",
        "artist",
        "reclaim",
        {"of": offer2.hash, "proof": offer2.hash},
        at=5.5,
        expect="after the deadline",
    )
    add(
        "reclaim: the expired offer's 50 ART back to its own settler-maker",
        "artist",
        "reclaim",
        {"of": offer2.hash, "proof": offer2.hash},
        at=6.5,
    )
    add(
        "take after expiry",
        "fan2",
        "take",
        {"offer": offer2.hash, "amount": 50, "pay": 200, "deadline": T0 + 8 * HOUR},
        [offer2],
        at=7,
        expect="expired",
    )
    return steps


def build_vectors() -> dict[str, Any]:
    steps = _steps()
    with judged(steps) as led:
        balances = named_balances(led, SEEDS)
        accounting = accounting_by_symbol(led)
        state_hash = led.state_hash().hex()
    return {
        "description": "Cooptracks exchange test vectors; see docs/PROTOCOL.md, 'Exchange'. "
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
