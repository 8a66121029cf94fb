"""GET /api/v1/schedule/upcoming (public): pending posts still to come, soonest first."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from post_scheduler.api import docs
from post_scheduler.api.http import JsonApi, ok
from post_scheduler.api.params import DEFAULT_PAGE_SIZE, PageLimit, PageToken
from post_scheduler.models.responses import UpcomingPost
from post_scheduler.observability import tracer
from post_scheduler.wiring import check_settings, schedule_service

check_settings("upcoming")  # fail at cold start, naming any missing variable

api = JsonApi(authenticated=False)


class UpcomingPage(BaseModel):
    """A page of upcoming posts, soonest first."""

    model_config = docs.DEFERRED

    upcomingPosts: list[UpcomingPost]
    nextToken: str = docs.next_token()


@api.routes.get(
    "/api/v1/schedule/upcoming",
    summary="Get Upcoming Scheduled Posts",
    description=(
        "Public (no authentication): pending posts of all users still to come, soonest first,"
        " showing only their schedule id, publish time and TikTok account id."
    ),
    responses=docs.responses(
        docs.success(
            docs.Ok[UpcomingPage],
            docs.ok_example({"upcomingPosts": [docs.UPCOMING_POST]}),
            "A page of upcoming posts",
        ),
        authenticated=False,
    ),
    tags=["Scheduling"],
)
@tracer.capture_method
def upcoming(limit: PageLimit = DEFAULT_PAGE_SIZE, next_token: PageToken = None) -> Response[str]:
    posts, token = schedule_service().upcoming(limit, next_token)
    data: dict[str, Any] = {"upcomingPosts": [post.model_dump() for post in posts]}
    if token:
        data["nextToken"] = token
    return ok(data)


lambda_handler = api.lambda_handler()
