"""The lazy, thread-safe ``BackendRegistry``: backend name -> one cached store instance.

``BackendRegistry`` sees the store classes registered by ``StoreMeta`` (``polykv.registration``), the stores
built into polykv and the stores that installed distributions declare in the ``polykv.backends`` entry-point
group, and imports a plugin module only when its name is first asked for. ``polykv.registry`` is the
process-wide instance (``polykv.default_registry()``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any, NoReturn

from .catalog import (
    BACKEND_ENTRY_POINT_GROUP,
    BUILTIN_BACKENDS,
    CORE_DISTRIBUTION,
    KNOWN_BACKENDS,
    backend_entry_points,
    install_hint,
)
from .claims import Claim, class_target, resolve_claims, same_target
from .errors import BackendNotFoundError, PluginLoadError, RegistrationError
from .registration import BACKEND_TYPE_PATTERN, STORE_CLASSES
from .store import KeyValueStore

__all__ = [
    "BACKEND_ENTRY_POINT_GROUP",
    "BackendRegistry",
    "Declaration",
    "check_store_class",
    "iter_declarations",
    "load_store_class",
    "load_target",
]


@dataclass(frozen=True)
class Declaration:
    """Where a backend name comes from, as ``BackendRegistry.describe`` reports it."""

    name: str
    source: str  # "registered", "defined", "builtin" or "entry_point"
    target: str  # "module:Class"
    distribution: str | None = None
    version: str | None = None
    conflicts: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()  # the URL schemes declared with it (entry-point name or KNOWN_BACKENDS)

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]


def _entry_point_declarations() -> dict[str, list[Declaration]]:
    """The ``polykv.backends`` entry points of every installed distribution, by backend (imports no plugin)."""
    return {
        name: [Declaration(name, "entry_point", e.target, e.distribution, e.version, schemes=e.schemes) for e in eps]
        for name, eps in backend_entry_points().items()
    }


def load_target(target: str) -> Any:
    """Import ``module:attr.path`` and return the attribute."""
    module_name, _, attr_path = target.partition(":")
    obj: Any = import_module(module_name)
    for part in filter(None, attr_path.split(".")):
        obj = getattr(obj, part)
    return obj


def load_store_class(name: str, target: str, schemes: tuple[str, ...], origin: str) -> type[KeyValueStore]:
    """Import the store class that ``origin`` (e.g. "distribution 'polykv-redis'") declares at ``target``
    for backend ``name`` with URL schemes ``schemes``, and check that the class says the same thing in its
    own body: ``_backend_type == name`` and ``url_schemes`` holding exactly ``schemes``. ``PluginLoadError``
    naming the backend, the target and the origin when the import fails or the declarations disagree."""
    try:
        obj = load_target(target)
    except Exception as exc:
        raise PluginLoadError(
            f"cannot load backend {name!r} from {target!r} ({origin}): {type(exc).__name__}: {exc}", backend=name
        ) from exc
    return check_store_class(obj, name, target, schemes, origin)


def check_store_class(
    obj: object, name: str, target: str, schemes: tuple[str, ...], origin: str
) -> type[KeyValueStore]:
    """``obj`` if it is a store class whose own body declares ``_backend_type == name`` and exactly the URL
    ``schemes`` that ``origin`` declared for it at ``target``; ``PluginLoadError`` saying what differs."""
    if not (isinstance(obj, type) and issubclass(obj, KeyValueStore)):
        raise PluginLoadError(
            f"entry point {name!r} = {target!r} ({origin}) is not a polykv store class (got {obj!r})", backend=name
        )
    if obj._backend_type != name:
        raise PluginLoadError(
            f"entry point {name!r} = {target!r} ({origin}) loads a store whose _backend_type is "
            f"{obj._backend_type!r}; the entry-point name and _backend_type must match",
            backend=name,
        )
    own = tuple(vars(obj).get("url_schemes", ()))
    if set(own) != set(schemes):
        declared = f"{name}:{','.join(schemes)}" if schemes else name
        wanted = f"{name}:{','.join(own)}" if own else name
        raise PluginLoadError(
            f"backend {name!r} is declared ({origin}) as {declared!r} but {obj.__qualname__}.url_schemes is "
            f"{own!r}: name the entry point {wanted!r} (the URL schemes of the class, after the backend name)",
            backend=name,
        )
    return obj


class BackendRegistry(dict[str, "KeyValueStore"]):
    """A read-only mapping from backend name to one lazily created, cached store instance.

    ``registry[name]`` imports only what ``name`` needs, creates the store once (thread-safe) with the
    settings given in ``config[name]``, and caches it; a cached lookup is a plain dict lookup.
    ``keys()``, ``in`` and ``len`` see every declared backend without importing any plugin.
    """

    def __init__(self, config: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        self._config: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (config or {}).items()}
        self._lock = threading.RLock()
        self._registered: dict[str, type[KeyValueStore]] = {}
        self._owned: set[str] = set()
        self._entry_points: dict[str, list[Declaration]] | None = None

    # -- declarations -------------------------------------------------------------------------
    def _entry_point_map(self, refresh: bool = False) -> dict[str, list[Declaration]]:
        if self._entry_points is None or refresh:
            self._entry_points = _entry_point_declarations()
        return self._entry_points

    def refresh(self) -> None:
        """Read the installed distributions' entry points again (after a ``pip install``)."""
        with self._lock:
            self._entry_points = _entry_point_declarations()

    def _declared_names(self) -> set[str]:
        names = set(BUILTIN_BACKENDS) | set(STORE_CLASSES) | set(self._registered)
        names.update(self._entry_point_map())
        names.update(dict.keys(self))
        return names

    def describe(self, name: str) -> Declaration:
        """Tell where ``name`` comes from without importing anything new."""
        if name in self._registered:
            cls = self._registered[name]
            return Declaration(name, "registered", f"{cls.__module__}:{cls.__qualname__}")
        if dict.__contains__(self, name) and name not in self._owned:
            inst = dict.__getitem__(self, name)
            return Declaration(name, "registered", f"{type(inst).__module__}:{type(inst).__qualname__}")
        eps = self._entry_point_map().get(name, [])
        if name in STORE_CLASSES:
            cls = STORE_CLASSES[name]
            target = f"{cls.__module__}:{cls.__qualname__}"
            schemes = tuple(vars(cls).get("url_schemes", ()))
            for ep in eps:
                if ep.module == cls.__module__:
                    return Declaration(name, "defined", target, ep.distribution, ep.version, schemes=schemes)
            return Declaration(name, "defined", target, schemes=schemes)
        if name in BUILTIN_BACKENDS:
            known = KNOWN_BACKENDS[name]
            return Declaration(
                name, "builtin", BUILTIN_BACKENDS[name], CORE_DISTRIBUTION, _core_version(), (), known.schemes
            )
        if eps:
            first = eps[0]
            others = tuple(f"{d.distribution}: {d.target}" for d in eps[1:])
            return Declaration(
                name, "entry_point", first.target, first.distribution, first.version, others, first.schemes
            )
        self._raise_not_found(name)

    def _raise_not_found(self, name: object) -> NoReturn:
        available = ", ".join(sorted(self._declared_names())) or "none"
        hint = install_hint(backend=name) if isinstance(name, str) else ""
        raise BackendNotFoundError(
            f"no backend named {name!r} (available: {available}){hint}",
            backend=name if isinstance(name, str) else repr(name),
        )

    # -- lookup ---------------------------------------------------------------------------------
    def store_class(self, name: str) -> type[KeyValueStore]:
        """Return the store class for ``name``, importing its module if needed; no instance is made."""
        if name in self._registered:  # an explicit choice in this registry settles any conflict
            return self._registered[name]
        eps = self._entry_point_map().get(name) or self._entry_point_map(refresh=True).get(name) or []
        defined = STORE_CLASSES.get(name)
        claims: list[Claim] = []
        if name in BUILTIN_BACKENDS:
            claims.append(Claim("builtin", BUILTIN_BACKENDS[name], CORE_DISTRIBUTION))
        if defined is not None:
            claims.append(Claim("defined", class_target(defined)))
        for ep in eps:
            target = ep.target
            if defined is not None and same_target(target, defined):
                target = class_target(defined)
            elif name in BUILTIN_BACKENDS and target == BUILTIN_BACKENDS[name]:
                pass
            claims.append(Claim("entry_point", target, ep.distribution))
        if defined is not None and name in BUILTIN_BACKENDS and class_target(defined) == BUILTIN_BACKENDS[name]:
            claims = [c for c in claims if c.source != "builtin"]
        chosen = resolve_claims(
            "backend", name, claims, how_to_choose=f"choose one with registry.register({name!r}, StoreClass)"
        )
        if chosen is None:
            self._raise_not_found(name)
        if defined is not None and chosen.target == class_target(defined):
            for ep in eps:  # a distribution that declares this very class must declare what it says
                if same_target(ep.target, defined):
                    check_store_class(defined, name, ep.target, ep.schemes, f"distribution {ep.distribution!r}")
            return defined
        if chosen.source == "builtin":
            schemes = KNOWN_BACKENDS[name].schemes
        else:
            schemes = next((ep.schemes for ep in eps if ep.target == chosen.target), ())
        origin = f"distribution {chosen.distribution!r}" if chosen.distribution else "polykv"
        return load_store_class(name, chosen.target, schemes, origin)

    def __missing__(self, name: str) -> KeyValueStore:
        with self._lock:
            if dict.__contains__(self, name):
                return dict.__getitem__(self, name)
            cls = self.store_class(name)
            store = cls(**self._config.get(name, {}))
            dict.__setitem__(self, name, store)
            self._owned.add(name)
            return store

    def get(self, name: str, default: Any = None) -> Any:
        """Return the store for ``name``, or ``default`` when no such backend is declared."""
        try:
            return self[name]
        except BackendNotFoundError:
            return default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (dict.__contains__(self, name) or name in self._declared_names())

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._declared_names()))

    def __len__(self) -> int:
        return len(self._declared_names())

    def keys(self) -> list[str]:  # type: ignore[override]
        """Every declared backend name, sorted; imports nothing."""
        return sorted(self._declared_names())

    def values(self) -> list[KeyValueStore]:  # type: ignore[override]
        """Every store, creating the ones not created yet."""
        return [self[name] for name in self.keys()]

    def items(self) -> list[tuple[str, KeyValueStore]]:  # type: ignore[override]
        """Every ``(name, store)`` pair, creating the stores not created yet."""
        return [(name, self[name]) for name in self.keys()]

    def loaded(self) -> dict[str, KeyValueStore]:
        """The stores created or registered so far, without creating any."""
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def __repr__(self) -> str:
        return f"<BackendRegistry backends={self.keys()!r} loaded={sorted(dict.keys(self))!r}>"

    # -- management -----------------------------------------------------------------------------
    def register(self, name: str, store_or_class: KeyValueStore | type[KeyValueStore]) -> None:
        """Add a store instance or class under ``name`` for this registry only.

        An instance is used as it is and is not closed by ``close()``; a class is created lazily with
        ``config[name]`` like any other backend. An existing name raises ``RegistrationError``.
        """
        if not isinstance(name, str) or BACKEND_TYPE_PATTERN.fullmatch(name) is None:
            raise RegistrationError(f"{name!r} is not a valid backend name", backend=str(name))
        with self._lock:
            if name in self._registered or dict.__contains__(self, name):
                raise RegistrationError(
                    f"backend {name!r} is already registered or created in this registry; "
                    "call registry.evict(name) first to replace it",
                    backend=name,
                )
            if isinstance(store_or_class, KeyValueStore):
                dict.__setitem__(self, name, store_or_class)
            elif isinstance(store_or_class, type) and issubclass(store_or_class, KeyValueStore):
                self._registered[name] = store_or_class
            else:
                raise RegistrationError(
                    f"register() takes a KeyValueStore instance or subclass, got {store_or_class!r}",
                    backend=name,
                )

    def evict(self, name: str) -> None:
        """Forget the cached instance of ``name`` (closing it if this registry created it)."""
        with self._lock:
            store = dict.pop(self, name, None)
            self._registered.pop(name, None)
            if store is not None and name in self._owned:
                self._owned.discard(name)
                store.close()

    def close(self) -> None:
        """Close every store this registry created and forget all cached instances."""
        with self._lock:
            owned = [dict.__getitem__(self, n) for n in self._owned if dict.__contains__(self, n)]
            dict.clear(self)
            self._owned.clear()
        errors: list[BaseException] = []
        for store in owned:
            try:
                store.close()
            except Exception as exc:  # close the rest, then report
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> BackendRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- read-only mapping ----------------------------------------------------------------------
    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("BackendRegistry is read-only; use register(name, store_or_class)")

    __setitem__: Callable[..., NoReturn] = _read_only
    __delitem__: Callable[..., NoReturn] = _read_only
    __ior__: Callable[..., NoReturn] = _read_only
    setdefault: Callable[..., NoReturn] = _read_only
    update: Callable[..., NoReturn] = _read_only
    pop: Callable[..., NoReturn] = _read_only
    popitem: Callable[..., NoReturn] = _read_only
    clear: Callable[..., NoReturn] = _read_only

    def copy(self) -> NoReturn:
        raise TypeError("BackendRegistry cannot be copied; create another BackendRegistry(config)")

    def __reduce__(self) -> NoReturn:
        raise TypeError("BackendRegistry cannot be pickled")


def _core_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("polykv-core")
    except PackageNotFoundError:
        return None


def iter_declarations(registry: BackendRegistry) -> Iterable[Declaration]:
    """Describe every backend ``registry`` knows, importing nothing."""
    return [registry.describe(name) for name in registry]
