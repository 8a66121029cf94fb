"""The publisher as the publish queue's consumer: a batch of posts published at the same time,
each at its second and at most once, with one post's trouble reported for that message alone
(partial batch failure), and the redrive path ending a post `failed` with its last error."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from post_scheduler import wiring
from post_scheduler.domain.publishing import PostPublisher, PublishCommand
from tests.integration.test_publisher import (  # noqa: F401 - the fixture is used by name
    Scene,
    _assert_failed_and_released,
    _assert_published_once,
    scene_factory,
)


def _queue_url(scene: Scene) -> str:
    return scene.stack.template.attributes["PublishQueue.QueueUrl"]


def _sqs_event(scene: Scene, bodies: list[str]) -> dict[str, Any]:
    """The bodies sent to the publish queue and received back, as the event source hands
    them to the function (real receipt handles, so the publisher can delay a retry)."""
    sqs, url = boto3.client("sqs"), _queue_url(scene)
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    messages: list[dict[str, Any]] = []
    while len(messages) < len(bodies):
        messages += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    arn = scene.stack.template.attributes["PublishQueue.Arn"]
    by_body = {m["Body"]: m for m in messages}
    return {
        "Records": [
            {
                "messageId": by_body[body]["MessageId"],
                "receiptHandle": by_body[body]["ReceiptHandle"],
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": by_body[body]["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def _input(scene: Scene) -> str:
    (schedule,) = [
        s
        for s in scene.stack.schedules()
        if json.loads(s["Target"]["Input"])["scheduleId"] == scene.schedule_id
    ]
    assert schedule["Target"]["Arn"] == scene.stack.template.attributes["PublishQueue.Arn"]
    return str(schedule["Target"]["Input"])


def test_a_batch_publishes_every_post_at_its_second_and_one_bad_post_fails_alone(
    scene_factory: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIN_SCHEDULE_LEAD_SECONDS", "1")
    monkeypatch.setenv("PUBLISH_RETRY_DELAY_SECONDS", "1")
    wiring.reset()
    scenes = [scene_factory(minutes_ahead=4 / 60) for _ in range(5)]
    bad, good = scenes[0], scenes[1:]
    original = PostPublisher.publish
    due = max(s.post.scheduledPublishTime for s in scenes)

    def publish(self: PostPublisher, command: PublishCommand, *args: Any, **kwargs: Any) -> Any:
        if command.scheduleId == bad.schedule_id:
            # Until well past the others' second: they are 3 s late if they waited for it.
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 3.0))
            raise ConnectionError("the database could not be reached")
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(PostPublisher, "publish", publish)
    event = _sqs_event(bad, [_input(s) for s in scenes] + ['{"not": "a post"}'])

    result = bad.stack.gateway.runner.invoke("PublisherFunction", event)

    bad_message = event["Records"][0]["messageId"]
    assert result == {"batchItemFailures": [{"itemIdentifier": bad_message}]}
    for scene in good:
        _assert_published_once_among(scene, len(good))
        post = scene.post
        assert post.publishStartedAt is not None
        lag = (post.publishStartedAt - post.scheduledPublishTime).total_seconds()
        # Not held up by the bad post (3 s) or each other; the margin is for a loaded machine.
        assert 0 <= lag < 2, lag
    assert bad.post.status == "pending"  # untouched: it comes back for another try
    # Its message comes back after PUBLISH_RETRY_DELAY_SECONDS, not the 960 s visibility.
    sqs = boto3.client("sqs")
    deadline = time.monotonic() + 5
    again: list[dict[str, Any]] = []
    while not again and time.monotonic() < deadline:
        again = sqs.receive_message(QueueUrl=_queue_url(bad), WaitTimeSeconds=1).get("Messages", [])
    assert [m["MessageId"] for m in again] == [bad_message]


def _assert_published_once_among(scene: Scene, posts: int) -> None:
    """This scene's post executed, with exactly one complete upload of its bytes."""
    post = scene.post
    assert post.status == "executed", (post.status, post.failureReason, post.lastError)
    uploads = [u for u in scene.complete_uploads() if u["publish_id"] == post.tiktokPublishId]
    assert len(uploads) == 1
    assert uploads[0]["sha256"] == scene.sha256()
    assert len(scene.complete_uploads()) <= posts


