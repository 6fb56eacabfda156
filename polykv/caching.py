"""Stampede-safe caching on any store with leases: ``get_or_set`` and the ``memoize`` decorator.

``get_or_set(store, key, factory)`` returns the value under ``key``, or computes it with ``factory()`` and
stores it. On a cold key only one caller computes at a time, across every thread, process and machine
that shares the store: the computing caller holds a lease, a ``polykv.locks.Lock`` on the key
``lease_key(key)`` (``"polykv.lease:" + key``) with ``lease_ttl`` seconds to live. Everyone else polls the
value with jittered backoff (``polykv.locks.Backoff``) until it appears, or until the lease is gone
without a value (its holder's factory raised, or the holder crashed and its lease expired); then one of
them takes the lease and computes. A caller that takes the lease reads the key once more before calling
the factory, so a value stored meanwhile is never recomputed.

If a factory runs longer than ``lease_ttl``, the lease expires and a second caller may start computing:
pick ``lease_ttl`` above the slowest factory (30 s by default). Needs ``Capability.ADD``, ``TTL`` and
``LEASE``; elsewhere ``NotSupportedError`` names the missing one.

``memoize(store)`` caches a function's results under a key derived from its qualified name and
arguments (see ``default_key``), built on ``get_or_set``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from .errors import InvalidArgumentError, LockNotOwnedError, LockTimeoutError, NotSupportedError, a_type_name
from .keys import MAX_KEY_LENGTH
from .locks import Backoff, Lock, require_leases
from .options import MAX_TTL, check_seconds

if TYPE_CHECKING:
    from .store import KeyValueStore

__all__ = ["DEFAULT_LEASE_TTL", "LEASE_PREFIX", "Memoized", "default_key", "get_or_set", "lease_key", "memoize"]

P = ParamSpec("P")
S = TypeVar("S")
R = TypeVar("R")

#: Seconds a computing caller's lease lasts (``lease_ttl``): longer than any factory should take.
DEFAULT_LEASE_TTL = 30.0
#: Prefix of the lease keys ``get_or_set`` takes.
LEASE_PREFIX = "polykv.lease:"
#: Prefix of ``memoize``'s default keys.
MEMOIZE_PREFIX = "memoize:"

_ABSENT: Any = object()


def lease_key(key: str) -> str:
    """The key of ``key``'s lease: ``LEASE_PREFIX + key``, or ``LEASE_PREFIX + "sha256:" + hex digest``
    when that would be longer than ``MAX_KEY_LENGTH``."""
    name = LEASE_PREFIX + key
    if len(name) <= MAX_KEY_LENGTH:
        return name
    return LEASE_PREFIX + "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_lease_ttl(lease_ttl: object, backend: str, key: str | None = None) -> None:
    """``InvalidArgumentError`` naming ``lease_ttl`` (not the lease lock's ``ttl``) unless it is seconds in
    (0, ``MAX_TTL``]; checked before anything is read, whether or not a lease is then needed."""
    check_seconds(lease_ttl, "lease_ttl", backend)
    if lease_ttl > MAX_TTL:  # type: ignore[operator]  # a number: check_seconds passed
        raise InvalidArgumentError(
            f"lease_ttl must be at most {MAX_TTL} seconds (polykv.MAX_TTL, 10 years), got {lease_ttl!r}",
            backend=backend,
            key=key,
        )


def get_or_set(
    store: KeyValueStore,
    key: str,
    factory: Callable[[], Any],
    *,
    ttl: float | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
    wait_timeout: float | None = None,
) -> Any:
    """The value under ``key``; if absent, ``factory()``'s result, stored with ``ttl`` (seconds or None).

    One caller at a time runs ``factory`` for a key (see the module docstring); the others wait for its
    result. ``wait_timeout`` (seconds, None: no limit) bounds the wait: past it, ``LockTimeoutError`` (a
    ``TimeoutError``). An exception of ``factory`` propagates to its caller, nothing is stored and the
    lease is released at once, so a waiter takes over. A value the codec cannot store raises
    ``SerializationError`` (the lease is released too). ``NotSupportedError`` on a store without ADD, TTL
    and LEASE.
    """
    require_leases(store, "get_or_set")
    key = store._key(key)
    if not callable(factory):
        raise InvalidArgumentError(
            f"get_or_set needs a callable factory (called with no arguments), got {a_type_name(factory)}",
            backend=store.backend_name,
            key=key,
        )
    ttl = store._check_ttl(ttl)
    backend = store.backend_name
    _check_lease_ttl(lease_ttl, backend, key)
    timeout = None if wait_timeout is None else check_seconds(wait_timeout, "wait_timeout", backend, zero=True)
    value = store.get(key, _ABSENT)
    if value is not _ABSENT:
        return value
    lease = Lock(store, lease_key(key), ttl=lease_ttl)
    backoff = Backoff(deadline=None if timeout is None else time.monotonic() + timeout)
    while True:
        if lease.acquire(blocking=False):
            try:
                value = store.get(key, _ABSENT)  # stored while we were trying?
                if value is _ABSENT:
                    value = factory()
                    store.set(key, value, ttl=ttl)
                return value
            finally:
                # LockNotOwnedError: the factory outlived lease_ttl; whoever holds the lease now keeps it
                with contextlib.suppress(LockNotOwnedError):
                    lease.release()
        value = store.get(key, _ABSENT)
        if value is not _ABSENT:
            return value
        if backoff.expired():
            raise LockTimeoutError(
                f"no value appeared within wait_timeout={timeout}s while another caller held the lease {lease.name!r}",
                backend=store.backend_name,
                key=key,
            )
        backoff.sleep()


# == memoize ===========================================================================================
def _canonical(value: Any) -> Any:
    raise TypeError(f"{a_type_name(value)} argument has no canonical form")


def default_key(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``memoize``'s key for calling ``func(*args, **kwargs)``:
    ``"memoize:<module>.<qualname>:<sha256 hex>"``, the digest taken over the arguments bound to the
    signature with defaults applied (so ``f(1)``, ``f(x=1)`` and ``f(1, y=<default>)`` share a key),
    written as JSON with sorted keys. Arguments must be JSON values (str, int, float, bool, None, lists,
    tuples, dicts with str keys); anything else raises ``InvalidArgumentError`` (pass ``key=`` to
    ``memoize``). JSON does not tell a tuple from a list: ``f((1, 2))`` and ``f([1, 2])`` share a key."""
    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    try:
        text = json.dumps(
            list(bound.arguments.items()), sort_keys=True, separators=(",", ":"), allow_nan=False, default=_canonical
        )
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"memoize cannot derive a key for {func.__qualname__}: {exc}; pass key=callable(*args, **kwargs) -> str"
        ) from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{MEMOIZE_PREFIX}{func.__module__}.{func.__qualname__}:{digest}"


