"""TikTok's chunking rules for FILE_UPLOAD (see the reference, section 4): how a video of a given
size is cut into chunks, in the safe reading of "MB"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

# Chunks of at least 5 MiB and at most 64,000,000 bytes, at most 1000 of them, files up to 4 GiB.
MIN_CHUNK_BYTES: Final = 5_242_880
MAX_CHUNK_BYTES: Final = 64_000_000
MAX_CHUNK_COUNT: Final = 1000
MAX_VIDEO_BYTES: Final = 4 * 1024**3
DEFAULT_CHUNK_BYTES: Final = 10_485_760


@dataclass(frozen=True)
class ChunkPlan:
    """How a video goes up: `total_chunk_count` chunks of `chunk_size` bytes, the last one
    also carrying the remainder (TikTok's floor rule)."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def __post_init__(self) -> None:
        if min(self.video_size, self.chunk_size, self.total_chunk_count) <= 0:
            raise ValueError("chunk plan values must be positive")
        if self.video_size > MAX_VIDEO_BYTES:
            raise ValueError(f"TikTok accepts videos up to {MAX_VIDEO_BYTES} bytes")
        if self.video_size // self.chunk_size != self.total_chunk_count:
            raise ValueError("total_chunk_count must be floor(video_size / chunk_size)")
        if self.total_chunk_count > MAX_CHUNK_COUNT:
            raise ValueError(f"more than {MAX_CHUNK_COUNT} chunks")
        if self.total_chunk_count == 1:
            if self.chunk_size != self.video_size or self.video_size > MAX_CHUNK_BYTES:
                raise ValueError("a one-chunk upload sends the whole file, at most 64,000,000 B")
        elif not MIN_CHUNK_BYTES <= self.chunk_size <= MAX_CHUNK_BYTES:
            raise ValueError("chunks must be 5,242,880 to 64,000,000 bytes")

    def chunk_length(self, index: int) -> int:
        if not 0 <= index < self.total_chunk_count:
            raise IndexError(index)
        if index < self.total_chunk_count - 1:
            return self.chunk_size
        return self.video_size - self.chunk_size * index

    def ranges(self, start: int = 0) -> Iterator[tuple[int, int]]:
        """(first, last) inclusive byte offsets of each chunk from byte `start`, which must be
        a chunk boundary (resuming after `UploadProgress.next_byte`)."""
        if start == self.video_size:
            return
        if start % self.chunk_size or not 0 <= start < self.video_size:
            raise ValueError(f"byte {start} is not the start of a chunk")
        for index in range(start // self.chunk_size, self.total_chunk_count):
            first = index * self.chunk_size
            yield first, first + self.chunk_length(index) - 1


def plan_chunks(video_size: int, preferred_chunk_size: int = DEFAULT_CHUNK_BYTES) -> ChunkPlan:
    """TikTok's chunking for a file of `video_size` bytes: one chunk when it is under 5 MiB or
    under the (clamped) preferred size, else chunks of that size with the last one absorbing
    the remainder (two halves when that would leave a single chunk over 64,000,000 bytes)."""
    if video_size <= 0:
        raise ValueError("a video must have at least one byte")
    if video_size > MAX_VIDEO_BYTES:
        raise ValueError(f"TikTok accepts videos up to {MAX_VIDEO_BYTES} bytes")
    chunk_size = min(max(preferred_chunk_size, MIN_CHUNK_BYTES), MAX_CHUNK_BYTES)
    if video_size < MIN_CHUNK_BYTES or video_size < chunk_size:
        return ChunkPlan(video_size, video_size, 1)
    count = video_size // chunk_size
    if count == 1:
        if video_size <= MAX_CHUNK_BYTES:
            # A one-chunk plan declares the whole file as its chunk size.
            return ChunkPlan(video_size, video_size, 1)
        # Floor would make one oversized PUT; TikTok wants files over 64 MB in several chunks.
        chunk_size, count = video_size // 2, 2
    if count > MAX_CHUNK_COUNT:
        raise ValueError(f"{count} chunks exceed TikTok's limit of {MAX_CHUNK_COUNT}")
    return ChunkPlan(video_size, chunk_size, count)
