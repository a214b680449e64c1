"""Identity: one ed25519 seed per profile, encrypted at rest, exportable as a recovery phrase.

The seed file (``identity.json``) holds the seed sealed with XSalsa20-Poly1305 (secretbox) under a
key derived from the passphrase with argon2id. The recovery phrase is the BIP-39 English encoding
of the 32-byte seed (24 words with a checksum), so a mistyped word is caught.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnemonic import Mnemonic
from nacl import pwhash, secret, utils
from nacl.exceptions import CryptoError

from app.profile import Profile
from app.services.errors import UserError
from ledger.keys import Signer, peer_id

PASSPHRASE_ENV = "COOPTRACKS_PASSPHRASE"
FILE_VERSION = 1
MIN_PASSPHRASE = 8
# libsodium's "moderate" limits for new identities: 3 passes over 256 MiB, about half a second
# to a second on a desktop, paid once per unlock. (Identities made before used "interactive",
# 2 passes over 64 MiB; they still open and get the new limits when the passphrase changes.)
OPSLIMIT = pwhash.argon2id.OPSLIMIT_MODERATE
MEMLIMIT = pwhash.argon2id.MEMLIMIT_MODERATE
# What an identity file may ask of the machine: a file with limits outside these (a damaged or
# hostile copy) is refused before argon2id runs, so it cannot make unlocking take minutes or
# gigabytes, nor weaken the key below libsodium's minimum.
OPSLIMIT_RANGE = (pwhash.argon2id.OPSLIMIT_MIN, 4 * pwhash.argon2id.OPSLIMIT_SENSITIVE)
MEMLIMIT_RANGE = (pwhash.argon2id.MEMLIMIT_MIN, pwhash.argon2id.MEMLIMIT_SENSITIVE)

_WORDS = Mnemonic("english")


@dataclass(frozen=True)
class IdentityInfo:
    """What may be shown about an identity without unlocking it."""

    public_key: bytes
    peer_id: str
    name: str
    created_ms: int

    @property
    def public_key_hex(self) -> str:
        return self.public_key.hex()


def _derive(passphrase: str, salt: bytes, ops: int, mem: int) -> bytes:
    return pwhash.argon2id.kdf(
        secret.SecretBox.KEY_SIZE, passphrase.encode("utf-8"), salt, opslimit=ops, memlimit=mem
    )


def _kdf_params(doc: dict[str, Any], path: Path) -> tuple[bytes, int, int]:
    """The salt and argon2id limits of an identity file, refused unless within bounds."""
    kdf = doc.get("kdf")
    try:
        salt = bytes.fromhex(kdf["salt"])  # type: ignore[index]
        ops, mem = kdf["opslimit"], kdf["memlimit"]  # type: ignore[index]
    except (TypeError, KeyError, ValueError) as exc:
        raise UserError(
            f"the identity file {path} is damaged (its key derivation settings are missing)"
        ) from exc
    if (
        len(salt) != pwhash.argon2id.SALTBYTES
        or type(ops) is not int
        or type(mem) is not int
        or not OPSLIMIT_RANGE[0] <= ops <= OPSLIMIT_RANGE[1]
        or not MEMLIMIT_RANGE[0] <= mem <= MEMLIMIT_RANGE[1]
    ):
        raise UserError(
            f"the identity file {path} asks for key derivation settings outside "
            f"the accepted range (opslimit {ops!r}, memlimit {mem!r}); it is damaged "
            "or was not made by Cooptracks",
            hint="restore the identity from its recovery phrase",
        )
    return salt, ops, mem


def seed_to_phrase(seed: bytes) -> str:
    return str(_WORDS.to_mnemonic(seed))


def phrase_to_seed(phrase: str) -> bytes:
    """Parse a recovery phrase, with a message naming what is wrong if it is not valid."""
    words = phrase.lower().split()
    if len(words) != 24:
        raise UserError(f"a recovery phrase has 24 words; this one has {len(words)}")
    unknown = [w for w in words if w not in _WORDS.wordlist]
    if unknown:
        raise UserError(
            f"not a recovery-phrase word: {', '.join(unknown[:3])}", hint="check the spelling"
        )
    if not _WORDS.check(" ".join(words)):
        raise UserError(
            "the recovery phrase's checksum does not match",
            hint="a word is wrong or two are swapped",
        )
    return bytes(_WORDS.to_entropy(words))


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_PEER_PREFIX = b"\x00\x24\x08\x01\x12\x20"  # identity multihash of PublicKey{1, key}


def parse_public_key(text: str) -> bytes:
    """A public key given as 64 hex characters or as its peer ID (``12D3KooW…``): one person,
    two spellings. Raises UserError for anything else."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) == 32:
        return raw
    if text.startswith("12D3KooW"):
        number = 0
        for ch in text:
            digit = _B58.find(ch)
            if digit < 0:
                break
            number = number * 58 + digit
        else:
            data = number.to_bytes((number.bit_length() + 7) // 8, "big")
            if data.startswith(_ED25519_PEER_PREFIX[1:]) and len(data) == 37:
                key = data[5:]
                if peer_id(key) == text:
                    return key
    raise UserError(
        f"{text[:70]!r} is not a public key",
        hint="paste a peer ID (12D3KooW…) or a key of 64 hex characters",
    )


def read_passphrase_source(passphrase_file: Path | None) -> str | None:
    """The passphrase from ``--passphrase-file`` or ``$COOPTRACKS_PASSPHRASE``, if given."""
    if passphrase_file is not None:
        try:
            return passphrase_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise UserError(f"cannot read the passphrase file: {exc.strerror}") from exc
    return os.environ.get(PASSPHRASE_ENV)


class IdentityService:
    """Creates, unlocks, exports and restores the identity of one profile."""

    def __init__(self, profile: Profile, opslimit: int = OPSLIMIT, memlimit: int = MEMLIMIT):
        self.profile = profile
        self._ops = opslimit
        self._mem = memlimit

    def exists(self) -> bool:
        return self.profile.identity_file.exists()

    def info(self) -> IdentityInfo:
        doc = self._load()
        pk = bytes.fromhex(doc["public_key"])
        return IdentityInfo(pk, peer_id(pk), doc.get("name", ""), int(doc.get("created_ms", 0)))

    def create(self, passphrase: str, name: str = "") -> IdentityInfo:
        """Make a new random identity. Refuses to overwrite an existing one."""
        return self._save(Signer.generate().seed, passphrase, name)

    def restore(
        self, phrase: str, passphrase: str, name: str = "", overwrite: bool = False
    ) -> IdentityInfo:
        """Recreate the identity from its recovery phrase (the seed is the whole identity)."""
        seed = phrase_to_seed(phrase)
        if self.exists() and not overwrite:
            current = self.info()
            if current.public_key == Signer.from_seed(seed).public_key:
                return current
            raise UserError(
                "this profile already holds a different identity", hint="use another --profile"
            )
        info = self._save(seed, passphrase, name, overwrite=overwrite)
        # Writing before our old feed is back would fork it (two entries at one seq): the node
        # pulls its own feed from peers first and clears this marker (Core.feed_recovered).
        self.profile.restore_marker.write_text("pull own feed before writing\n", encoding="utf-8")
        return info

    def unlock(self, passphrase: str | None) -> Signer:
        """Decrypt the seed. A wrong passphrase gets a clear error and changes nothing."""
        if passphrase is None:
            raise UserError(
                "a passphrase is needed to unlock this identity",
                hint=f"set {PASSPHRASE_ENV} or pass --passphrase-file",
            )
        doc = self._load()
        salt, ops, mem = _kdf_params(doc, self.profile.identity_file)
        key = _derive(passphrase, salt, ops, mem)
        try:
            seed = secret.SecretBox(key).decrypt(bytes.fromhex(doc["sealed_seed"]))
        except CryptoError as exc:
            raise UserError("wrong passphrase") from exc
        signer = Signer.from_seed(seed)
        if signer.public_key.hex() != doc["public_key"]:
            raise UserError("the identity file is damaged (the key does not match)")
        return signer

    def export_phrase(self, passphrase: str | None) -> str:
        return seed_to_phrase(self.unlock(passphrase).seed)

    def change_passphrase(self, old: str | None, new: str) -> None:
        signer = self.unlock(old)
        self._save(signer.seed, new, self.info().name, overwrite=True)

    def rename(self, name: str) -> IdentityInfo:
        """Change the local copy of the display name (not secret: no passphrase needed). The
        public name is the ledger's ``profile`` entry (app/services/profiles.py)."""
        doc = self._load()
        doc["name"] = name
        self._write(doc)
        return self.info()

    # -- file ------------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        path = self.profile.identity_file
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise UserError(
                f"no identity in {self.profile.root}",
                hint="run `cooptracks identity new` or `identity restore`",
            ) from exc
        except (OSError, ValueError) as exc:
            raise UserError(f"the identity file {path} is unreadable: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("version") != FILE_VERSION:
            raise UserError(f"the identity file {path} has an unknown format")
        return doc

    def _save(
        self, seed: bytes, passphrase: str, name: str, overwrite: bool = False
    ) -> IdentityInfo:
        if len(passphrase) < MIN_PASSPHRASE:
            raise UserError(f"choose a passphrase of at least {MIN_PASSPHRASE} characters")
        if self.exists() and not overwrite:
            raise UserError(f"an identity already exists in {self.profile.root}")
        self.profile.ensure()
        salt = utils.random(pwhash.argon2id.SALTBYTES)
        sealed = secret.SecretBox(_derive(passphrase, salt, self._ops, self._mem)).encrypt(seed)
        signer = Signer.from_seed(seed)
        import time

        doc = {
            "version": FILE_VERSION,
            "public_key": signer.public_key.hex(),
            "peer_id": peer_id(signer.public_key),
            "name": name,
            "created_ms": int(time.time() * 1000),
            "kdf": {
                "alg": "argon2id13",
                "salt": salt.hex(),
                "opslimit": self._ops,
                "memlimit": self._mem,
            },
            "sealed_seed": bytes(sealed).hex(),
        }
        self._write(doc)
        return self.info()

    def _write(self, doc: dict[str, Any]) -> None:
        path = self.profile.identity_file
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
