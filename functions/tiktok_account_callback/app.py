"""GET /api/v1/tiktok-accounts/callback (public: TikTok redirects the browser here). It links
nothing: anyone's browser can arrive here with any `code` and `state`. It hands them on, either
to the deployer's app (CONNECT_RETURN_URL) or to a small page that asks the user for their API
key and completes the flow with `POST /api/v1/tiktok-accounts/connect/complete`, which links the
account only for the user who started it."""

import base64
import hashlib
import os
import re
from typing import Annotated
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ValidationFailed
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings

check_settings("tiktok_account_callback")  # fail at cold start, naming any missing variable

api = JsonApi(authenticated=False)

Param = Annotated[str | None, Query(max_length=2048)]
STATE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # what /connect issues (256 random bits)

# The page reads code and state from its own address (nothing from the request is written into
# it), removes them from the address bar and history, and posts them with the key the user types.
_SCRIPT = """
const q = new URLSearchParams(location.search);
const flow = {state: q.get("state") || ""};
for (const [name, field] of [["code", "code"], ["error", "error"],
                             ["error_description", "errorDescription"]]) {
  if (q.get(name)) flow[field] = q.get(name);
}
history.replaceState(null, "", location.pathname);
const out = document.getElementById("result");
document.getElementById("connect").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = document.getElementById("key").value.trim();
  const answer = await fetch(new URL("connect/complete", location.href), {
    method: "POST",
    headers: {"Content-Type": "application/json", "Authorization": "Bearer " + key},
    body: JSON.stringify(flow),
  });
  const body = await answer.json().catch(() => ({}));
  out.textContent = answer.ok
    ? "Connected @" + body.data.account.username + " (account " + body.data.account.id + ")."
    : "Not connected: " + ((body.error && body.error.message) || answer.status);
});
""".strip()
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect your TikTok account</title></head>
<body><h1>Connect your TikTok account</h1>
<p>TikTok sent you back here. To link the TikTok account to your scheduler account, enter the
API key (or token) of the scheduler account that started connecting. A flow started by anyone
else links nothing.</p>
<form id="connect"><label>API key <input id="key" type="password" autocomplete="off"
required></label> <button>Connect</button></form>
<p id="result" role="status"></p>
<script>{_SCRIPT}</script>
</body></html>
"""
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # The address carries the authorization code: never hand it to another site.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; connect-src 'self';"
        " form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@api.routes.get(
    "/api/v1/tiktok-accounts/callback",
    summary="TikTok OAuth callback (links nothing)",
    description=(
        "Where TikTok sends the browser back; not called by API clients. It links nothing: it"
        " redirects (302) to the deployment's app with `code` and `state` (and TikTok's"
        " `error`), or, when no app is configured, answers a page that completes the flow"
        " with the user's API key through `POST /api/v1/tiktok-accounts/connect/complete`."
    ),
    responses={
        200: {
            "description": "The page that completes the flow with the user's API key",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        # A redirect has no body to describe (an empty `content`, not the return annotation's).
        302: {
            "description": "To the deployment's app, with TikTok's query parameters",
            "content": {},
        },
        **docs.errors(400, 500, 503),
    },
    tags=["TikTok accounts"],
)
@tracer.capture_method
def tiktok_account_callback(
    code: Param = None,
    state: Param = None,
    error: Param = None,
    error_description: Param = None,
) -> Response[str]:
    # Only what TikTok sends: a state of ours' shape, and a code or an error.
    if not state or not STATE_PATTERN.match(state):
        raise ValidationFailed("the callback lacks a valid `state`", {"field": "state"})
    if not code and not error:
        raise ValidationFailed("the callback lacks the authorization `code`", {"field": "code"})
    return_url = os.environ.get("CONNECT_RETURN_URL", "").strip()
    if not return_url:
        return Response(200, "text/html; charset=utf-8", PAGE, PAGE_HEADERS)
    given = {"code": code, "state": state, "error": error, "error_description": error_description}
    query = urlencode({name: value for name, value in given.items() if value})
    separator = "&" if "?" in return_url else "?"
    headers = {**PAGE_HEADERS, "Location": f"{return_url}{separator}{query}"}
    return Response(302, "text/plain", "", headers)


lambda_handler = api.lambda_handler()
