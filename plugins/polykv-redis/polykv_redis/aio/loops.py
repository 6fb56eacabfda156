"""Which event loop a ``redis.asyncio`` connection belongs to, and what happens to it when that loop closes.

redis-py's asyncio connections belong to the loop that opened them. A store kept across ``asyncio.run``
calls (a module-level store, a test per loop) meets a new loop while its pool still holds sockets of a closed
one: used there, a command was written and its reply then awaited on the closed loop (``RuntimeError: Event
loop is closed``, the write applied anyway). So the asyncio face keeps each loop's connections apart
(``PerLoop``: a pool's ``LoopConnections``, a cluster's client), and closes those of a loop that has closed
without it (``drop_connection``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from redis.asyncio.connection import AbstractConnection

from polykv.aio.bridge import require_loop

from .gate import FairGate

__all__ = ["LoopConnections", "PerLoop", "drop_connection", "drop_connections"]

V = TypeVar("V")


class PerLoop(Generic[V]):
    """One value per event loop: ``make()`` builds the caller's loop's on its first call, and the values of
    loops that have closed are handed to ``drop`` (which closes their sockets without the loop) when a
    loop next asks for its own. ``here`` is ``(loop, value)`` of the last loop asked for: callers compare
    it with the running loop and use ``value`` (no lock, no lookup), else call ``get()``."""

    __slots__ = ("_drop", "_lock", "_make", "_values", "here")

    def __init__(self, make: Callable[[], V], drop: Callable[[V], None]) -> None:
        self._make = make
        self._drop = drop
        self._values: dict[asyncio.AbstractEventLoop, V] = {}
        self._lock = threading.Lock()
        self.here: tuple[asyncio.AbstractEventLoop | None, V | None] = (None, None)

    def get(self) -> V:
        """The value of the loop whose tasks await the caller's I/O (the running loop, or a ``polykv.aio``
        worker thread's); outside both, the ``RuntimeError`` of ``polykv.aio.bridge.await_``."""
        loop = require_loop()
        with self._lock:
            for old in [old for old in self._values if old.is_closed()]:
                self._drop(self._values.pop(old))  # a loop that closed: its value cannot be used any more
            value = self._values.get(loop)
            if value is None:
                value = self._values[loop] = self._make()
            self.here = (loop, value)
        return value

    def items(self) -> list[tuple[asyncio.AbstractEventLoop, V]]:
        """Every loop's value (a snapshot)."""
        return list(self._values.items())

    def forget(self, loop: asyncio.AbstractEventLoop) -> None:
        """Drop ``loop``'s value (after it was closed by the caller)."""
        with self._lock:
            self._values.pop(loop, None)
            if self.here[0] is loop:
                self.here = (None, None)


class LoopConnections:
    """One event loop's connections in a pool: ``gate`` bounds those checked out, ``free`` holds the idle
    ones (right end: most recently returned), ``every`` all of them, ``closing`` their pending closes."""

    __slots__ = ("closing", "every", "free", "gate")

    def __init__(self, gate: FairGate) -> None:
        self.gate = gate
        self.free: deque[AbstractConnection] = deque()
        self.every: set[AbstractConnection] = set()
        self.closing: set[asyncio.Task[None]] = set()


def drop_connections(connections: LoopConnections) -> None:
    """``drop_connection`` for every connection of a loop that has closed."""
    for connection in connections.every:
        drop_connection(connection)


def drop_connection(connection: Any) -> None:
    """Close a ``redis.asyncio`` connection of a loop that has closed, without that loop.

    redis-py's ``_close`` asks the transport to close, which schedules the socket's close on the transport's
    loop; a closed loop refuses (``RuntimeError``), so the socket, which the transport would close in
    ``_call_connection_lost``, is closed here."""
    writer = getattr(connection, "_writer", None)
    if writer is None:
        return
    transport = writer.transport
    with contextlib.suppress(RuntimeError):
        transport.close()
    sock = getattr(transport, "_sock", None)  # asyncio's selector transports keep the socket here
    if sock is not None:
        sock.close()
        transport._sock = None  # as _call_connection_lost leaves it: no "unclosed transport" warning
    connection._writer = connection._reader = None
