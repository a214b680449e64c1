"""Exchange entries for tests: offers, takes, fills, refusals, cancels, reclaims and checkpoints,
signed with the scenario factory at chosen timestamps."""

from __future__ import annotations

from typing import Any

from ledger.entry import Entry
from ledger.keys import Signer
from tests.ledger.factory import Scenario

HOUR = 3_600_000


def cost(offer: Entry, amount: int) -> int:
    """What ``amount`` sold units of ``offer`` cost: rounded up, in the maker's favour."""
    return -(-amount * offer.body["want_amount"] // offer.body["sell_amount"])


def offer(
    sc: Scenario,
    maker: Signer,
    sell: Entry,
    sell_amount: int,
    want: Entry,
    want_amount: int,
    *,
    min_fill: int = 1,
    expires: int | None = None,
    fok: bool = False,
    settler: Signer | None = None,
    **kw: Any,
) -> Entry:
    ts = kw.pop("timestamp", None) or sc.next_ts()
    return sc.make(
        maker,
        "offer",
        {
            "sell": sell.hash,
            "sell_amount": sell_amount,
            "want": want.hash,
            "want_amount": want_amount,
            "min_fill": sell_amount if fok else min_fill,
            "expires": expires if expires is not None else ts + HOUR,
            "fill_or_kill": fok,
            "settler": (settler or maker).public_key,
        },
        timestamp=ts,
        **kw,
    )


def take(
    sc: Scenario,
    taker: Signer,
    of: Entry,
    amount: int,
    *,
    pay: int | None = None,
    deadline: int | None = None,
    **kw: Any,
) -> Entry:
    ts = kw.pop("timestamp", None) or sc.next_ts()
    return sc.make(
        taker,
        "take",
        {
            "offer": of.hash,
            "amount": amount,
            "pay": cost(of, amount) if pay is None else pay,
            "deadline": deadline if deadline is not None else ts + HOUR,
        },
        [of],
        timestamp=ts,
        **kw,
    )


def fill(sc: Scenario, settler: Signer, of: Entry, **kw: Any) -> Entry:
    return sc.make(settler, "fill", {"take": of.hash}, [of], **kw)


def refuse(sc: Scenario, settler: Signer, of: Entry, reason: str = "", **kw: Any) -> Entry:
    return sc.make(settler, "refuse", {"take": of.hash, "reason": reason}, [of], **kw)


def cancel(sc: Scenario, who: Signer, of: Entry, **kw: Any) -> Entry:
    deps = [] if of.author == who.public_key else [of]
    return sc.make(who, "cancel", {"offer": of.hash}, deps, **kw)


def reclaim(sc: Scenario, who: Signer, of: Entry, proof: Entry | None, **kw: Any) -> Entry:
    """Reclaim ``of`` (an offer or a take); ``proof`` None: the author is its own settler."""
    ref = of.hash if proof is None else proof.hash
    return sc.make(
        who, "reclaim", {"of": of.hash, "proof": ref}, [] if proof is None else [proof], **kw
    )


def checkpoint(sc: Scenario, who: Signer, open_count: int = 0, **kw: Any) -> Entry:
    return sc.make(who, "checkpoint", {"open": open_count}, **kw)


def market(sc: Scenario | None = None) -> tuple[Scenario, dict[str, Any]]:
    """A gateway's credits (CRD) held by two fans, an artist's coin (ART), and a seeder."""
    sc = sc or Scenario()
    gw, artist, fan, fan2, seeder = (
        sc.signer(n) for n in ("gateway", "artist", "fan", "fan2", "seeder")
    )
    crd = sc.issue(gw)
    sc.mint(gw, crd, 1_000_000)
    for who in (fan, fan2):
        sc.receive(who, sc.send(gw, crd, who, 50_000))
    art = sc.issue(
        artist, "ART", max_supply=1_000_000, flags=["artistcoin"], precision=0, name="Artist coin"
    )
    sc.mint(artist, art, 10_000)
    return sc, {
        "gw": gw,
        "artist": artist,
        "fan": fan,
        "fan2": fan2,
        "seeder": seeder,
        "crd": crd,
        "art": art,
    }
