"""A complete polykv store in 40 lines: the example the plugin-author guide walks through.

It keeps bytes in one dict per namespace. It declares no capabilities, so the conformance suite skips
the TTL, add, compare-and-set and increment tests and runs every other one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from polykv.store import KeyValueStore


class DictStore(KeyValueStore):
    """Values in ``{namespace: {key: bytes}}``; namespace ``""`` is the KV surface, others are schemas."""

    _backend_type = "dict_example"  # the registry name; the entry point must use the same name
    url_schemes = ("dictexample",)  # polykv.connect("dictexample://") opens one

    def __init__(self, *, codec: Any = "json") -> None:
        super().__init__(codec=codec)
        self._data: dict[str, dict[str, bytes]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> DictStore:
        """``dictexample://``: a new, empty store."""
        return cls(**options)

    def _get(self, ns: str, key: str) -> bytes | None:
        return self._data.get(ns, {}).get(key)

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        with self._lock:  # ttl is always None here: the TTL capability is not declared
            self._data.setdefault(ns, {})[key] = data

    def _delete(self, ns: str, key: str) -> bool:
        with self._lock:
            bucket = self._data.get(ns, {})
            found = bucket.pop(key, None) is not None
            if ns and not bucket:
                self._data.pop(ns, None)
            return found

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        with self._lock:  # snapshot the keys, so writers may change the store while we stream
            keys = [k for k in self._data.get(ns, {}) if k.startswith(prefix)]
        yield from keys

    def _schemas(self) -> Iterator[str]:
        with self._lock:
            names = [ns for ns, bucket in self._data.items() if ns and bucket]
        yield from names
