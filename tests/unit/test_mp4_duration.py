"""The video duration read from an MP4 header over ranged reads (mutagen), wherever the `moov`
box is, without fetching the media data."""

from __future__ import annotations

import struct

import pytest

from post_scheduler.adapters.mp4_duration import duration_seconds


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mvhd(timescale: int, duration: int) -> bytes:
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    payload = (
        struct.pack(">I", 0)  # version 0, flags
        + struct.pack(">IIII", 0, 0, timescale, duration)
        + struct.pack(">IH", 0x10000, 0x100)
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2)
    )
    return box(b"mvhd", payload)


def mp4(seconds: float, media_bytes: int, moov_first: bool) -> bytes:
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isommp41")
    moov = box(b"moov", mvhd(1000, int(seconds * 1000)))
    mdat = box(b"mdat", bytes(media_bytes))
    return ftyp + (moov + mdat if moov_first else mdat + moov)


class Reads:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ranges: list[tuple[int, int]] = []

    def __call__(self, first: int, last: int) -> bytes:
        self.ranges.append((first, last))
        return self.data[first : last + 1]


@pytest.mark.parametrize("moov_first", [True, False], ids=["fast-start", "moov-at-the-end"])
def test_the_duration_is_read_without_the_media_data(moov_first: bool) -> None:
    data = mp4(12.5, 5 * 1024 * 1024, moov_first)
    reads = Reads(data)
    assert duration_seconds(reads, len(data)) == pytest.approx(12.5)
    fetched = sum(last - first + 1 for first, last in reads.ranges)
    assert fetched < 300 * 1024  # box headers and moov only, not the 5 MiB of media
    assert len(reads.ranges) <= 4


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x00\x00\x18ftypmp42" + bytes(100), b"not a video at all" * 100],
    ids=["empty", "no-moov", "garbage"],
)
def test_no_readable_header_is_none(data: bytes) -> None:
    assert duration_seconds(Reads(data), len(data)) is None
