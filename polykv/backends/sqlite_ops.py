"""Fast paths of ``polykv.ops`` for a sqlite source, registered by ``polykv.backends.sqlite`` when imported.

``copy`` from a sqlite store reads each namespace with one ``SELECT ... ORDER BY key`` cursor (instead of a
query per page) and resumes an interrupted copy by seeking past the checkpoint's last key (a range count
checks that the position still matches) instead of listing the finished keys again. Everything else is the
portable ``ops.copy_batches`` machinery.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from .. import ops
from ..store import KeyValueStore
from .sqlite_connection import SQLiteConnections, is_missing_table
from .sqlite_sql import Statements, encodable, prefix_successor

__all__ = ["copy", "register_fast_paths"]

Batches = Iterator[tuple[int, list[tuple[str, bytes]]]]


def _nothing() -> Batches:
    return iter(())


def read_batches(
    src: SQLiteConnections, ns: str, prefix: str, size: int, skip: int, last_key: str | None
) -> tuple[int, Batches]:
    """``ops.copy_batches``'s reader for sqlite: one ordered cursor per namespace, ``size`` rows a batch.

    ``src`` is a ``SQLiteStore`` (typed by the part of it used here: its connections, so that this module
    never imports the store's)."""
    if not encodable(prefix):  # no valid key contains a lone surrogate
        return 0, _nothing()
    statements = Statements(ns)
    upper = prefix_successor(prefix)
    bound: tuple[str, ...] = () if upper is None else (upper,)
    resume = bool(skip) and last_key is not None and last_key.startswith(prefix)
    if resume:
        count_up_to = f"SELECT count(*) FROM {statements.names.live} WHERE key >= ? AND key <= ?"  # noqa: S608
        try:
            done = src._con().execute(count_up_to, (prefix, last_key)).fetchone()[0]
        except sqlite3.Error as exc:
            if is_missing_table(exc):  # the namespace has no table: nothing to copy
                return 0, _nothing()
            raise src._failure(exc, ns) from None
        resume = done == skip  # else keys were added or removed before the position: read from the start
    start = last_key if resume else prefix
    sql = statements.items_from[(resume, upper is not None)]

    def rows() -> Batches:
        try:
            cursor = src._con().execute(sql, (start, *bound))
            while batch := cursor.fetchmany(size):
                yield len(batch), batch  # rows are (key, value) tuples already
        except sqlite3.Error as exc:
            if is_missing_table(exc):
                return
            raise src._failure(exc, ns) from None

    return (skip if resume else 0), rows()


def copy(src: KeyValueStore, dst: Any, **options: Any) -> ops.CopyResult:
    """``ops.copy`` with the sqlite reader (same options and results as the portable copy); ``src`` is a
    ``SQLiteStore``."""
    return ops.copy_batches(src, dst, read_batches, **options)


def register_fast_paths(store_class: type[KeyValueStore]) -> None:
    """Register this module's implementations of the generic operations for ``store_class``."""
    ops.implements(store_class)(copy)
