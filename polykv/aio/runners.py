"""How ``polykv.aio`` runs a store's one synchronous source: on the loop through the bridge (stores whose
I/O awaits natively), or in a bounded thread pool (stores whose I/O blocks: sqlite, local files, HDFS, and
any store that declares no ``async_face``).

A runner has two verbs: ``call`` (one method call, awaited) and ``stream`` (a synchronous iterator read as
an async iterator, in chunks). Both faces therefore run the very same methods; only where they run differs.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from itertools import islice
from typing import Any, Protocol, TypeVar

from ..errors import InvalidArgumentError
from . import bridge

__all__ = ["DEFAULT_MAX_WORKERS", "BridgeRunner", "Runner", "Stream", "ThreadRunner", "check_max_workers"]

T = TypeVar("T")
R = TypeVar("R")

#: Threads per store for the blocking stores; a store's ``max_workers`` option overrides it.
DEFAULT_MAX_WORKERS = 4


def check_max_workers(max_workers: Any) -> int:
    """``max_workers`` if it is an int >= 1, else ``InvalidArgumentError`` (checked for every store, so a
    mistake shows before a thread-run store replaces a native one in the same code)."""
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidArgumentError(f"max_workers must be an int >= 1, got {max_workers!r}")
    return max_workers


class Runner(Protocol):
    """Where a store's synchronous methods run under ``polykv.aio``."""

    #: ``"bridge"`` or ``"thread"``.
    kind: str

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, awaited."""
        ...

    def stream(self, make: Callable[[], Iterator[T]], chunk: int, halt: threading.Event | None = None) -> Stream[T]:
        """The items of the iterator ``make()`` returns, read ``chunk`` at a time; ``halt`` is set when a read
        is cancelled or the stream closes (a source that waits, such as a change feed, checks it)."""
        ...

    async def aclose(self) -> None:
        """Release the runner's threads (a bridge has none)."""
        ...

    def halt_streams(self) -> None:
        """Ask every open stream's source to stop waiting (the store is closing)."""
        ...


class Stream(AsyncIterator[T]):
    """An async iterator over a synchronous one, read in chunks through a runner; ``aclose()`` (or the end
    of the items) closes the synchronous iterator in the runner too.

    ``halt`` (optional) is set when a read is cancelled or the stream closes: a source that can wait without
    end (a quiet change feed, in a worker thread) checks it and returns, so a cancelled reader does not keep a
    worker, nor the runner's ``aclose``, waiting for ever.

    ``aclose()`` while another task reads waits for that read to finish (a generator cannot be closed while
    it runs), then closes; the reader's iteration then ends (``StopAsyncIteration``), whatever it had read."""

    def __init__(
        self, runner: Runner, make: Callable[[], Iterator[T]], chunk: int, halt: threading.Event | None = None
    ) -> None:
        self._runner = runner
        self._halt = halt
        self._make: Callable[[], Iterator[T]] | None = make
        self._source: Iterator[T] | None = None
        self._chunk = chunk
        self._buffer: list[T] = []
        self._done = False
        self._closed = False
        self._reading = 0  # reads awaited now (their tasks' side)
        self._read_waiters: list[asyncio.Future[None]] = []  # aclose() calls waiting for them to end
        #: Held while a worker thread steps or closes the source (thread runners only): a read cancelled on
        #: the loop goes on in its thread, and a close meanwhile would meet "generator already executing".
        self._serial: AbstractContextManager[Any] = threading.Lock() if runner.kind == "thread" else nullcontext()

    def __aiter__(self) -> Stream[T]:
        return self

    def _open_source(self) -> Iterator[T]:
        if self._source is None:
            if self._make is None:  # closed before (or while) this read began
                return iter(())
            self._source = iter(self._make())
            self._make = None
        return self._source

    def _next_chunk(self) -> list[T]:
        with self._serial:
            return [] if self._closed else list(islice(self._open_source(), self._chunk))

    def _close_source(self, close: Callable[[], object]) -> None:
        with self._serial:  # after a cancelled read still running in its thread (halt makes it end soon)
            close()

    async def open(self) -> None:
        """Take the first step now rather than at the first ``__anext__``: build the synchronous iterator
        (a change feed validates its cursor and, with ``since=None``, takes the head cursor here)."""
        if self._source is None and not self._done:
            await self._read(self._open_source)

    async def _read(self, step: Callable[[], R]) -> R:
        """``step`` through the runner, counted as a read in flight (``aclose`` waits for it)."""
        self._reading += 1
        try:
            return await self._runner.call(step)
        finally:
            self._reading -= 1
            if not self._reading:
                waiters, self._read_waiters = self._read_waiters, []
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    async def __anext__(self) -> T:
        if not self._buffer:
            if self._done:
                raise StopAsyncIteration
            try:
                chunk = await self._read(self._next_chunk)
            except asyncio.CancelledError:
                if self._halt is not None:
                    self._halt.set()  # the read goes on in its thread until the source sees this
                raise
            except Exception:
                if self._halt is not None and self._halt.is_set():  # the store closed under a waiting feed
                    self._done = True
                    raise StopAsyncIteration from None
                raise
            if self._closed:  # closed by another task while this read ran
                raise StopAsyncIteration
            if len(chunk) < self._chunk:
                self._done = True
                await self.aclose()
            if not chunk:
                raise StopAsyncIteration
            chunk.reverse()
            self._buffer = chunk
        return self._buffer.pop()

    async def aclose(self) -> None:
        """Stop: close the synchronous iterator (its ``finally`` blocks run where its I/O runs), after any
        read another task has in flight."""
        self._done = True
        self._closed = True
        self._buffer = []
        self._make = None
        if self._halt is not None:
            self._halt.set()
        while self._reading:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._read_waiters.append(waiter)
            await waiter
        source, self._source = self._source, None
        close = getattr(source, "close", None)
        if close is not None:
            await self._runner.call(self._close_source, close)

    async def __aenter__(self) -> Stream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Streams:
    """The halt events of a runner's open streams: closing the store sets them, so a change feed waiting
    in a worker thread (or on the loop) ends at its next check instead of holding up the close."""

    def __init__(self) -> None:
        self._halts: weakref.WeakSet[threading.Event] = weakref.WeakSet()

    def stream(self, make: Callable[[], Iterator[T]], chunk: int, halt: threading.Event | None = None) -> Stream[T]:
        if halt is not None:
            self._halts.add(halt)
        return Stream(self, make, chunk, halt)  # type: ignore[arg-type]  # the subclasses are Runners

    def halt_streams(self) -> None:
        """Set the halt event of every open stream (``AsyncKeyValueStore.aclose`` does, before closing)."""
        for halt in list(self._halts):
            halt.set()


