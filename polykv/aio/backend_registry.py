"""``polykv.aio.registry``: the lazy registry of async stores, from the same declarations as the sync one.

``AsyncBackendRegistry`` asks a ``BackendRegistry`` which class serves a name (built-in, defined, or an
entry point of the ``polykv.backends`` group: one declaration per backend gives both faces) and caches one
``AsyncKeyValueStore`` per name, created on first lookup with ``config[name]``. Listing names imports no
plugin. A lookup that must create a store whose constructor blocks (sqlite opens its file) blocks for that
constructor; ``await registry.aget(name)`` builds it in a worker thread instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from ..backend_registry import BackendRegistry, Declaration
from ..errors import BackendNotFoundError, RegistrationError
from .faces import face_class, runner_for
from .runners import ThreadRunner, check_max_workers
from .store import AsyncKeyValueStore

__all__ = ["AsyncBackendRegistry", "default_registry"]


class AsyncBackendRegistry(Mapping[str, AsyncKeyValueStore]):
    """A read-only mapping from backend name to one lazily created, cached ``AsyncKeyValueStore``."""

    def __init__(self, config: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._config: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (config or {}).items()}
        self._classes = BackendRegistry()  # only asked which class serves a name; it creates no store
        self._stores: dict[str, AsyncKeyValueStore] = {}
        self._lock = threading.RLock()

    def _create(self, name: str) -> AsyncKeyValueStore:
        cls = self._classes.store_class(name)
        native = face_class(cls)
        options = dict(self._config.get(name, {}))
        max_workers = options.pop("max_workers", None)
        if max_workers is not None:
            check_max_workers(max_workers)
        return AsyncKeyValueStore(native(**options), runner_for([native is not cls], max_workers))

    def __getitem__(self, name: str) -> AsyncKeyValueStore:
        store = self._stores.get(name)
        if store is not None:
            return store
        with self._lock:
            store = self._stores.get(name)
            if store is None:
                store = self._stores[name] = self._create(name)
            return store

    async def aget(self, name: str) -> AsyncKeyValueStore:
        """``registry[name]``, with a store that is not created yet built in a worker thread."""
        store = self._stores.get(name)
        if store is not None:
            return store
        builder = ThreadRunner(1)
        try:
            return await builder.call(self.__getitem__, name)
        finally:
            await builder.aclose()

    def get(self, name: str, default: Any = None) -> Any:
        """The store for ``name``, or ``default`` when no such backend is declared."""
        try:
            return self[name]
        except BackendNotFoundError:
            return default

    def __contains__(self, name: object) -> bool:
        return name in self._stores or name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def keys(self) -> list[str]:  # type: ignore[override]
        """Every declared backend name, sorted; imports nothing."""
        return sorted(set(self._classes.keys()) | set(self._stores))

    def describe(self, name: str) -> Declaration:
        """Where ``name`` comes from (``BackendRegistry.describe``), importing nothing new."""
        return self._classes.describe(name)

    def refresh(self) -> None:
        """Read the installed distributions' entry points again."""
        self._classes.refresh()

    def register(self, name: str, store: AsyncKeyValueStore) -> None:
        """Add an async store under ``name`` for this registry only; ``RegistrationError`` if taken."""
        if not isinstance(store, AsyncKeyValueStore):
            raise RegistrationError(f"register({name!r}, ...) takes an AsyncKeyValueStore, got {type(store).__name__}")
        with self._lock:
            if name in self._stores:
                raise RegistrationError(f"backend {name!r} is already created in this registry", backend=name)
            self._stores[name] = store

    def loaded(self) -> dict[str, AsyncKeyValueStore]:
        """The stores created or registered so far, without creating any."""
        return dict(self._stores)

    async def aclose(self) -> None:
        """Close every store this registry created or holds, and forget them."""
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            await store.aclose()

    def __repr__(self) -> str:
        return f"<AsyncBackendRegistry backends={self.keys()!r} loaded={sorted(self._stores)!r}>"


_default: AsyncBackendRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> AsyncBackendRegistry:
    """The process-wide registry behind ``polykv.aio.registry``, created on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = AsyncBackendRegistry()
    return _default
