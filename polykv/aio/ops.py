"""The generic operations of ``polykv.ops`` on async stores: ``watch`` (an async iterator) and ``copy``.

Each runs the very ``polykv.ops`` function (and so any fast path a backend registers for its class) on the
stores the async faces run, through their runner: a change feed on Redis waits with ``XREAD BLOCK`` on the
loop, a memory feed awaits the next write, a sqlite feed waits in a worker thread; none of them polls the
loop or blocks it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .. import ops
from ..changes import Change
from ..errors import a_type_name
from ..store import KeyValueStore
from .runners import Stream
from .store import AsyncKeyValueStore

__all__ = ["call", "copy", "watch"]

R = TypeVar("R")


def watch(
    store: AsyncKeyValueStore, schema: str | None = None, prefix: str | None = None, **options: Any
) -> Stream[Change]:
    """``async for change in watch(store, ...)``: the changes of ``store`` as ``polykv.ops.watch`` yields
    them (same ``schema``, ``prefix``, ``ops``, ``since``, ``follow``, ``timeout``, ``poll_interval``,
    ``batch_size``; ``Change.cursor`` resumes it). Stop by leaving the loop (``break``, then ``aclose()``),
    with ``timeout``, ``follow=False``, or ``stop``: an ``asyncio.Event`` (or ``threading.Event``) checked at
    least every ``poll_interval`` seconds.

    The first step (checking the cursor, and with ``since=None`` taking the head cursor) runs at the first
    iteration, or at ``await feed.open()``; there a store without the watch capability raises
    ``NotSupportedError`` and a bad or expired cursor ``InvalidArgumentError`` / ``CursorExpiredError``."""
    if not isinstance(store, AsyncKeyValueStore):
        raise TypeError(
            f"polykv.aio.watch takes an async store (from polykv.aio.connect), not {a_type_name(store)}; "
            "for a synchronous store use polykv.ops.watch"
        )
    inner = store._store
    _check_options("watch", inner, options)
    halt = threading.Event()  # set by the stream when its reader is cancelled or it closes
    given = options.pop("stop", None)
    ops.check_watch_options(inner.backend_name, stop=given)
    stop = halt if given is None else _EitherSet(halt, given)
    # one change at a time: a chunk would wait for a batch of changes to arrive before handing any over
    return store.runner.stream(lambda: ops.watch(inner, schema, prefix, stop=stop, **options), 1, halt)


class _EitherSet:
    """Set when any of its events is (the caller's ``stop``, the stream's halt): what ``ops.watch`` checks."""

    def __init__(self, *events: Any) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


async def copy(src: AsyncKeyValueStore, dst: AsyncKeyValueStore, **options: Any) -> ops.CopyResult:
    """``polykv.ops.copy`` between async stores (same options: ``prefix``, ``schemas``, ``overwrite``,
    ``batch_size``, ``checkpoint``...; resumable as the sync one is). It runs on the bridge when both stores
    are native, else in a worker thread."""
    if isinstance(src, AsyncKeyValueStore):
        _check_options("copy", src._store, options)
    return await call(ops.copy, src, dst, **options)


def _check_options(name: str, store: KeyValueStore, options: dict[str, Any]) -> None:
    """``InvalidArgumentError`` naming ``polykv.aio.<name>`` for an option ``polykv.ops.<name>`` does not take."""
    accepted = ops.operation_options(name, store)
    for option in options:
        if option not in accepted:
            raise ops.unknown_option(f"polykv.aio.{name}", option, accepted, store.backend_name)


async def call(operation: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """Run any ``polykv.ops`` function (or one a plugin adds) with async stores as its arguments: each
    ``AsyncKeyValueStore`` is replaced by the store it runs, and the call runs where those stores run."""
    runners = [arg.runner for arg in (*args, *kwargs.values()) if isinstance(arg, AsyncKeyValueStore)]
    if not runners:
        raise TypeError(f"polykv.aio.ops.call({getattr(operation, '__name__', operation)!r}, ...) got no async store")
    plain = [arg._store if isinstance(arg, AsyncKeyValueStore) else arg for arg in args]
    named = {k: v._store if isinstance(v, AsyncKeyValueStore) else v for k, v in kwargs.items()}
    threaded = [runner for runner in runners if runner.kind != "bridge"]
    runner = threaded[0] if threaded else runners[0]
    return await runner.call(operation, *plain, **named)
