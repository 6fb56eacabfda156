"""``postgres``: the polykv contract on PostgreSQL (psycopg 3), with TTL, ADD, COMPARE_AND_SET, INCR,
INDEX and (with ``change_feed=True``) WATCH.

Layout: ``polykv_postgres.layout``; change feed: ``polykv_postgres.feed``; filters: ``polykv_postgres.filters``.
Every operation is one statement in autocommit mode: insert-if-absent is ``INSERT ... ON CONFLICT DO UPDATE
... WHERE <expired>``, update-if-present ``UPDATE ... WHERE <live>``, ``incr`` one upsert computing the sum on
the server, ``compare_and_set`` an ``UPDATE ... WHERE value = <the bytes compared>``. Tables are created on
first use under an advisory lock, so processes starting together on a fresh database do not race.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlsplit

import psycopg
import psycopg_pool
from psycopg import sql

from polykv.capabilities import Capability
from polykv.changes import ChangeOp, CursorExpiredError, RawChange
from polykv.connectors import (
    BackendConnectorBase,
    BaseConnectorManager,
    ConnectionMode,
    ConnectorManagerFactory,
    RetryPolicy,
)
from polykv.errors import (
    BackendUnavailableError,
    InvalidArgumentError,
    InvalidURLError,
    PolyKVError,
    PoolTimeoutError,
)
from polykv.keys import encodable
from polykv.options import as_bool, as_float, as_int, options_from_url, parse_query
from polykv.records import Condition, matches_all
from polykv.store import MISSING, KeyValueStore, _Missing
from polykv.urls import redact_url

from .connector import PostgresConnector, PostgresPoolConnector, is_transient_error
from .feed import feed_sql, has_feed_sql, remove_feed_sql
from .filters import translate
from .layout import SCHEMA_VERSION, Layout, escape_key, prefix_successor, unescape_key

__all__ = ["PostgresStore"]

T = TypeVar("T")

#: Rows per page of a key scan.
PAGE = 500
#: Writes (by this store object) between two sweeps of expired rows; each sweep deletes one batch.
SWEEP_EVERY = 1000
#: Expired rows deleted per sweep statement.
SWEEP_BATCH = 1000
_CHANGES = "SELECT id, op, ns, key, value FROM {changes} WHERE id > %s ORDER BY id LIMIT %s"
_URL_OPTIONS: dict[str, Callable[[str], Any]] = {
    "table": str,
    "codec": str,
    "connection_mode": str,
    "max_connections": as_int,
    "connection_timeout": as_float,
    "idle_timeout": as_float,
    "connect_timeout": as_float,
    "statement_timeout": as_float,
    "timeout": as_float,
    "change_feed": as_bool,
    "change_feed_size": as_int,
    "password": str,
    "sslmode": str,
    "sslrootcert": str,
    "sslcert": str,
    "sslkey": str,
    "application_name": str,
}
#: SQLSTATEs of a server that answers but refuses us: bad password or role, unknown database.
_REFUSED = frozenset({"28000", "28P01", "3D000", "42501"})
_LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "application_name")


class PostgresStore(KeyValueStore):
    """A polykv store in one PostgreSQL table (``postgresql://`` / ``postgres://``).

    ``table`` names the store's table (several stores can share a database under different tables);
    ``db`` is the database. Connections: ``connection_mode`` ``"pooled"`` (default: a psycopg_pool
    ``ConnectionPool`` of up to ``max_connections``, waiting ``connection_timeout`` s for a free one,
    closing those idle ``idle_timeout`` s) or ``"single"`` (one connection the threads take turns on).
    ``connect_timeout`` bounds opening a connection, ``statement_timeout`` (None: the server's) each
    statement on the server, ``timeout`` (default ``connect_timeout``) the whole operation, retries of
    connection faults included.

    ``change_feed=True`` turns on the table's durable change feed (``polykv_postgres.feed``), keeping the last
    ``change_feed_size`` changes, and declares ``Capability.WATCH``. The feed belongs to the table: once on,
    every writer's changes are logged; ``remove_change_feed()`` turns it off.
    """

    _backend_type = "postgres"
    url_schemes = ("postgresql", "postgres")
    capabilities = frozenset(
        {Capability.TTL, Capability.ADD, Capability.COMPARE_AND_SET, Capability.INCR, Capability.INDEX}
    )
    secret_options: ClassVar[frozenset[str]] = frozenset({"password", "sslpassword"})

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5432,
        username: str | None = None,
        password: str | None = None,
        db: str = "postgres",
        *,
        table: str = "polykv",
        codec: Any = "json",
        connection_mode: ConnectionMode | str = ConnectionMode.POOLED,
        max_connections: int = 10,
        connection_timeout: float = 5.0,
        idle_timeout: float = 300.0,
        connect_timeout: float = 5.0,
        statement_timeout: float | None = None,
        timeout: float | None = None,
        change_feed: bool = False,
        change_feed_size: int = 100_000,
        sslmode: str | None = None,
        sslrootcert: str | None = None,
        sslcert: str | None = None,
        sslkey: str | None = None,
        application_name: str = "polykv",
    ) -> None:
        super().__init__(codec=codec)
        self.layout = Layout(table)
        if not isinstance(change_feed, bool):
            raise InvalidArgumentError(f"change_feed must be True or False, got {change_feed!r}", backend="postgres")
        if isinstance(change_feed_size, bool) or not isinstance(change_feed_size, int) or change_feed_size < 1:
            raise InvalidArgumentError(
                f"change_feed_size must be an int >= 1, got {change_feed_size!r}", backend="postgres"
            )
        if not isinstance(db, str) or not db:
            raise InvalidArgumentError(f"db must be a database name, got {db!r}", backend="postgres")
        mode = ConnectionMode.parse(connection_mode, "postgres")
        total = connect_timeout if timeout is None else timeout
        if isinstance(total, bool) or not isinstance(total, (int, float)) or not 0 < total < float("inf"):
            raise InvalidArgumentError(
                f"timeout must be a finite number of seconds > 0, got {timeout!r}", backend="postgres"
            )
        self.timeout = float(total)
        self.change_feed = change_feed
        self.change_feed_size = change_feed_size
        self.db = db
        libpq = {
            name: value
            for name, value in (
                ("sslmode", sslmode),
                ("sslrootcert", sslrootcert),
                ("sslcert", sslcert),
                ("sslkey", sslkey),
                ("application_name", application_name),
            )
            if value is not None
        }
        config: dict[str, Any] = {
            "host": host,
            "port": port,
            "username": username,
            "password": password,
            "db": db,
            "connect_timeout": connect_timeout,
            "statement_timeout": statement_timeout,
            **libpq,
        }
        pool: dict[str, Any] = {}
        connector: type[BackendConnectorBase] = PostgresConnector
        if mode is ConnectionMode.POOLED:
            connector = PostgresPoolConnector
            pool = {
                "max_connections": max_connections,
                "connection_timeout": connection_timeout,
                "idle_timeout": idle_timeout,
            }
        self.connection_mode = mode
        self._manager: BaseConnectorManager = ConnectorManagerFactory.create_manager(
            connector, config, mode, retry=RetryPolicy(deadline=self.timeout), **pool
        )
        # fail now on a bad option, without connecting
        self._probe = PostgresConnector(**config)
        self._checkout = float(connection_timeout)
        self._where = f"postgresql://{host}:{port}/{db}"
        self._ready = False
        self._ready_lock = threading.Lock()
        self._indexes: set[str] = set()
        self._writes = 0
        self._listeners: list[psycopg.Connection[Any]] = []
        self._listeners_lock = threading.Lock()
        self._listeners_pid = os.getpid()
        if change_feed:  # an instance attribute: only a store with the feed on offers watch
            object.__setattr__(self, "capabilities", type(self).capabilities | {Capability.WATCH})

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresStore:
        """``postgresql://[user[:password]@]host[:port][/db][?table=...&connection_mode=...&change_feed=true]``
        (``postgres://`` too). Query options: the constructor's keywords (see the backend guide). Keyword
        ``options`` win over the URL."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidURLError(f"cannot parse {redact_url(url)!r}: {exc}", backend="postgres") from None
        if parts.scheme.lower() not in cls.url_schemes:
            raise InvalidURLError(
                f"{cls.__name__} serves postgresql:// and postgres:// URLs, not {redact_url(url)!r}", backend="postgres"
            )
        kwargs: dict[str, Any] = {"host": unquote(parts.hostname or "127.0.0.1"), "port": port or 5432}
        if parts.username:
            kwargs["username"] = unquote(parts.username)
        if parts.password is not None:
            kwargs["password"] = unquote(parts.password)
        path = unquote(parts.path.strip("/"))
        if path:
            kwargs["db"] = path
        query = parse_query(parts.query, _URL_OPTIONS, "postgres", secrets=cls.secret_options)
        kwargs.update(query)
        kwargs.update(options)
        with options_from_url(query, options):
            return cls(**kwargs)

    def __repr__(self) -> str:
        return (
            f"<PostgresStore {self._where} table={self.layout.table!r} codec={self.codec.name!r} "
            f"mode={self.connection_mode.value!r}>"
        )

    @property
    def manager(self) -> BaseConnectorManager:
        """The connection manager (``stats()``, ``close()``)."""
        return self._manager

    def close(self) -> None:
        """Close every connection (the pool too); the store reconnects if used again."""
        with self._listeners_lock:
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.close()
        self._manager.close()

    # -- running statements ---------------------------------------------------------------------------
    def _run(
        self, operation: Callable[[Any], T], *, idempotent: bool = True, ns: str = "", key: str | None = None
    ) -> T:
        """Run ``operation(connection)`` on a pooled (or the single) connection, retrying connection faults
        within ``timeout`` (only before the statement was sent, unless ``idempotent``); psycopg errors
        become polykv errors naming the schema and key."""
        if not self._ready:
            self._setup()
        return self._call(operation, idempotent, ns, key)

    def _call(self, operation: Callable[[Any], T], idempotent: bool, ns: str, key: str | None) -> T:
        manager = self._manager
        pool = manager.direct
        if pool is not None:
            try:
                with pool.connection(self._checkout) as conn:
                    return operation(conn)
            except Exception as exc:
                return self._recover(exc, operation, idempotent, ns, key)
        if self.connection_mode is ConnectionMode.POOLED:
            return self._guarded(
                lambda: manager.execute(lambda p: self._on_pool(p, operation), idempotent=idempotent), ns, key
            )
        return self._guarded(lambda: manager.execute(operation, idempotent=idempotent), ns, key)

    def _recover(self, exc: Exception, operation: Callable[[Any], T], idempotent: bool, ns: str, key: str | None) -> T:
        """After ``operation`` failed on a pooled connection: retry a transient fault within the deadline
        (the manager decides), raise anything else as a polykv error."""
        return self._guarded(
            lambda: self._manager.recover(exc, lambda p: self._on_pool(p, operation), idempotent=idempotent), ns, key
        )

    def _guarded(self, thunk: Callable[[], T], ns: str, key: str | None) -> T:
        try:
            return thunk()
        except PolyKVError as exc:
            if isinstance(exc, BackendUnavailableError) and isinstance(exc.__cause__, psycopg_pool.PoolTimeout):
                raise self._diagnose(ns, key) from None
            if exc.schema is None and exc.key is None:
                exc.schema, exc.key = ns or None, key
            raise
        except psycopg.Error as exc:
            raise self._translate(exc, ns, key) from None

    def _diagnose(self, ns: str, key: str | None) -> PolyKVError:
        """Why the pool had no connection in time: one direct connection attempt tells a server that
        refuses us (authentication, missing database: its own message) or cannot be reached from a pool
        whose connections are all busy (``PoolTimeoutError``)."""
        where: dict[str, Any] = {"backend": "postgres", "schema": ns or None, "key": key}
        try:
            psycopg.connect(**self._probe.connect_kwargs()).close()
        except psycopg.Error as exc:
            return self._translate(exc, ns, key)
        return PoolTimeoutError(
            f"no pooled connection to {self._where} became free within {self._checkout:g}s "
            "(raise max_connections or connection_timeout)",
            **where,
        )

    def _on_pool(self, pool: psycopg_pool.ConnectionPool[Any], operation: Callable[[Any], T]) -> T:
        with pool.connection(self._checkout) as conn:
            return operation(conn)

    def _translate(self, exc: psycopg.Error, ns: str, key: str | None) -> PolyKVError:
        where: dict[str, Any] = {"backend": "postgres", "schema": ns or None, "key": key}
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return BackendUnavailableError(
                f"the statement did not finish within the statement_timeout on {self._where}: {text}", **where
            )
        if exc.sqlstate in _REFUSED:
            return BackendUnavailableError(f"{self._where} refused the connection: {text}", **where)
        if is_transient_error(exc):
            return BackendUnavailableError(f"cannot reach {self._where}: {type(exc).__name__}: {text}", **where)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            from polykv.errors import ReadOnlyError

            return ReadOnlyError(f"not allowed on {self._where}: {text}", **where)
        return PolyKVError(f"PostgreSQL error on {self._where}: {type(exc).__name__}: {text}", **where)

    # -- tables ---------------------------------------------------------------------------------------
    def _setup(self) -> None:
        """Create the tables (and the feed) on first use, once per store object; idempotent across processes."""
        with self._ready_lock:
            if self._ready:
                return
            try:
                with psycopg.connect(**self._probe.connect_kwargs()) as conn:
                    self._create(conn)
            except psycopg.Error as exc:
                raise self._translate(exc, "", None) from None
            self._ready = True

    def _create(self, conn: psycopg.Connection[Any]) -> None:
        layout = self.layout
        regclass = sql.Literal(layout.t.as_string(None))
        found = conn.execute(
            sql.SQL("SELECT to_regclass({m}) IS NOT NULL").format(m=sql.Literal(layout.meta.as_string(None)))
        ).fetchone()
        exists = bool(found and found[0])
        if exists:
            row = conn.execute(layout.version_sql()).fetchone()
            self._check_version(row)
            if not self.change_feed:
                return
            count = conn.execute(has_feed_sql(layout)).fetchone()
            if count is not None and count[0] == 7 and self._feed_keep(conn) == self.change_feed_size:
                return
        del regclass
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (layout.lock_key,))
            for statement in layout.create_sql():
                conn.execute(statement)
            self._check_version(conn.execute(layout.version_sql()).fetchone())
            if self.change_feed:
                for statement in feed_sql(layout, self.change_feed_size):
                    conn.execute(statement)

    def _feed_keep(self, conn: psycopg.Connection[Any]) -> int | None:
        row = conn.execute(sql.SQL("SELECT keep FROM {h}").format(h=self.layout.head)).fetchone()
        return None if row is None else int(row[0])

    def _check_version(self, row: Any) -> None:
        version = int(row[0]) if row is not None else SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise InvalidArgumentError(
                f"table {self.layout.table!r} has layout version {version}, newer than this polykv-postgres "
                f"understands ({SCHEMA_VERSION}); upgrade polykv-postgres",
                backend="postgres",
            )

    def remove_change_feed(self) -> None:
        """Drop the table's change feed (triggers, functions, change tables); its history is lost."""

        def run(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.layout.lock_key,))
                for statement in remove_feed_sql(self.layout):
                    conn.execute(statement)

        self._run(run)
        self.change_feed = False
        object.__setattr__(self, "capabilities", type(self).capabilities)

    def drop_tables(self) -> None:
        """Drop the store's tables (data, feed, meta): for tests and tear-downs."""

        def run(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.layout.lock_key,))
                for statement in remove_feed_sql(self.layout):
                    conn.execute(statement)
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {t}, {m}").format(t=self.layout.t, m=self.layout.meta))

        self._call(run, True, "", None)
        self._ready = False
        self._indexes.clear()

    # -- expiry -------------------------------------------------------------------------------------
    def _wrote(self, count: int) -> None:
        self._writes += count
        if self._writes >= SWEEP_EVERY:
            self._writes = 0
            self._sweep_batch()

    def _sweep_batch(self) -> int:
        return self._run(lambda conn: int(conn.execute(self.layout.sweep, (SWEEP_BATCH,)).rowcount))

    def purge_expired(self) -> int:
        """Delete every expired row now, ``SWEEP_BATCH`` rows per statement (they are invisible anyway);
        returns how many were removed."""
        removed = 0
        while True:
            batch = self._sweep_batch()
            removed += batch
            if batch < SWEEP_BATCH:
                return removed

    @property
    def _json(self) -> bool:
        """Whether values are JSON text (the codec may be swapped on a live store)."""
        return self.codec.name == "json"

    def _doc(self, ns: str, data: bytes) -> str | None:
        """The jsonb text of a record's bytes (json codec, record namespaces, no NUL escape), else None."""
        if not ns or not self._json or b"\\u0000" in data:
            return None
        return data.decode("utf-8")

    # == primitives ===================================================================================
    def _get(self, ns: str, key: str) -> bytes | None:
        stored = escape_key(key) if "\x00" in key or "\x01" in key else key
        statement = self.layout.get
        pool = self._manager.direct
        if pool is not None and self._ready:  # the hot path: one checkout, one prepared statement
            try:
                with pool.connection(self._checkout) as conn:
                    row = conn.execute(statement, (ns, stored), prepare=True, binary=True).fetchone()
            except Exception as exc:
                row = self._recover(exc, partial(_fetch_one, statement=statement, args=(ns, stored)), True, ns, key)
        else:
            row = self._run(partial(_fetch_one, statement=statement, args=(ns, stored)), ns=ns, key=key)
        return None if row is None else row[0]

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        stored = escape_key(key) if "\x00" in key or "\x01" in key else key
        args: tuple[Any, ...] = (ns, stored, data, self._doc(ns, data) if ns else None)
        if ttl is None:
            statement = self.layout.set[False]
        else:
            statement, args = self.layout.set[True], (*args, ttl)
        pool = self._manager.direct
        if pool is not None and self._ready:
            try:
                with pool.connection(self._checkout) as conn:
                    conn.execute(statement, args, prepare=True)
            except Exception as exc:
                self._recover(exc, partial(_rowcount, statement=statement, args=args), True, ns, key)
        else:
            self._run(partial(_rowcount, statement=statement, args=args), ns=ns, key=key)
        self._writes += 1
        if self._writes >= SWEEP_EVERY:
            self._wrote(0)

    def _delete(self, ns: str, key: str) -> bool:
        statement, args = self.layout.delete, (ns, escape_key(key))
        removed = self._run(
            lambda conn: conn.execute(statement, args, prepare=True).rowcount, idempotent=False, ns=ns, key=key
        )
        self._wrote(1)
        return bool(removed)

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        for row in self._pages(self.layout.scan_keys, ns, prefix):
            yield unescape_key(row[0])

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        for row in self._pages(self.layout.scan_items, ns, prefix):
            yield unescape_key(row[0]), bytes(row[1])

    def _pages(self, statements: dict[tuple[bool, bool], str], ns: str, prefix: str) -> Iterator[Any]:
        """Rows of a key range in key order, PAGE at a time (keyset pagination: no cursor held between pages)."""
        if not encodable(prefix):
            return
        low = escape_key(prefix)
        upper = prefix_successor(low)
        bound: tuple[str, ...] = () if upper is None else (upper,)
        first = True
        start = low
        while True:
            statement = statements[(first, upper is not None)]
            args = (ns, start, *bound, PAGE)
            rows = self._run(partial(_fetch_all, statement=statement, args=args), ns=ns)
            yield from rows
            if len(rows) < PAGE:
                return
            first, start = False, rows[-1][0]

    def _schemas(self) -> Iterator[str]:
        ns = ""
        while True:
            args = (ns,)
            row = self._run(partial(_fetch_one, statement=self.layout.next_schema, args=args))
            if row is None:
                return
            ns = row[0]
            yield ns

    # -- batches --------------------------------------------------------------------------------------
    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        joined = "".join(keys)
        plain = "\x00" not in joined and "\x01" not in joined  # no key needs escaping (the usual case)
        stored = list(keys) if plain else [escape_key(k) for k in keys]
        rows = self._run(partial(_fetch_all, statement=self.layout.get_many, args=(ns, stored)), ns=ns)
        found: dict[str, bytes] = dict(rows) if plain else {unescape_key(k): v for k, v in rows}
        return list(map(found.get, keys))

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        latest = dict(items)  # a key given twice: its last value, at its first position
        keys = [escape_key(k) for k in latest]
        datas = list(latest.values())
        docs = [self._doc(ns, d) for d in datas] if ns and self._json else [None] * len(datas)
        statement = self.layout.set_many[ttl is not None]
        args: tuple[Any, ...] = (ns, keys, datas, docs) if ttl is None else (ttl, ns, keys, datas, docs)
        self._run(lambda conn: conn.execute(statement, _many_args(args, ttl), prepare=True), ns=ns)
        self._wrote(len(keys))

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        args = (ns, [escape_key(k) for k in keys])
        removed = int(
            self._run(
                lambda conn: conn.execute(self.layout.delete_many, args, prepare=True).rowcount, idempotent=False, ns=ns
            )
        )
        self._wrote(removed)
        return removed

    def _count(self, ns: str, prefix: str) -> int:
        if not encodable(prefix):
            return 0
        low = escape_key(prefix)
        upper = prefix_successor(low)
        args = (ns, low) if upper is None else (ns, low, upper)
        row = self._run(lambda conn: conn.execute(self.layout.count[upper is not None], args).fetchone(), ns=ns)
        return int(row[0]) if row is not None else 0

    def _clear(self, ns: str, prefix: str) -> int:
        """One DELETE of the key range (expired rows too, which are not counted) that counts what it removed."""
        if not encodable(prefix):
            return 0
        low = escape_key(prefix)
        upper = prefix_successor(low)
        args = (ns, low) if upper is None else (ns, low, upper)
        row = self._run(partial(_fetch_one, statement=self.layout.clear[upper is not None], args=args), ns=ns)
        return int(row[0]) if row is not None else 0

    def _drop_schema(self, ns: str) -> None:
        self._run(lambda conn: conn.execute(self.layout.drop, (ns,)), ns=ns)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        statement = self.layout.replace[ttl is not None]
        args: tuple[Any, ...] = (data, self._doc(ns, data))
        args = (*args, ttl, ns, escape_key(key)) if ttl is not None else (*args, ns, escape_key(key))
        done = self._run(
            lambda conn: conn.execute(statement, args, prepare=True).rowcount, idempotent=False, ns=ns, key=key
        )
        self._wrote(1)
        return bool(done)

    # -- capabilities ---------------------------------------------------------------------------------
    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        statement = self.layout.add[ttl is not None]
        args: tuple[Any, ...] = (ns, escape_key(key), data, self._doc(ns, data))
        if ttl is not None:
            args = (*args, ttl)
        done = self._run(
            lambda conn: conn.execute(statement, args, prepare=True).rowcount, idempotent=False, ns=ns, key=key
        )
        self._wrote(1)
        return bool(done)

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        """One ``UPDATE ... WHERE value = <bytes>`` with the bytes of ``expected``; if the stored bytes differ
        but decode equal (other key order, 1.0 for 1), the same UPDATE on the bytes just read, until the
        stored value is seen not to equal ``expected``."""
        stored = escape_key(key)
        doc = self._doc(ns, data)
        layout = self.layout
        try:
            guess: bytes | None = self.codec.encode(expected)
        except Exception:
            guess = None
        while True:
            if guess is not None:
                args = (data, doc, ns, stored, guess)
                if self._run(
                    partial(_rowcount, statement=layout.swap, args=args),
                    idempotent=False,
                    ns=ns,
                    key=key,
                ):
                    self._wrote(1)
                    return True
            current = self._get(ns, key)
            if current is None or current == guess or self._decode(current, ns, key) != expected:
                return False
            guess = current

    def _incr(self, ns: str, key: str, amount: int) -> int:
        if self._json:
            args = (ns, escape_key(key), amount, amount)
            try:
                row = self._run(
                    lambda conn: conn.execute(self.layout.incr, args, prepare=True).fetchone(),
                    idempotent=False,
                    ns=ns,
                    key=key,
                )
            except PolyKVError as exc:
                cause = exc.__context__
                if isinstance(cause, psycopg.errors.NumericValueOutOfRange):
                    raise self._incr_range_error(ns, key) from None
                if not isinstance(
                    cause, (psycopg.errors.InvalidTextRepresentation, psycopg.errors.CharacterNotInRepertoire)
                ):
                    raise
                return self._incr_by_swap(ns, key, amount)  # raises the portable error for a non-int
            self._wrote(1)
            assert row is not None
            return int(row[0])
        return self._incr_by_swap(ns, key, amount)

    def _incr_by_swap(self, ns: str, key: str, amount: int) -> int:
        """Read, compute in Python, write only if the bytes are unchanged (or, when absent, add); repeat."""
        stored = escape_key(key)
        while True:
            current = self._get(ns, key)
            value, data = self._incremented(ns, key, current, amount)
            if current is None:
                if self._add(ns, key, data, None):
                    return value
                continue
            args = (data, ns, stored, current)
            if self._run(partial(_rowcount, statement=self.layout.put_if, args=args), idempotent=False, ns=ns, key=key):
                self._wrote(1)
                return value

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        args = (ns, escape_key(key))
        row = self._run(lambda conn: conn.execute(self.layout.ttl, args, prepare=True).fetchone(), ns=ns, key=key)
        if row is None:
            return MISSING
        return None if row[1] else max(0.0, float(row[0]))

    # -- filters ----------------------------------------------------------------------------------------
    def _filter_query(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> tuple[sql.Composed, list[Any]] | None:
        """The pushed-down query and its parameters (None: nothing to push down)."""
        if not self._json or not conditions:
            return None
        pushed = translate(conditions)
        if not pushed.predicates:
            return None
        for name in pushed.equality_fields:
            if name in indexes:
                self._ensure_index(name)
        where = sql.SQL(" AND ").join(pushed.predicates)
        query = sql.SQL(
            "SELECT key, value FROM {t} WHERE ns = %s AND (expires IS NULL OR expires > now()) AND doc IS NOT NULL "
            "AND {where} UNION ALL SELECT key, value FROM {t} WHERE ns = %s AND doc IS NULL "
            "AND (expires IS NULL OR expires > now())"
        ).format(t=self.layout.t, where=where)
        return query, [ns, *pushed.params, ns]

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Terms are pushed down to SQL (``polykv_postgres.filters``); equality on a field in ``__indexes__``
        is answered by its expression index. Every row returned is checked in Python as well."""
        if not self._ready:
            self._setup()
        planned = self._filter_query(ns, conditions, indexes)
        if planned is None:  # nothing to push down: every record of the schema, checked in Python
            for key, data in self._scan_items(ns, ""):
                state = self._decode(data, ns, key)
                if isinstance(state, dict) and matches_all(state, conditions):
                    yield key, state
            return
        query, params = planned
        rows = self._run(lambda conn: conn.execute(query, params, binary=True).fetchall(), ns=ns)
        for key, data in rows:
            state = self._decode(bytes(data), ns, unescape_key(key))
            if isinstance(state, dict) and matches_all(state, conditions):
                yield unescape_key(key), state

    def explain_filter(self, schema_name: str, record_klass: type, **filters: Any) -> str:
        """``EXPLAIN (ANALYZE)`` of the query ``filter_record`` would run (for checking index use)."""
        from polykv.records import compile_filter, indexed_fields

        ns = self._schema(schema_name)
        conditions = compile_filter(record_klass, filters, schema=ns)
        if not self._ready:
            self._setup()
        planned = self._filter_query(ns, conditions, indexed_fields(record_klass))
        if planned is None:
            raise InvalidArgumentError("nothing of this filter is pushed down to SQL", backend="postgres", schema=ns)
        query, params = planned
        explain = sql.SQL("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ") + query
        rows = self._run(lambda conn: conn.execute(explain, params).fetchall(), ns=ns)
        return "\n".join(str(r[0]) for r in rows)

    def _ensure_index(self, name: str) -> None:
        if name in self._indexes:
            return

        def run(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.layout.lock_key,))
                conn.execute(self.layout.index_sql(name))

        self._run(run)
        self._indexes.add(name)

    # -- change feed ------------------------------------------------------------------------------------
    def _change_head(self) -> str:
        if not self.change_feed:
            raise self._unsupported(Capability.WATCH)
        row = self._run(lambda conn: conn.execute(sql.SQL("SELECT n FROM {h}").format(h=self.layout.head)).fetchone())
        return "0" if row is None else str(row[0])

    def _fetch_changes(self, after: int, since: str, limit: int, check: bool) -> list[RawChange]:
        query = sql.SQL(_CHANGES).format(changes=self.layout.changes)
        head_q = sql.SQL("SELECT n, (SELECT min(id) FROM {c}) FROM {h}").format(
            c=self.layout.changes, h=self.layout.head
        )

        def run(conn: psycopg.Connection[Any]) -> tuple[list[Any], Any]:
            rows = conn.execute(query, (after, limit), binary=True).fetchall()
            info = None
            if check and (not rows or rows[0][0] != after + 1):
                info = conn.execute(head_q).fetchone()
            return rows, info

        rows, info = self._run(run)
        if info is not None:
            head, oldest = int(info[0]), info[1]
            if after > head:
                raise InvalidArgumentError(
                    f"cursor {since!r} is ahead of this table's change log (latest {head}); "
                    "it comes from another store",
                    backend="postgres",
                )
            oldest_id = head + 1 if oldest is None else int(oldest)
            if after < oldest_id - 1:
                raise CursorExpiredError(
                    f"cursor {since!r} is older than the change log retains (oldest kept: {oldest_id}; the log keeps "
                    f"the last {self.change_feed_size} changes)",
                    backend="postgres",
                )
        return [
            RawChange(str(id_), ChangeOp(op), ns, unescape_key(key), None if value is None else bytes(value))
            for id_, op, ns, key, value in rows
        ]

    def _changes(self, since: str, limit: int, wait: float) -> list[RawChange]:
        """Changes after ``since``; when there are none, waits up to ``wait`` s for a NOTIFY on the table's
        channel (a dedicated LISTEN connection), then reads again."""
        if not self.change_feed:
            raise self._unsupported(Capability.WATCH)
        try:
            after = int(since)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"not a postgres-store cursor: {since!r}", backend="postgres") from None
        if after < 0:
            raise InvalidArgumentError(f"not a postgres-store cursor: {since!r}", backend="postgres")
        found = self._fetch_changes(after, since, limit, True)
        if found or wait <= 0:
            return found
        deadline = time.monotonic() + wait
        listener = self._listener()
        try:
            while True:
                found = self._fetch_changes(after, since, limit, False)  # after LISTEN: no wake-up can be missed
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                try:
                    for _ in listener.notifies(timeout=remaining, stop_after=1):
                        pass
                except psycopg.Error as exc:
                    listener.close()
                    raise self._translate(exc, "", None) from None
        finally:
            self._release_listener(listener)

    def _listener(self) -> psycopg.Connection[Any]:
        if self._listeners_pid != os.getpid():  # a forked child: never share the parent's sockets
            self._listeners, self._listeners_lock, self._listeners_pid = [], threading.Lock(), os.getpid()
        with self._listeners_lock:
            while self._listeners:
                listener = self._listeners.pop()
                if not listener.closed:
                    return listener
        connector = self._probe
        try:
            listener = psycopg.connect(**connector.connect_kwargs())
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.layout.channel)))
        except psycopg.Error as exc:
            raise self._translate(exc, "", None) from None
        return listener

    def _release_listener(self, listener: psycopg.Connection[Any]) -> None:
        if listener.closed:
            return
        with self._listeners_lock:
            self._listeners.append(listener)


def _fetch_all(conn: psycopg.Connection[Any], *, statement: str, args: Sequence[Any]) -> list[Any]:
    return conn.execute(statement, args, prepare=True, binary=True).fetchall()


def _fetch_one(conn: psycopg.Connection[Any], *, statement: str, args: Sequence[Any]) -> Any:
    return conn.execute(statement, args, prepare=True, binary=True).fetchone()


def _rowcount(conn: psycopg.Connection[Any], *, statement: str, args: Sequence[Any]) -> int:
    return int(conn.execute(statement, args, prepare=True).rowcount)


def _many_args(args: tuple[Any, ...], ttl: float | None) -> tuple[Any, ...]:
    """``set_many``'s parameters in statement order (the ttl comes after the unnest arrays' ns)."""
    if ttl is None:
        return args
    ttl_value, ns, keys, datas, docs = args
    return (ns, ttl_value, keys, datas, docs)
