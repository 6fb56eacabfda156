"""bigchaindb's backend pattern on polykv: ``connect()`` from configuration, interfaces as generic functions.

``connect()`` is ``polykv.connect``: with no URL it opens ``$POLYKV_URL``, else ``polykv.urls.DEFAULT_URL``.
``query`` and ``schema`` group polykv's ``functools.singledispatch`` operations (``polykv.ops``), dispatched
on the store's class; a backend's own implementations are registered when its store module is first
imported (which ``connect`` does for the scheme it opens). ``write_transaction``/``get_transaction`` keep
bigchaindb's names for a record in the ``transactions`` schema, keyed by the transaction's ``id``.
"""

from __future__ import annotations

from functools import singledispatch
from types import SimpleNamespace
from typing import Any

from .. import ops
from ..errors import NotSupportedError, RecordError
from ..store import KeyValueStore
from ..urls import DEFAULT_URL, connect

__all__ = ["DEFAULT_URL", "TRANSACTIONS", "connect", "get_transaction", "query", "schema", "write_transaction"]

#: The schema transactions are kept in.
TRANSACTIONS = "transactions"


def _not_served(operation: str, obj: object) -> NotSupportedError:
    return NotSupportedError(
        f"{type(obj).__name__} cannot serve {operation!r}: no implementation is registered for its class "
        "(pass a polykv store, or import the module that registers one)",
        capability=operation,
    )


@singledispatch
def write_transaction(connection: Any, signed_transaction: dict[str, Any]) -> None:
    """Store a transaction (a dict with an ``id``); a second write of the same id raises ``RecordExistsError``."""
    raise _not_served("write_transaction", connection)


@write_transaction.register(KeyValueStore)
def _write_transaction_portable(connection: KeyValueStore, signed_transaction: dict[str, Any]) -> None:
    if not isinstance(signed_transaction, dict) or not isinstance(signed_transaction.get("id"), str):
        raise RecordError("a transaction is a dict with a str 'id'", schema=TRANSACTIONS)
    connection.insert_record(TRANSACTIONS, signed_transaction["id"], signed_transaction)


@singledispatch
def get_transaction(connection: Any, transaction_id: str) -> dict[str, Any] | None:
    """The stored transaction with ``transaction_id``, or None."""
    raise _not_served("get_transaction", connection)


@get_transaction.register(KeyValueStore)
def _get_transaction_portable(connection: KeyValueStore, transaction_id: str) -> dict[str, Any] | None:
    if not connection.exists(TRANSACTIONS, transaction_id):
        return None
    return connection.get_record(TRANSACTIONS, dict, transaction_id)


#: Query interfaces: bigchaindb's ``backend.query``.
query = SimpleNamespace(
    write_transaction=write_transaction,
    get_transaction=get_transaction,
    copy=ops.copy,
    export_jsonl=ops.export_jsonl,
    import_jsonl=ops.import_jsonl,
    watch=ops.watch,
)

#: Schema interfaces: bigchaindb's ``backend.schema``.
schema = SimpleNamespace(
    create_schema=ops.create_schema,
    drop_schema=ops.drop_schema,
    list_schemas=ops.list_schemas,
)
