"""The closed catalogue of events the services emit. The UI subscribes through the bridge.

Each event is a small frozen dataclass; ``EVENT_TYPES`` lists them all, and nothing else is ever
emitted (a test checks that every emitted event is in the catalogue).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LedgerChanged:
    """New entries were accepted (locally or from peers)."""

    count: int
    state_hash: bytes


@dataclass(frozen=True)
class PurchaseMade:
    purchase: bytes
    listing: bytes


@dataclass(frozen=True)
class PurchaseFulfilled:
    """A grant for one of our purchases arrived; its keys are now in the key store."""

    purchase: bytes
    granter: bytes


@dataclass(frozen=True)
class SaleFulfilled:
    """We (as artist or agent) granted a buyer's purchase."""

    purchase: bytes
    buyer: bytes


@dataclass(frozen=True)
class ForkDetected:
    author: bytes
    seq: int


@dataclass(frozen=True)
class DownloadProgress:
    content: bytes
    have: int
    total: int


@dataclass(frozen=True)
class PeersChanged:
    count: int


@dataclass(frozen=True)
class Notice:
    """A message for the user (an error the user should see, or a status line)."""

    text: str
    error: bool = False


Event = (
    LedgerChanged
    | PurchaseMade
    | PurchaseFulfilled
    | SaleFulfilled
    | ForkDetected
    | DownloadProgress
    | PeersChanged
    | Notice
)
EVENT_TYPES: tuple[type, ...] = (
    LedgerChanged,
    PurchaseMade,
    PurchaseFulfilled,
    SaleFulfilled,
    ForkDetected,
    DownloadProgress,
    PeersChanged,
    Notice,
)


class EventBus:
    """Synchronous fan-out of catalogue events to subscribers."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []

    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn)

    def emit(self, event: Event) -> None:
        if not isinstance(event, EVENT_TYPES):
            raise TypeError(f"{type(event).__name__} is not in the event catalogue")
        for fn in list(self._subscribers):
            fn(event)
