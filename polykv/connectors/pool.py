"""``PooledConnectorManager``: a bounded pool of connections, served in arrival order, with idle reaping."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from ..errors import InvalidArgumentError, PoolTimeoutError
from ..handoff import Waiter, WaiterQueue
from .connector import BackendConnectorBase
from .managers import BaseConnectorManager
from .retry import RetryPolicy

__all__ = ["PooledConnectorManager"]

logger = logging.getLogger(__name__)


def _check_positive(name: str, value: float, backend: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{name} must be a number > 0, got {value!r}", backend=backend)
    return float(value)


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
