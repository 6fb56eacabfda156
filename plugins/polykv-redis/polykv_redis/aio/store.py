"""``AsyncRedisStore`` / ``AsyncRedisClusterStore``: the Redis stores with their I/O on ``redis.asyncio``.

They are ``RedisStore`` and ``RedisClusterStore`` themselves (key layout, Lua scripts, reply translation,
error mapping, retries, the one total deadline, the change feed and the key index are inherited, not
copied); each replaces only where bytes meet a socket:

- ``connector_class``: redis.asyncio clients behind ``BridgedClient``, a ``PolyAsyncConnectionPool`` for one
  server, ``asyncio.sleep`` between retries (``polykv_redis.aio.connector``);
- ``_commands``: ``AsyncDirectCommands``, the sync face's packed commands on that pool (one server only;
  the cluster keeps ``ClientCommands``, i.e. redis-py's asyncio cluster client routes each command);
- ``_node_client`` (cluster): one node of redis-py's asyncio cluster for SCAN and per-node script pipelines.

Their synchronous methods must run inside ``polykv.aio.bridge.run`` (that is what ``polykv.aio`` does);
called from plain synchronous code their first I/O raises ``RuntimeError``. Construction does no I/O.
"""

from __future__ import annotations

from typing import Any, ClassVar

from polykv.connectors import BackendConnectorBase

from ..cluster import RedisClusterStore
from ..commands import ClientCommands
from ..store import RedisStore
from .bridged import BridgedNode
from .commands import AsyncDirectCommands
from .connector import AsyncRedisClusterConnector, AsyncRedisConnector

__all__ = ["AsyncRedisClusterStore", "AsyncRedisStore"]


class AsyncRedisStore(RedisStore):
    """``RedisStore`` awaiting on ``redis.asyncio`` (``redis://`` / ``rediss://``): the same options and
    behaviour, for ``polykv.aio``. ``change_feed=True`` waits with XREAD BLOCK on the event loop."""

    connector_class: ClassVar[type[BackendConnectorBase]] = AsyncRedisConnector
    _commands: ClassVar[ClientCommands] = AsyncDirectCommands()


class AsyncRedisClusterStore(RedisClusterStore):
    """``RedisClusterStore`` awaiting on ``redis.asyncio.cluster`` (``redis+cluster://``): the same options;
    ``max_connections`` bounds the awaited cluster calls at once (``AsyncRedisClusterConnector``)."""

    connector_class: ClassVar[type[BackendConnectorBase]] = AsyncRedisClusterConnector

    def _node_client(self, client: Any, node: Any) -> BridgedNode:
        return BridgedNode(node, client.gate)
