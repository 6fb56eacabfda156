"""Fair hand-off for pools: waiters are served in arrival order.

A plain condition variable lets a thread that returns a connection take it straight back before the
thread it woke runs, and a woken thread that finds nothing queues again at the back; under CPU load one
waiter can starve for seconds. Here a returned item goes directly to the longest-waiting thread instead.
``WaiterQueue`` is the building block (the caller's lock guards it); ``HandOffQueue`` is a drop-in
``queue.LifoQueue`` built on it, for client libraries that take a queue class (redis-py's
``BlockingConnectionPool(queue_class=...)``).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from typing import Any, Generic, TypeVar

__all__ = ["HandOffQueue", "Waiter", "WaiterQueue"]

T = TypeVar("T")


class Waiter:
    """One blocked caller: ``wait`` blocks until ``serve`` hands it an item or the timeout passes."""

    __slots__ = ("_gate", "item", "served")

    def __init__(self) -> None:
        self._gate = threading.Lock()
        self._gate.acquire()
        self.item: Any = None
        self.served = False

    def serve(self, item: Any) -> None:
        """Give ``item`` to this waiter and wake it (called under the owner's lock)."""
        self.item = item
        self.served = True
        self._gate.release()

    def wait(self, timeout: float | None) -> bool:
        """Block until served (True) or ``timeout`` seconds pass (False; None waits for ever)."""
        if timeout is None:
            return self._gate.acquire()
        return self._gate.acquire(timeout=max(timeout, 0.0))


class WaiterQueue:
    """Waiters in arrival order. Not locked itself: the pool's own lock must be held around every call."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: deque[Waiter] = deque()

    def __len__(self) -> int:
        return len(self._waiters)

    def join(self) -> Waiter:
        """Queue a new waiter at the back and return it (then release the lock and ``wait`` on it)."""
        waiter = Waiter()
        self._waiters.append(waiter)
        return waiter

    def serve_first(self, item: Any) -> bool:
        """Hand ``item`` to the longest waiter; False when nobody waits."""
        if not self._waiters:
            return False
        self._waiters.popleft().serve(item)
        return True

    def leave(self, waiter: Waiter) -> None:
        """Withdraw a waiter that timed out before being served."""
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def clear(self) -> None:
        self._waiters.clear()


class HandOffQueue(queue.LifoQueue[T], Generic[T]):
    """``queue.LifoQueue`` (newest item first, so warm connections are reused) with FIFO waiters: ``put``
    hands its item straight to the longest-waiting ``get``, and ``get`` never overtakes a waiter."""

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self.waiters = WaiterQueue()

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Hand ``item`` to a waiter, or keep it; raises ``queue.Full`` when full (puts never block here:
        a pool only puts back what it handed out)."""
        with self.mutex:
            self.unfinished_tasks += 1
            if self.waiters.serve_first(item):
                return
            if 0 < self.maxsize <= self._qsize():
                self.unfinished_tasks -= 1
                raise queue.Full
            self._put(item)

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """The newest kept item; otherwise wait in line up to ``timeout`` seconds, then ``queue.Empty``."""
        with self.mutex:
            if self._qsize():  # items are kept only while nobody waits, so this never overtakes anyone
                return self._get()
            if not block:
                raise queue.Empty
            waiter = self.waiters.join()
        if waiter.wait(timeout):
            item: T = waiter.item
            return item
        with self.mutex:
            if waiter.served:  # served just as the timeout passed
                item = waiter.item
                return item
            self.waiters.leave(waiter)
        raise queue.Empty
