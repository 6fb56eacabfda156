"""``sqlite``: the durable embedded default store, on the standard library's ``sqlite3``.

One table holds every namespace: ``polykv_items(ns, key, value, expires)`` with primary key ``(ns, key)``,
so point reads, prefix scans (a key range, never LIKE/GLOB) and schema listings are index searches. The
database runs in WAL mode; each thread gets its own connection and processes coordinate through SQLite's
file locks (``timeout`` is the busy timeout). TTLs are wall-clock deadlines: expired rows are invisible to
every read and are deleted lazily.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from ..capabilities import Capability
from ..changes import ChangeOp, CursorExpiredError, RawChange
from ..errors import (
    BackendUnavailableError,
    InvalidArgumentError,
    InvalidURLError,
    PolyKVError,
    ReadOnlyError,
)
from ..options import as_bool, as_float, as_int, parse_query
from ..records import Condition, matches_all
from ..store import MISSING, KeyValueStore, _Missing

__all__ = ["DEFAULT_PATH", "MEMORY", "SQLiteStore", "prefix_successor"]

#: The file a store opens when no path is given (``sqlite:///polykv.db``), relative to the working directory.
DEFAULT_PATH = "polykv.db"
#: The path that selects a private in-memory database.
MEMORY = ":memory:"

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_PAGE = 500  # rows per page of a scan
_IN_CHUNKS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)  # IN-list sizes, so few distinct statements get cached
_PURGE_EVERY = 1000  # writes between two sweeps of expired rows (and prunes of the change log)
_POLL = 0.05  # seconds between two looks at the change log while a watcher waits
#: SQLite's clock as Unix seconds. Write statements compare expiries with it (not with a bound parameter) so
#: that the change-log triggers, which run inside the same statement step and see the same 'now', agree
#: exactly with the statement about which rows were live.
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_INT64 = (-(2**63), 2**63 - 1)

# A rowid table (not WITHOUT ROWID): 10 KB values read ~30 % faster from its leaf pages, and 100-byte ones
# lose little (benchmarks/bench_stores.py). Every statement is a constant; values always travel as
# parameters. A row is live when "expires IS NULL OR expires > now".
_SCHEMA_SQL = (
    "CREATE TABLE IF NOT EXISTS polykv_items (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
    "expires REAL, PRIMARY KEY (ns, key))",
    "CREATE INDEX IF NOT EXISTS polykv_items_expires ON polykv_items (expires) WHERE expires IS NOT NULL",
)
# The change log (Capability.WATCH): triggers append one row per changed item inside the writing statement,
# so a write and its event commit or roll back together, whichever process or code path wrote. Ids (max + 1;
# pruning never removes the newest row) are assigned under SQLite's single-writer lock, hence in commit order.
_LIVE_OLD = f"(OLD.expires IS NULL OR OLD.expires > {_NOW})"
_CHANGE_LOG_SQL = (
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
_NO_CHANGE_LOG_SQL = (
    *(f"DROP TRIGGER IF EXISTS polykv_changes_{kind}" for kind in ("insert", "update", "delete")),
    "DROP TABLE IF EXISTS polykv_changes",
)
_CHANGES = "SELECT id, op, ns, key, value FROM polykv_changes WHERE id > ? ORDER BY id LIMIT ?"
_CHANGES_OLDEST = "SELECT min(id) FROM polykv_changes"
_CHANGES_HEAD = "SELECT max(id) FROM polykv_changes"
_HAS_CHANGE_LOG = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'polykv_changes_%'"
_CHANGES_PRUNE = "DELETE FROM polykv_changes WHERE id <= (SELECT max(id) FROM polykv_changes) - ?"
_GET = "SELECT value, expires FROM polykv_items WHERE ns = ? AND key = ?"
_UPSERT = (
    "INSERT INTO polykv_items (ns, key, value, expires) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires = excluded.expires"
)
# Insert if absent; a row that has expired counts as absent and is overwritten.
_ADD = (
    "INSERT INTO polykv_items (ns, key, value, expires) VALUES (?, ?, ?, ?) "  # noqa: S608
    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
    f"WHERE polykv_items.expires IS NOT NULL AND polykv_items.expires <= {_NOW}"
)
_REPLACE = (
    f"UPDATE polykv_items SET value = ?, expires = ? WHERE ns = ? AND key = ? AND (expires IS NULL OR expires > {_NOW})"  # noqa: S608
)
_SET_VALUE = "UPDATE polykv_items SET value = ? WHERE ns = ? AND key = ?"
_DELETE = f"DELETE FROM polykv_items WHERE ns = ? AND key = ? AND (expires IS NULL OR expires > {_NOW})"  # noqa: S608
_EXPIRE_ONE = f"DELETE FROM polykv_items WHERE ns = ? AND key = ? AND expires <= {_NOW}"  # noqa: S608
_PURGE = f"DELETE FROM polykv_items WHERE expires IS NOT NULL AND expires <= {_NOW}"  # noqa: S608
_NEXT_SCHEMA = "SELECT ns FROM polykv_items WHERE ns > ? AND (expires IS NULL OR expires > ?) ORDER BY ns LIMIT 1"
_DROP = "DELETE FROM polykv_items WHERE ns = ?"
# Prefix scans are key ranges on the primary key (LIKE and GLOB are not literal); keyed by
# (first page, has an upper bound). Later pages restart after the last key seen.
_SCAN_KEYS = {
    (True, True): "SELECT key FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (True, False): "SELECT key FROM polykv_items WHERE ns = ? AND key >= ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (False, True): "SELECT key FROM polykv_items WHERE ns = ? AND key > ? AND key < ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (False, False): "SELECT key FROM polykv_items WHERE ns = ? AND key > ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
}
_SCAN_ITEMS = {
    (True, True): "SELECT key, value FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (True, False): "SELECT key, value FROM polykv_items WHERE ns = ? AND key >= ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (False, True): "SELECT key, value FROM polykv_items WHERE ns = ? AND key > ? AND key < ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
    (False, False): "SELECT key, value FROM polykv_items WHERE ns = ? AND key > ? "
    "AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?",
}
_COUNT = {
    True: "SELECT COUNT(*) FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? "
    "AND (expires IS NULL OR expires > ?)",
    False: "SELECT COUNT(*) FROM polykv_items WHERE ns = ? AND key >= ? AND (expires IS NULL OR expires > ?)",
}
_CLEAR_LIVE = {
    True: f"DELETE FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? AND (expires IS NULL OR expires > {_NOW})",  # noqa: S608
    False: f"DELETE FROM polykv_items WHERE ns = ? AND key >= ? AND (expires IS NULL OR expires > {_NOW})",  # noqa: S608
}
_CLEAR_EXPIRED = {
    True: f"DELETE FROM polykv_items WHERE ns = ? AND key >= ? AND key < ? AND expires <= {_NOW}",  # noqa: S608
    False: f"DELETE FROM polykv_items WHERE ns = ? AND key >= ? AND expires <= {_NOW}",  # noqa: S608
}
_GET_MANY = {
    n: "SELECT key, value, expires FROM polykv_items WHERE ns = ? AND key IN (" + ", ".join("?" * n) + ")"  # noqa: S608 - placeholders only
    for n in _IN_CHUNKS
}


def prefix_successor(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (None: no upper bound).

    SQLite compares TEXT as UTF-8 bytes, which orders like code points, so ``prefix <= key < successor``
    selects exactly the keys that start with ``prefix``. Trailing U+10FFFF characters cannot be
    incremented and are dropped; the surrogate block (never in a valid key) is skipped.
    """
    while prefix:
        code = ord(prefix[-1]) + 1
        if code <= 0x10FFFF:
            if 0xD800 <= code <= 0xDFFF:
                code = 0xE000
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]
    return None


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _indexable(operand: Any) -> bool:
    """Whether SQL equality on a json_extract value finds every record Python equality would."""
    if isinstance(operand, (str, bool)):
        return True
    if isinstance(operand, int):
        return _INT64[0] <= operand <= _INT64[1]
    return isinstance(operand, float) and math.isfinite(operand)


