"""``FairGate``: at most ``size`` holders at once on one event loop, waiters admitted in arrival order.

The asyncio counterpart of ``polykv.handoff``: a holder that leaves hands its place straight to the longest
waiter, so a task that arrives later never overtakes one that waits (``asyncio.Semaphore`` lets a newcomer
barge in before the waiter it woke runs). A wait ends after ``timeout`` seconds in ``PoolTimeoutError``.
``try_enter`` and ``leave`` never suspend, so the common case (a place is free) costs no await at all.
Used on one event loop only (not thread-safe, like every asyncio primitive).
"""

from __future__ import annotations

import asyncio
from collections import deque

from polykv.errors import PoolTimeoutError

__all__ = ["FairGate"]


def _expire(waiter: asyncio.Future[None], error: PoolTimeoutError) -> None:
    if not waiter.done():
        waiter.set_exception(error)


class FairGate:
    """``size`` places (>= 1); ``timeout`` seconds a waiter waits at most; ``what`` names the places in the
    ``PoolTimeoutError`` (e.g. ``"Redis connection"``), ``backend`` the store."""

    __slots__ = ("_waiters", "backend", "held", "size", "timeout", "what")

    def __init__(self, size: int, timeout: float, *, what: str = "connection", backend: str = "redis") -> None:
        self.size = size
        self.timeout = timeout
        self.what = what
        self.backend = backend
        #: Places taken now (a place handed to a waiter stays counted).
        self.held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """How many callers wait for a place now (cancelled or timed-out waiters excluded)."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    def try_enter(self) -> bool:
        """Take a place if one is free and nobody waits for one; never suspends."""
        waiters = self._waiters
        while waiters and waiters[0].done():  # cancelled or timed out: they wait no longer
            waiters.popleft()
        if self.held < self.size and not waiters:
            self.held += 1
            return True
        return False

    async def enter(self) -> None:
        """Take a place, waiting (in arrival order) up to ``timeout`` s; ``PoolTimeoutError`` after that.
        Cancelled while waiting, the caller holds no place (one handed to it meanwhile is passed on)."""
        if self.try_enter():
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        error = PoolTimeoutError(
            f"no {self.what} became free within {self.timeout:g}s (max_connections={self.size})",
            backend=self.backend,
        )
        timer = loop.call_later(self.timeout, _expire, waiter, error)
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.leave()  # served, then cancelled before it could run: pass the place on
            raise
        finally:
            timer.cancel()

    def leave(self) -> None:
        """Give a place back: to the longest waiter still waiting, else free it. Never suspends."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place changes hands: ``held`` stays as it is
                return
        self.held -= 1
