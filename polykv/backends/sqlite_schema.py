"""The sqlite store's tables, indexes and triggers, and bringing a database file up to them.

``initialise`` switches a file to WAL, creates ``polykv_items`` and its expiry index, and adds or removes
the change log (table ``polykv_changes`` filled by triggers) as asked; it is idempotent and safe when several
processes open the same file at once. Only DDL lives here; the statements on rows are in ``sqlite_sql``.
"""

from __future__ import annotations

import sqlite3
import time

from ..changes import ChangeOp
from .sqlite_connection import is_busy
from .sqlite_sql import NOW

__all__ = ["CHANGE_LOG_SQL", "HAS_CHANGE_LOG", "NO_CHANGE_LOG_SQL", "SCHEMA_SQL", "initialise"]

# A rowid table (not WITHOUT ROWID): 10 KB values read ~30 % faster from its leaf pages, and 100-byte ones
# lose little (benchmarks/bench_stores.py).
SCHEMA_SQL = (
    "CREATE TABLE IF NOT EXISTS polykv_items (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
    "expires REAL, PRIMARY KEY (ns, key))",
    "CREATE INDEX IF NOT EXISTS polykv_items_expires ON polykv_items (expires) WHERE expires IS NOT NULL",
)
# The change log (Capability.WATCH): triggers append one row per changed item inside the writing statement,
# so a write and its event commit or roll back together, whichever process or code path wrote. Ids (max + 1;
# pruning never removes the newest row) are assigned under SQLite's single-writer lock, hence in commit order.
_LIVE_OLD = f"(OLD.expires IS NULL OR OLD.expires > {NOW})"
CHANGE_LOG_SQL = (
    "CREATE TABLE IF NOT EXISTS polykv_changes (id INTEGER PRIMARY KEY, op INTEGER NOT NULL, "
    "ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB)",
    "CREATE TRIGGER IF NOT EXISTS polykv_changes_insert AFTER INSERT ON polykv_items BEGIN "  # noqa: S608
    f"INSERT INTO polykv_changes (op, ns, key, value) VALUES ({ChangeOp.INSERT.value}, NEW.ns, NEW.key, NEW.value); "
    "END",
    # overwriting an expired row is an insert: the key did not exist for any reader
    "CREATE TRIGGER IF NOT EXISTS polykv_changes_update AFTER UPDATE ON polykv_items BEGIN "  # noqa: S608
    f"INSERT INTO polykv_changes (op, ns, key, value) VALUES (CASE WHEN {_LIVE_OLD} THEN {ChangeOp.UPDATE.value} "
    f"ELSE {ChangeOp.INSERT.value} END, NEW.ns, NEW.key, NEW.value); END",
    # removing an expired row (purge, lazy expiry) is not a change: expiry is never reported
    f"CREATE TRIGGER IF NOT EXISTS polykv_changes_delete AFTER DELETE ON polykv_items WHEN {_LIVE_OLD} BEGIN "  # noqa: S608
    f"INSERT INTO polykv_changes (op, ns, key, value) VALUES ({ChangeOp.DELETE.value}, OLD.ns, OLD.key, NULL); END",
)
NO_CHANGE_LOG_SQL = (
    *(f"DROP TRIGGER IF EXISTS polykv_changes_{kind}" for kind in ("insert", "update", "delete")),
    "DROP TABLE IF EXISTS polykv_changes",
)
HAS_CHANGE_LOG = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'polykv_changes_%'"


def initialise(con: sqlite3.Connection, *, wal: bool, change_log: bool | None, timeout: float) -> bool:
    """Switch the file to WAL (when ``wal``) and create the table; add (``change_log=True``) or remove
    (``False``) the change log, or keep what the file has (``None``). Returns whether the file now keeps a
    change log.

    Waits out other processes doing the same for up to ``max(timeout, 1)`` seconds; raises the
    ``sqlite3.DatabaseError`` of the last try when the file stays locked or is not a usable database.
    """
    deadline = time.monotonic() + max(timeout, 1.0)
    while True:
        try:
            if wal and con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            for statement in SCHEMA_SQL:
                con.execute(statement)
            if change_log is None:  # follow the file: on when its three triggers exist
                return bool(con.execute(HAS_CHANGE_LOG).fetchone()[0] == 3)
            con.execute("BEGIN IMMEDIATE")
            try:
                for statement in CHANGE_LOG_SQL if change_log else NO_CHANGE_LOG_SQL:
                    con.execute(statement)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return change_log
        except sqlite3.DatabaseError as exc:
            if is_busy(exc) and time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            raise
