"""What changed since the last look: the desks' notices (fills, closes, refunds, dividends) come
from a diff of the statuses of the user's items between two sync rounds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class StatusWatch:
    """Remembers item -> status between calls. The first call only looks (nothing is new to
    someone who just opened the app); later calls return what changed."""

    def __init__(self) -> None:
        self.seen: dict[bytes, str] | None = None

    def changes(self, now: Mapping[bytes, str]) -> list[tuple[bytes, str | None, str]]:
        """(item, status before or None, status now) for every item whose status changed."""
        if self.seen is None:
            self.seen = dict(now)
            return []
        before, self.seen = self.seen, dict(now)
        return [(item, before.get(item), s) for item, s in now.items() if before.get(item) != s]

    def remember(self, items: Iterable[tuple[bytes, str]]) -> None:
        """Items the user just made: known from now on, so their first status is no news."""
        if self.seen is not None:
            for item, status in items:
                self.seen.setdefault(item, status)
