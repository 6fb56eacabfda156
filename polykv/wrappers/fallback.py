"""``FallbackStore``: reads from a secondary store when the primary raises ``BackendUnavailableError``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..capabilities import Capability
from ..codecs import Codec
from ..errors import BackendUnavailableError, InvalidArgumentError
from ..records import Condition
from ..store import KeyValueStore, _Missing
from .base import DELEGABLE, END, StoreWrapper, check_store

__all__ = ["FallbackStore"]

T = TypeVar("T")

log = logging.getLogger("polykv.wrappers")  # the logger name the wrappers have always used


class FallbackStore(StoreWrapper):
    """Reads from ``primary``; when it raises ``BackendUnavailableError``, reads from ``secondary``.

    Writes go to the primary only and are never dropped: a write that cannot reach the primary raises its
    ``BackendUnavailableError``. Keeping the secondary up to date (a replica, a periodic copy) is the
    deployment's job. A stream (``keys()``, ``fetch_by_prefix``...) falls back only if the primary fails
    before its first item; a failure mid-stream propagates rather than mixing two stores' answers. Both
    stores must use codecs of the same name; the primary's codec is the wrapper's.
    """

    wrapper_name = "fallback"

    def __init__(self, primary: KeyValueStore, secondary: KeyValueStore, *, owns: bool = False) -> None:
        self.secondary = check_store(secondary, "FallbackStore", "secondary")
        super().__init__(primary, owns=owns)
        if primary is secondary:
            raise InvalidArgumentError("FallbackStore needs two different stores")
        if primary.codec.name != secondary.codec.name:
            raise InvalidArgumentError(
                f"FallbackStore needs one codec on both stores; primary uses {primary.codec.name!r}, "
                f"secondary {secondary.codec.name!r}"
            )
        #: How many reads the secondary answered (for monitoring).
        self.fallbacks = 0
        self._count_lock = threading.Lock()

    def _honoured(self, wrapped: frozenset[Capability]) -> frozenset[Capability]:
        honoured = wrapped & DELEGABLE
        if Capability.INDEX not in self.secondary.capabilities:
            honoured -= {Capability.INDEX}
        return honoured

    @property
    def primary(self) -> KeyValueStore:
        """The store every write goes to (the wrapped store)."""
        return self.inner

    @property
    def codec(self) -> Codec:
        """The primary's codec; setting it sets both stores' codecs."""
        return self.inner.codec

    @codec.setter
    def codec(self, codec: Codec) -> None:
        self.inner.codec = codec
        self.secondary.codec = codec

    def __repr__(self) -> str:
        return f"<FallbackStore primary={self.inner!r} secondary={self.secondary!r}>"

    def close(self) -> None:
        """Close both stores if this wrapper owns them."""
        if self.owns:
            try:
                self.inner.close()
            finally:
                self.secondary.close()

    def _fell_back(self, exc: BackendUnavailableError, what: str) -> None:
        with self._count_lock:
            self.fallbacks += 1
        log.warning(
            "%s: primary %s unavailable (%s); reading from secondary %s",
            what,
            self.inner.backend_name,
            type(exc).__name__,
            self.secondary.backend_name,
        )

    def _read(self, what: str, call: Callable[[KeyValueStore], T]) -> T:
        try:
            return call(self.inner)
        except BackendUnavailableError as exc:
            self._fell_back(exc, what)
        return call(self.secondary)

    def _stream(self, what: str, call: Callable[[KeyValueStore], Iterator[T]]) -> Iterator[T]:
        try:
            items = call(self.inner)
            first = next(items, END)
        except BackendUnavailableError as exc:
            self._fell_back(exc, what)
            yield from call(self.secondary)
            return
        if first is END:
            return
        yield first
        yield from items

    def _get(self, ns: str, key: str) -> bytes | None:
        return self._read("get", lambda s: s._get(ns, key))

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        return self._read("get_many", lambda s: s._get_many(ns, keys))

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        return self._stream("scan", lambda s: s._scan(ns, prefix))

    def _schemas(self) -> Iterator[str]:
        return self._stream("list_schemas", lambda s: s._schemas())

    def _count(self, ns: str, prefix: str) -> int:
        return self._read("count", lambda s: s._count(ns, prefix))

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        return self._stream("scan", lambda s: s._scan_items(ns, prefix))

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        return self._stream("filter_record", lambda s: s._filter(ns, conditions, indexes))

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        try:
            return self.inner._ttl(ns, key)
        except BackendUnavailableError as exc:
            if Capability.TTL not in self.secondary.capabilities:
                raise
            self._fell_back(exc, "ttl")
        return self.secondary._ttl(ns, key)
