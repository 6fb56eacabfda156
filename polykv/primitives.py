"""What a backend implements: the byte-level primitives under every polykv store, in one class.

``KeyValueStore`` writes the public surface (KV methods, ``MutableMapping``, records) once, on top of
the methods of :class:`StorePrimitives`; a backend author overrides those and nothing else. Every
primitive works in a *namespace* (``""`` for the plain KV pairs, a schema name for records) and receives
keys already validated and values already encoded. Required: ``_get``, ``_set``, ``_delete``, ``_scan``,
``_schemas``; the batch primitives have portable defaults (override them where the backend is faster);
the capability primitives raise ``NotSupportedError`` until a backend declares the capability and
implements them atomically. The helpers a backend may *call* (``_encode``, ``_decode``, ``_incremented``,
``_check_ttl``) are ``KeyValueStore``'s, listed in the plugin-author guide.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .capabilities import Capability
from .errors import NotSupportedError
from .records import Condition, matches_all

if TYPE_CHECKING:
    from .changes import RawChange
    from .codecs import Codec

__all__ = ["DEFAULT_BATCH_SIZE", "MISSING", "PRIMITIVES", "REQUIRED_PRIMITIVES", "StorePrimitives"]

T = TypeVar("T")

#: Batch size used by the portable implementations of scans, clears and copies.
DEFAULT_BATCH_SIZE = 500


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: Sentinel for "no default given", and what ``_ttl`` returns for an absent key.
MISSING = _Missing()


def _unsupported(store: StorePrimitives, capability: Capability) -> NotSupportedError:
    name = store._backend_type or type(store).__name__
    return NotSupportedError(
        f"the {name!r} store does not support {capability}", capability=str(capability), backend=name
    )


class StorePrimitives(ABC):
    """The declarations and primitives a backend writes; ``KeyValueStore`` builds everything else on them."""

    #: Registry key; only a value written in a class's own body registers that class.
    _backend_type: ClassVar[str | None] = None
    #: URL schemes this store serves through ``polykv.connect`` (e.g. ``("sqlite",)``).
    url_schemes: ClassVar[tuple[str, ...]] = ()
    #: Capabilities beyond the contract; see ``polykv.Capability``.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: How ``polykv.aio`` serves this store: ``None`` runs its blocking methods in a bounded thread pool;
    #: ``"module:Class"`` names a subclass whose I/O awaits natively through ``polykv.aio.bridge.await_``
    #: (imported only by ``polykv.aio``). One declaration per backend gives both faces.
    async_face: ClassVar[str | None] = None
    #: Whether ``_get`` and ``_get_many`` return exact ``bytes`` objects only (never a bytearray or
    #: memoryview, str or int, even for data another program wrote): the ``bytes`` codec then hands them
    #: out without a type check per value.
    exact_bytes: ClassVar[bool] = False
    #: Whether ``_get_present`` is the backend's own (one query answering a dict), so that ``get_many``
    #: calls it instead of ``_get_many``: no list aligned with the keys is built when nothing is absent.
    gets_present: ClassVar[bool] = False
    #: The value codec (set by ``KeyValueStore.__init__``).
    codec: Codec

    if TYPE_CHECKING:  # provided by KeyValueStore; the portable _filter decodes with it

        def _decode(self, data: bytes, ns: str, key: str) -> Any: ...

    # -- required -----------------------------------------------------------------------------------
    @abstractmethod
    def _get(self, ns: str, key: str) -> bytes | None:
        """The stored bytes, or None when absent (or expired)."""

    @abstractmethod
    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        """Store ``data``; ``ttl`` is None (no expiry, clearing any earlier one) or seconds > 0."""

    @abstractmethod
    def _delete(self, ns: str, key: str) -> bool:
        """Remove the key; return whether it was there."""

    @abstractmethod
    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        """Stream the keys that start with the literal ``prefix``, without loading them all at once."""

    @abstractmethod
    def _schemas(self) -> Iterator[str]:
        """The record namespaces (never ``""``) that hold at least one record."""

    # -- batch primitives: portable defaults ---------------------------------------------------
    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        """The stored bytes of each key, in order (None where absent); default: one ``_get`` each."""
        return [self._get(ns, key) for key in keys]

    def _get_present(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored bytes of the keys that are present, by key, in any order (a backend that sets
        ``gets_present`` answers this with one query); default: from ``_get_many``."""
        return {key: data for key, data in zip(keys, self._get_many(ns, keys), strict=True) if data is not None}

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        """Store every ``(key, data)`` pair with one ``ttl``; default: one ``_set`` each."""
        for key, data in items:
            self._set(ns, key, data, ttl)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        """Remove the keys; return how many were there. Default: one ``_delete`` each."""
        return sum(1 for key in keys if self._delete(ns, key))

    def _count(self, ns: str, prefix: str) -> int:
        """How many keys start with ``prefix``; default: counts a ``_scan``."""
        return sum(1 for _ in self._scan(ns, prefix))

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        """Stream ``(key, data)`` of the keys under ``prefix``; default: ``_scan`` plus ``_get_many`` batches."""
        keys = self._scan(ns, prefix)
        while batch := list(islice(keys, DEFAULT_BATCH_SIZE)):
            for key, data in zip(batch, self._get_many(ns, batch), strict=True):
                if data is not None:
                    yield key, data

    def _clear(self, ns: str, prefix: str) -> int:
        """Remove every key under ``prefix``; return how many. Default: ``_scan`` plus ``_delete_many``."""
        removed = 0
        while batch := list(islice(self._scan(ns, prefix), DEFAULT_BATCH_SIZE)):
            deleted = self._delete_many(ns, batch)
            removed += deleted
            if deleted == 0:
                break
        return removed

    def _drop_schema(self, ns: str) -> None:
        """Remove a record namespace and whatever the backend keeps for it (indexes, tables)."""
        self._clear(ns, "")

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(key, state)`` of matching records; the default decodes and tests every record."""
        for key, data in self._scan_items(ns, ""):
            state = self._decode(data, ns, key)
            if not isinstance(state, dict) or matches_all(state, conditions):  # the store refuses a non-record
                yield key, state

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        """Overwrite only an existing key; return whether it existed. Backends make this atomic."""
        if self._get(ns, key) is None:
            return False
        self._set(ns, key, data, ttl)
        return True

    # -- capability primitives -----------------------------------------------------------------
    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        """Atomically store ``data`` only if the key is absent; return whether it was stored."""
        raise _unsupported(self, Capability.ADD)

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        """Atomically store ``data`` if the current decoded value equals ``expected``."""
        raise _unsupported(self, Capability.COMPARE_AND_SET)

    def _incr(self, ns: str, key: str, amount: int) -> int:
        """Atomically add ``amount`` to the integer under ``key`` (absent counts as 0)."""
        raise _unsupported(self, Capability.INCR)

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        """Seconds left before ``key`` expires, None without expiry, MISSING when absent."""
        raise _unsupported(self, Capability.TTL)

    # -- change feed primitives (the WATCH capability; see polykv.changes) -------------------------
    def _change_head(self) -> str:
        """The cursor of the latest change in the store's change log (``changes.BEGINNING`` if none)."""
        raise _unsupported(self, Capability.WATCH)

    def _changes(self, since: str, limit: int, wait: float) -> list[RawChange]:
        """Up to ``limit`` changes after cursor ``since``, oldest first; may block ``wait`` s for one."""
        raise _unsupported(self, Capability.WATCH)

    # -- lease primitives (the LEASE capability: polykv.locks, polykv.caching) -----------------------
    def _delete_if(self, ns: str, key: str, expected: bytes) -> bool:
        """Atomically delete ``key`` only while it is live and holds exactly the bytes ``expected``; return
        whether it was deleted (``Capability.LEASE``: an owner-checked release)."""
        raise _unsupported(self, Capability.LEASE)

    def _expire_if(self, ns: str, key: str, expected: bytes, ttl: float) -> bool:
        """Atomically make ``key`` expire ``ttl`` seconds from now only while it is live and holds exactly
        ``expected``; return whether it did (``Capability.LEASE``: an owner-checked extension)."""
        raise _unsupported(self, Capability.LEASE)

    def _indexes_declared(self, ns: str, fields: tuple[str, ...]) -> None:
        """A record written to ``ns`` declares ``__indexes__`` ``fields``: a backend that keeps indexes
        of its own learns them here (called before the record is encoded). Default: nothing to do."""
        return None

    # -- lifecycle ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Release connections and files; the portable default has nothing to release."""
        return None

    @classmethod
    def from_url(cls: type[T], url: str, **options: Any) -> T:
        """Build the store from a URL of one of its ``url_schemes``; stores that take URLs override it."""
        raise NotSupportedError(f"{cls.__name__} cannot be opened from a URL", capability="from_url")


#: Every method a backend may override, in the order above.
PRIMITIVES: tuple[str, ...] = tuple(
    name
    for name, value in vars(StorePrimitives).items()
    if callable(value) or isinstance(value, classmethod)
    if name not in ("_decode",)
)
#: The primitives with no portable default.
REQUIRED_PRIMITIVES: tuple[str, ...] = ("_get", "_set", "_delete", "_scan", "_schemas")
