"""Runs the template's functions in this process, as Lambda would call them: the handler from
the function's CodeUri, a context with a deadline, one module instance per function."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from types import ModuleType
from typing import Any

from local.template import Template


class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools use."""

    def __init__(self, function_name: str, timeout_seconds: int, memory_mb: int = 256) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionRunner:
    """Loads each function's handler once and invokes it."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self._handlers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def handler(self, function: str) -> Any:
        with self._lock:
            if function not in self._handlers:
                folder, handler_path = self.template.function_code(function)
                module_name, _, attribute = handler_path.rpartition(".")
                module = _load_module(f"_fn_{function}_{module_name}", folder / f"{module_name}.py")
                self._handlers[function] = getattr(module, attribute)
            return self._handlers[function]

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        context = LambdaContext(
            self.template.physical.get(function, function), self.template.function_timeout(function)
        )
        return self.handler(function)(event, context)


def _load_module(name: str, path: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