def _json_expr(field: str) -> str:
    return f"json_extract(CAST(value AS TEXT), '$.{field}')"


#: Stores of this process, so that a forked child drops the connections it inherited.
_OPEN_STORES: weakref.WeakValueDictionary[int, SQLiteStore] = weakref.WeakValueDictionary()


def _after_fork() -> None:
    for store in list(_OPEN_STORES.values()):
        store._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class SQLiteStore(KeyValueStore):
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
        self.in_memory = path == MEMORY
        # A named memdb database is shared by every connection of this process that opens the same name.
        self._target = f"file:/polykv-{uuid.uuid4().hex}?vfs=memdb" if self.in_memory else path
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._connections_lock = threading.Lock()
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
        _OPEN_STORES[id(self)] = self

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

    # == connections ===============================================================================
    def _con(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        try:
            con: sqlite3.Connection = self._local.con
            return con
        except AttributeError:
            return self._open_for_thread()

    def _open_for_thread(self) -> sqlite3.Connection:
        con = self._open()
        thread = threading.current_thread()
        with self._connections_lock:
            alive = []
            for owner, other in self._connections:
                if owner.is_alive():
                    alive.append((owner, other))
                else:  # its thread ended; nobody else uses it
                    other.close()
            alive.append((thread, con))
            self._connections = alive
        self._local.con = con
        return con

    def _open(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(
                self._target,
                timeout=self.timeout,
                isolation_level=None,  # autocommit; transactions are explicit BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,  # used by one thread only, but close() may run on another
                uri=self.in_memory,
                cached_statements=256,
            )
        except sqlite3.Error as exc:
            raise InvalidArgumentError(
                f"cannot open the sqlite database {self.path!r}: {exc}", backend="sqlite"
            ) from None
        try:
            con.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.Error as exc:
            con.close()
            raise self._failure(exc) from None
        return con

    def _initialise(self, con: sqlite3.Connection) -> None:
        """Switch the file to WAL and create the table; waits out other processes doing the same."""
        deadline = time.monotonic() + max(self.timeout, 1.0)
        while True:
            try:
                if not self.in_memory and con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    con.execute("PRAGMA journal_mode = WAL")
                for statement in _SCHEMA_SQL:
                    con.execute(statement)
                setting = self._change_log_setting
                if setting is None:  # follow the file: on when its three triggers exist
                    setting = con.execute(_HAS_CHANGE_LOG).fetchone()[0] == 3
                else:
                    con.execute("BEGIN IMMEDIATE")
                    try:
                        for statement in _CHANGE_LOG_SQL if setting else _NO_CHANGE_LOG_SQL:
                            con.execute(statement)
                        con.execute("COMMIT")
                    except BaseException:
                        con.execute("ROLLBACK")
                        raise
                self.change_log = setting
                if setting:  # an instance attribute: only a store with a change log offers watch
                    object.__setattr__(self, "capabilities", type(self).capabilities | {Capability.WATCH})
                return
            except sqlite3.DatabaseError as exc:
                if _is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                self.close()
                raise self._failure(exc) from None

    def _forget_connections(self) -> None:
        """In a forked child: drop the parent's connections unused (SQLite connections must not cross a fork)."""
        self._local = threading.local()
        self._connections = []
        self._connections_lock = threading.Lock()

    def close(self) -> None:
        """Close every thread's connection; the store reopens on its next use (a ``:memory:`` store empty)."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for _owner, con in connections:
            con.close()

    # == errors ====================================================================================
    def _failure(self, exc: sqlite3.Error, ns: str | None = None, key: str | None = None) -> PolyKVError:
        """The polykv error for a sqlite3 error."""
        where: dict[str, Any] = {"backend": "sqlite", "schema": ns or None, "key": key}
        text = str(exc)
        if _is_busy(exc):
            return BackendUnavailableError(
                f"the sqlite database {self.path!r} stayed locked by another writer for {self.timeout}s "
                "(raise timeout=...)",
                **where,
            )
        if "not a database" in text or "malformed" in text:
            return InvalidArgumentError(f"{self.path!r} is not a usable SQLite database: {text}", **where)
        if "readonly" in text:
            return ReadOnlyError(f"the sqlite database {self.path!r} is read-only: {text}", **where)
        if isinstance(exc, sqlite3.ProgrammingError) and "closed" in text:
            return BackendUnavailableError(f"the sqlite store {self.path!r} was closed during the call", **where)
        return PolyKVError(f"sqlite error on {self.path!r}: {type(exc).__name__}: {text}", **where)

    @contextmanager
    def _transaction(self, ns: str | None = None, key: str | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the database's write lock from its start (BEGIN IMMEDIATE)."""
        con = self._con()
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        try:
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._failure(exc, ns, key) from None
            raise

    @contextmanager
    def _errors(self, ns: str | None = None, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None

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
        with self._errors():
            return int(self._con().execute(_CHANGES_PRUNE, (self.change_log_size,)).rowcount)

    def purge_expired(self) -> int:
        """Delete every expired row now (they are invisible anyway); returns how many were removed."""
        with self._errors():
            return int(self._con().execute(_PURGE).rowcount)

    # == primitives ================================================================================
    def _get(self, ns: str, key: str) -> bytes | None:
        try:
            row = self._con().execute(_GET, (ns, key)).fetchone()
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        if row is None:
            return None
        if row[1] is not None and row[1] <= time.time():
            with self._errors(ns, key):
                self._con().execute(_EXPIRE_ONE, (ns, key))
            return None
        data: bytes = row[0]
        return data

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        try:
            self._con().execute(_UPSERT, (ns, key, data, None if ttl is None else time.time() + ttl))
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        self._writes += 1
        if self._writes >= _PURGE_EVERY:
            self._wrote()

    def _delete(self, ns: str, key: str) -> bool:
        # An expired row is left for the purge: it is invisible, and a later write replaces it.
        try:
            removed = bool(self._con().execute(_DELETE, (ns, key)).rowcount)
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        self._writes += 1
        if self._writes >= _PURGE_EVERY:
            self._wrote()
        return removed

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        for row in self._pages(_SCAN_KEYS, ns, prefix):
            yield row[0]

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        for row in self._pages(_SCAN_ITEMS, ns, prefix):
            yield row[0], row[1]

    def _pages(self, statements: dict[tuple[bool, bool], str], ns: str, prefix: str) -> Iterator[Any]:
        """Rows of a prefix range in key order, _PAGE at a time (keyset pagination: no open cursor between pages)."""
        if not _encodable(prefix):
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
                row = self._con().execute(_NEXT_SCHEMA, (ns, time.time())).fetchone()
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
        biggest = _IN_CHUNKS[-1]
        for start in range(0, len(keys), biggest):
            chunk = list(keys[start : start + biggest])
            size = next(n for n in _IN_CHUNKS if n >= len(chunk))
            chunk += chunk[-1:] * (size - len(chunk))  # pad with a repeat: one cached statement per size
            try:
                rows = con.execute(_GET_MANY[size], (ns, *chunk)).fetchall()
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
            con.executemany(_UPSERT, [(ns, key, data, expires) for key, data in items])
        self._wrote(len(items))

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        with self._transaction(ns) as con:
            removed = int(con.executemany(_DELETE, [(ns, key) for key in keys]).rowcount)
        self._wrote(removed)
        return removed

    def _count(self, ns: str, prefix: str) -> int:
        if not _encodable(prefix):
            return 0
        upper = prefix_successor(prefix)
        args = (ns, prefix) if upper is None else (ns, prefix, upper)
        with self._errors(ns):
            return int(self._con().execute(_COUNT[upper is not None], (*args, time.time())).fetchone()[0])

    def _clear(self, ns: str, prefix: str) -> int:
        if not _encodable(prefix):
            return 0
        upper = prefix_successor(prefix)
        args = (ns, prefix) if upper is None else (ns, prefix, upper)
        with self._transaction(ns) as con:
            removed = int(con.execute(_CLEAR_LIVE[upper is not None], args).rowcount)
            con.execute(_CLEAR_EXPIRED[upper is not None], args)
        self._wrote(removed)
        return removed

    def _drop_schema(self, ns: str) -> None:
        with self._errors(ns):
            removed = int(self._con().execute(_DROP, (ns,)).rowcount)
        self._wrote(removed)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        try:
            cursor = self._con().execute(_REPLACE, (data, None if ttl is None else time.time() + ttl, ns, key))
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        self._wrote(1)
        return bool(cursor.rowcount)

    # -- change feed ------------------------------------------------------------------------------
    def _change_head(self) -> str:
        if not self.change_log:
            raise self._unsupported(Capability.WATCH)
        with self._errors():
            row = self._con().execute(_CHANGES_HEAD).fetchone()
        return "0" if row is None or row[0] is None else str(row[0])

    def _changes(self, since: str, limit: int, wait: float) -> list[RawChange]:
        """Polls the table while waiting: writers in other processes cannot wake this one."""
        if not self.change_log:
            raise self._unsupported(Capability.WATCH)
        try:
            after = int(since)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"not a sqlite-store cursor: {since!r}", backend=self.backend_name) from None
        if after < 0:
            raise InvalidArgumentError(f"not a sqlite-store cursor: {since!r}", backend=self.backend_name)
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            with self._errors():
                con = self._con()
                rows = con.execute(_CHANGES, (after, limit)).fetchall()
                if not rows or rows[0][0] != after + 1:
                    self._check_cursor(con, since, after)
            if rows:
                return [RawChange(str(id_), ChangeOp(op), ns, key, data) for id_, op, ns, key, data in rows]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(_POLL, remaining))

    def _check_cursor(self, con: sqlite3.Connection, since: str, after: int) -> None:
        """Raise if ``after`` is ahead of the log (another file's cursor) or older than what it retains."""
        row = con.execute(_CHANGES_HEAD).fetchone()
        head = 0 if row is None or row[0] is None else int(row[0])
        if after > head:
            raise InvalidArgumentError(
                f"cursor {since!r} is ahead of this database's change log (latest {head}); it comes from another store",
                backend=self.backend_name,
            )
        oldest = con.execute(_CHANGES_OLDEST).fetchone()[0]
        oldest = head + 1 if oldest is None else int(oldest)
        if after < oldest - 1:
            raise CursorExpiredError(
                f"cursor {since!r} is older than the change log retains (oldest kept: {oldest}; the log keeps "
                f"the last {self.change_log_size} changes)",
                backend=self.backend_name,
            )

    # -- capabilities -----------------------------------------------------------------------------
    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        try:
            cursor = self._con().execute(_ADD, (ns, key, data, None if ttl is None else time.time() + ttl))
        except sqlite3.Error as exc:
            raise self._failure(exc, ns, key) from None
        self._wrote(1)
        return bool(cursor.rowcount)

    def _live_row(self, con: sqlite3.Connection, ns: str, key: str) -> tuple[bytes, float | None] | None:
        row = con.execute(_GET, (ns, key)).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return row[0], row[1]

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        with self._transaction(ns, key) as con:
            row = self._live_row(con, ns, key)
            if row is None or self._decode(row[0], ns, key) != expected:
                return False
            con.execute(_SET_VALUE, (data, ns, key))  # keeps the expiry
            return True

    def _incr(self, ns: str, key: str, amount: int) -> int:
        with self._transaction(ns, key) as con:
            row = self._live_row(con, ns, key)
            value, data = self._incremented(ns, key, None if row is None else row[0], amount)  # raises first
            con.execute(_UPSERT, (ns, key, data, None if row is None else row[1]))
            return value

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
        an expression index on ``json_extract``; every term is then checked in Python on those rows."""
        term = self._index_term(conditions, indexes)
        if term is None:
            yield from super()._filter(ns, conditions, indexes)
            return
        field, operands = term
        name = self._ensure_index(ns, field)
        marks = ", ".join("?" * len(operands))
        # Built from a validated schema name, a field matching _FIELD and placeholders; values are parameters.
        # INDEXED BY: without ANALYZE statistics the planner would pick the primary key (ns = ...) and read
        # the whole schema; with it, SQLite uses the expression index or fails loudly, never scans.
        sql = (
            f'SELECT key, value FROM polykv_items INDEXED BY "{name}" WHERE {_index_where(ns)} '  # noqa: S608
            f"AND {_json_expr(field)} IN ({marks}) AND (expires IS NULL OR expires > ?) ORDER BY key"
        )
        with self._errors(ns):
            rows = self._con().execute(sql, (*operands, time.time())).fetchall()
        for key, data in rows:
            state = self._decode(data, ns, key)
            if isinstance(state, dict) and matches_all(state, conditions):
                yield key, state

    def _index_term(self, conditions: list[Condition], indexes: tuple[str, ...]) -> tuple[str, list[Any]] | None:
        """The first condition an index can answer: (field, operands), or None."""
        if self.codec.name != "json":
            return None
        for condition in conditions:
            if condition.field not in indexes or _FIELD.fullmatch(condition.field) is None:
                continue
            if condition.lookup == "exact" and _indexable(condition.operand):
                return condition.field, [condition.operand]
            if (
                condition.lookup == "in"
                and 0 < len(condition.operand) <= _IN_CHUNKS[-1]
                and all(_indexable(o) for o in condition.operand)
            ):
                return condition.field, list(condition.operand)
        return None

    def _ensure_index(self, ns: str, field: str) -> str:
        """Create the schema's expression index on ``field`` once (IF NOT EXISTS: other processes may race)."""
        name = index_name(ns, field)
        if name not in self._ready_indexes:
            with self._errors(ns):
                self._con().execute(
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON polykv_items ({_json_expr(field)}) '
                    f"WHERE {_index_where(ns)}"
                )
            self._ready_indexes.add(name)
        return name


def _index_where(ns: str) -> str:
    """The partial-index condition, repeated word for word by queries so the planner can use the index.

    Rows that are not valid JSON are left out of the index rather than failing the write that adds them.
    """
    literal = ns.replace("'", "''")
    return f"ns = '{literal}' AND json_valid(CAST(value AS TEXT))"


def index_name(ns: str, field: str) -> str:
    """The SQLite name of the expression index of ``field`` in schema ``ns`` (sanitised, collision-free)."""
    digest = hashlib.sha1(f"{ns}\0{field}".encode(), usedforsecurity=False).hexdigest()[:8]
    return "polykv_ix_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{ns}_{field}")[:80] + "_" + digest


def _is_busy(exc: BaseException) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


from .sqlite_ops import register_fast_paths  # noqa: E402 - registers ops fast paths for the class above

register_fast_paths(SQLiteStore)
