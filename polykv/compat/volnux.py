"""volnux (formerly event_pipeline) backend API names, mapped onto polykv's stores and connectors.

``KeyValueStoreBackendBase`` is a ``polykv.wrappers.StoreWrapper``: it builds the polykv store that does
the work (``_open_store``) and answers the record API with volnux's signatures. The Redis and HDFS classes
import their plugin on first use, so this module imports without polykv-redis or polykv-fsspec installed.
Redis records keep polykv's own layout (one string key per record, bucketed hash tags), not one hash per
schema: it gives atomic insert, per-record TTL and indexed filters (see docs/compat/volnux.rst).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from ..connectors import (
    BackendConnectorBase,
    BaseConnectorManager,
    ConnectionMode,
    ConnectorManagerFactory,
    PooledConnectorManager,
    SingleConnectorManager,
)
from ..errors import InvalidArgumentError, PluginLoadError
from ..records import BackendIntegrationMixin
from ..store import KeyValueStore
from ..wrappers import StoreWrapper

if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

__all__ = [
    "BackendConnectorBase",
    "BackendIntegrationMixin",
    "ConnectionMode",
    "ConnectorManagerFactory",
    "HDFSConnector",  # noqa: F822 - defined on first access (module __getattr__)
    "HDFSStoreBackend",  # noqa: F822 - defined on first access (module __getattr__)
    "InMemoryKeyValueStoreBackend",
    "KeyValueStoreBackendBase",
    "PooledConnectorManager",
    "RedisConnector",  # noqa: F822 - defined on first access (module __getattr__)
    "RedisStoreBackend",  # noqa: F822 - defined on first access (module __getattr__)
    "SingleConnectorManager",
]

#: Keyword arguments that size a pooled connector manager rather than configure a connector.
POOL_OPTIONS = ("max_connections", "connection_timeout", "idle_timeout")

#: The HDFS base path the newer volnux documentation gives.
DEFAULT_HDFS_BASE_PATH = "/volnux"


class KeyValueStoreBackendBase(StoreWrapper):
    """A volnux record store: gets its connections through ``connector_klass`` and a connector manager.

    ``connector_klass`` defaults to the class attribute of the same name; ``connection_mode`` picks the
    manager (``ConnectorManagerFactory`` rules: ``None`` means ``SINGLE``); ``max_connections``,
    ``connection_timeout`` and ``idle_timeout`` size a pooled manager; every other keyword is the
    connector's configuration (``host``, ``port``, ``db``...). Raises ``InvalidArgumentError`` for a
    ``connector_klass`` that is not a ``BackendConnectorBase`` subclass.
    """

    wrapper_name = "volnux"
    #: The connector class used when none is passed.
    connector_klass: type[BackendConnectorBase] | None = None

    def __init__(
        self,
        connector_klass: type[BackendConnectorBase] | None = None,
        connection_mode: ConnectionMode | str | None = None,
        *,
        codec: Any = "json",
        **connector_config: Any,
    ) -> None:
        klass = connector_klass if connector_klass is not None else type(self).connector_klass
        if klass is not None and not (isinstance(klass, type) and issubclass(klass, BackendConnectorBase)):
            raise InvalidArgumentError(f"connector_klass must be a BackendConnectorBase subclass, got {klass!r}")
        self.connector_klass = klass
        self.connection_mode = ConnectionMode.parse(connection_mode or ConnectionMode.SINGLE)
        self.pool_options = {k: connector_config.pop(k) for k in POOL_OPTIONS if k in connector_config}
        self.connector_config = connector_config
        self.connector_manager: BaseConnectorManager | None = None
        super().__init__(self._open_store(codec), owns=True)

    @abstractmethod
    def _open_store(self, codec: Any) -> KeyValueStore:
        """Build the polykv store that serves this backend (and set ``connector_manager`` if it has one)."""

    def _create_manager(self) -> BaseConnectorManager:
        if self.connector_klass is None:
            raise InvalidArgumentError(f"{type(self).__name__} needs a connector_klass")
        return ConnectorManagerFactory.create_manager(
            self.connector_klass, self.connector_config, self.connection_mode, **self.pool_options
        )

    # -- the record API with volnux's signatures -----------------------------------------------------
    def exists(self, schema_name: str, record_key: str) -> bool:  # type: ignore[override]
        """Whether the record ``record_key`` exists in ``schema_name``."""
        return super().exists(schema_name, record_key)

    def count(self, schema_name: str) -> int:  # type: ignore[override]
        """How many records ``schema_name`` holds (0 for a schema with none)."""
        return super().count(schema_name)

    def get_record(self, schema_name: str, klass: type[T], record_key: str | int) -> T:
        """Load a record as a ``klass`` object; an int key is used as its decimal string.
        Raises ``RecordNotFoundError`` when absent."""
        key: Any = str(record_key) if type(record_key) is int else record_key
        return super().get_record(schema_name, klass, key)


class InMemoryKeyValueStoreBackend(KeyValueStoreBackendBase):
    """volnux's in-memory store: a polykv ``MemoryStore`` (no connector, nothing persists)."""

    def _open_store(self, codec: Any) -> KeyValueStore:
        from ..backends.memory import MemoryStore

        return MemoryStore(codec=codec)


