"""Connecting a TikTok account through the browser flow, locally: connect -> the stand-in's
authorization page (approves at once) -> the API's public callback, which links nothing and
answers the hand-off page -> the page completes the flow with the user's key
(`POST .../connect/complete`) -> the account is listed. A flow started by one user and completed
by another links nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local.launcher import RunningStack

pytestmark = pytest.mark.e2e

COMPLETE = "/api/v1/tiktok-accounts/connect/complete"


def _approve(stack: RunningStack, open_id: str, plan: str = "professional") -> requests.Response:
    """What a browser does: start, open TikTok's page, follow its redirect to the callback."""
    started = stack.call("GET", "/api/v1/tiktok-accounts/connect", plan=plan)
    assert started.status_code == 200, started.text
    url = started.json()["data"]["authorizationUrl"]
    assert url.startswith(f"{stack.stub_url}/v2/auth/authorize/?")
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == [f"{stack.api_url}/api/v1/tiktok-accounts/callback"]
    page = requests.get(f"{url}&open_id={open_id}", timeout=30)
    assert [hop.status_code for hop in page.history] == [302]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "connect/complete" in page.text
    return page


def _flow(page: requests.Response) -> dict[str, str]:
    """What the hand-off page's script reads from its address and posts."""
    query = parse_qs(urlsplit(page.url).query)
    return {"code": query["code"][0], "state": query["state"][0]}


def _accounts(stack: RunningStack, plan: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = stack.call("GET", "/api/v1/tiktok-accounts", plan=plan).json()[
        "data"
    ]
    return listed


def test_a_browser_connects_an_account_end_to_end(local_stack: RunningStack) -> None:
    before = _accounts(local_stack, "professional")
    page = _approve(local_stack, "e2e-connected-creator")
    assert _accounts(local_stack, "professional") == before  # the callback linked nothing

    answer = local_stack.call("POST", COMPLETE, plan="professional", json=_flow(page))
    assert answer.status_code == 200, answer.text
    connected = answer.json()["data"]
    assert connected["created"] is True
    account = connected["account"]
    assert account["username"] == "e2e_connected_creator"
    assert account["id"] in [item["id"] for item in _accounts(local_stack, "professional")]

    again_page = _approve(local_stack, "e2e-connected-creator")
    again = local_stack.call("POST", COMPLETE, plan="professional", json=_flow(again_page))
    assert again.json()["data"]["created"] is False  # the same TikTok user refreshes
    assert again.json()["data"]["account"]["id"] == account["id"]
    assert local_stack.call(
        "DELETE", f"/api/v1/tiktok-accounts/{account['id']}", plan="professional"
    ).ok


def test_a_flow_completed_by_another_user_links_nothing(local_stack: RunningStack) -> None:
    victims_before = _accounts(local_stack, "basic")
    # The attacker (professional) starts; the victim (basic) approves and completes it.
    page = _approve(local_stack, "e2e-victim-creator", plan="professional")

    refused = local_stack.call("POST", COMPLETE, plan="basic", json=_flow(page))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
    assert _accounts(local_stack, "basic") == victims_before
    attackers = [a["username"] for a in _accounts(local_stack, "professional")]
    assert "e2e_victim_creator" not in attackers
    anonymous = local_stack.call("POST", COMPLETE, plan=None, json=_flow(page))
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_replayed_completion_is_refused(local_stack: RunningStack) -> None:
    flow = _flow(_approve(local_stack, "e2e-replayed-creator"))
    assert local_stack.call("POST", COMPLETE, plan="professional", json=flow).ok
    replay = local_stack.call("POST", COMPLETE, plan="professional", json=flow)
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "VALIDATION_ERROR"


def _run_page(page: requests.Response, key: str) -> dict[str, Any]:
    node = Path(__file__).parent / "node"
    result = subprocess.run(
        ["node", "handoff_page.mjs"],
        cwd=node,
        env={**os.environ, "PAGE_URL": page.url, "API_KEY": key},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_the_hand_off_page_completes_the_flow_with_the_users_key(
    local_stack: RunningStack,
) -> None:
    """What a person clicks through locally: the page TikTok redirects to, run as a browser
    would (its script under its CSP), with the key the user types."""
    foreign = _run_page(_approve(local_stack, "e2e-page-creator"), local_stack.keys["basic"])
    assert foreign["result"].startswith("Not connected:")
    assert "e2e_page_creator" not in [a["username"] for a in _accounts(local_stack, "basic")]

    page = _approve(local_stack, "e2e-page-creator")
    ran = _run_page(page, local_stack.keys["professional"])
    assert ran["status"] == 200
    assert ran["cspAllowsScript"] is True
    assert "code=" not in ran["addressAfter"]  # the code leaves the address bar and history
    assert ran["result"].startswith("Connected @e2e_page_creator")
    listed = _accounts(local_stack, "professional")
    (account,) = [a for a in listed if a["username"] == "e2e_page_creator"]
    assert local_stack.call(
        "DELETE", f"/api/v1/tiktok-accounts/{account['id']}", plan="professional"
    ).ok
