"""How ``polykv.aio`` runs a store's one synchronous source: on the loop through the bridge (stores whose
I/O awaits natively), or in a bounded thread pool (stores whose I/O blocks: sqlite, local files, HDFS, and
any store that declares no ``async_face``).

A runner has two verbs: ``call`` (one method call, awaited) and ``stream`` (a synchronous iterator read as
an async iterator, in chunks). Both faces therefore run the very same methods; only where they run differs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any, Protocol, TypeVar

from ..errors import InvalidArgumentError
from . import bridge

__all__ = ["DEFAULT_MAX_WORKERS", "BridgeRunner", "Runner", "Stream", "ThreadRunner"]

T = TypeVar("T")

#: Threads per store for the blocking stores; a store's ``max_workers`` option overrides it.
DEFAULT_MAX_WORKERS = 4


class Runner(Protocol):
    """Where a store's synchronous methods run under ``polykv.aio``."""

    #: ``"bridge"`` or ``"thread"``.
    kind: str

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, awaited."""
        ...

    def stream(self, make: Callable[[], Iterator[T]], chunk: int) -> Stream[T]:
        """The items of the iterator ``make()`` returns, read ``chunk`` at a time."""
        ...

    async def aclose(self) -> None:
        """Release the runner's threads (a bridge has none)."""
        ...


class Stream(AsyncIterator[T]):
    """An async iterator over a synchronous one, read in chunks through a runner; ``aclose()`` (or the end
    of the items) closes the synchronous iterator in the runner too."""

    def __init__(self, runner: Runner, make: Callable[[], Iterator[T]], chunk: int) -> None:
        self._runner = runner
        self._make: Callable[[], Iterator[T]] | None = make
        self._source: Iterator[T] | None = None
        self._chunk = chunk
        self._buffer: list[T] = []
        self._done = False

    def __aiter__(self) -> Stream[T]:
        return self

    def _open_source(self) -> Iterator[T]:
        if self._source is None:
            assert self._make is not None
            self._source = iter(self._make())
            self._make = None
        return self._source

    def _next_chunk(self) -> list[T]:
        return list(islice(self._open_source(), self._chunk))

    async def open(self) -> None:
        """Take the first step now rather than at the first ``__anext__``: build the synchronous iterator
        (a change feed validates its cursor and, with ``since=None``, takes the head cursor here)."""
        if self._source is None and not self._done:
            await self._runner.call(self._open_source)

    async def __anext__(self) -> T:
        if not self._buffer:
            if self._done:
                raise StopAsyncIteration
            chunk = await self._runner.call(self._next_chunk)
            if len(chunk) < self._chunk:
                self._done = True
                await self.aclose()
            if not chunk:
                raise StopAsyncIteration
            chunk.reverse()
            self._buffer = chunk
        return self._buffer.pop()

    async def aclose(self) -> None:
        """Stop: close the synchronous iterator (its ``finally`` blocks run where its I/O runs)."""
        self._done = True
        self._buffer = []
        source, self._source = self._source, None
        close = getattr(source, "close", None)
        if close is not None:
            await self._runner.call(close)

    async def __aenter__(self) -> Stream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class BridgeRunner:
    """Runs methods on the loop through :mod:`polykv.aio.bridge`: their I/O awaits natively."""

    kind = "bridge"

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await bridge.run(fn, *args, **kwargs)

    def stream(self, make: Callable[[], Iterator[T]], chunk: int) -> Stream[T]:
        return Stream(self, make, chunk)

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return "<BridgeRunner>"


class ThreadRunner:
    """Runs methods in a bounded pool of ``max_workers`` threads, so blocking I/O never stalls the loop.

    A cancelled call stops waiting at once; the method itself runs to its end in its thread (an atomic
    operation stays whole). Context variables reach the thread (as ``asyncio.to_thread`` does); code in
    the thread may ``bridge.await_`` a coroutine on the loop (a native store under a wrapper)."""

    kind = "thread"

    def __init__(self, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise InvalidArgumentError(f"max_workers must be an int >= 1, got {max_workers!r}")
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="polykv-aio")
        return self._pool

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        job = functools.partial(context.run, _in_loop_thread, loop, fn, args, kwargs)
        return await loop.run_in_executor(self._executor(), job)

    def stream(self, make: Callable[[], Iterator[T]], chunk: int) -> Stream[T]:
        return Stream(self, make, chunk)

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)

    def __repr__(self) -> str:
        return f"<ThreadRunner max_workers={self.max_workers}>"


def _in_loop_thread(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    with bridge.loop_thread(loop):
        return fn(*args, **kwargs)
