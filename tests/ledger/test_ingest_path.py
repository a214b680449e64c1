"""The fast ingest path keeps the ledger's guarantees.

* The canonical-form check of a body (plain re-encoding plus a key-order walk) accepts exactly
  the bytes that canonical re-encoding accepts, for arbitrary CBOR bodies.
* A storage failure in the middle of a batch (rows are written chunk by chunk into the batch's
  transaction) leaves nothing behind and the ledger usable.
* The process-wide thread switch interval is changed only when the caller opted in, and is
  restored afterwards; the cyclic collector is paused only while a batch is ingested.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.encoding import encode, hash32
from ledger.entry import SIGN_DOMAIN, decode_entry
from ledger.errors import DecodeError, StorageError
from ledger.ledger import FAST_SWITCH_INTERVAL, Ledger
from tests.ledger.factory import Scenario, signer

ALICE = signer("alice")

LEAVES = st.one_of(
    st.integers(-(2**64), 2**64),
    st.text(max_size=6),
    st.binary(max_size=6),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.dictionaries(st.text(max_size=5), VALUES, max_size=5)


def _entry_with_body(body_bytes: bytes) -> bytes:
    header = encode(
        [1, ALICE.public_key, 1, None, 1_700_000_000_000, [], "profile", hash32(body_bytes)]
    )
    return b"\x83" + header + body_bytes + b"\x58\x40" + ALICE.sign(SIGN_DOMAIN + header)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, canonical=st.booleans())
def test_body_check_agrees_with_canonical_re_encoding(
    body: dict[str, Any], canonical: bool
) -> None:
    # A plain encoding keeps the drawn key order and writes floats as 64 bits: often not canonical.
    body_bytes = cbor2.dumps(body, canonical=canonical)
    wire = _entry_with_body(body_bytes)
    is_canonical = encode(cbor2.loads(body_bytes)) == body_bytes
    if is_canonical:
        assert decode_entry(wire).wire == wire
    else:
        with pytest.raises(DecodeError, match="canonical"):
            decode_entry(wire)


def test_reordered_nested_map_keys_are_not_canonical() -> None:
    inner_plain = b"\xa2" + encode("bb") + encode(1) + encode("a") + encode(2)  # wrong order
    body_bytes = b"\xa1" + encode("x") + b"\x81" + inner_plain
    assert cbor2.loads(body_bytes) == {"x": [{"a": 2, "bb": 1}]}
    with pytest.raises(DecodeError, match="canonical"):
        decode_entry(_entry_with_body(body_bytes))


def _history(n: int) -> list[bytes]:
    sc = Scenario()
    gw, fan = sc.signer("gw"), sc.signer("fan")
    crd = sc.issue(gw, "CRD", max_supply=10**9)
    sc.mint(gw, crd, 10**6)
    for i in range(n):
        sc.receive(fan, sc.send(gw, crd, fan, 1 + i, memo="x" * 200))
    return sc.wires()


@pytest.mark.parametrize("processes", [0, 1])
def test_a_full_disk_in_the_middle_of_a_batch_changes_nothing(
    tmp_path: Any, processes: int
) -> None:
    """With verifier processes, rows are written chunk by chunk while later chunks are checked;
    without, after the last chunk. Either way a write that fails mid-batch leaves nothing."""
    path = tmp_path / "ledger.sqlite"
    led = Ledger.open(path, verify_threads=1, verify_processes=processes)
    wires = _history(300)  # 602 entries: many verification chunks, several inserts
    led.ingest(wires[:2])
    before = (led.state_hash(), led.count(), led.store.count())
    pages = led.store.conn.execute("PRAGMA page_count").fetchone()[0]
    led.store.conn.execute(f"PRAGMA max_page_count={pages + 3}")  # room for a chunk or so
    with pytest.raises(StorageError, match="nothing was changed"):
        led.ingest(wires[2:])
    assert led.verify_stats.last_mode == ("processes" if processes else "inline")
    assert (led.state_hash(), led.count(), led.store.count()) == before
    assert led.store.integrity_check() == "ok"
    assert not led.store.conn.in_transaction
    led.store.conn.execute("PRAGMA max_page_count=1073741823")
    report = led.ingest(wires[2:])
    assert len(report.accepted) == len(wires) - 2 and not report.rejected
    led.close()
    reopened = Ledger.open(path, verify_threads=1, verify_processes=0)
    try:
        assert reopened.count() == len(wires) and reopened.state_hash() == led.state_hash()
        assert list(reopened.store.iter_wires()) == wires
    finally:
        reopened.close()


@pytest.mark.parametrize("caller_disabled", [False, True])
def test_the_collector_pauses_only_while_a_batch_is_ingested(
    tmp_path: Any, caller_disabled: bool
) -> None:
    led = Ledger.open(tmp_path / "gc.sqlite", verify_threads=1)
    during: list[bool] = []
    led.add_listener(lambda entries: during.append(gc.isenabled()))
    if caller_disabled:
        gc.disable()
    try:
        led.ingest(_history(3))
        after = gc.isenabled()
    finally:
        gc.enable()
        led.close()
    assert during == [False]
    assert after is not caller_disabled  # resumed, unless the caller had paused it itself


@pytest.mark.parametrize("opt_in", [False, True])
def test_switch_interval_changes_only_when_asked(tmp_path: Any, opt_in: bool) -> None:
    original = sys.getswitchinterval()
    led = Ledger.open(
        tmp_path / f"s{opt_in}.sqlite",
        verify_threads=2,
        switch_interval=FAST_SWITCH_INTERVAL if opt_in else None,
    )
    seen: list[float] = []
    led.add_listener(lambda entries: seen.append(sys.getswitchinterval()))
    try:
        led.ingest(_history(3))
    finally:
        led.close()
    assert seen == [pytest.approx(FAST_SWITCH_INTERVAL if opt_in else original)]
    assert sys.getswitchinterval() == original
