"""Identity: an encrypted seed, a recovery phrase, and the libp2p peer ID from the same seed."""

from __future__ import annotations

import json

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from nacl import pwhash

from app.profile import Profile
from app.services.errors import UserError
from app.services.identity import IdentityService, phrase_to_seed, seed_to_phrase
from ledger.keys import Signer, peer_id

FAST = dict(opslimit=pwhash.argon2id.OPSLIMIT_MIN, memlimit=pwhash.argon2id.MEMLIMIT_MIN)


@pytest.fixture
def service(tmp_path) -> IdentityService:
    return IdentityService(Profile(tmp_path / "me"), **FAST)


def test_create_then_unlock_gives_the_same_key(service):
    info = service.create("correct horse", name="Ann")
    signer = service.unlock("correct horse")
    assert signer.public_key == info.public_key
    assert service.info().name == "Ann"


def test_seed_is_not_stored_in_the_clear(service):
    service.create("correct horse")
    seed = service.unlock("correct horse").seed
    raw = service.profile.identity_file.read_bytes()
    assert seed.hex().encode() not in raw and seed not in raw
    assert json.loads(raw)["kdf"]["alg"] == "argon2id13"
    assert service.profile.identity_file.stat().st_mode & 0o077 == 0


def test_wrong_passphrase_is_a_clear_error_and_changes_nothing(service):
    service.create("correct horse")
    before = service.profile.identity_file.read_bytes()
    with pytest.raises(UserError, match="wrong passphrase"):
        service.unlock("wrong horse")
    assert service.profile.identity_file.read_bytes() == before


def test_missing_passphrase_says_how_to_give_one(service):
    service.create("correct horse")
    with pytest.raises(UserError, match="COOPTRACKS_PASSPHRASE"):
        service.unlock(None)


def test_short_passphrase_refused(service):
    with pytest.raises(UserError, match="at least 8"):
        service.create("short")
    assert not service.exists()


def test_recovery_phrase_round_trip_restores_the_identity(tmp_path, service):
    original = service.create("correct horse")
    phrase = service.export_phrase("correct horse")
    assert len(phrase.split()) == 24
    other = IdentityService(Profile(tmp_path / "restored"), **FAST)
    restored = other.restore(phrase, "another passphrase")
    assert restored.public_key == original.public_key
    assert other.unlock("another passphrase").seed == service.unlock("correct horse").seed


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda w: w[:-1], "24 words"),
        (lambda w: [*w[:-1], "notaword"], "not a recovery-phrase word"),
        (lambda w: [w[1], w[0], *w[2:]] if w[0] != w[1] else [*w[:-1], "zoo"], "checksum"),
    ],
)
def test_a_wrong_phrase_is_a_clear_error(service, tmp_path, mangle, message):
    words = seed_to_phrase(bytes(range(32))).split()
    with pytest.raises(UserError, match=message):
        phrase_to_seed(" ".join(mangle(words)))


def test_restore_refuses_to_overwrite_a_different_identity(service):
    service.create("correct horse")
    other_phrase = seed_to_phrase(Signer.generate().seed)
    with pytest.raises(UserError, match="different identity"):
        service.restore(other_phrase, "correct horse")


def test_peer_id_equals_what_py_libp2p_derives_from_the_same_seed():
    for _ in range(5):
        signer = Signer.generate()
        keypair = create_new_key_pair(signer.seed)
        assert keypair.public_key.to_bytes() == signer.public_key
        assert peer_id(signer.public_key) == ID.from_pubkey(keypair.public_key).to_base58()
