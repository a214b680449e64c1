"""An Ed25519 key that signs but cannot receive a sealed box (a vector and hostile tests)."""

from __future__ import annotations

from typing import Any

from nacl import bindings as sodium

from ledger.entry import Entry, create_entry
from ledger.keys import verify_fast

_P = 2**255 - 19


class TwistedSigner:
    """Signs with a real seed under its public key plus the order-2 point (0, -1).

    libsodium verifies such a signature whenever the challenge scalar is even, but cannot
    convert the key to X25519: nothing can be sealed to it.
    """

    def __init__(self, seed: bytes) -> None:
        from nacl.signing import SigningKey

        self.seed = seed
        pk = int.from_bytes(bytes(SigningKey(seed).verify_key), "little")
        y, sign = pk & ((1 << 255) - 1), pk >> 255
        self.public_key = ((_P - y) % _P | ((sign ^ 1) << 255)).to_bytes(32, "little")

    def sign(self, message: bytes) -> bytes:
        return sodium.crypto_sign(message, self.seed + self.public_key)[:64]


def twisted_entry(
    signer: TwistedSigner,
    seq: int,
    prev: bytes | None,
    timestamp: int,
    kind: str,
    body: dict[str, Any],
    deps: list[bytes],
) -> Entry:
    """An entry by ``signer`` whose signature verifies (the timestamp is nudged until it does)."""
    for ts in range(timestamp, timestamp + 256):
        entry = create_entry(signer, seq, prev, ts, kind, body, deps)  # type: ignore[arg-type]
        if verify_fast(entry.author, entry.signed_bytes, entry.signature):
            return entry
    raise AssertionError("no verifying signature found")
