"""The tables of one PostgreSQL store and the constant statements on them.

One table ``<table>`` holds every namespace (``""`` for plain KV pairs, a schema name for records)::

    ns text COLLATE "C", key text COLLATE "C", value bytea, doc jsonb, expires timestamptz,
    PRIMARY KEY (ns, key)

``value`` is the codec's bytes, exactly as written (reads never re-encode); ``doc`` is the same record as
``jsonb`` (json codec, record namespaces) for filters pushed down to SQL and their expression indexes.
Keys are compared byte-wise (``COLLATE "C"``), so a prefix is a key range on the primary key. Text cannot
hold NUL, so keys are stored with ``\\x01`` -> ``\\x01\\x02`` and NUL -> ``\\x01\\x01``: a prefix code that
keeps both the order and the prefix relation. A row is live while ``expires IS NULL OR expires > now()``
(the server's clock only). ``<table>_meta`` holds the schema version.

Every name is quoted by ``psycopg.sql``; the statements are rendered once per store.
"""

from __future__ import annotations

import hashlib
import re

from psycopg import sql

from polykv.errors import InvalidArgumentError
from polykv.keys import prefix_successor

__all__ = [
    "LIVE",
    "SCHEMA_VERSION",
    "Layout",
    "escape_key",
    "prefix_successor",
    "unescape_key",
]

#: Version of the table layout; a table carrying a newer one is refused (written by a newer polykv).
SCHEMA_VERSION = 1

LIVE = "(expires IS NULL OR expires > now())"
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def escape_key(key: str) -> str:
    """The stored form of ``key`` (NUL-free, same order and prefixes)."""
    if "\x00" in key or "\x01" in key:
        return key.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")
    return key


def unescape_key(stored: str) -> str:
    """The key whose stored form is ``stored``."""
    if "\x01" in stored:
        return stored.replace("\x01\x01", "\x00").replace("\x01\x02", "\x01")
    return stored


def _render(query: sql.Composable) -> str:
    return query.as_string(None)


