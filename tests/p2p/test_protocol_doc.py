"""The test vectors in docs/PROTOCOL.md ("Network") are what the code encodes and decodes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from p2p import gossip
from p2p.content import messages as content
from p2p.sync import messages as sync
from p2p.wire import decode_message, frame

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"
A, H, C = b"\x11" * 32, b"\x22" * 32, b"\x33" * 32

MESSAGES = {
    "sync.GetFrontier": (sync.GetFrontier(), sync.REQUESTS),
    "sync.GetFeed(A, 1, 4096)": (sync.GetFeed(A, 1, 4096), sync.REQUESTS),
    "sync.GetEntries([H])": (sync.GetEntries((H,)), sync.REQUESTS),
    "sync.GetForkProofs": (sync.GetForkProofs(), sync.REQUESTS),
    "sync.Frontier([[A, 7, H]])": (sync.Frontier(((A, 7, H),)), sync.RESPONSES),
    "sync.Entries([010203])": (sync.Entries((b"\x01\x02\x03",)), sync.RESPONSES),
    "sync.ForkProofs([aa])": (sync.ForkProofs((b"\xaa",)), sync.RESPONSES),
    "content.GetManifest(C)": (content.GetManifest(C), content.REQUESTS),
    "content.GetChunk(H)": (content.GetChunk(H), content.REQUESTS),
    "content.Has([C])": (content.Has((C,)), content.REQUESTS),
    "content.ManifestReply(a0)": (content.ManifestReply(b"\xa0"), content.RESPONSES),
    "content.ChunkReply(0001)": (content.ChunkReply(b"\x00\x01"), content.RESPONSES),
    "content.HasReply([2])": (content.HasReply((2,)), content.RESPONSES),
    "content.NotFound": (content.NotFound(), content.RESPONSES),
    "content.Busy(200)": (content.Busy(200), content.RESPONSES),
    "gossip.Announce([01])": (gossip.Announce((b"\x01",)), gossip.MESSAGES),
    "gossip.ForkAnnounce([02])": (gossip.ForkAnnounce((b"\x02",)), gossip.MESSAGES),
    "gossip.Provide([C])": (gossip.Provide((C,)), gossip.MESSAGES),
    "gossip.Heads([[A, 7, H]])": (gossip.Heads(((A, 7, H),)), gossip.MESSAGES),
}


def doc_vectors() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```vectors\n(.*?)```", text, re.S)
    assert block, "no vectors block in the protocol document"
    out = {}
    for line in block.group(1).strip().splitlines():
        name, _, hexed = line.rpartition(": ")
        out[name] = hexed.strip()
    return out


def test_every_message_class_has_a_vector():
    assert set(doc_vectors()) == set(MESSAGES)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_vector_encodes_and_decodes(name):
    message, registry = MESSAGES[name]
    wire = bytes.fromhex(doc_vectors()[name])
    assert frame(message.encode()) == wire
    assert decode_message(message.encode(), registry) == message


def test_protocol_ids_are_documented():
    text = DOC.read_text(encoding="utf-8")
    for pid in (sync.PROTOCOL_ID, content.PROTOCOL_ID, gossip.TOPIC):
        assert f"`{pid}`" in text
