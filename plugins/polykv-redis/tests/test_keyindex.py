"""The ordered key index (``key_index=True``) on a real server: no SCAN, order, literal prefixes, expiry,
repair on read, the one-time build for older data, and what it refuses."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer

from polykv.errors import InvalidArgumentError, NotSupportedError


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def store(redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
    s = RedisStore(port=redis_server.port, prefix=key_prefix, key_index=True)
    try:
        yield s
    finally:
        s.close()


def _calls(raw: redis.Redis, command: str) -> int:
    stats = raw.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_prefix_listing_reads_the_index_not_the_keyspace(store: RedisStore, raw: redis.Redis) -> None:
    store.set_many({f"other{i}": i for i in range(3000)})
    store.set_many({f"p*[x]{i:03}": i for i in range(50)})
    store.set("p*[y]", "not under p*[x]")
    assert store.count() == 3051  # the first read builds the index once (a SCAN: older data may be unindexed)
    scans = _calls(raw, "scan")
    assert list(store.keys_by_prefix("p*[x]")) == [f"p*[x]{i:03}" for i in range(50)]  # key order, literal
    assert dict(store.fetch_by_prefix("p*[x]")) == {f"p*[x]{i:03}": i for i in range(50)}
    assert store.count(prefix="p*[x]") == 50
    assert store.clear("p*[x]") == 50
    assert store.count(prefix="p*") == 1 and store.count() == 3001
    assert _calls(raw, "scan") == scans  # none of it scanned


def test_expired_and_externally_deleted_keys_leave_the_index(store: RedisStore, raw: redis.Redis) -> None:
    store.set("short", 1, ttl=0.05)
    store.set("kept", 2)
    store.set("gone", 3)
    raw.delete(store.layout.kv("gone"))  # behind polykv's back: found missing by the next listing
    time.sleep(0.1)  # the TTL is the server's clock, nothing to wait on
    assert dict(store.fetch_by_prefix("")) == {"kept": 2}
    assert store.count() == 1
    assert raw.zrange(store._kindex.index, 0, -1) == [b"kept"]  # type: ignore[union-attr]


def test_add_incr_and_delete_keep_the_index(store: RedisStore) -> None:
    assert store.add("a", 1) and not store.add("a", 2)
    assert not store._replace("", "b", b"1", None)
    assert store.incr("n", 5) == 5
    assert store._replace("", "a", b"3", None)
    assert sorted(store.keys_by_prefix("")) == ["a", "n"]
    assert store.delete("a") and not store.delete("a")
    assert store.delete_many(["n", "zz"]) == 1
    assert store.count() == 0


def test_data_written_before_the_index_is_found_once_built(redis_server: RedisServer, key_prefix: str) -> None:
    with RedisStore(port=redis_server.port, prefix=key_prefix) as plain:
        plain.set_many({f"k{i}": i for i in range(2500)})
    with RedisStore(port=redis_server.port, prefix=key_prefix, key_index=True) as indexed:
        assert indexed.count() == 2500  # built from one SCAN of the prefix, marked as built
        indexed.set("new", 1)
        assert indexed.count(prefix="k1") == 1111
    with RedisStore(port=redis_server.port, prefix=key_prefix, key_index=True) as again:
        assert again.count() == 2501  # the marker says built: no second SCAN


def test_key_index_is_refused_where_it_cannot_hold(
    redis_server: RedisServer, redis_cluster: RedisClusterServers
) -> None:
    with pytest.raises(InvalidArgumentError, match="change_feed"):
        RedisStore(port=redis_server.port, key_index=True, change_feed=True)
    with pytest.raises(InvalidArgumentError, match="key_index"):
        RedisStore(port=redis_server.port, key_index="yes")  # type: ignore[arg-type]
    with pytest.raises(NotSupportedError, match="hash tag"):
        RedisClusterStore(port=redis_cluster.port, key_index=True)
    store = RedisStore.from_url(f"redis://127.0.0.1:{redis_server.port}/0?key_index=true")
    assert store._kindex is not None
    store.close()
