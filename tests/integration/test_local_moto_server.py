"""The local stack's moto server: a failed DynamoDB transaction puts back exactly what it touched
(items and stream records) without copying the tables, so a transaction's cost does not grow
with the table's size or its stream history (moto keeps every stream record forever)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import StreamRecord

from local.aws.moto_server import SerializedMotoServer
from local.launcher import free_ports

REGION = "us-east-1"
TABLE = "local-rollback-test"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """A DynamoDB client and a streams client of a SerializedMotoServer on a free port, with
    one table (pk/sk, stream of new and old images) holding items a, b."""
    # The server patches moto's backend class for its process; put it back after the test.
    monkeypatch.setattr(
        DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items
    )
    (port,) = free_ports(1)
    server = SerializedMotoServer("127.0.0.1", port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    options = {"region_name": REGION, "endpoint_url": endpoint}
    client = boto3.client("dynamodb", **options)
    streams = boto3.client("dynamodbstreams", **options)
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for name in ("a", "b"):
        client.put_item(TableName=TABLE, Item={**key(name), "v": {"N": "1"}})
    try:
        yield client, streams
    finally:
        client.delete_table(TableName=TABLE)
        server.stop()


def key(name: str) -> dict[str, Any]:
    return {"pk": {"S": "P"}, "sk": {"S": name}}


def moto_table() -> Any:
    (backend,) = [
        regions[REGION] for regions in dynamodb_backends.values() if TABLE in regions[REGION].tables
    ]
    return backend.tables[TABLE]


def items(client: Any) -> dict[str, str]:
    found = client.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return {item["sk"]["S"]: item["v"]["N"] for item in found}


def stream_events(client: Any, streams: Any) -> list[str]:
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return [f"{r['eventName']} {r['dynamodb']['Keys']['sk']['S']}" for r in records]


def update(name: str, value: int, condition: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "TableName": TABLE,
        "Key": key(name),
        "UpdateExpression": "SET v = :v",
        "ExpressionAttributeValues": {":v": {"N": str(value)}},
    }
    if condition:
        operation["ConditionExpression"] = condition
    return {"Update": operation}


def test_a_failed_transaction_puts_back_what_it_wrote_and_copies_no_table(
    dynamodb: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, streams = dynamodb
    copied: list[StreamRecord] = []

    def count_copy(record: StreamRecord, _memo: dict[int, Any]) -> StreamRecord:
        copied.append(record)
        return record

    monkeypatch.setattr(StreamRecord, "__deepcopy__", count_copy, raising=False)
    table = moto_table()
    events_before = stream_events(client, streams)

    with pytest.raises(ClientError) as refused:
        client.transact_write_items(
            TransactItems=[
                update("a", 2),
                {"Put": {"TableName": TABLE, "Item": {**key("c"), "v": {"N": "3"}}}},
                {"Delete": {"TableName": TABLE, "Key": key("b")}},
                {  # there is no z: the whole transaction fails
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": key("z"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )

    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert items(client) == {"a": "1", "b": "1"}
    assert stream_events(client, streams) == events_before
    assert copied == []  # moto's rollback copied the whole table, its stream history too
    assert moto_table() is table


def test_a_transaction_naming_one_item_twice_changes_nothing(dynamodb: tuple[Any, Any]) -> None:
    client, streams = dynamodb
    events_before = stream_events(client, streams)

    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=[update("a", 2), update("a", 3)])

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert items(client) == {"a": "1", "b": "1"}
    assert stream_events(client, streams) == events_before


def test_a_successful_transaction_writes_and_streams_every_change(
    dynamodb: tuple[Any, Any],
) -> None:
    client, streams = dynamodb
    events_before = stream_events(client, streams)

    client.transact_write_items(
        TransactItems=[
            update("a", 2, condition="attribute_exists(pk)"),
            {"Put": {"TableName": TABLE, "Item": {**key("c"), "v": {"N": "3"}}}},
            {"Delete": {"TableName": TABLE, "Key": key("b")}},
        ]
    )

    assert items(client) == {"a": "2", "c": "3"}
    assert stream_events(client, streams) == [*events_before, "MODIFY a", "INSERT c", "REMOVE b"]
