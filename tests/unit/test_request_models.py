"""Request models: strict types, no unknown fields, UTC times, TikTok caption rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from post_scheduler.models.fields import utf16_length
from post_scheduler.models.requests import CreateScheduleRequest, UpdateScheduleRequest

VIDEO = "550e8400-e29b-41d4-a716-446655440000"
ACCOUNT = "123e4567-e89b-12d3-a456-426614174000"
BASE: dict[str, Any] = {
    "videoId": VIDEO,
    "tiktokAccountId": ACCOUNT,
    "scheduledPublishTime": "2025-10-21T14:30:00Z",
}


def create(**fields: Any) -> CreateScheduleRequest:
    return CreateScheduleRequest.model_validate({**BASE, **fields})


def refused(model: type[Any], body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as error:
        model.model_validate(body)
    return list(error.value.errors())


def test_the_references_example_is_accepted() -> None:
    request = create(title="Scheduled Amazing Video", hashtags="#trending #viral")
    assert request.videoId == VIDEO
    assert request.tiktokAccountId == ACCOUNT
    assert request.scheduledPublishTime == datetime(2025, 10, 21, 14, 30, tzinfo=UTC)
    assert request.title == "Scheduled Amazing Video"
    assert request.hashtags == "#trending #viral"
    assert request.options is None


@pytest.mark.parametrize("missing", ["videoId", "tiktokAccountId", "scheduledPublishTime"])
def test_required_fields(missing: str) -> None:
    errors = refused(CreateScheduleRequest, {k: v for k, v in BASE.items() if k != missing})
    assert [(e["loc"], e["type"]) for e in errors] == [((missing,), "missing")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("videoId", 550),
        ("videoId", ["550e8400"]),
        ("videoId", None),
        ("videoId", True),
        ("tiktokAccountId", 123),
        ("scheduledPublishTime", 1761057000),
        ("scheduledPublishTime", 1761057000.5),
        ("scheduledPublishTime", None),
        ("scheduledPublishTime", {"at": "2025-10-21T14:30:00Z"}),
        ("title", 42),
        ("title", ["a"]),
        ("hashtags", ["#a", "#b"]),
        ("options", "SELF_ONLY"),
        ("options", {"disableComment": "true"}),
        ("options", {"disableComment": 1}),
        ("options", {"videoCoverTimestampMs": "100"}),
        ("options", {"videoCoverTimestampMs": 1.5}),
        ("options", {"videoCoverTimestampMs": -1}),
        ("options", {"privacyLevel": "EVERYONE"}),
        ("options", {"unknownOption": True}),
    ],
)
def test_types_are_strict(field: str, value: Any) -> None:
    errors = refused(CreateScheduleRequest, {**BASE, field: value})
    assert errors[0]["loc"][0] == field


@pytest.mark.parametrize(
    "identifier",
    ["", "../../etc", "a/b", "a#b", "USER#x", "a" * 65, " 550e8400", "550e8400\n", "ü-id", "-lead"],
)
def test_ids_are_plain_tokens(identifier: str) -> None:
    errors = refused(CreateScheduleRequest, {**BASE, "videoId": identifier})
    assert errors[0]["loc"] == ("videoId",)


def test_unknown_fields_are_refused() -> None:
    errors = refused(CreateScheduleRequest, {**BASE, "publishAt": "2025-10-21T14:30:00Z"})
    assert [(e["loc"], e["type"]) for e in errors] == [(("publishAt",), "extra_forbidden")]
    errors = refused(UpdateScheduleRequest, {"status": "cancelled", "userId": "someone-else"})
    assert [e["type"] for e in errors] == ["extra_forbidden"]


@pytest.mark.parametrize(
    "when",
    [
        "2025-10-21T14:30:00",
        "2025-10-21T16:30:00+02:00",
        "2025-10-21T14:30:00-00:00",
        "21/10/2025 14:30",
        "2025-02-30T10:00:00Z",
        "2025-10-21T14:30:60Z",
    ],
)
def test_times_must_be_real_and_utc(when: str) -> None:
    errors = refused(CreateScheduleRequest, {**BASE, "scheduledPublishTime": when})
    assert errors[0]["loc"] == ("scheduledPublishTime",)
    errors = refused(UpdateScheduleRequest, {"scheduledPublishTime": when})
    assert errors[0]["loc"] == ("scheduledPublishTime",)


def test_title_is_measured_in_utf16_units_as_tiktok_does() -> None:
    assert create(title="a" * 2200).title == "a" * 2200
    refused(CreateScheduleRequest, {**BASE, "title": "a" * 2201})
    # One emoji is two UTF-16 units: 1100 fit, 1101 do not.
    assert utf16_length("\U0001f600") == 2
    assert create(title="\U0001f600" * 1100).title == "\U0001f600" * 1100
    refused(CreateScheduleRequest, {**BASE, "title": "\U0001f600" * 1101})
    # Combining accents and CJK are one unit each.
    assert create(title="\u00e9" * 2200).title is not None
    assert create(title="\u4e2d" * 2200).title is not None


def test_title_and_hashtags_must_fit_one_caption_together() -> None:
    create(title="a" * 2000, hashtags="#" + "b" * 99)
    errors = refused(
        CreateScheduleRequest, {**BASE, "title": "a" * 2150, "hashtags": "#" + "b" * 60}
    )
    assert "caption" in errors[0]["msg"]


@pytest.mark.parametrize("text", ["bad\x00byte", "bell\x07", "escape\x1b[31m", "del\x7f"])
def test_control_characters_are_refused(text: str) -> None:
    errors = refused(CreateScheduleRequest, {**BASE, "title": text})
    assert "control characters" in errors[0]["msg"]
    refused(CreateScheduleRequest, {**BASE, "hashtags": f"#{text}"})


def test_tabs_and_newlines_are_allowed_in_titles() -> None:
    assert create(title="line one\nline two\ttabbed\r\n").title == "line one\nline two\ttabbed\r\n"


@pytest.mark.parametrize(
    ("hashtags", "normalised"),
    [
        ("#trending #viral", "#trending #viral"),
        ("  #trending\t#viral  ", "#trending #viral"),
        ("#\u00e9t\u00e9 #\u65e5\u672c", "#\u00e9t\u00e9 #\u65e5\u672c"),
        ("#a_b #c-d #123", "#a_b #c-d #123"),
    ],
)
def test_hashtags_are_normalised(hashtags: str, normalised: str) -> None:
    assert create(hashtags=hashtags).hashtags == normalised


@pytest.mark.parametrize(
    "hashtags", ["", "   ", "trending", "#", "# viral", "#a#b", "##a", "#" + "x" * 101, "#ok nope"]
)
def test_malformed_hashtags_are_refused(hashtags: str) -> None:
    errors = refused(CreateScheduleRequest, {**BASE, "hashtags": hashtags})
    assert errors[0]["loc"] == ("hashtags",)


def test_post_options() -> None:
    request = create(
        options={
            "privacyLevel": "SELF_ONLY",
            "disableComment": True,
            "disableDuet": False,
            "videoCoverTimestampMs": 1500,
        }
    )
    assert request.options is not None
    assert request.options.privacyLevel == "SELF_ONLY"
    assert request.options.disableComment is True
    assert request.options.disableStitch is False


def test_update_needs_at_least_one_field() -> None:
    errors = refused(UpdateScheduleRequest, {})
    assert "at least one" in errors[0]["msg"]


@pytest.mark.parametrize("status", ["pending", "executed", "cancelled"])
def test_update_statuses_of_the_reference(status: str) -> None:
    assert UpdateScheduleRequest.model_validate({"status": status}).status == status


@pytest.mark.parametrize(
    "status", ["failed", "publishing", "PENDING", "canceled", "done", "", 1, None, True]
)
def test_update_refuses_other_statuses(status: Any) -> None:
    body = {"status": status}
    if status is None:
        # An explicit null means "no change", like leaving the field out.
        assert UpdateScheduleRequest.model_validate(body).status is None
        return
    errors = refused(UpdateScheduleRequest, body)
    assert errors[0]["loc"] == ("status",)


def test_update_with_the_references_example() -> None:
    request = UpdateScheduleRequest.model_validate(
        {"scheduledPublishTime": "2025-10-22T10:00:00Z", "status": "pending"}
    )
    assert request.scheduledPublishTime == datetime(2025, 10, 22, 10, tzinfo=UTC)
    assert request.model_fields_set == {"scheduledPublishTime", "status"}
