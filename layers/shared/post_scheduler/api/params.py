"""Query and path parameters shared by several routes, validated (and documented) by Powertools."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from post_scheduler.models.fields import ID_PATTERN

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (1-100, default 50)")
]
PageToken = Annotated[
    str | None,
    Query(
        alias="nextToken",
        min_length=1,
        max_length=2048,
        description="The nextToken of the previous page",
    ),
]
ScheduleIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="Schedule ID")]
