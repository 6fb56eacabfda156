"""``RedisConnector`` / ``RedisClusterConnector``: polykv connectors over redis-py, using redis-py's own pool.

redis-py already pools connections, so ``PooledConnectorManager`` sizes that pool (``configure_pool``)
instead of adding a second one; ``SingleConnectorManager`` gets a pool of one connection. redis-py's own
command retry is switched off: polykv's manager retries transient faults itself, and only where a retry is
safe (idempotent commands, or a request that was never sent).
"""

from __future__ import annotations

import os
import queue
import time
from typing import Any, ClassVar

import redis
from redis import exceptions as rexc
from redis.backoff import NoBackoff
from redis.retry import Retry

from polykv.connectors import BackendConnectorBase
from polykv.errors import InvalidArgumentError, PoolTimeoutError
from polykv.handoff import HandOffQueue

from . import replies

__all__ = ["RedisClusterConnector", "RedisConnector"]

#: redis-py faults that mean "not reachable / not answering now"; authentication failures are not among them.
#: (Error replies are judged by ``polykv_redis.replies`` instead, whatever their redis-py class.)
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    rexc.ClusterDownError,
    rexc.TryAgainError,
    ConnectionError,
    TimeoutError,
)
_PERMANENT_ERRORS: tuple[type[BaseException], ...] = (rexc.AuthenticationError, rexc.AuthorizationError)

#: How long a caller waits for a free connection in SINGLE mode (the one connection is busy).
DEFAULT_POOL_TIMEOUT = 20.0


class PolyBlockingConnectionPool(redis.BlockingConnectionPool):
    """redis-py's blocking pool plus: waiters served in arrival order (``HandOffQueue``), a free-connection
    wait that ends in ``PoolTimeoutError``, and per-connection idle stamps so idle connections can be
    closed (redis-py has no idle timeout)."""

    #: The backend named in ``PoolTimeoutError``.
    backend_name: ClassVar[str] = "redis"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("queue_class", HandOffQueue)
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except rexc.ConnectionError as exc:
            if isinstance(exc.__context__, queue.Empty):
                raise PoolTimeoutError(
                    f"no Redis connection became free within {self.timeout}s (max_connections={self.max_connections})",
                    backend=self.backend_name,
                ) from None
            raise

    def release(self, connection: Any) -> None:
        connection._polykv_idle_since = time.monotonic()
        super().release(connection)  # type: ignore[no-untyped-call]

    # -- the direct command path (polykv_redis.direct) ------------------------------------------------
    def take(self) -> Any:
        """``get_connection`` without redis-py's per-call observability hooks: the same fork check, fair
        wait (``HandOffQueue``, ``PoolTimeoutError`` after ``timeout``), connect, and "nothing unread, not
        closed by the server" check (``can_read``; a stale connection is reconnected). Pools in a mode this
        path does not cover (client-side cache, maintenance hand-over) use ``get_connection`` itself."""
        if self.pid != os.getpid() or self.cache is not None or self._in_maintenance:
            return self.get_connection()
        try:
            connection = self.pool.get(True, self.timeout)
        except queue.Empty:
            raise PoolTimeoutError(
                f"no Redis connection became free within {self.timeout}s (max_connections={self.max_connections})",
                backend=self.backend_name,
            ) from None
        try:
            if connection is None:
                connection = self.make_connection()  # type: ignore[no-untyped-call]
            if connection._sock is None:
                connection.connect()
            else:
                try:
                    stale = connection.can_read()  # unread data (True) or closed by the server (raises)
                except (rexc.ConnectionError, rexc.TimeoutError, OSError):
                    stale = True
                if stale:  # start afresh, as get_connection does
                    connection.disconnect()
                    connection.connect()
        except BaseException:
            self.give(connection)
            raise
        return connection

    def give(self, connection: Any) -> None:
        """Return what ``take`` handed out (to the longest waiter first); ``release`` for anything unusual
        (a connection from before a fork, one redis-py marked for reconnection)."""
        if connection is None or connection.pid != self.pid or connection._should_reconnect:
            if connection is None:
                self.pool.put(None, False)
                return
            self.release(connection)
            return
        connection._polykv_idle_since = time.monotonic()
        self.pool.put(connection, False)

    def reap_idle(self, idle_timeout: float) -> int:
        """Disconnect idle (never checked-out) connections unused for ``idle_timeout`` seconds."""
        now = time.monotonic()
        closed = 0
        with self.pool.mutex:  # holding the queue's lock: no one can check these out meanwhile
            for connection in list(self.pool.queue):
                if connection is None or getattr(connection, "_sock", None) is None:
                    continue
                if now - getattr(connection, "_polykv_idle_since", now) > idle_timeout:
                    connection.disconnect()
                    closed += 1
        return closed

    def stats(self) -> dict[str, int]:
        """``total`` connection objects, ``open`` sockets, ``in_use`` and ``idle`` counts."""
        with self.pool.mutex:
            idle = [c for c in self.pool.queue if c is not None]
        connections = list(self._connections)
        return {
            "total": len(connections),
            "open": sum(1 for c in connections if getattr(c, "_sock", None) is not None),
            "in_use": len(connections) - len(idle),
            "idle": len(idle),
        }


