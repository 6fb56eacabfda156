"""Connectors to a PostgreSQL server on psycopg 3: one connection (``ConnectionMode.SINGLE``) or a
``psycopg_pool.ConnectionPool`` (``ConnectionMode.POOLED``, the pool polykv's pooled manager sizes and uses
instead of keeping a second pool of its own).

Connections are in autocommit mode: every store operation is one statement (or an explicit transaction).
The password travels to libpq as a keyword argument, never inside a connection string polykv shows.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
import psycopg_pool

from polykv.connectors import BackendConnectorBase
from polykv.errors import InvalidArgumentError

__all__ = ["PostgresConnector", "PostgresPoolConnector", "is_transient_error"]

#: SQLSTATEs of class 57 (operator intervention) that mean "this connection is gone, try another one".
_CONNECTION_GONE = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05"})


def is_transient_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection fault (refused, reset, server shut down, no pooled connection in
    time) rather than an answer from the server; a cancelled statement (``statement_timeout``) is not."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return True
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return False
    if isinstance(exc, psycopg.OperationalError):
        return exc.sqlstate is None or exc.sqlstate in _CONNECTION_GONE or exc.sqlstate.startswith("08")
    if isinstance(exc, psycopg.InterfaceError):
        return "closed" in str(exc)
    return isinstance(exc, (ConnectionError, TimeoutError))


class PostgresConnector(BackendConnectorBase):
    """One autocommit ``psycopg.Connection`` to ``host:port``, database ``db`` (``postgres`` by default).

    ``connect_timeout`` bounds opening the connection (seconds); ``statement_timeout`` (seconds, None: the
    server's setting) bounds every statement on the server. Other keyword options go to libpq as they are
    (``sslmode``, ``sslrootcert``, ``application_name``...).
    """

    backend_name: ClassVar[str] = "postgres"
    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        ConnectionError,
        TimeoutError,
    )

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = 5432,
        username: str | None = None,
        password: Any = None,
        db: int | str | None = "postgres",
        *,
        connect_timeout: float = 5.0,
        statement_timeout: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(host, port, username, password, db, connect_timeout=connect_timeout, **options)
        if statement_timeout is not None and (
            isinstance(statement_timeout, bool)
            or not isinstance(statement_timeout, (int, float))
            or not 0 < statement_timeout < float("inf")
        ):
            raise InvalidArgumentError(
                f"statement_timeout must be a finite number of seconds > 0, got {statement_timeout!r}",
                backend=self.backend_name,
            )
        self.statement_timeout = None if statement_timeout is None else float(statement_timeout)

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` (the password included: never log this)."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port or 5432,
            "dbname": str(self.db or "postgres"),
            "connect_timeout": max(1, round(self.connect_timeout)),
            "autocommit": True,
        }
        if self.username:
            kwargs["user"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password.reveal()
        if self.statement_timeout is not None:
            kwargs["options"] = f"-c statement_timeout={max(1, round(self.statement_timeout * 1000))}"
        kwargs.update(self.options)
        return kwargs

    def connect(self) -> Any:
        return psycopg.connect(**self.connect_kwargs())

    def disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def is_connected(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.closed and not connection.broken

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient_error(exc)

    def was_sent(self, exc: BaseException) -> bool:
        return not isinstance(exc, psycopg_pool.PoolTimeout)

    def attempt_timeout(self) -> float:
        return self.connect_timeout

    def timed_out(self, exc: BaseException) -> bool:
        return isinstance(exc, (psycopg_pool.PoolTimeout, TimeoutError))


class PostgresPoolConnector(PostgresConnector):
    """A ``psycopg_pool.ConnectionPool`` of autocommit connections, thread-safe; sized by the pooled
    manager through ``configure_pool`` (``max_connections``, ``connection_timeout``, ``idle_timeout``)."""

    native_pool: ClassVar[bool] = True
    thread_safe: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = 10
        self.connection_timeout = 5.0
        self.idle_timeout = 300.0

    def configure_pool(self, max_connections: int, connection_timeout: float, idle_timeout: float) -> None:
        self.max_connections = max_connections
        self.connection_timeout = connection_timeout
        self.idle_timeout = max(idle_timeout, 1.0)

    def connect(self) -> Any:
        kwargs = self.connect_kwargs()
        pool = psycopg_pool.ConnectionPool(
            kwargs=kwargs,
            min_size=min(2, self.max_connections),
            max_size=self.max_connections,
            timeout=self.connection_timeout,
            max_idle=self.idle_timeout,
            reconnect_timeout=max(60.0, self.connection_timeout * 4),
            name=f"polykv-postgres-{self.address}",
            open=False,
        )
        pool.open(wait=False)
        return pool

    def disconnect(self) -> None:
        pool, self._connection = self._connection, None
        if pool is not None:
            pool.close(timeout=1.0)

    def is_connected(self) -> bool:
        pool = self._connection
        return pool is not None and not pool.closed

    def pool_stats(self) -> dict[str, int]:
        pool = self._connection
        if pool is None:
            return {"total": 0, "in_use": 0, "idle": 0}
        stats = pool.get_stats()
        total = int(stats.get("pool_size", 0))
        idle = int(stats.get("pool_available", 0))
        return {"total": total, "in_use": total - idle, "idle": idle}

    def attempt_timeout(self) -> float:
        return max(self.connect_timeout, self.connection_timeout)
