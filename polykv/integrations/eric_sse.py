"""eric-sse's ``KvStorage`` over any polykv store: ``KvStorageAdapter(store)``.

eric-sse (``pip install "polykv-core[eric-sse]"``, eric-sse 2.1 or later 2.x) keeps channels and connections
through a ``KvStorage``: ``upsert(key, value)``, ``fetch_one(key)``, ``fetch_by_prefix(prefix)`` and
``fetch_all()`` (both yielding *values*), ``delete(key)``. ``KvStorageAdapter`` is a real ``KvStorage``
subclass, so eric-sse's repositories (``SSEChannelRepository``, ``ConnectionRepository``) accept it, and
it keeps the data in the polykv store it is given: memory, sqlite, Redis, S3, any backend.

Values go through the store's codec (JSON by default, which holds the dicts eric-sse's repositories
write). Prefixes match literally on every backend. A repository lists everything in its storage
(``fetch_all``), so give each repository its own storage: a store of its own or a ``PrefixStore`` over a
shared one. Importing this module imports eric-sse; a missing eric-sse raises ``MissingDependencyError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import InvalidArgumentError, KeyNotFoundError, MissingDependencyError, a_type_name
from ..store import KeyValueStore

try:
    from eric_sse.exception import ItemNotFound  # type: ignore[import-untyped]
    from eric_sse.repository import KvStorage  # type: ignore[import-untyped]
except ImportError as exc:
    raise MissingDependencyError(
        f"polykv.integrations.eric_sse needs the 'eric_sse' package, which is not installed "
        f'({type(exc).__name__}: {exc}); install it with: pip install "polykv-core[eric-sse]"'
    ) from exc

__all__ = ["ItemNotFoundError", "KvStorageAdapter"]


class ItemNotFoundError(ItemNotFound, KeyNotFoundError):  # type: ignore[misc]  # eric-sse ships no types
    """``fetch_one`` found no value: eric-sse's ``ItemNotFound`` (which its repositories catch) and polykv's
    ``KeyNotFoundError`` (a ``KeyError``) at once, naming the backend and the key."""

    def __init__(
        self, message: str, *, backend: str | None = None, schema: str | None = None, key: str | None = None
    ) -> None:
        KeyNotFoundError.__init__(self, message, backend=backend, schema=schema, key=key)


class KvStorageAdapter(KvStorage):  # type: ignore[misc]  # eric-sse ships no types
    """An eric-sse ``KvStorage`` whose data lives in ``store`` (any ``KeyValueStore``; not closed by the adapter).

    Two adapters over the same data (the same store, or two stores opened on the same file or server) see
    the same items. Keys follow polykv's rules (a non-empty ``str`` of at most 1024 characters; anything
    else raises ``InvalidKeyError``); values must be ones the store's codec accepts (``SerializationError``
    otherwise, raised before anything is written). Backend errors are polykv errors.
    """

    def __init__(self, store: KeyValueStore) -> None:
        if not isinstance(store, KeyValueStore):
            raise InvalidArgumentError(f"KvStorageAdapter wraps a polykv KeyValueStore, got {a_type_name(store)}")
        self.store = store

    def __repr__(self) -> str:
        return f"<KvStorageAdapter of {self.store!r}>"

    def upsert(self, key: str, value: Any) -> None:
        """Insert ``value`` under ``key`` or replace what is there."""
        self.store.set(key, value)

    def fetch_one(self, key: str) -> Any:
        """The value under ``key``; ``ItemNotFoundError`` (an eric-sse ``ItemNotFound``) when there is none."""
        try:
            return self.store[key]
        except KeyNotFoundError:
            raise ItemNotFoundError(
                "eric-sse storage has no item under this key", backend=self.store.backend_name, key=key
            ) from None

    def fetch_by_prefix(self, prefix: str) -> Iterator[Any]:
        """Stream the values whose keys start with the literal ``prefix`` (read in batches)."""
        for _key, value in self.store.fetch_by_prefix(prefix):
            yield value

    def fetch_all(self) -> Iterator[Any]:
        """Stream every value of the store's key-value surface (records are not included)."""
        return self.fetch_by_prefix("")

    def delete(self, key: str) -> None:
        """Remove ``key``; an absent key is not an error (eric-sse's contract)."""
        self.store.delete(key)
