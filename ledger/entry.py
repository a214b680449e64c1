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

import cbor2

from ledger.encoding import INT_MAX, decode, encode, hash32
from ledger.errors import ChainError, DecodeError, SchemaError, SignatureError
from ledger.keys import Signer, verify_fast

VERSION = 1
SIGN_DOMAIN = b"cooptracks.entry.v1\x00"
MAX_ENTRY_BYTES = 64 * 1024
MAX_DEPS = 64
MAX_KIND_LEN = 32
_SIG_PREFIX = b"\x58\x40"  # CBOR byte string of length 64
_dumps = cbor2.dumps  # plain (not canonical) CBOR; see decode_entry


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
        return [
            VERSION,
            self.author,
            self.seq,
            self.prev,
            self.timestamp,
            list(self.deps),
            self.kind,
            self.body_hash,
        ]

    def verify_signature(self) -> None:
        if not verify_fast(self.author, self.signed_bytes, self.signature):
            raise SignatureError("signature does not verify")

    def short(self) -> str:
        return f"{self.kind} {self.author.hex()[:8]}#{self.seq} {self.hash.hex()[:12]}"


def _is_uint(value: Any) -> bool:
    return type(value) is int and 0 <= value <= INT_MAX


def _is_hash(value: Any) -> bool:
    return type(value) is bytes and len(value) == 32


_CANONICAL_KEYS: set[tuple[str, ...]] = set()  # key orders already found canonical
_MAX_REMEMBERED_KEY_ORDERS = 4096


# Leaf types whose plain and canonical encodings are the same bytes (floats and sets are not).
_PLAIN_LEAVES = frozenset({int, str, bytes, bool, type(None)})


def _keys_in_canonical_order(value: Any) -> bool:
    """Whether ``value`` holds only maps with text keys in canonical order (length first, then
    bytewise, RFC 7049 section 3.9), lists and plain leaves. False for anything else (floats,
    tags, other keys), which the caller then checks by canonical re-encoding."""
    kind = type(value)
    if kind is dict:
        keys = tuple(value)
        if keys not in _CANONICAL_KEYS:
            if any(type(k) is not str for k in keys):
                return False
            order = [(len(k.encode()), k) for k in keys]  # UTF-8 order is code point order
            if order != sorted(order):
                return False
            if len(_CANONICAL_KEYS) < _MAX_REMEMBERED_KEY_ORDERS:
                _CANONICAL_KEYS.add(keys)
        items: Any = value.values()
    elif kind is list:
        items = value
    else:
        return kind in _PLAIN_LEAVES
    for item in items:
        kind = type(item)
        if kind not in _PLAIN_LEAVES and not _keys_in_canonical_order(item):
            return False
    return True


def _is_canonical_body(body: Any, body_bytes: bytes) -> bool:
    """``body_bytes == encode(body)``, without the cost of canonical encoding in the usual case."""
    try:
        if _dumps(body) == body_bytes and _keys_in_canonical_order(body):
            # Plain and canonical encodings differ only in map key order for the types a plain
            # re-encoding reproduces byte for byte; anything unusual takes the exact path.
            return True
        return encode(body) == body_bytes
    except Exception:  # a decoded value the encoder refuses (a naive datetime, ...)
        return False


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
    # One canonical form: the wire must be exactly the re-encoding of what it decoded to. The
    # header holds no maps, so its plain encoding is the canonical one. The body is compared with
    # its plain encoding (shortest integers and lengths, definite lengths, no repeated keys) and
    # its maps' key order is checked apart, which is what canonical encoding adds and costs.
    header_bytes = _dumps(header)
    end = len(wire) - 66
    if (
        wire[0] != 0x83
        or wire[1 : 1 + len(header_bytes)] != header_bytes
        or wire[end : end + 2] != _SIG_PREFIX
        or wire[end + 2 :] != signature
    ):
        raise DecodeError("entry is not canonically encoded")
    body_bytes = wire[1 + len(header_bytes) : end]
    if not _is_canonical_body(body, body_bytes):
        raise DecodeError("entry is not canonically encoded")
    if hash32(body_bytes) != body_hash:
        raise SchemaError("body does not match body_hash")
    signed = SIGN_DOMAIN + header_bytes
    return Entry(
        author,
        seq,
        prev,
        timestamp,
        tuple(deps),
        kind,
        body,
        body_hash,
        signature,
        signed,
        hash32(signed),
        wire,
    )


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
    header = [
        VERSION,
        signer.public_key,
        seq,
        prev,
        timestamp,
        sorted_deps,
        kind,
        hash32(body_bytes),
    ]
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
