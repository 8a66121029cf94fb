"""The time rules: minimum lead, horizon, and the minute the Scheduler fires in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from post_scheduler.domain.time_rules import check_publish_time, schedule_fire_time
from post_scheduler.errors import Unprocessable

NOW = datetime(2025, 10, 21, 14, 0, 30, 250_000, tzinfo=UTC)
LEAD = 900
HORIZON = 365


def check(publish_at: datetime, lead: int = LEAD, horizon: int = HORIZON) -> None:
    check_publish_time(publish_at, NOW, lead, horizon)


@pytest.mark.parametrize(
    "publish_at",
    [
        NOW + timedelta(seconds=LEAD),  # exactly the minimum lead
        NOW + timedelta(seconds=LEAD, milliseconds=1),
        NOW + timedelta(days=1),
        NOW + timedelta(days=HORIZON),  # exactly the horizon
    ],
)
def test_accepted_times(publish_at: datetime) -> None:
    check(publish_at)


@pytest.mark.parametrize(
    ("publish_at", "message"),
    [
        (NOW - timedelta(days=1), "in the past"),
        (NOW - timedelta(milliseconds=1), "in the past"),
        (NOW, "in the past"),
        (NOW + timedelta(milliseconds=1), "at least 900 seconds"),
        (NOW + timedelta(seconds=LEAD) - timedelta(milliseconds=1), "at least 900 seconds"),
        (NOW + timedelta(days=HORIZON, milliseconds=1), "within 365 days"),
        (datetime(9999, 12, 31, tzinfo=UTC), "within 365 days"),
    ],
)
def test_refused_times_are_422(publish_at: datetime, message: str) -> None:
    with pytest.raises(Unprocessable, match=message) as refused:
        check(publish_at)
    assert refused.value.status_code == 422
    assert refused.value.code == "UNPROCESSABLE_ENTITY"


def test_the_lead_is_configurable() -> None:
    soon = NOW + timedelta(seconds=61)
    with pytest.raises(Unprocessable):
        check(soon)
    check(soon, lead=60)
    check(NOW + timedelta(milliseconds=1), lead=0)
    with pytest.raises(Unprocessable, match="in the past"):
        check(NOW, lead=0)


def test_the_lead_error_says_when_the_earliest_time_is() -> None:
    with pytest.raises(Unprocessable) as refused:
        check(NOW + timedelta(minutes=5))
    assert refused.value.details == {
        "earliestAllowed": "2025-10-21T14:15:30.250Z",
        "minimumLeadSeconds": 900,
    }


@pytest.mark.parametrize(
    ("publish_at", "fires_at"),
    [
        # The whole minute before the requested time, whatever its seconds.
        (datetime(2025, 10, 21, 15, 30, 0, tzinfo=UTC), datetime(2025, 10, 21, 15, 29, tzinfo=UTC)),
        (
            datetime(2025, 10, 21, 15, 30, 59, 999_000, tzinfo=UTC),
            datetime(2025, 10, 21, 15, 29, tzinfo=UTC),
        ),
        (datetime(2025, 10, 22, 0, 0, 10, tzinfo=UTC), datetime(2025, 10, 21, 23, 59, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
        # The minute before is the current one: still fine.
        (datetime(2025, 10, 21, 14, 1, 45, tzinfo=UTC), datetime(2025, 10, 21, 14, 0, tzinfo=UTC)),
        # The minute before is already over (a very short lead): clamp to the current minute.
        (datetime(2025, 10, 21, 14, 0, 50, tzinfo=UTC), datetime(2025, 10, 21, 14, 0, tzinfo=UTC)),
    ],
)
def test_schedule_fire_time(publish_at: datetime, fires_at: datetime) -> None:
    fire = schedule_fire_time(publish_at, NOW)
    assert fire == fires_at
    assert fire.second == 0
    assert fire.microsecond == 0
    # Never in a minute that is already over, never after the requested time.
    assert NOW.replace(second=0, microsecond=0) <= fire < publish_at
