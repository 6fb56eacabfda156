"""``memory``: a thread-safe store in one process's memory, one dict per instance, every capability."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..capabilities import Capability
from ..errors import InvalidArgumentError
from ..store import MISSING, KeyValueStore, _Missing

__all__ = ["MemoryStore"]


class MemoryStore(KeyValueStore):
    """Keeps encoded values (so a stored value is a copy) in a dict per namespace; nothing persists."""

    _backend_type = "memory"
    url_schemes = ("memory",)
    capabilities = frozenset({Capability.TTL, Capability.ADD, Capability.COMPARE_AND_SET, Capability.INCR})

    def __init__(self, *, codec: Any = "json") -> None:
        super().__init__(codec=codec)
        self._data: dict[str, dict[str, bytes]] = {"": {}}
        self._expires: dict[tuple[str, str], float] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MemoryStore:
        """``memory://`` (any path is ignored: every call makes a new, empty store)."""
        return cls(**options)

    # -- expiry -----------------------------------------------------------------------------------
    def _expired(self, ns: str, key: str) -> bool:
        deadline = self._expires.get((ns, key))
        if deadline is None or deadline > time.monotonic():
            return False
        with self._lock:
            deadline = self._expires.get((ns, key))
            if deadline is not None and deadline <= time.monotonic():
                del self._expires[(ns, key)]
                self._data.get(ns, {}).pop(key, None)
                return True
        return False

    def _live(self, ns: str, key: str) -> bytes | None:
        """Caller holds the lock."""
        data = self._data.get(ns, {}).get(key)
        if data is not None and self._expires and self._expired(ns, key):
            return None
        return data

    def _put(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        """Caller holds the lock."""
        bucket = self._data.get(ns)
        if bucket is None:
            bucket = self._data[ns] = {}
        bucket[key] = data
        if ttl is not None:
            self._expires[(ns, key)] = time.monotonic() + ttl
        elif self._expires:
            self._expires.pop((ns, key), None)

    # -- primitives -------------------------------------------------------------------------------
    def _get(self, ns: str, key: str) -> bytes | None:
        bucket = self._data.get(ns)
        if bucket is None:
            return None
        data = bucket.get(key)
        if data is not None and self._expires and self._expired(ns, key):
            return None
        return data

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        with self._lock:
            self._put(ns, key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        with self._lock:
            live = self._live(ns, key) is not None
            self._data.get(ns, {}).pop(key, None)
            self._expires.pop((ns, key), None)
            if ns and ns in self._data and not self._data[ns]:
                del self._data[ns]
            return live

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        with self._lock:
            snapshot = [k for k in self._data.get(ns, {}) if k.startswith(prefix)]
        for key in snapshot:
            if not (self._expires and self._expired(ns, key)) and key in self._data.get(ns, {}):
                yield key

    def _schemas(self) -> Iterator[str]:
        with self._lock:
            names = [ns for ns, bucket in self._data.items() if ns and bucket]
        for ns in names:
            if any(True for _ in self._scan(ns, "")):
                yield ns

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        get = self._get
        return [get(ns, key) for key in keys]

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        with self._lock:
            for key, data in items:
                self._put(ns, key, data, ttl)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        with self._lock:
            if self._live(ns, key) is None:
                return False
            self._put(ns, key, data, ttl)
            return True

    def _drop_schema(self, ns: str) -> None:
        with self._lock:
            self._data.pop(ns, None)
            for expiring in [k for k in self._expires if k[0] == ns]:
                del self._expires[expiring]

    # -- capabilities -----------------------------------------------------------------------------
    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        with self._lock:
            if self._live(ns, key) is not None:
                return False
            self._put(ns, key, data, ttl)
            return True

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        with self._lock:
            current = self._live(ns, key)
            if current is None or self._decode(current, ns, key) != expected:
                return False
            deadline = self._expires.get((ns, key))
            self._put(ns, key, data, None)
            if deadline is not None:
                self._expires[(ns, key)] = deadline
            return True

    def _incr(self, ns: str, key: str, amount: int) -> int:
        with self._lock:
            current = self._live(ns, key)
            value = 0 if current is None else self._decode(current, ns, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidArgumentError(
                    f"cannot increment a {type(value).__name__}", backend=self.backend_name, key=key
                )
            value += amount
            deadline = self._expires.get((ns, key))
            self._put(ns, key, self._encode(value, ns, key), None)
            if deadline is not None:
                self._expires[(ns, key)] = deadline
            return value

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        with self._lock:
            if self._live(ns, key) is None:
                return MISSING
            deadline = self._expires.get((ns, key))
            if deadline is None:
                return None
            return max(0.0, deadline - time.monotonic())

    def close(self) -> None:
        """Nothing to release; the data stays readable."""
