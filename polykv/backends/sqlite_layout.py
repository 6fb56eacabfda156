"""Which layout a sqlite file has, and bringing it to the current one (``sqlite_schema.LAYOUT``).

``PRAGMA user_version`` says: 0 is a new file (no polykv tables) or layout 1 (``polykv_items(ns, key, value,
expires)``, everything in one table), ``LAYOUT`` is current, anything else is refused with
``InvalidArgumentError`` and the file is left as it was. A layout-1 file is migrated by the first store that
opens it, in one transaction (a crash leaves layout 1 untouched): every live row moves to its namespace's
table with its expiry, rows already expired are dropped (no reader could see them), the change log keeps
its rows and ids (cursors stay valid) and its triggers move to the new tables; the expression indexes of
``filter_record`` are recreated on first use.
"""

from __future__ import annotations

import sqlite3
import time

from ..errors import InvalidArgumentError
from .sqlite_connection import is_busy
from .sqlite_schema import (
    GUARD_SQL,
    LAYOUT,
    REGISTRY_SQL,
    create_layout,
    create_namespace,
    has_change_log,
    has_table,
    namespace_ddl,
    set_change_log,
    set_ttl_mode,
)
from .sqlite_sql import NOW, REGISTRY, table_names

__all__ = ["initialise", "layout_of", "migrate_layout_1"]

_NEXT_NS = "SELECT ns FROM polykv_items WHERE ns > ? ORDER BY ns LIMIT 1"
# ORDER BY key: the new table's ids are then 1..n with no holes
_COPY_ROWS = (
    "INSERT INTO {table} (key, value) SELECT key, value FROM polykv_items "
    "WHERE ns = ? AND (expires IS NULL OR expires > ?) ORDER BY key"
)
_COPY_TTLS = "INSERT INTO {ttl} (key, expires) SELECT key, expires FROM polykv_items WHERE ns = ? AND expires > ?"


def layout_of(con: sqlite3.Connection) -> int:
    """The layout of the file: ``LAYOUT``, 1 (``polykv_items``, user_version 0), 0 (no polykv tables yet) or
    an unknown user_version as it is."""
    version = int(con.execute("PRAGMA user_version").fetchone()[0])
    if version == 0:
        return 1 if has_table(con, "polykv_items") else 0
    return version


def migrate_layout_1(con: sqlite3.Connection) -> bool:
    """Move a layout-1 file's rows to layout 2 (see the module docstring); returns whether it kept a change
    log (which it still does). Inside a write transaction; the caller stamps ``user_version``."""
    had_log = has_change_log(con)
    for kind in ("insert", "update", "delete"):  # the copy is no change; the new triggers come last
        con.execute(f"DROP TRIGGER IF EXISTS polykv_changes_{kind}")
    con.execute(REGISTRY_SQL)
    cutoff = float(con.execute(f"SELECT {NOW}").fetchone()[0])  # one instant for rows and expiries alike
    namespaces = [""]
    while (row := con.execute(_NEXT_NS, (namespaces[-1],)).fetchone()) is not None:
        namespaces.append(row[0])
    for ns in namespaces:
        names = table_names(ns)
        create_namespace(con, ns, change_log=False)
        con.execute(_COPY_ROWS.format(table=names.table), (ns, cutoff))
        if con.execute(_COPY_TTLS.format(ttl=names.ttl), (ns, cutoff)).rowcount:
            set_ttl_mode(con, names, True)
    con.execute("DROP TABLE polykv_items")  # its indexes go with it
    con.execute(GUARD_SQL)
    if had_log:
        for ns, ttl in con.execute(f"SELECT ns, ttl FROM {REGISTRY} ORDER BY ns").fetchall():  # noqa: S608
            for statement in namespace_ddl(table_names(ns), change_log=True, ttl=bool(ttl)):
                con.execute(statement)
    return had_log


def _layout_error(path: str, version: int, polykv_file: bool) -> InvalidArgumentError:
    if version > LAYOUT and polykv_file:
        text = (
            f"the sqlite database {path!r} has polykv layout {version}, written by a newer polykv; this one "
            f"reads layouts 1 to {LAYOUT}: upgrade polykv-core to open it (the file was not changed)"
        )
    else:
        text = (
            f"the sqlite database {path!r} has user_version {version}, which is no polykv layout this polykv "
            f"knows (it writes layout {LAYOUT}): if a newer polykv wrote it, upgrade polykv-core; if another "
            "application uses the file, give polykv a file of its own (the file was not changed)"
        )
    return InvalidArgumentError(text, backend="sqlite")


def _refuse_unknown(con: sqlite3.Connection, path: str, layout: int) -> None:
    if layout not in (0, 1, LAYOUT):
        raise _layout_error(path, layout, has_table(con, REGISTRY))


def _upgrade(con: sqlite3.Connection, path: str, change_log: bool | None) -> bool:
    """Inside a write transaction: create or migrate the layout, then switch the change log if asked;
    returns whether the file now keeps one."""
    layout = layout_of(con)  # again: another process may have done it while this one waited for the lock
    _refuse_unknown(con, path, layout)
    if layout != LAYOUT:
        if layout == 1:
            had_log = migrate_layout_1(con)
            change_log = had_log if change_log is None else change_log
        else:
            create_layout(con)
        con.execute(f"PRAGMA user_version = {LAYOUT}")
    current = has_change_log(con)
    if change_log is None or change_log == current:
        return current
    set_change_log(con, change_log)
    return change_log


def initialise(con: sqlite3.Connection, *, path: str, wal: bool, change_log: bool | None, timeout: float) -> bool:
    """Switch the file to WAL (when ``wal``) and bring it to layout ``LAYOUT`` (creating it, or migrating a
    layout-1 file); add (``change_log=True``) or remove (``False``) the change log, or keep what the file has
    (``None``). Returns whether the file now keeps a change log.

    Waits out other processes doing the same for up to ``max(timeout, 1)`` seconds; raises the
    ``sqlite3.DatabaseError`` of the last try when the file stays locked or is not a usable database, and
    ``InvalidArgumentError`` naming ``path`` for a file of a later or unknown layout (left unchanged).
    """
    deadline = time.monotonic() + max(timeout, 1.0)
    while True:
        try:
            layout = layout_of(con)
            _refuse_unknown(con, path, layout)  # before WAL: a refused file is not changed at all
            if wal and con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            if layout == LAYOUT:  # the usual open: nothing to write unless the change log is to change
                current = has_change_log(con)
                if change_log is None or change_log == current:
                    return current
            con.execute("BEGIN IMMEDIATE")
            try:
                result = _upgrade(con, path, change_log)
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            return result
        except sqlite3.DatabaseError as exc:
            if is_busy(exc) and time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            raise
