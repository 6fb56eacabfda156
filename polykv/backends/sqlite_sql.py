"""The sqlite store's tables per namespace (layout 2), their names, and the statements on their rows.

Each namespace (``""`` for the KV pairs, each record schema) has its own tables, named by ``table_names``:

* ``T`` ``(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, value BLOB NOT NULL)``: the same b-trees as a
  plain ``(key TEXT PRIMARY KEY, value BLOB)`` table (a rowid table and a unique index on ``key``). ``id`` is
  the rowid, declared so that ``VACUUM`` keeps it: new rows get ``max(id) + 1``, which makes ``count()``
  ``max(id)`` minus the holes that deletes left (kept in ``polykv_namespaces`` by a trigger).
* ``T_ttl`` ``(key, expires)``: the expiry of the keys that have one (Unix seconds, SQLite's clock), with an
  index on ``expires``. Empty unless the namespace uses TTLs.
* views ``T_live`` (the live ``key, value`` rows) and ``T_count`` (one row: how many). While ``T_ttl`` is
  empty they are ``T`` itself and ``max(id) - holes``, so plain reads plan exactly like raw SQL on ``T``;
  in TTL mode they leave out the rows whose expiry has passed (``sqlite_schema`` switches them).

Table names are built from ``[a-z0-9_]`` only: letters and digits of the namespace kept as they are (lower
case), every other byte of its UTF-8 (upper-case letters included: SQLite's names ignore case) written as
``_`` and two hex digits, so two namespaces never share a table and no name needs quoting. Values always
travel as parameters; the only literal is the namespace in ``polykv_namespaces`` lookups, quoted.
Used by ``sqlite_schema`` (DDL), ``polykv.backends.sqlite`` (the store) and ``sqlite_ops`` (its fast
paths); imports neither.
"""

from __future__ import annotations

import dataclasses
import re

from ..keys import encodable, prefix_successor  # re-exported: the sqlite modules import them from here

__all__ = [
    "KV_TABLE",
    "MAX_IN",
    "NOW",
    "REGISTRY",
    "Statements",
    "TableNames",
    "encodable",
    "prefix_successor",
    "quote",
    "table_names",
]

#: The most keys (parameters) in one ``IN (...)`` list; longer batches are split.
MAX_IN = 512
#: SQLite's clock as Unix seconds (millisecond resolution; the same value for a whole statement step, so the
#: triggers agree with the statement that fires them about which rows are live). Every expiry is computed and
#: compared with it, so a TTL never reads back longer than it was set.
NOW = "((julianday('now') - 2440587.5) * 86400.0)"
#: The namespaces that have tables: ``ns``, the ``holes`` that deletes left below ``max(id)``, TTL mode.
REGISTRY = "polykv_namespaces"
#: The table of the KV namespace ``""``.
KV_TABLE = "polykv_kv"
_SAFE = re.compile(r"[a-z0-9]")


def quote(text: str) -> str:
    """``text`` as an SQL string literal. ``ValueError`` for a NUL character (SQL text cannot hold one)."""
    if "\x00" in text:
        raise ValueError(f"a namespace for SQL cannot contain NUL: {text!r}")
    return "'" + text.replace("'", "''") + "'"


def _encode_name(ns: str) -> str:
    return "".join(c if _SAFE.fullmatch(c) else "".join(f"_{b:02x}" for b in c.encode("utf-8")) for c in ns)


@dataclasses.dataclass(frozen=True)
class TableNames:
    """The SQL names of one namespace: its table, TTL table, live view, count view, trigger and index prefix."""

    ns: str
    table: str
    ttl: str
    live: str
    count: str
    literal: str  # ns as an SQL string literal

    def index(self, field: str) -> str:
        """The name of this namespace's expression index on JSON ``field`` (same encoding: distinct per field)."""
        return f"{self.table}_ix_{_encode_name(field)}"

    def trigger(self, kind: str) -> str:
        return f"{self.table}_{kind}"


def table_names(ns: str) -> TableNames:
    """The names of namespace ``ns``'s tables (``polykv_kv`` for ``""``, ``polykv_r_<encoded>`` otherwise).

    ``_`` never appears unescaped in an encoded namespace and every suffix starts with ``_`` and a letter
    that is not a hex digit, so no two namespaces, and no namespace and a suffix, give the same name.
    """
    table = KV_TABLE if ns == "" else "polykv_r_" + _encode_name(ns)
    return TableNames(ns, table, table + "_ttl", table + "_live", table + "_count", quote(ns))


def _live(alias: str, ttl: str) -> str:
    """The row ``alias`` has no expiry that has passed."""
    return f"NOT EXISTS (SELECT 1 FROM {ttl} x WHERE x.key = {alias}.key AND x.expires <= {NOW})"  # noqa: S608


