"""What every part of the table adapter shares: the client, consistent reads, transactions with
their retries, and paged queries."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from post_scheduler.adapters.aws import aws_client
from post_scheduler.adapters.paging import PageTokens, invalid_page_token
from post_scheduler.adapters.table.codec import expression_values, from_item
from post_scheduler.adapters.table.layout import user_partition
from post_scheduler.errors import DependencyUnavailable

if TYPE_CHECKING:
    from post_scheduler.adapters.page_seal import TokenSealer

# Attempts of a transaction cancelled by a conflicting one, with jittered exponential backoff.
_TRANSACTION_ATTEMPTS = 4
_TRANSACTION_BACKOFF_SECONDS = 0.025


def _deployment_sealer() -> TokenSealer:
    from post_scheduler.wiring import page_token_sealer

    return page_token_sealer()


class TableBase:
    """The table's client and the request helpers the entity parts build on."""

    def __init__(
        self, table_name: str, client: Any = None, pages: PageTokens | None = None
    ) -> None:
        self.name = table_name
        self.client = client if client is not None else aws_client("dynamodb")
        self.pages = pages or PageTokens(_deployment_sealer)

    @staticmethod
    def decode_item(item: Mapping[str, Any]) -> dict[str, Any]:
        """A low-level item (as a stream record carries it) as plain Python values."""
        return from_item(item)

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _transact(
        self, items: list[dict[str, Any]], explain: Callable[[list[dict[str, Any]]], Exception]
    ) -> None:
        """TransactWriteItems; `explain` turns the cancellation reasons of a failed condition
        into the error to raise."""
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons") or []
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    raise explain(reasons) from None
                # Nothing was written: another transaction held one of the items at that moment
                # (TransactionConflict: concurrent creates share the user's counter) or a
                # partition was throttled. botocore does not retry these; try again shortly.
                if attempt + 1 == _TRANSACTION_ATTEMPTS:
                    raise DependencyUnavailable(
                        "the database is busy with this data; nothing was changed, retry shortly",
                        {"reasons": sorted({str(r.get("Code")) for r in reasons} - {"None"})},
                    ) from exc
            time.sleep(random.uniform(0, _TRANSACTION_BACKOFF_SECONDS * 2**attempt))  # noqa: S311

    def _query_pages(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of a Query (the request is continued in place)."""
        while True:
            response: dict[str, Any] = self.client.query(**request)
            yield response
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _page(
        self, request: dict[str, Any], limit: int, key_names: tuple[str, ...], scope: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` items of a Query, and a page token only if another item exists.

        DynamoDB returns a LastEvaluatedKey whenever it stops at `Limit`, even when nothing
        follows, and a filter may leave a page short. So read until one item more than asked
        is found or the data ends, and point the token at the last item returned.
        """
        items: list[dict[str, Any]] = []
        while True:
            request["Limit"] = limit + 1 - len(items)
            response = self.client.query(**request)
            items.extend(response["Items"])
            last = response.get("LastEvaluatedKey")
            if len(items) > limit or last is None:
                break
            request["ExclusiveStartKey"] = last
        if len(items) <= limit:
            return items, None
        items = items[:limit]
        return items, self.pages.encode({name: items[-1][name] for name in key_names}, scope)

    def list_user_items[M: BaseModel](
        self, user_id: str, prefix: str, model: type[M], limit: int, page_token: str | None
    ) -> tuple[list[M], str | None]:
        """A page of the user's items of one kind (videos, accounts), by id. Callers outside the
        adapter use the entity's own method (`list_videos`, `list_accounts`)."""
        partition = user_partition(user_id)
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": expression_values(pk=partition, prefix=prefix),
            "Limit": limit,
        }
        scope = f"items\n{prefix}\n{partition}"
        start = self.pages.decode(page_token, scope, {"pk": partition}, frozenset({"pk", "sk"}))
        if start is not None:
            if not start["sk"]["S"].startswith(prefix):
                raise invalid_page_token()
            request["ExclusiveStartKey"] = start
        items, token = self._page(request, limit, ("pk", "sk"), scope)
        return [model.model_validate(from_item(i)) for i in items], token

    def _first_match[M: BaseModel](self, request: dict[str, Any], model: type[M]) -> M | None:
        """The first item a filtered query finds, reading page after page (a filter may leave
        whole pages empty)."""
        for response in self._query_pages(request):
            for item in response["Items"]:
                return model.model_validate(from_item(item))
        return None

    def get_many(self, keys: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        """BatchGetItem for up to 100 keys, retrying unprocessed ones; results by (pk, sk)."""
        pending = list({(k["pk"]["S"], k["sk"]["S"]): k for k in keys}.values())
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(pending), 100):
            request = {self.name: {"Keys": pending[start : start + 100]}}
            for _attempt in range(5):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.name, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = from_item(item)
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found
