"""Session fixtures: a real redis-server and a real 3-master Redis Cluster on free 127.0.0.1 ports.

Both are started once per session and stopped by pid at the end; the machine's own Redis (6379) is
never used. Every store a test gets uses a fresh key prefix, so tests never see each other's keys.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from polykv_redis.testing import RedisClusterServers, RedisServer

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    cluster = RedisClusterServers()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture
def key_prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{next(_prefixes)}"
