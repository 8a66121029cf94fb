"""timestamps.parse_utc / format_utc: only explicit UTC is accepted, output is always
`YYYY-MM-DDTHH:MM:SS.sssZ`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from post_scheduler.timestamps import TimestampError, format_utc, parse_utc

OUTPUT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-21T14:30:00Z", datetime(2025, 10, 21, 14, 30, tzinfo=UTC)),
        ("2025-10-21T14:30:00+00:00", datetime(2025, 10, 21, 14, 30, tzinfo=UTC)),
        ("2025-10-21T14:30:00z", datetime(2025, 10, 21, 14, 30, tzinfo=UTC)),
        ("2025-10-21t14:30:00Z", datetime(2025, 10, 21, 14, 30, tzinfo=UTC)),
        ("2025-10-21T14:30:00.5Z", datetime(2025, 10, 21, 14, 30, 0, 500_000, tzinfo=UTC)),
        ("2025-10-21T14:30:00.123Z", datetime(2025, 10, 21, 14, 30, 0, 123_000, tzinfo=UTC)),
        # Finer fractions are truncated to the millisecond the API shows.
        ("2025-10-21T14:30:00.123999999Z", datetime(2025, 10, 21, 14, 30, 0, 123_000, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999Z", datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
        ("2024-02-29T00:00:00Z", datetime(2024, 2, 29, tzinfo=UTC)),
    ],
)
def test_accepts_explicit_utc(text: str, expected: datetime) -> None:
    parsed = parse_utc(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2025-10-21T14:30:00", "ISO 8601"),  # no offset: never guessed
        ("2025-10-21T14:30:00+01:00", "UTC"),
        ("2025-10-21T14:30:00-05:00", "UTC"),
        ("2025-10-21T14:30:00-00:00", "UTC"),  # RFC 3339's "unknown local offset"
        ("2025-10-21T14:30:00+0000", "ISO 8601"),
        ("2025-10-21 14:30:00Z", "ISO 8601"),
        ("2025-10-21T14:30Z", "ISO 8601"),
        ("2025-10-21Z", "ISO 8601"),
        ("2025-10-21T14:30:60Z", "leap"),
        ("2025-02-30T10:00:00Z", "real date"),
        ("2025-13-01T10:00:00Z", "real date"),
        ("2025-10-21T24:00:00Z", "real date"),
        ("2025-10-21T14:61:00Z", "real date"),
        ("2023-02-29T00:00:00Z", "real date"),
        ("2025-10-21T14:30:00.1234567890Z", "ISO 8601"),  # more than nanoseconds
        ("2025-10-21T14:30:00.Z", "ISO 8601"),
        ("1761057000", "ISO 8601"),
        ("next tuesday", "ISO 8601"),
        ("", "ISO 8601"),
        (" 2025-10-21T14:30:00Z", "ISO 8601"),
        ("2025-10-21T14:30:00Z ", "ISO 8601"),
        ("2025-10-21T14:30:00Z\n", "ISO 8601"),
        ("\u0662\u0660\u0662\u0665-10-21T14:30:00Z", "real date"),  # Arabic-Indic digits
        ("+12025-10-21T14:30:00Z", "ISO 8601"),
    ],
)
def test_refuses_everything_else(text: str, reason: str) -> None:
    with pytest.raises(TimestampError, match=reason):
        parse_utc(text)


def test_timestamp_error_is_a_value_error() -> None:
    # pydantic turns ValueErrors raised by validators into 400 VALIDATION_ERRORs.
    assert issubclass(TimestampError, ValueError)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 10, 21, 14, 30, tzinfo=UTC), "2025-10-21T14:30:00.000Z"),
        (datetime(2025, 10, 21, 14, 30, 0, 123_456, tzinfo=UTC), "2025-10-21T14:30:00.123Z"),
        (datetime(2025, 10, 21, 14, 30, 0, 999_999, tzinfo=UTC), "2025-10-21T14:30:00.999Z"),
        (
            datetime(2025, 10, 21, 16, 30, tzinfo=timezone(timedelta(hours=2))),
            "2025-10-21T14:30:00.000Z",
        ),
        (datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC), "9999-12-31T23:59:59.999Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
    ],
)
def test_format_is_the_references(moment: datetime, text: str) -> None:
    assert format_utc(moment) == text
    assert OUTPUT.match(format_utc(moment))


def test_round_trip_and_text_order_is_time_order() -> None:
    moments = [
        datetime(2025, 1, 1, tzinfo=UTC) + timedelta(milliseconds=step * 7_777_777)
        for step in range(200)
    ]
    texts = [format_utc(m) for m in moments]
    assert [parse_utc(t) for t in texts] == moments
    # The table sorts posts by this text, so text order must be time order.
    assert sorted(texts) == texts
