"""The sqlite store's statements on ``polykv_items`` and the key ranges they search.

Every statement is a constant; values always travel as parameters. A row is live when
"expires IS NULL OR expires > now". Used by ``polykv.backends.sqlite`` (the store) and
``polykv.backends.sqlite_ops`` (its fast paths); imports neither.
"""

from __future__ import annotations

from ..keys import encodable, prefix_successor  # re-exported: the sqlite modules import them from here

__all__ = [
    "ADD",
    "CLEAR_EXPIRED",
    "CLEAR_LIVE",
    "COUNT",
    "DELETE",
    "DELETE_IF",
    "DROP",
    "EXPIRE_IF",
    "EXPIRE_ONE",
    "GET",
    "GET_MANY",
    "IN_CHUNKS",
    "NEXT_SCHEMA",
    "NOW",
    "PURGE",
    "REPLACE",
    "SCAN_ITEMS",
    "SCAN_KEYS",
    "SET_VALUE",
    "UPSERT",
    "encodable",
    "prefix_successor",
]

IN_CHUNKS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)  # IN-list sizes, so few distinct statements get cached
#: SQLite's clock as Unix seconds. Write statements compare expiries with it (not with a bound parameter) so
#: that the change-log triggers, which run inside the same statement step and see the same 'now', agree
#: exactly with the statement about which rows were live.
NOW = "((julianday('now') - 2440587.5) * 86400.0)"

GET = "SELECT value, expires FROM polykv_items WHERE ns = ? AND key = ?"
UPSERT = (
    "INSERT INTO polykv_items (ns, key, value, expires) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires = excluded.expires"
)
# Insert if absent; a row that has expired counts as absent and is overwritten.
ADD = (
    "INSERT INTO polykv_items (ns, key, value, expires) VALUES (?, ?, ?, ?) "  # noqa: S608
    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
    f"WHERE polykv_items.expires IS NOT NULL AND polykv_items.expires <= {NOW}"
)
REPLACE = (
    f"UPDATE polykv_items SET value = ?, expires = ? WHERE ns = ? AND key = ? AND (expires IS NULL OR expires > {NOW})"  # noqa: S608
)
SET_VALUE = "UPDATE polykv_items SET value = ? WHERE ns = ? AND key = ?"
DELETE = f"DELETE FROM polykv_items WHERE ns = ? AND key = ? AND (expires IS NULL OR expires > {NOW})"  # noqa: S608
# Owner-checked leases (Capability.LEASE): act only on a live row holding exactly the owner's bytes.
DELETE_IF = f"DELETE FROM polykv_items WHERE ns = ? AND key = ? AND value = ? AND (expires IS NULL OR expires > {NOW})"  # noqa: S608
EXPIRE_IF = (
    "UPDATE polykv_items SET expires = ? WHERE ns = ? AND key = ? AND value = ? "  # noqa: S608
    f"AND (expires IS NULL OR expires > {NOW})"
)
EXPIRE_ONE = f"DELETE FROM polykv_items WHERE ns = ? AND key = ? AND expires <= {NOW}"  # noqa: S608
PURGE = f"DELETE FROM polykv_items WHERE expires IS NOT NULL AND expires <= {NOW}"  # noqa: S608
NEXT_SCHEMA = "SELECT ns FROM polykv_items WHERE ns > ? AND (expires IS NULL OR expires > ?) ORDER BY ns LIMIT 1"
DROP = "DELETE FROM polykv_items WHERE ns = ?"
# Prefix scans are key ranges on the primary key (LIKE and GLOB are not literal); keyed by
# (first page, has an upper bound). Later pages restart after the last key seen.
SCAN_KEYS = {
    (True, True): "SELECT key FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (True, False): "SELECT key FROM polykv_items WHERE ns = ? AND key >= ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (False, True): "SELECT key FROM polykv_items WHERE ns = ? AND key > ? AND key < ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (False, False): "SELECT key FROM polykv_items WHERE ns = ? AND key > ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
}
SCAN_ITEMS = {
    (True, True): "SELECT key, value FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (True, False): "SELECT key, value FROM polykv_items WHERE ns = ? AND key >= ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (False, True): "SELECT key, value FROM polykv_items WHERE ns = ? AND key > ? AND key < ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (False, False): "SELECT key, value FROM polykv_items WHERE ns = ? AND key > ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
}
COUNT = {
    True: "SELECT COUNT(*) FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? "
    "AND (expires IS NULL OR expires > ?)",
    False: "SELECT COUNT(*) FROM polykv_items WHERE ns = ? AND key >= ? AND (expires IS NULL OR expires > ?)",
}
CLEAR_LIVE = {
    True: f"DELETE FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? AND (expires IS NULL OR expires > {NOW})",  # noqa: S608
    False: f"DELETE FROM polykv_items WHERE ns = ? AND key >= ? AND (expires IS NULL OR expires > {NOW})",  # noqa: S608
}
CLEAR_EXPIRED = {
    True: f"DELETE FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? AND expires <= {NOW}",  # noqa: S608
    False: f"DELETE FROM polykv_items WHERE ns = ? AND key >= ? AND expires <= {NOW}",  # noqa: S608
}
GET_MANY = {
    n: "SELECT key, value, expires FROM polykv_items WHERE ns = ? AND key IN (" + ", ".join("?" * n) + ")"  # noqa: S608 - placeholders only
    for n in IN_CHUNKS
}
