"""The local stack's settings, from environment variables (see the design's "Local stack")."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

HOST = "127.0.0.1"


class ConfigError(ValueError):
    """A setting the local stack cannot start with."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _float(
    env: Mapping[str, str],
    name: str,
    default: float,
    high: float | None = None,
    what: str = "a number of seconds",
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be {what}, not {raw!r}")
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be between 0 and {high:g}, not {raw}")
    return value


def _seed(env: Mapping[str, str]) -> int | None:
    raw = env.get("LOCAL_SCHEDULER_SEED", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"LOCAL_SCHEDULER_SEED must be a whole number, not {raw!r}") from None


@dataclass(frozen=True)
class LocalConfig:
    port: int = 3000
    tiktok_stub_port: int = 3001
    moto_port: int = 5000
    min_schedule_lead_seconds: int = 900
    demo_api_keys: dict[str, str | None] = field(default_factory=dict)
    # Lambda waits ~1 and ~2 minutes between asynchronous retries; locally this and twice this.
    async_retry_delay_seconds: float = 5.0
    # EventBridge Scheduler fires anywhere in the minute it is given, so locally too by default.
    scheduler_jitter_seconds: float = 59.0
    # The seed of the firing offsets and duplicate draws; None: the stack picks one and says it.
    scheduler_seed: int | None = None
    # The chance that an asynchronous event is delivered twice (AWS may; 0 keeps demos quiet).
    duplicate_delivery: float = 0.0
    # The account's Lambda concurrency across all functions (None: unlimited).
    lambda_concurrency: int | None = None
    # Lambda retries a throttled asynchronous event after ~1 s doubling to 5 min; locally x this.
    throttle_retry_scale: float = 0.1
    host: str = HOST

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalConfig:
        env = os.environ if env is None else env
        return cls(
            port=_int(env, "PORT", 3000, 1, 65535),
            tiktok_stub_port=_int(env, "TIKTOK_STUB_PORT", 3001, 1, 65535),
            moto_port=_int(env, "MOTO_PORT", 5000, 1, 65535),
            min_schedule_lead_seconds=_int(env, "MIN_SCHEDULE_LEAD_SECONDS", 900, 0, 86400),
            demo_api_keys={
                plan: env.get(f"DEMO_API_KEY_{plan.upper()}") or None
                for plan in ("free", "basic", "professional")
            },
            async_retry_delay_seconds=_float(env, "ASYNC_RETRY_DELAY_SECONDS", 5.0),
            scheduler_jitter_seconds=_float(env, "LOCAL_SCHEDULER_JITTER_SECONDS", 59.0, 59.0),
            scheduler_seed=_seed(env),
            duplicate_delivery=_float(
                env, "LOCAL_DUPLICATE_DELIVERY", 0.0, 1.0, "a probability from 0 to 1"
            ),
            lambda_concurrency=_int(env, "LOCAL_LAMBDA_CONCURRENCY", 0, 0, 100_000) or None,
            throttle_retry_scale=_float(env, "LOCAL_THROTTLE_RETRY_SCALE", 0.1),
        )

    def check(self) -> None:
        ports = [self.port, self.tiktok_stub_port, self.moto_port]
        if len(set(ports)) != len(ports):
            raise ConfigError("PORT, TIKTOK_STUB_PORT and MOTO_PORT must differ")
