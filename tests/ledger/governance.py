"""Governance entries for tests: proposals, votes, counts, closes, charters and signings, signed
with the scenario factory at chosen timestamps; and a label world (Coop Records)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.entry import Entry
from ledger.keys import Signer
from tests.ledger.factory import Scenario

HOUR = 3_600_000
DAY = 24 * HOUR


def rules(
    method: str = "token",
    asset: Entry | None = None,
    members: Sequence[Signer] = (),
    min_holding: int = 0,
    quorum: int = 0,
    threshold_bps: int = 5001,
) -> dict[str, Any]:
    return {
        "method": method,
        "asset": asset.hash if asset is not None else None,
        "members": [m.public_key for m in members],
        "min_holding": min_holding,
        "quorum": quorum,
        "threshold_bps": threshold_bps,
    }


def action(do: str, to: Signer | bytes, amount: int, asset: Entry | None = None) -> dict[str, Any]:
    return {
        "do": do,
        "asset": asset.hash if asset is not None else None,
        "to": to.public_key if isinstance(to, Signer) else to,
        "amount": amount,
    }


def proposal(
    sc: Scenario,
    who: Signer,
    *,
    settler: Signer | None = None,
    style: str = "yes_no",
    choices: Sequence[str] = ("yes", "no"),
    closes: int | None = None,
    charter: Entry | None = None,
    act: dict[str, Any] | None = None,
    title: str = "Sign the artist?",
    deps: Sequence[Entry] = (),
    **rule_kw: Any,
) -> Entry:
    ts = rule_kw.pop("timestamp", None) or sc.next_ts()
    advance = rule_kw.pop("advance", True)
    body = {
        "title": title,
        "text": "",
        "style": style,
        "choices": list(choices),
        "closes": closes if closes is not None else ts + HOUR,
        "settler": (settler or who).public_key,
        "charter": charter.hash if charter is not None else None,
        "action": act,
        **rules(**rule_kw),
    }
    return sc.make(
        who,
        "proposal",
        body,
        ([charter] if charter is not None else []) + list(deps),
        timestamp=ts,
        advance=advance,
    )


def vote(
    sc: Scenario,
    who: Signer,
    of: Entry,
    choices: Sequence[int] = (0,),
    units: int = 0,
    qualifier: Entry | None = None,
    **kw: Any,
) -> Entry:
    deps = [of] + ([qualifier] if qualifier is not None else [])
    return sc.make(
        who,
        "vote",
        {
            "proposal": of.hash,
            "choices": list(choices),
            "units": units,
            "qualifier": qualifier.hash if qualifier else None,
        },
        deps,
        **kw,
    )


def count(
    sc: Scenario, settler: Signer, of: Entry, votes: Sequence[Entry], final: bool = True, **kw: Any
) -> Entry:
    return sc.make(
        settler,
        "close" if final else "count",
        {"proposal": of.hash, "votes": [v.hash for v in votes]},
        [of, *votes],
        **kw,
    )


def charter(
    sc: Scenario, label: Signer, settler: Signer, period_ms: int = HOUR, **rule_kw: Any
) -> Entry:
    return sc.make(
        label,
        "charter",
        {"period_ms": period_ms, "settler": settler.public_key, **rules(**rule_kw)},
    )


def sign(sc: Scenario, label: Signer, artist: Signer, bps: int, *deps: Entry, **kw: Any) -> Entry:
    return sc.make(label, "sign", {"artist": artist.public_key, "share_bps": bps}, deps, **kw)


def accept(
    sc: Scenario, artist: Signer, signing: Entry, until: int | None = None, *deps: Entry, **kw: Any
) -> Entry:
    return sc.make(
        artist, "sign.accept", {"signing": signing.hash, "until": until}, [signing, *deps], **kw
    )


def release(sc: Scenario, label: Signer, signing: Entry, *deps: Entry, **kw: Any) -> Entry:
    return sc.make(label, "sign.release", {"signing": signing.hash}, [signing, *deps], **kw)


def listing(
    sc: Scenario,
    artist: Signer,
    asset: Entry,
    deps: Sequence[Entry] = (),
    advance: bool = True,
    **kw: Any,
) -> Entry:
    """A listing (as ``Scenario.listing``) that may name entries in deps (a label's release)."""
    body = sc.listing_body(artist, asset, **kw)
    e = sc.make(artist, "listing", body, deps, advance=advance)
    sc.listings[e.hash] = body
    sc.listing_artist[e.hash] = artist.public_key
    return e


def draft(
    sc: Scenario, who: Signer, settler: Signer, period_ms: int = HOUR, **rule_kw: Any
) -> Entry:
    return sc.make(
        who,
        "charter.draft",
        {"period_ms": period_ms, "settler": settler.public_key, **rules(**rule_kw)},
    )


def label_world(sc: Scenario | None = None) -> tuple[Scenario, dict[str, Any]]:
    """Coop Records: a label with its COOP token held by three fans, credits in its treasury,
    a seeder, an artist; the label's charter (token-weighted, quorum 100, simple majority)."""
    sc = sc or Scenario()
    gw, label, seeder, artist = (sc.signer(n) for n in ("gateway", "coop", "seeder", "artist"))
    fans = [sc.signer(f"fan{i}") for i in range(3)]
    crd = sc.issue(gw)
    sc.mint(gw, crd, 1_000_000)
    sc.receive(label, sc.send(gw, crd, label, 100_000))
    coop = sc.issue(label, "COOP", max_supply=1_000_000, precision=0, name="Coop Records")
    sc.mint(label, coop, 3_000)
    for fan in fans:
        sc.receive(fan, sc.send(label, coop, fan, 1_000))
    ch = charter(sc, label, seeder, method="token", asset=coop, quorum=100)
    return sc, {
        "gw": gw,
        "label": label,
        "seeder": seeder,
        "artist": artist,
        "fans": fans,
        "crd": crd,
        "coop": coop,
        "charter": ch,
    }
