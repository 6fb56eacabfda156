"""``sqlite``: the durable embedded default store, on the standard library's ``sqlite3``.

Layout 2 (``PRAGMA user_version = 2``): each namespace (the KV pairs, each record schema) has a table of its
own, ``(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, value BLOB NOT NULL)``, so a plain ``get``/``set``
is the same statement on the same b-trees as hand-written SQL on ``(key TEXT PRIMARY KEY, value BLOB)``.
Expiries live in a side table per namespace that reads and writes consult only while it is in use (TTL
mode); ``count()`` is ``max(id)`` minus the holes deletes left (a trigger keeps them), an O(log N) look-up;
prefix scans are key ranges on the key index, never LIKE/GLOB. A layout-1 file (one ``polykv_items`` table)
is migrated when first opened. The database runs in WAL mode; each thread gets its own connection and
processes coordinate through SQLite's file locks (``timeout`` is the busy timeout). TTLs are wall-clock
deadlines on SQLite's clock: expired rows are invisible to every read and are deleted by a sweep.

This module is the store: its settings and the contract's primitives. Its other jobs have their own modules:
``sqlite_sql`` (table names and row statements), ``sqlite_schema`` (tables, views, triggers),
``sqlite_layout`` (layout versions, creating a file, migrating layout 1), ``sqlite_connection`` (per-thread
connections, error translation), ``sqlite_changes`` (the change feed), ``sqlite_index`` (indexed record
filters) and ``sqlite_ops`` (fast paths of ``polykv.ops``, registered here).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from ..capabilities import Capability
from ..changes import RawChange
from ..errors import InvalidArgumentError, InvalidURLError, PolyKVError
from ..options import as_bool, as_float, as_int, options_from_url, parse_query
from ..records import Condition, matches_all
from ..store import MISSING, KeyValueStore, _Missing
from . import sqlite_changes
from .sqlite_connection import MEMORY, SQLiteConnections, is_missing_table
from .sqlite_index import create_index_sql, index_name, index_term, indexed_select_sql
from .sqlite_layout import initialise
from .sqlite_ops import register_fast_paths
from .sqlite_schema import create_namespace, drop_namespace, set_ttl_mode
from .sqlite_sql import MAX_IN, REGISTRY, Statements, encodable, prefix_successor

__all__ = ["DEFAULT_PATH", "MEMORY", "SQLiteStore", "index_name", "prefix_successor"]

#: The file a store opens when no path is given (``sqlite:///polykv.db``), relative to the working directory.
DEFAULT_PATH = "polykv.db"

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_PAGE = 500  # rows per page of a scan
_PURGE_EVERY = 1000  # writes between two sweeps of expired rows (and prunes of the change log)
_TTL_MODE = f"SELECT ttl FROM {REGISTRY} WHERE ns = ?"  # noqa: S608 - a constant name
_TTL_NAMESPACES = f"SELECT ns FROM {REGISTRY} WHERE ttl = 1 ORDER BY ns"  # noqa: S608
_SCHEMAS = f"SELECT ns FROM {REGISTRY} WHERE ns <> '' ORDER BY ns"  # noqa: S608

T = TypeVar("T")


class SQLiteStore(SQLiteConnections, KeyValueStore):
    """A durable store in one SQLite file (WAL), safe for many threads and processes; every capability.

    ``path`` is a file (created if missing; its folder must exist) or ``":memory:"`` for a private
    in-memory database shared by the store's threads. ``synchronous`` is SQLite's durability setting
    (``NORMAL``: with WAL, a committed write survives a process crash; a power loss can drop the last
    commits, never corrupt the file. ``FULL``: survives power loss too, slower). ``timeout`` is how long a
    writer waits for another one, in seconds.

    ``change_log`` is the durable change feed (``polykv.ops.watch``, ``Capability.WATCH``): table
    ``polykv_changes``, filled by triggers in the same transaction as each write, keeping about the last
    ``change_log_size`` changes (100,000). It is a property of the file: ``True`` turns it on, ``False`` removes
    it, ``None`` (the default) keeps what the file has (a new file: off, since it halves single-write speed).
    Only a store whose file keeps the log declares ``Capability.WATCH``.
    """

    _backend_type = "sqlite"
    url_schemes = ("sqlite",)
    capabilities = frozenset(
        {
            Capability.TTL,
            Capability.ADD,
            Capability.COMPARE_AND_SET,
            Capability.INCR,
            Capability.INDEX,
            Capability.LEASE,
        }
    )

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_PATH,
        *,
        codec: Any = "json",
        synchronous: str = "NORMAL",
        timeout: float = 10.0,
        change_log: bool | None = None,
        change_log_size: int = 100_000,
    ) -> None:
        super().__init__(codec=codec)
        path = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
        if not isinstance(path, str) or not path:
            raise InvalidArgumentError(f"the sqlite path must be a non-empty str, got {path!r}", backend="sqlite")
        mode = synchronous.upper() if isinstance(synchronous, str) else synchronous
        if mode not in _SYNCHRONOUS:
            raise InvalidArgumentError(
                f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, got {synchronous!r}", backend="sqlite"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise InvalidArgumentError(f"timeout must be a number of seconds >= 0, got {timeout!r}", backend="sqlite")
        if change_log is not None and not isinstance(change_log, bool):
            raise InvalidArgumentError(f"change_log must be True, False or None, got {change_log!r}", backend="sqlite")
        if isinstance(change_log_size, bool) or not isinstance(change_log_size, int) or change_log_size < 1:
            raise InvalidArgumentError(
                f"change_log_size must be an int >= 1, got {change_log_size!r}", backend="sqlite"
            )
        self._change_log_setting = change_log
        self.change_log = False  # resolved by _initialise: whether the file keeps a change log
        self.change_log_size = change_log_size
        self.path = path
        self.synchronous: str = mode
        self.timeout = float(timeout)
        self._setup_connections()
        self._writes = 0
        self._ready_indexes: set[tuple[str, str]] = set()  # (schema, field) whose index exists
        self._statements: dict[str, Statements] = {}
        if not self.in_memory:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise InvalidArgumentError(
                    f"cannot open the sqlite database {path!r}: folder {folder!r} does not exist", backend="sqlite"
                )
            if os.path.isdir(path):
                raise InvalidArgumentError(
                    f"cannot open the sqlite database {path!r}: it is a folder, not a file", backend="sqlite"
                )
        self._initialise(self._con())
        self._forget_after_fork()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteStore:
        """``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:`` (or
        ``sqlite://``); query parameters ``codec``, ``synchronous``, ``timeout``, ``change_log`` (``true`` or
        ``false``) and ``change_log_size`` (keywords win)."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in cls.url_schemes:
            raise InvalidURLError(f"not a sqlite URL: scheme {parts.scheme!r}", backend="sqlite")
        if parts.netloc:
            raise InvalidURLError(
                "sqlite URLs name no host (nor user or password): use sqlite:///relative.db or "
                f"sqlite:////absolute.db, got host {parts.hostname!r}",
                backend="sqlite",
            )
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path) or MEMORY
        settings = parse_query(
            parts.query,
            {
                "codec": str,
                "synchronous": str,
                "timeout": as_float,
                "change_log": as_bool,
                "change_log_size": as_int,
            },
            "sqlite",
        )
        with options_from_url(settings, options):
            return cls(path, **{**settings, **options})

    def __repr__(self) -> str:
        return f"<SQLiteStore path={self.path!r} codec={self.codec.name!r} synchronous={self.synchronous!r}>"

    # == set-up ==================================================================================
    def _initialise(self, con: sqlite3.Connection) -> None:
        """Bring the file to the current layout (``sqlite_layout.initialise``: create it, or migrate a
        layout-1 file); a store whose file keeps a change log declares ``Capability.WATCH``. Closes the store
        and raises a polykv error on failure (``InvalidArgumentError`` for a file of a later layout)."""
        try:
            self.change_log = initialise(
                con, path=self.path, wal=not self.in_memory, change_log=self._change_log_setting, timeout=self.timeout
            )
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._failure(exc) from None
        except PolyKVError:
            self.close()
            raise
        if self.change_log:  # an instance attribute: only a store with a change log offers watch
            object.__setattr__(self, "capabilities", type(self).capabilities | {Capability.WATCH})

    def _reinitialise(self, con: sqlite3.Connection) -> None:
        """A :memory: store used again after ``close()``: its database is new and empty, lay it out again."""
        self._ready_indexes = set()
        self._initialise(con)

    # == namespaces ================================================================================
    def _sql(self, ns: str) -> Statements:
        """The statements of namespace ``ns`` (built once per store)."""
        try:
            return self._statements[ns]
        except KeyError:
            pass
        try:
            statements = Statements(ns)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), backend="sqlite", schema=ns or None) from None
        self._statements[ns] = statements
        return statements

    def _create_namespace(self, ns: str) -> None:
        """Create the tables of ``ns`` (its first write, or the first after another connection dropped it)."""
        with self._transaction(ns) as con:
            create_namespace(con, ns)

    def _write(self, ns: str, key: str | None, sql: str, params: Sequence[Any]) -> int:
        """One autocommit write statement; returns its row count. Creates the namespace's tables when they are
        missing, then runs it again."""
        try:
            return int(self._con().execute(sql, params).rowcount)
        except sqlite3.Error as exc:
            if not is_missing_table(exc):
                raise self._failure(exc, ns, key) from None
        self._create_namespace(ns)
        with self._errors(ns, key):
            return int(self._con().execute(sql, params).rowcount)

    def _write_existing(self, ns: str, key: str | None, sql: str, params: Sequence[Any]) -> int:
        """One autocommit write statement on rows that must exist; returns its row count (0 when the
        namespace has no tables)."""
        try:
            return int(self._con().execute(sql, params).rowcount)
        except sqlite3.Error as exc:
            if is_missing_table(exc):
                return 0
            raise self._failure(exc, ns, key) from None

    def _transact(
        self, ns: str, key: str | None, work: Callable[[sqlite3.Connection], T], *, create: bool = True
    ) -> T | None:
        """``work(con)`` in one write transaction (``BEGIN IMMEDIATE``: it holds the write lock from the start).
        When the namespace has no tables: with ``create``, create them and run it again; else return None."""
        for attempt in (1, 2):
            con = self._con()
            try:
                con.execute("BEGIN IMMEDIATE")
                try:
                    result = work(con)
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.Error as exc:
                if not is_missing_table(exc) or attempt == 2:
                    raise self._failure(exc, ns, key) from None
                if not create:
                    return None
            self._create_namespace(ns)
        raise AssertionError("unreachable")  # pragma: no cover

    def _ttl_mode(self, con: sqlite3.Connection, ns: str) -> None:
        """Inside a write transaction that is about to write an expiry: switch ``ns`` to TTL mode unless it is
        in it (its views and triggers then consult its TTL table; the DDL commits with the write)."""
        row = con.execute(_TTL_MODE, (ns,)).fetchone()
        if row is None:  # dropped meanwhile by another connection: _transact creates it and runs again
            raise sqlite3.OperationalError(f"no such table: namespace {ns!r}")
        if not row[0]:
            set_ttl_mode(con, self._sql(ns).names, True)

    # == expiry ====================================================================================
    def _wrote(self, count: int = 0) -> None:
        """Every _PURGE_EVERY writes, delete the rows whose TTL has passed and the changes beyond the change
        log's retention."""
        self._writes += count
        if self._writes >= _PURGE_EVERY:
            self._writes = 0
            self.purge_expired()
            self.prune_changes()

    def prune_changes(self) -> int:
        """Keep only the last ``change_log_size`` changes (a rowid range); returns how many were removed."""
        if not self.change_log:
            return 0
        return sqlite_changes.prune(self, self.change_log_size)

    def purge_expired(self) -> int:
        """Delete every expired row now (they are invisible anyway); returns how many were removed. A
        namespace left with no expiry at all leaves TTL mode: its reads and writes stop consulting its TTL
        table."""
        with self._errors():
            namespaces = [row[0] for row in self._con().execute(_TTL_NAMESPACES).fetchall()]
        removed = 0
        for ns in namespaces:
            sql = self._sql(ns)

            def purge(con: sqlite3.Connection, sql: Statements = sql) -> int:
                count = int(con.execute(sql.purge).rowcount)
                if not con.execute(sql.has_ttls).fetchone()[0]:
                    row = con.execute(_TTL_MODE, (sql.names.ns,)).fetchone()
                    if row is not None and row[0]:
                        set_ttl_mode(con, sql.names, False)
                return count

            removed += self._transact(ns, None, purge, create=False) or 0
        return removed

    # == primitives ================================================================================
    def _get(self, ns: str, key: str) -> bytes | None:
        # The hot path looks this thread's connection and the namespace's statements up inline (each method
        # call costs about 3 % of a raw get); the first call on a thread or namespace takes _get_first.
        try:
            row = self._local.con.execute(self._statements[ns].get, (key,)).fetchone()
        except (AttributeError, KeyError):
            return self._get_first(ns, key)
        except sqlite3.Error as exc:
            if is_missing_table(exc):
                return None
            raise self._failure(exc, ns, key) from None
        if row is None:
            return None
        data: bytes = row[0]
        return data

    def _get_first(self, ns: str, key: str) -> bytes | None:
        """``_get`` opening this thread's connection and building the namespace's statements first."""
        sql = self._sql(ns)
        try:
            row = self._con().execute(sql.get, (key,)).fetchone()
        except sqlite3.Error as exc:
            if is_missing_table(exc):
                return None
            raise self._failure(exc, ns, key) from None
        if row is None:
            return None
        data: bytes = row[0]
        return data

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        if ttl is None:
            try:  # the hot path, as in _get
                self._local.con.execute(self._statements[ns].upsert, (key, data))
            except (AttributeError, KeyError):
                self._write(ns, key, self._sql(ns).upsert, (key, data))
            except sqlite3.Error as exc:
                if not is_missing_table(exc):
                    raise self._failure(exc, ns, key) from None
                self._write(ns, key, self._sql(ns).upsert, (key, data))  # creates the namespace's tables
        else:
            sql = self._sql(ns)

            def write(con: sqlite3.Connection) -> None:
                con.execute(sql.upsert, (key, data))
                self._ttl_mode(con, ns)
                con.execute(sql.ttl_put, (key, ttl))

            self._transact(ns, key, write)
        self._writes += 1
        if self._writes >= _PURGE_EVERY:
            self._wrote()

    def _delete(self, ns: str, key: str) -> bool:
        # An expired row is left for the purge: it is invisible, and a later write replaces it.
        removed = self._write_existing(ns, key, self._sql(ns).delete, (key,))
        self._writes += 1
        if self._writes >= _PURGE_EVERY:
            self._wrote()
        return bool(removed)

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        for row in self._pages(self._sql(ns).scan_keys, ns, prefix):
            yield row[0]

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        for row in self._pages(self._sql(ns).scan_items, ns, prefix):
            yield row[0], row[1]

    def _pages(self, statements: dict[tuple[bool, bool], str], ns: str, prefix: str) -> Iterator[Any]:
        """Rows of a prefix range in key order, _PAGE at a time (keyset pagination: no open cursor between pages)."""
        if not encodable(prefix):
            return  # no valid key contains a lone surrogate
        upper = prefix_successor(prefix)
        bound: tuple[str, ...] = () if upper is None else (upper,)
        first, after = statements[(True, upper is not None)], statements[(False, upper is not None)]
        sql, start = first, prefix
        while True:
            try:
                rows = self._con().execute(sql, (start, *bound, _PAGE)).fetchall()
            except sqlite3.Error as exc:
                if is_missing_table(exc):
                    return
                raise self._failure(exc, ns) from None
            yield from rows
            if len(rows) < _PAGE:
                return
            sql, start = after, rows[-1][0]

    def _schemas(self) -> Iterator[str]:
        # one registry row per namespace with tables; those holding no live record are left out
        with self._errors():
            namespaces = [row[0] for row in self._con().execute(_SCHEMAS).fetchall()]
        for ns in namespaces:
            if self._count(ns, ""):
                yield ns

    # -- batches --------------------------------------------------------------------------------
    gets_present = True

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        return list(map(self._get_present(ns, keys).get, keys))

    def _get_present(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        """One ``IN (...)`` query of exactly the batch's size per MAX_IN keys; its rows come in key order
        (SQLite walks the key index). Padding to a few sizes instead cost about 2 % of a 100-key batch per
        padded key (callgrind), and a caller's usual batch size is one cached statement."""
        count = len(keys)
        if not count:
            return {}
        sql = self._sql(ns)
        con = self._con()
        try:
            if count <= MAX_IN:
                return dict(con.execute(sql.get_many(count), keys).fetchall())
            found: dict[str, bytes] = {}
            for start in range(0, count, MAX_IN):
                chunk = keys[start : start + MAX_IN]
                found.update(con.execute(sql.get_many(len(chunk)), chunk).fetchall())
            return found
        except sqlite3.Error as exc:
            if is_missing_table(exc):
                return {}
            raise self._failure(exc, ns) from None

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        sql = self._sql(ns)
        if ttl is None:

            def write(con: sqlite3.Connection) -> None:
                con.executemany(sql.upsert, items)

        else:

            def write(con: sqlite3.Connection) -> None:
                con.executemany(sql.upsert, items)
                self._ttl_mode(con, ns)
                con.executemany(sql.ttl_put, [(key, ttl) for key, _ in items])

        self._transact(ns, None, write)
        self._wrote(len(items))

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        sql = self._sql(ns)

        def delete(con: sqlite3.Connection) -> int:
            return int(con.executemany(sql.delete, [(key,) for key in keys]).rowcount)

        removed = self._transact(ns, None, delete, create=False) or 0
        self._wrote(removed)
        return removed

    def _count(self, ns: str, prefix: str) -> int:
        """``count()`` and ``count(schema)``: the count view, ``max(id) - holes`` (minus the expired rows in
        TTL mode), O(log N); a prefix: a range count on the key index."""
        if not encodable(prefix):
            return 0
        sql = self._sql(ns)
        try:
            if not prefix:
                return int(self._con().execute(sql.count_all).fetchone()[0])
            upper = prefix_successor(prefix)
            args = (prefix,) if upper is None else (prefix, upper)
            return int(self._con().execute(sql.count_range[upper is not None], args).fetchone()[0])
        except sqlite3.Error as exc:
            if is_missing_table(exc):
                return 0
            raise self._failure(exc, ns) from None

    def _clear(self, ns: str, prefix: str) -> int:
        """A prefix: one ``DELETE`` of the key range (the delete trigger keeps the count). Everything: the
        namespace's tables are dropped and created again, O(pages) instead of a trigger run per row (with the
        change log on, one delete event per live key first, as a ``DELETE`` would have recorded)."""
        if not encodable(prefix):
            return 0
        sql = self._sql(ns)
        upper = prefix_successor(prefix)
        args = (prefix,) if upper is None else (prefix, upper)

        def clear(con: sqlite3.Connection) -> int:
            if not prefix:
                removed = int(con.execute(sql.count_all).fetchone()[0])
                drop_namespace(con, sql.names)
                create_namespace(con, ns)
                return removed
            removed = int(con.execute(sql.clear_live[upper is not None], args).rowcount)
            con.execute(sql.clear_range[upper is not None], args)  # the expired rows left in the range
            return removed

        removed = self._transact(ns, None, clear, create=False) or 0
        if not prefix:
            self._ready_indexes = {ready for ready in self._ready_indexes if ready[0] != ns}
        self._wrote(removed)
        return removed

    def _drop_schema(self, ns: str) -> None:
        """Drops the schema's tables (with the change log on, one delete event per live record first)."""
        names = self._sql(ns).names
        with self._transaction(ns) as con:
            drop_namespace(con, names)
        self._ready_indexes = {ready for ready in self._ready_indexes if ready[0] != ns}

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        sql = self._sql(ns)
        if ttl is None:
            replaced = bool(self._write_existing(ns, key, sql.replace, (data, key)))
        else:

            def replace(con: sqlite3.Connection) -> bool:
                if not con.execute(sql.replace, (data, key)).rowcount:
                    return False
                self._ttl_mode(con, ns)
                con.execute(sql.ttl_put, (key, ttl))
                return True

            replaced = bool(self._transact(ns, key, replace, create=False))
        self._wrote(1)
        return replaced

    # -- change feed ------------------------------------------------------------------------------
    def _change_head(self) -> str:
        if not self.change_log:
            raise self._unsupported(Capability.WATCH)
        return sqlite_changes.head(self)

    def _changes(self, since: str, limit: int, wait: float) -> list[RawChange]:
        """Polls the table while waiting: writers in other processes cannot wake this one."""
        if not self.change_log:
            raise self._unsupported(Capability.WATCH)
        return sqlite_changes.read_changes(
            self, since, limit, wait, retained=self.change_log_size, backend=self.backend_name
        )

    # -- capabilities -----------------------------------------------------------------------------
    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        """One ``INSERT ... ON CONFLICT DO UPDATE WHERE <the old row expired>`` (with a TTL, and its expiry,
        in one transaction): of racing writers, exactly one stores."""
        sql = self._sql(ns)
        if ttl is None:
            added = bool(self._write(ns, key, sql.add, (key, data)))
        else:

            def add(con: sqlite3.Connection) -> bool:
                if not con.execute(sql.add, (key, data)).rowcount:
                    return False
                self._ttl_mode(con, ns)
                con.execute(sql.ttl_put, (key, ttl))
                return True

            added = bool(self._transact(ns, key, add))
        self._wrote(1)
        return added

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        sql = self._sql(ns)

        def swap(con: sqlite3.Connection) -> bool:
            row = con.execute(sql.live_row, (key,)).fetchone()
            if row is None or self._decode(row[0], ns, key) != expected:
                return False
            con.execute(sql.set_value, (data, key))
            if row[1] is not None:  # keeps the expiry (TTL mode's update trigger dropped it)
                con.execute(sql.ttl_restore, (key, row[1]))
            return True

        swapped = bool(self._transact(ns, key, swap, create=False))
        self._wrote(1)
        return swapped

    def _incr(self, ns: str, key: str, amount: int) -> int:
        sql = self._sql(ns)

        def increment(con: sqlite3.Connection) -> int:
            row = con.execute(sql.live_row, (key,)).fetchone()
            value, data = self._incremented(ns, key, None if row is None else row[0], amount)  # raises first
            con.execute(sql.upsert, (key, data))
            if row is not None and row[1] is not None:  # keeps the expiry
                con.execute(sql.ttl_restore, (key, row[1]))
            return value

        result = self._transact(ns, key, increment)
        assert result is not None  # created if missing, never None
        self._wrote(1)
        return result

    def _delete_if(self, ns: str, key: str, expected: bytes) -> bool:
        """One statement: deletes the row only while it is live and its value is ``expected``."""
        removed = bool(self._write_existing(ns, key, self._sql(ns).delete_if, (key, expected)))
        self._wrote(1)
        return removed

    def _expire_if(self, ns: str, key: str, expected: bytes, ttl: float) -> bool:
        """One transaction: a new expiry only while the row is live and its value is ``expected`` (the value is
        rewritten unchanged, so with the change log on the change feed reports an update to the same value)."""
        sql = self._sql(ns)

        def expire(con: sqlite3.Connection) -> bool:
            if not con.execute(sql.expire_if, (key, expected)).rowcount:
                return False
            self._ttl_mode(con, ns)
            con.execute(sql.ttl_put, (key, ttl))
            return True

        extended = bool(self._transact(ns, key, expire, create=False))
        self._wrote(1)
        return extended

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        try:
            row = self._con().execute(self._sql(ns).ttl_left, (key,)).fetchone()
        except sqlite3.Error as exc:
            if is_missing_table(exc):
                return MISSING
            raise self._failure(exc, ns, key) from None
        if row is None:
            return MISSING
        return None if row[0] is None else float(row[0])

    # -- indexed filters --------------------------------------------------------------------------
    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """With the json codec, an equality (or ``__in``) term on a field in ``__indexes__`` is answered by
        an expression index on ``json_extract`` (``sqlite_index``); every term is then checked in Python on
        those rows."""
        term = index_term(conditions, indexes) if self.codec.name == "json" else None
        if term is None:
            yield from super()._filter(ns, conditions, indexes)
            return
        field, operands = term
        sql = indexed_select_sql(ns, field, len(operands))
        for attempt in (1, 2):
            try:
                self._ensure_index(ns, field)
                rows = self._con().execute(sql, operands).fetchall()
                break
            except sqlite3.Error as exc:
                if is_missing_table(exc):
                    return  # no table: no records
                if attempt == 1 and str(exc).startswith("no such index"):  # dropped with the schema elsewhere
                    self._ready_indexes.discard((ns, field))
                    continue
                raise self._failure(exc, ns) from None
        for key, data in rows:
            state = self._decode(data, ns, key)
            if isinstance(state, dict) and matches_all(state, conditions):
                yield key, state

    def _ensure_index(self, ns: str, field: str) -> None:
        """Create the schema's expression index on ``field`` once (IF NOT EXISTS: other processes may race).
        Raises the ``sqlite3`` error (``no such table`` when the schema has none)."""
        if (ns, field) not in self._ready_indexes:
            self._con().execute(create_index_sql(ns, field))
            self._ready_indexes.add((ns, field))


register_fast_paths(SQLiteStore)
