"""The checked-in test vectors (tests/vectors/ledger.json) match the code, and an independent
re-implementation of docs/PROTOCOL.md (cbor2 + hashlib + pynacl only, no ledger imports)
reproduces every byte of them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cbor2
from nacl import bindings as sodium
from nacl.signing import SigningKey, VerifyKey

from ledger.forks import decode_fork_proof
from tests.ledger.vectors import build_vectors, from_json

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "ledger.json"


def load() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


def b2(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def test_vectors_are_regenerated_identically_by_the_code() -> None:
    assert build_vectors() == load(), "regenerate with: python -m tests.ledger.vectors"


def test_entries_follow_the_documented_byte_layout() -> None:
    prev_by_author: dict[str, str] = {}
    for v in load()["entries"]:
        seed = bytes.fromhex(v["seed"])
        author = bytes(SigningKey(seed).verify_key)
        assert author.hex() == v["author"]
        body = from_json(v["body"])
        body_bytes = cbor2.dumps(body, canonical=True)
        assert b2(body_bytes).hex() == v["body_hash"]
        header = [
            1,
            author,
            v["seq"],
            None if v["prev"] is None else bytes.fromhex(v["prev"]),
            v["timestamp"],
            [bytes.fromhex(d) for d in v["deps"]],
            v["kind"],
            b2(body_bytes),
        ]
        header_bytes = cbor2.dumps(header, canonical=True)
        signed = b"cooptracks.entry.v1\x00" + header_bytes
        assert signed.hex() == v["signed_bytes"]
        sig = bytes.fromhex(v["signature"])
        VerifyKey(author).verify(signed, sig)
        assert SigningKey(seed).sign(signed).signature == sig  # Ed25519 is deterministic
        assert b2(signed).hex() == v["hash"]
        assert (b"\x83" + header_bytes + body_bytes + b"\x58\x40" + sig).hex() == v["wire"]
        assert v["prev"] == prev_by_author.get(v["author"])
        prev_by_author[v["author"]] = v["hash"]


def test_state_hash_vector(tmp_path: Path) -> None:
    from ledger.ledger import Ledger

    data = load()
    led = Ledger.open(tmp_path / "v.sqlite", verify_threads=1)
    try:
        led.ingest([bytes.fromhex(v["wire"]) for v in reversed(data["entries"])])
        assert led.state_hash().hex() == data["state_hash"]["hash"]
    finally:
        led.close()


def test_fork_proof_vector() -> None:
    fp = load()["fork_proof"]
    proof = bytes.fromhex(fp["proof"])
    decoded = decode_fork_proof(proof)
    assert (decoded.author.hex(), decoded.seq) == (fp["author"], fp["seq"])
    pairs = cbor2.loads(proof)
    assert cbor2.dumps(pairs, canonical=True) == proof
    hashes = []
    for header, sig in pairs:
        signed = b"cooptracks.entry.v1\x00" + cbor2.dumps(header, canonical=True)
        VerifyKey(header[1]).verify(signed, sig)
        hashes.append(b2(signed).hex())
    assert hashes == sorted(hashes) == [fp["hash_a"], fp["hash_b"]]


def test_content_vector() -> None:
    c = load()["content"]
    key = bytes.fromhex(c["key"])
    plain = bytes(i % 251 for i in range(2500))
    chunks = [bytes.fromhex(x) for x in c["chunks"]]
    out = b""
    for i, chunk in enumerate(chunks):
        assert b2(chunk).hex() == c["chunk_hashes"][i]
        last = i == len(chunks) - 1
        nonce = bytes(16) + i.to_bytes(8, "big")
        aad = b"cooptracks.chunk.v1\x00" + i.to_bytes(8, "big") + (b"\x01" if last else b"\x00")
        out += sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(chunk, aad, nonce, key)
    assert out == plain
    manifest = {
        "v": 1,
        "size": 2500,
        "chunk_size": 1024,
        "chunks": [bytes.fromhex(h) for h in c["chunk_hashes"]],
        "encrypted": True,
        "mime": "audio/ogg",
    }
    mbytes = cbor2.dumps(manifest, canonical=True)
    assert mbytes.hex() == c["manifest"]
    assert b2(b"cooptracks.manifest.v1\x00" + mbytes).hex() == c["content_id"]
    preview = {
        "v": 1,
        "size": 13,
        "chunk_size": 1024,
        "chunks": [b2(b"preview bytes")],
        "encrypted": False,
        "mime": "audio/ogg",
    }
    pbytes = cbor2.dumps(preview, canonical=True)
    assert pbytes.hex() == c["preview_manifest"]
    assert b2(b"cooptracks.manifest.v1\x00" + pbytes).hex() == c["preview_content_id"]


def test_the_refused_purchase_vector_signs_but_cannot_receive_a_sealed_key(tmp_path: Path) -> None:
    from ledger.ledger import Ledger

    v = load()["refused_purchase"]
    wire = bytes.fromhex(v["wire"])
    header, _body, sig = cbor2.loads(wire)
    author = bytes.fromhex(v["author"])
    assert header[1] == author
    # Independently of the ledger: the signature verifies under the author key (libsodium's
    # verify accepts a torsion component) ...
    VerifyKey(author).verify(b"cooptracks.entry.v1\x00" + cbor2.dumps(header, canonical=True), sig)
    # ... but the key does not convert to X25519, so nothing can be sealed to it.
    try:
        sodium.crypto_sign_ed25519_pk_to_curve25519(author)
        raise AssertionError("the vector key converts to X25519")
    except RuntimeError:
        pass
    led = Ledger.open(tmp_path / "v.sqlite", verify_threads=1)
    try:
        led.ingest([bytes.fromhex(e["wire"]) for e in load()["entries"]])
        before = led.state_hash()
        assert [r.reason for r in led.ingest([wire]).rejected] == [v["reason"]]
        assert led.state_hash() == before
    finally:
        led.close()
