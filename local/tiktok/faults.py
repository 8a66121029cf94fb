"""Fault injection: the fault plans (fail, drop or delay a call, fail a publish, stretch its
processing) and the `POST /_faults` and `POST /_control` actions that drive the stand-in from
outside."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from local.tiktok.protocol import ENDPOINT_PATHS, Reply
from local.tiktok.state import StubState

_DEFAULT_FAULT_CODES: Final = {
    400: "invalid_param",
    401: "access_token_invalid",
    403: "spam_risk_too_many_posts",
    404: "not_found",
    429: "rate_limit_exceeded",
}


@dataclass
class Fault:
    """An injected failure: `kind` is fail (answer status+code), drop (close the connection
    without a reply) or delay (sleep before answering)."""

    kind: str
    endpoint: str
    times: int = 1
    status: int = 500
    code: str = "internal_error"
    message: str = "injected fault"
    chunk_index: int | None = None
    publish_id: str | None = None
    after_processing: bool = False
    seconds: float = 0.0
    # An upload fault's reply carries TikTok's progress header unless this is off.
    progress_header: bool = True

    def matches(self, endpoint: str, chunk_index: int | None, publish_id: str | None) -> bool:
        return (
            self.endpoint == endpoint
            and (self.chunk_index is None or self.chunk_index == chunk_index)
            and (self.publish_id is None or self.publish_id == publish_id)
        )

    def view(self) -> dict[str, Any]:
        shown = {k: v for k, v in self.__dict__.items() if v is not None}
        if self.progress_header:
            del shown["progress_header"]  # the default: listed only when switched off
        return shown


class FaultPlans(StubState):
    """The injected faults, consumed by the calls they match."""

    _FAULT_ACTIONS: Final = frozenset(
        {
            "fail_next",
            "fail_chunk",
            "drop_next",
            "drop_chunk",
            "delay_next",
            "fail_publish",
            "clear_faults",
        }
    )

    _CONTROL_ACTIONS: Final = frozenset(
        {
            "add_creator",
            "issue_tokens",
            "expire_access_token",
            "expire_refresh_token",
            "authorization_code",
            "advance",
            "reset",
            "set_processing_fetches",
            "set_rate_limits",
        }
    )

    def _add_fault(self, fault: Fault) -> None:
        if fault.endpoint not in ENDPOINT_PATHS:
            raise ValueError(f"unknown endpoint {fault.endpoint!r}; one of {list(ENDPOINT_PATHS)}")
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def fail_next(
        self,
        endpoint: str,
        status: int = 500,
        code: str | None = None,
        message: str = "injected fault",
        times: int = 1,
    ) -> None:
        """The next `times` calls of `endpoint` answer `status` with error `code` (HTTP 200
        with an error code works too, as TikTok does for spam_risk_* on creator_info)."""
        code = code or _DEFAULT_FAULT_CODES.get(status, "internal_error")
        self._add_fault(Fault("fail", endpoint, times, status, code, message))

    def fail_chunk(
        self,
        index: int,
        status: int = 500,
        code: str | None = None,
        times: int = 1,
        publish_id: str | None = None,
        progress_header: bool = True,
    ) -> None:
        """The PUT of chunk `index` (0-based) answers `status`, `times` times; with
        `progress_header` off the reply lacks the `Content-Range` progress header."""
        code = code or _DEFAULT_FAULT_CODES.get(status, "internal_error")
        fault = Fault("fail", "upload", times, status, code, chunk_index=index)
        fault.publish_id = publish_id
        fault.progress_header = progress_header
        self._add_fault(fault)

    def drop_next(self, endpoint: str, times: int = 1, after_processing: bool = False) -> None:
        """Closes the connection of the next `times` calls without a reply; with
        `after_processing` the call takes effect first (the reply is what gets lost)."""
        self._add_fault(Fault("drop", endpoint, times, after_processing=after_processing))

    def drop_chunk(
        self,
        index: int,
        times: int = 1,
        after_processing: bool = False,
        publish_id: str | None = None,
    ) -> None:
        """Closes the connection of the PUT of chunk `index` without a reply."""
        fault = Fault("drop", "upload", times, chunk_index=index, after_processing=after_processing)
        fault.publish_id = publish_id
        self._add_fault(fault)

    def delay_next(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `endpoint` wait `seconds` before answering."""
        self._add_fault(Fault("delay", endpoint, times, seconds=seconds))

    def fail_publish(self, publish_id: str | None = None, fail_reason: str = "internal") -> None:
        """Makes a publish end FAILED with `fail_reason`: an existing one at once, or (no id)
        the next one created, when its upload completes."""
        with self._lock:
            if publish_id is None:
                self._pending_fail_reasons.append(fail_reason)
                return
            post = self._posts[publish_id]
            post.fail_reason = fail_reason
            post.failed_at = self.now()
            post.published = False

    def set_processing_fetches(self, count: int, publish_id: str | None = None) -> None:
        """Posts created from now on (or, with `publish_id`, that one) report PROCESSING_UPLOAD
        for `count` status fetches after their upload completes, then PUBLISH_COMPLETE."""
        with self._lock:
            if publish_id is None:
                self.processing_fetches = count
            else:
                self._posts[publish_id].processing_fetches_left = count

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.view() for f in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._pending_fail_reasons.clear()

    def _take_fault(
        self, endpoint: str, chunk_index: int | None = None, publish_id: str | None = None
    ) -> tuple[float, Fault | None]:
        """Consumes the delays and the first fail/drop fault matching this call."""
        with self._lock:
            delay, chosen = 0.0, None
            for fault in list(self._faults):
                if not fault.matches(endpoint, chunk_index, publish_id):
                    continue
                if fault.kind == "delay":
                    delay += fault.seconds
                elif chosen is None:
                    chosen = fault
                else:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            return delay, chosen

    def _control_reply(self, method: str, path: str, body: bytes) -> Reply | None:
        """The answer to the `/_faults` and `/_control` endpoints; None for other paths."""
        if path == "/_faults" and method == "GET":
            return Reply.json(200, self.faults())
        if path == "/_faults" and method == "DELETE":
            self.clear_faults()
            return Reply.json(200, {"ok": True})
        if path in ("/_faults", "/_control") and method == "POST":
            allowed = self._FAULT_ACTIONS if path == "/_faults" else self._CONTROL_ACTIONS
            return self._call_action(body, allowed)
        return None

    def _call_action(self, body: bytes, allowed: frozenset[str]) -> Reply:
        """`{"action": name, ...arguments}` calls the Python method of that name."""
        try:
            arguments = json.loads(body or b"{}")
            action = arguments.pop("action", None) if isinstance(arguments, dict) else None
            if action == "clear":
                action = "clear_faults"
            if action not in allowed:
                return Reply.json(400, {"error": f"action must be one of {sorted(allowed)}"})
            result = getattr(self, action)(**arguments)
        except (TypeError, ValueError, KeyError) as error:
            return Reply.json(400, {"error": str(error)})
        return Reply.json(200, {"ok": True, "result": result})
