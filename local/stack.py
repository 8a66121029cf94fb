"""The whole system on loopback: moto's server as AWS, the template's resources provisioned in
it, the stand-in TikTok, demo data, the API behind a local API Gateway, the scheduler loop and
the functions' other event sources. The functions' code runs unchanged: it finds moto through
the standard `AWS_ENDPOINT_URL` and TikTok through the template's TikTokApiBaseUrl parameter.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from local.config import ConfigError, LocalConfig

logger = logging.getLogger("local.stack")

REGION = "us-east-1"
# Fake credentials: nothing here may reach a real AWS account.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}
# Powertools settings for a process without the X-Ray daemon and CloudWatch, kept unless the
# developer sets them: no traces, and no metric records interleaved with the logs.
LOCAL_DEFAULTS = {
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_DISABLED": "1",
    # Webhook receivers on this machine (http to loopback), retried within seconds.
    "WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
    "WEBHOOK_RETRY_DELAYS": "1,2,2,3,3,3",
}
# Function settings a developer may override locally (the template's value otherwise).
OVERRIDABLE = {"POWERTOOLS_LOG_LEVEL"}
STUB_CLIENT_KEY = "local-client-key"
STUB_CLIENT_SECRET = "local-client-secret"  # noqa: S105 - the stand-in TikTok's fake secret


def check_port_free(host: str, port: int, name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise ConfigError(
                f"port {port} ({name}) is in use; set {name} to a free port"
            ) from None


def point_boto3_at(endpoint: str) -> None:
    """Every AWS client of this process (ours and the functions') talks to `endpoint`."""
    for variable in list(os.environ):
        if variable.startswith("AWS_ENDPOINT_URL_") or variable in ("AWS_PROFILE",):
            del os.environ[variable]
    os.environ.update(AWS_ENVIRONMENT)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    # Loopback must never go through a proxy the machine may have configured.
    for variable in ("NO_PROXY", "no_proxy"):
        current = [v for v in os.environ.get(variable, "").split(",") if v]
        os.environ[variable] = ",".join([*current, "127.0.0.1", "localhost"])


def apply_function_environment(environments: dict[str, dict[str, str]]) -> dict[str, str]:
    """The functions' resolved variables, applied to this process (they all run here).
    Returns the variables set; warns where two functions disagree."""
    merged: dict[str, str] = {}
    for function, values in environments.items():
        for key, value in values.items():
            if key in merged and merged[key] != value:
                logger.warning(
                    "functions disagree on %s (%s sets %r); using %r",
                    key,
                    function,
                    value,
                    merged[key],
                )
                continue
            merged[key] = value
    for key, value in merged.items():
        if key in OVERRIDABLE and os.environ.get(key):
            continue
        os.environ[key] = value
    for key, value in LOCAL_DEFAULTS.items():
        os.environ.setdefault(key, value)
    return merged


@dataclass
class LocalStack:
    config: LocalConfig
    stop_event: threading.Event = field(default_factory=threading.Event)
    api_keys: dict[str, str] = field(default_factory=dict)
    demo_users: list[Any] = field(default_factory=list)
    template: Any = None
    started_at: float = 0.0
    runner: Any = None  # local.aws.lambda_runtime.FunctionRunner, once started
    gateway: Any = None  # local.aws.gateway.Gateway, once started
    _moto: Any = None
    _stub: Any = None
    _api: Any = None
    _invoker: Any = None
    _loop: Any = None
    _threads: list[threading.Thread] = field(default_factory=list)
    # LOCAL_SCHEDULER_SEED, or the one picked at start (printed, so a run can be replayed).
    seed: int = 0

    @property
    def api_url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def stub_url(self) -> str:
        return f"http://{self.config.host}:{self.config.tiktok_stub_port}"

    @property
    def moto_url(self) -> str:
        return f"http://{self.config.host}:{self.config.moto_port}"

    def start(self) -> None:
        started = time.perf_counter()
        config = self.config
        config.check()
        from local.aws.lambda_runtime import add_layers_to_path
        from local.aws.template import Template

        self.template = Template.load(
            parameters={
                "TikTokApiBaseUrl": self.stub_url,
                # The stand-in's authorization page approves at once and redirects back.
                "TikTokAuthUrl": f"{self.stub_url}/v2/auth/authorize/",
                # The callback at this stack's own port, whatever a request's headers say.
                "TikTokRedirectUri": f"{self.api_url}/api/v1/tiktok-accounts/callback",
                "MinScheduleLeadSeconds": str(config.min_schedule_lead_seconds),
                # Lambda's one-minute retry delay, shortened locally as for async retries.
                "PublishRetryDelaySeconds": str(int(config.async_retry_delay_seconds)),
            },
            region=REGION,
        )
        add_layers_to_path(self.template)  # the shared package, as Lambda's layers provide it
        from local.seed import resolve_api_keys

        try:
            self.api_keys = resolve_api_keys(config.demo_api_keys)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        for port, name in (
            (config.port, "PORT"),
            (config.tiktok_stub_port, "TIKTOK_STUB_PORT"),
            (config.moto_port, "MOTO_PORT"),
        ):
            check_port_free(config.host, port, name)

        point_boto3_at(self.moto_url)
        self._start_moto()
        self._start_stub()
        self._provision()
        self._seed()
        self._start_api()
        self._start_background()
        self.started_at = time.time()
        logger.info("local stack up in %.1f s", time.perf_counter() - started)

    def _start_moto(self) -> None:
        from local.aws.moto_server import SerializedMotoServer

        self._moto = SerializedMotoServer(self.config.host, self.config.moto_port)
        self._moto.start()

    def _start_stub(self) -> None:
        from local.tiktok import TikTokStub

        self._stub = TikTokStub(
            host=self.config.host,
            port=self.config.tiktok_stub_port,
            client_key=STUB_CLIENT_KEY,
            client_secret=STUB_CLIENT_SECRET,
        )
        self._stub.start()

    def _provision(self) -> None:
        from local.aws.provision import function_environments, provision, put_secure_parameter

        template = self.template
        provision(template)
        put_secure_parameter(
            template,
            template.parameter("TikTokClientParameterName"),
            json.dumps({"clientKey": STUB_CLIENT_KEY, "clientSecret": STUB_CLIENT_SECRET}),
        )
        apply_function_environment(function_environments(template))

    def _seed(self) -> None:
        from local.seed import seed_demo_data
        from post_scheduler import wiring
        from post_scheduler.adapters.aws import aws_client
        from post_scheduler.adapters.table import SchedulingTable
        from post_scheduler.adapters.token_cipher import TokenCipher

        wiring.reset()
        # The page-token data key (deployed, the first list request creates it the same way).
        wiring.page_token_sealer().keys.current()
        template = self.template
        self.demo_users = seed_demo_data(
            SchedulingTable(template.physical["Table"]),
            aws_client("s3"),
            template.physical["VideoBucket"],
            TokenCipher(template.attributes["TokenKey.Arn"]),
            self._stub,
            self.api_keys,
        )

    def _start_api(self) -> None:
        from local.aws.concurrency import ConcurrencyGate
        from local.aws.gateway import Gateway
        from local.aws.http_server import ApiServer
        from local.aws.lambda_runtime import FunctionRunner

        gate = ConcurrencyGate.from_template(self.template, self.config.lambda_concurrency)
        self.runner = FunctionRunner(self.template, pooled=True, gate=gate)
        self.gateway = Gateway(self.template, self.runner)
        self._api = ApiServer(self.gateway, self.config.host, self.config.port)
        self._api.start()

    def _start_background(self) -> None:
        import random

        from local.aws.event_sources import start_event_sources
        from local.aws.invoker import AsyncInvoker, DuplicateDelivery
        from local.aws.scheduler_loop import Jitter, SchedulerLoop

        config = self.config
        self.seed = (
            config.scheduler_seed
            if config.scheduler_seed is not None
            else random.SystemRandom().randrange(10**9)
        )
        # Two generators from the one seed: the duplicate draws (made by many threads) do not
        # shift the firing offsets, which follow the order the schedules are seen in.
        self._invoker = AsyncInvoker(
            self.template,
            self.runner,
            self.stop_event,
            config.async_retry_delay_seconds,
            DuplicateDelivery(config.duplicate_delivery, random.Random(f"{self.seed}/duplicates")),
            throttle_retry_scale=config.throttle_retry_scale,
        )
        jitter = Jitter(config.scheduler_jitter_seconds, random.Random(f"{self.seed}/jitter"))
        self._loop = SchedulerLoop(self.template, self._invoker, self.stop_event, jitter=jitter)
        self._loop.start()
        self._threads = [
            self._loop,
            *start_event_sources(self.template, self.runner, self._invoker, self.stop_event),
        ]

    def delivery_summary(self) -> str:
        """What the scheduler loop fired and how many events came twice, for the log."""
        fired = self._loop.fired_count if self._loop is not None else 0
        duplicates = self._invoker.duplicates if self._invoker is not None else None
        twice = duplicates.delivered if duplicates is not None else 0
        return f"{fired} schedule(s) fired, {twice} event(s) delivered a second time"

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop everything, newest first; running invocations get `grace_seconds` to end."""
        self.stop_event.set()
        if self._api is not None:
            self._api.stop()
        for thread in self._threads:
            thread.join(3)
        if self._invoker is not None and not self._invoker.wait(grace_seconds):
            logger.warning("%d invocation(s) still running; abandoned", self._invoker.in_flight())
        if self._loop is not None:
            logger.info("%s", self.delivery_summary())
        if self._stub is not None:
            self._stub.stop()
        if self._moto is not None:
            self._moto.stop()
