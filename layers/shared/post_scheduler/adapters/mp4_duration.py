"""A video's duration from its MP4/QuickTime header (the `moov` box's `mvhd`), read with
mutagen over ranged reads of the stored object: only the box headers and the `moov` box are
fetched, wherever in the file `moov` is, never the media data."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Reads bytes first..last (inclusive) of the object.
RangeReader = Callable[[int, int], bytes]
_MIN_READ = 64 * 1024


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over ranged reads, each at least 64 KiB (cached)."""

    def __init__(self, read: RangeReader, size: int) -> None:
        self._read_range = read
        self._size = size
        self._position = 0
        self._cache_start = 0
        self._cache = b""
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        start, end = self._position, self._position + wanted
        cached_end = self._cache_start + len(self._cache)
        if not (self._cache_start <= start and end <= cached_end):
            last = min(self._size, start + max(wanted, _MIN_READ)) - 1
            self._cache = self._read_range(start, last)
            self._cache_start = start
            self.reads += 1
        chunk = self._cache[start - self._cache_start : end - self._cache_start]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


def duration_seconds(read: RangeReader, size: int) -> float | None:
    """The duration in the file's header, or None when it has none mutagen can read."""
    from mutagen import MutagenError
    from mutagen.mp4 import MP4

    try:
        info = MP4(RangeFile(read, size)).info  # type: ignore[no-untyped-call]
        length = float(info.length) if info is not None else 0.0
    except (MutagenError, ValueError, OSError, EOFError) as exc:
        logger.info("no duration in the video's header", extra={"error": str(exc)[:200]})
        return None
    return length if length > 0 else None
