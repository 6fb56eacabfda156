"""Store wrappers: ``PrefixStore``, ``ReadOnlyStore``, ``CachedStore`` and ``FallbackStore``.

Each wrapper is itself a ``KeyValueStore`` (and passes the conformance suite): it implements the byte-level
primitives by calling the wrapped store's primitives, so the whole contract, records included, works
through it. A wrapper has no codec of its own: ``wrapper.codec`` *is* the wrapped store's codec, so bytes
pass through unchanged and a value written through a wrapper reads back equal from the wrapped store.

Wrappers are not registered backends (they declare no ``_backend_type``). They stack in code
(``ReadOnlyStore(PrefixStore(store, "tenant1/"))``) or from a URL given to ``polykv.connect``:
``"readonly+prefix:tenant1/+sqlite:///data.db"`` (see ``connect_stacked``).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from time import monotonic
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, unquote

from .capabilities import Capability
from .codecs import Codec
from .errors import BackendUnavailableError, InvalidArgumentError, InvalidURLError, ReadOnlyError
from .keys import validate_key
from .records import Condition
from .store import KeyValueStore, _Missing

if TYPE_CHECKING:
    from cachetools import LRUCache

__all__ = [
    "WRAPPER_NAMES",
    "CachedStore",
    "FallbackStore",
    "PrefixStore",
    "ReadOnlyStore",
    "StoreWrapper",
    "connect_stacked",
    "is_stacked_url",
]

T = TypeVar("T")

log = logging.getLogger("polykv.wrappers")

#: Capabilities a wrapper can pass through by delegating primitives (WATCH lives in polykv.ops and
#: dispatches on the store's class, so no wrapper claims it).
_DELEGABLE = frozenset({Capability.TTL, Capability.ADD, Capability.COMPARE_AND_SET, Capability.INCR, Capability.INDEX})

_END: Any = object()


def _check_store(store: object, owner: str, role: str) -> KeyValueStore:
    if not isinstance(store, KeyValueStore):
        raise InvalidArgumentError(f"{owner} wraps a KeyValueStore; {role} is a {type(store).__name__}")
    return store


def _close_iterator(iterator: Iterator[Any]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


class StoreWrapper(KeyValueStore):
    """A store that delegates every primitive to ``inner``; subclasses change what they need.

    ``owns=True`` makes ``close()`` close the wrapped store(s) too (stacks built from a URL own
    everything they opened); by default a wrapper leaves the store it was given open.
    """

    #: The name of the wrapper in stacked URLs and in ``backend_name`` (``"prefix+memory"``).
    wrapper_name: ClassVar[str] = "wrapper"

    def __init__(self, inner: KeyValueStore, *, owns: bool = False) -> None:
        # No super().__init__(): the codec is the wrapped store's (see the ``codec`` property).
        self.inner = _check_store(inner, type(self).__name__, "the wrapped store")
        self.owns = owns
        self._capabilities = frozenset(self._honoured(self.inner.capabilities))

    def _honoured(self, wrapped: frozenset[Capability]) -> frozenset[Capability]:
        """The capabilities this wrapper can really honour, given the wrapped store's."""
        return wrapped & _DELEGABLE

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        """Per instance: what this wrapper honours over the store it wraps."""
        return self._capabilities

    @property
    def codec(self) -> Codec:
        """The wrapped store's codec (a wrapper has none of its own; setting it sets the wrapped one's)."""
        return self.inner.codec

    @codec.setter
    def codec(self, codec: Codec) -> None:
        self.inner.codec = codec

    @property
    def backend_name(self) -> str:
        """``<wrapper>+<wrapped backend>``, as in the stacked URL syntax."""
        return f"{self.wrapper_name}+{self.inner.backend_name}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.inner!r}>"

    def close(self) -> None:
        """Close the wrapped store if this wrapper owns it; otherwise leave it open."""
        if self.owns:
            self.inner.close()

    # -- primitives: plain delegation ---------------------------------------------------------------
    def _get(self, ns: str, key: str) -> bytes | None:
        return self.inner._get(ns, key)

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self.inner._set(ns, key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        return self.inner._delete(ns, key)

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        return self.inner._scan(ns, prefix)

    def _schemas(self) -> Iterator[str]:
        return self.inner._schemas()

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        return self.inner._get_many(ns, keys)

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        self.inner._set_many(ns, items, ttl)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        return self.inner._delete_many(ns, keys)

    def _count(self, ns: str, prefix: str) -> int:
        return self.inner._count(ns, prefix)

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        return self.inner._scan_items(ns, prefix)

    def _clear(self, ns: str, prefix: str) -> int:
        return self.inner._clear(ns, prefix)

    def _drop_schema(self, ns: str) -> None:
        self.inner._drop_schema(ns)

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        return self.inner._filter(ns, conditions, indexes)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._replace(ns, key, data, ttl)

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._add(ns, key, data, ttl)

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        return self.inner._compare_and_set(ns, key, expected, data)

    def _incr(self, ns: str, key: str, amount: int) -> int:
        return self.inner._incr(ns, key, amount)

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        return self.inner._ttl(ns, key)


# == PrefixStore =====================================================================================
class PrefixStore(StoreWrapper):
    """A namespace inside a shared store: every key (KV and record keys) is stored as ``prefix + key``.

    Listing, counting, clearing and ``drop_schema`` see only this prefix's keys; other tenants' keys are
    untouched. Keys up to ``MAX_KEY_LENGTH`` are accepted as on any store, so the wrapped store receives
    keys up to ``len(prefix)`` characters longer.
    """

    wrapper_name = "prefix"

    def __init__(self, store: KeyValueStore, prefix: str, *, owns: bool = False) -> None:
        super().__init__(store, owns=owns)
        self.prefix = validate_key(prefix, "prefix")
        self._cut = len(self.prefix)

    def __repr__(self) -> str:
        return f"<PrefixStore prefix={self.prefix!r} of {self.inner!r}>"

    def _strip(self, keys: Iterator[str]) -> Iterator[str]:
        cut = self._cut
        try:
            for key in keys:
                yield key[cut:]
        finally:
            _close_iterator(keys)

    def _get(self, ns: str, key: str) -> bytes | None:
        return self.inner._get(ns, self.prefix + key)

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self.inner._set(ns, self.prefix + key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        return self.inner._delete(ns, self.prefix + key)

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        return self._strip(self.inner._scan(ns, self.prefix + prefix))

    def _schemas(self) -> Iterator[str]:
        for ns in self.inner._schemas():
            keys = self.inner._scan(ns, self.prefix)
            try:
                found = next(keys, _END) is not _END
            finally:
                _close_iterator(keys)
            if found:
                yield ns

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        p = self.prefix
        return self.inner._get_many(ns, [p + k for k in keys])

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        p = self.prefix
        self.inner._set_many(ns, [(p + k, d) for k, d in items], ttl)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        p = self.prefix
        return self.inner._delete_many(ns, [p + k for k in keys])

    def _count(self, ns: str, prefix: str) -> int:
        return self.inner._count(ns, self.prefix + prefix)

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        cut = self._cut
        items = self.inner._scan_items(ns, self.prefix + prefix)
        try:
            for key, data in items:
                yield key[cut:], data
        finally:
            _close_iterator(items)

    def _clear(self, ns: str, prefix: str) -> int:
        return self.inner._clear(ns, self.prefix + prefix)

    def _drop_schema(self, ns: str) -> None:
        self.inner._clear(ns, self.prefix)

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        p, cut = self.prefix, self._cut
        found = self.inner._filter(ns, conditions, indexes)
        try:
            for key, state in found:
                if key.startswith(p):
                    yield key[cut:], state
        finally:
            _close_iterator(found)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._replace(ns, self.prefix + key, data, ttl)

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._add(ns, self.prefix + key, data, ttl)

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        return self.inner._compare_and_set(ns, self.prefix + key, expected, data)

    def _incr(self, ns: str, key: str, amount: int) -> int:
        return self.inner._incr(ns, self.prefix + key, amount)

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        return self.inner._ttl(ns, self.prefix + key)


# == ReadOnlyStore ===================================================================================
class ReadOnlyStore(StoreWrapper):
    """Every read of the wrapped store; every write (KV, records, add/incr/CAS) raises ``ReadOnlyError``.

    It declares TTL (``ttl(key)`` is a read) and INDEX when the wrapped store does, never ADD, INCR or
    COMPARE_AND_SET: those are writes.
    """

    wrapper_name = "readonly"

    def _honoured(self, wrapped: frozenset[Capability]) -> frozenset[Capability]:
        return wrapped & {Capability.TTL, Capability.INDEX}

    def _refuse(self, ns: str = "", key: str | None = None, what: str = "write") -> ReadOnlyError:
        return ReadOnlyError(
            f"cannot {what}: the store is read-only", backend=self.backend_name, schema=ns or None, key=key
        )

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        raise self._refuse(ns, key)

    def _delete(self, ns: str, key: str) -> bool:
        raise self._refuse(ns, key, "delete")

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        raise self._refuse(ns)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        raise self._refuse(ns, what="delete")

    def _clear(self, ns: str, prefix: str) -> int:
        raise self._refuse(ns, what="clear")

    def _drop_schema(self, ns: str) -> None:
        raise self._refuse(ns, what="drop a schema")

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        raise self._refuse(ns, key)

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        raise self._refuse(ns, key)

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        raise self._refuse(ns, key)

    def _incr(self, ns: str, key: str, amount: int) -> int:
        raise self._refuse(ns, key)

    # Writes that would otherwise first check a capability or the current value.
    def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Refused: ``ReadOnlyError``."""
        raise self._refuse(key=self._key(key))

    def compare_and_set(self, key: str, expected: Any, new: Any) -> bool:
        """Refused: ``ReadOnlyError``."""
        raise self._refuse(key=self._key(key))

    def incr(self, key: str, amount: int = 1) -> int:
        """Refused: ``ReadOnlyError``."""
        raise self._refuse(key=self._key(key))

    def insert_record(self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None) -> None:
        """Refused: ``ReadOnlyError`` (whether or not the record exists)."""
        ns = self._schema(schema_name)
        raise self._refuse(ns, self._key(record_key, ns))


# == CachedStore =====================================================================================
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
        self.front = _check_store(front, "CachedStore", "front")
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
            deadline = self._index.get((ns, key), _END)
            if deadline is _END:
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


# == FallbackStore ===================================================================================
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
        self.secondary = _check_store(secondary, "FallbackStore", "secondary")
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
        honoured = wrapped & _DELEGABLE
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
            first = next(items, _END)
        except BackendUnavailableError as exc:
            self._fell_back(exc, what)
            yield from call(self.secondary)
            return
        if first is _END:
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


# == stacking from a URL =============================================================================
#: Wrapper names usable in front of a store URL, outermost first.
WRAPPER_NAMES = ("readonly", "prefix", "cached", "fallback")

_SEGMENT = re.compile(r"(readonly|prefix|cached|fallback)(?::([^+]*))?\+")


def is_stacked_url(url: object) -> bool:
    """Whether ``url`` starts with a wrapper segment such as ``readonly+`` or ``prefix:tenant1/+``."""
    return isinstance(url, str) and _SEGMENT.match(url) is not None


def _split_stack(url: str) -> tuple[list[tuple[str, str | None]], str]:
    segments: list[tuple[str, str | None]] = []
    position = 0
    while (match := _SEGMENT.match(url, position)) is not None:
        segments.append((match.group(1), match.group(2)))
        position = match.end()
    return segments, url[position:]


def _cached_options(arg: str | None) -> dict[str, str]:
    if not arg:
        return {}
    try:
        pairs = parse_qsl(arg, keep_blank_values=False, strict_parsing=True)
    except ValueError:
        raise InvalidURLError(
            "cached takes options as name=value pairs joined by '&' (front, max_items, ttl), "
            "e.g. cached:max_items=1000&ttl=30+redis://localhost/0"
        ) from None
    options = dict(pairs)
    unknown = sorted(set(options) - {"front", "max_items", "ttl"})
    if unknown:
        raise InvalidURLError(f"cached: unknown option(s) {', '.join(unknown)}; known: front, max_items, ttl")
    return options


def _wrap(name: str, arg: str | None, inner: KeyValueStore, opened: list[KeyValueStore]) -> KeyValueStore:
    """Apply one URL segment to ``inner``; stores opened on the way are appended to ``opened``."""
    from .urls import connect

    if name == "readonly":
        if arg:
            raise InvalidURLError("readonly takes no argument: write 'readonly+<url>'")
        return ReadOnlyStore(inner, owns=True)
    if name == "prefix":
        if not arg:
            raise InvalidURLError("prefix needs a prefix: write 'prefix:<prefix>+<url>' (a '+' in it as %2B)")
        return PrefixStore(inner, unquote(arg), owns=True)
    if name == "fallback":
        if not arg:
            raise InvalidURLError("fallback needs the secondary store's URL: 'fallback:<url>+<primary url>'")
        secondary = connect(unquote(arg))
        opened.append(secondary)
        return FallbackStore(inner, secondary, owns=True)
    options = _cached_options(arg)
    try:
        max_items = int(options.get("max_items", "1024"))
        ttl = float(options["ttl"]) if "ttl" in options else None
    except ValueError:
        raise InvalidURLError("cached: max_items must be an int and ttl a number of seconds") from None
    front = connect(options.get("front", "memory://"))
    opened.append(front)
    return CachedStore(front, inner, max_items=max_items, ttl=ttl, owns=True)


def connect_stacked(url: str, **options: Any) -> KeyValueStore:
    """Open ``<wrapper>+...+<store URL>``: the store URL with ``options``, then each wrapper, innermost first.

    Wrappers: ``readonly``, ``prefix:<prefix>``, ``cached[:front=<url>&max_items=<n>&ttl=<seconds>]``
    (front defaults to ``memory://``), ``fallback:<secondary URL>``. An argument ends at the next ``+``:
    write a ``+`` inside one as ``%2B`` (and ``&`` inside a cached option as ``%26``). The returned stack
    owns every store it opened: closing it closes them all.
    """
    from .urls import connect

    segments, base = _split_stack(url)
    if not segments:
        raise InvalidURLError(
            "a stacked store URL starts with a wrapper: readonly+, prefix:<p>+, cached+ or fallback:<url>+"
        )
    if not base:
        raise InvalidURLError(f"the stacked URL {'+'.join(n for n, _ in segments)}+... names no store URL")
    store = connect(base, **options)
    opened: list[KeyValueStore] = [store]
    try:
        for name, arg in reversed(segments):
            store = _wrap(name, arg, store, opened)
    except BaseException:
        for each in reversed(opened):
            with contextlib.suppress(Exception):
                each.close()
        raise
    return store
