"""Async twins of the wrappers: the same ``polykv.wrappers`` classes, around the stores async faces run.

``PrefixStore(store, "tenant1/")`` here takes an ``AsyncKeyValueStore`` and is one; its logic is the
synchronous wrapper's, run where the inner store runs (``polykv.aio.wrap`` does this for any wrapper:
``EncryptedStore``, ``CompressedStore``, ``TTLStore``, ``InstrumentedStore`` and a plugin's own included).
A wrapper over two stores (``CachedStore``, ``FallbackStore``) runs on the bridge when both are native, else
in the thread pool of the threaded one, where a native store awaits on the loop from that thread.
"""

from __future__ import annotations

from .. import wrappers
from .faces import wrap
from .store import AsyncKeyValueStore

__all__ = ["CachedStore", "FallbackStore", "PrefixStore", "ReadOnlyStore", "wrap"]


class _Twin(AsyncKeyValueStore):
    __slots__ = ()

    def _adopt(self, made: AsyncKeyValueStore) -> None:
        AsyncKeyValueStore.__init__(self, made._store, made.runner)


class PrefixStore(_Twin):
    """``polykv.wrappers.PrefixStore`` over an async store: every key and schema under ``prefix``."""

    __slots__ = ()

    def __init__(self, store: AsyncKeyValueStore, prefix: str, *, owns: bool = False) -> None:
        self._adopt(wrap(wrappers.PrefixStore, store, prefix, owns=owns))


class ReadOnlyStore(_Twin):
    """``polykv.wrappers.ReadOnlyStore`` over an async store: every write raises ``ReadOnlyError``."""

    __slots__ = ()

    def __init__(self, store: AsyncKeyValueStore, *, owns: bool = False) -> None:
        self._adopt(wrap(wrappers.ReadOnlyStore, store, owns=owns))


class CachedStore(_Twin):
    """``polykv.wrappers.CachedStore``: reads served from ``front`` (e.g. memory) in front of ``back``."""

    __slots__ = ()

    def __init__(
        self,
        front: AsyncKeyValueStore,
        back: AsyncKeyValueStore,
        *,
        max_items: int = 1024,
        ttl: float | None = None,
        owns: bool = False,
    ) -> None:
        self._adopt(wrap(wrappers.CachedStore, front, back, max_items=max_items, ttl=ttl, owns=owns))


class FallbackStore(_Twin):
    """``polykv.wrappers.FallbackStore``: reads fall back to ``secondary`` when ``primary`` fails."""

    __slots__ = ()

    def __init__(self, primary: AsyncKeyValueStore, secondary: AsyncKeyValueStore, *, owns: bool = False) -> None:
        self._adopt(wrap(wrappers.FallbackStore, primary, secondary, owns=owns))
