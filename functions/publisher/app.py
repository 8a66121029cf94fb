"""Publisher: not implemented yet (the publisher issue). Fails loudly so no post is lost
silently: Lambda's retries and the sweep will pick the post up once it exists."""

from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise NotImplementedError("the publisher is not implemented yet")
