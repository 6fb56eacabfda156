"""``StoreManager``: one front door over many named stores, with a default backend and routing rules.

Every contract operation takes ``backend=``; without it the call is routed. Precedence, first match wins:

1. an explicit ``backend=`` argument;
2. a *schema route*: for a record operation, the route whose name equals the schema name;
3. a *key-prefix route*: for a key-value operation, the longest route name the key starts with;
4. the default backend.

Record keys are never prefix-routed: a schema's records stay together in one backend, so ``count``,
``filter_record`` and ``iter_records`` see all of them. Store errors pass through unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, KeysView, Mapping
from typing import Any, TypeVar

from .backend_registry import BackendRegistry
from .errors import BackendNotFoundError, InvalidArgumentError, PolyKVError
from .keys import validate_key
from .records import record_key_of, record_schema_of
from .store import KeyValueStore

__all__ = ["StoreManager"]

T = TypeVar("T")

#: How many routed keys the manager remembers before it starts over.
_ROUTE_CACHE_SIZE = 4096


class StoreManager:
    """Address many stores by name: ``mgr.get(key, backend="redis")``, or let routes pick the store.

    ``stores`` is any ``Mapping[str, KeyValueStore]``:

    * a ``BackendRegistry``: stores are created lazily, when first addressed, and shared with everyone
      using that registry; the registry owns them (``registry.close()`` closes them), not the manager;
    * a ``dict`` built by hand: its store instances are the caller's; a value may also be a store URL
      (``"sqlite:///data.db"``), which the manager opens at once and owns;
    * omitted: the manager makes a private ``BackendRegistry(config)`` and owns it.

    ``close()`` (and leaving a ``with`` block) closes what the manager owns, the stores it opened from
    URLs and its private registry, and nothing else; afterwards every call raises ``PolyKVError``.
    ``default`` is the backend for unrouted calls (a dict of one store makes it the default);
    ``routes`` maps a schema name or key prefix to a backend name. The routing table is fixed at
    construction, so lookups need no lock; the manager is safe to share between threads.
    """

    def __init__(
        self,
        stores: Mapping[str, KeyValueStore | str] | None = None,
        default: str | None = None,
        routes: Mapping[str, str] | None = None,
        *,
        config: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._owned: list[KeyValueStore] = []
        self._owned_registry: BackendRegistry | None = None
        self._lock = threading.Lock()
        self._closed = False
        if config is not None and stores is not None:
            raise InvalidArgumentError("StoreManager takes config= only when it makes its own registry (stores=None)")
        if stores is None:
            self._owned_registry = BackendRegistry(config)
            self._stores: Mapping[str, KeyValueStore] = self._owned_registry
        elif isinstance(stores, BackendRegistry) or not isinstance(stores, dict):
            if not isinstance(stores, Mapping):
                raise InvalidArgumentError(f"StoreManager takes a Mapping of stores, got {type(stores).__name__}")
            self._stores = stores  # type: ignore[assignment]  # a registry or a mapping the caller keeps
        else:
            self._stores = self._open(stores)
        if default is None and type(self._stores) is dict and len(self._stores) == 1:
            default = next(iter(self._stores))
        self._routes: dict[str, str] = {}
        for name, target in (routes or {}).items():
            if not isinstance(name, str) or not name:
                raise InvalidArgumentError(f"a route name must be a non-empty str, got {name!r}")
            self._routes[name] = self._check_name(target, f"route {name!r}")
        self.default = None if default is None else self._check_name(default, "default")
        by_length: dict[int, dict[str, str]] = {}
        for name, target in self._routes.items():
            by_length.setdefault(len(name), {})[name] = target
        #: ``(length, {prefix: backend})``, longest first: a key is routed with one dict lookup per length.
        self._prefix_tables = tuple(sorted(by_length.items(), reverse=True))
        #: Recently routed keys -> backend name (bounded; cleared when full). Routes never change, so an
        #: entry never goes stale.
        self._key_cache: dict[str, str] = {}

    def _open(self, stores: Mapping[str, KeyValueStore | str]) -> dict[str, KeyValueStore]:
        from .urls import connect

        opened: dict[str, KeyValueStore] = {}
        try:
            for name, value in stores.items():
                if not isinstance(name, str) or not name:
                    raise InvalidArgumentError(f"store names must be non-empty str, got {name!r}")
                if isinstance(value, KeyValueStore):
                    opened[name] = value
                elif isinstance(value, str):
                    opened[name] = connect(value)
                    self._owned.append(opened[name])
                else:
                    raise InvalidArgumentError(
                        f"stores[{name!r}] must be a KeyValueStore or a store URL, got {type(value).__name__}",
                        backend=name,
                    )
        except BaseException:
            self._close_owned()
            raise
        return opened

    # -- names and lookup -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """The backend names this manager can address, sorted (a registry lists them without importing)."""
        return sorted(self._stores.keys())

    def _check_name(self, name: object, what: str) -> str:
        if not isinstance(name, str) or name not in self._stores:
            raise self._not_found(name, f" ({what})")
        return name

    def _not_found(self, name: object, where: str = "") -> PolyKVError:
        if self._closed:
            return PolyKVError("the StoreManager is closed")
        return BackendNotFoundError(
            f"no backend named {name!r}{where} in this StoreManager (it holds: {', '.join(self.names()) or 'none'})",
            backend=name if isinstance(name, str) else repr(name),
        )

    def store(self, name: str) -> KeyValueStore:
        """The store named ``name`` (a registry creates it on first use)."""
        try:
            return self._stores[name]
        except BackendNotFoundError:
            if self._closed:
                raise self._not_found(name) from None
            raise
        except (KeyError, TypeError):
            raise self._not_found(name) from None

    __getitem__ = store

    def __contains__(self, name: object) -> bool:
        return not self._closed and isinstance(name, str) and name in self._stores

    def _no_route(self, what: str) -> PolyKVError:
        if self._closed:
            return self._not_found(None)
        return InvalidArgumentError(
            f"no backend= given, no route matches {what} and this StoreManager has no default backend "
            f"(it holds: {', '.join(self.names()) or 'none'})"
        )

    # -- routing ----------------------------------------------------------------------------------------
    def route(self, key: str | None = None, *, schema: str | None = None) -> str | None:
        """The backend name a call would use for ``key`` (KV) or ``schema`` (records); None if none."""
        if schema is not None:
            return self._routes.get(schema, self.default) if isinstance(schema, str) else self.default
        if isinstance(key, str):
            for length, table in self._prefix_tables:
                name = table.get(key[:length])
                if name is not None:
                    return name
        return self.default

    def _resolve_key(self, key: object) -> str:
        """Route ``key`` through the prefix tables (and remember the answer); raise if nothing applies."""
        if isinstance(key, str):
            for length, table in self._prefix_tables:
                name = table.get(key[:length])
                if name is not None:
                    break
            else:
                name = self.default
            if name is not None:
                cache = self._key_cache
                if len(cache) >= _ROUTE_CACHE_SIZE:
                    cache.clear()
                cache[key] = name
                return name
        elif self.default is not None:
            return self.default
        raise self._no_route(f"key {key!r}")

    def _for_key(self, key: object, backend: str | None) -> KeyValueStore:
        if backend is None:
            try:
                backend = self._key_cache.get(key)  # type: ignore[call-overload]
            except TypeError:  # an unhashable key: let the default store reject it
                backend = None
            if backend is None:
                backend = self._resolve_key(key)
        try:
            return self._stores[backend]
        except (KeyError, TypeError):
            return self.store(backend)

    def _for_schema(self, schema: object, backend: str | None) -> KeyValueStore:
        if backend is None:
            backend = self._routes.get(schema, self.default) if isinstance(schema, str) else self.default
            if backend is None:
                raise self._no_route(f"schema {schema!r}")
        try:
            return self._stores[backend]
        except (KeyError, TypeError):
            return self.store(backend)

    def _group(self, keys: Iterable[str], backend: str | None) -> dict[str, list[str]]:
        """Keys by the backend they route to; every key is validated first, so nothing is half-done."""
        groups: dict[str, list[str]] = {}
        for key in keys:
            name = backend or self.route(key)
            if name is None:
                raise self._no_route(f"key {key!r}")
            groups.setdefault(name, []).append(validate_key(key, name))
        return groups

    # == KV operations =============================================================================
    def get(self, key: str, default: Any = None, *, backend: str | None = None) -> Any:
        """``store.get`` on the routed store."""
        return self._for_key(key, backend).get(key, default)

    def set(self, key: str, value: Any, ttl: float | None = None, *, backend: str | None = None) -> None:
        """``store.set`` on the routed store."""
        self._for_key(key, backend).set(key, value, ttl)

    def upsert(self, key: str, value: Any, *, backend: str | None = None) -> None:
        """``store.upsert`` on the routed store."""
        self._for_key(key, backend).upsert(key, value)

    def delete(self, key: str, *, backend: str | None = None) -> bool:
        """``store.delete`` on the routed store."""
        return self._for_key(key, backend).delete(key)

    def add(self, key: str, value: Any, ttl: float | None = None, *, backend: str | None = None) -> bool:
        """``store.add`` on the routed store."""
        return self._for_key(key, backend).add(key, value, ttl)

    def compare_and_set(self, key: str, expected: Any, new: Any, *, backend: str | None = None) -> bool:
        """``store.compare_and_set`` on the routed store."""
        return self._for_key(key, backend).compare_and_set(key, expected, new)

    def incr(self, key: str, amount: int = 1, *, backend: str | None = None) -> int:
        """``store.incr`` on the routed store."""
        return self._for_key(key, backend).incr(key, amount)

    def ttl(self, key: str, *, backend: str | None = None) -> float | None:
        """``store.ttl`` on the routed store."""
        return self._for_key(key, backend).ttl(key)

    def keys(self, *, backend: str | None = None) -> KeysView[str]:
        """``store.keys()`` (a set-like view) of ``backend``, or of the default backend when omitted."""
        return self._for_key("", backend).keys()

    def keys_by_prefix(self, prefix: str = "", *, backend: str | None = None) -> Iterator[str]:
        """``store.keys_by_prefix`` on the store ``prefix`` routes to (one store: a scan never spans backends)."""
        return self._for_key(prefix, backend).keys_by_prefix(prefix)

    def fetch_by_prefix(self, prefix: str = "", *, backend: str | None = None) -> Iterator[tuple[str, Any]]:
        """``store.fetch_by_prefix`` on the store ``prefix`` routes to."""
        return self._for_key(prefix, backend).fetch_by_prefix(prefix)

    def clear(self, prefix: str = "", *, backend: str | None = None) -> int:
        """``store.clear`` on the store ``prefix`` routes to."""
        return self._for_key(prefix, backend).clear(prefix)

    def get_many(self, keys: Iterable[str], *, backend: str | None = None) -> dict[str, Any]:
        """``store.get_many``, one batch per backend the keys route to; keys come back in the order given."""
        if backend is not None or not self._prefix_tables:
            return self._for_key(None, backend).get_many(keys)
        wanted = list(keys)
        found: dict[str, Any] = {}
        for name, group in self._group(wanted, None).items():
            found.update(self.store(name).get_many(group))
        return {key: found[key] for key in wanted if key in found}

    def set_many(
        self,
        mapping: Mapping[str, Any] | Iterable[tuple[str, Any]],
        ttl: float | None = None,
        *,
        backend: str | None = None,
    ) -> None:
        """``store.set_many``, one batch per backend (all keys are validated first; not atomic across
        backends)."""
        if backend is not None or not self._prefix_tables:
            self._for_key(None, backend).set_many(mapping, ttl)
            return
        pairs = list(mapping.items() if isinstance(mapping, Mapping) else mapping)
        values = dict(pairs)
        for name, group in self._group([k for k, _ in pairs], None).items():
            self.store(name).set_many([(k, values[k]) for k in group], ttl)

    def delete_many(self, keys: Iterable[str], *, backend: str | None = None) -> int:
        """``store.delete_many``, one batch per backend; returns how many keys existed."""
        if backend is not None or not self._prefix_tables:
            return self._for_key(None, backend).delete_many(keys)
        return sum(self.store(name).delete_many(group) for name, group in self._group(keys, None).items())

    def exists(
        self,
        key: str | None = None,
        record_key: str | None = None,
        *,
        schema_name: str | None = None,
        backend: str | None = None,
    ) -> bool:
        """``exists(key)`` (routed by key) or ``exists(schema_name, record_key)`` (routed by schema)."""
        if schema_name is None:
            if record_key is None:
                return self._for_key(key, backend).exists(key)
            return self._for_schema(key, backend).exists(key, record_key)
        return self._for_schema(schema_name, backend).exists(key, record_key, schema_name=schema_name)

    def count(self, schema_name: str | None = None, *, prefix: str = "", backend: str | None = None) -> int:
        """``count(schema_name)`` (routed by schema) or ``count(prefix=...)`` (routed by the prefix)."""
        if schema_name is None:
            return self._for_key(prefix, backend).count(prefix=prefix)
        return self._for_schema(schema_name, backend).count(schema_name, prefix=prefix)

    def supports(self, capability: Any, *, key: str | None = None, backend: str | None = None) -> bool:
        """Whether the store ``key`` (or ``backend=``, or the default) routes to declares ``capability``."""
        return self._for_key(key, backend).supports(capability)

    # == record operations (routed by schema) ====================================================
    def insert_record(
        self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None, backend: str | None = None
    ) -> None:
        """``store.insert_record`` on the store the schema routes to."""
        self._for_schema(schema_name, backend).insert_record(schema_name, record_key, record, ttl=ttl)

    def update_record(
        self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None, backend: str | None = None
    ) -> None:
        """``store.update_record`` on the store the schema routes to."""
        self._for_schema(schema_name, backend).update_record(schema_name, record_key, record, ttl=ttl)

    def upsert_record(
        self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None, backend: str | None = None
    ) -> None:
        """``store.upsert_record`` on the store the schema routes to."""
        self._for_schema(schema_name, backend).upsert_record(schema_name, record_key, record, ttl=ttl)

    def delete_record(self, schema_name: str, record_key: str, *, backend: str | None = None) -> bool:
        """``store.delete_record`` on the store the schema routes to."""
        return self._for_schema(schema_name, backend).delete_record(schema_name, record_key)

    def get_record(self, schema_name: str, klass: type[T], record_key: str, *, backend: str | None = None) -> T:
        """``store.get_record`` on the store the schema routes to."""
        return self._for_schema(schema_name, backend).get_record(schema_name, klass, record_key)

    def reload_record(
        self, schema_name: str, record: Any, *, record_key: str | None = None, backend: str | None = None
    ) -> None:
        """``store.reload_record`` on the store the schema routes to."""
        self._for_schema(schema_name, backend).reload_record(schema_name, record, record_key=record_key)

    def filter_record(
        self, schema_name: str, record_klass: type[T], *, backend: str | None = None, **filter_kwargs: Any
    ) -> list[T]:
        """``store.filter_record`` on the store the schema routes to (a field named ``backend`` cannot be
        filtered through the manager: call it on ``mgr.store(name)``)."""
        return self._for_schema(schema_name, backend).filter_record(schema_name, record_klass, **filter_kwargs)

    def iter_records(
        self, schema_name: str, record_klass: type[T], *, backend: str | None = None
    ) -> Iterator[tuple[str, T]]:
        """``store.iter_records`` on the store the schema routes to."""
        return self._for_schema(schema_name, backend).iter_records(schema_name, record_klass)

    def record_keys(self, schema_name: str, prefix: str = "", *, backend: str | None = None) -> Iterator[str]:
        """``store.record_keys`` on the store the schema routes to."""
        return self._for_schema(schema_name, backend).record_keys(schema_name, prefix)

    def drop_schema(self, schema_name: str, *, backend: str | None = None) -> None:
        """``store.drop_schema`` on the store the schema routes to."""
        self._for_schema(schema_name, backend).drop_schema(schema_name)

    def list_schemas(self, *, backend: str | None = None) -> list[str]:
        """``store.list_schemas`` of ``backend`` (the default backend when omitted)."""
        return self._for_schema(None, backend).list_schemas()

    def save(self, record: Any, schema_name: str | None = None, *, backend: str | None = None) -> None:
        """``store.save``: upsert a record whose schema comes from its class, on the store it routes to."""
        schema = schema_name or record_schema_of(record)
        record_key_of(record)  # fail early, naming the record, before any store is touched
        self._for_schema(schema, backend).save(record, schema)

    # == lifecycle =================================================================================
    def _close_owned(self) -> None:
        errors: list[BaseException] = []
        for store in reversed(self._owned):
            try:
                store.close()
            except Exception as exc:  # close the rest, then report the first failure
                errors.append(exc)
        self._owned.clear()
        if self._owned_registry is not None:
            try:
                self._owned_registry.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Close what this manager owns (stores it opened from URLs, its private registry); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stores = {}
        self._close_owned()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def __enter__(self) -> StoreManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"backends={self.names()!r}"
        return f"<StoreManager {state} default={self.default!r} routes={self._routes!r}>"
