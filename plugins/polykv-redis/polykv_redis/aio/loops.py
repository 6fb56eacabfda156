"""Which event loop a ``redis.asyncio`` connection belongs to, and what happens to it when that loop closes.

redis-py's asyncio connections belong to the loop that opened them. A store kept across ``asyncio.run``
calls (a module-level store, a test per loop) meets a new loop while its pool still holds sockets of a closed
one: used there, a command was written and its reply then awaited on the closed loop (``RuntimeError: Event
loop is closed``, the write applied anyway). So the asyncio face keeps each loop's connections apart
(``LoopConnections``), and closes those of a loop that has closed without it (``drop_connection``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from redis.asyncio.connection import AbstractConnection

from polykv.aio.bridge import target_loop

from .gate import FairGate

__all__ = ["LoopConnections", "drop_connection", "loop_of_caller"]

#: The loop whose tasks await the caller's I/O: the running one, or for a worker thread of ``polykv.aio``
#: the loop its ``await_`` hands awaitables to (None outside both).
loop_of_caller = target_loop


class LoopConnections:
    """One event loop's connections in a pool: ``gate`` bounds those checked out, ``free`` holds the idle
    ones (right end: most recently returned), ``every`` all of them, ``closing`` their pending closes."""

    __slots__ = ("closing", "every", "free", "gate", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, gate: FairGate) -> None:
        self.loop = loop
        self.gate = gate
        self.free: deque[AbstractConnection] = deque()
        self.every: set[AbstractConnection] = set()
        self.closing: set[asyncio.Task[None]] = set()


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
