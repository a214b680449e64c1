"""Campaign entries for tests: campaigns, pledges, counts, closes and refunds, signed with the
scenario factory at chosen timestamps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.entry import Entry
from ledger.keys import Signer
from tests.ledger.factory import Scenario

HOUR = 3_600_000
TIERS = [
    {"name": "Supporter", "min": 10, "reward": "the album when it is out"},
    {"name": "Patron", "min": 100, "reward": "the album and a backstage pass"},
]


def campaign(
    sc: Scenario,
    artist: Signer,
    asset: Entry,
    goal: int,
    *,
    deadline: int | None = None,
    close_by: int | None = None,
    settler: Signer | None = None,
    tiers: Sequence[dict[str, Any]] = TIERS,
    deps: Sequence[Entry] | None = None,
    **kw: Any,
) -> Entry:
    ts = kw.pop("timestamp", None) or sc.next_ts()
    deadline = deadline if deadline is not None else ts + 2 * HOUR
    own = asset.author == artist.public_key
    return sc.make(
        artist,
        "campaign",
        {
            "title": "Second album",
            "description": "Studio time",
            "asset": asset.hash,
            "goal": goal,
            "deadline": deadline,
            "close_by": close_by if close_by is not None else deadline + HOUR,
            "tiers": list(tiers),
            "settler": (settler or artist).public_key,
        },
        ([] if own else [asset]) if deps is None else deps,
        timestamp=ts,
        **kw,
    )


def pledge(sc: Scenario, backer: Signer, of: Entry, amount: int, **kw: Any) -> Entry:
    return sc.make(backer, "pledge", {"campaign": of.hash, "amount": amount}, [of], **kw)


def _deps(who: Signer, of: Entry, pledges: Sequence[Entry]) -> list[Entry]:
    return [*([] if of.author == who.public_key else [of]), *pledges]


def count(sc: Scenario, settler: Signer, of: Entry, pledges: Sequence[Entry], **kw: Any) -> Entry:
    return sc.make(
        settler,
        "campaign.count",
        {"campaign": of.hash, "pledges": [p.hash for p in pledges]},
        _deps(settler, of, pledges),
        **kw,
    )


def close(
    sc: Scenario,
    settler: Signer,
    of: Entry,
    success: bool,
    pledges: Sequence[Entry] = (),
    **kw: Any,
) -> Entry:
    return sc.make(
        settler,
        "campaign.close",
        {"campaign": of.hash, "success": success, "pledges": [p.hash for p in pledges]},
        _deps(settler, of, pledges),
        **kw,
    )


def refund(sc: Scenario, backer: Signer, of: Entry, proof: Entry, **kw: Any) -> Entry:
    """Reclaim a pledge, naming the close (or a settler entry after close_by) as proof."""
    return sc.make(backer, "reclaim", {"of": of.hash, "proof": proof.hash}, [proof], **kw)


def funding(sc: Scenario | None = None) -> tuple[Scenario, dict[str, Any]]:
    """A gateway's credits (CRD) held by three fans, an artist and a seeder."""
    sc = sc or Scenario()
    gw, artist, seeder = (sc.signer(n) for n in ("gateway", "artist", "seeder"))
    fans = [sc.signer(f"fan{i}") for i in range(3)]
    crd = sc.issue(gw)
    sc.mint(gw, crd, 1_000_000)
    for fan in fans:
        sc.receive(fan, sc.send(gw, crd, fan, 10_000))
    return sc, {"gw": gw, "artist": artist, "seeder": seeder, "fans": fans, "crd": crd}
