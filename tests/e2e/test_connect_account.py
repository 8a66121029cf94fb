"""Connecting a TikTok account through the browser flow, locally: connect -> the stand-in's
authorization page (approves at once) -> the API's callback -> the account is listed and can
be scheduled to."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local.launcher import RunningStack

pytestmark = pytest.mark.e2e


def _connect(stack: RunningStack, open_id: str) -> requests.Response:
    started = stack.call("GET", "/api/v1/tiktok-accounts/connect", plan="professional")
    assert started.status_code == 200, started.text
    url = started.json()["data"]["authorizationUrl"]
    assert url.startswith(f"{stack.stub_url}/v2/auth/authorize/?")
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == [f"{stack.api_url}/api/v1/tiktok-accounts/callback"]
    # What a browser does: open the page, follow TikTok's redirect back to the callback.
    return requests.get(f"{url}&open_id={open_id}", timeout=30)


def test_a_browser_connects_an_account_end_to_end(local_stack: RunningStack) -> None:
    answer = _connect(local_stack, "e2e-connected-creator")
    assert answer.status_code == 200, answer.text
    assert [hop.status_code for hop in answer.history] == [302]
    connected = answer.json()["data"]
    assert connected["created"] is True
    account = connected["account"]
    assert account["username"] == "e2e_connected_creator"

    listed = local_stack.call("GET", "/api/v1/tiktok-accounts", plan="professional").json()
    assert account["id"] in [item["id"] for item in listed["data"]]

    again = _connect(local_stack, "e2e-connected-creator").json()["data"]
    assert again["created"] is False  # the same TikTok user refreshes, never duplicates
    assert again["account"]["id"] == account["id"]
    assert local_stack.call(
        "DELETE", f"/api/v1/tiktok-accounts/{account['id']}", plan="professional"
    ).ok


def test_a_replayed_callback_is_refused(local_stack: RunningStack) -> None:
    answer = _connect(local_stack, "e2e-replayed-creator")
    assert answer.status_code == 200
    replay = requests.get(answer.url, timeout=30)  # the same code and state a second time
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "VALIDATION_ERROR"