class Statements:
    """Every statement on one namespace's rows; built once per namespace and cached by the store.

    Reads go through the ``_live`` view (plain ``T`` outside TTL mode); writes that must tell a live row from
    an expired one test ``T_ttl`` themselves (an empty table costs one page look-up). Keyed statement sets:
    ``scan_keys``/``scan_items`` by (first page, has an upper bound); ``count_range``/``clear_range`` by
    has an upper bound. ``get_many(n)`` is the ``IN`` query for ``n`` keys (``n`` <= ``MAX_IN``).
    """

    __slots__ = (
        "_get_many",
        "add",
        "clear_live",
        "clear_range",
        "count_all",
        "count_range",
        "delete",
        "delete_if",
        "expire_if",
        "get",
        "has_ttls",
        "items_from",
        "live_row",
        "names",
        "purge",
        "replace",
        "scan_items",
        "scan_keys",
        "set_value",
        "ttl_left",
        "ttl_put",
        "ttl_restore",
        "upsert",
    )

    def __init__(self, ns: str) -> None:
        n = self.names = table_names(ns)
        t, x, v = n.table, n.ttl, n.live
        self.get = f"SELECT value FROM {v} WHERE key = ?"  # noqa: S608 - names from table_names only
        self.upsert = (
            f"INSERT INTO {t} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"  # noqa: S608
        )
        # insert if absent; a row whose expiry has passed counts as absent and is overwritten
        self.add = (
            f"INSERT INTO {t} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value "  # noqa: S608
            f"WHERE EXISTS (SELECT 1 FROM {x} x WHERE x.key = excluded.key AND x.expires <= {NOW})"
        )
        self.replace = f"UPDATE {t} SET value = ? WHERE key = ? AND {_live(t, x)}"  # noqa: S608
        self.set_value = f"UPDATE {t} SET value = ? WHERE key = ?"  # noqa: S608
        self.delete = f"DELETE FROM {t} WHERE key = ? AND {_live(t, x)}"  # noqa: S608
        # owner-checked leases (Capability.LEASE): act only on a live row holding exactly the owner's bytes;
        # expire_if rewrites the value unchanged (the change feed reports an update), then sets the expiry
        self.delete_if = f"DELETE FROM {t} WHERE key = ? AND value = ? AND {_live(t, x)}"  # noqa: S608
        self.expire_if = f"UPDATE {t} SET value = value WHERE key = ? AND value = ? AND {_live(t, x)}"  # noqa: S608
        self.ttl_put = (
            f"INSERT INTO {x} (key, expires) VALUES (?, {NOW} + ?) "  # noqa: S608
            "ON CONFLICT (key) DO UPDATE SET expires = excluded.expires"
        )
        self.ttl_restore = f"INSERT OR REPLACE INTO {x} (key, expires) VALUES (?, ?)"  # noqa: S608
        self.live_row = (
            f"SELECT t.value, x.expires FROM {t} t LEFT JOIN {x} x ON x.key = t.key "  # noqa: S608
            f"WHERE t.key = ? AND (x.expires IS NULL OR x.expires > {NOW})"
        )
        self.ttl_left = (
            f"SELECT max(0.0, x.expires - {NOW}) FROM {t} t LEFT JOIN {x} x ON x.key = t.key "  # noqa: S608
            f"WHERE t.key = ? AND (x.expires IS NULL OR x.expires > {NOW})"
        )
        self.has_ttls = f"SELECT EXISTS (SELECT 1 FROM {x})"  # noqa: S608
        self.purge = f"DELETE FROM {t} WHERE key IN (SELECT key FROM {x} WHERE expires <= {NOW})"  # noqa: S608
        self.count_all = f"SELECT n FROM {n.count}"  # noqa: S608
        # prefix scans are key ranges on the unique key index (LIKE and GLOB are not literal)
        self.scan_keys = {
            (first, bounded): f"SELECT key FROM {v} WHERE key {'>=' if first else '>'} ?"  # noqa: S608
            + (" AND key < ?" if bounded else "")
            + " ORDER BY key LIMIT ?"
            for first in (True, False)
            for bounded in (True, False)
        }
        self.scan_items = {
            (first, bounded): f"SELECT key, value FROM {v} WHERE key {'>=' if first else '>'} ?"  # noqa: S608
            + (" AND key < ?" if bounded else "")
            + " ORDER BY key LIMIT ?"
            for first in (True, False)
            for bounded in (True, False)
        }
        # one cursor over a range, for sqlite_ops' copy: keyed by (after a key, has an upper bound)
        self.items_from = {
            (after, bounded): f"SELECT key, value FROM {v} WHERE key {'>' if after else '>='} ?"  # noqa: S608
            + (" AND key < ?" if bounded else "")
            + " ORDER BY key"
            for after in (False, True)
            for bounded in (False, True)
        }
        self.count_range = {
            bounded: f"SELECT count(*) FROM {v} WHERE key >= ?" + (" AND key < ?" if bounded else "")  # noqa: S608
            for bounded in (True, False)
        }
        self.clear_live = {
            bounded: f"DELETE FROM {t} WHERE key >= ?" + (" AND key < ?" if bounded else "") + f" AND {_live(t, x)}"  # noqa: S608
            for bounded in (True, False)
        }
        # then the expired rows left in the range (the delete trigger reports none of them to the change log)
        self.clear_range = {
            bounded: f"DELETE FROM {t} WHERE key >= ?" + (" AND key < ?" if bounded else "")  # noqa: S608
            for bounded in (True, False)
        }
        self._get_many: dict[int, str] = {}

    def get_many(self, size: int) -> str:
        """``SELECT key, value`` of the live rows among ``size`` keys (parameters), built once per size."""
        try:
            return self._get_many[size]
        except KeyError:
            sql = self._get_many[size] = (
                f"SELECT key, value FROM {self.names.live} WHERE key IN ({', '.join('?' * size)})"  # noqa: S608
            )
            return sql
