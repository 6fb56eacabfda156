"""``gather_bounded``: run many calls concurrently on the event loop, at most ``limit`` at once, and leave
nothing running behind the caller.

fsspec's own multi-path helper (``fsspec.asyn._run_coros_in_chunks``, under ``_cat``, ``_pipe`` and ``_rm``) does
not cancel the requests it started when its caller is cancelled: they run on, so a cancelled ``set_many`` could
still land after a later ``set`` of the same key. Here cancelling the caller cancels every call and waits for
them before the cancellation goes on, as ``fileio.run_all`` does for threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

__all__ = ["gather_bounded"]

T = TypeVar("T")


async def gather_bounded(
    calls: Sequence[Callable[[], Awaitable[T]]], limit: int, *, return_exceptions: bool = False
) -> list[Any]:
    """``[await call() for call in calls]`` with up to ``limit`` calls running at once, results in order.

    A call's coroutine is created only when a slot is free. With ``return_exceptions`` an ``Exception`` a call
    raises is its result; without, the first one cancels the other calls, waits for them and is raised.
    Cancelling the caller cancels every call and waits for them all to end before ``CancelledError`` goes on.
    """
    if len(calls) <= 1 or limit <= 1:
        out: list[Any] = []
        for call in calls:
            try:
                out.append(await call())
            except Exception as exc:
                if not return_exceptions:
                    raise
                out.append(exc)
        return out
    results: list[Any] = [None] * len(calls)
    pending = iter(range(len(calls)))  # shared by the workers: each index is taken once

    async def worker() -> None:
        for index in pending:
            try:
                results[index] = await calls[index]()
            except Exception as exc:
                if not return_exceptions:
                    raise
                results[index] = exc

    workers = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(calls)))]
    try:
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    except BaseException:  # the caller was cancelled
        await _cancel_and_wait(workers)
        raise
    failed = next((task for task in workers if task in done and task.exception() is not None), None)
    if failed is not None:
        await _cancel_and_wait(workers)
        raise failed.exception()  # type: ignore[misc]
    return results


async def _cancel_and_wait(tasks: Sequence[asyncio.Future[None]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended; a cancellation of the caller meanwhile is held back
    until they have, then raised."""
    for task in tasks:
        task.cancel()
    interrupted = False
    while True:
        try:
            await asyncio.wait(tasks)
            break
        except asyncio.CancelledError:
            interrupted = True
    for task in tasks:  # mark every outcome retrieved ("exception was never retrieved" otherwise)
        if not task.cancelled():
            task.exception()
    if interrupted:
        raise asyncio.CancelledError
