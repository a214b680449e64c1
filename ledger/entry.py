"""Ledger entries: encoding, signing, hashing and the first validation levels.

Wire form (canonical CBOR, see ledger/encoding.py)::

    entry  = [header, body, signature]
    header = [version, author, seq, prev, timestamp, deps, kind, body_hash]

* ``version`` 1; ``author`` the 32-byte ed25519 public key; ``seq`` 1, 2, 3, ... per author;
  ``prev`` the hash of the author's entry ``seq - 1`` (null when ``seq`` is 1); ``timestamp``
  milliseconds since the Unix epoch as claimed by the author, never lower than ``prev``'s;
  ``deps`` strictly ascending 32-byte hashes of other authors' entries this one relies on;
  ``kind`` a name from the closed registry in ledger/kinds.py; ``body_hash`` the BLAKE2b-256 of
  the canonical body.
* The signature covers ``SIGN_DOMAIN || canonical(header)`` and the entry hash is the BLAKE2b-256
  of the same bytes, so a fork proof needs only two headers and their signatures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.encoding import INT_MAX, decode, encode, hash32
from ledger.errors import ChainError, DecodeError, SchemaError, SignatureError
from ledger.keys import Signer, verify_fast

VERSION = 1
SIGN_DOMAIN = b"cooptracks.entry.v1\x00"
MAX_ENTRY_BYTES = 64 * 1024
MAX_DEPS = 64
MAX_KIND_LEN = 32
_SIG_PREFIX = b"\x58\x40"  # CBOR byte string of length 64


@dataclass(frozen=True, slots=True)
class Entry:
    """One decoded, structurally valid entry. Whether its signature verifies is checked apart."""

    author: bytes
    seq: int
    prev: bytes | None
    timestamp: int
    deps: tuple[bytes, ...]
    kind: str
    body: Mapping[str, Any] = field(repr=False)
    body_hash: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    signed_bytes: bytes = field(repr=False)  # SIGN_DOMAIN || canonical(header)
    hash: bytes
    wire: bytes = field(repr=False)

    def header(self) -> list[Any]:
        return [VERSION, self.author, self.seq, self.prev, self.timestamp, list(self.deps),
                self.kind, self.body_hash]

    def verify_signature(self) -> None:
        if not verify_fast(self.author, self.signed_bytes, self.signature):
            raise SignatureError("signature does not verify")

    def short(self) -> str:
        return f"{self.kind} {self.author.hex()[:8]}#{self.seq} {self.hash.hex()[:12]}"


def _is_uint(value: Any) -> bool:
    return type(value) is int and 0 <= value <= INT_MAX


def _is_hash(value: Any) -> bool:
    return type(value) is bytes and len(value) == 32


def decode_entry(wire: bytes) -> Entry:
    """Levels 1 and 2 (envelope): size, CBOR, canonical form, header shape. No crypto."""
    if not isinstance(wire, bytes | bytearray):
        raise DecodeError("an entry must be bytes")
    wire = bytes(wire)
    if len(wire) > MAX_ENTRY_BYTES:
        raise DecodeError(f"entry is {len(wire)} bytes, over the {MAX_ENTRY_BYTES}-byte limit")
    obj = decode(wire)
    if not (type(obj) is list and len(obj) == 3):
        raise DecodeError("an entry is a CBOR array of [header, body, signature]")
    header, body, signature = obj
    if not (type(header) is list and len(header) == 8):
        raise SchemaError("the header is an array of 8 fields")
    if type(body) is not dict:
        raise SchemaError("the body must be a map")
    if not (type(signature) is bytes and len(signature) == 64):
        raise SchemaError("the signature must be 64 bytes")
    version, author, seq, prev, timestamp, deps, kind, body_hash = header
    if version != VERSION or type(version) is not int:
        raise SchemaError(f"unsupported entry version {version!r}")
    if not _is_hash(author):
        raise SchemaError("author must be a 32-byte public key")
    if not (_is_uint(seq) and seq >= 1):
        raise SchemaError("seq must be an integer >= 1")
    if seq == 1:
        if prev is not None:
            raise SchemaError("the first entry of a feed has prev = null")
    elif not _is_hash(prev):
        raise SchemaError("prev must be a 32-byte hash")
    if not _is_uint(timestamp):
        raise SchemaError("timestamp must be a non-negative integer")
    if type(deps) is not list or len(deps) > MAX_DEPS:
        raise SchemaError(f"deps must be a list of at most {MAX_DEPS} hashes")
    for i, dep in enumerate(deps):
        if not _is_hash(dep):
            raise SchemaError("every dependency is a 32-byte hash")
        if i and deps[i - 1] >= dep:
            raise SchemaError("deps must be strictly ascending")
    if type(kind) is not str or not 0 < len(kind) <= MAX_KIND_LEN:
        raise SchemaError("kind must be a short text")
    if not _is_hash(body_hash):
        raise SchemaError("body_hash must be 32 bytes")
    header_bytes = encode(header)
    body_bytes = encode(body)
    # One canonical form: the wire must be exactly the re-encoding of what it decoded to.
    if wire != b"\x83" + header_bytes + body_bytes + _SIG_PREFIX + signature:
        raise DecodeError("entry is not canonically encoded")
    if hash32(body_bytes) != body_hash:
        raise SchemaError("body does not match body_hash")
    signed = SIGN_DOMAIN + header_bytes
    return Entry(author, seq, prev, timestamp, tuple(deps), kind, body, body_hash, signature,
                 signed, hash32(signed), wire)


def create_entry(
    signer: Signer,
    seq: int,
    prev: bytes | None,
    timestamp: int,
    kind: str,
    body: Mapping[str, Any],
    deps: tuple[bytes, ...] | list[bytes] = (),
) -> Entry:
    """Sign a new entry. Dependencies are sorted and deduplicated here."""
    body_bytes = encode(dict(body))
    sorted_deps = sorted(set(deps))
    header = [VERSION, signer.public_key, seq, prev, timestamp, sorted_deps, kind,
              hash32(body_bytes)]
    header_bytes = encode(header)
    signed = SIGN_DOMAIN + header_bytes
    signature = signer.sign(signed)
    wire = b"\x83" + header_bytes + body_bytes + _SIG_PREFIX + signature
    return decode_entry(wire)


def check_extends(entry: Entry, prev: Entry | None) -> None:
    """Level 4: ``entry`` directly follows ``prev`` in its author's feed."""
    if entry.seq == 1:
        return
    if prev is None or prev.author != entry.author or prev.seq != entry.seq - 1:
        raise ChainError("previous entry missing")
    if entry.prev != prev.hash:
        raise ChainError("prev does not match the author's entry before it")
    if entry.timestamp < prev.timestamp:
        raise ChainError("timestamp goes backwards in the feed")
