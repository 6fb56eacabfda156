"""``AsyncStoreManager``: ``polykv.StoreManager`` over async stores, the same routing and errors.

It builds a ``StoreManager`` over the stores the async faces run and runs its methods where those stores
run (on the bridge when all are native, else in the first threaded store's pool, where a native store
awaits on the loop from its thread). Routing, grouping of batches by backend and error messages are
therefore the synchronous manager's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from ..errors import InvalidArgumentError
from ..manager import StoreManager
from .faces import runner_for
from .runners import Runner
from .store import AsyncKeyValueStore

__all__ = ["AsyncStoreManager"]

T = TypeVar("T")


class AsyncStoreManager:
    """Address many async stores by name or by route (see ``polykv.StoreManager``); ``stores`` maps names
    to ``AsyncKeyValueStore`` objects, which stay the caller's (``aclose()`` closes none of them)."""

    def __init__(
        self,
        stores: Mapping[str, AsyncKeyValueStore],
        default: str | None = None,
        routes: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(stores, Mapping) or not all(isinstance(s, AsyncKeyValueStore) for s in stores.values()):
            raise InvalidArgumentError("AsyncStoreManager takes a Mapping of names to AsyncKeyValueStore objects")
        self._stores = dict(stores)
        self._manager = StoreManager({name: store._store for name, store in stores.items()}, default, routes)
        runners = [store.runner for store in stores.values()]
        threaded = [runner for runner in runners if runner.kind != "bridge"]
        self._runner: Runner = threaded[0] if threaded else runner_for([True])

    @property
    def default(self) -> str | None:
        """The backend for unrouted calls."""
        return self._manager.default

    def names(self) -> list[str]:
        """The backend names, sorted."""
        return self._manager.names()

    def store(self, name: str) -> AsyncKeyValueStore:
        """The async store named ``name``; ``BackendNotFoundError`` listing the names otherwise."""
        self._manager.store(name)  # raises the manager's error for an unknown name
        return self._stores[name]

    __getitem__ = store

    def route(self, key: str | None = None, *, schema: str | None = None) -> str | None:
        """The backend a call would use for ``key`` or ``schema`` (``StoreManager.route``)."""
        return self._manager.route(key, schema=schema)

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """Any ``StoreManager`` method by name, e.g. ``await mgr.call("pop", "k", backend="cache")``."""
        return await self._runner.call(getattr(self._manager, method), *args, **kwargs)

    async def get(self, key: str, default: Any = None, *, backend: str | None = None) -> Any:
        """``StoreManager.get``."""
        return await self.call("get", key, default, backend=backend)

    async def set(self, key: str, value: Any, ttl: float | None = None, *, backend: str | None = None) -> None:
        """``StoreManager.set``."""
        await self.call("set", key, value, ttl, backend=backend)

    async def delete(self, key: str, *, backend: str | None = None) -> bool:
        """``StoreManager.delete``."""
        result: bool = await self.call("delete", key, backend=backend)
        return result

    async def get_many(self, keys: Iterable[str], *, backend: str | None = None) -> dict[str, Any]:
        """``StoreManager.get_many``: one batch per backend the keys route to."""
        result: dict[str, Any] = await self.call("get_many", list(keys), backend=backend)
        return result

    async def set_many(
        self, mapping: Mapping[str, Any], ttl: float | None = None, *, backend: str | None = None
    ) -> None:
        """``StoreManager.set_many``."""
        await self.call("set_many", dict(mapping), ttl, backend=backend)

    async def count(self, schema_name: str | None = None, *, prefix: str = "", backend: str | None = None) -> int:
        """``StoreManager.count``."""
        result: int = await self.call("count", schema_name, prefix=prefix, backend=backend)
        return result

    async def insert_record(self, schema_name: str, record_key: str, record: Any, **options: Any) -> None:
        """``StoreManager.insert_record`` (routed by schema)."""
        await self.call("insert_record", schema_name, record_key, record, **options)

    async def upsert_record(self, schema_name: str, record_key: str, record: Any, **options: Any) -> None:
        """``StoreManager.upsert_record``."""
        await self.call("upsert_record", schema_name, record_key, record, **options)

    async def get_record(self, schema_name: str, klass: type[T], record_key: str, *, backend: str | None = None) -> T:
        """``StoreManager.get_record``."""
        result: T = await self.call("get_record", schema_name, klass, record_key, backend=backend)
        return result

    async def filter_record(self, schema_name: str, record_klass: type[T], **filters: Any) -> list[T]:
        """``StoreManager.filter_record``."""
        result: list[T] = await self.call("filter_record", schema_name, record_klass, **filters)
        return result

    async def aclose(self) -> None:
        """Close the manager (the stores stay open: they are the caller's)."""
        self._manager.close()

    async def __aenter__(self) -> AsyncStoreManager:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncStoreManager names={self.names()!r} default={self.default!r}>"
