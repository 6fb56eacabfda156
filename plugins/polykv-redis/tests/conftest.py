"""Fixtures: a real redis-server and a real 3-master Redis Cluster on free 127.0.0.1 ports, stores on them.

Both are started once per session and stopped by pid at the end; the machine's own Redis (6379) is
never used. Every store a test gets uses a fresh key prefix, so tests never see each other's keys. A test that
kills, stops or reshapes a server takes ``own_server`` / ``own_cluster``, started for it alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import redis
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer, running

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from running(RedisServer())


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    yield from running(RedisClusterServers())


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server this test may kill, stop and restart (never the session's shared one)."""
    yield from running(RedisServer())


@pytest.fixture
def own_cluster() -> Iterator[RedisClusterServers]:
    """A 3-node cluster this test may reshape or break (never the session's shared one)."""
    yield from running(RedisClusterServers())


@pytest.fixture
def key_prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{next(_prefixes)}"


@pytest.fixture
def redis_store(redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
    """A ``RedisStore`` on the session's server under a fresh key prefix, closed after the test."""
    with RedisStore(port=redis_server.port, prefix=key_prefix) as store:
        yield store


@pytest.fixture
def redis_cluster_store(redis_cluster: RedisClusterServers, key_prefix: str) -> Iterator[RedisClusterStore]:
    """A ``RedisClusterStore`` on the session's cluster under a fresh key prefix, closed after the test."""
    with RedisClusterStore(port=redis_cluster.port, prefix=key_prefix) as store:
        yield store


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain redis-py client on the session's server (to look behind a store's back), closed after the test."""
    with redis.Redis(port=redis_server.port) as client:
        yield client
