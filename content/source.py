"""Where the player gets the stored chunks of a track: the :class:`ChunkSource` interface.

A purchased track is a manifest plus encrypted chunks (``content/format.py``). The player reads
chunks through a :class:`ChunkSource`, which may still be filling up while playback runs:
``read_chunk`` blocks until the chunk is there (or a timeout / cancel), and ``prioritize`` tells
the downloader which chunk the playhead needs next.

On-disk layout (shared with the swarm, which writes chunks as they arrive; implemented by
``content.chunkstore.ChunkStore``, which this module reuses)::

    <profile>/content/<hex content id>.manifest          canonical manifest bytes
    <profile>/content/packs/<hex content id>.pack        its stored (encrypted) chunks
    <profile>/content/packs/<hex content id>.have        which of them are whole

A chunk appears atomically (its bytes are written and synced before it is marked in ``.have``),
so a reader sees a whole chunk or nothing. :class:`DirectoryChunkSource` polls the store, so
the writer may be another process; a writer in the same process may call
:meth:`DirectoryChunkSource.notify` to wake readers at once.

Download order matters for streaming: most decoders open a file from its head (MP3, FLAC), but
Ogg reads its last page for the duration and MP4 needs its ``moov`` box, which may be at the
end. A downloader should therefore fetch chunk 0, then the last chunk, then the rest in order,
and move any chunk passed to ``prioritize`` to the front.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from content.chunkstore import ChunkStore
from content.format import Manifest

log = logging.getLogger(__name__)


class ChunkUnavailable(TimeoutError):
    """A chunk did not arrive in time (the download stalled or no peer has it)."""


class StreamCancelled(Exception):
    """The reader was closed while waiting for a chunk."""


class ChunkSource(ABC):
    """The stored chunks of one track (or preview), possibly still downloading."""

    manifest: Manifest
    key: bytes | None  # the content key; None for clear content such as previews

    @abstractmethod
    def has_chunk(self, index: int) -> bool:
        """True if chunk ``index`` is present now (never blocks)."""

    @abstractmethod
    def read_chunk(
        self, index: int, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> bytes:
        """The stored bytes of chunk ``index``, waiting up to ``timeout`` seconds for them.

        Raises :class:`ChunkUnavailable` on timeout and :class:`StreamCancelled` when
        ``cancel`` is set. The bytes are not yet verified; ``Manifest.open_chunk`` does that.
        """

    def prioritize(self, index: int) -> None:  # noqa: B027 - a hint; sources may ignore it
        """Hint that chunk ``index`` is needed next (the playhead is there)."""

    def available(self) -> list[bool]:
        """Which chunks are present, in order (for a download progress bar)."""
        return [self.has_chunk(i) for i in range(len(self.manifest.chunks))]


class DirectoryChunkSource(ChunkSource):
    """A :class:`ChunkSource` over a chunk directory (see the module docstring for the layout)."""

    def __init__(
        self,
        store: ChunkStore | Path,
        content_id: bytes,
        key: bytes | None,
        poll_interval: float = 0.05,
        on_wanted: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store if isinstance(store, ChunkStore) else ChunkStore(Path(store))
        manifest = self.store.manifest(content_id)
        if manifest is None:
            raise FileNotFoundError(f"no manifest for content {content_id.hex()}")
        self.content_id = content_id
        self.manifest = manifest
        self.key = key
        self.poll_interval = poll_interval
        self.wanted: list[int] = []  # prioritize() calls, newest last, for the downloader
        self.on_wanted = on_wanted  # told each newly wanted index (the downloader moves it up)
        self._arrived = threading.Condition()

    def has_chunk(self, index: int) -> bool:
        return self.store.has_chunk(self.manifest.chunks[index])

    def notify(self) -> None:
        """Wake readers waiting for a chunk (an in-process writer just stored one)."""
        with self._arrived:
            self._arrived.notify_all()

    def prioritize(self, index: int) -> None:
        if not self.wanted or self.wanted[-1] != index:
            self.wanted.append(index)
            if self.on_wanted is not None:
                try:
                    self.on_wanted(index)
                except Exception:  # a hint: playback goes on waiting either way
                    log.exception("passing wanted chunk %d on failed", index)

    def read_chunk(
        self, index: int, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> bytes:
        chunk_id = self.manifest.chunks[index]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            data = self.store.get_chunk(chunk_id)
            if data is not None:
                return data
            if cancel is not None and cancel.is_set():
                raise StreamCancelled(f"cancelled while waiting for chunk {index}")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ChunkUnavailable(
                    f"chunk {index} of {len(self.manifest.chunks)} "
                    f"did not arrive in {timeout:.0f} s"
                )
            self.prioritize(index)
            wait = self.poll_interval if remaining is None else min(self.poll_interval, remaining)
            with self._arrived:
                self._arrived.wait(wait)
