"""``AsyncDirectCommands``: ``DirectCommands``' packed bytes, sent on ``redis.asyncio`` connections.

Everything ``DirectCommands`` does (which command, how its arguments are framed, how its reply is read) is
inherited; only its two connection methods are replaced: a connection comes from the store's
``PolyAsyncConnectionPool`` (``take``: no await when one is free and open), the round trip is one awaited
coroutine (``pool.request`` / ``pool.request_many``, which disconnect on any interruption), and the
connection goes back (``give``) whatever happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import exceptions as rexc

from polykv.aio.bridge import await_

from ..commands import DirectCommands
from .pool import request, request_many

__all__ = ["AsyncDirectCommands"]


def execute(client: Any, packed: bytes) -> Any:
    """``direct.execute`` on the asyncio pool: one packed command, its raw reply."""
    pool = client.connection_pool
    connection = pool.take()
    try:
        return await_(request(connection, packed))
    finally:
        pool.give(connection)


def execute_many(client: Any, packed: Sequence[bytes], raise_on_error: bool = True) -> list[Any]:
    """``direct.execute_many`` on the asyncio pool: the commands in one write, every reply read."""
    pool = client.connection_pool
    connection = pool.take()
    try:
        replies = await_(request_many(connection, b"".join(packed), len(packed)))
    finally:
        pool.give(connection)
    if raise_on_error:
        for reply in replies:
            if isinstance(reply, rexc.ResponseError):
                raise reply
    return replies


class AsyncDirectCommands(DirectCommands):
    """``DirectCommands`` over ``redis.asyncio``: the same commands, awaited on the event loop."""

    execute = staticmethod(execute)
    execute_many = staticmethod(execute_many)
