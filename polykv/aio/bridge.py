"""The bridge that lets polykv's one synchronous source run on an event loop with native asyncio I/O.

polykv writes every store's logic (validation, codecs, records, filters, scripts, key layout, retries) once,
as ordinary functions. An async store runs that same code inside a worker greenlet; where the code reaches
its I/O boundary it calls :func:`await_` with an awaitable (a ``redis.asyncio`` command, an s3fs coroutine,
an ``asyncio.sleep``), which suspends the greenlet and hands the awaitable to the task that called
:func:`run`; the task awaits it on the loop and switches the result (or the exception, cancellation
included) back in. This is the technique of SQLAlchemy's asyncio extension, built on the ``greenlet``
package. The cost is two greenlet switches per call and two per await, about a microsecond: worker greenlets
are reused from a per-thread free list, because creating one costs ten times a switch.

``run(fn, *args)`` is the only way in; ``await_`` outside a bridged call raises ``RuntimeError``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import greenlet

__all__ = ["await_", "in_bridge", "run"]

T = TypeVar("T")

# what a worker switches back to the task that drives it: (kind, payload)
_AWAIT, _RETURN, _RAISE = 0, 1, 2


class _Worker(greenlet.greenlet):
    """A reusable greenlet: runs one bridged call at a time, switching each awaitable to its driver."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(self._serve)

    def _serve(self, job: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]) -> None:
        while True:
            fn, args, kwargs = job
            try:
                reply: tuple[int, Any] = (_RETURN, fn(*args, **kwargs))
            except BaseException as exc:  # handed to the driver, which raises it in the calling task
                reply = (_RAISE, exc)
            del fn, args, kwargs
            driver = self.parent
            assert driver is not None  # run() sets it before every switch in
            job = driver.switch(reply)


class _Idle(threading.local):
    def __init__(self) -> None:
        self.workers: list[_Worker] = []


_idle = _Idle()
#: Idle workers kept per thread; more concurrent calls than this create (and then drop) extra workers.
MAX_IDLE_WORKERS = 256


def in_bridge() -> bool:
    """Whether the caller runs inside a bridged call (so :func:`await_` may be used)."""
    return isinstance(greenlet.getcurrent(), _Worker)


def await_(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` on the event loop from synchronous code running under :func:`run`, and return
    its result (or raise its exception). ``RuntimeError`` outside a bridged call, since nothing could
    await it there."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Worker):
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()  # never leave a coroutine un-awaited behind the error
        raise RuntimeError(
            "polykv.aio.bridge.await_ called outside a bridged call: this store's I/O needs the event "
            "loop; use it through polykv.aio (await store.get(...)), not through its synchronous methods"
        )
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
    kind, payload = worker.switch((fn, args, kwargs))
    try:
        while kind == _AWAIT:
            try:
                value = await payload
            except BaseException as exc:
                del payload
                kind, payload = worker.switch((_RAISE, exc))
            else:
                del payload
                kind, payload = worker.switch((_RETURN, value))
    finally:
        if kind != _AWAIT and len(idle) < MAX_IDLE_WORKERS:
            idle.append(worker)
        # a worker left suspended (the task was torn down between switches) is dropped; greenlet then
        # raises GreenletExit inside it when it is collected, which unwinds fn's finally blocks
    if kind == _RAISE:
        raise payload
    result: T = payload
    return result
