"""Ed25519 keys: one 32-byte seed per identity signs entries and is the libp2p peer key."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from nacl import bindings as sodium
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from ledger.errors import SignatureError

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


@dataclass(frozen=True)
class Signer:
    """Holds a private seed and signs with it. Never serialise this object."""

    seed: bytes = field(repr=False)
    _key: SigningKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_SIZE:
            raise ValueError("an identity seed is 32 bytes")
        object.__setattr__(self, "_key", SigningKey(self.seed))

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        return cls(bytes(seed))

    @classmethod
    def generate(cls) -> Signer:
        return cls(bytes(SigningKey.generate()))

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verify_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached signature of ``message``."""
        return self._key.sign(message).signature

    def open_sealed(self, sealed: bytes) -> bytes:
        """Open a box sealed to this identity (content keys in grants and delegations)."""
        box = SealedBox(self._key.to_curve25519_private_key())
        try:
            return box.decrypt(sealed)
        except CryptoError as exc:
            raise SignatureError("sealed data was not for this identity or was altered") from exc


def verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise SignatureError unless ``signature`` is ``public_key``'s signature of ``message``."""
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError, CryptoError) as exc:
        raise SignatureError("signature does not verify") from exc


def verify_fast(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verification without object allocation, for the ingest hot path. Releases the GIL."""
    try:
        sodium.crypto_sign_open(signature + message, public_key)
        return True
    except (BadSignatureError, CryptoError, ValueError):
        return False


@functools.lru_cache(maxsize=4096)  # replay checks every purchase; buyers repeat
def can_receive_sealed(public_key: bytes) -> bool:
    """Whether a sealed box can be made for ``public_key``: it must convert to X25519.

    libsodium's signature check accepts an Ed25519 key with a small-order (torsion) component,
    but refuses to convert such a key (or a small-order or malformed one) to X25519, so nothing
    can be sealed to it. The ledger refuses purchases by such keys (docs/PROTOCOL.md, purchase).
    """
    if type(public_key) is not bytes or len(public_key) != PUBLIC_KEY_SIZE:
        return False
    try:
        sodium.crypto_sign_ed25519_pk_to_curve25519(public_key)
    except (CryptoError, RuntimeError, ValueError, TypeError):
        return False
    return True


def seal_to(public_key: bytes, data: bytes) -> bytes:
    """Seal ``data`` so only the holder of ``public_key``'s seed can read it. Raises
    SignatureError for a key that cannot receive a sealed box (see ``can_receive_sealed``)."""
    try:
        curve = VerifyKey(public_key).to_curve25519_public_key()
    except (CryptoError, RuntimeError, ValueError, TypeError) as exc:
        raise SignatureError(
            "that key cannot receive a sealed box (not a prime-order Ed25519 point)"
        ) from exc
    return SealedBox(PublicKey(bytes(curve))).encrypt(data)


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _base58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def peer_id(public_key: bytes) -> str:
    """The libp2p peer ID of an ed25519 key, so a peer's ID names the feed it signs.

    libp2p encodes the key as protobuf ``PublicKey{Type: Ed25519 (1), Data: key}`` and, being at
    most 42 bytes, wraps it in an identity multihash (code 0x00, length 36), then base58btc.
    """
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError("an ed25519 public key is 32 bytes")
    protobuf = b"\x08\x01\x12\x20" + public_key
    return _base58(b"\x00" + bytes([len(protobuf)]) + protobuf)
