"""polykv-redis: Redis (``redis``) and Redis Cluster (``redis_cluster``) stores for polykv.

Installing the distribution is enough: ``polykv.registry["redis"]`` and ``polykv.connect("redis://...")``
find these stores through entry points. Names load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0.dev0"

if TYPE_CHECKING:
    from .cluster import RedisClusterStore as RedisClusterStore
    from .connector import RedisClusterConnector as RedisClusterConnector
    from .connector import RedisConnector as RedisConnector
    from .store import RedisStore as RedisStore

_EXPORTS = {
    "RedisStore": "store",
    "RedisClusterStore": "cluster",
    "RedisConnector": "connector",
    "RedisClusterConnector": "connector",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'polykv_redis' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
