"""The direct command path: polykv's commands on a redis-py ``Connection``, not through ``Redis.execute_command``.

redis-py's ``Redis.execute_command`` spends about 137 Python calls per command (pool checkout and release
with observability hooks, a retry wrapper, event dispatch, response callbacks). polykv needs none of that
layer: its connection manager already retries (transient faults only, idempotent commands only, within one
total deadline) and it reads raw replies. So a command here is: check a connection out of the store's
``PolyBlockingConnectionPool`` (``take``: fair hand-off, fork check, connect, the "no stale data" check),
``Connection.send_packed_command`` (redis-py's health check, timeouts, TLS socket), ``Connection.read_response``
(redis-py's hiredis parser, error replies raised as redis-py exceptions), and give the connection back.
These are redis-py's public connection APIs; nothing here speaks to a socket itself.

Commands are packed once per call from byte heads built once at import (``head``), with the arguments'
RESP framing done by ``bulk``; any command with other argument types goes through ``Connection.pack_command``.

Replies are raw (RESP2 through hiredis): ``GET`` bytes or None, ``SET`` ``b"OK"`` or None (NX/XX not met),
``MGET`` a list, integers as int, ``SCAN`` ``[cursor bytes, [names]]``, error replies raised. The functions
take the ``redis.Redis`` client the manager publishes (``manager.direct``) or hands to an operation, so the
manager's retry machinery calls them like any other operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
from redis import exceptions as rexc

__all__ = [
    "bulk",
    "execute",
    "execute_many",
    "head",
    "pack",
    "pack_keys",
    "pack_pairs",
]


def head(name: bytes, argc: int) -> bytes:
    """The RESP head of a command of ``argc`` arguments, its name included (``*<argc>``, then the name)."""
    return b"*%d\r\n$%d\r\n%b\r\n" % (argc, len(name), name)


def bulk(value: str | bytes) -> bytes:
    """One RESP bulk string: ``$<len>\\r\\n<bytes>\\r\\n`` (a str is encoded as UTF-8, as redis-py's encoder does)."""
    data = value.encode() if isinstance(value, str) else value
    return b"$%d\r\n%b\r\n" % (len(data), data)


#: Heads of the fixed-arity commands the store sends most, and names of the variadic ones.
GET = head(b"GET", 2)
SET = head(b"SET", 3)
SET_PX = head(b"SET", 5)
DEL = head(b"DEL", 2)
PTTL = head(b"PTTL", 2)
PX = bulk(b"PX")
MGET_NAME = b"MGET"


def pack_keys(command: bytes, names: Sequence[str]) -> bytes:
    """``command name1 name2 ...`` as RESP (MGET, DEL, UNLINK...), packed by hiredis in C (what redis-py's
    hiredis serializer calls)."""
    packed: bytes = hiredis.pack_command((command, *names))  # type: ignore[arg-type]  # (its stub: 1-tuple)
    return packed


def pack_pairs(command: bytes, names: Sequence[str], datas: Sequence[bytes]) -> bytes:
    """``command name1 data1 name2 data2 ...`` as RESP (MSET), packed by hiredis."""
    flat: list[Any] = [None] * (2 * len(names))  # interleaved by slices, not per pair
    flat[::2] = names
    flat[1::2] = datas
    packed: bytes = hiredis.pack_command((command, *flat))
    return packed


def pack(args: Sequence[Any]) -> bytes:
    """Any command (``args[0]`` its name) as RESP: str/bytes arguments framed here, ints and floats as their
    decimal text (redis-py's ``Encoder`` rules); anything else raises ``redis.DataError``."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        kind = type(arg)
        if kind is bytes:
            parts.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
        elif kind is str:
            data = arg.encode()
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        elif kind is int or kind is float:
            data = repr(arg).encode()  # redis-py's Encoder: str(int), repr(float)
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        elif isinstance(arg, (bytes, bytearray, memoryview)):
            data = bytes(arg)
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
            data = (repr(float(arg)) if isinstance(arg, float) else str(int(arg))).encode()
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        else:
            raise rexc.DataError(f"invalid command argument of type {kind.__name__}")
    return b"".join(parts)


def execute(client: Any, packed: bytes) -> Any:
    """Send one packed command on a connection of ``client``'s pool and return its raw reply.

    Raises what redis-py's connection raises: ``ConnectionError``/``TimeoutError`` (the connection is then
    closed by redis-py and given back closed), ``ResponseError`` subclasses for error replies (the
    connection stays usable), ``PoolTimeoutError`` when no connection became free in time."""
    pool = client.connection_pool
    connection = pool.take()
    try:
        connection.send_packed_command((packed,))
        return connection.read_response()
    finally:
        pool.give(connection)


def execute_many(client: Any, packed: Sequence[bytes], raise_on_error: bool = True) -> list[Any]:
    """Send several packed commands in one write (a pipeline without MULTI) and read every reply.

    Every reply is read even after an error reply, so the connection is left clean; with
    ``raise_on_error`` the first error reply is then raised, otherwise error replies are returned in place
    (as ``ResponseError`` instances)."""
    pool = client.connection_pool
    connection = pool.take()
    try:
        connection.send_packed_command((b"".join(packed),))
        read = connection.read_response
        replies: list[Any] = []
        for _ in range(len(packed)):
            try:
                replies.append(read())
            except rexc.ResponseError as exc:
                replies.append(exc)
    finally:
        pool.give(connection)
    if raise_on_error:
        for reply in replies:
            if isinstance(reply, rexc.ResponseError):
                raise reply
    return replies
