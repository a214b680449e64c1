"""Validation levels 1–5: decoding, schema, signature, chain position, causal dependencies.

Each test delivers real signed bytes to a real ledger file and checks that the entry is refused
(or held back) with a reason a person can read, and that nothing else changed.
"""

from __future__ import annotations

import copy
from typing import Any

import cbor2
import pytest

import ledger.ledger as ledger_mod
from ledger.encoding import encode, hash32
from ledger.entry import MAX_ENTRY_BYTES, SIGN_DOMAIN, create_entry, decode_entry
from ledger.errors import DecodeError, SchemaError
from ledger.features import FEATURES, RULES
from ledger.kinds import KINDS, validate_body
from ledger.ledger import Ledger
from ledger.state import State
from tests.ledger.factory import Scenario, economy, signer

# -- helpers ---------------------------------------------------------------------------------------

ALICE = signer("alice")
PROFILE = {"name": "Alice", "bio": "", "links": []}


def raw_entry(
    header_bytes: bytes,
    body_bytes: bytes,
    who: Any = ALICE,
    outer: bytes = b"\x83",
    sig: bytes | None = None,
) -> bytes:
    """Assemble wire bytes by hand (possibly non-canonical), signed over the given header bytes."""
    signature = sig if sig is not None else who.sign(SIGN_DOMAIN + header_bytes)
    return outer + header_bytes + body_bytes + b"\x58\x40" + signature


def header_list(
    body_bytes: bytes,
    who: Any = ALICE,
    seq: int = 1,
    prev: bytes | None = None,
    ts: int = 1_700_000_000_000,
    deps: list[bytes] | None = None,
    kind: str = "profile",
) -> list[Any]:
    return [1, who.public_key, seq, prev, ts, deps or [], kind, hash32(body_bytes)]


def rejected_with(led: Ledger, wire: bytes, *words: str) -> str:
    """Ingest ``wire`` and assert it is rejected with a reason containing ``words``."""
    before = (led.state_hash(), led.count(), led.pending_count())
    report = led.ingest([wire])
    assert not report.accepted, "the entry must not be accepted"
    assert len(report.rejected) == 1, report
    reason = report.rejected[0].reason
    for w in words:
        assert w.lower() in reason.lower(), reason
    assert (led.state_hash(), led.count(), led.pending_count()) == before
    return reason


def valid_profile_wire() -> bytes:
    return create_entry(ALICE, 1, None, 1_700_000_000_000, "profile", PROFILE).wire


# -- level 1: size and canonical decoding ---------------------------------------------------------


def test_the_reference_entry_is_accepted(led: Ledger) -> None:
    report = led.ingest([valid_profile_wire()])
    assert len(report.accepted) == 1 and not report.rejected


def test_oversized_entry_is_rejected_before_decoding(led: Ledger) -> None:
    body = {"name": "x", "bio": "y" * 2000, "links": []}
    wire = create_entry(ALICE, 1, None, 1, "profile", body).wire
    big = wire + b"\x00" * (MAX_ENTRY_BYTES + 1 - len(wire))
    rejected_with(led, big, "limit")


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\xff",
        b"garbage",
        b"\x83\x01\x02",
        b"\x9f",
        b"\x5a\xff\xff\xff\xff",
        b"\x9b" + b"\xff" * 8,
        b"\x81" * 10_000 + b"\x00",
        bytes(range(256)),
    ],
)
def test_garbage_gets_a_reason_never_an_exception(led: Ledger, garbage: bytes) -> None:
    reason = rejected_with(led, garbage)
    assert reason


def test_non_bytes_input_is_rejected(led: Ledger) -> None:
    report = led.ingest(["a text, not bytes"])  # type: ignore[list-item]
    assert report.rejected and not report.accepted


def test_indefinite_length_arrays_are_not_canonical(led: Ledger) -> None:
    body = encode(PROFILE)
    header = encode(header_list(body))
    # outer array as indefinite length: 0x9f ... 0xff
    wire = b"\x9f" + header + body + b"\x58\x40" + ALICE.sign(SIGN_DOMAIN + header) + b"\xff"
    rejected_with(led, wire, "canonical")
    # header as an indefinite-length array, signed as such
    items = header_list(body)
    indef = b"\x9f" + b"".join(encode(x) for x in items) + b"\xff"
    rejected_with(led, raw_entry(indef, body), "canonical")