class BridgeRunner(_Streams):
    """Runs methods on the loop through :mod:`polykv.aio.bridge`: their I/O awaits natively."""

    kind = "bridge"

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await bridge.run(fn, *args, **kwargs)

    async def aclose(self) -> None:
        self.halt_streams()

    def __repr__(self) -> str:
        return "<BridgeRunner>"


class ThreadRunner(_Streams):
    """Runs methods in a bounded pool of ``max_workers`` threads, so blocking I/O never stalls the loop.

    Calls are queued and drained in batches: a worker thread runs every call queued by the time it gets
    to them, one after the other, and hands the results back to the loop in one callback, so many tasks'
    calls share one thread hand-off (a hand-off costs tens of microseconds; a sqlite ``get`` a few). A new
    worker joins (up to ``max_workers``) whenever a call is queued while every running worker is inside a
    call, so a call that waits (a lock's backoff, a change-feed wait) never holds up the calls behind it.

    A cancelled call that has not started is never run; one that has started runs to its end in its
    thread (an atomic operation stays whole). Context variables reach the thread (as ``asyncio.to_thread``
    does); code in the thread may ``bridge.await_`` a coroutine on the loop (a native store under a wrapper).
    """

    kind = "thread"

    def __init__(self, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        super().__init__()
        self.max_workers = check_max_workers(max_workers)
        self._pool: ThreadPoolExecutor | None = None
        self._queue: deque[_Job] = deque()
        self._lock = threading.Lock()
        self._workers = 0  # draining threads
        self._busy = 0  # of them, inside a call

    @property
    def busy(self) -> int:
        """How many calls are running in a worker thread now (not counting queued ones)."""
        return self._busy

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="polykv-aio")
        return self._pool

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = (contextvars.copy_context(), loop, fn, args, kwargs, future)
        with self._lock:
            self._queue.append(job)
            start = self._workers == self._busy and self._workers < self.max_workers
            if start:
                self._workers += 1
        if start:
            self._executor().submit(self._drain)
        return await future

    def _drain(self) -> None:
        """A worker: run queued calls until the queue is empty, handing results back in batches."""
        done: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        while True:
            with self._lock:
                if not self._queue:
                    self._workers -= 1
                    break
                context, loop, fn, args, kwargs, future = self._queue.popleft()
                self._busy += 1
                # calls still queued behind this one get a worker of their own if every worker is busy
                helper = bool(self._queue) and self._workers == self._busy and self._workers < self.max_workers
                if helper:
                    self._workers += 1
            if helper:
                self._executor().submit(self._drain)
            try:
                if future.cancelled():
                    continue
                try:
                    outcome: tuple[asyncio.Future[Any], bool, Any] = (
                        future,
                        True,
                        context.run(_in_loop_thread, loop, fn, args, kwargs),
                    )
                except BaseException as exc:  # handed to the awaiting task
                    outcome = (future, False, exc)
                done.setdefault(loop, []).append(outcome)
            finally:
                with self._lock:
                    self._busy -= 1
                del context, fn, args, kwargs, future
            if len(done.get(loop, ())) >= 64:
                _hand_back(loop, done.pop(loop))
        for each, outcomes in done.items():
            _hand_back(each, outcomes)

    async def aclose(self) -> None:
        self.halt_streams()  # a feed waiting in a worker ends within its poll interval; then the pool stops
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)

    def __repr__(self) -> str:
        return f"<ThreadRunner max_workers={self.max_workers}>"


def _hand_back(loop: asyncio.AbstractEventLoop, outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """Settle ``outcomes`` on their loop. A loop closed meanwhile has no task left to wake: its outcomes are
    dropped, and a worker shared by several loops goes on handing back the others' (raising here lost them)."""
    try:
        loop.call_soon_threadsafe(_settle_all, outcomes)
    except RuntimeError:  # "Event loop is closed"
        if not loop.is_closed():
            raise


_Job = tuple[
    contextvars.Context,
    asyncio.AbstractEventLoop,
    Callable[..., Any],
    tuple[Any, ...],
    dict[str, Any],
    "asyncio.Future[Any]",
]


def _settle_all(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _in_loop_thread(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    with bridge.loop_thread(loop):
        return fn(*args, **kwargs)