class MemoKeys(Generic[P, S]):
    """What a memoized function of either face keeps: the function, its ``store`` (a sync or an async one),
    ttl and lease ttl, and how a call becomes its store key (``key_for``: the ``key=`` callable, else
    ``default_key``)."""

    def __init__(
        self, func: Callable[P, Any], store: S, ttl: float | None, key: Callable[..., str] | None, lease_ttl: float
    ) -> None:
        self.__wrapped__ = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]  # the subclasses are the callables
        self.store = store
        self.ttl = ttl
        self.lease_ttl = lease_ttl
        self._key = key

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        """As a method (``@memoize`` in a class body), bound to ``instance`` like a function: the instance is
        the first argument, so the default key needs it to be a JSON value; give ``key=`` otherwise."""
        return self if instance is None else _BoundMemo(self, instance)

    def key_for(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The store key of the call ``func(*args, **kwargs)``."""
        if self._key is not None:
            return self._key(*args, **kwargs)
        return default_key(self.__wrapped__, args, kwargs)


class _BoundMemo:
    """A memoized function bound to an instance: calling it, ``key_for`` and ``invalidate`` all pass the
    instance first (a ``types.MethodType`` would bind only the call)."""

    __slots__ = ("__self__", "memo")

    def __init__(self, memo: MemoKeys[Any, Any], instance: object) -> None:
        self.memo = memo
        self.__self__ = instance

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.memo(self.__self__, *args, **kwargs)  # type: ignore[operator]  # the subclasses call

    def key_for(self, *args: Any, **kwargs: Any) -> str:
        """The store key of this call (the instance first)."""
        return self.memo.key_for(self.__self__, *args, **kwargs)

    def invalidate(self, *args: Any, **kwargs: Any) -> Any:
        """Delete this call's cached result (awaitable on the async face)."""
        return self.memo.invalidate(self.__self__, *args, **kwargs)  # type: ignore[attr-defined]


def check_memoize(
    store: KeyValueStore, ttl: float | None, lease_ttl: float, key: Callable[..., str] | None = None
) -> None:
    """The checks ``memoize`` (either face) makes when it is applied: leases, ``ttl``, ``lease_ttl``, ``key``."""
    require_leases(store, "memoize")
    store._check_ttl(ttl)
    _check_lease_ttl(lease_ttl, store.backend_name)
    if key is not None and not callable(key):
        raise InvalidArgumentError(
            f"memoize's key must be a callable taking the function's arguments, not {a_type_name(key)}",
            backend=store.backend_name,
        )


class Memoized(MemoKeys[P, "KeyValueStore"], Generic[P, R]):
    """A function whose results are cached in ``store`` (made by ``memoize``). Call it as the function;
    ``key_for(*args, **kwargs)`` is the key a call uses, ``invalidate(*args, **kwargs)`` deletes that
    call's cached result (returns whether there was one)."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        func = self.__wrapped__
        result: R = get_or_set(
            self.store,
            self.key_for(*args, **kwargs),
            lambda: func(*args, **kwargs),
            ttl=self.ttl,
            lease_ttl=self.lease_ttl,
        )
        return result

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Delete the cached result of ``func(*args, **kwargs)``; the next call computes it again."""
        return self.store.delete(self.key_for(*args, **kwargs))


def memoize(
    store: KeyValueStore,
    *,
    ttl: float | None = None,
    key: Callable[..., str] | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
) -> Callable[[Callable[P, R]], Memoized[P, R]]:
    """Decorator: cache the function's results in ``store`` for ``ttl`` seconds (None: until invalidated),
    one computation per key at a time across processes (``get_or_set``).

    ``key`` is a callable taking the function's arguments and returning the store key; by default
    ``default_key`` (module, qualified name and a digest of the JSON arguments). Results go through the
    store's codec, so they must be values it stores (JSON by default: a tuple comes back as a list).
    ``NotSupportedError`` at decoration time for a store without ADD, TTL and LEASE, and for coroutine
    functions (their results are awaited: use ``polykv.aio.memoize`` with an async store).
    """
    check_memoize(store, ttl, lease_ttl, key)

    def decorate(func: Callable[P, R]) -> Memoized[P, R]:
        if inspect.iscoroutinefunction(func):
            raise NotSupportedError(
                f"memoize cannot cache the coroutine function {func.__qualname__}: its result is a coroutine; "
                "use polykv.aio.memoize with an async store (polykv.aio.connect)",
                capability="async",
                backend=store.backend_name,
            )
        return Memoized(func, store, ttl, key, lease_ttl)

    return decorate