def test_non_minimal_integers_are_not_canonical(led: Ledger) -> None:
    body = encode(PROFILE)
    items = header_list(body)
    # version 1 written as a one-byte-argument integer (0x18 0x01) instead of 0x01
    header = b"\x88" + b"\x18\x01" + b"".join(encode(x) for x in items[1:])
    rejected_with(led, raw_entry(header, body), "canonical")
    # timestamp as an 8-byte argument although it fits in 4... (ts small)
    items = header_list(body, ts=5)
    parts = [encode(x) for x in items]
    parts[4] = b"\x1b" + (5).to_bytes(8, "big")
    rejected_with(led, raw_entry(b"\x88" + b"".join(parts), body), "canonical")


def test_map_keys_out_of_canonical_order_are_rejected(led: Ledger) -> None:
    # "links" (6 bytes) must come after "bio" and "name" (length-first order); put it first.
    body = (
        b"\xa3"
        + encode("links")
        + encode([])
        + encode("name")
        + encode("A")
        + encode("bio")
        + encode("")
    )
    assert cbor2.loads(body) == {"name": "A", "bio": "", "links": []}
    rejected_with(led, raw_entry(encode(header_list(body)), body), "canonical")


def test_bignum_tag_for_a_small_integer_is_rejected(led: Ledger) -> None:
    body = encode(PROFILE)
    parts = [encode(x) for x in header_list(body)]
    parts[4] = b"\xc2\x42\x01\x00"  # tag 2 (bignum) of 256
    rejected_with(led, raw_entry(b"\x88" + b"".join(parts), body))


def test_float_timestamp_is_rejected(led: Ledger) -> None:
    body = encode(PROFILE)
    items = header_list(body)
    items[4] = 1.5
    rejected_with(led, raw_entry(encode(items), body), "timestamp")


def test_trailing_bytes_are_rejected(led: Ledger) -> None:
    rejected_with(led, valid_profile_wire() + b"\x00")


@pytest.mark.parametrize("arity", [7, 9])
def test_wrong_header_arity(led: Ledger, arity: int) -> None:
    body = encode(PROFILE)
    items = header_list(body)
    items = items[:arity] if arity < 8 else [*items, 0]
    rejected_with(led, raw_entry(encode(items), body), "8 fields")


def test_wrong_outer_arity(led: Ledger) -> None:
    body = encode(PROFILE)
    header = encode(header_list(body))
    rejected_with(led, b"\x84" + header + body + b"\x58\x40" + bytes(64) + b"\x00", "array")


def test_body_hash_mismatch(led: Ledger) -> None:
    body = encode(PROFILE)
    other = encode({"name": "Mallory", "bio": "", "links": []})
    rejected_with(led, raw_entry(encode(header_list(other)), body), "body_hash")


@pytest.mark.parametrize(
    "field,value,word",
    [
        (0, 2, "version"),
        (0, True, "version"),
        (1, b"\x01" * 31, "author"),
        (2, 0, "seq"),
        (2, -1, "seq"),
        (3, b"\x00" * 32, "prev"),
        (4, -5, "timestamp"),
        (5, [b"\x01"], "dependency"),
        (5, [b"\x02" * 32, b"\x01" * 32], "ascending"),
        (5, [b"\x01" * 32] * 2, "ascending"),
        (5, [bytes([i]) * 32 for i in range(65)], "deps"),
        (6, "", "kind"),
        (6, "k" * 33, "kind"),
        (7, b"\x00" * 31, "body_hash"),
    ],
)
def test_header_field_checks(led: Ledger, field: int, value: Any, word: str) -> None:
    body = encode(PROFILE)
    items = header_list(body)
    items[field] = value
    rejected_with(led, raw_entry(encode(items), body), word)


def test_decode_entry_raises_only_ledger_errors() -> None:
    with pytest.raises(DecodeError):
        decode_entry(b"\xff\xff")
    with pytest.raises(SchemaError):
        body = encode(PROFILE)
        decode_entry(raw_entry(encode(header_list(body)[:3]), body))


# -- level 2: the schema of each kind --------------------------------------------------------------


