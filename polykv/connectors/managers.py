"""``BaseConnectorManager``: checks connections out and in, and runs operations with bounded retry.

The retry loop lives here because it needs both halves: a connection from the manager and the fault
classification of the connector (``is_transient``, ``was_sent``, ``attempt_timeout``); ``RetryPolicy`` sets
its limits. Every manager of this process is tracked so that a forked child forgets inherited connections.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..errors import BackendUnavailableError, InvalidArgumentError
from ..pausing import pause
from .connector import BackendConnectorBase
from .retry import RetryPolicy

__all__ = ["BaseConnectorManager"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _ConnectFailed(BackendUnavailableError):
    """Opening a connection failed transiently: nothing was sent, so any operation may be retried."""


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
            pause(delay)  # time.sleep, or asyncio.sleep on the loop under polykv.aio's bridge

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
