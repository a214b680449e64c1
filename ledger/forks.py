"""Fork proofs: two signed headers by one author with the same sequence number.

A proof is self-contained: anyone can check it with the author's public key alone, without the
bodies. Encoding: canonical CBOR ``[[header_a, signature_a], [header_b, signature_b]]`` with the
two ordered by entry hash (see docs/PROTOCOL.md, "Fork proofs").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.encoding import decode_canonical, encode, hash32
from ledger.entry import SIGN_DOMAIN, VERSION, Entry
from ledger.errors import DecodeError, LedgerError
from ledger.keys import verify_fast

MAX_PROOF_BYTES = 8 * 1024


@dataclass(frozen=True)
class ForkProof:
    author: bytes
    seq: int
    hash_a: bytes
    hash_b: bytes
    encoded: bytes

    def encode(self) -> bytes:
        return self.encoded


def make_fork_proof(a: Entry, b: Entry) -> ForkProof:
    """Build the proof from two entries with the same author and seq and different hashes."""
    if a.author != b.author or a.seq != b.seq or a.hash == b.hash:
        raise ValueError("not a fork")
    first, second = sorted((a, b), key=lambda e: e.hash)
    data = encode([[first.header(), first.signature], [second.header(), second.signature]])
    return ForkProof(a.author, a.seq, first.hash, second.hash, data)


def decode_fork_proof(data: bytes) -> ForkProof:
    """Decode and fully verify a fork proof, raising LedgerError with the reason otherwise."""
    if len(data) > MAX_PROOF_BYTES:
        raise DecodeError("fork proof too large")
    obj: Any = decode_canonical(data)
    if not (type(obj) is list and len(obj) == 2):
        raise DecodeError("a fork proof is two [header, signature] pairs")
    parsed = []
    for pair in obj:
        if not (
            type(pair) is list
            and len(pair) == 2
            and type(pair[0]) is list
            and len(pair[0]) == 8
            and type(pair[1]) is bytes
            and len(pair[1]) == 64
        ):
            raise DecodeError("a fork proof is two [header, signature] pairs")
        header, signature = pair
        if header[0] != VERSION or type(header[1]) is not bytes or type(header[2]) is not int:
            raise DecodeError("bad header in fork proof")
        signed = SIGN_DOMAIN + encode(header)
        if not verify_fast(header[1], signed, signature):
            raise LedgerError("a signature in the fork proof does not verify")
        parsed.append((header[1], header[2], hash32(signed)))
    (author_a, seq_a, hash_a), (author_b, seq_b, hash_b) = parsed
    if author_a != author_b or seq_a != seq_b:
        raise LedgerError("the two headers are not by one author at one seq")
    if not hash_a < hash_b:
        raise LedgerError("the two headers must differ and be ordered by hash")
    return ForkProof(author_a, seq_a, hash_a, hash_b, data)
