"""Wire messages of ``/cooptracks/content/1.0.0`` (layouts in docs/PROTOCOL.md, "Network")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from content.format import MAX_MANIFEST_BYTES
from p2p.wire import Message, check, decode_message, encode_varint, is_bytes, is_uint, registry_of

PROTOCOL_ID = "/cooptracks/content/1.0.0"
MAX_REQUEST = 4096
MAX_CHUNK_BYTES = 4 * 1024 * 1024 + 16  # the largest chunk_size a manifest may declare, plus tag
MAX_RESPONSE = max(MAX_CHUNK_BYTES, MAX_MANIFEST_BYTES) + 64
MAX_HAS_IDS = 64

HAS_NOTHING, HAS_PARTIAL, HAS_COMPLETE = 0, 1, 2


@dataclass(frozen=True)
class GetManifest(Message):
    """Type 1: ask for the manifest bytes that a content ID names."""

    TYPE = 1
    content_id: bytes

    def fields(self) -> list[Any]:
        return [self.content_id]

    @classmethod
    def from_fields(cls, f: list[Any]) -> GetManifest:
        check(len(f) == 1 and is_bytes(f[0], 32), "GetManifest needs a 32-byte content ID")
        return cls(f[0])


@dataclass(frozen=True)
class GetChunk(Message):
    """Type 2: ask for one stored chunk by its BLAKE2b-256 chunk ID."""

    TYPE = 2
    chunk_id: bytes

    def fields(self) -> list[Any]:
        return [self.chunk_id]

    @classmethod
    def from_fields(cls, f: list[Any]) -> GetChunk:
        check(len(f) == 1 and is_bytes(f[0], 32), "GetChunk needs a 32-byte chunk ID")
        return cls(f[0])


@dataclass(frozen=True)
class Has(Message):
    """Type 3: which of these content IDs do you hold (up to 64)?"""

    TYPE = 3
    content_ids: tuple[bytes, ...]

    def fields(self) -> list[Any]:
        return [list(self.content_ids)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> Has:
        check(
            len(f) == 1 and isinstance(f[0], list) and len(f[0]) <= MAX_HAS_IDS,
            "Has needs a list of at most 64 content IDs",
        )
        check(all(is_bytes(c, 32) for c in f[0]), "content IDs are 32 bytes")
        return cls(tuple(f[0]))


@dataclass(frozen=True)
class ManifestReply(Message):
    """Type 16: the manifest bytes (the client checks they hash to the content ID)."""

    TYPE = 16
    manifest: bytes

    def fields(self) -> list[Any]:
        return [self.manifest]

    @classmethod
    def from_fields(cls, f: list[Any]) -> ManifestReply:
        check(
            len(f) == 1 and is_bytes(f[0]) and len(f[0]) <= MAX_MANIFEST_BYTES,
            "ManifestReply needs manifest bytes",
        )
        return cls(f[0])


@dataclass(frozen=True)
class ChunkReply(Message):
    """Type 17: the stored chunk bytes (the client checks they hash to the chunk ID)."""

    TYPE = 17
    data: bytes | memoryview  # a memoryview when decoded by decode_response (no copy)

    def fields(self) -> list[Any]:
        return [self.data]

    @classmethod
    def from_fields(cls, f: list[Any]) -> ChunkReply:
        check(
            len(f) == 1 and is_bytes(f[0]) and len(f[0]) <= MAX_CHUNK_BYTES,
            "ChunkReply needs chunk bytes",
        )
        return cls(f[0])

    @staticmethod
    def data_offset(body: bytes | memoryview) -> int | None:
        """Where the chunk bytes start in ``body`` if it is a ChunkReply whose byte string
        fills the rest of the frame (the encoding ``frame_head`` writes, any definite length
        form accepted), else None."""
        if len(body) < 3 or body[0] != 0x82 or body[1] != ChunkReply.TYPE:
            return None
        info = body[2]
        if 0x40 <= info < 0x58:
            at, size = 3, info - 0x40
        elif 0x58 <= info <= 0x5B:
            at = 3 + (1 << (info - 0x58))
            if len(body) < at:
                return None
            size = int.from_bytes(body[3:at], "big")
        else:
            return None
        return at if at + size == len(body) else None

    @staticmethod
    def frame_head(size: int) -> bytes:
        """What precedes ``size`` chunk bytes in a framed ChunkReply: the frame's length prefix
        and the canonical CBOR head of ``[17, bstr]``. ``frame_head(len(data)) + data`` is
        ``wire.frame(ChunkReply(data).encode())``, so a server can read a chunk from disk
        straight in behind it without encoding it again."""
        if size < 24:
            bstr = bytes((0x40 + size,))
        elif size < 1 << 8:
            bstr = bytes((0x58, size))
        elif size < 1 << 16:
            bstr = b"\x59" + size.to_bytes(2, "big")
        elif size < 1 << 32:
            bstr = b"\x5a" + size.to_bytes(4, "big")
        else:
            raise ValueError("a chunk is less than 4 GiB")
        cbor = b"\x82" + bytes((ChunkReply.TYPE,)) + bstr
        return encode_varint(len(cbor) + size) + cbor


@dataclass(frozen=True)
class HasReply(Message):
    """Type 18: one state per asked content ID: 0 nothing, 1 partial, 2 complete."""

    TYPE = 18
    states: tuple[int, ...]

    def fields(self) -> list[Any]:
        return [list(self.states)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> HasReply:
        check(
            len(f) == 1
            and isinstance(f[0], list)
            and len(f[0]) <= MAX_HAS_IDS
            and all(is_uint(s, 3) for s in f[0]),
            "HasReply needs states 0..2",
        )
        return cls(tuple(f[0]))


@dataclass(frozen=True)
class NotFound(Message):
    """Type 30: this node does not hold what was asked."""

    TYPE = 30

    def fields(self) -> list[Any]:
        return []

    @classmethod
    def from_fields(cls, f: list[Any]) -> NotFound:
        check(not f, "NotFound has no fields")
        return cls()


@dataclass(frozen=True)
class Busy(Message):
    """Type 31: all upload slots for you are taken; retry after ``retry_ms`` milliseconds."""

    TYPE = 31
    retry_ms: int

    def fields(self) -> list[Any]:
        return [self.retry_ms]

    @classmethod
    def from_fields(cls, f: list[Any]) -> Busy:
        check(len(f) == 1 and is_uint(f[0], 600_000), "Busy needs retry_ms < 600000")
        return cls(f[0])


REQUESTS = registry_of(GetManifest, GetChunk, Has)
RESPONSES = registry_of(ManifestReply, ChunkReply, HasReply, NotFound, Busy)


def decode_response(body: bytes | memoryview) -> Message:
    """A response frame body as a message of ``RESPONSES``.

    A ChunkReply keeps its chunk where it is: ``data`` is a slice of ``body`` (so a reply read
    into a reused buffer is valid as long as that buffer is not reused), sparing cbor2's copy
    of up to 4 MiB. Every other body, and a ChunkReply in an unusual encoding, goes through
    ``decode_message`` as before.
    """
    at = ChunkReply.data_offset(body)
    if at is not None:
        check(len(body) - at <= MAX_CHUNK_BYTES, "ChunkReply needs chunk bytes")
        data = body[at:]
        return ChunkReply(data if isinstance(data, memoryview) else memoryview(data))
    return decode_message(bytes(body), RESPONSES)
