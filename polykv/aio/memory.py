"""The memory store's async face: the same store, run on the loop through the bridge; a watcher that
waits for a change awaits it on the loop instead of blocking on a ``threading.Condition``."""

from __future__ import annotations

import asyncio

from ..backends.memory import MemoryStore
from ..changes import RawChange
from .bridge import await_, in_bridge

__all__ = ["AsyncMemoryStore"]


class AsyncMemoryStore(MemoryStore):
    """``MemoryStore`` whose change-feed wait is an awaitable; nothing else in it ever waits."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def _wake_log_waiters(self) -> None:
        super()._wake_log_waiters()
        for loop, waiter in self._async_waiters:
            loop.call_soon_threadsafe(_settle, waiter)
        self._async_waiters.clear()

    def _changes(self, since: str, limit: int, wait: float) -> list[RawChange]:
        found = super()._changes(since, limit, 0)
        if found or wait <= 0 or not in_bridge():
            return found if found or wait <= 0 else super()._changes(since, limit, wait)
        await_(self._wait_for_change(since, wait))
        return super()._changes(since, limit, 0)

    async def _wait_for_change(self, since: str, wait: float) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._change_head() != since:  # a change came in since the first look
                return
            self._async_waiters.add((loop, waiter))
            self._log_waiters += 1
        try:
            await asyncio.wait_for(waiter, wait)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._lock:
                self._log_waiters -= 1
                self._async_waiters.discard((loop, waiter))


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
