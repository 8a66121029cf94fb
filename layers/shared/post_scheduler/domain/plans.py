"""Plans and what they allow. The table's user record is the only source of a user's plan."""

from __future__ import annotations

from typing import Literal

Plan = Literal["free", "basic", "professional"]

# Pending posts a plan may hold at once; a plan missing here has no scheduling feature.
PENDING_POST_LIMITS: dict[str, int] = {"basic": 10, "professional": 50}

PLANS: tuple[str, ...] = ("free", "basic", "professional")


def pending_limit(plan: str) -> int | None:
    """How many pending posts the plan allows, or None when it cannot schedule at all."""
    return PENDING_POST_LIMITS.get(plan)
