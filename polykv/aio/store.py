"""``AsyncKeyValueStore``: the KV and record contract of :class:`polykv.KeyValueStore` as coroutines.

An ``AsyncKeyValueStore`` holds one store of the synchronous kind and a runner. Each coroutine calls the
synchronous method of the same name through the runner: on the loop through the bridge for stores whose
I/O awaits natively (memory, Redis, S3), in a bounded thread pool for stores whose I/O blocks (sqlite, local
files, HDFS). So both faces share one source: same names, arguments, return values and exceptions, same
capabilities, same data layout; listing methods become async iterators.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from .. import caching
from ..capabilities import Capability
from ..codecs import Codec
from ..locks import Lock
from ..primitives import DEFAULT_BATCH_SIZE, MISSING
from ..store import KeyValueStore
from . import bridge
from .runners import Runner

__all__ = ["AsyncKeyValueStore", "AsyncLock"]

T = TypeVar("T")
S = TypeVar("S", bound="AsyncKeyValueStore")


class AsyncKeyValueStore:
    """The async face of one store; build it with ``polykv.aio.connect`` or ``polykv.aio.registry``.

    Every coroutine is the synchronous method of the same name (see :class:`polykv.KeyValueStore` for
    arguments, results and errors). ``keys``, ``keys_by_prefix``, ``fetch_by_prefix``, ``iter_records`` and
    ``record_keys`` return async iterators (``async for``), read in batches. ``async with store:`` closes it,
    as does ``await store.aclose()``.
    """

    __slots__ = ("__weakref__", "_runner", "_store")

    def __init__(self, store: KeyValueStore, runner: Runner) -> None:
        self._store = store
        self._runner = runner

    # -- what the store is -----------------------------------------------------------------------
    @property
    def backend_name(self) -> str:
        """The backend type (``"redis"``, ``"sqlite"``...)."""
        return self._store.backend_name

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the store can do beyond the contract (the same set as its synchronous face)."""
        return self._store.capabilities

    @property
    def codec(self) -> Codec:
        """The value codec."""
        return self._store.codec

    @property
    def runner(self) -> Runner:
        """Where the store's methods run: a ``BridgeRunner`` (native asyncio I/O) or a ``ThreadRunner``."""
        return self._runner

    def supports(self, capability: Capability | str) -> bool:
        """Whether the store declares ``capability``."""
        return self._store.supports(capability)

    def __repr__(self) -> str:
        return f"<AsyncKeyValueStore {self._store!r} runner={self._runner.kind}>"

    async def _call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        return await self._runner.call(getattr(self._store, name), *args, **kwargs)

    def _stream(self, name: str, /, *args: Any, chunk: int = DEFAULT_BATCH_SIZE) -> AsyncIterator[Any]:
        method = getattr(self._store, name)
        return self._runner.stream(lambda: method(*args), chunk)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the store (its connections, files) and the runner's threads; open change feeds end (at
        their next check, within ``poll_interval``) instead of failing or holding the close up."""
        self._runner.halt_streams()
        try:
            await self._call("close")
        finally:
            await self._runner.aclose()

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- KV surface ----------------------------------------------------------------------------------
    async def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` (``KeyValueStore.get``)."""
        return await self._call("get", key, default)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, with an optional ``ttl`` in seconds (``KeyValueStore.set``)."""
        await self._call("set", key, value, ttl)

    async def upsert(self, key: str, value: Any) -> None:
        """Insert or replace (``KeyValueStore.upsert``, KvStorage's name)."""
        await self._call("upsert", key, value)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; whether it existed (``KeyValueStore.delete``)."""
        result: bool = await self._call("delete", key)
        return result

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values of the keys that exist, in one batch (``KeyValueStore.get_many``)."""
        result: dict[str, Any] = await self._call("get_many", _materialized(keys))
        return result

    async def set_many(self, mapping: Mapping[str, Any] | Iterable[tuple[str, Any]], ttl: float | None = None) -> None:
        """Store every pair, validated before any is written (``KeyValueStore.set_many``)."""
        await self._call("set_many", _materialized(mapping), ttl)

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove the keys; how many existed (``KeyValueStore.delete_many``)."""
        result: int = await self._call("delete_many", _materialized(keys))
        return result

    async def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store only if absent, atomically; whether it was stored (``KeyValueStore.add``)."""
        result: bool = await self._call("add", key, value, ttl)
        return result

    async def compare_and_set(self, key: str, expected: Any, new: Any) -> bool:
        """Replace atomically if the value equals ``expected`` (``KeyValueStore.compare_and_set``)."""
        result: bool = await self._call("compare_and_set", key, expected, new)
        return result

    async def incr(self, key: str, amount: int = 1) -> int:
        """Add ``amount`` atomically; the result (``KeyValueStore.incr``)."""
        result: int = await self._call("incr", key, amount)
        return result

    async def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires, None if never (``KeyValueStore.ttl``)."""
        result: float | None = await self._call("ttl", key)
        return result

    async def clear(self, prefix: str = "") -> int:
        """Remove the KV keys under ``prefix``; how many (``KeyValueStore.clear``)."""
        result: int = await self._call("clear", prefix)
        return result

    async def pop(self, key: str, default: Any = MISSING) -> Any:
        """Remove ``key`` and return its value (``KeyValueStore.pop``)."""
        return await self._call("pop", key, default)

    async def popitem(self) -> tuple[str, Any]:
        """Remove and return some pair (``KeyValueStore.popitem``)."""
        result: tuple[str, Any] = await self._call("popitem")
        return result

    async def setdefault(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, storing ``default`` if absent (``KeyValueStore.setdefault``)."""
        return await self._call("setdefault", key, default)

    async def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """``dict.update`` in batches (``KeyValueStore.update``)."""
        await self._call("update", _materialized(other), **kwargs)

    async def exists(
        self, key: str | None = None, record_key: str | None = None, *, schema_name: str | None = None
    ) -> bool:
        """``exists(key)`` or ``exists(schema_name, record_key)`` (``KeyValueStore.exists``)."""
        result: bool = await self._call("exists", key, record_key, schema_name=schema_name)
        return result

    async def count(self, schema_name: str | None = None, *, prefix: str = "") -> int:
        """``count(schema_name)`` records or ``count(prefix=...)`` KV keys (``KeyValueStore.count``)."""
        result: int = await self._call("count", schema_name, prefix=prefix)
        return result

    def keys(self) -> AsyncIterator[str]:
        """Every plain key, as an async iterator."""
        return self._stream("keys_by_prefix", "")

    def keys_by_prefix(self, prefix: str = "") -> AsyncIterator[str]:
        """The keys under the literal ``prefix`` (``KeyValueStore.keys_by_prefix``)."""
        return self._stream("keys_by_prefix", prefix)

    def fetch_by_prefix(self, prefix: str = "") -> AsyncIterator[tuple[str, Any]]:
        """``(key, value)`` pairs under the literal ``prefix`` (``KeyValueStore.fetch_by_prefix``)."""
        return self._stream("fetch_by_prefix", prefix)

    # -- record surface ------------------------------------------------------------------------------
    async def insert_record(self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None) -> None:
        """Store a new record; ``RecordExistsError`` if one exists (``KeyValueStore.insert_record``)."""
        await self._call("insert_record", schema_name, record_key, record, ttl=ttl)

    async def update_record(self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None) -> None:
        """Replace an existing record; ``RecordNotFoundError`` if none (``KeyValueStore.update_record``)."""
        await self._call("update_record", schema_name, record_key, record, ttl=ttl)

    async def upsert_record(self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None) -> None:
        """Insert or replace a record (``KeyValueStore.upsert_record``)."""
        await self._call("upsert_record", schema_name, record_key, record, ttl=ttl)

    async def delete_record(self, schema_name: str, record_key: str) -> bool:
        """Delete a record; whether it existed (``KeyValueStore.delete_record``)."""
        result: bool = await self._call("delete_record", schema_name, record_key)
        return result

    async def get_record(self, schema_name: str, klass: type[T], record_key: str) -> T:
        """Load a record as a ``klass`` object (``KeyValueStore.get_record``)."""
        result: T = await self._call("get_record", schema_name, klass, record_key)
        return result

    async def reload_record(self, schema_name: str, record: Any, *, record_key: str | None = None) -> None:
        """Refresh ``record`` in place (``KeyValueStore.reload_record``)."""
        await self._call("reload_record", schema_name, record, record_key=record_key)

    async def filter_record(self, schema_name: str, record_klass: type[T], **filter_kwargs: Any) -> list[T]:
        """Records matching every ``field`` / ``field__lookup`` term (``KeyValueStore.filter_record``)."""
        result: list[T] = await self._call("filter_record", schema_name, record_klass, **filter_kwargs)
        return result

    def iter_records(self, schema_name: str, record_klass: type[T]) -> AsyncIterator[tuple[str, T]]:
        """Every ``(record_key, record)`` of a schema (``KeyValueStore.iter_records``)."""
        return self._stream("iter_records", schema_name, record_klass)

    def record_keys(self, schema_name: str, prefix: str = "") -> AsyncIterator[str]:
        """The record keys of a schema under ``prefix`` (``KeyValueStore.record_keys``)."""
        return self._stream("record_keys", schema_name, prefix)

    async def list_schemas(self) -> list[str]:
        """Names of the schemas holding records, sorted (``KeyValueStore.list_schemas``)."""
        result: list[str] = await self._call("list_schemas")
        return result

    async def drop_schema(self, schema_name: str) -> None:
        """Delete every record of a schema (``KeyValueStore.drop_schema``)."""
        await self._call("drop_schema", schema_name)

    async def save(self, record: Any, schema_name: str | None = None) -> None:
        """Upsert a record under its schema and key (``KeyValueStore.save``)."""
        await self._call("save", record, schema_name)

    # -- leases ------------------------------------------------------------------------------------------
    async def get_or_set(
        self,
        key: str,
        factory: Callable[[], Any] | Callable[[], Awaitable[Any]],
        *,
        ttl: float | None = None,
        lease_ttl: float = caching.DEFAULT_LEASE_TTL,
        wait_timeout: float | None = None,
    ) -> Any:
        """The value under ``key``, or ``factory()``'s result stored with ``ttl``; one caller computes at a
        time, the others wait without blocking the loop. ``factory`` may be a coroutine function; it runs
        on the loop (``KeyValueStore.get_or_set``)."""

        def compute() -> Any:
            made = factory()
            return bridge.await_(made) if inspect.isawaitable(made) else made

        return await self._call("get_or_set", key, compute, ttl=ttl, lease_ttl=lease_ttl, wait_timeout=wait_timeout)

    def lock(self, name: str, *, ttl: float, blocking_timeout: float | None = None) -> AsyncLock:
        """A distributed lock on the key ``name`` (``KeyValueStore.lock``); ``async with`` it."""
        return AsyncLock(self, self._store.lock(name, ttl=ttl, blocking_timeout=blocking_timeout))


class AsyncLock:
    """``polykv.locks.Lock`` as coroutines; waiting for it never blocks the loop."""

    __slots__ = ("_lock", "_store")

    def __init__(self, store: AsyncKeyValueStore, lock: Lock) -> None:
        self._store = store
        self._lock = lock

    @property
    def name(self) -> str:
        """The key the lock lives under."""
        return self._lock.name

    def __repr__(self) -> str:
        return f"<AsyncLock {self._lock!r}>"

    async def acquire(self, blocking: bool = True, blocking_timeout: float | None = None) -> bool:
        """Take the lock; whether it was taken (``Lock.acquire``)."""
        result: bool = await self._store.runner.call(self._lock.acquire, blocking, blocking_timeout)
        return result

    async def release(self) -> None:
        """Give the lock back; ``LockNotOwnedError`` if its lease was lost (``Lock.release``)."""
        await self._store.runner.call(self._lock.release)

    async def extend(self, ttl: float | None = None) -> None:
        """Renew the lease (``Lock.extend``)."""
        await self._store.runner.call(self._lock.extend, ttl)

    async def locked(self) -> bool:
        """Whether anyone holds the lock (``Lock.locked``)."""
        result: bool = await self._store.runner.call(self._lock.locked)
        return result

    async def owned(self) -> bool:
        """Whether this object holds it (``Lock.owned``)."""
        result: bool = await self._store.runner.call(self._lock.owned)
        return result

    async def __aenter__(self) -> AsyncLock:
        await self._store.runner.call(self._lock.__enter__)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._store.runner.call(self._lock.__exit__, exc_type, exc, tb)


def _materialized(items: Any) -> Any:
    """A one-shot iterator (a generator) is read on the loop, before the call leaves it; lists, mappings and
    anything that is not an iterator pass as they are (the synchronous method checks them)."""
    if isinstance(items, Iterable) and iter(items) is items:
        return list(items)
    return items
