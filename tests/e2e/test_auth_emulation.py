"""Authentication over HTTP against the local stack, whose gateway follows the template: no
identity source and no gateway cache, so every 401 is in the API's envelope and a revoked key
stops working within seconds."""

from __future__ import annotations

import time

import pytest
import requests

from local.launcher import RunningStack

pytestmark = pytest.mark.e2e

PROBE = "/api/v1/videos"


def test_no_authorization_header_gets_the_envelope(local_stack: RunningStack) -> None:
    for headers in ({}, {"Authorization": ""}, {"Authorization": "Basic abc"}):
        response = requests.get(local_stack.url(PROBE), headers=headers, timeout=30)
        assert response.status_code == 401
        assert response.json()["success"] is False
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_revoked_key_is_refused_within_ten_seconds(local_stack: RunningStack) -> None:
    minted = local_stack.call("POST", "/api/v1/api-keys", json={"name": "e2e revoked"})
    assert minted.status_code in (200, 201), minted.text
    key, key_id = minted.json()["data"]["apiKey"], minted.json()["data"]["keyId"]

    def probe() -> requests.Response:
        return requests.get(
            local_stack.url(PROBE), headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    assert probe().status_code == 200
    assert local_stack.call("DELETE", f"/api/v1/api-keys/{key_id}").ok
    revoked_at = time.monotonic()
    while (answer := probe()).status_code == 200:
        assert time.monotonic() - revoked_at < 10, "the revoked key still works after 10 s"
        time.sleep(0.25)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHORIZED"