def _valid_bodies() -> dict[str, dict[str, Any]]:
    sc, x = economy()
    h = b"\x11" * 32
    bodies = {
        "profile": {"name": "A", "bio": "b", "links": ["https://x"]},
        "asset.issue": {
            "symbol": "CRD",
            "name": "Credits",
            "precision": 2,
            "max_supply": 10,
            "flags": ["stable"],
        },
        "asset.mint": {"asset": h, "amount": 1},
        "send": {"asset": h, "to": h, "amount": 1, "memo": ""},
        "receive": {"transfers": [h]},
        "listing": sc.listing_body(x["artist"], x["crd"]),
        "purchase": {
            "listing": h,
            "track": None,
            "asset": h,
            "amount": 1,
            "payouts": [{"to": h, "amount": 1}],
        },
        "grant": {"purchase": h, "keys": [{"content": h, "sealed": b"\x00" * 80}]},
        "delegate": {"agent": h, "listings": [], "keys": []},
        "revoke": {"delegation": h},
        "checkpoint": {"open": 3},
        "reclaim": {"of": h, "proof": h},
        "offer": {
            "sell": h,
            "sell_amount": 100,
            "want": h,
            "want_amount": 250,
            "min_fill": 10,
            "expires": 2_000_000_000_000,
            "fill_or_kill": False,
            "settler": h,
        },
        "take": {"offer": h, "amount": 10, "pay": 25, "deadline": 2_000_000_000_000},
        "fill": {"take": h},
        "refuse": {"take": h, "reason": "out of stock"},
        "cancel": {"offer": h},
        "proposal": {
            "title": "Sign?",
            "text": "",
            "style": "yes_no",
            "choices": ["yes", "no"],
            "closes": 2_000_000_000_000,
            "settler": h,
            "charter": h,
            "action": {"do": "send", "asset": h, "to": h, "amount": 5},
            "method": "token",
            "asset": h,
            "members": [],
            "min_holding": 0,
            "quorum": 10,
            "threshold_bps": 5001,
        },
        "vote": {"proposal": h, "choices": [0], "units": 10, "qualifier": None},
        "count": {"proposal": h, "votes": [h]},
        "close": {"proposal": h, "votes": []},
        "charter": {
            "period_ms": 3_600_000,
            "settler": h,
            "method": "member",
            "asset": None,
            "members": [h],
            "min_holding": 0,
            "quorum": 1,
            "threshold_bps": 5001,
        },
        "sign": {"artist": h, "share_bps": 2000},
        "sign.accept": {"signing": h, "until": None},
        "sign.release": {"signing": h},
        "charter.draft": {
            "period_ms": 3_600_000,
            "settler": h,
            "method": "token",
            "asset": h,
            "members": [],
            "min_holding": 0,
            "quorum": 1,
            "threshold_bps": 5001,
        },
        "campaign": {
            "title": "Second album",
            "description": "",
            "asset": h,
            "goal": 100,
            "deadline": 2_000_000_000_000,
            "close_by": 2_000_100_000_000,
            "tiers": [{"name": "Supporter", "min": 10, "reward": "the album"}],
            "settler": h,
        },
        "pledge": {"campaign": h, "amount": 25},
        "campaign.count": {"campaign": h, "pledges": [h]},
        "campaign.close": {"campaign": h, "success": True, "pledges": []},
        "gate": {
            "title": "Backstage",
            "description": "",
            "asset": h,
            "min": 100,
            "held_ms": 0,
            "lock_ms": 3_600_000,
        },
        "gate.claim": {"gate": h, "until": 2_000_000_000_000},
        "coin.charter": {"asset": h, "sales_asset": h, "bps": 2_000},
        "stake": {"charter": h, "amount": 10, "accept_by": 1, "until": 2},
        "stake.accept": {"stake": h},
        "stake.refuse": {"stake": h},
        "distribute": {"charter": h, "amount": 100},
        "collect": {"stake": h, "distributions": [h]},
        "review": {"grant": h, "rating": 4, "text": "warm and strange"},
        "review.reply": {"review": h, "text": "thank you"},
        "receipt": {"purchase": h, "seeders": [{"to": h, "bytes": 262_144}]},
        "campaign.reward": {"campaign": h, "close": h, "backer": h},
    }
    assert set(bodies) == set(KINDS), "a new kind needs a schema test"
    return bodies


VALID = _valid_bodies()


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_body_passes_schema(kind: str) -> None:
    validate_body(kind, VALID[kind])


@pytest.mark.parametrize("kind", sorted(VALID))
def test_missing_field_is_rejected(kind: str) -> None:
    for name in VALID[kind]:
        body = dict(VALID[kind])
        del body[name]
        with pytest.raises(SchemaError, match="missing"):
            validate_body(kind, body)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_extra_field_is_rejected(kind: str) -> None:
    with pytest.raises(SchemaError, match="unknown"):
        validate_body(kind, {**VALID[kind], "extra": 1})


@pytest.mark.parametrize("kind", sorted(VALID))
def test_wrong_type_of_every_field_is_rejected(kind: str) -> None:
    for name, value in VALID[kind].items():
        for wrong in (1.5, {"x": 1}, True if type(value) is not bool else 7):
            if value is None and wrong is True:
                continue
            body = dict(VALID[kind])
            body[name] = wrong
            with pytest.raises(SchemaError):
                validate_body(kind, body)


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target: Any = out
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    target[int(last) if last.isdigit() else last] = value
    return out