def _plugin(module: str, distribution: str, backend: str) -> Any:
    from importlib import import_module

    try:
        return import_module(module)
    except ImportError as exc:
        raise PluginLoadError(
            f"the {backend} backend needs the {distribution} distribution: pip install {distribution} ({exc})",
            backend=backend,
        ) from exc


def _redis_classes() -> dict[str, Any]:
    plugin = _plugin("polykv_redis", "polykv-redis", "redis")
    base_connector = plugin.RedisConnector

    class RedisConnector(base_connector):  # type: ignore[misc, valid-type]
        """volnux's Redis connector: ``RedisConnector(host, port, db)`` (polykv_redis.RedisConnector underneath)."""

        def __init__(
            self,
            host: str = "127.0.0.1",
            port: int = 6379,
            db: int = 0,
            username: str | None = None,
            password: Any = None,
            **options: Any,
        ) -> None:
            super().__init__(host, port, username, password, db, **options)

    class RedisStoreBackend(KeyValueStoreBackendBase):
        """volnux's Redis store: a polykv ``RedisStore`` whose connections come from ``connector_klass``
        (a ``polykv_redis.RedisConnector`` subclass) and the manager ``connection_mode`` picks."""

        connector_klass = RedisConnector

        def _open_store(self, codec: Any) -> KeyValueStore:
            klass = self.connector_klass
            if not (isinstance(klass, type) and issubclass(klass, base_connector)):
                raise InvalidArgumentError(
                    f"RedisStoreBackend needs a polykv_redis.RedisConnector subclass, got {klass!r}", backend="redis"
                )
            store_class = type("RedisStore", (plugin.RedisStore,), {"connector_class": klass, "__module__": __name__})
            config = dict(self.connector_config)
            store: KeyValueStore = store_class(
                connection_mode=self.connection_mode, codec=codec, **self.pool_options, **config
            )
            self.connector_manager = store.manager  # type: ignore[attr-defined]
            return store

    return {"RedisConnector": RedisConnector, "RedisStoreBackend": RedisStoreBackend}


def _hdfs_classes() -> dict[str, Any]:
    plugin = _plugin("polykv_fsspec.hdfs", "polykv-fsspec", "hdfs")

    class HDFSStoreBackend(KeyValueStoreBackendBase):
        """volnux's HDFS store: a polykv ``HDFSStore`` under ``base_path`` (default ``/volnux``), on the
        connector that ``connector_klass`` and the connector manager hand out (held while the store is open).
        Records are files under ``<base_path>/<schema>/``, JSON-encoded by default."""

        connector_klass = plugin.HDFSConnector

        def __init__(
            self,
            connector_klass: type[BackendConnectorBase] | None = None,
            connection_mode: ConnectionMode | str | None = None,
            *,
            base_path: str = DEFAULT_HDFS_BASE_PATH,
            codec: Any = "json",
            **connector_config: Any,
        ) -> None:
            self.base_path = base_path
            super().__init__(connector_klass, connection_mode, codec=codec, **connector_config)

        def _open_store(self, codec: Any) -> KeyValueStore:
            manager = self.connector_manager = self._create_manager()
            if not issubclass(manager.connector_class, plugin.HDFSConnector):
                raise InvalidArgumentError(
                    f"HDFSStoreBackend needs an HDFSConnector subclass, got {manager.connector_class.__name__}",
                    backend="hdfs",
                )
            store: KeyValueStore = plugin.HDFSStore(base_path=self.base_path, codec=codec, manager=manager)
            return store

        def close(self) -> None:
            """Close the store (it returns its connector) and the manager."""
            super().close()
            if self.connector_manager is not None:
                self.connector_manager.close()

    return {"HDFSConnector": plugin.HDFSConnector, "HDFSStoreBackend": HDFSStoreBackend}


_LAZY = {
    "RedisConnector": _redis_classes,
    "RedisStoreBackend": _redis_classes,
    "HDFSConnector": _hdfs_classes,
    "HDFSStoreBackend": _hdfs_classes,
}


def __getattr__(name: str) -> Any:
    """Define the Redis and HDFS classes on first access (importing their plugin then);
    raises ``PluginLoadError`` naming the distribution to install when it is missing."""
    loader = _LAZY.get(name)
    if loader is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    classes = loader()
    for key, cls in classes.items():
        if cls.__module__ == __name__:
            cls.__qualname__ = key
    globals().update(classes)
    return classes[name]
