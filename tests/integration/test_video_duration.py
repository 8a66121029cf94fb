"""The upload check reads the video's duration from its MP4 header and stores it on the video
record (shown as `durationSeconds`), for the pre-flight check against the creator's maximum."""

from __future__ import annotations

from tests.integration.test_videos import announce, deliver_s3_event, mp4, put, video_of
from tests.support import AwsStack
from tests.unit.test_mp4_duration import mp4 as mp4_with_header


def test_the_duration_is_stored_when_the_upload_is_checked(stack: AwsStack) -> None:
    user = stack.user("basic")
    data = mp4_with_header(73.25, 200_000, moov_first=False)
    announced = announce(user, len(data))
    assert put(announced["upload"]["url"], data, "video/mp4").status_code == 200
    deliver_s3_event(stack, user.video_item(announced["id"])["s3Key"])

    video = video_of(user, announced["id"])
    assert video["status"] == "ready"
    assert video["durationSeconds"] == 73.25
    assert float(user.video_item(announced["id"])["durationSeconds"]) == 73.25


def test_a_file_without_a_readable_header_is_ready_without_a_duration(stack: AwsStack) -> None:
    user = stack.user("basic")
    announced = announce(user, 4096)
    assert put(announced["upload"]["url"], mp4(4096), "video/mp4").status_code == 200
    deliver_s3_event(stack, user.video_item(announced["id"])["s3Key"])
    video = video_of(user, announced["id"])
    assert video["status"] == "ready"
    assert "durationSeconds" not in video
