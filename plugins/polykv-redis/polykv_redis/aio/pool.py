"""``PolyAsyncConnectionPool``: the asyncio twin of ``PolyBlockingConnectionPool``, and the cancellation-safe
round trips the asyncio face sends on its connections.

Same contract as the blocking pool: at most ``max_connections`` connections, callers served in arrival order
(``FairGate``), ``PoolTimeoutError`` after ``timeout`` seconds of waiting, idle stamps so idle connections
get closed, ``stats()``. ``take``/``give`` are synchronous and are called from the store's one synchronous
source running under ``polykv.aio.bridge``: taking a free, open connection costs no await; only a wait for
a free connection or a (re)connect goes through ``await_``. ``get_connection``/``release`` serve the same
pool to a ``redis.asyncio.Redis`` client (the change feed's XREAD/XRANGE go through redis-py's client).

Cancellation: ``request``/``request_many`` send one buffer and read every reply it asks for; if anything but
a complete error reply interrupts them (a cancelled task, a timeout, a dropped connection) the connection is
disconnected before it goes back, so no later command can read a reply meant for an earlier one. A buffer is
written to the transport in one call, so a cancelled batch reaches the server whole or (the connection lost
mid-write) as the prefix the sync face would also have sent; a single command (MSET, a script) is all or
nothing either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar

import redis.asyncio
from redis import exceptions as rexc
from redis.asyncio.connection import AbstractConnection

from polykv.aio.bridge import await_

from .gate import FairGate
from .loops import LoopConnections, PerLoop, drop_connection, drop_connections

__all__ = ["PolyAsyncConnectionPool", "request", "request_many"]


async def _send(connection: AbstractConnection, packed: bytes) -> None:
    """Write one buffer on ``connection``: handed to the transport in one call, so a cancellation can never
    leave part of it unsent while the rest goes out later.

    redis-py's ``send_packed_command`` runs the write in ``asyncio.wait_for``, which before Python 3.12 makes
    a Task per command and, when the caller is cancelled just after the write, swallows the cancellation
    (the caller carries on as if never cancelled; CPython gh-86296). Here the write is immediate and only a
    full transport buffer is awaited, within the socket timeout. A connection redis-py must connect first, or
    that has a health check interval, goes through ``send_packed_command`` itself."""
    writer = getattr(connection, "_writer", None)
    if writer is None or connection.health_check_interval:
        await connection.send_packed_command(packed)
        return
    try:
        writer.write(packed)
        if writer.transport.get_write_buffer_size():
            await asyncio.wait_for(writer.drain(), connection.socket_timeout)
    except asyncio.TimeoutError:
        raise rexc.TimeoutError("Timeout writing to socket") from None
    except OSError as exc:
        raise rexc.ConnectionError(f"Error while writing to socket: {exc}") from exc


async def request(connection: AbstractConnection, packed: bytes) -> Any:
    """Send one packed command on ``connection`` and return its raw reply (error replies raised as redis-py's
    ``ResponseError``s, the connection then still clean); on any other exit the connection is disconnected."""
    try:
        await _send(connection, packed)
        return await connection.read_response()
    except rexc.ResponseError:
        raise
    except BaseException:
        await connection.disconnect(nowait=True)  # an unread reply must never meet the next command
        raise


async def request_many(connection: AbstractConnection, packed: bytes, count: int) -> list[Any]:
    """Send ``count`` packed commands (one buffer) and read all ``count`` replies, error replies in place (as
    ``ResponseError`` instances); on any other exit the connection is disconnected."""
    try:
        await _send(connection, packed)
        replies: list[Any] = []
        read = connection.read_response
        for _ in range(count):
            try:
                replies.append(await read())
            except rexc.ResponseError as exc:
                replies.append(exc)
        return replies
    except BaseException:
        await connection.disconnect(nowait=True)
        raise


_running_loop = asyncio._get_running_loop  # C-level, for take()'s check


def _usable(connection: AbstractConnection) -> bool:
    """Open, not marked for reconnection by redis-py, and not closed by the server while it sat in the pool
    (its stream saw EOF): checked without an await, unlike redis-py's ``can_read``, which costs a turn of the
    loop. Unread data cannot be there: every round trip here reads all it asked for or disconnects."""
    reader = getattr(connection, "_reader", None)
    return reader is not None and not reader.at_eof() and not connection.should_reconnect()  # type: ignore[no-untyped-call]


class PolyAsyncConnectionPool(redis.asyncio.ConnectionPool):
    """redis-py's asyncio pool with the blocking pool's polykv rules: fair bounded waits, ``PoolTimeoutError``,
    idle closing, stats, and synchronous ``take``/``give`` for bridged code. ``timeout`` is the longest wait
    for a free connection (seconds); the other keywords are ``redis.asyncio.ConnectionPool``'s.

    redis-py's asyncio connections belong to the loop that opened them, so each event loop the pool serves
    has its own connections, at most ``max_connections`` (``LoopConnections``); those of a loop that has
    closed are closed without it when another loop next takes one (``polykv_redis.aio.loops``)."""

    #: The backend named in ``PoolTimeoutError``.
    backend_name: ClassVar[str] = "redis"

    def __init__(self, *, timeout: float = 20.0, idle_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeout = timeout
        #: Connections unused this long (seconds) are closed when the pool is next used (None: never).
        self.idle_timeout = idle_timeout
        self._loops: PerLoop[LoopConnections] = PerLoop(self._new_loop_connections, drop_connections)

    def _new_loop_connections(self) -> LoopConnections:
        gate = FairGate(self.max_connections, self.timeout, what="Redis connection", backend=self.backend_name)
        return LoopConnections(gate)

    # -- bridged (synchronous) checkout -------------------------------------------------------------
    def take(self) -> AbstractConnection:
        """An open connection, yours until ``give``. Inside a bridged call only; waits (``await_``) for a
        free one or to (re)connect."""
        loop, here = self._loops.here
        if loop is None or loop is not _running_loop():  # a worker thread, or another loop
            here = self._loops.get()
        assert here is not None
        if here.gate.try_enter():
            free = here.free
            if free:
                connection = free.pop()
                if _usable(connection):
                    return connection  # open, and not closed by the server meanwhile: no await at all
                return await_(self._ready(here, connection))
            return await_(self._ready(here, None))
        return await_(self._acquire(here))

    def give(self, connection: AbstractConnection) -> None:
        """Return what ``take`` handed out (to the longest waiter of its loop first). Never suspends."""
        home: LoopConnections = connection._polykv_home  # type: ignore[attr-defined]
        now = time.monotonic()
        connection._polykv_idle_since = now  # type: ignore[attr-defined]
        free = home.free
        free.append(connection)
        home.gate.leave()
        idle = self.idle_timeout
        if idle is not None and now - getattr(free[0], "_polykv_idle_since", now) > idle:
            self._reap(home, idle)

    async def _acquire(self, here: LoopConnections) -> AbstractConnection:
        await here.gate.enter()
        return await self._ready(here, here.free.pop() if here.free else None)

    async def _ready(self, here: LoopConnections, connection: AbstractConnection | None) -> AbstractConnection:
        """``connection`` (or a new one) open; the caller holds a place of ``here``'s gate, which is given
        back (with the connection object, closed) if this fails or is cancelled."""
        try:
            if connection is None:
                fresh: Any = self.make_connection()  # type: ignore[no-untyped-call]
                fresh._polykv_home = here  # give() returns it to its own loop's connections
                here.every.add(fresh)
                connection = fresh
            if connection.is_connected and not _usable(connection):
                await connection.disconnect(nowait=True)  # closed by the server, or marked by redis-py
            if not connection.is_connected:
                await connection.connect()
            return connection
        except BaseException:
            if connection is not None:
                if connection.is_connected:
                    await connection.disconnect(nowait=True)
                here.free.append(connection)  # closed: whoever takes it next connects afresh
            here.gate.leave()
            raise

    # -- redis.asyncio.Redis's interface (the change feed's commands) -------------------------------
    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        """Check a connection out for a ``redis.asyncio.Redis`` command (the same fair, bounded wait)."""
        here = self._loops.get()
        if here.gate.try_enter():
            return await self._ready(here, here.free.pop() if here.free else None)
        return await self._acquire(here)

    async def release(self, connection: AbstractConnection) -> None:
        """Return a connection ``get_connection`` handed out (redis-py disconnected it after a fault)."""
        self.give(connection)

    # -- idle connections, stats, shutdown ----------------------------------------------------------
    def _reap(self, here: LoopConnections, idle_timeout: float) -> int:
        """On ``here``'s loop: close its free connections unused for ``idle_timeout`` s (never checked-out
        ones)."""
        now = time.monotonic()
        free = here.free
        closed = 0
        while free and now - getattr(free[0], "_polykv_idle_since", now) > idle_timeout:
            connection = free.popleft()
            here.every.discard(connection)
            if connection.is_connected:
                task = asyncio.ensure_future(connection.disconnect(nowait=True))
                here.closing.add(task)
                task.add_done_callback(here.closing.discard)
                closed += 1
        return closed

    def reap_idle(self, idle_timeout: float) -> int:
        """Close free connections idle longer than ``idle_timeout`` seconds; return how many closed now.
        For a loop other than the caller's (the connection manager's reaper thread) it is scheduled on that
        loop and not counted."""
        running = asyncio._get_running_loop()
        closed = 0
        for loop, here in self._loops.items():
            if loop is running:
                closed += self._reap(here, idle_timeout)
            elif not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: its connections went with it
                    loop.call_soon_threadsafe(self._reap, here, idle_timeout)
        return closed

    def stats(self) -> dict[str, int]:
        """``total`` connection objects, ``open`` sockets, ``in_use`` and ``idle`` counts, over every loop."""
        totals = {"total": 0, "open": 0, "in_use": 0, "idle": 0}
        for _, here in self._loops.items():
            totals["total"] += len(here.every)
            totals["open"] += sum(1 for c in list(here.every) if c.is_connected)
            totals["in_use"] += here.gate.held
            totals["idle"] += len(here.free)
        return totals

    async def disconnect(self, inuse_connections: bool = True) -> None:
        """Close every connection of the caller's loop (checked-out ones too) and, without awaiting, those of
        other loops that have closed; each reconnects when next used."""
        running = asyncio.get_running_loop()
        for loop, here in self._loops.items():
            connections = list(here.every) if inuse_connections else list(here.free)
            if loop is running:
                for connection in connections:
                    await connection.disconnect()
            elif loop.is_closed():
                for connection in connections:
                    drop_connection(connection)

    def close_now(self) -> None:
        """Close every connection without awaiting (outside any bridged call, e.g. ``store.close()`` from
        synchronous code): redis-py's own silent close, as its connections' finalizers do; a closed loop's
        sockets are closed without it."""
        for loop, here in self._loops.items():
            for connection in list(here.every):
                if loop.is_closed():
                    drop_connection(connection)
                elif connection.is_connected:
                    with contextlib.suppress(RuntimeError):
                        connection._close()  # type: ignore[no-untyped-call]