class PolyClusterConnectionPool(PolyBlockingConnectionPool):
    """The same pool for one node of a Redis Cluster."""

    backend_name: ClassVar[str] = "redis_cluster"


class _RedisConnectorBase(BackendConnectorBase):
    """What both Redis connectors share: settings, pool sizing, and which redis-py faults are transient."""

    backend_name: ClassVar[str] = "redis"
    native_pool: ClassVar[bool] = True
    thread_safe: ClassVar[bool] = True
    transient_errors: ClassVar[tuple[type[BaseException], ...]] = TRANSIENT_ERRORS

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = 6379,
        username: str | None = None,
        password: Any = None,
        db: int | str | None = 0,
        *,
        connect_timeout: float = 5.0,
        socket_timeout: float = 5.0,
        ssl: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(host, port, username, password, db, connect_timeout=connect_timeout, **options)
        self.socket_timeout = float(socket_timeout)
        self.ssl = bool(ssl)
        self._max_connections = 1
        self._pool_timeout = float(options.pop("pool_timeout", DEFAULT_POOL_TIMEOUT))

    def configure_pool(self, max_connections: int, connection_timeout: float, idle_timeout: float) -> None:
        self._max_connections = max_connections
        self._pool_timeout = connection_timeout

    def _client_kwargs(self) -> dict[str, Any]:
        """Settings every redis-py pool gets: credentials, timeouts, and the fair blocking pool's size/wait."""
        return {
            "username": self.username,
            "password": self.password.reveal() if self.password is not None else None,
            "socket_connect_timeout": self.connect_timeout,
            "socket_timeout": self.socket_timeout,
            "max_connections": self._max_connections,
            "timeout": self._pool_timeout,
        }

    def _extra_options(self) -> dict[str, Any]:
        """Pass-through redis-py options; ``ssl_*`` ones only when TLS is on."""
        if self.ssl:
            return dict(self.options)
        return {k: v for k, v in self.options.items() if not k.startswith("ssl_")}

    def is_transient(self, exc: BaseException) -> bool:
        """An error reply is transient when ``polykv_redis.replies`` says its kind is retryable (``BUSY``,
        ``LOADING``, ``READONLY``...); any other fault when it is a dropped connection or a timeout."""
        retryable = replies.is_retryable(exc)
        if retryable is not None:
            return retryable
        return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, (*_PERMANENT_ERRORS, PoolTimeoutError))

    def attempt_timeout(self) -> float:
        return self.socket_timeout

    def timed_out(self, exc: BaseException) -> bool:
        return isinstance(exc, (rexc.TimeoutError, TimeoutError))

    def was_sent(self, exc: BaseException) -> bool:
        """False when the fault happened while connecting: then the command never left this process."""
        if isinstance(exc.__context__, ConnectionRefusedError) or isinstance(exc, ConnectionRefusedError):
            return False
        text = str(exc)
        return not ("connecting to" in text or "Timeout connecting" in text)


