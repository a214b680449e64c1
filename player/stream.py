"""A seekable, file-like reader that decrypts a track chunk by chunk as it downloads.

:class:`DecryptingStream` is what the engines (and PyAV) read: ``read`` returns plaintext,
``seek`` goes anywhere in the track, and a read of a chunk that is not there yet blocks until it
arrives, the per-chunk ``timeout`` passes (:class:`~content.source.ChunkUnavailable`, an
``OSError``), or :meth:`DecryptingStream.cancel` is called from another thread.
Every chunk is verified against the manifest before it is decrypted, so a bad chunk is an error,
never noise in the speakers.
"""

from __future__ import annotations

import io
import threading

from content.format import ContentError
from content.source import ChunkSource


class DecryptingStream(io.RawIOBase):
    """Plaintext view of a :class:`ChunkSource`. Not thread-safe except :meth:`cancel`."""

    def __init__(self, source: ChunkSource, timeout: float | None = 30.0) -> None:
        super().__init__()
        self.source = source
        self.manifest = source.manifest
        self.timeout = timeout
        self._cancel = threading.Event()
        self._pos = 0
        self._cached_index = -1
        self._cached = b""

    # -- io.RawIOBase -----------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    @property
    def size(self) -> int:
        return self.manifest.size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.manifest.size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise OSError("seek before the start of the stream")
        self._pos = pos
        return pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("read from a closed stream")
        if self._pos >= self.manifest.size or len(buffer) == 0:
            return 0
        index, offset = divmod(self._pos, self.manifest.chunk_size)
        plain = self._chunk(index)
        # A short read (to the end of this chunk) lets a caller start decoding without waiting
        # for the next chunk to arrive.
        n = min(len(buffer), len(plain) - offset)
        buffer[:n] = plain[offset : offset + n]
        self._pos += n
        return n

    def close(self) -> None:
        self._cancel.set()
        super().close()

    # -- extras -----------------------------------------------------------------------------

    def cancel(self) -> None:
        """Make a blocked (or the next) read fail with StreamCancelled; safe from any thread."""
        self._cancel.set()

    def available_bytes(self) -> int:
        """Plaintext bytes readable from the start without waiting (the buffered range)."""
        count = 0
        for index in range(len(self.manifest.chunks)):
            if not self.source.has_chunk(index):
                break
            count += self.manifest.plaintext_length(index)
        return count

    def _chunk(self, index: int) -> bytes:
        if index != self._cached_index:
            stored = self.source.read_chunk(index, self.timeout, self._cancel)
            try:
                self._cached = self.manifest.open_chunk(index, stored, self.source.key)
            except ContentError as exc:
                raise OSError(f"cannot play: {exc}") from exc
            self._cached_index = index
        return self._cached


# Demuxer names for PyAV/FFmpeg by manifest MIME type. Naming the demuxer skips format probing,
# which could otherwise read far ahead into chunks that have not arrived yet.
DEMUXERS = {
    "audio/mpeg": "mp3",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mp4": "mp4",
    "audio/aac": "mp4",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/aiff": "aiff",
    "audio/x-aiff": "aiff",
}


def demuxer_for(mime: str) -> str | None:
    """The FFmpeg demuxer for a MIME type (parameters such as ``; codecs=opus`` ignored)."""
    return DEMUXERS.get(mime.split(";")[0].strip().lower())
