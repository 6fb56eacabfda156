"""``SignallingWaiters``: a connection pool's real waiter line that tells a test when a caller joined it.

A test that must know a thread is waiting for a connection (to check who is served first, or that a waiter
gives up in time) puts one of these in place of a pool's ``WaiterQueue`` (polykv's own tests set
``PooledConnectorManager._waiters``; polykv-redis's set its pool's ``waiters``) and acquires ``joined`` once
per expected waiter, with a timeout, instead of sleeping and hoping.
"""

from __future__ import annotations

import threading

from ..handoff import Waiter, WaiterQueue

__all__ = ["SignallingWaiters"]


class SignallingWaiters(WaiterQueue):
    """The pool's real waiter line, plus a semaphore (``joined``) released whenever a caller has joined it."""

    def __init__(self) -> None:
        super().__init__()
        self.joined = threading.Semaphore(0)

    def join(self) -> Waiter:
        waiter = super().join()
        self.joined.release()
        return waiter
