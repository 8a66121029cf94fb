"""Schemathesis against the local stack (its own, see conftest.py) from openapi.json: every
operation with a demo API key, without credentials, and with a credential nobody has. Valid and
invalid requests alike (Schemathesis generates both, and probes methods no route has) must get
no 5xx, only documented status codes and content types, and bodies that match the documented
schemas.

Deterministic: Hypothesis derandomized, no example database, a fixed budget of examples per
operation (FUZZ_SCALE=10 in the environment multiplies it, for a deeper run by hand). The
closing test checks the request count and prints the figures (`-s` shows them).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.launcher import ROOT, RunningStack

pytestmark = pytest.mark.e2e

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Hypothesis examples per operation and credential (Schemathesis adds its own explicit and
# boundary cases on top).
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
WITH_KEY_EXAMPLES = 45 * SCALE
WITHOUT_CREDENTIALS_EXAMPLES = 12 * SCALE
UNKNOWN_CREDENTIAL_EXAMPLES = 8 * SCALE
MIN_REQUESTS = 1000
UNKNOWN_KEY = "psk_fuzz_nobody_has_this_key_000000000000"

# The committed document (tests/contract checks that it is the code's, and below that the stack
# serves it). Loaded at import: Schemathesis' fixture-based loader fails under this pytest.
schema = schemathesis.openapi.from_path(ROOT / "openapi.json")
OPERATIONS = {
    f"{operation.method.upper()} {operation.path}"
    for operation in (result.ok() for result in schema.get_all_operations())
}

# (credential, "METHOD /path") -> status -> count
SEEN: dict[tuple[str, str], Counter[int]] = {}
STARTED: list[float] = []


def _settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def _call(case: Any, stack: RunningStack, credential: str, authorization: str | None) -> None:
    if not STARTED:
        STARTED.append(time.monotonic())
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    extra = {"Authorization": authorization} if authorization else None
    try:
        response = case.call_and_validate(
            base_url=stack.api_url, headers=extra, checks=CHECKS, timeout=30
        )
    except BaseException as exc:
        exc.add_note(f"local stack log (last lines):\n{stack.log_tail(40)}")
        raise
    SEEN.setdefault((credential, f"{case.method} {case.path}"), Counter())[
        response.status_code
    ] += 1


@schema.parametrize()
@_settings(WITH_KEY_EXAMPLES)
def test_with_an_api_key(case: Any, fuzz_stack: RunningStack) -> None:
    _call(case, fuzz_stack, "api key", f"Bearer {fuzz_stack.keys['basic']}")


@schema.parametrize()
@_settings(WITHOUT_CREDENTIALS_EXAMPLES)
def test_without_credentials(case: Any, fuzz_stack: RunningStack) -> None:
    _call(case, fuzz_stack, "none", None)


@schema.parametrize()
@_settings(UNKNOWN_CREDENTIAL_EXAMPLES)
def test_with_an_unknown_credential(case: Any, fuzz_stack: RunningStack) -> None:
    _call(case, fuzz_stack, "unknown key", f"Bearer {UNKNOWN_KEY}")


def test_the_stack_serves_the_committed_document(fuzz_stack: RunningStack) -> None:
    served = requests.get(f"{fuzz_stack.api_url}/api/v1/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.content == (ROOT / "openapi.json").read_bytes()
    page = requests.get(f"{fuzz_stack.api_url}/api/v1/docs", timeout=30)
    assert page.status_code == 200
    assert "swagger-ui-bundle.js" in page.text


def test_enough_requests_across_all_operations() -> None:
    documented = {key: statuses for key, statuses in SEEN.items() if key[1] in OPERATIONS}
    if {operation for _, operation in documented} != OPERATIONS:
        pytest.skip("only part of the fuzz tests ran")
    total = sum(sum(statuses.values()) for statuses in documented.values())
    probes = sum(sum(s.values()) for key, s in SEEN.items() if key[1] not in OPERATIONS)
    by_credential: dict[str, Counter[int]] = {}
    for (credential, _), statuses in documented.items():
        by_credential.setdefault(credential, Counter()).update(statuses)
    figures = (
        f"{total} requests to {len(OPERATIONS)} operations (+{probes} to undocumented methods)"
        f" in {time.monotonic() - STARTED[0]:.0f} s; statuses by credential: "
        + "; ".join(f"{c}: {dict(sorted(s.items()))}" for c, s in sorted(by_credential.items()))
    )
    print(figures)
    assert total >= MIN_REQUESTS, figures
    for credential in ("api key", "none", "unknown key"):
        missing = {op for op in OPERATIONS if not documented.get((credential, op))}
        assert not missing, f"{credential}: no requests to {sorted(missing)}"
    # With the key, every operation got past the authorizer (a 2xx or a request error).
    for operation in OPERATIONS:
        assert set(documented[("api key", operation)]) - {401}, operation
