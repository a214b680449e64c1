"""Canonical CBOR and hashing.

All signed and hashed structures use the canonical CBOR of RFC 7049 section 3.9 as produced by
cbor2 with ``canonical=True``: definite lengths, shortest integer and length forms, map keys sorted
by the length of their encoding and then bytewise. Only unsigned and negative integers (within
64 bits), byte strings, text strings, arrays, maps with text keys, booleans and null are allowed:
no floats, no tags. A decoder rejects any input whose re-encoding differs from the input bytes,
so there is exactly one byte string for each value.
"""

from __future__ import annotations

import hashlib
from typing import Any

import cbor2

from ledger.errors import DecodeError

INT_MAX = (1 << 63) - 1


def encode(value: Any) -> bytes:
    """Canonical CBOR bytes of ``value``."""
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes) -> Any:
    """Decode CBOR, raising DecodeError (never another exception type) for garbage."""
    try:
        return cbor2.loads(data)
    except Exception as exc:  # cbor2 raises a handful of types for malformed input
        raise DecodeError(f"not valid CBOR: {exc}") from exc


def decode_canonical(data: bytes) -> Any:
    """Decode CBOR and require that it is the canonical encoding of the decoded value."""
    value = decode(data)
    if encode(value) != data:
        raise DecodeError("not canonically encoded")
    return value


def hash32(data: bytes) -> bytes:
    """BLAKE2b with a 32-byte digest: the hash used everywhere in the ledger."""
    return hashlib.blake2b(data, digest_size=32).digest()