def test_a_post_is_published_once_when_its_message_comes_twice(
    scene_factory: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIN_SCHEDULE_LEAD_SECONDS", "1")
    wiring.reset()
    scene = scene_factory(minutes_ahead=3 / 60)
    body = _input(scene)
    event = _sqs_event(scene, [body])
    duplicate = dict(event["Records"][0], messageId="duplicate-delivery")
    event["Records"].append(duplicate)

    result = scene.stack.gateway.runner.invoke("PublisherFunction", event)

    assert result == {"batchItemFailures": []}
    _assert_published_once(scene)


def test_redriven_message_ends_the_post_failed_with_its_last_error(
    scene_factory: Any,  # noqa: F811
) -> None:
    scene = scene_factory()
    store = scene.publisher().store
    now = datetime.now(UTC)
    claimed = store.claim(scene.post, now, now + timedelta(seconds=1), "a-run")
    assert claimed is not None
    store.release_lease(claimed, "a-run", now, "TikTok internal_error: still down")
    redriven = {
        "Records": [
            {
                "messageId": "4c2f8a5e-0000-4000-8000-000000000002",
                "receiptHandle": "handle",
                "body": _input(scene),
                "attributes": {"ApproximateReceiveCount": "6"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": scene.stack.template.attributes["PublisherFailureQueue.Arn"],
                "awsRegion": "us-east-1",
            }
        ]
    }

    result = scene.stack.gateway.runner.invoke("PublishFailuresFunction", redriven)

    assert result == {"batchItemFailures": []}
    _assert_failed_and_released(scene, "gave up", "internal_error: still down")


def test_a_message_that_comes_early_is_deferred_until_shortly_before_its_second(
    scene_factory: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Scheduler fires anywhere in the minute before a post: a message due in 40 s is not
    waited for (that would hold an execution for the minute) but comes back 5 s before."""
    monkeypatch.setenv("MIN_SCHEDULE_LEAD_SECONDS", "1")
    wiring.reset()
    early = scene_factory(minutes_ahead=40 / 60)
    soon = scene_factory(minutes_ahead=3 / 60)
    event = _sqs_event(early, [_input(early), _input(soon)])
    started = time.monotonic()

    result = early.stack.gateway.runner.invoke("PublisherFunction", event)

    early_message = event["Records"][0]["messageId"]
    assert result == {"batchItemFailures": [{"itemIdentifier": early_message}]}
    assert time.monotonic() - started < 15  # it waited for the soon post, not the early one
    _assert_published_once_among(soon, 2)
    post = early.post
    assert post.status == "pending"
    assert post.publishStartedAt is None  # not claimed, nothing sent to TikTok
    # The one upload TikTok has is the soon post's.
    assert [u["publish_id"] for u in early.complete_uploads()] == [soon.post.tiktokPublishId]
    # It is back on the queue about 5 s before its second: not now, not after the 960 s.
    sqs = boto3.client("sqs")
    assert sqs.receive_message(QueueUrl=_queue_url(early)).get("Messages", []) == []
    due_in = (post.scheduledPublishTime - datetime.now(UTC)).total_seconds()
    deadline = time.monotonic() + due_in
    again: list[dict[str, Any]] = []
    while not again and time.monotonic() < deadline:
        again = sqs.receive_message(QueueUrl=_queue_url(early), WaitTimeSeconds=1).get(
            "Messages", []
        )
    assert [m["MessageId"] for m in again] == [early_message]
    returned_before = (post.scheduledPublishTime - datetime.now(UTC)).total_seconds()
    assert 2 <= returned_before <= 8, returned_before


def test_a_direct_invocation_still_waits_for_its_second(
    scene_factory: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A schedule made before the queue invokes the publisher directly: nothing can bring
    that event back, so it waits for the second as before."""
    monkeypatch.setenv("MIN_SCHEDULE_LEAD_SECONDS", "1")
    wiring.reset()
    scene = scene_factory(minutes_ahead=8 / 60)

    outcome = scene.stack.gateway.runner.invoke("PublisherFunction", json.loads(_input(scene)))

    assert outcome["result"] == "executed", outcome
    post = scene.post
    assert post.publishStartedAt is not None
    lag = (post.publishStartedAt - post.scheduledPublishTime).total_seconds()
    assert 0 <= lag < 2, lag  # it waited; the margin is for a loaded machine
