"""Connectors and connection managers shared by every networked backend.

A *connector* (``BackendConnectorBase`` subclass) knows how to open one connection (or one client that pools
by itself) to a server. A *manager* hands connections to callers: ``SingleConnectorManager`` keeps one,
``PooledConnectorManager`` keeps up to ``max_connections``. ``ConnectorManagerFactory.create_manager`` picks
one by ``ConnectionMode``. Managers retry only transient faults (refused/reset connections, timeouts), with
bounded backoff, and turn an unreachable server into ``BackendUnavailableError`` within the timeout.
This module imports no client library: it is the core's, and the core has no server dependency.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, TypeVar

from .errors import BackendUnavailableError, InvalidArgumentError, PolyKVError, PoolTimeoutError
from .handoff import Waiter, WaiterQueue

__all__ = [
    "BackendConnectorBase",
    "BaseConnectorManager",
    "ConnectionMode",
    "ConnectorManagerFactory",
    "PooledConnectorManager",
    "RetryPolicy",
    "Secret",
    "SingleConnectorManager",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Secret:
    """Holds a credential so that ``repr``/``str``/formatting never show it; ``reveal()`` returns it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for handing to a client library (never for messages)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


class ConnectionMode(str, Enum):
    """How a store holds its connections: one shared connection, or a bounded pool."""

    SINGLE = "single"
    POOLED = "pooled"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retry of transient faults: at most ``attempts`` tries, exponential backoff from ``backoff``
    seconds capped at ``max_backoff``, all within one total ``deadline`` (seconds from the start of the
    operation, every try included): a retry is made only if it can end, at its connector's
    ``attempt_timeout``, before the deadline."""

    attempts: int = 3
    backoff: float = 0.05
    max_backoff: float = 0.5
    deadline: float = 5.0

    def delay(self, attempt: int) -> float:
        """Backoff before try number ``attempt + 1`` (``attempt`` >= 1)."""
        return float(min(self.max_backoff, self.backoff * (2 ** (attempt - 1))))


class BackendConnectorBase(ABC):
    """Opens and closes one connection to a server; subclasses implement ``connect``/``disconnect``/
    ``is_connected`` and say which exceptions are transient.

    The password is kept in a ``Secret``: it never shows in ``repr``, logs or error messages.
    """

    #: Name used in error messages.
    backend_name: ClassVar[str] = "backend"
    #: The client returned by ``connect`` pools connections itself; the pooled manager then configures
    #: that pool (``configure_pool``) instead of keeping a second pool of its own.
    native_pool: ClassVar[bool] = False
    #: The connection object may be used by several threads at once.
    thread_safe: ClassVar[bool] = False
    #: Exception types that mean "the server could not be reached or did not answer in time".
    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (ConnectionError, TimeoutError)

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        username: str | None = None,
        password: str | Secret | None = None,
        db: int | str | None = None,
        *,
        connect_timeout: float = 5.0,
        **options: Any,
    ) -> None:
        if not isinstance(host, str) or not host:
            raise InvalidArgumentError(f"host must be a non-empty str, got {host!r}", backend=self.backend_name)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise InvalidArgumentError(f"port must be an int in 1..65535, got {port!r}", backend=self.backend_name)
        if not connect_timeout > 0:
            raise InvalidArgumentError("connect_timeout must be > 0 seconds", backend=self.backend_name)
        self.host = host
        self.port = port
        self.username = username
        self._password: Secret | None = (
            password if isinstance(password, Secret) or password is None else Secret(password)
        )
        self.db = db
        self.connect_timeout = float(connect_timeout)
        self.options = options
        self._connection: Any = None
        self._pid = os.getpid()

    @property
    def password(self) -> Secret | None:
        """The password, wrapped so that printing it shows ``***``."""
        return self._password

    @property
    def address(self) -> str:
        """``host:port`` for messages (never credentials)."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def connection(self) -> Any:
        """What ``connect`` returned; connects first if needed."""
        if self._connection is None:
            self._connection = self.connect()
        return self._connection

    @abstractmethod
    def connect(self) -> Any:
        """Open the connection (or client) and return it; raise a transient error if unreachable."""

    @abstractmethod
    def disconnect(self) -> None:
        """Close the connection; safe to call twice."""

    @abstractmethod
    def is_connected(self) -> bool:
        """Whether the connection is open and usable."""

    def health_check(self) -> bool:
        """Checked when a pooled connection is checked out; a failing one is replaced. Default: ``is_connected``."""
        return self.is_connected()

    def configure_pool(self, max_connections: int, connection_timeout: float, idle_timeout: float) -> None:
        """Size the client's own pool (only called when ``native_pool`` is True)."""
        raise NotImplementedError(f"{type(self).__name__} has no native pool")

    def reap_idle(self, idle_timeout: float) -> int:
        """Close native-pool connections idle longer than ``idle_timeout``; return how many were closed."""
        return 0

    def pool_stats(self) -> dict[str, int]:
        """Native-pool counters: ``total``, ``in_use``, ``idle``."""
        return {}

    def forget(self) -> None:
        """Drop references to connections inherited through ``os.fork()`` without closing the parent's sockets."""
        self._connection = None
        self._pid = os.getpid()

    def is_transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a connection fault worth retrying (never a polykv answer such as a missing key)."""
        return isinstance(exc, self.transient_errors) and not isinstance(exc, PolyKVError)

    def was_sent(self, exc: BaseException) -> bool:
        """Whether the request may have reached the server before ``exc`` (True unless the subclass can tell)."""
        return True

    def attempt_timeout(self) -> float:
        """The longest one try can wait for the server, in seconds (its socket timeout); 0 when unknown.

        The manager spends no retry that could end past its total deadline, and counts a timed-out first
        try as having used this much of it."""
        return 0.0

    def timed_out(self, exc: BaseException) -> bool:
        """Whether ``exc`` means a try waited its whole ``attempt_timeout`` (a read timeout)."""
        return isinstance(exc, TimeoutError)

    def __repr__(self) -> str:
        user = f" username={self.username!r}" if self.username else ""
        secret = " password=***" if self._password is not None else ""
        return f"<{type(self).__name__} {self.address} db={self.db!r}{user}{secret}>"


class _ConnectFailed(BackendUnavailableError):
    """Opening a connection failed transiently: nothing was sent, so any operation may be retried."""


def _check_positive(name: str, value: float, backend: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{name} must be a number > 0, got {value!r}", backend=backend)
    return float(value)


_MANAGERS: weakref.WeakSet[BaseConnectorManager] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for manager in list(_MANAGERS):
        manager._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class BaseConnectorManager(ABC):
    """Hands out connections of one connector class and runs operations with bounded retry."""

    def __init__(
        self,
        connector_class: type[BackendConnectorBase],
        connector_config: dict[str, Any] | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not (isinstance(connector_class, type) and issubclass(connector_class, BackendConnectorBase)):
            raise InvalidArgumentError(
                f"connector_class must be a BackendConnectorBase subclass, got {connector_class!r}"
            )
        self.connector_class = connector_class
        self.connector_config = dict(connector_config or {})
        self.retry = retry or RetryPolicy()
        self._pid = os.getpid()
        self._closed = False
        #: Once connected, a client that any thread may call without checking it out (a thread-safe
        #: connector whose client pools by itself), else None. Callers send a failure on it to ``recover``.
        self.direct: Any = None
        self._direct_owner: BackendConnectorBase | None = None
        _MANAGERS.add(self)

    @property
    def backend_name(self) -> str:
        return self.connector_class.backend_name

    def _new_connector(self) -> BackendConnectorBase:
        return self.connector_class(**self.connector_config)

    def _open(self, connector: BackendConnectorBase) -> None:
        """Connect, turning a transient failure into BackendUnavailableError (no retry here)."""
        try:
            connector._connection = connector.connect()
        except Exception as exc:
            if connector.is_transient(exc):
                raise self._unavailable(connector, exc, _ConnectFailed) from exc
            raise

    def _unavailable(
        self,
        connector: BackendConnectorBase | None,
        exc: BaseException,
        kind: type[BackendUnavailableError] = BackendUnavailableError,
    ) -> BackendUnavailableError:
        where = connector.address if connector is not None else "the server"
        return kind(f"cannot reach {where}: {type(exc).__name__}: {exc}", backend=self.backend_name)

    @abstractmethod
    def acquire(self) -> BackendConnectorBase:
        """Check out a connected connector (blocks up to the pool's timeout)."""

    @abstractmethod
    def release(self, connector: BackendConnectorBase, *, discard: bool = False) -> None:
        """Return a connector; ``discard=True`` closes it instead (after a fault)."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection; the manager can be used again afterwards (it reconnects)."""

    @abstractmethod
    def _reset_after_fork(self) -> None:
        """In a forked child: forget the parent's connections without closing them."""

    def stats(self) -> dict[str, int]:
        """Connection counters (``total``, ``in_use``, ``idle``) for monitoring and leak tests."""
        return {}

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """``with manager.connection() as conn:`` checks a connection out and always returns it."""
        connector = self.acquire()
        broken = False
        try:
            yield connector.connection
        except BaseException as exc:
            broken = connector.is_transient(exc)
            raise
        finally:
            self.release(connector, discard=broken)

    def execute(self, operation: Callable[[Any], T], *, idempotent: bool = True) -> T:
        """Run ``operation(connection)``; retry transient faults with backoff when ``idempotent`` (or when the
        request cannot have been sent); raise ``BackendUnavailableError`` once the retry budget is spent."""
        return self._attempts(operation, idempotent, None)

    def recover(self, failure: Exception, operation: Callable[[Any], T], *, idempotent: bool = True) -> T:
        """Carry on after ``operation`` raised ``failure`` on ``direct``: a fault that is not transient is
        raised again as it is; a transient one counts as the first failed try of ``execute``."""
        owner = self._direct_owner
        if owner is None or not owner.is_transient(failure):
            raise failure
        return self._attempts(operation, idempotent, (owner, failure))

    def _set_direct(self, connector: BackendConnectorBase | None) -> None:
        """Publish (or withdraw, with None) a thread-safe, self-pooling connector's client as ``direct``."""
        if connector is not None and connector.thread_safe and connector.native_pool:
            self._direct_owner, self.direct = connector, connector._connection
        else:
            self._direct_owner, self.direct = None, None

    def _attempts(
        self,
        operation: Callable[[Any], T],
        idempotent: bool,
        failed: tuple[BackendConnectorBase, Exception] | None,
    ) -> T:
        attempt = 0
        started = time.monotonic()
        while True:
            connector: BackendConnectorBase | None = None
            if failed is not None:  # the try that failed on ``direct`` began before this call
                connector, failure = failed
                sent = connector.was_sent(failure)
                if connector.timed_out(failure):
                    started -= connector.attempt_timeout()
                failed = None
            else:
                try:
                    checked_out = self.acquire()
                except _ConnectFailed as exc:
                    failure = exc
                    sent = False
                else:
                    connector = checked_out
                    try:
                        result = operation(checked_out.connection)
                    except Exception as exc:
                        transient = checked_out.is_transient(exc)
                        self.release(checked_out, discard=transient)
                        if not transient:
                            raise
                        failure, sent = exc, checked_out.was_sent(exc)
                    else:
                        self.release(checked_out)
                        return result
            attempt += 1
            delay = self.retry.delay(attempt)
            next_try_ends = time.monotonic() + delay + (connector.attempt_timeout() if connector is not None else 0.0)
            if (
                attempt >= self.retry.attempts
                or (not idempotent and sent)
                or next_try_ends - started > self.retry.deadline
            ):
                if isinstance(failure, BackendUnavailableError):
                    raise BackendUnavailableError(failure.message, backend=failure.backend) from failure.__cause__
                raise self._unavailable(connector, failure) from failure
            logger.debug("retrying %s after transient %s (try %d)", self.backend_name, type(failure).__name__, attempt)
            time.sleep(delay)

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SingleConnectorManager(BaseConnectorManager):
    """One connector shared by every caller; callers take turns unless the connection is thread-safe."""

    def __init__(
        self,
        connector_class: type[BackendConnectorBase],
        connector_config: dict[str, Any] | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(connector_class, connector_config, retry=retry)
        self._lock = threading.RLock()
        self._connector: BackendConnectorBase | None = None
        self._shared = connector_class.thread_safe

    def acquire(self) -> BackendConnectorBase:
        if self._pid != os.getpid():
            self._reset_after_fork()
        if not self._shared:
            self._lock.acquire()
        try:
            connector = self._connector
            if connector is None or connector._connection is None or not connector.health_check():
                with self._lock:
                    connector = self._connector
                    if connector is None:
                        connector = self._connector = self._new_connector()
                    if connector._connection is None or not connector.health_check():
                        self._set_direct(None)
                        connector.disconnect()
                        connector._connection = None
                        self._open(connector)
                        if self._shared:
                            self._set_direct(connector)
            return connector
        except BaseException:
            if not self._shared:
                self._lock.release()
            raise

    def release(self, connector: BackendConnectorBase, *, discard: bool = False) -> None:
        try:
            if discard and connector is self._connector and not self._shared:
                connector.disconnect()
                connector._connection = None
        finally:
            if not self._shared:
                self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._set_direct(None)
            if self._connector is not None:
                self._connector.disconnect()
                self._connector._connection = None

    def _reset_after_fork(self) -> None:
        self._set_direct(None)
        self._lock = threading.RLock()
        if self._connector is not None:
            self._connector.forget()
        self._connector = None
        self._pid = os.getpid()

    def stats(self) -> dict[str, int]:
        connector = self._connector
        if connector is not None and connector.native_pool:
            return connector.pool_stats()
        open_ = int(connector is not None and connector._connection is not None)
        return {"total": open_, "in_use": 0, "idle": open_}

    def __repr__(self) -> str:
        return f"<SingleConnectorManager {self.connector_class.__name__}>"


#: Handed to a waiter instead of a connection: "open a new one, a slot is yours".
_NEW = object()


class PooledConnectorManager(BaseConnectorManager):
    """Up to ``max_connections`` connections; waits ``connection_timeout`` for a free one, then raises
    ``PoolTimeoutError``; closes connections idle longer than ``idle_timeout``; checks health on checkout.
    Waiters are served in arrival order (``polykv.handoff``): a returned connection goes to the longest
    waiter, never back to a caller that arrives later.

    When the connector's client pools by itself (``native_pool``), that pool is sized with these settings
    and used instead of this class's own.
    """

    def __init__(
        self,
        connector_class: type[BackendConnectorBase],
        connector_config: dict[str, Any] | None = None,
        *,
        max_connections: int = 10,
        connection_timeout: float = 5.0,
        idle_timeout: float = 300.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        backend = connector_class.backend_name
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise InvalidArgumentError(f"max_connections must be an int >= 1, got {max_connections!r}", backend=backend)
        super().__init__(connector_class, connector_config, retry=retry)
        self.max_connections = max_connections
        self.connection_timeout = _check_positive("connection_timeout", connection_timeout, backend)
        self.idle_timeout = _check_positive("idle_timeout", idle_timeout, backend)
        self._lock = threading.Lock()
        self._idle: deque[tuple[BackendConnectorBase, float]] = deque()
        self._waiters = WaiterQueue()
        self._in_use: set[int] = set()
        self._total = 0
        self._native: BackendConnectorBase | None = None
        self._reaper: threading.Thread | None = None
        self._stop = threading.Event()

    # -- native pool -----------------------------------------------------------------------------
    def _native_connector(self) -> BackendConnectorBase:
        connector = self._native
        if connector is not None:
            return connector
        with self._lock:
            if self._native is None:
                fresh = self._new_connector()
                fresh.configure_pool(self.max_connections, self.connection_timeout, self.idle_timeout)
                self._open(fresh)
                self._native = fresh
                self._set_direct(fresh)
            connector = self._native
        self._start_reaper()
        return connector

    # -- checkout / return -----------------------------------------------------------------------
    def acquire(self) -> BackendConnectorBase:
        if self._pid != os.getpid():
            self._reset_after_fork()
        if self.connector_class.native_pool:
            return self._native_connector()
        stale: list[BackendConnectorBase] = []
        connector: BackendConnectorBase | None = None
        waiter: Waiter | None = None
        with self._lock:
            stale.extend(self._take_expired(time.monotonic()))
            if len(self._waiters):  # others were first: queue behind them
                waiter = self._waiters.join()
            elif self._idle:
                connector = self._idle.pop()[0]
                self._in_use.add(id(connector))
            elif self._total < self.max_connections:
                self._total += 1
                connector = None
            else:
                waiter = self._waiters.join()
        timed_out = False
        if waiter is not None:
            if not waiter.wait(self.connection_timeout):
                with self._lock:
                    if not waiter.served:
                        self._waiters.leave(waiter)
                        timed_out = True
            connector = None if waiter.item is _NEW else waiter.item
        for old in stale:
            self._close_quietly(old)
        if timed_out:
            raise PoolTimeoutError(
                f"no connection became free within {self.connection_timeout:g}s "
                f"(max_connections={self.max_connections})",
                backend=self.backend_name,
            )
        if connector is None or not self._healthy(connector):
            if connector is not None:
                self._close_quietly(connector)
                with self._lock:
                    self._in_use.discard(id(connector))
            connector = self._new_connector()
            try:
                self._open(connector)
            except BaseException:
                with self._lock:
                    self._total -= 1
                    self._serve_waiters()
                raise
            with self._lock:
                self._in_use.add(id(connector))
            self._start_reaper()
        return connector

    def _serve_waiters(self) -> None:
        """Caller holds the lock: hand idle connections, then leave to open new ones, to waiters in
        arrival order (a returning thread never takes a connection back ahead of them)."""
        while len(self._waiters):
            if self._idle:
                connector = self._idle.pop()[0]
                self._in_use.add(id(connector))
                self._waiters.serve_first(connector)
            elif self._total < self.max_connections:
                self._total += 1
                self._waiters.serve_first(_NEW)
            else:
                return

    def _healthy(self, connector: BackendConnectorBase) -> bool:
        try:
            return connector._connection is not None and connector.health_check()
        except Exception:
            return False

    def release(self, connector: BackendConnectorBase, *, discard: bool = False) -> None:
        if self.connector_class.native_pool:
            return
        if connector._pid != os.getpid():
            return  # a connector from before a fork: never reuse the parent's socket
        with self._lock:
            if id(connector) not in self._in_use:
                raise InvalidArgumentError(
                    f"release() of a connection this pool did not hand out: {connector!r}", backend=self.backend_name
                )
            self._in_use.discard(id(connector))
            if discard or self._closed:
                self._total -= 1
            else:
                self._idle.append((connector, time.monotonic()))
            self._serve_waiters()
        if discard or self._closed:
            self._close_quietly(connector)

    # -- idle reaping ----------------------------------------------------------------------------
    def _take_expired(self, now: float) -> list[BackendConnectorBase]:
        """Caller holds the lock: unlink idle connections past ``idle_timeout`` (only idle ones, never
        checked-out ones) and return them for closing outside the lock."""
        expired = []
        while self._idle and now - self._idle[0][1] > self.idle_timeout:
            connector, _ = self._idle.popleft()
            self._total -= 1
            expired.append(connector)
        return expired

    def reap_idle(self) -> int:
        """Close connections idle longer than ``idle_timeout`` now; returns how many were closed."""
        if self.connector_class.native_pool:
            return self._native.reap_idle(self.idle_timeout) if self._native is not None else 0
        with self._lock:
            expired = self._take_expired(time.monotonic())
        for connector in expired:
            self._close_quietly(connector)
        return len(expired)

    def _start_reaper(self) -> None:
        if self._reaper is not None and self._reaper.is_alive():
            return
        self._stop.clear()
        ref = weakref.ref(self)
        interval = min(max(self.idle_timeout / 2, 0.05), 30.0)
        stop = self._stop

        def run() -> None:
            while not stop.wait(interval):
                manager = ref()
                if manager is None:
                    return
                try:
                    manager.reap_idle()
                except Exception:  # pragma: no cover - a reaper must never die silently mid-loop
                    logger.exception("idle reaping failed for %s", manager.backend_name)
                del manager

        self._reaper = threading.Thread(target=run, name=f"polykv-reaper-{self.backend_name}", daemon=True)
        self._reaper.start()

    def _close_quietly(self, connector: BackendConnectorBase) -> None:
        try:
            connector.disconnect()
        except Exception as exc:
            logger.debug("closing a %s connection failed: %s", self.backend_name, type(exc).__name__)
        connector._connection = None

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close idle connections now and checked-out ones when they come back; stop the reaper."""
        self._stop.set()
        with self._lock:
            idle = [c for c, _ in self._idle]
            self._idle.clear()
            self._total -= len(idle)
            native, self._native = self._native, None
            self._set_direct(None)
        for connector in idle:
            self._close_quietly(connector)
        if native is not None:
            self._close_quietly(native)

    def _reset_after_fork(self) -> None:
        self._set_direct(None)
        self._lock = threading.Lock()
        for connector, _ in self._idle:
            connector.forget()
        if self._native is not None:
            self._native.forget()
        self._native = None
        self._idle = deque()
        self._waiters = WaiterQueue()
        self._in_use = set()
        self._total = 0
        self._reaper = None
        self._stop = threading.Event()
        self._pid = os.getpid()

    def stats(self) -> dict[str, int]:
        if self.connector_class.native_pool:
            return self._native.pool_stats() if self._native is not None else {"total": 0, "in_use": 0, "idle": 0}
        with self._lock:
            return {"total": self._total, "in_use": len(self._in_use), "idle": len(self._idle)}

    def __repr__(self) -> str:
        return (
            f"<PooledConnectorManager {self.connector_class.__name__} max_connections={self.max_connections} "
            f"connection_timeout={self.connection_timeout:g} idle_timeout={self.idle_timeout:g}>"
        )


class ConnectorManagerFactory:
    """Builds the manager for a connection mode (the reference API's entry point)."""

    @staticmethod
    def create_manager(
        connector_class: type[BackendConnectorBase],
        connector_config: dict[str, Any],
        connection_mode: ConnectionMode | str | None = None,
        **kwargs: Any,
    ) -> BaseConnectorManager:
        """``SINGLE`` (the default) -> ``SingleConnectorManager``; ``POOLED`` -> ``PooledConnectorManager``
        with ``max_connections``, ``connection_timeout``, ``idle_timeout`` from ``kwargs``."""
        try:
            mode = ConnectionMode(connection_mode or ConnectionMode.SINGLE)
        except ValueError:
            raise InvalidArgumentError(
                f"connection_mode must be 'single' or 'pooled', got {connection_mode!r}",
                backend=getattr(connector_class, "backend_name", None),
            ) from None
        if mode is ConnectionMode.POOLED:
            return PooledConnectorManager(connector_class, connector_config, **kwargs)
        unknown = set(kwargs) - {"retry"}
        if unknown:
            raise InvalidArgumentError(
                f"options {sorted(unknown)} apply to connection_mode='pooled' only",
                backend=getattr(connector_class, "backend_name", None),
            )
        return SingleConnectorManager(connector_class, connector_config, **kwargs)
