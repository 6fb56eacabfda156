"""``polykv.aio.memoize``: the asyncio twin of ``polykv.memoize``, for coroutine functions.

Same keys (``polykv.caching.default_key`` or ``key=``), same ttl and lease rules and the same one
computation per key at a time across processes: a call is ``await store.get_or_set(key, ...)`` of the async
store, so waiting for another caller's result never blocks the loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Generic, ParamSpec, TypeVar

from ..caching import DEFAULT_LEASE_TTL, MemoKeys, check_memoize
from ..errors import InvalidArgumentError, a_type_name
from .store import AsyncKeyValueStore

__all__ = ["AsyncMemoized", "memoize"]

P = ParamSpec("P")
R = TypeVar("R")


class AsyncMemoized(MemoKeys[P, AsyncKeyValueStore], Generic[P, R]):
    """A coroutine function whose results are cached in an async ``store`` (made by ``polykv.aio.memoize``):
    ``await f(...)`` as the function; ``key_for(...)`` is a call's key, ``await invalidate(...)`` deletes its
    cached result (whether there was one)."""

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        func = self.__wrapped__
        result: R = await self.store.get_or_set(
            self.key_for(*args, **kwargs), lambda: func(*args, **kwargs), ttl=self.ttl, lease_ttl=self.lease_ttl
        )
        return result

    async def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Delete the cached result of ``func(*args, **kwargs)``; the next call computes it again."""
        return await self.store.delete(self.key_for(*args, **kwargs))


def memoize(
    store: AsyncKeyValueStore,
    *,
    ttl: float | None = None,
    key: Callable[..., str] | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
) -> Callable[[Callable[P, Awaitable[R]]], AsyncMemoized[P, R]]:
    """Decorator for coroutine functions: cache their results in the async ``store`` for ``ttl`` seconds
    (None: until invalidated), one computation per key at a time (``polykv.memoize``'s rules and keys).

    ``TypeError`` for a store that is not async (use ``polykv.memoize``) and for a function that is not a
    coroutine function; ``NotSupportedError`` for a store without ADD, TTL and LEASE."""
    if not isinstance(store, AsyncKeyValueStore):
        raise TypeError(
            f"polykv.aio.memoize takes an async store (from polykv.aio.connect), not {a_type_name(store)}; "
            "for a synchronous store use polykv.memoize"
        )
    check_memoize(store._store, ttl, lease_ttl, key)

    def decorate(func: Callable[P, Awaitable[R]]) -> AsyncMemoized[P, R]:
        if not callable(func):
            raise InvalidArgumentError(f"polykv.aio.memoize decorates a function, not {a_type_name(func)}")
        if not inspect.iscoroutinefunction(func):
            raise TypeError(
                f"polykv.aio.memoize caches coroutine functions (async def); {getattr(func, '__qualname__', func)!r} "
                "is not one: use polykv.memoize for a plain function"
            )
        return AsyncMemoized(func, store, ttl, key, lease_ttl)

    return decorate
