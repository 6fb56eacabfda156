"""The conformance suite on the asyncio face (``polykv.aio.connect``): a real Redis server (pooled, single
connection, key index), the same over TLS, a real Redis Cluster, and the change feed's watch suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from polykv_redis.testing import RedisClusterServers, RedisServer, RedisTLSServer, running

import polykv.aio
from polykv.aio.connect import Connecting
from polykv.testing.aio import AsyncStoreSuite, AsyncWatchSuite


@pytest.fixture(scope="module")
def tls_server() -> Iterator[RedisTLSServer]:
    pytest.importorskip("trustme", reason="the TLS tests need the plugin's test extra (trustme)")
    if not RedisTLSServer.supported():
        pytest.skip("not applicable: this redis-server was built without TLS (it rejects --tls-port)")
    yield from running(RedisTLSServer())


class _ByURL(AsyncStoreSuite):
    @pytest.fixture
    def open_async_store(self, store_url: str) -> Callable[[], Connecting]:
        return lambda: polykv.aio.connect(store_url)


class TestAsyncRedisConformance(_ByURL):
    @pytest.fixture
    def store_url(self, redis_server: RedisServer, key_prefix: str) -> str:
        return f"{redis_server.url}?prefix={key_prefix}"


class TestAsyncRedisSingleModeKeyIndexConformance(_ByURL):
    @pytest.fixture
    def store_url(self, redis_server: RedisServer, key_prefix: str) -> str:
        return f"{redis_server.url}?prefix={key_prefix}&connection_mode=single&key_index=true&buckets=4"


class TestAsyncRedisTLSConformance(_ByURL):
    @pytest.fixture
    def store_url(self, tls_server: RedisTLSServer, key_prefix: str) -> str:
        return f"{tls_server.url}&prefix={key_prefix}"


class TestAsyncRedisClusterConformance(_ByURL):
    @pytest.fixture
    def store_url(self, redis_cluster: RedisClusterServers, key_prefix: str) -> str:
        return f"{redis_cluster.url}?prefix={key_prefix}"


class TestAsyncRedisWatch(AsyncWatchSuite):
    @pytest.fixture
    def open_watched_async(self, redis_server: RedisServer, key_prefix: str) -> Callable[[int], Connecting]:
        made: list[int] = []

        def make(change_log_size: int) -> Connecting:
            made.append(change_log_size)
            url = f"{redis_server.url}?prefix={key_prefix}-{len(made)}&change_feed=true"
            return polykv.aio.connect(f"{url}&change_feed_size={change_log_size}")

        return make


def test_connect_serves_the_native_face_on_the_bridge(redis_server: RedisServer, key_prefix: str) -> None:
    import asyncio

    from polykv_redis.aio import AsyncRedisStore

    async def main() -> None:
        async with polykv.aio.connect(f"{redis_server.url}?prefix={key_prefix}") as store:
            assert store.runner.kind == "bridge"
            assert type(store._store) is AsyncRedisStore
            await store.set("k", 1)
            assert await store.get("k") == 1

    asyncio.run(main())
