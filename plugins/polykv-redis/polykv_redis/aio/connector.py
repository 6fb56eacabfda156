"""Connectors of the asyncio face: ``RedisConnector`` / ``RedisClusterConnector`` whose clients are
``redis.asyncio``'s, seen through ``BridgedClient``. (The manager's waits between retries go through
``polykv.pausing``, which ``polykv.aio`` makes an ``asyncio.sleep`` inside a bridged call.)

``connect`` does no I/O and never awaits: the connection manager calls it under a thread lock, which a
suspended greenlet would hold while other tasks of the same loop thread block on it. A pool connects
lazily; a cluster client initializes (discovers its slots) on its first use (``BridgedCluster``). Settings, fault
classification (``is_transient``, ``was_sent``, ``timed_out``) and pool sizing are the sync connectors'.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from polykv.aio.bridge import await_, in_bridge

from ..connector import RedisClusterConnector, RedisConnector
from .bridged import BridgedClient, BridgedCluster, drop_cluster
from .gate import FairGate
from .pool import PolyAsyncConnectionPool

__all__ = ["AsyncRedisClusterConnector", "AsyncRedisConnector"]


def _no_retry() -> Any:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Retry(NoBackoff(), 0)


class AsyncRedisConnector(RedisConnector):
    """One Redis server over ``redis.asyncio``: ``connect`` returns a ``BridgedClient`` on a
    ``PolyAsyncConnectionPool`` (``redis.asyncio.SSLConnection`` with ``ssl=True``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._apool: PolyAsyncConnectionPool | None = None
        self._idle_timeout: float | None = None

    def configure_pool(self, max_connections: int, connection_timeout: float, idle_timeout: float) -> None:
        super().configure_pool(max_connections, connection_timeout, idle_timeout)
        self._idle_timeout = idle_timeout

    def connect(self) -> Any:  # a BridgedClient
        import redis.asyncio

        kwargs = self._client_kwargs()
        kwargs.update(host=self.host, port=self.port or 6379, db=int(self.db or 0), retry=_no_retry())
        if self.ssl:
            kwargs["connection_class"] = redis.asyncio.SSLConnection
        kwargs.update(self._extra_options())
        kwargs.pop("pool_timeout", None)
        pool = PolyAsyncConnectionPool(idle_timeout=self._idle_timeout, **kwargs)
        self._apool = pool
        return BridgedClient(redis.asyncio.Redis(connection_pool=pool))

    def disconnect(self) -> None:
        pool, self._apool = self._apool, None
        self._connection = None
        if pool is None:
            return
        if in_bridge():
            await_(pool.disconnect())
        else:
            pool.close_now()

    def is_connected(self) -> bool:
        return self._apool is not None

    def reap_idle(self, idle_timeout: float) -> int:
        pool = self._apool
        return pool.reap_idle(idle_timeout) if pool is not None else 0

    def pool_stats(self) -> dict[str, int]:
        pool = self._apool
        return pool.stats() if pool is not None else {"total": 0, "open": 0, "in_use": 0, "idle": 0}

    def forget(self) -> None:
        self._apool = None
        super().forget()


class AsyncRedisClusterConnector(RedisClusterConnector):
    """A Redis Cluster over ``redis.asyncio.cluster.RedisCluster`` (slot routing, MOVED/ASK/TRYAGAIN handled
    by redis-py), seen through a ``BridgedCluster``: one client per event loop, each with a ``FairGate`` of
    ``max_connections`` places.

    redis-py's asyncio node pools raise ``MaxConnectionsError`` at once when full instead of waiting, so the
    bound is kept by the gate: at most ``max_connections`` awaited cluster calls at once, others wait in
    arrival order up to ``connection_timeout``, then ``PoolTimeoutError`` (as the sync store's node pools). A
    cross-slot command (``DEL`` of keys in several slots) may open one connection per slot for its call.
    """

    backend_name: ClassVar[str] = "redis_cluster"

    def connect(self) -> BridgedCluster:
        from redis.asyncio.cluster import RedisCluster

        kwargs = self._client_kwargs()
        kwargs.pop("timeout", None)
        kwargs.pop("max_connections", None)
        kwargs.update(host=self.host, port=self.port or 6379, ssl=self.ssl, retry=_no_retry())
        kwargs.update(self._extra_options())
        kwargs.pop("pool_timeout", None)

        def make_gate() -> FairGate:
            return FairGate(
                self._max_connections, self._pool_timeout, what="Redis Cluster connection", backend=self.backend_name
            )

        # no I/O here (the manager holds a thread lock around connect): each loop's client initializes on
        # its first use (BridgedCluster), and is built then too (it belongs to that loop)
        bridged = BridgedCluster(lambda: RedisCluster(**kwargs), make_gate)
        self._client = bridged
        return bridged

    def disconnect(self) -> None:
        bridged, self._client = self._client, None
        self._connection = None
        if bridged is None:
            return
        running = asyncio._get_running_loop()
        for loop, (client, _) in bridged.loops.items():
            if loop is running and in_bridge():
                await_(client.aclose())
            elif loop.is_closed():
                drop_cluster(client)
            else:  # another loop's, or outside the loop's tasks: close the nodes' sockets without awaiting
                for node in list(client.nodes_manager.nodes_cache.values()):
                    for connection in list(getattr(node, "_connections", ())):
                        if connection.is_connected:
                            with contextlib.suppress(RuntimeError):
                                connection._close()
            bridged.loops.forget(loop)

    def reap_idle(self, idle_timeout: float) -> int:
        """Not available: redis-py's asyncio cluster nodes keep no idle stamps (their sockets stay open)."""
        return 0

    def pool_stats(self) -> dict[str, int]:
        bridged = self._client
        totals = {"total": 0, "open": 0, "in_use": 0, "idle": 0}
        if bridged is None:
            return totals
        for _, (client, _) in bridged.loops.items():
            for node in list(client.nodes_manager.nodes_cache.values()):
                connections = list(getattr(node, "_connections", ()))
                idle = len(getattr(node, "_free", ()))
                totals["total"] += len(connections)
                totals["open"] += sum(1 for c in connections if c.is_connected)
                totals["idle"] += idle
                totals["in_use"] += len(connections) - idle
        return totals
