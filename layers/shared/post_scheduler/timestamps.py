"""UTC timestamps as the API reads and writes them.

Input: ISO 8601 with an explicit UTC designator (`Z` or `+00:00`); anything else is refused rather
than guessed. Output: `YYYY-MM-DDTHH:MM:SS.sssZ`, which also sorts as text (the table relies on it).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_ISO_UTC = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?P<zone>[Zz]|[+-]\d{2}:\d{2})$"
)


class TimestampError(ValueError):
    """The text is not a UTC ISO 8601 timestamp; the message says why."""


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 UTC timestamp to an aware datetime, truncated to milliseconds."""
    match = _ISO_UTC.fullmatch(text)  # `$` alone would let a trailing newline through
    if match is None:
        raise TimestampError("must be an ISO 8601 UTC datetime such as 2025-10-21T14:30:00Z")
    if match["zone"] not in ("Z", "z", "+00:00"):
        raise TimestampError(f"must be in UTC (Z or +00:00), got offset {match['zone']}")
    if match["s"] == "60":
        raise TimestampError("leap seconds (:60) cannot be scheduled")
    frac = (match["frac"] or "").ljust(3, "0")[:3]
    try:
        parsed = datetime.fromisoformat(
            f"{match['date']}T{match['h']}:{match['m']}:{match['s']}.{frac}+00:00"
        )
    except ValueError as exc:
        raise TimestampError(f"is not a real date and time ({exc})") from None
    return parsed.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """Render as `YYYY-MM-DDTHH:MM:SS.sssZ`."""
    moment = moment.astimezone(UTC)
    # Not strftime: its %Y does not zero-pad years before 1000 on Linux.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def utc_now() -> datetime:
    """The current time (one place for tests to replace)."""
    return datetime.now(UTC)
