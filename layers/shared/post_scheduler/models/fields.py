"""Field types shared by request models: ids, captions, timestamps."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from post_scheduler.timestamps import TimestampError, parse_utc

# Ids are ours (UUIDs) or the reference's examples; a tight alphabet keeps keys, schedule names
# and logs safe from traversal and injection.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ResourceId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

# TikTok counts the caption in UTF-16 code units.
TIKTOK_CAPTION_LIMIT = 2200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def utf16_length(text: str) -> int:
    """Length as TikTok measures it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _caption_text(value: str) -> str:
    if _LONE_SURROGATE.search(value):
        raise ValueError("must be valid Unicode text (it holds a lone surrogate)")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (tab and newline are allowed)")
    if utf16_length(value) > TIKTOK_CAPTION_LIMIT:
        raise ValueError(f"must be at most {TIKTOK_CAPTION_LIMIT} characters (UTF-16 code units)")
    return value


CaptionText = Annotated[str, AfterValidator(_caption_text)]

_HASHTAG = re.compile(r"^#[^\s#]{1,100}$", re.UNICODE)


def _hashtags(value: str) -> str:
    _caption_text(value)
    tags = value.split()
    if not tags:
        raise ValueError("must hold at least one #hashtag, or be left out")
    for tag in tags:
        if not _HASHTAG.match(tag):
            raise ValueError(f"{tag[:40]!r} is not a hashtag: use '#word' separated by spaces")
    return " ".join(tags)


Hashtags = Annotated[str, AfterValidator(_hashtags)]


UTC_TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|\+00:00)$"


def _utc_timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be a string holding an ISO 8601 UTC datetime")
    try:
        return parse_utc(value)
    except TimestampError as exc:
        raise ValueError(str(exc)) from None


UtcTimestamp = Annotated[
    datetime,
    BeforeValidator(_utc_timestamp),
    Field(
        description="ISO 8601 datetime in UTC (Z or +00:00)",
        examples=["2025-10-21T14:30:00Z"],
        # What parse_utc accepts, for the OpenAPI document: other offsets are refused.
        json_schema_extra={"pattern": UTC_TIMESTAMP_PATTERN},
    ),
]
