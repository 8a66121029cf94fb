"""TikTok's FILE_UPLOAD chunk planning: sizes, counts, the remainder rule and resuming."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from post_scheduler.adapters.tiktok_client import (
    MAX_CHUNK_BYTES,
    MAX_VIDEO_BYTES,
    MIN_CHUNK_BYTES,
    ChunkPlan,
    plan_chunks,
)

MIB = 1024 * 1024


def test_reference_example_five_chunks_last_absorbs_remainder() -> None:
    plan = plan_chunks(50_000_123, 10_000_000)
    assert plan == ChunkPlan(50_000_123, 10_000_000, 5)
    assert list(plan.ranges()) == [
        (0, 9_999_999),
        (10_000_000, 19_999_999),
        (20_000_000, 29_999_999),
        (30_000_000, 39_999_999),
        (40_000_000, 50_000_122),
    ]
    assert plan.chunk_length(4) == 10_000_123


@pytest.mark.parametrize("size", [1, 1000, MIN_CHUNK_BYTES - 1])
def test_files_under_five_mib_go_whole(size: int) -> None:
    plan = plan_chunks(size)
    assert plan == ChunkPlan(size, size, 1)
    assert list(plan.ranges()) == [(0, size - 1)]


@pytest.mark.parametrize("size", [MIN_CHUNK_BYTES, 8 * MIB, 10 * MIB - 1])
def test_files_smaller_than_the_preferred_chunk_go_whole(size: int) -> None:
    assert plan_chunks(size, 10 * MIB) == ChunkPlan(size, size, 1)


def test_file_of_exactly_one_preferred_chunk() -> None:
    assert plan_chunks(10 * MIB, 10 * MIB) == ChunkPlan(10 * MIB, 10 * MIB, 1)


def test_twelve_mib_in_five_mib_chunks() -> None:
    plan = plan_chunks(12 * MIB, 5 * MIB)
    assert plan == ChunkPlan(12 * MIB, 5 * MIB, 2)
    assert list(plan.ranges()) == [(0, 5 * MIB - 1), (5 * MIB, 12 * MIB - 1)]


def test_preferred_chunk_is_clamped_to_tiktoks_bounds() -> None:
    assert plan_chunks(12 * MIB, 1 * MIB).chunk_size == MIN_CHUNK_BYTES
    assert plan_chunks(300 * MIB, 100 * MIB).chunk_size == MAX_CHUNK_BYTES


def test_file_over_64_mb_is_never_a_single_chunk() -> None:
    # Floor(70e6 / 64e6) would be one 70 MB PUT; TikTok requires several chunks above 64 MB.
    plan = plan_chunks(70_000_000, 64 * MIB)
    assert plan.total_chunk_count == 2
    assert plan.chunk_size == 35_000_000
    assert sum(last - first + 1 for first, last in plan.ranges()) == 70_000_000


def test_largest_video_fits_the_chunk_limit() -> None:
    plan = plan_chunks(MAX_VIDEO_BYTES, MIN_CHUNK_BYTES)
    assert plan.total_chunk_count == MAX_VIDEO_BYTES // MIN_CHUNK_BYTES


@pytest.mark.parametrize("size", [0, -1, MAX_VIDEO_BYTES + 1])
def test_impossible_sizes_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="byte"):
        plan_chunks(size)


@pytest.mark.parametrize(
    ("video_size", "chunk_size", "count"),
    [
        (50_000_123, 10_000_000, 6),  # ceil instead of floor
        (50_000_123, 10_000_000, 4),
        (4_000_000, 1_000_000, 4),  # small files go whole
        (70_000_000, 64_000_000, 1),  # one chunk over 64 MB
        (70_000_000, 70_000_000, 1),
        (15 * MIB, 10 * MIB, 1),  # one chunk must declare the whole file
        (20 * MIB, 4 * MIB, 5),  # chunk under 5 MiB
        (200_000_000, 65_000_000, 3),  # chunk over 64,000,000 B
        (0, 1, 0),
    ],
)
def test_plans_breaking_tiktoks_rules_cannot_be_built(
    video_size: int, chunk_size: int, count: int
) -> None:
    with pytest.raises(ValueError, match="chunk"):
        ChunkPlan(video_size, chunk_size, count)


def test_ranges_resume_from_a_chunk_boundary() -> None:
    plan = plan_chunks(50_000_123, 10_000_000)
    assert list(plan.ranges(30_000_000)) == [(30_000_000, 39_999_999), (40_000_000, 50_000_122)]
    assert list(plan.ranges(50_000_123)) == []
    with pytest.raises(ValueError, match="not the start of a chunk"):
        list(plan.ranges(12_345))


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=MAX_VIDEO_BYTES),
    preferred=st.integers(min_value=1, max_value=200 * MIB),
)
def test_every_plan_follows_tiktoks_rules(size: int, preferred: int) -> None:
    plan = plan_chunks(size, preferred)
    ranges = list(plan.ranges())
    assert len(ranges) == plan.total_chunk_count == size // plan.chunk_size
    assert ranges[0][0] == 0
    assert ranges[-1][1] == size - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    if plan.total_chunk_count == 1:
        assert plan.chunk_size == size <= MAX_CHUNK_BYTES
    else:
        assert MIN_CHUNK_BYTES <= plan.chunk_size <= MAX_CHUNK_BYTES
        assert all(last - first + 1 == plan.chunk_size for first, last in ranges[:-1])
        assert ranges[-1][1] - ranges[-1][0] + 1 < 2 * plan.chunk_size


def test_one_chunk_plan_declares_the_whole_file() -> None:
    # 15 MiB with 10 MiB preferred: floor gives one chunk, which must carry the file's size.
    assert plan_chunks(15 * MIB, 10 * MIB) == ChunkPlan(15 * MIB, 15 * MIB, 1)