@pytest.mark.parametrize(
    "kind,path,value",
    [
        ("asset.issue", "symbol", "crd"),
        ("asset.issue", "symbol", "TOOLONGSYMBOL"),
        ("asset.issue", "precision", 19),
        ("asset.issue", "max_supply", 0),
        ("asset.issue", "max_supply", 1 << 63),
        ("asset.issue", "flags", ["gold"]),
        ("asset.issue", "flags", ["stable", "stable"]),
        ("asset.mint", "amount", 0),
        ("send", "amount", 0),
        ("send", "amount", -3),
        ("send", "memo", "x" * 281),
        ("send", "to", b"\x01" * 33),
        ("send", "memo", "bell\x07"),
        ("receive", "transfers", []),
        ("receive", "transfers", [b"\x01" * 32] * 2),
        ("receive", "transfers", [bytes([i, 0]) * 16 for i in range(65)]),
        ("listing", "split.0.bps", 0),
        ("listing", "split.0.bps", 10_001),
        ("listing", "split", []),
        ("listing", "tracks", []),
        ("listing", "prices", []),
        ("listing", "title", ""),
        ("listing", "tracks.0.duration_ms", 24 * 3600 * 1000 + 1),
        ("listing", "prices.0.amount", -1),
        ("purchase", "track", 100),
        ("purchase", "track", -1),
        ("purchase", "amount", 0),
        ("purchase", "payouts", []),
        ("purchase", "payouts.0.amount", 0),
        ("grant", "keys", []),
        ("grant", "keys.0.sealed", b"\x00" * 129),
        ("profile", "name", ""),
        ("profile", "links", ["l"] * 9),
        ("checkpoint", "open", -1),
        ("offer", "sell_amount", 0),
        ("offer", "want_amount", 0),
        ("offer", "min_fill", 0),
        ("offer", "expires", -1),
        ("offer", "settler", b"\x01" * 31),
        ("take", "amount", 0),
        ("take", "pay", 0),
        ("take", "deadline", -1),
        ("refuse", "reason", "r" * 201),
        ("reclaim", "proof", b"\x01" * 33),
        ("proposal", "style", "ranked"),
        ("proposal", "choices", ["yes"]),
        ("proposal", "choices", ["a", "a"]),
        ("proposal", "method", "lottery"),
        ("proposal", "threshold_bps", 0),
        ("proposal", "threshold_bps", 10_001),
        ("proposal", "action.do", "burn"),
        ("proposal", "action.amount", 0),
        ("proposal", "members", [b"\x01" * 32] * 2),
        ("vote", "choices", []),
        ("vote", "choices", [16]),
        ("vote", "choices", [0, 0]),
        ("vote", "units", -1),
        ("count", "votes", []),
        ("count", "votes", [bytes([i, 0]) * 16 for i in range(64)]),
        ("charter", "period_ms", 0),
        ("sign", "share_bps", 0),
        ("sign", "share_bps", 10_001),
        ("sign.accept", "until", -1),
        ("charter.draft", "period_ms", 0),
    ],
)
def test_out_of_range_values_are_rejected(kind: str, path: str, value: Any) -> None:
    with pytest.raises(SchemaError):
        validate_body(kind, _set(VALID[kind], path, value))


def test_unknown_kind_is_rejected_by_the_ledger(led: Ledger) -> None:
    wire = create_entry(ALICE, 1, None, 1, "nft.mint", {"x": 1}).wire
    rejected_with(led, wire, "unknown kind")


def test_schema_error_is_reported_through_ingest(led: Ledger) -> None:
    wire = create_entry(ALICE, 1, None, 1, "profile", {"name": "", "bio": "", "links": []}).wire
    rejected_with(led, wire, "profile.name")


def test_every_kind_has_rules() -> None:
    assert set(RULES) == set(KINDS)
    for feature in FEATURES:  # each feature's kinds have their rules in the same feature
        assert {k.name for k in feature.kinds} == set(feature.rules), feature.name


def test_every_feature_view_is_part_of_the_state() -> None:
    for feature in FEATURES:
        assert issubclass(State, feature.view), feature.name


# -- level 3: signature ----------------------------------------------------------------------------


def test_flipped_signature_is_rejected(led: Ledger) -> None:
    wire = bytearray(valid_profile_wire())
    wire[-1] ^= 0x01
    rejected_with(led, bytes(wire), "signature")


