"""``redis.asyncio`` clients seen as synchronous ones by the store's one synchronous source.

The shared store code calls a client's methods (``client.xread(...)``, ``client.mget_nonatomic(...)``,
``client.pipeline().execute()``) exactly as on redis-py's blocking clients. Inside a call run by
``polykv.aio.bridge.run`` these wrappers hand each coroutine of the asyncio client to ``await_``, so it is
awaited natively on the event loop, and return its result. What is not a coroutine (``keyslot``,
``get_primaries``, ``nodes_manager``) is returned as it is. With a ``FairGate`` (the cluster client, whose
node pools refuse rather than wait when full) every awaited call first takes a place of the gate.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from redis import exceptions as rexc

from polykv.aio.bridge import await_

from .gate import FairGate
from .loops import PerLoop, drop_connection

__all__ = ["BridgedClient", "BridgedCluster", "BridgedNode", "BridgedPipeline", "drop_cluster"]


def _awaited(gate: FairGate | None, awaitable: Any) -> Any:
    if gate is None:
        return await_(awaitable)
    if not gate.try_enter():
        try:
            await_(gate.enter())
        except BaseException:
            awaitable.close()  # never awaited: do not leave it behind un-awaited
            raise
    try:
        return await_(awaitable)
    finally:
        gate.leave()


class BridgedClient:
    """``client`` (a ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``) with synchronous
    methods, for code running under ``polykv.aio.bridge``; ``gate`` bounds the awaited calls at once."""

    def __init__(self, client: Any, gate: FairGate | None = None) -> None:
        self.client = client
        self.gate = gate
        #: The single-server pool (``PolyAsyncConnectionPool``), read by ``AsyncDirectCommands``; None on a cluster.
        self.connection_pool: Any = getattr(client, "connection_pool", None)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute
        gate = self.gate

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.isawaitable(result):
                return _awaited(gate, result)
            return result

        return call

    def pipeline(self, transaction: bool = True) -> BridgedPipeline:
        """A pipeline whose queued commands return it and whose ``execute`` is awaited through the bridge."""
        if self.connection_pool is None:  # redis.asyncio's cluster pipeline takes no transaction flag
            return BridgedPipeline(self.client.pipeline(), self.gate)
        return BridgedPipeline(self.client.pipeline(transaction=transaction), self.gate)


class BridgedCluster(BridgedClient):
    """``redis.asyncio.cluster.RedisCluster`` clients for bridged code, one per event loop (``make()`` builds
    one; redis-py's cluster client and its node connections belong to the loop that first used them): as
    ``BridgedClient``, and before any use it makes sure the loop's client knows the cluster's slots
    (``initialize``: at the first use, and again after redis-py dropped its topology on a fault), so
    ``get_primaries``/``nodes_manager`` answer from a current table. Each loop's client has its own
    ``FairGate`` (``make_gate()``). The clients of loops that have closed are closed without them when
    another loop next calls. A cluster that cannot be reached raises redis-py's ``ConnectionError`` (a
    transient fault), as the sync connector does."""

    def __init__(self, make: Callable[[], Any], make_gate: Callable[[], FairGate]) -> None:
        self.loops: PerLoop[tuple[Any, FairGate]] = PerLoop(
            lambda: (make(), make_gate()), lambda entry: drop_cluster(entry[0])
        )
        self.connection_pool = None

    def _for_caller(self) -> tuple[Any, FairGate]:
        """The caller's loop's client and gate (made on the loop's first call)."""
        loop, entry = self.loops.here
        if loop is None or entry is None or loop is not asyncio._get_running_loop():
            return self.loops.get()
        return entry

    @property
    def client(self) -> Any:
        """The caller's loop's ``RedisCluster``."""
        return self._for_caller()[0]

    @property
    def gate(self) -> FairGate:  # type: ignore[override]
        """The caller's loop's gate."""
        return self._for_caller()[1]

    def __getattr__(self, name: str) -> Any:
        client, gate = self._for_caller()
        if getattr(client, "_initialize", False):
            try:
                _awaited(gate, client.initialize())
            except rexc.RedisClusterException as exc:  # no startup node answered, or none is a cluster node
                raise rexc.ConnectionError(str(exc)) from exc
        return super().__getattr__(name)


def drop_cluster(client: Any) -> None:
    """Close the node connections of a ``RedisCluster`` whose loop has closed, without that loop, and mark
    it closed as its ``aclose`` does (so its finalizer does not report it unclosed)."""
    manager = client.nodes_manager
    nodes = {id(n): n for n in [*manager.nodes_cache.values(), *manager.startup_nodes.values()]}
    for node in nodes.values():
        for connection in list(getattr(node, "_connections", ())):
            drop_connection(connection)
    client._initialize = True  # what aclose leaves: closed, its topology to be read again if used
    manager.default_node = None


class BridgedPipeline:
    """A ``redis.asyncio`` pipeline for bridged code: command methods queue, ``execute`` awaits."""

    def __init__(self, pipe: Any, gate: FairGate | None) -> None:
        self._pipe = pipe
        self._gate = gate

    def __getattr__(self, name: str) -> Callable[..., BridgedPipeline]:
        method = getattr(self._pipe, name)

        def queue(*args: Any, **kwargs: Any) -> BridgedPipeline:
            method(*args, **kwargs)  # queues the command (returns the asyncio pipeline, not a coroutine)
            return self

        return queue

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        result: list[Any] = _awaited(self._gate, self._pipe.execute(raise_on_error=raise_on_error))
        return result


class BridgedNode:
    """One node of a ``redis.asyncio.cluster.RedisCluster`` (a ``ClusterNode``) with the few client methods
    the cluster store calls on a node: ``scan``, ``evalsha``, ``script_load`` and an EVALSHA ``pipeline``."""

    def __init__(self, node: Any, gate: FairGate | None) -> None:
        self.node = node
        self.gate = gate

    def scan(self, cursor: int, match: str, count: int) -> tuple[int, list[bytes]]:
        reply = _awaited(self.gate, self.node.execute_command("SCAN", cursor, "MATCH", match, "COUNT", count))
        return int(reply[0]), list(reply[1])

    def evalsha(self, sha: str, numkeys: int, *args: Any) -> Any:
        return _awaited(self.gate, self.node.execute_command("EVALSHA", sha, numkeys, *args))

    def script_load(self, body: str) -> Any:
        return _awaited(self.gate, self.node.execute_command("SCRIPT LOAD", body))

    def pipeline(self, transaction: bool = False) -> _NodePipeline:
        return _NodePipeline(self)


class _NodePipeline:
    """EVALSHA commands sent to one node in one write (``ClusterNode.execute_pipeline``)."""

    def __init__(self, node: BridgedNode) -> None:
        self._node = node
        self._commands: list[Any] = []

    def evalsha(self, sha: str, numkeys: int, *args: Any) -> _NodePipeline:
        from redis.asyncio.cluster import PipelineCommand

        self._commands.append(PipelineCommand(len(self._commands), "EVALSHA", sha, numkeys, *args))
        return self

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        commands = self._commands
        self._commands = []
        _awaited(self._node.gate, self._node.node.execute_pipeline(commands))
        results = [command.result for command in commands]
        if raise_on_error:
            for result in results:
                if isinstance(result, rexc.RedisError):
                    raise result
        return results
