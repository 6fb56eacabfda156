"""The sqlite store's on-disk layout (version 2): tables, views and triggers (only DDL lives here).

A file is stamped with ``PRAGMA user_version = LAYOUT``. It holds ``polykv_namespaces`` (one row per
namespace: its holes count and TTL mode), per namespace the tables and views of ``sqlite_sql`` and the
triggers below, and with the change log on ``polykv_changes``. ``sqlite_layout`` brings a file to this
layout (creating it, or migrating a layout-1 file).

Triggers of a namespace table ``T``, written by ``namespace_ddl`` from the file's change-log setting and the
namespace's TTL mode, so that every writer, whatever its process or code path, keeps them:

* ``T_del`` (always): keeps ``holes`` (absent ids below ``max(id)``) exact, so ``count`` is ``max(id) -
  holes``; with the change log, a ``DELETE`` event for a live row; in TTL mode, drops the row's expiry.
* ``T_ins`` (change log): an ``INSERT`` event.
* ``T_upd`` (change log or TTL mode): an ``UPDATE`` event (``INSERT`` when the old row had expired); in TTL
  mode, drops the expiry (a write without a TTL clears it; writers that keep or set one write it after).
"""

from __future__ import annotations

import sqlite3

from ..changes import ChangeOp
from .sqlite_sql import NOW, REGISTRY, TableNames, table_names

__all__ = [
    "CHANGES_SQL",
    "GUARD_SQL",
    "LAYOUT",
    "REGISTRY_SQL",
    "create_layout",
    "create_namespace",
    "drop_namespace",
    "has_change_log",
    "has_table",
    "namespace_ddl",
    "set_change_log",
    "set_ttl_mode",
]

#: The layout this code writes, stored as ``PRAGMA user_version``. Layout 1 (``polykv_items``) had version 0.
LAYOUT = 2

REGISTRY_SQL = (
    f"CREATE TABLE IF NOT EXISTS {REGISTRY} (ns TEXT PRIMARY KEY, holes INTEGER NOT NULL DEFAULT 0, "
    "ttl INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID"
)
# Where layout 1 kept its rows, a view of no rows: a polykv of layout 1 opening this file fails at once
# ("views may not be indexed") instead of creating an empty table of its own beside the real data.
GUARD_SQL = "CREATE VIEW IF NOT EXISTS polykv_items (layout_2_needs_a_newer_polykv) AS SELECT NULL WHERE 0"
CHANGES_SQL = (
    "CREATE TABLE IF NOT EXISTS polykv_changes (id INTEGER PRIMARY KEY, op INTEGER NOT NULL, "
    "ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB)"
)
_HAS_CHANGES = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'polykv_changes'"
_HAS_TABLE = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"


def has_table(con: sqlite3.Connection, name: str) -> bool:
    """Whether the file has a table called ``name``."""
    return bool(con.execute(_HAS_TABLE, (name,)).fetchone()[0])


def has_change_log(con: sqlite3.Connection) -> bool:
    """Whether the file keeps a change log (its ``polykv_changes`` table exists)."""
    return bool(con.execute(_HAS_CHANGES).fetchone()[0])


def namespace_ddl(names: TableNames, *, change_log: bool, ttl: bool) -> list[str]:
    """The statements that (re)write a namespace's views and triggers for the given change-log setting and
    TTL mode; its tables must exist. Run them inside a write transaction."""
    t, x, lit = names.table, names.ttl, names.literal
    expired_old = f"EXISTS (SELECT 1 FROM {x} x WHERE x.key = OLD.key AND x.expires <= {NOW})"  # noqa: S608
    statements = [
        f"DROP VIEW IF EXISTS {names.live}",
        f"DROP VIEW IF EXISTS {names.count}",
        *(f"DROP TRIGGER IF EXISTS {names.trigger(kind)}" for kind in ("ins", "upd", "del")),
    ]
    if ttl:
        statements += [
            f"CREATE VIEW {names.live} AS SELECT t.key, t.value FROM {t} t "  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {x} x WHERE x.key = t.key AND x.expires <= {NOW})",
            f"CREATE VIEW {names.count} (n) AS SELECT coalesce((SELECT max(id) FROM {t}), 0) "  # noqa: S608
            f"- (SELECT holes FROM {REGISTRY} WHERE ns = {lit}) "
            f"- (SELECT count(*) FROM {x} WHERE expires <= {NOW})",
        ]
    else:
        statements += [
            f"CREATE VIEW {names.live} AS SELECT key, value FROM {t}",  # noqa: S608
            f"CREATE VIEW {names.count} (n) AS SELECT coalesce((SELECT max(id) FROM {t}), 0) "  # noqa: S608
            f"- (SELECT holes FROM {REGISTRY} WHERE ns = {lit})",
        ]
    delete_body = []
    if change_log:  # removing an expired row (purge, clear) is not a change: expiry is never reported
        delete_body.append(
            f"INSERT INTO polykv_changes (op, ns, key, value) SELECT {ChangeOp.DELETE.value}, {lit}, OLD.key, NULL"
            + (f" WHERE NOT {expired_old}" if ttl else "")
        )
    if ttl:
        delete_body.append(f"DELETE FROM {x} WHERE key = OLD.key")  # noqa: S608
    # The row that had the highest id: the ids between the new highest and it stop being holes.
    delete_body.append(
        f"UPDATE {REGISTRY} SET holes = holes + (SELECT CASE WHEN OLD.id < m THEN 1 ELSE m + 1 - OLD.id END "  # noqa: S608
        f"FROM (SELECT coalesce(max(id), 0) AS m FROM {t})) WHERE ns = {lit}"
    )
    statements.append(f"CREATE TRIGGER {names.trigger('del')} AFTER DELETE ON {t} BEGIN {'; '.join(delete_body)}; END")
    if change_log:
        statements.append(
            f"CREATE TRIGGER {names.trigger('ins')} AFTER INSERT ON {t} BEGIN INSERT INTO polykv_changes "  # noqa: S608
            f"(op, ns, key, value) VALUES ({ChangeOp.INSERT.value}, {lit}, NEW.key, NEW.value); END"
        )
    update_body = []
    if change_log:  # overwriting an expired row is an insert: the key did not exist for any reader
        op = (
            f"CASE WHEN {expired_old} THEN {ChangeOp.INSERT.value} ELSE {ChangeOp.UPDATE.value} END"
            if ttl
            else str(ChangeOp.UPDATE.value)
        )
        update_body.append(f"INSERT INTO polykv_changes (op, ns, key, value) VALUES ({op}, {lit}, NEW.key, NEW.value)")  # noqa: S608
    if ttl:
        update_body.append(f"DELETE FROM {x} WHERE key = NEW.key")  # noqa: S608
    if update_body:
        statements.append(
            f"CREATE TRIGGER {names.trigger('upd')} AFTER UPDATE OF value ON {t} BEGIN {'; '.join(update_body)}; END"
        )
    return statements


