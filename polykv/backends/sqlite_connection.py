"""The sqlite store's connections: one per thread, closed together, dropped in a forked child; and the
translation of ``sqlite3`` errors into polykv errors.

``SQLiteConnections`` is a mixin of ``SQLiteStore`` (and what ``sqlite_ops`` needs of a store): ``_con()``
is this thread's connection, ``_transaction()`` a write transaction holding the write lock from its start,
``_errors()`` / ``_failure()`` the error translation. Connections run in autocommit mode with
``check_same_thread=False`` (each is used by its own thread only; ``close()`` may run on another).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import BackendUnavailableError, InvalidArgumentError, PolyKVError, ReadOnlyError

__all__ = ["MEMORY", "SQLiteConnections", "is_busy", "is_missing_table"]

#: The path that selects a private in-memory database.
MEMORY = ":memory:"


def is_busy(exc: BaseException) -> bool:
    """Whether a sqlite3 error means another connection holds the lock (``database is locked``/``busy``)."""
    text = str(exc)
    return "locked" in text or "busy" in text


def is_missing_table(exc: BaseException) -> bool:
    """Whether a sqlite3 error says a table or view does not exist (a namespace nobody has written yet, or one
    another connection dropped)."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith("no such table")


#: Stores of this process, so that a forked child drops the connections it inherited.
_OPEN: weakref.WeakValueDictionary[int, SQLiteConnections] = weakref.WeakValueDictionary()


def _after_fork() -> None:
    for store in list(_OPEN.values()):
        store._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class SQLiteConnections:
    """Per-thread ``sqlite3`` connections to one database (a file, or a private shared in-memory one).

    The class using it sets ``path`` (a file, or ``":memory:"``), ``synchronous`` (a validated
    ``PRAGMA synchronous`` value) and ``timeout`` (busy timeout, seconds), then calls
    ``_setup_connections()``.
    """

    path: str
    synchronous: str
    timeout: float
    in_memory: bool
    _target: str
    _local: threading.local
    _connections: list[tuple[threading.Thread, sqlite3.Connection]]
    _connections_lock: threading.Lock
    _emptied: bool  # a :memory: database whose last connection closed: the next one must lay it out

    def _setup_connections(self) -> None:
        """Prepare the (empty) connection table for ``self.path``; opens nothing."""
        self.in_memory = self.path == MEMORY
        # A named memdb database is shared by every connection of this process that opens the same name.
        self._target = f"file:/polykv-{uuid.uuid4().hex}?vfs=memdb" if self.in_memory else self.path
        self._local = threading.local()
        self._connections = []
        self._connections_lock = threading.Lock()
        self._emptied = False

    def _forget_after_fork(self) -> None:
        """Have a forked child of this process drop this object's connections unused."""
        _OPEN[id(self)] = self

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
            # the first connection after close() of a :memory: store opens a new, empty database
            reopened, self._emptied = self._emptied, False
        self._local.con = con
        if reopened:
            self._reinitialise(con)
        return con

    def _reinitialise(self, con: sqlite3.Connection) -> None:
        """Lay out the new, empty database a :memory: store opens after ``close()`` (the store's own)."""

    def _open(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(
                self._target,
                timeout=self.timeout,
                isolation_level=None,  # autocommit; transactions are explicit BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,  # used by one thread only, but close() may run on another
                uri=self.in_memory,
                cached_statements=512,  # about 30 statements per namespace in use
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
            self._emptied = self._emptied or (self.in_memory and bool(connections))  # memdb freed with them
        for _owner, con in connections:
            con.close()

    # == errors ====================================================================================
    def _failure(self, exc: sqlite3.Error, ns: str | None = None, key: str | None = None) -> PolyKVError:
        """The polykv error for a sqlite3 error."""
        where: dict[str, Any] = {"backend": "sqlite", "schema": ns or None, "key": key}
        text = str(exc)
        if is_busy(exc):
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