class Layout:
    """Names and constant statements of the store table ``table`` (letters, digits, ``_``; 40 at most)."""

    def __init__(self, table: str) -> None:
        if not isinstance(table, str) or _TABLE.fullmatch(table) is None:
            raise InvalidArgumentError(
                f"table must be 1-40 letters, digits or '_', not starting with a digit; got {table!r}",
                backend="postgres",
            )
        self.table = table
        digest = hashlib.sha1(table.encode(), usedforsecurity=False).hexdigest()[:12]
        #: advisory-lock key that serialises DDL on this table across processes
        self.lock_key = int(digest[:15], 16) & 0x7FFF_FFFF_FFFF_FFFF
        self.t = sql.Identifier(table)
        self.meta = sql.Identifier(f"{table}_meta")
        self.changes = sql.Identifier(f"{table}_changes")
        self.head = sql.Identifier(f"{table}_changes_head")
        self.channel = f"polykv_{digest}"
        self.guc = f"polykv.seq_{digest}"
        self.fn_begin = sql.Identifier(f"{table}_feed_begin")
        self.fn_row = sql.Identifier(f"{table}_feed_row")
        self.fn_end = sql.Identifier(f"{table}_feed_end")
        self._render_statements()

    def index_name(self, field: str) -> str:
        """The name of the expression index of record field ``field`` (sanitised, collision-free)."""
        digest = hashlib.sha1(f"{self.table}\0{field}".encode(), usedforsecurity=False).hexdigest()[:10]
        return f"{self.table}_ix_" + re.sub(r"[^A-Za-z0-9_]", "_", field)[:20] + "_" + digest

    def _render_statements(self) -> None:
        t = self.t
        f = {"t": t}
        live = sql.SQL(LIVE)
        exp = sql.SQL("now() + %s * interval '1 second'")

        def q(text: str, **more: sql.Composable) -> str:
            return _render(sql.SQL(text).format(**f, live=live, **more))

        self.get = q("SELECT value FROM {t} WHERE ns = %s AND key = %s AND {live}")
        cols = "INSERT INTO {t} AS t (ns, key, value, doc, expires) VALUES (%s, %s, %b, %s::jsonb, {exp}) "
        upsert = (
            "ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, doc = EXCLUDED.doc, expires = EXCLUDED.expires"
        )
        # keyed by "has a ttl"
        self.set = {ttl: q(cols + upsert, exp=exp if ttl else sql.SQL("NULL")) for ttl in (False, True)}
        self.add = {
            ttl: q(
                cols + upsert + " WHERE t.expires IS NOT NULL AND t.expires <= now()",
                exp=exp if ttl else sql.SQL("NULL"),
            )
            for ttl in (False, True)
        }
        self.replace = {
            ttl: q(
                "UPDATE {t} SET value = %b, doc = %s::jsonb, expires = {exp} WHERE ns = %s AND key = %s AND {live}",
                exp=exp if ttl else sql.SQL("NULL"),
            )
            for ttl in (False, True)
        }
        many = (
            "INSERT INTO {t} AS t (ns, key, value, doc, expires) SELECT %s, u.k, u.v, u.d::jsonb, {exp} "
            "FROM unnest(%s::text[], %b::bytea[], %s::text[]) WITH ORDINALITY AS u(k, v, d, i) ORDER BY u.i "
        )
        self.set_many = {ttl: q(many + upsert, exp=exp if ttl else sql.SQL("NULL")) for ttl in (False, True)}
        self.delete = q("DELETE FROM {t} WHERE ns = %s AND key = %s AND {live}")
        self.get_many = q("SELECT key, value FROM {t} WHERE ns = %s AND key = ANY(%s::text[]) AND {live}")
        self.delete_many = q("DELETE FROM {t} WHERE ns = %s AND key = ANY(%s::text[]) AND {live}")
        # a compare-and-set on the exact bytes (the expiry is kept)
        self.swap = q("UPDATE {t} SET value = %b, doc = %s::jsonb WHERE ns = %s AND key = %s AND value = %b AND {live}")
        self.get_row = q("SELECT value FROM {t} WHERE ns = %s AND key = %s AND {live}")
        # json ints are incremented by the server in one statement; an expired row counts as absent
        dead = "t.expires IS NOT NULL AND t.expires <= now()"
        self.incr = q(
            "INSERT INTO {t} AS t (ns, key, value, doc, expires) VALUES (%s, %s, convert_to(%s::bigint::text, 'UTF8'), "  # noqa: S608
            "NULL, NULL) ON CONFLICT (ns, key) DO UPDATE SET "
            f"value = convert_to(((CASE WHEN {dead} THEN 0 ELSE convert_from(t.value, 'UTF8')::bigint END) "
            "+ %s::bigint)::text, 'UTF8'), "
            f"expires = CASE WHEN {dead} THEN NULL ELSE t.expires END "
            "RETURNING convert_from(t.value, 'UTF8')::bigint"
        )
        # a write conditioned on the bytes read (the fallback incr for other codecs); None: absent before
        self.put_if = q("UPDATE {t} SET value = %b WHERE ns = %s AND key = %s AND value = %b AND {live}")
        self.ttl = q(
            "SELECT extract(epoch FROM expires - now())::float8, expires IS NULL FROM {t} "
            "WHERE ns = %s AND key = %s AND {live}"
        )
        # scans: keyed by (first page, has an upper bound); later pages restart after the last key seen
        self.scan_keys: dict[tuple[bool, bool], str] = {}
        self.scan_items: dict[tuple[bool, bool], str] = {}
        for statements, what in ((self.scan_keys, "key"), (self.scan_items, "key, value")):
            for first in (True, False):
                for bounded in (True, False):
                    text = (
                        f"SELECT {what} FROM {{t}} WHERE ns = %s AND key {'>=' if first else '>'} %s "  # noqa: S608
                        + ("AND key < %s " if bounded else "")
                        + "AND {live} ORDER BY key LIMIT %s"
                    )
                    statements[(first, bounded)] = q(text)
        self.count = {
            True: q("SELECT count(*) FROM {t} WHERE ns = %s AND key >= %s AND key < %s AND {live}"),
            False: q("SELECT count(*) FROM {t} WHERE ns = %s AND key >= %s AND {live}"),
        }
        # one statement: the range goes (expired rows too), the live rows removed are counted
        self.clear = {
            bounded: q(
                "WITH gone AS (DELETE FROM {t} WHERE ns = %s AND key >= %s "  # noqa: S608 - constants, placeholders
                + ("AND key < %s " if bounded else "")
                + "RETURNING expires) SELECT count(*) FROM gone WHERE expires IS NULL OR expires > now()"
            )
            for bounded in (True, False)
        }
        self.next_schema = q("SELECT ns FROM {t} WHERE ns > %s AND {live} ORDER BY ns LIMIT 1")
        self.drop = q("DELETE FROM {t} WHERE ns = %s")
        self.sweep = q(
            "DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t} WHERE expires IS NOT NULL "
            "AND expires <= now() LIMIT %s))"
        )
        self.docless = q("SELECT key, value FROM {t} WHERE ns = %s AND doc IS NULL AND {live}")

    # -- DDL ---------------------------------------------------------------------------------------
    def create_sql(self) -> list[sql.Composed]:
        """The statements that create the store's tables (idempotent; run under the DDL lock)."""
        return [
            sql.SQL(
                'CREATE TABLE IF NOT EXISTS {t} (ns text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, '
                "value bytea NOT NULL, doc jsonb, expires timestamptz, PRIMARY KEY (ns, key))"
            ).format(t=self.t),
            sql.SQL("CREATE INDEX IF NOT EXISTS {name} ON {t} (expires) WHERE expires IS NOT NULL").format(
                name=sql.Identifier(f"{self.table}_expires"), t=self.t
            ),
            sql.SQL("CREATE INDEX IF NOT EXISTS {name} ON {t} (ns) WHERE doc IS NULL").format(
                name=sql.Identifier(f"{self.table}_docless"), t=self.t
            ),
            sql.SQL("CREATE TABLE IF NOT EXISTS {m} (name text PRIMARY KEY, value text NOT NULL)").format(m=self.meta),
            sql.SQL(
                "INSERT INTO {m} (name, value) VALUES ('schema_version', {v}) ON CONFLICT (name) DO NOTHING"
            ).format(m=self.meta, v=sql.Literal(str(SCHEMA_VERSION))),
        ]

    def version_sql(self) -> sql.Composed:
        return sql.SQL("SELECT value FROM {m} WHERE name = 'schema_version'").format(m=self.meta)

    def index_sql(self, field: str) -> sql.Composed:
        """``CREATE INDEX`` of the expression ``(ns, doc -> field)``; ``field`` is quoted as a literal."""
        return sql.SQL("CREATE INDEX IF NOT EXISTS {name} ON {t} (ns, (doc -> {field}))").format(
            name=sql.Identifier(self.index_name(field)), t=self.t, field=sql.Literal(field)
        )
