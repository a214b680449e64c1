"""Content addressing and per-track encryption.

A track is split into fixed-size plaintext chunks. Each chunk of a sold track is sealed with
XChaCha20-Poly1305 under the track's own 32-byte key; a preview is stored clear. Every stored chunk
is addressed by the BLAKE2b-256 hash of its stored bytes, and the track by the hash of a canonical
manifest listing those chunk hashes. The byte-exact format is in docs/PROTOCOL.md ("Content").

This module is pure and synchronous so that the swarm (which moves chunks) and the player (which
decrypts them while a download is still running) share one definition.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import cbor2
from nacl import bindings as sodium
from nacl.exceptions import CryptoError

CHUNK_SIZE = 256 * 1024
MANIFEST_DOMAIN = b"cooptracks.manifest.v1\x00"
CHUNK_AAD_DOMAIN = b"cooptracks.chunk.v1\x00"
KEY_SIZE = 32
TAG_SIZE = 16
MAX_CHUNKS = 1 << 16  # 16 GiB at the default chunk size; larger manifests are refused
MAX_MANIFEST_BYTES = 64 + MAX_CHUNKS * 34 + 512
MAX_MIME = 100


class ContentError(ValueError):
    """Raised for a malformed manifest, a chunk that does not match its hash, or a bad key."""


def content_hash(data: bytes | bytearray | memoryview) -> bytes:
    """The BLAKE2b-256 digest used for chunk identifiers."""
    return hashlib.blake2b(data, digest_size=32).digest()


def new_track_key() -> bytes:
    """A fresh random content key for one track."""
    return os.urandom(KEY_SIZE)


def _nonce(index: int) -> bytes:
    # A key encrypts exactly one track, so a counter nonce never repeats under one key.
    return bytes(16) + index.to_bytes(8, "big")


def _aad(index: int, is_last: bool) -> bytes:
    # Binding the "last chunk" flag stops a truncated stream from decrypting as complete.
    return CHUNK_AAD_DOMAIN + index.to_bytes(8, "big") + (b"\x01" if is_last else b"\x00")


def encrypt_chunk(key: bytes, index: int, is_last: bool, plaintext: bytes) -> bytes:
    """Seal one plaintext chunk; the result is what peers store and transfer."""
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, _aad(index, is_last), _nonce(index), key
    )


def decrypt_chunk(key: bytes, index: int, is_last: bool, ciphertext: bytes) -> bytes:
    """Open one sealed chunk, or raise ContentError if it was altered or the key is wrong."""
    if len(key) != KEY_SIZE:
        raise ContentError("content key must be 32 bytes")
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, _aad(index, is_last), _nonce(index), key
        )
    except CryptoError as exc:
        raise ContentError(f"chunk {index} failed authentication") from exc


@dataclass(frozen=True)
class Manifest:
    """What a content ID names: the stored chunks of one track or preview, in order."""

    size: int  # plaintext size in bytes
    chunk_size: int
    chunks: tuple[bytes, ...]
    encrypted: bool
    mime: str

    def encode(self) -> bytes:
        """Canonical CBOR bytes of this manifest."""
        return cbor2.dumps(
            {
                "v": 1,
                "size": self.size,
                "chunk_size": self.chunk_size,
                "chunks": list(self.chunks),
                "encrypted": self.encrypted,
                "mime": self.mime,
            },
            canonical=True,
        )

    @property
    def content_id(self) -> bytes:
        """The content ID: BLAKE2b-256 over the domain tag and the canonical manifest."""
        return manifest_id(self.encode())

    def plaintext_length(self, index: int) -> int:
        """Plaintext bytes in chunk ``index``."""
        if index < len(self.chunks) - 1:
            return self.chunk_size
        return self.size - self.chunk_size * (len(self.chunks) - 1)

    def stored_length(self, index: int) -> int:
        """Bytes on the wire for chunk ``index`` (plaintext plus the tag when encrypted)."""
        return self.plaintext_length(index) + (TAG_SIZE if self.encrypted else 0)

    def is_last(self, index: int) -> bool:
        return index == len(self.chunks) - 1

    def check_chunk(self, index: int, data: bytes) -> None:
        """Raise ContentError unless ``data`` is exactly chunk ``index`` of this manifest."""
        if not 0 <= index < len(self.chunks):
            raise ContentError(f"chunk index {index} out of range")
        if len(data) != self.stored_length(index):
            raise ContentError(
                f"chunk {index} has {len(data)} bytes, expected {self.stored_length(index)}"
            )
        if content_hash(data) != self.chunks[index]:
            raise ContentError(f"chunk {index} does not match its hash")

    def open_chunk(self, index: int, data: bytes, key: bytes | None) -> bytes:
        """Verify chunk ``index`` and return its plaintext (decrypting with ``key`` if sealed)."""
        self.check_chunk(index, data)
        if not self.encrypted:
            return data
        if key is None:
            raise ContentError("this content is encrypted and no key was given")
        return decrypt_chunk(key, index, self.is_last(index), data)


def manifest_id(manifest_bytes: bytes) -> bytes:
    return hashlib.blake2b(MANIFEST_DOMAIN + manifest_bytes, digest_size=32).digest()


def decode_manifest(data: bytes, expected_id: bytes | None = None) -> Manifest:
    """Decode and validate manifest bytes; with ``expected_id``, also check they hash to it."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ContentError("manifest too large")
    if expected_id is not None and manifest_id(data) != expected_id:
        raise ContentError("manifest does not match its content ID")
    try:
        obj = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types for garbage
        raise ContentError(f"manifest is not CBOR: {exc}") from exc
    if not isinstance(obj, dict) or set(obj) != {
        "v",
        "size",
        "chunk_size",
        "chunks",
        "encrypted",
        "mime",
    }:
        raise ContentError("manifest has the wrong fields")
    if obj["v"] != 1:
        raise ContentError(f"unknown manifest version {obj['v']!r}")
    size, chunk_size, chunks = obj["size"], obj["chunk_size"], obj["chunks"]
    if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
        raise ContentError("manifest size must be a non-negative integer")
    if not (isinstance(chunk_size, int) and 1024 <= chunk_size <= 4 * 1024 * 1024):
        raise ContentError("manifest chunk_size out of range")
    if not isinstance(chunks, list) or len(chunks) > MAX_CHUNKS:
        raise ContentError("manifest chunk list invalid")
    if any(not isinstance(c, bytes) or len(c) != 32 for c in chunks):
        raise ContentError("manifest chunk IDs must be 32 bytes")
    if len(set(chunks)) != len(chunks):
        # Each index would be written (and synced) on its own: one received chunk repeated
        # 65 536 times is an amplification attack. Sealed chunks never repeat (per-index nonce).
        raise ContentError("manifest repeats a chunk hash")
    expected_chunks = max(1, -(-size // chunk_size))
    if len(chunks) != expected_chunks:
        raise ContentError("manifest chunk count does not match its size")
    if not isinstance(obj["encrypted"], bool):
        raise ContentError("manifest 'encrypted' must be a boolean")
    mime = obj["mime"]
    if not isinstance(mime, str) or len(mime) > MAX_MIME:
        raise ContentError("manifest mime invalid")
    manifest = Manifest(size, chunk_size, tuple(chunks), obj["encrypted"], mime)
    if manifest.encode() != data:
        raise ContentError("manifest is not canonically encoded")
    return manifest


@dataclass(frozen=True)
class PackedContent:
    """A manifest with its stored chunks, ready to be written to a chunk store."""

    manifest: Manifest
    manifest_bytes: bytes
    chunks: tuple[bytes, ...]

    @property
    def content_id(self) -> bytes:
        return manifest_id(self.manifest_bytes)


def _read_chunks(source: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    block = source.read(chunk_size)
    yield block  # an empty file still has one (empty) chunk
    while True:
        nxt = source.read(chunk_size)
        if not nxt:
            return
        yield nxt


def pack(
    source: BinaryIO | bytes,
    key: bytes | None,
    mime: str = "application/octet-stream",
    chunk_size: int = CHUNK_SIZE,
) -> PackedContent:
    """Chunk (and, with ``key``, encrypt) a track. ``key=None`` packs a clear preview."""
    if isinstance(source, bytes | bytearray):
        import io

        source = io.BytesIO(bytes(source))
    plain = list(_read_chunks(source, chunk_size))
    size = sum(len(p) for p in plain)
    stored: list[bytes] = []
    for i, p in enumerate(plain):
        stored.append(p if key is None else encrypt_chunk(key, i, i == len(plain) - 1, p))
    manifest = Manifest(
        size, chunk_size, tuple(content_hash(c) for c in stored), key is not None, mime
    )
    if len(set(manifest.chunks)) != len(manifest.chunks):
        raise ContentError(
            "the file repeats a whole chunk's bytes, which peers refuse; "
            "store it sealed or re-encode it"
        )
    return PackedContent(manifest, manifest.encode(), tuple(stored))


def unpack(manifest: Manifest, chunks: Iterable[bytes], key: bytes | None) -> bytes:
    """Verify and reassemble a whole track from its stored chunks."""
    return b"".join(manifest.open_chunk(i, c, key) for i, c in enumerate(chunks))
