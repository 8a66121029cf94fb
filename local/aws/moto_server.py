"""moto's server for the local stack: DynamoDB requests answered one at a time, and a
transaction rollback that restores only the items a transaction names."""

from __future__ import annotations

import copy
import io
import threading
from typing import Any


def rollback_touched_items(transact_write_items: Any) -> Any:
    """moto's TransactWriteItems with a rollback that restores only what it touches. moto
    deep-copies each table a transaction names before every transaction, to put the copy back
    if it fails; the copy includes the table's whole stream history (moto never trims it), so
    each transaction got slower with every write the stack had made (about 40 ms per 1,000
    writes on an idle core, seconds under load, behind the one DynamoDB lock). This keeps the
    tables in place and, on failure, puts back the items the transaction names and drops the
    stream records it added, which is all a transaction can change."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table as MotoTable

    # moto's table class, patched for the length of one transaction (typed loosely on purpose).
    table_class: Any = MotoTable

    def keys_of(table: Any, operation: dict[str, Any]) -> tuple[Any, Any] | None:
        attributes = operation.get("Key") or operation.get("Item") or {}
        try:
            hash_value = DynamoType(attributes[table.hash_key_attr])
            if table.range_key_attr is None:
                return hash_value, None
            return hash_value, DynamoType(attributes[table.range_key_attr])
        except (KeyError, TypeError, AttributeError):
            return None  # moto refuses the request itself; nothing to save

    def transact(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, Any]] = []
        stream_lengths: dict[str, tuple[Any, int]] = {}
        for entry in transact_items:
            for operation in entry.values() if isinstance(entry, dict) else ():
                name = operation.get("TableName") if isinstance(operation, dict) else None
                if not isinstance(name, str):
                    continue
                table = backend.tables.get(name)
                keys = keys_of(table, operation) if table is not None else None
                if table is None or keys is None:
                    continue
                item = table.get_item(*keys)
                saved.append((table, *keys, copy.deepcopy(item)))
                if table.stream_shard is not None:
                    stream_lengths[name] = (table.stream_shard, len(table.stream_shard.items))
        # moto's own backup becomes a no-op; safe as a class-wide switch because DynamoDB
        # requests run one at a time (SerializedMotoServer).
        keep = table_class.__dict__.get("__deepcopy__")
        table_class.__deepcopy__ = lambda table, _memo: table
        try:
            transact_write_items(backend, transact_items)
        except BaseException:
            for table, hash_value, range_value, item in reversed(saved):
                _put_back(table, hash_value, range_value, item)
            for shard, length in stream_lengths.values():
                del shard.items[length:]
            raise
        finally:
            if keep is None:
                del table_class.__deepcopy__
            else:
                table_class.__deepcopy__ = keep

    transact.rolls_back_touched_items = True  # type: ignore[attr-defined]
    return transact


def _put_back(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    """One item of a moto table as it was (`item` None: absent)."""
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
    elif item is None:
        if hash_value in table.items:
            table.items[hash_value].pop(range_value, None)
    else:
        table.items[hash_value][range_value] = item


def install_transaction_rollback() -> None:
    """Use `rollback_touched_items` in this process's moto (once)."""
    from moto.dynamodb.models import DynamoDBBackend

    current = DynamoDBBackend.transact_write_items
    if not getattr(current, "rolls_back_touched_items", False):
        DynamoDBBackend.transact_write_items = rollback_touched_items(current)  # type: ignore[method-assign]


class SerializedMotoServer:
    """moto's server on a thread, answering DynamoDB requests one at a time. moto's DynamoDB
    is not safe for concurrent requests: a failed transaction (a condition, as for a 409) puts
    back what it touched, discarding what other requests wrote meanwhile, and moto's
    dictionaries change under concurrent readers ("dictionary changed size during iteration",
    an HTTP 500). The table's stream is read under the same lock, so a stream reader never sees
    the records of a transaction that is then rolled back. Other services' requests stay
    concurrent (SQS long polls wait inside moto and must not hold anyone up)."""

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        install_transaction_rollback()
        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def one_at_a_time(environ: dict[str, Any], start_response: Any) -> Any:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if not target.startswith(("DynamoDB_", "DynamoDBStreams_")):
                return app(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length:  # the body is read before waiting: a slow sender holds no one up
                environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
            with lock:
                return list(app(environ, start_response))

        self._server = make_server(
            host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
