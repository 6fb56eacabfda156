"""Store registration (``StoreMeta``) and the lazy, thread-safe ``BackendRegistry``.

A concrete store class registers itself under the ``_backend_type`` written in its own class body when
it is defined. ``BackendRegistry`` sees those classes, the stores built into polykv and the stores that
installed distributions declare in the ``polykv.backends`` entry-point group, and imports a plugin
module only when its name is first asked for.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, NoReturn

from metaclass_registry import AutoRegisterMeta, DuplicateRegistryKeyError, RegistryConfig

from .errors import (
    BackendNotFoundError,
    InvalidArgumentError,
    PluginConflictError,
    PluginLoadError,
    PolyKVError,
    RegistrationError,
)
from .options import check_options, is_secret_option, secret_options

if TYPE_CHECKING:
    from .store import KeyValueStore

__all__ = [
    "BACKEND_ENTRY_POINT_GROUP",
    "BUILTIN_BACKENDS",
    "KNOWN_DISTRIBUTIONS",
    "STORE_CLASSES",
    "BackendRegistry",
    "Claim",
    "Declaration",
    "StoreMeta",
    "store_registry_config",
]

#: Entry-point group in which distributions declare stores: ``name = "package.module:StoreClass"``.
BACKEND_ENTRY_POINT_GROUP = "polykv.backends"

#: Every registered store class by backend type, filled in as classes are defined.
STORE_CLASSES: dict[str, type[KeyValueStore]] = {}

#: Stores that ship with polykv, by dotted path, so listing them imports nothing.
BUILTIN_BACKENDS: dict[str, str] = {
    "memory": "polykv.backends.memory:MemoryStore",
    "sqlite": "polykv.backends.sqlite:SQLiteStore",
}

#: Install hints for well-known backends that live in their own distributions.
KNOWN_DISTRIBUTIONS: dict[str, str] = {
    "redis": "polykv-redis",
    "redis_cluster": "polykv-redis",
    "hdfs": "polykv-fsspec",
    "s3": "polykv-fsspec",
    "fsspec": "polykv-fsspec",
}

BACKEND_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")

store_registry_config = RegistryConfig(
    registry_dict=STORE_CLASSES,
    key_attribute="_backend_type",
    skip_if_no_key=True,
    registry_name="polykv store",
    log_registration=False,
)


def _first_store_created(store: Any) -> None:
    """Load hook plugins declared by entry points when the first store is created (then never again)."""
    global _store_created_observer
    _store_created_observer = None
    from .hooks import autoload

    autoload()  # may install a polykv_store_created observer
    if _store_created_observer is not None:
        _store_created_observer(store)


#: Called with each new store once its ``__init__`` has run; ``polykv.hooks`` sets it while a
#: ``polykv_store_created`` hook implementation is registered. Starts as a one-time hook-plugin check.
_store_created_observer: Callable[[Any], None] | None = _first_store_created


class StoreMeta(AutoRegisterMeta):
    """Registers a concrete store class under the ``_backend_type`` declared in its own class body.

    A subclass that declares no ``_backend_type`` of its own (a tweak of a registered store) is not
    registered and does not clash with its parent; abstract classes are never registered.
    """

    def __new__(
        mcs: type[StoreMeta],
        name: str,
        bases: tuple[type, ...],
        attrs: dict[str, Any],
        **kwargs: Any,
    ) -> StoreMeta:
        declared = attrs.get("_backend_type")
        if declared is not None:
            qualname = f"{attrs.get('__module__', '?')}.{attrs.get('__qualname__', name)}"
            if not isinstance(declared, str):
                raise RegistrationError(
                    f"{qualname}._backend_type must be a str, got {type(declared).__name__} {declared!r}"
                )
            if BACKEND_TYPE_PATTERN.fullmatch(declared) is None:
                raise RegistrationError(
                    f"{qualname}._backend_type = {declared!r} is not a valid backend name: use 1-64 "
                    "lowercase letters, digits and '_', starting with a letter (e.g. 'redis_cluster')"
                )
        try:
            cls: StoreMeta = super().__new__(mcs, name, bases, attrs, **kwargs)
            return cls
        except DuplicateRegistryKeyError as exc:
            raise RegistrationError(str(exc), backend=declared) from None

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        """Create the store, then tell the ``polykv_store_created`` hooks (if any are registered).

        Configuration faults surface here, as polykv errors: an option the class does not accept raises
        ``InvalidArgumentError`` listing the accepted ones (``polykv.options.check_options``), and a bare
        ``TypeError``/``ValueError`` from the constructor (a malformed value) becomes ``InvalidArgumentError``
        (secret option values are masked in its message)."""
        if kwargs:
            check_options(cls, kwargs)
        try:
            store = super().__call__(*args, **kwargs)
        except PolyKVError:
            raise
        except (TypeError, ValueError) as exc:
            text = str(exc)
            declared = secret_options(cls)
            for name, value in kwargs.items():
                if isinstance(value, str) and value and is_secret_option(name, declared):
                    text = text.replace(value, "***")
            backend = vars(cls).get("_backend_type") or getattr(cls, "_backend_type", None) or cls.__name__
            raise InvalidArgumentError(
                f"cannot create the {backend!r} store ({cls.__name__}): {type(exc).__name__}: {text}",
                backend=backend,
            ) from None
        if _store_created_observer is not None:
            _store_created_observer(store)
        return store

    @staticmethod
    def _get_registration_key(name: str, cls: type, config: RegistryConfig) -> str | None:
        """Only a key written in the class's own body registers it: an inherited key does not."""
        key = vars(cls).get(config.key_attribute)
        return key if isinstance(key, str) else None