def test_entry_signed_by_someone_else_is_rejected(led: Ledger) -> None:
    body = encode(PROFILE)
    header = encode(header_list(body))  # author: alice
    rejected_with(led, raw_entry(header, body, who=signer("mallory")), "signature")


def test_signature_without_domain_separation_is_rejected(led: Ledger) -> None:
    body = encode(PROFILE)
    header = encode(header_list(body))
    rejected_with(led, raw_entry(header, body, sig=ALICE.sign(header)), "signature")


# -- level 4: chain position -----------------------------------------------------------------------


def test_timestamp_going_backwards_is_rejected(led: Ledger) -> None:
    first = create_entry(ALICE, 1, None, 2_000, "profile", PROFILE)
    assert led.ingest([first.wire]).accepted
    back = create_entry(ALICE, 2, first.hash, 1_999, "profile", PROFILE)
    rejected_with(led, back.wire, "timestamp")
    same = create_entry(ALICE, 2, first.hash, 2_000, "profile", PROFILE)
    assert led.ingest([same.wire]).accepted  # equal timestamps are allowed


def test_first_entry_with_a_prev_is_rejected(led: Ledger) -> None:
    body = encode(PROFILE)
    rejected_with(led, raw_entry(encode(header_list(body, prev=b"\x01" * 32)), body), "prev")


def test_wrong_prev_is_never_accepted_and_the_named_prev_is_wanted(led: Ledger) -> None:
    first = create_entry(ALICE, 1, None, 1, "profile", PROFILE)
    led.ingest([first.wire])
    bogus_prev = b"\x42" * 32
    wrong = create_entry(ALICE, 2, bogus_prev, 2, "profile", PROFILE)
    report = led.ingest([wrong.wire])
    assert not report.accepted
    assert not led.has(wrong.hash)
    assert bogus_prev in led.wanted().hashes
    assert led.count() == 1


def test_gap_waits_then_fills(led: Ledger) -> None:
    sc = Scenario()
    entries = [sc.profile(ALICE, name=f"v{i}") for i in range(4)]
    report = led.ingest([entries[2].wire, entries[3].wire])
    assert not report.accepted and report.pending == 2 and led.pending_count() == 2
    assert led.wanted().feeds == {ALICE.public_key: 1}, "the feed is wanted from seq 1"
    led.ingest([entries[0].wire])
    assert led.wanted().feeds == {ALICE.public_key: 2}
    report = led.ingest([entries[1].wire])
    assert [e.seq for e in report.accepted] == [2, 3, 4]
    assert led.pending_count() == 0 and not led.wanted().feeds
    assert led.state.profiles[ALICE.public_key].name == "v3"


# -- level 5: causal dependencies ------------------------------------------------------------------


def test_missing_dependency_pends_is_wanted_and_resolves(led: Ledger) -> None:
    sc, x = economy()
    *setup, li = sc.entries
    buy = sc.purchase(x["fan"], li)
    report = led.ingest([e.wire for e in setup] + [buy.wire])
    assert buy.hash not in {e.hash for e in report.accepted}
    assert report.pending == 1 and led.pending_count() == 1
    assert li.hash in led.wanted().hashes
    before = led.state_hash()
    report = led.ingest([li.wire])
    assert {e.hash for e in report.accepted} == {li.hash, buy.hash}
    assert led.pending_count() == 0 and not led.wanted().hashes
    assert led.state_hash() != before
    assert buy.hash in led.state.purchases


def test_pending_entries_are_not_stored(open_ledger: Any) -> None:
    led = open_ledger()
    sc, x = economy()
    sc.purchase(x["fan"], x["listing"])
    led.ingest([e.wire for e in sc.entries if e.hash != x["listing"].hash])
    assert led.pending_count() == 1
    assert led.store.count() == len(sc.entries) - 2


def test_pending_set_is_bounded(led: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_mod, "MAX_PENDING", 10)
    waiters = [
        create_entry(
            signer(f"w{i}"), 1, None, 1, "profile", PROFILE, deps=[hash32(b"missing %d" % i)]
        )
        for i in range(30)
    ]
    for w in waiters:
        led.ingest([w.wire])
    assert led.pending_count() == 10
    # the newest waiters are the ones kept
    kept = {hash32(b"missing %d" % i) for i in range(20, 30)}
    assert kept <= led.wanted().hashes


def test_wanted_forgets_dependencies_of_evicted_pending_entries(
    led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_mod, "MAX_PENDING", 10)
    for i in range(30):
        w = create_entry(
            signer(f"w{i}"), 1, None, 1, "profile", PROFILE, deps=[hash32(b"missing %d" % i)]
        )
        led.ingest([w.wire])
    assert len(led.wanted().hashes) == 10
