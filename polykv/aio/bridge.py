"""The bridge that lets polykv's one synchronous source run on an event loop with native asyncio I/O.

polykv writes every store's logic (validation, codecs, records, filters, scripts, key layout, retries) once,
as ordinary functions. An async store runs that same code inside a worker greenlet; where the code reaches
its I/O boundary it calls :func:`await_` with an awaitable (a ``redis.asyncio`` command, an s3fs coroutine,
an ``asyncio.sleep``), which suspends the greenlet and hands the awaitable to the task that called
:func:`run`; the task awaits it on the loop and switches the result (or the exception, cancellation
included) back in. This is the technique of SQLAlchemy's asyncio extension, built on the ``greenlet``
package. The cost is two greenlet switches per call and two per await, about a microsecond: worker greenlets
are reused from a per-thread free list, because creating one costs ten times a switch.

``run(fn, *args)`` is the way in on the loop. A thread that ``polykv.aio`` runs blocking store code in
(:func:`loop_thread`) may call ``await_`` too: the awaitable then runs on the loop with
``asyncio.run_coroutine_threadsafe`` while that thread waits, so a natively async store can sit under a
wrapper beside a store that runs in threads. Anywhere else ``await_`` raises ``RuntimeError``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import greenlet

__all__ = ["await_", "in_bridge", "loop_thread", "require_loop", "run", "target_loop"]

T = TypeVar("T")

# what a worker switches back to the task that drives it: (kind, payload)
_AWAIT, _RETURN, _RAISE = 0, 1, 2


class _Worker(greenlet.greenlet):
    """A reusable greenlet: runs one bridged call at a time, switching each awaitable to its driver.

    A finished call's outcome is left in ``reply`` (the driver takes it and clears it) and the worker then
    waits with nothing of the call on its frame, so it keeps no result, argument or exception alive."""

    __slots__ = ("reply",)

    def __init__(self) -> None:
        super().__init__(self._serve)
        self.reply: tuple[int, Any] | None = None

    def _serve(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        while True:
            try:
                self.reply = (_RETURN, fn(*args, **kwargs))
            except BaseException as exc:  # handed to the driver, which raises it in the calling task
                self.reply = (_RAISE, exc)
            del fn, args, kwargs
            driver = self.parent
            assert driver is not None  # run() sets it before every switch in
            fn, args, kwargs = driver.switch()


class _Idle(threading.local):
    def __init__(self) -> None:
        self.workers: list[_Worker] = []
        self.loop: asyncio.AbstractEventLoop | None = None  # set while loop_thread() runs a call here


_idle = _Idle()
#: Idle workers kept per thread; more concurrent calls than this create (and then drop) extra workers.
MAX_IDLE_WORKERS = 256


def in_bridge() -> bool:
    """Whether the caller runs inside a bridged call (so :func:`await_` may be used)."""
    return isinstance(greenlet.getcurrent(), _Worker)


def target_loop() -> asyncio.AbstractEventLoop | None:
    """The loop :func:`await_` would await on here: the running loop, else the loop of a :func:`loop_thread`
    block (None outside both)."""
    return asyncio._get_running_loop() or _idle.loop


def require_loop() -> asyncio.AbstractEventLoop:
    """:func:`target_loop`, or the ``RuntimeError`` :func:`await_` raises outside a bridged call."""
    loop = target_loop()
    if loop is None:
        raise RuntimeError(_OUTSIDE)
    return loop


_OUTSIDE = (
    "polykv.aio.bridge.await_ called outside a bridged call: this store's I/O needs the event "
    "loop; use it through polykv.aio (await store.get(...)), not through its synchronous methods"
)


@contextmanager
def loop_thread(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """While the block runs (in a thread other than ``loop``'s), :func:`await_` in this thread runs its
    awaitable on ``loop`` and waits for it."""
    previous, _idle.loop = _idle.loop, loop
    try:
        yield
    finally:
        _idle.loop = previous


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def await_(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` on the event loop from synchronous code running under :func:`run` (or in a
    :func:`loop_thread`), and return its result or raise its exception. ``RuntimeError`` anywhere else,
    since nothing could await it there."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Worker):
        loop = _idle.loop
        if loop is not None:
            coroutine: Coroutine[Any, Any, T] = _awaited(awaitable)
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result()
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()  # never leave a coroutine un-awaited behind the error
        raise RuntimeError(_OUTSIDE)
    driver = current.parent
    assert driver is not None  # run() sets it before every switch in
    kind, payload = driver.switch((_AWAIT, awaitable))
    if kind == _RAISE:
        raise payload
    result: T = payload
    return result


async def run(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)`` in a worker greenlet, awaiting on the loop each awaitable it passes to
    :func:`await_`; return its result or raise its exception. Cancelling the calling task raises
    ``CancelledError`` inside ``fn`` at its pending ``await_``, so its ``finally`` blocks run."""
    idle = _idle.workers
    worker = idle.pop() if idle else _Worker()
    worker.parent = greenlet.getcurrent()
    step = worker.switch(fn, args, kwargs)
    try:
        while step:  # an awaitable handed over by await_
            _, awaitable = step
            try:
                value = await awaitable
            except BaseException as exc:
                del awaitable
                step = worker.switch((_RAISE, exc))
            else:
                del awaitable
                step = worker.switch((_RETURN, value))
                del value
    finally:
        if not step and len(idle) < MAX_IDLE_WORKERS:
            idle.append(worker)
        # a worker left suspended (the task was torn down between switches) is dropped; greenlet then
        # raises GreenletExit inside it when it is collected, which unwinds fn's finally blocks
    reply, worker.reply = worker.reply, None
    assert reply is not None
    kind, payload = reply
    del reply
    if kind == _RAISE:
        raise payload
    result: T = payload
    return result
