"""Throttling never fails a post: a throttled DynamoDB claim is retried in the run, and the
post is still published at its second, once."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from post_scheduler.adapters.publication_store import PublicationStore
from tests.integration.test_publisher import (  # noqa: F401 - the fixture is used by name
    _assert_published_once,
    _remaining,
    scene_factory,
)


def _throttled(operation: str, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "Rate of requests exceeds the allowed throughput."}},
        operation,
    )


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
def test_a_throttled_claim_is_retried_and_the_post_executes(
    scene_factory: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    code: str,
) -> None:
    scene = scene_factory()
    original = PublicationStore.claim
    calls: list[int] = []

    def claim(self: PublicationStore, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) <= 3:  # botocore's own retries already gave up on each of these
            raise _throttled("UpdateItem", code)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PublicationStore, "claim", claim)
    clock = scene.at_post_time()
    outcome = scene.publisher(clock).publish(scene.command, _remaining())

    assert outcome.result == "executed", outcome
    assert len(calls) == 4
    _assert_published_once(scene)


def test_a_claim_that_stays_throttled_hands_over_to_a_retry_without_failing_the_post(
    scene_factory: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene = scene_factory()

    def claim(self: PublicationStore, *args: Any, **kwargs: Any) -> Any:
        raise _throttled("UpdateItem", "ProvisionedThroughputExceededException")

    monkeypatch.setattr(PublicationStore, "claim", claim)
    with pytest.raises(ClientError):
        scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert scene.post.status == "pending"  # not failed: the message comes back to try again


def test_other_errors_of_the_claim_are_not_retried(
    scene_factory: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene = scene_factory()
    calls: list[int] = []

    def claim(self: PublicationStore, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise _throttled("UpdateItem", "AccessDeniedException")

    monkeypatch.setattr(PublicationStore, "claim", claim)
    with pytest.raises(ClientError):
        scene.publisher(scene.at_post_time()).publish(scene.command, _remaining())
    assert len(calls) == 1
