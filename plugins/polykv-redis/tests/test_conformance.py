"""The polykv conformance suite on a real Redis server and a real Redis Cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer

from polykv.testing import StoreSuite


class TestRedisConformance(StoreSuite):
    @pytest.fixture
    def store(self, redis_store: RedisStore) -> RedisStore:
        return redis_store

    @pytest.fixture
    def store_url(self, redis_server: RedisServer, key_prefix: str) -> str:
        return f"redis://127.0.0.1:{redis_server.port}/0?prefix={key_prefix}"


class TestRedisKeyIndexConformance(StoreSuite):
    """The same contract with the ordered key index on (listings, count and clear read the index)."""

    @pytest.fixture
    def store(self, redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
        store = RedisStore(port=redis_server.port, prefix=key_prefix, key_index=True)
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def store_url(self, redis_server: RedisServer, key_prefix: str) -> str:
        return f"redis://127.0.0.1:{redis_server.port}/0?prefix={key_prefix}&key_index=true"


class TestRedisSingleModeConformance(StoreSuite):
    @pytest.fixture
    def store(self, redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
        store = RedisStore(port=redis_server.port, prefix=key_prefix, connection_mode="single", buckets=4)
        try:
            yield store
        finally:
            store.close()


class TestRedisClusterConformance(StoreSuite):
    @pytest.fixture
    def store(self, redis_cluster_store: RedisClusterStore) -> RedisClusterStore:
        return redis_cluster_store

    @pytest.fixture
    def store_url(self, redis_cluster: RedisClusterServers, key_prefix: str) -> str:
        return f"redis+cluster://127.0.0.1:{redis_cluster.port}/0?prefix={key_prefix}"