class RedisConnector(_RedisConnectorBase):
    """One Redis server (``redis://`` or, with ``ssl=True``, ``rediss://``); ``connect`` returns a
    ``redis.Redis`` client on a ``PolyBlockingConnectionPool``.

    Options: ``socket_timeout`` (seconds per command), ``ssl`` plus redis-py's ``ssl_*`` settings (for
    example ``ssl_ca_certs``), ``pool_timeout`` (SINGLE mode wait), ``health_check_interval``, ``client_name``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool: PolyBlockingConnectionPool | None = None

    def connect(self) -> redis.Redis:
        kwargs = self._client_kwargs()
        kwargs.update(host=self.host, port=self.port or 6379, db=int(self.db or 0), retry=Retry(NoBackoff(), 0))
        if self.ssl:
            kwargs["connection_class"] = redis.SSLConnection
        kwargs.update(self._extra_options())
        self._pool = PolyBlockingConnectionPool(**kwargs)
        return redis.Redis(connection_pool=self._pool)

    def disconnect(self) -> None:
        pool, self._pool = self._pool, None
        self._connection = None
        if pool is not None:
            pool.disconnect()

    def is_connected(self) -> bool:
        """True once the client exists: redis-py checks each pooled socket when it is checked out."""
        return self._pool is not None

    def reap_idle(self, idle_timeout: float) -> int:
        pool = self._pool
        return pool.reap_idle(idle_timeout) if pool is not None else 0

    def pool_stats(self) -> dict[str, int]:
        pool = self._pool
        return pool.stats() if pool is not None else {"total": 0, "open": 0, "in_use": 0, "idle": 0}

    def forget(self) -> None:
        self._pool = None
        super().forget()


class RedisClusterConnector(_RedisConnectorBase):
    """A Redis Cluster reached through any of its nodes; ``connect`` returns a ``redis.cluster.RedisCluster``.

    Every node gets its own ``PolyBlockingConnectionPool`` of ``max_connections``: a caller waits up to
    ``connection_timeout`` for a free connection to a node, then gets ``PoolTimeoutError``; idle
    connections are reaped per node. Cluster redirections (MOVED, ASK, TRYAGAIN) are followed by
    redis-py itself, a few times with a short backoff.
    """

    backend_name: ClassVar[str] = "redis_cluster"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.db not in (None, 0, "0"):
            raise InvalidArgumentError("Redis Cluster has only database 0", backend=self.backend_name)
        self._client: Any = None

    def connect(self) -> Any:
        from redis.cluster import RedisCluster

        # redis-py builds node pools of ``connection_pool_class`` only for clients made from a URL; the
        # URL carries host, port and scheme (rediss: TLS), never credentials (those go as keywords).
        url = f"{'rediss' if self.ssl else 'redis'}://{self.host}:{self.port or 6379}"
        kwargs = self._client_kwargs()
        kwargs.update(
            url=url,
            connection_pool_class=PolyClusterConnectionPool,
            # redis-py's cluster loop would re-send ANY command after a timeout or a dropped connection
            # (ERRORS_ALLOW_RETRY), so an INCRBY or a write script could be applied twice. polykv's manager
            # retries instead, and only idempotent commands or ones never sent. MOVED/ASK/TRYAGAIN are
            # followed by redis-py's own redirection loop, which does not depend on this setting.
            retry=Retry(NoBackoff(), 0),
        )
        kwargs.update(self._extra_options())
        try:
            self._client = RedisCluster(**kwargs)
        except rexc.RedisClusterException as exc:
            # no startup node reachable, or the node is not in cluster mode: redis-py raises its own base
            # class, outside RedisError; as a connection fault the manager retries it within the deadline and
            # then raises BackendUnavailableError (the message names host and port, never a credential)
            raise rexc.ConnectionError(str(exc)) from exc
        return self._client

    def disconnect(self) -> None:
        client, self._client = self._client, None
        self._connection = None
        if client is not None:
            client.close()

    def is_connected(self) -> bool:
        return self._client is not None

    def _pools(self) -> list[PolyBlockingConnectionPool]:
        client = self._client
        if client is None:
            return []
        nodes = list(client.nodes_manager.nodes_cache.values())
        pools = [n.redis_connection.connection_pool for n in nodes if n.redis_connection is not None]
        return [p for p in pools if isinstance(p, PolyBlockingConnectionPool)]

    def reap_idle(self, idle_timeout: float) -> int:
        return sum(pool.reap_idle(idle_timeout) for pool in self._pools())

    def pool_stats(self) -> dict[str, int]:
        totals = {"total": 0, "open": 0, "in_use": 0, "idle": 0}
        for pool in self._pools():
            for name, value in pool.stats().items():
                totals[name] += value
        return totals

    def forget(self) -> None:
        self._client = None
        super().forget()
