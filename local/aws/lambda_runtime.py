"""Runs the template's functions in this process, as Lambda would call them: the handler from
the function's CodeUri (with the template's layers on the import path), a context with a
deadline, and, with `pooled=True`, one execution environment (handler module instance) per
concurrent invocation, as Lambda scales: it never runs two events in one environment at once,
and handler modules keep per-request state (Powertools' resolver holds the current event)."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections import Counter
from types import ModuleType
from typing import Any

from local.aws.concurrency import ConcurrencyGate, Invocation, Throttled
from local.aws.template import Template


class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools use."""

    def __init__(
        self,
        function_name: str,
        timeout_seconds: int,
        memory_mb: int = 256,
        request_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def add_layers_to_path(template: Template) -> None:
    """Lambda puts each layer's content on the import path; so does this."""
    for folder in template.layer_folders():
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


class FunctionRunner:
    """Loads each function's handler and invokes it."""

    def __init__(
        self, template: Template, *, pooled: bool = False, gate: ConcurrencyGate | None = None
    ) -> None:
        self.template = template
        self.pooled = pooled
        # Lambda's concurrency limits and the record of each invocation's duration and memory.
        self.gate = gate if gate is not None else ConcurrencyGate()
        self._handlers: dict[str, Any] = {}
        self._idle: dict[str, list[Any]] = {}
        self.environments: Counter[str] = Counter()
        self._lock = threading.Lock()
        add_layers_to_path(template)

    def _load_handler(self, function: str, instance: int) -> Any:
        folder, handler_path = self.template.function_code(function)
        module_name, _, attribute = handler_path.rpartition(".")
        suffix = "" if instance == 1 else f"_{instance}"
        module = _load_module(f"_fn_{function}_{module_name}{suffix}", folder / f"{module_name}.py")
        return getattr(module, attribute)

    def handler(self, function: str) -> Any:
        """The function's first (shared) handler instance."""
        with self._lock:
            if function not in self._handlers:
                self.environments[function] = max(self.environments[function], 1)
                self._handlers[function] = self._load_handler(function, 1)
            return self._handlers[function]

    def _acquire(self, function: str) -> Any:
        with self._lock:
            idle = self._idle.setdefault(function, [])
            if idle:
                return idle.pop()
            self.environments[function] += 1
            instance = self.environments[function]
        return self._load_handler(function, instance)

    def _release(self, function: str, handler: Any) -> None:
        with self._lock:
            self._idle[function].append(handler)

    def context(self, function: str, request_id: str | None = None) -> LambdaContext:
        props = self.template.resources[function]["Properties"]
        globals_memory = self.template.document.get("Globals", {}).get("Function", {})
        return LambdaContext(
            self.template.physical.get(function, function),
            self.template.function_timeout(function),
            int(props.get("MemorySize", globals_memory.get("MemorySize", 128))),
            request_id,
        )

    def invoke(
        self,
        function: str,
        event: Any,
        request_id: str | None = None,
        *,
        slot_held: bool = False,
    ) -> Any:
        """Run one invocation. It needs a concurrency slot: one the caller already took from
        the gate (`slot_held`), or one taken here; none free raises `Throttled`."""
        if not slot_held and not self.gate.try_acquire(function):
            raise Throttled(function)
        context = self.context(function, request_id)
        started, clock = time.time(), time.perf_counter()
        try:
            if not self.pooled:
                return self.handler(function)(event, context)
            handler = self._acquire(function)
            try:
                return handler(event, context)
            finally:
                self._release(function, handler)
        finally:
            duration = time.perf_counter() - clock
            self.gate.release(
                function, Invocation(function, started, duration, context.memory_limit_in_mb)
            )


def _load_module(name: str, path: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
