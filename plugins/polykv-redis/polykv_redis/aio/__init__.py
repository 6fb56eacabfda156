"""The asyncio face of polykv-redis: ``AsyncRedisStore`` and ``AsyncRedisClusterStore``.

Imported only by ``polykv.aio`` (through the stores' ``async_face`` declaration), never by
``import polykv_redis``: this is the only part of the plugin that imports ``redis.asyncio`` and greenlet.
"""

from __future__ import annotations

from .store import AsyncRedisClusterStore, AsyncRedisStore

__all__ = ["AsyncRedisClusterStore", "AsyncRedisStore"]
