"""The discovery part of docs/PROTOCOL.md ("Discovery and reachability") matches the code."""

from __future__ import annotations

import re
from pathlib import Path

from p2p.discovery import autonat, dht, mdns, relay
from p2p.wire import decode_message, frame

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"
ADDR = bytes.fromhex("047f000001060fb1")  # /ip4/127.0.0.1/tcp/4017

MESSAGES = {
    "autonat.DialBack([127.0.0.1:4017])": (autonat.DialBack((ADDR,)), autonat.REQUESTS),
    "autonat.DialBackReply(0, 127.0.0.1:4017)": (autonat.DialBackReply(0, ADDR), autonat.RESPONSES),
    "autonat.DialBackReply(1)": (autonat.DialBackReply(1, b""), autonat.RESPONSES),
}


def vectors() -> dict[str, str]:
    block = re.search(r"```vectors-autonat\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, "no dial-back vectors in the protocol document"
    return dict(line.rsplit(": ", 1) for line in block.group(1).strip().splitlines())


def test_dial_back_vectors_encode_and_decode():
    doc = vectors()
    assert set(doc) == set(MESSAGES)
    for name, (message, registry) in MESSAGES.items():
        assert frame(message.encode()).hex() == doc[name], name
        assert decode_message(message.encode(), registry) == message


def test_discovery_protocol_ids_and_limits_are_documented():
    text = DOC.read_text(encoding="utf-8")
    for pid in (autonat.PROTOCOL_ID, dht.DHT_PROTOCOL, relay.HOP, relay.STOP, mdns.SERVICE_TYPE):
        assert f"`{pid}`" in text, pid
    assert f"{dht.MAX_PROVIDER_KEYS:,} keys" in text
    assert f"{relay.RELAY_LIMITS.max_circuit_conns}" in text
    assert "a0 e4 02 20" in text and dht.MULTIHASH_BLAKE2B_256.hex() == "a0e40220"


def test_dcutr_vectors_and_limits_match_the_code():
    from p2p.discovery.dcutr import (
        CONNECT,
        MAX_ADDRS,
        MAX_ADDRS_READ,
        MAX_MESSAGE,
        PROTOCOL_ID,
        SYNC,
        HolePunch,
    )

    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```vectors-dcutr\n(.*?)```", text, re.S)
    assert block, "no DCUtR vectors in the protocol document"
    doc = dict(line.rsplit(": ", 1) for line in block.group(1).strip().splitlines())
    ours = {
        "dcutr.CONNECT([127.0.0.1:4017])": HolePunch(CONNECT, (ADDR,)),
        "dcutr.CONNECT([])": HolePunch(CONNECT),
        "dcutr.SYNC": HolePunch(SYNC),
    }
    assert set(doc) == set(ours)
    for name, message in ours.items():
        body = message.encode()
        assert frame(body).hex() == doc[name], name
        assert HolePunch.decode(body) == message
    assert f"`{PROTOCOL_ID}`" in text
    assert f"(at most\n{MAX_MESSAGE})" in text or f"at most {MAX_MESSAGE}" in text
    assert f"up to {MAX_ADDRS} of its own" in text and f"first {MAX_ADDRS_READ} entries" in text
