"""``sqlite``: the durable embedded default store, on the standard library's ``sqlite3``.

One table holds every namespace: ``polykv_items(ns, key, value, expires)`` with primary key ``(ns, key)``,
so point reads, prefix scans (a key range, never LIKE/GLOB) and schema listings are index searches. The
database runs in WAL mode; each thread gets its own connection and processes coordinate through SQLite's
file locks (``timeout`` is the busy timeout). TTLs are wall-clock deadlines: expired rows are invisible to
every read and are deleted lazily.

This module is the store: its settings and the contract's primitives. Its other jobs have their own modules:
``sqlite_sql`` (the row statements and key ranges), ``sqlite_schema`` (tables, triggers, WAL: bringing a
file up to date), ``sqlite_connection`` (per-thread connections, error translation), ``sqlite_changes``
(the change feed), ``sqlite_index`` (indexed record filters) and ``sqlite_ops`` (fast paths of
``polykv.ops``, registered here).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from ..capabilities import Capability
from ..changes import RawChange
from ..errors import InvalidArgumentError, InvalidURLError
from ..options import as_bool, as_float, as_int, parse_query
from ..records import Condition, matches_all
from ..store import MISSING, KeyValueStore, _Missing
from . import sqlite_changes
from .sqlite_connection import MEMORY, SQLiteConnections
from .sqlite_index import create_index_sql, index_name, index_term, indexed_select_sql
from .sqlite_ops import register_fast_paths
from .sqlite_schema import initialise
from .sqlite_sql import (
    ADD,
    CLEAR_EXPIRED,
    CLEAR_LIVE,
    COUNT,
    DELETE,
    DELETE_IF,
    DROP,
    EXPIRE_IF,
    EXPIRE_ONE,
    GET,
    GET_MANY,
    IN_CHUNKS,
    NEXT_SCHEMA,
    PURGE,
    REPLACE,
    SCAN_ITEMS,
    SCAN_KEYS,
    SET_VALUE,
    UPSERT,
    encodable,
    prefix_successor,
)

__all__ = ["DEFAULT_PATH", "MEMORY", "SQLiteStore", "index_name", "prefix_successor"]

#: The file a store opens when no path is given (``sqlite:///polykv.db``), relative to the working directory.
DEFAULT_PATH = "polykv.db"

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_PAGE = 500  # rows per page of a scan
_PURGE_EVERY = 1000  # writes between two sweeps of expired rows (and prunes of the change log)


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
        self._ready_indexes: set[str] = set()
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
        settings.update(options)
        return cls(path, **settings)

    def __repr__(self) -> str:
        return f"<SQLiteStore path={self.path!r} codec={self.codec.name!r} synchronous={self.synchronous!r}>"

    # == set-up ==================================================================================
    def _initialise(self, con: sqlite3.Connection) -> None:
        """Bring the file up to the store's tables (``sqlite_schema.initialise``); a store whose file keeps a
        change log declares ``Capability.WATCH``. Closes the store and raises a polykv error on failure."""
        try:
            self.change_log = initialise(
                con, wal=not self.in_memory, change_log=self._change_log_setting, timeout=self.timeout
            )
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._failure(exc) from None
        if self.change_log:  # an instance attribute: only a store with a change log offers watch
            object.__setattr__(self, "capabilities", type(self).capabilities | {Capability.WATCH})

    # == expiry ====================================================================================
    def _wrote(self, count: int = 0) -> None:
        """Every _PURGE_EVERY writes, delete the rows whose TTL has passed (served by a partial index) and
        the changes beyond the change log's retention."""
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
        """Delete every expired row now (they are invisible anyway); returns how many were removed."""
        with self._errors():
            return int(self._con().execute(PURGE).rowcount)

    # == primitives ================================================================================
    def _get(self, ns: str, key: str) -> bytes | None:
        try:
            row = self._con().execute(GET, (ns, key)).fetchone()
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        if row is None:
            return None
        if row[1] is not None and row[1] <= time.time():
            with self._errors(ns, key):
                self._con().execute(EXPIRE_ONE, (ns, key))
            return None
        data: bytes = row[0]
        return data

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        try:
            self._con().execute(UPSERT, (ns, key, data, None if ttl is None else time.time() + ttl))
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        self._writes += 1
        if self._writes >= _PURGE_EVERY:
            self._wrote()

    def _delete(self, ns: str, key: str) -> bool:
        # An expired row is left for the purge: it is invisible, and a later write replaces it.
        try:
            removed = bool(self._con().execute(DELETE, (ns, key)).rowcount)
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        self._writes += 1
        if self._writes >= _PURGE_EVERY:
            self._wrote()
        return removed

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        for row in self._pages(SCAN_KEYS, ns, prefix):
            yield row[0]

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        for row in self._pages(SCAN_ITEMS, ns, prefix):
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
                rows = self._con().execute(sql, (ns, start, *bound, time.time(), _PAGE)).fetchall()
            except sqlite3.Error as exc:
                raise self._failure(exc, ns) from None
            yield from rows
            if len(rows) < _PAGE:
                return
            sql, start = after, rows[-1][0]

    def _schemas(self) -> Iterator[str]:
        # A loose index scan: one primary-key search per schema, however many records each holds.
        ns = ""
        while True:
            with self._errors():
                row = self._con().execute(NEXT_SCHEMA, (ns, time.time())).fetchone()
            if row is None:
                return
            ns = row[0]
            yield ns

    # -- batches --------------------------------------------------------------------------------
    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        found: dict[str, bytes] = {}
        con = self._con()
        now = time.time()
        expired = False
        biggest = IN_CHUNKS[-1]
        for start in range(0, len(keys), biggest):
            chunk = list(keys[start : start + biggest])
            size = next(n for n in IN_CHUNKS if n >= len(chunk))
            chunk += chunk[-1:] * (size - len(chunk))  # pad with a repeat: one cached statement per size
            try:
                rows = con.execute(GET_MANY[size], (ns, *chunk)).fetchall()
            except sqlite3.Error as exc:
                raise self._failure(exc, ns) from None
            for key, data, expires in rows:
                if expires is None or expires > now:
                    found[key] = data
                else:
                    expired = True
        if expired:
            self._wrote(_PURGE_EVERY)
        return [found.get(key) for key in keys]

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        expires = None if ttl is None else time.time() + ttl
        with self._transaction(ns) as con:
            con.executemany(UPSERT, [(ns, key, data, expires) for key, data in items])
        self._wrote(len(items))

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        with self._transaction(ns) as con:
            removed = int(con.executemany(DELETE, [(ns, key) for key in keys]).rowcount)
        self._wrote(removed)
        return removed

    def _count(self, ns: str, prefix: str) -> int:
        if not encodable(prefix):
            return 0
        upper = prefix_successor(prefix)
        args = (ns, prefix) if upper is None else (ns, prefix, upper)
        with self._errors(ns):
            return int(self._con().execute(COUNT[upper is not None], (*args, time.time())).fetchone()[0])

    def _clear(self, ns: str, prefix: str) -> int:
        if not encodable(prefix):
            return 0
        upper = prefix_successor(prefix)
        args = (ns, prefix) if upper is None else (ns, prefix, upper)
        with self._transaction(ns) as con:
            removed = int(con.execute(CLEAR_LIVE[upper is not None], args).rowcount)
            con.execute(CLEAR_EXPIRED[upper is not None], args)
        self._wrote(removed)
        return removed

    def _drop_schema(self, ns: str) -> None:
        with self._errors(ns):
            removed = int(self._con().execute(DROP, (ns,)).rowcount)
        self._wrote(removed)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        try:
            cursor = self._con().execute(REPLACE, (data, None if ttl is None else time.time() + ttl, ns, key))
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        self._wrote(1)
        return bool(cursor.rowcount)

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
        try:
            cursor = self._con().execute(ADD, (ns, key, data, None if ttl is None else time.time() + ttl))
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        self._wrote(1)
        return bool(cursor.rowcount)

    def _live_row(self, con: sqlite3.Connection, ns: str, key: str) -> tuple[bytes, float | None] | None:
        row = con.execute(GET, (ns, key)).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return row[0], row[1]

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        with self._transaction(ns, key) as con:
            row = self._live_row(con, ns, key)
            if row is None or self._decode(row[0], ns, key) != expected:
                return False
            con.execute(SET_VALUE, (data, ns, key))  # keeps the expiry
            return True

    def _incr(self, ns: str, key: str, amount: int) -> int:
        with self._transaction(ns, key) as con:
            row = self._live_row(con, ns, key)
            value, data = self._incremented(ns, key, None if row is None else row[0], amount)  # raises first
            con.execute(UPSERT, (ns, key, data, None if row is None else row[1]))
            return value

    def _delete_if(self, ns: str, key: str, expected: bytes) -> bool:
        """One statement: deletes the row only while it is live and its value is ``expected``."""
        with self._errors(ns, key):
            removed = bool(self._con().execute(DELETE_IF, (ns, key, expected)).rowcount)
        self._wrote(1)
        return removed

    def _expire_if(self, ns: str, key: str, expected: bytes, ttl: float) -> bool:
        """One statement: a new expiry only while the row is live and its value is ``expected`` (with the
        change log on, the change feed reports it as an update to the same value)."""
        with self._errors(ns, key):
            cursor = self._con().execute(EXPIRE_IF, (time.time() + ttl, ns, key, expected))
        self._wrote(1)
        return bool(cursor.rowcount)

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        with self._errors(ns, key):
            row = self._live_row(self._con(), ns, key)
        if row is None:
            return MISSING
        return None if row[1] is None else max(0.0, row[1] - time.time())

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
        name = self._ensure_index(ns, field)
        sql = indexed_select_sql(name, ns, field, len(operands))
        with self._errors(ns):
            rows = self._con().execute(sql, (*operands, time.time())).fetchall()
        for key, data in rows:
            state = self._decode(data, ns, key)
            if isinstance(state, dict) and matches_all(state, conditions):
                yield key, state

    def _ensure_index(self, ns: str, field: str) -> str:
        """Create the schema's expression index on ``field`` once (IF NOT EXISTS: other processes may race)."""
        name = index_name(ns, field)
        if name not in self._ready_indexes:
            with self._errors(ns):
                self._con().execute(create_index_sql(name, ns, field))
            self._ready_indexes.add(name)
        return name


register_fast_paths(SQLiteStore)
