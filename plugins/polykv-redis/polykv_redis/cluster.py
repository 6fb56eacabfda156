"""``redis_cluster``: the Redis store on a Redis Cluster (``redis+cluster://`` / ``rediss+cluster://``).

Same layout and scripts as ``redis``: each script touches one hash tag, so it runs in one slot. Batches
use redis-py's non-atomic cross-slot forms (``mget_nonatomic``/``mset_nonatomic``, cluster pipelines);
SCAN runs on every primary.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from redis import exceptions as rexc

from polykv.capabilities import Capability
from polykv.connectors import BackendConnectorBase
from polykv.errors import NotSupportedError

from .commands import ClientCommands
from .connector import RedisClusterConnector
from .scripts import LuaScript
from .store import SCAN_COUNT, RedisStore

__all__ = ["RedisClusterStore"]


class RedisClusterStore(RedisStore):
    """A polykv store on a Redis Cluster; reach it through any node (``host``/``port``).

    ``max_connections`` is per node. Multi-key batches are not atomic across slots (nor are they on a
    single server: MSET is, pipelines are not). No change feed (``watch``): see ``RedisStore``'s
    ``change_feed``; a cluster cannot append to one stream atomically with writes in other slots.
    """

    _backend_type = "redis_cluster"
    url_schemes = ("redis+cluster", "rediss+cluster")
    #: The asyncio face (``polykv.aio``): redis-py's asyncio cluster client under the same store logic.
    async_face = "polykv_redis.aio:AsyncRedisClusterStore"
    connector_class: ClassVar[type[BackendConnectorBase]] = RedisClusterConnector
    _cluster_client: ClassVar[bool] = True
    #: Commands through ``RedisCluster``'s methods: it routes each by slot and follows MOVED/ASK.
    _commands: ClassVar[ClientCommands] = ClientCommands()

    def __init__(self, host: str = "127.0.0.1", port: int = 6379, db: int = 0, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("change_feed"):
            raise NotSupportedError(
                "redis_cluster has no change feed: one stream lives in one slot, and a script cannot write it "
                "atomically together with keys in other slots (use a single Redis server for watch)",
                capability=str(Capability.WATCH),
                backend=self._backend_type,
            )
        if kwargs.get("key_index"):
            raise NotSupportedError(
                "redis_cluster has no ordered key index: KV keys carry no hash tag, so they spread over every slot "
                "and no script can update one sorted set together with them; listings SCAN every primary",
                capability="key_index",
                backend=self._backend_type,
            )
        super().__init__(host, port, db, *args, **kwargs)
        self._where = self._where.replace("redis", "redis+cluster", 1)

    def _node_client(self, client: Any, node: Any) -> Any:
        """A client for one node of the cluster (``scan``, ``pipeline`` of EVALSHA, ``script_load``): the one
        place the store reaches past ``RedisCluster``'s slot routing (overridden by the asyncio face)."""
        return client.get_redis_connection(node)

    def _mget(self, client: Any, names: Sequence[str]) -> list[bytes | None]:
        result: list[bytes | None] = client.mget_nonatomic(names)
        return result

    def _mset(self, client: Any, names: list[str], datas: list[bytes]) -> None:
        client.mset_nonatomic(dict(zip(names, datas, strict=True)))

    def _eval_many(
        self,
        client: Any,
        calls: Sequence[tuple[LuaScript, Sequence[str], Sequence[Any]]],
        raise_on_error: bool = True,
    ) -> list[Any]:
        """Scripts grouped by the node serving their slot, one pipeline per node (redis-py's cluster
        pipeline refuses EVALSHA); a script answered with a redirection (MOVED/ASK) runs again singly."""
        by_node: dict[str, list[int]] = {}
        nodes: dict[str, Any] = {}
        for i, (_, keys, _) in enumerate(calls):
            node = client.nodes_manager.get_node_from_slot(client.keyslot(keys[0]))
            by_node.setdefault(node.name, []).append(i)
            nodes[node.name] = node
        results: list[Any] = [None] * len(calls)
        for name, indexes in by_node.items():
            node_client = self._node_client(client, nodes[name])
            replies = super()._eval_many(node_client, [calls[i] for i in indexes], raise_on_error=False)
            for i, reply in zip(indexes, replies, strict=True):
                if isinstance(reply, rexc.ResponseError) and str(reply).startswith(("MOVED", "ASK", "TRYAGAIN")):
                    script, keys, args = calls[i]
                    reply = self._eval(client, script, keys, args)
                elif isinstance(reply, Exception) and raise_on_error:
                    raise reply
                results[i] = reply
        return results

    def _unlink(self, names: list[str], ns: str) -> None:
        self._run(lambda c: c.delete(*names), ns=ns)  # RedisCluster splits DEL by slot; it has no such UNLINK

    def _scan_names(self, pattern: str) -> Iterator[str]:
        """SCAN every primary, one call per batch; keys are returned once each."""
        seen: set[bytes] = set()
        primaries = self._run(lambda c: [n.name for n in c.get_primaries()])
        for node_name in primaries:
            cursor = 0
            while True:

                def scan(c: Any, cur: int = cursor, node_name: str = node_name) -> Any:
                    node = c.get_node(node_name=node_name)
                    return self._node_client(c, node).scan(cur, match=pattern, count=SCAN_COUNT)

                cursor, batch = self._run(scan)
                for raw in batch:
                    if raw not in seen:
                        seen.add(raw)
                        yield raw.decode("utf-8")
                if cursor == 0:
                    break