@dataclass(frozen=True)
class Declaration:
    """Where a backend name comes from, as ``BackendRegistry.describe`` reports it."""

    name: str
    source: str  # "registered", "defined", "builtin" or "entry_point"
    target: str  # "module:Class"
    distribution: str | None = None
    version: str | None = None
    conflicts: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]


def _entry_point_declarations() -> dict[str, list[Declaration]]:
    """Read the ``polykv.backends`` entry points of every installed distribution (imports no plugin)."""
    from importlib.metadata import entry_points

    found: dict[str, list[Declaration]] = {}
    for ep in entry_points(group=BACKEND_ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        declaration = Declaration(
            name=ep.name,
            source="entry_point",
            target=ep.value,
            distribution=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
        bucket = found.setdefault(ep.name, [])
        if all(d.target != declaration.target for d in bucket):
            bucket.append(declaration)
    return found


@dataclass(frozen=True)
class Claim:
    """One provider's claim on a name: where it comes from and what it points at."""

    source: str  # "builtin", "defined" (a class of this process), "entry_point" or "hook"
    target: str  # "module:attr" (or a repr for objects that have no import path)
    distribution: str | None = None

    def describe(self) -> str:
        origin = f"distribution {self.distribution!r}" if self.distribution else self.source
        return f"{self.target} ({origin})"


def resolve_claims(kind: str, name: str, claims: Iterable[Claim], *, how_to_choose: str) -> Claim | None:
    """The one conflict rule for every name a plugin can claim (backend, URL scheme, codec, scheme alias).

    Claims that point at the same target are one claim. No claim: None. Exactly one: that claim. More than
    one distinct claim: ``PluginConflictError`` naming every claimant, in a stable order, and
    ``how_to_choose`` (the explicit, in-process choice that settles it, which callers check before this).
    No claimant wins by import order, installation order or being built in."""
    distinct: dict[str, Claim] = {}
    for claim in claims:
        distinct.setdefault(claim.target, claim)
    if not distinct:
        return None
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    listed = "; ".join(c.describe() for c in sorted(distinct.values(), key=lambda c: (c.target, c.source)))
    raise PluginConflictError(
        f"{kind} {name!r} is claimed by more than one provider: {listed}. Uninstall all but one, or {how_to_choose}",
        backend=name if kind == "backend" else None,
    )


def entry_point_claims(group: str) -> dict[str, list[Claim]]:
    """Every name declared in entry-point ``group`` with its claims (imports nothing)."""
    from importlib.metadata import entry_points

    found: dict[str, list[Claim]] = {}
    for ep in entry_points(group=group):
        dist = getattr(ep, "dist", None)
        found.setdefault(ep.name, []).append(
            Claim("entry_point", ep.value, dist.metadata["Name"] if dist is not None else None)
        )
    return found


def class_target(cls: type) -> str:
    """``module:qualname`` of a class, the form entry points use."""
    return f"{cls.__module__}:{cls.__qualname__}"


def same_target(target: str, cls: type) -> bool:
    """Whether entry-point ``target`` names ``cls`` (also through a re-export), importing nothing new."""
    if target == class_target(cls):
        return True
    module_name, _, attr_path = target.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        return False
    obj: Any = module
    for part in filter(None, attr_path.split(".")):
        obj = getattr(obj, part, None)
    return obj is cls


def load_target(target: str) -> Any:
    """Import ``module:attr.path`` and return the attribute."""
    module_name, _, attr_path = target.partition(":")
    obj: Any = import_module(module_name)
    for part in filter(None, attr_path.split(".")):
        obj = getattr(obj, part)
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
            for ep in eps:
                if ep.module == cls.__module__:
                    return Declaration(name, "defined", target, ep.distribution, ep.version)
            return Declaration(name, "defined", target)
        if name in BUILTIN_BACKENDS:
            return Declaration(name, "builtin", BUILTIN_BACKENDS[name], "polykv-core", _core_version())
        if eps:
            first = eps[0]
            others = tuple(f"{d.distribution}: {d.target}" for d in eps[1:])
            return Declaration(name, "entry_point", first.target, first.distribution, first.version, others)
        self._raise_not_found(name)

    def _raise_not_found(self, name: object) -> NoReturn:
        available = ", ".join(sorted(self._declared_names())) or "none"
        hint = ""
        if isinstance(name, str) and name in KNOWN_DISTRIBUTIONS:
            hint = f"; install it with: pip install {KNOWN_DISTRIBUTIONS[name]}"
        raise BackendNotFoundError(
            f"no backend named {name!r} (available: {available}){hint}",
            backend=name if isinstance(name, str) else repr(name),
        )

    # -- lookup ---------------------------------------------------------------------------------
    def store_class(self, name: str) -> type[KeyValueStore]:
        """Return the store class for ``name``, importing its module if needed; no instance is made."""
        from .store import KeyValueStore

        if name in self._registered:  # an explicit choice in this registry settles any conflict
            return self._registered[name]
        eps = self._entry_point_map().get(name) or self._entry_point_map(refresh=True).get(name) or []
        defined = STORE_CLASSES.get(name)
        claims: list[Claim] = []
        if name in BUILTIN_BACKENDS:
            claims.append(Claim("builtin", BUILTIN_BACKENDS[name], "polykv-core"))
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
            return defined
        declaration = Declaration(name, chosen.source, chosen.target, chosen.distribution)
        try:
            obj = load_target(declaration.target)
        except Exception as exc:
            origin = f"distribution {declaration.distribution!r}" if declaration.distribution else "polykv"
            raise PluginLoadError(
                f"cannot load backend {name!r} from {declaration.target!r} ({origin}): {type(exc).__name__}: {exc}",
                backend=name,
            ) from exc
        if not (isinstance(obj, type) and issubclass(obj, KeyValueStore)):
            raise PluginLoadError(
                f"entry point {name!r} = {declaration.target!r} is not a polykv store class (got {obj!r})",
                backend=name,
            )
        if obj._backend_type != name:
            raise PluginLoadError(
                f"entry point {name!r} = {declaration.target!r} loads a store whose _backend_type is "
                f"{obj._backend_type!r}; the entry-point name and _backend_type must match",
                backend=name,
            )
        return obj

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
        from .store import KeyValueStore

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