def create_namespace(con: sqlite3.Connection, ns: str, *, change_log: bool | None = None) -> bool:
    """Create namespace ``ns``'s tables, views and triggers unless it has them; returns whether it created
    them. ``change_log``: whether to add the change-log triggers (None: as the file has it). Run it inside a
    write transaction (other processes may race to create the same namespace)."""
    if con.execute(f"SELECT count(*) FROM {REGISTRY} WHERE ns = ?", (ns,)).fetchone()[0]:  # noqa: S608
        return False
    names = table_names(ns)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {names.table} "
        "(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, value BLOB NOT NULL)"
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS {names.ttl} (key TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID")
    con.execute(f"CREATE INDEX IF NOT EXISTS {names.ttl}_expires ON {names.ttl} (expires)")
    con.execute(f"INSERT INTO {REGISTRY} (ns, holes, ttl) VALUES (?, 0, 0)", (ns,))  # noqa: S608
    for statement in namespace_ddl(
        names, change_log=has_change_log(con) if change_log is None else change_log, ttl=False
    ):
        con.execute(statement)
    return True


def set_ttl_mode(con: sqlite3.Connection, names: TableNames, on: bool) -> None:
    """Switch a namespace's TTL mode (its views and triggers consult ``T_ttl`` or not). Inside a write
    transaction; switch it off only when ``T_ttl`` is empty."""
    con.execute(f"UPDATE {REGISTRY} SET ttl = ? WHERE ns = ?", (int(on), names.ns))  # noqa: S608
    for statement in namespace_ddl(names, change_log=has_change_log(con), ttl=on):
        con.execute(statement)


def drop_namespace(con: sqlite3.Connection, names: TableNames) -> None:
    """Remove a namespace: its tables (their indexes and triggers go with them), views and registry row.
    With the change log on, first one ``DELETE`` event per live row, in key order. Inside a write
    transaction."""
    if not has_table(con, names.table):
        return
    if has_change_log(con):
        con.execute(
            f"INSERT INTO polykv_changes (op, ns, key, value) SELECT {ChangeOp.DELETE.value}, ?, key, NULL "  # noqa: S608
            f"FROM {names.live} ORDER BY key",
            (names.ns,),
        )
    for statement in (
        f"DROP VIEW IF EXISTS {names.live}",
        f"DROP VIEW IF EXISTS {names.count}",
        f"DROP TABLE IF EXISTS {names.table}",
        f"DROP TABLE IF EXISTS {names.ttl}",
    ):
        con.execute(statement)
    con.execute(f"DELETE FROM {REGISTRY} WHERE ns = ?", (names.ns,))  # noqa: S608


def _namespaces(con: sqlite3.Connection) -> list[tuple[str, bool]]:
    return [(ns, bool(ttl)) for ns, ttl in con.execute(f"SELECT ns, ttl FROM {REGISTRY} ORDER BY ns")]  # noqa: S608


def set_change_log(con: sqlite3.Connection, on: bool) -> None:
    """Add or remove the change log: ``polykv_changes`` and every namespace's change-log triggers. Inside a
    write transaction."""
    if on:
        con.execute(CHANGES_SQL)
    for ns, ttl in _namespaces(con):
        for statement in namespace_ddl(table_names(ns), change_log=on, ttl=ttl):
            con.execute(statement)
    if not on:
        con.execute("DROP TABLE IF EXISTS polykv_changes")


def create_layout(con: sqlite3.Connection) -> None:
    """Give a file without polykv tables the current layout (the KV namespace included). Inside a write
    transaction; the caller stamps ``user_version``."""
    con.execute(REGISTRY_SQL)
    con.execute(GUARD_SQL)
    create_namespace(con, "", change_log=False)
