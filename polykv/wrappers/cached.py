"""``CachedStore``: read-through / write-through tiering of a small front store over a store of record."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from time import monotonic
from typing import TYPE_CHECKING, Any

from ..capabilities import Capability
from ..errors import InvalidArgumentError
from ..store import KeyValueStore, _Missing
from .base import END, StoreWrapper, check_store

if TYPE_CHECKING:
    from cachetools import LRUCache

__all__ = ["CachedStore"]


def _new_lru(max_items: int, evicted: list[tuple[str, str]]) -> LRUCache[tuple[str, str], float | None]:
    """A cachetools LRU of ``(ns, key) -> deadline`` that records what it evicts in ``evicted``."""
    from cachetools import LRUCache

    class _Index(LRUCache[tuple[str, str], "float | None"]):
        def popitem(self) -> tuple[tuple[str, str], float | None]:
            item = super().popitem()
            evicted.append(item[0])
            return item

    return _Index(maxsize=max_items)


class CachedStore(StoreWrapper):
    """Read-through / write-through tiering: ``front`` (e.g. memory) caches at most ``max_items`` values
    of ``back`` (e.g. Redis), least recently used first out.

    ``back`` is the truth: every write goes to it first, then to the front; scans, counts, filters and
    TTLs are answered by it. An in-process LRU index (cachetools) decides what the front may serve, so a
    front entry the index does not know is never returned. ``ttl=`` bounds how long an entry is served
    from the front (useful when other processes write to ``back``). Capabilities are the back store's
    (ADD, INCR and COMPARE_AND_SET run atomically on it). The codec is the back store's; the front only
    holds its bytes.
    """

    wrapper_name = "cached"
    _STRIPES = 32

    def __init__(
        self,
        front: KeyValueStore,
        back: KeyValueStore,
        *,
        max_items: int = 1024,
        ttl: float | None = None,
        owns: bool = False,
    ) -> None:
        super().__init__(back, owns=owns)
        self.front = check_store(front, "CachedStore", "front")
        if front is back:
            raise InvalidArgumentError("CachedStore needs two different stores for front and back")
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
            raise InvalidArgumentError(f"max_items must be an int >= 1, got {max_items!r}")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0):
            raise InvalidArgumentError(f"ttl must be a number of seconds > 0 or None, got {ttl!r}")
        self.max_items = max_items
        self.cache_ttl = None if ttl is None else float(ttl)
        self._evicted: list[tuple[str, str]] = []
        self._index = _new_lru(max_items, self._evicted)
        self._index_lock = threading.Lock()
        self._stripes = [threading.RLock() for _ in range(self._STRIPES)]
        self._front_ttl = Capability.TTL in front.capabilities
        self._back_ttl = Capability.TTL in back.capabilities

    @property
    def back(self) -> KeyValueStore:
        """The store of record (the wrapped store)."""
        return self.inner

    def __repr__(self) -> str:
        return f"<CachedStore max_items={self.max_items} front={self.front!r} back={self.inner!r}>"

    def close(self) -> None:
        """Forget the cache; close front and back if this wrapper owns them."""
        self.invalidate()
        if self.owns:
            try:
                self.front.close()
            finally:
                self.inner.close()

    def cached_count(self) -> int:
        """How many entries the front may serve now (at most ``max_items``)."""
        with self._index_lock:
            return len(self._index)

    # -- locks and the index ----------------------------------------------------------------------------
    def _stripe(self, ns: str, key: str) -> threading.RLock:
        return self._stripes[hash((ns, key)) % self._STRIPES]

    @contextlib.contextmanager
    def _stripes_of(self, ns: str, keys: Sequence[str]) -> Iterator[None]:
        """Hold the stripes of ``keys``, taken in index order so that no two threads deadlock."""
        with contextlib.ExitStack() as stack:
            for index in sorted({hash((ns, key)) % self._STRIPES for key in keys}):
                stack.enter_context(self._stripes[index])
            yield

    @contextlib.contextmanager
    def _all_stripes(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for lock in self._stripes:
                stack.enter_context(lock)
            yield

    def _cached(self, ns: str, key: str) -> bytes | None:
        """The front's bytes if the index says they are fresh; None means: ask the back store."""
        with self._index_lock:
            deadline = self._index.get((ns, key), END)
            if deadline is END:
                return None
            if deadline is not None and deadline <= monotonic():
                del self._index[(ns, key)]
                return None
        return self.front._get(ns, key)

    def _remember(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        """Put ``data`` in the front (caller holds the key's stripe); ``ttl`` is what is left in back."""
        if self.cache_ttl is not None:
            ttl = self.cache_ttl if ttl is None else min(ttl, self.cache_ttl)
        if ttl is not None and ttl <= 0:
            self._forget(ns, key)
            return
        self.front._set(ns, key, data, ttl if self._front_ttl else None)
        with self._index_lock:
            self._index[(ns, key)] = None if ttl is None else monotonic() + ttl
            evicted = list(self._evicted)
            self._evicted.clear()
        for old_ns, old_key in evicted:
            if (old_ns, old_key) != (ns, key):
                self.front._delete(old_ns, old_key)

    def _forget(self, ns: str, key: str) -> None:
        with self._index_lock:
            self._index.pop((ns, key), None)
        self.front._delete(ns, key)

    def _forget_prefix(self, ns: str, prefix: str) -> None:
        """Caller holds every stripe."""
        with self._index_lock:
            gone = [k for k in self._index if k[0] == ns and k[1].startswith(prefix)]
            for k in gone:
                del self._index[k]
        if gone:
            self.front._delete_many(ns, [key for _, key in gone])

    def invalidate(self) -> None:
        """Drop every cached entry (for example after other processes changed the back store)."""
        with self._all_stripes():
            with self._index_lock:
                cached = list(self._index)
                self._index.clear()
                self._evicted.clear()
            by_ns: dict[str, list[str]] = {}
            for ns, key in cached:
                by_ns.setdefault(ns, []).append(key)
            for ns, keys in by_ns.items():
                self.front._delete_many(ns, keys)

    # -- reads ------------------------------------------------------------------------------------------
    def _get(self, ns: str, key: str) -> bytes | None:
        data = self._cached(ns, key)
        if data is not None:
            return data
        with self._stripe(ns, key):
            data = self.inner._get(ns, key)
            if data is not None:
                left = self.inner._ttl(ns, key) if self._back_ttl else None
                if not isinstance(left, _Missing):
                    self._remember(ns, key, data, left)
            return data

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        found = [self._cached(ns, key) for key in keys]
        missing = [i for i, data in enumerate(found) if data is None]
        if not missing:
            return found
        wanted = [keys[i] for i in missing]
        if self._back_ttl:
            # Filling would need one ttl query per key, costing more than the cache saves: with a
            # TTL-capable back store, single gets fill the cache and batches only read through.
            fetched = self.inner._get_many(ns, wanted)
        else:
            with self._stripes_of(ns, wanted):
                fetched = self.inner._get_many(ns, wanted)
                for key, data in zip(wanted, fetched, strict=True):
                    if data is not None:
                        self._remember(ns, key, data, None)
        for i, data in zip(missing, fetched, strict=True):
            found[i] = data
        return found

    # -- writes: back first, then the front, under the key's stripe ----------------------------------
    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        with self._stripe(ns, key):
            try:
                self.inner._set(ns, key, data, ttl)
            except BaseException:
                self._forget(ns, key)
                raise
            self._remember(ns, key, data, ttl)

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        with self._stripes_of(ns, [key for key, _ in items]):
            try:
                self.inner._set_many(ns, items, ttl)
            except BaseException:
                for key, _ in items:
                    self._forget(ns, key)
                raise
            for key, data in items:
                self._remember(ns, key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        with self._stripe(ns, key):
            try:
                return self.inner._delete(ns, key)
            finally:
                self._forget(ns, key)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        with self._stripes_of(ns, keys):
            try:
                return self.inner._delete_many(ns, keys)
            finally:
                for key in keys:
                    self._forget(ns, key)

    def _clear(self, ns: str, prefix: str) -> int:
        with self._all_stripes():
            try:
                return self.inner._clear(ns, prefix)
            finally:
                self._forget_prefix(ns, prefix)

    def _drop_schema(self, ns: str) -> None:
        with self._all_stripes():
            try:
                self.inner._drop_schema(ns)
            finally:
                self._forget_prefix(ns, "")

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        with self._stripe(ns, key):
            try:
                replaced = self.inner._replace(ns, key, data, ttl)
            except BaseException:
                self._forget(ns, key)
                raise
            if replaced:
                self._remember(ns, key, data, ttl)
            else:
                self._forget(ns, key)
            return replaced

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        with self._stripe(ns, key):
            try:
                added = self.inner._add(ns, key, data, ttl)
            except BaseException:
                self._forget(ns, key)
                raise
            if added:
                self._remember(ns, key, data, ttl)
            return added

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        with self._stripe(ns, key):
            try:
                return self.inner._compare_and_set(ns, key, expected, data)
            finally:
                self._forget(ns, key)  # the expiry the back store kept is not known here

    def _incr(self, ns: str, key: str, amount: int) -> int:
        with self._stripe(ns, key):
            try:
                return self.inner._incr(ns, key, amount)
            finally:
                self._forget(ns, key)
