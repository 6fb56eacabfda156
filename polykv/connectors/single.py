"""``SingleConnectorManager``: one connection shared by every caller of a store."""

from __future__ import annotations

import os
import threading
from typing import Any

from .connector import BackendConnectorBase
from .managers import BaseConnectorManager
from .retry import RetryPolicy

__all__ = ["SingleConnectorManager"]


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
