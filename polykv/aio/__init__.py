"""``polykv.aio``: the asyncio face of polykv, with the contract of the synchronous one.

``store = await polykv.aio.connect(url)`` (or ``async with polykv.aio.connect(url) as store``) and
``polykv.aio.registry[name]`` give an :class:`AsyncKeyValueStore`: every method of ``KeyValueStore`` as a
coroutine of the same name, listing methods as async iterators. The logic is the synchronous face's own
code, run where its I/O can wait: on the loop through :mod:`polykv.aio.bridge` for the stores that await
natively (memory, Redis, Redis Cluster, S3), in a bounded thread pool for the rest (sqlite, local files,
HDFS). ``import polykv.aio`` imports no plugin; ``import polykv`` never imports this package.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .. import pausing
from . import bridge
from .backend_registry import AsyncBackendRegistry, default_registry
from .caching import AsyncMemoized, memoize
from .connect import connect
from .faces import wrap
from .manager import AsyncStoreManager
from .ops import call, copy, watch
from .runners import BridgeRunner, ThreadRunner
from .store import AsyncKeyValueStore, AsyncLock
from .wrappers import CachedStore, FallbackStore, PrefixStore, ReadOnlyStore

if TYPE_CHECKING:
    registry: AsyncBackendRegistry

__all__ = [
    "AsyncBackendRegistry",
    "AsyncKeyValueStore",
    "AsyncLock",
    "AsyncMemoized",
    "AsyncStoreManager",
    "BridgeRunner",
    "CachedStore",
    "FallbackStore",
    "PrefixStore",
    "ReadOnlyStore",
    "ThreadRunner",
    "call",
    "connect",
    "copy",
    "default_registry",
    "memoize",
    "registry",
    "watch",
    "wrap",
]


def _pause_on_loop(seconds: float) -> bool:
    """polykv's own waits (lock and lease backoff) await ``asyncio.sleep`` inside a bridged call."""
    if not bridge.in_bridge():
        return False
    bridge.await_(asyncio.sleep(seconds))
    return True


if _pause_on_loop not in pausing.pausers:
    pausing.pausers.append(_pause_on_loop)


def __getattr__(name: str) -> Any:
    """``registry`` is the process-wide ``AsyncBackendRegistry``, created on first access."""
    if name == "registry":
        return default_registry()
    raise AttributeError(f"module 'polykv.aio' has no attribute {name!r}")
