"""A dogpile.cache backend on any polykv store, declared in dogpile's ``dogpile.cache`` entry-point group.

With polykv installed (and ``dogpile.cache``, the ``polykv-core[dogpile]`` extra), no import is needed::

    region = make_region().configure("polykv", expiration_time=300, arguments={"url": "redis://host:6379/0"})

Arguments (anything else in ``arguments`` is ignored, as dogpile's own backends do):

``url``
    a polykv URL, opened with ``polykv.connect(url, codec="bytes", **store_options)``; or
``store``
    an open ``KeyValueStore`` whose codec stores bytes (``codec="bytes"``); the backend does not close it.
``store_options``
    a dict of keyword options for ``polykv.connect``.
``ttl``
    seconds after which the store itself drops a value (None: dogpile's ``expiration_time`` alone decides
    when to regenerate; the value stays until replaced).
``distributed_lock``
    True (the default on stores with ``Capability.LEASE``): ``get_mutex`` returns a lock on the store
    (``store.lock``), so one process in the whole deployment regenerates a key at a time. False: dogpile
    uses its own per-process ``threading`` lock.
``lock_timeout``
    seconds a regeneration lease lasts (30); a process that dies while regenerating frees the key then.
``lock_prefix``
    prefix of the mutex keys (``"_lock"``, as dogpile's Redis backend).
``codec``
    the polykv codec that serializes payloads (``"json"`` by default; ``"msgpack"``, or ``"pickle"`` only
    when you trust everyone who can write to the store). Never pickle by default: dogpile's own
    ``BytesBackend`` default is ``pickle``, which this backend replaces. A region's own ``serializer=`` and
    ``deserializer=`` still win over it.

dogpile stores each value as ``<json metadata>|<payload bytes>``; the store holds those bytes as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dogpile.cache.api import NO_VALUE, BytesBackend, CacheMutex, CantDeserializeException

from ..capabilities import Capability
from ..codecs import BytesCodec, Codec, get_codec
from ..errors import InvalidArgumentError, SerializationError, a_type_name
from ..locks import Lock
from ..store import KeyValueStore
from ..urls import connect

__all__ = ["PolykvBackend", "PolykvMutex"]


class PolykvMutex(CacheMutex):
    """dogpile's mutex for one key: a ``polykv.locks.Lock`` (a lease with an owner token) on the store."""

    def __init__(self, lock: Lock) -> None:
        self.lock = lock

    def acquire(self, wait: bool = True) -> bool:
        """Take the lock; with ``wait``, poll until it is free (or the lock's blocking timeout passes)."""
        return self.lock.acquire(blocking=wait)

    def release(self) -> None:
        """Give the lock up (``LockNotOwnedError`` if its lease expired meanwhile)."""
        self.lock.release()

    def locked(self) -> bool:
        """Whether anyone holds the lock."""
        return self.lock.locked()


class PolykvBackend(BytesBackend):
    """dogpile.cache's ``"polykv"`` backend: values in a polykv store, mutexes as polykv locks."""

    def __init__(self, arguments: Mapping[str, Any]) -> None:
        store = arguments.get("store")
        url = arguments.get("url")
        if (store is None) == (url is None):
            raise InvalidArgumentError("the polykv dogpile backend needs arguments={'url': ...} or {'store': ...}")
        if store is not None:
            if not isinstance(store, KeyValueStore):
                raise InvalidArgumentError(f"arguments['store'] must be a polykv store, got {type(store).__name__}")
            self.store: KeyValueStore = store
            self._owns = False
        else:
            self.store = connect(url, **{"codec": "bytes", **dict(arguments.get("store_options") or {})})
            self._owns = True
        if not isinstance(self.store.codec, BytesCodec):
            raise InvalidArgumentError(
                f"the polykv dogpile backend needs a store with codec='bytes', not {self.store.codec.name!r}",
                backend=self.store.backend_name,
            )
        ttl = arguments.get("ttl")
        self.ttl = self.store._check_ttl(ttl) if ttl else None
        leases = all(self.store.supports(c) for c in (Capability.ADD, Capability.TTL, Capability.LEASE))
        self.distributed_lock = bool(arguments.get("distributed_lock", leases))
        self.lock_timeout = float(arguments.get("lock_timeout") or 30.0)
        blocking = arguments.get("lock_blocking_timeout")
        self.lock_blocking_timeout = None if blocking is None else float(blocking)
        self.lock_prefix = str(arguments.get("lock_prefix") or "_lock")
        payloads: Codec = get_codec(arguments.get("codec") or "json")
        self.payload_codec = payloads
        backend = self.store.backend_name

        def serialize(value: Any) -> bytes:
            try:
                return payloads.encode(value)
            except Exception as exc:
                raise SerializationError(
                    f"the {payloads.name} codec cannot encode {a_type_name(value)}: {exc}", backend=backend
                ) from None

        self.serializer = serialize

        def deserialize(data: bytes) -> Any:
            try:
                return payloads.decode(data)
            except Exception as exc:  # dogpile then treats the value as absent and regenerates it
                raise CantDeserializeException(str(exc)) from exc

        self.deserializer = deserialize
        if self.distributed_lock:
            Lock(self.store, self.lock_prefix + "x", ttl=self.lock_timeout)  # NotSupportedError now, not later

    def __repr__(self) -> str:
        return f"<PolykvBackend store={self.store!r}>"

    def close(self) -> None:
        """Close the store if the backend opened it from a URL."""
        if self._owns:
            self.store.close()

    def has_lock_timeout(self) -> bool:
        """Whether mutexes expire by themselves (the distributed lock's lease does)."""
        return self.distributed_lock

    def get_mutex(self, key: str) -> PolykvMutex | None:
        """A store lock on ``lock_prefix + key``, or None (dogpile's in-process lock) without distributed_lock."""
        if not self.distributed_lock:
            return None
        return PolykvMutex(
            self.store.lock(self.lock_prefix + key, ttl=self.lock_timeout, blocking_timeout=self.lock_blocking_timeout)
        )

    def get_serialized(self, key: str) -> Any:
        """The stored bytes, or ``NO_VALUE``."""
        return self.store.get(key, NO_VALUE)

    def get_serialized_multi(self, keys: Iterable[str]) -> list[Any]:
        """The stored bytes of each key (``NO_VALUE`` where absent), in one batch where the store can."""
        keys = list(keys)
        if not keys:
            return []
        found = self.store.get_many(keys)
        return [found.get(key, NO_VALUE) for key in keys]

    def set_serialized(self, key: str, value: bytes) -> None:
        """Store ``value`` (bytes made by the region) under ``key``, with the backend's ``ttl``."""
        self.store.set(key, _bytes(value, key), ttl=self.ttl)

    def set_serialized_multi(self, mapping: Mapping[str, bytes]) -> None:
        """Store every pair in one batch where the store can."""
        if mapping:
            self.store.set_many({key: _bytes(value, key) for key, value in mapping.items()}, ttl=self.ttl)

    def delete(self, key: str) -> None:
        """Remove ``key`` (absent is not an error)."""
        self.store.delete(key)

    def delete_multi(self, keys: Iterable[str]) -> None:
        """Remove the keys."""
        keys = list(keys)
        if keys:
            self.store.delete_many(keys)


def _bytes(value: Any, key: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise SerializationError(f"dogpile handed the polykv backend {a_type_name(value)}, not bytes", key=key)
