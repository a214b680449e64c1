"""Wire messages of ``/cooptracks/sync/1.0.0`` (layouts in docs/PROTOCOL.md, "Network")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.entry import MAX_ENTRY_BYTES
from ledger.forks import MAX_PROOF_BYTES
from p2p.wire import Message, check, is_bytes, is_uint, registry_of

PROTOCOL_ID = "/cooptracks/sync/1.0.0"
MAX_REQUEST = 16 * 1024
MAX_RESPONSE = 4 * 1024 * 1024
MAX_RANGE = 4096  # entries per GetFeed reply
MAX_RANGE_BYTES = 2 * 1024 * 1024  # ... and at most this many entry bytes (one entry may overshoot)
MAX_HASHES = 256  # hashes per GetEntries
MAX_FRONTIER = 40_000  # authors per Frontier reply
MAX_PROOFS = 256


@dataclass(frozen=True)
class GetFrontier(Message):
    """Type 1: ask for the peer's frontier (every author's highest contiguous entry)."""

    TYPE = 1

    def fields(self) -> list[Any]:
        return []

    @classmethod
    def from_fields(cls, f: list[Any]) -> GetFrontier:
        check(not f, "GetFrontier has no fields")
        return cls()


@dataclass(frozen=True)
class GetFeed(Message):
    """Type 2: entries ``first_seq, first_seq + 1, ...`` of ``author``'s feed, at most ``limit``."""

    TYPE = 2
    author: bytes
    first_seq: int
    limit: int

    def fields(self) -> list[Any]:
        return [self.author, self.first_seq, self.limit]

    @classmethod
    def from_fields(cls, f: list[Any]) -> GetFeed:
        check(
            len(f) == 3
            and is_bytes(f[0], 32)
            and is_uint(f[1])
            and f[1] >= 1
            and is_uint(f[2])
            and 1 <= f[2] <= MAX_RANGE,
            "GetFeed is [author, seq>=1, limit]",
        )
        return cls(f[0], f[1], f[2])


@dataclass(frozen=True)
class GetEntries(Message):
    """Type 3: entries by hash (missing causal dependencies), at most 256."""

    TYPE = 3
    hashes: tuple[bytes, ...]

    def fields(self) -> list[Any]:
        return [list(self.hashes)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> GetEntries:
        check(
            len(f) == 1
            and isinstance(f[0], list)
            and len(f[0]) <= MAX_HASHES
            and all(is_bytes(h, 32) for h in f[0]),
            "GetEntries is [[hash32, ...]]",
        )
        return cls(tuple(f[0]))


@dataclass(frozen=True)
class GetForkProofs(Message):
    """Type 4: ask for every fork proof the peer holds."""

    TYPE = 4

    def fields(self) -> list[Any]:
        return []

    @classmethod
    def from_fields(cls, f: list[Any]) -> GetForkProofs:
        check(not f, "GetForkProofs has no fields")
        return cls()


@dataclass(frozen=True)
class Frontier(Message):
    """Type 16: ``[[author, seq, hash], ...]`` sorted by author."""

    TYPE = 16
    heads: tuple[tuple[bytes, int, bytes], ...]

    def fields(self) -> list[Any]:
        return [[list(h) for h in self.heads]]

    @classmethod
    def from_fields(cls, f: list[Any]) -> Frontier:
        check(
            len(f) == 1 and isinstance(f[0], list) and len(f[0]) <= MAX_FRONTIER,
            "Frontier is [[author, seq, hash], ...]",
        )
        heads = []
        for h in f[0]:
            check(
                isinstance(h, list)
                and len(h) == 3
                and is_bytes(h[0], 32)
                and is_uint(h[1])
                and h[1] >= 1
                and is_bytes(h[2], 32),
                "bad frontier head",
            )
            heads.append((h[0], h[1], h[2]))
        return cls(tuple(heads))


@dataclass(frozen=True)
class Entries(Message):
    """Type 17: entry wire bytes, in feed order for GetFeed."""

    TYPE = 17
    wires: tuple[bytes, ...]

    def fields(self) -> list[Any]:
        return [list(self.wires)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> Entries:
        check(
            len(f) == 1 and isinstance(f[0], list) and len(f[0]) <= MAX_RANGE,
            "Entries is [[wire, ...]]",
        )
        check(
            all(is_bytes(w) and len(w) <= MAX_ENTRY_BYTES for w in f[0]),
            "an entry is at most 64 KiB of bytes",
        )
        return cls(tuple(f[0]))


@dataclass(frozen=True)
class ForkProofs(Message):
    """Type 18: encoded fork proofs."""

    TYPE = 18
    proofs: tuple[bytes, ...]

    def fields(self) -> list[Any]:
        return [list(self.proofs)]

    @classmethod
    def from_fields(cls, f: list[Any]) -> ForkProofs:
        check(
            len(f) == 1
            and isinstance(f[0], list)
            and len(f[0]) <= MAX_PROOFS
            and all(is_bytes(p) and len(p) <= MAX_PROOF_BYTES for p in f[0]),
            "ForkProofs is [[proof, ...]]",
        )
        return cls(tuple(f[0]))


REQUESTS = registry_of(GetFrontier, GetFeed, GetEntries, GetForkProofs)
RESPONSES = registry_of(Frontier, Entries, ForkProofs)
