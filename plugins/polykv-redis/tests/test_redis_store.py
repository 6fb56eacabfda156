"""Redis-specific behaviour on a real server: entry points, URLs, credentials, layout, indexes, TTL."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, ClassVar

import pytest
import redis
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.layout import glob_escape
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer

import polykv
from polykv.backend_registry import BackendRegistry
from polykv.errors import InvalidArgumentError, InvalidURLError, PolyKVError


@dataclasses.dataclass
class Item:
    __schema_name__: ClassVar[str] = "items"
    __indexes__: ClassVar[tuple[str, ...]] = ("color",)
    id: str
    color: str
    size: int = 0


@pytest.fixture
def store(redis_store: RedisStore) -> RedisStore:
    return redis_store


def _stat(raw: redis.Redis, command: str) -> int:
    stats = raw.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_registry_finds_both_backends_through_entry_points() -> None:
    registry = BackendRegistry()
    assert {"redis", "redis_cluster"} <= set(registry.keys())
    assert registry.store_class("redis") is RedisStore
    assert registry.store_class("redis_cluster") is RedisClusterStore
    assert registry.describe("redis").distribution == "polykv-redis"


def test_default_registry_builds_a_lazy_store_without_connecting() -> None:
    store = polykv.registry["redis"]  # no server is contacted until the first operation
    assert isinstance(store, RedisStore)


def test_connect_url_with_acl_user_and_password(redis_server: RedisServer, raw: redis.Redis, key_prefix: str) -> None:
    raw.execute_command("ACL", "SETUSER", "alice", "on", ">s3cret-pw", "~*", "+@all")
    url = f"redis://alice:s3cret-pw@127.0.0.1:{redis_server.port}/0?prefix={key_prefix}&buckets=4"
    with polykv.connect(url) as store:
        assert isinstance(store, RedisStore)
        store.set("k", {"a": 1})
        assert store.get("k") == {"a": 1}
        assert store.layout.buckets == 4
        assert "s3cret-pw" not in repr(store)
        assert "s3cret-pw" not in repr(store.manager)


def test_wrong_password_error_never_shows_it(redis_server: RedisServer, raw: redis.Redis) -> None:
    raw.execute_command("ACL", "SETUSER", "bob", "on", ">right-pw", "~*", "+@all")
    with (
        polykv.connect(f"redis://bob:wrong-pw-123@127.0.0.1:{redis_server.port}/0") as store,
        pytest.raises(PolyKVError) as info,
    ):
        store.get("k")
    assert "wrong-pw-123" not in str(info.value)
    assert "credentials" in str(info.value)


def test_cluster_url(redis_cluster: RedisClusterServers, key_prefix: str) -> None:
    with polykv.connect(f"{redis_cluster.url}?prefix={key_prefix}") as store:
        assert isinstance(store, RedisClusterStore)
        store.set_many({f"k{i}": i for i in range(50)})
        assert store.get_many([f"k{i}" for i in range(50)]) == {f"k{i}": i for i in range(50)}


def test_bad_url_and_options_raise_polykv_errors(redis_server: RedisServer) -> None:
    with pytest.raises(InvalidURLError):
        RedisStore.from_url(f"redis://127.0.0.1:{redis_server.port}/notanumber")
    with pytest.raises(InvalidURLError):
        RedisStore.from_url(f"redis://127.0.0.1:{redis_server.port}/0?buckets=many")
    with pytest.raises(InvalidArgumentError):
        RedisStore(port=redis_server.port, prefix="has:colon")


def test_prefixes_isolate_stores_on_one_server(redis_server: RedisServer, key_prefix: str) -> None:
    a = RedisStore(port=redis_server.port, prefix=key_prefix + "a")
    b = RedisStore(port=redis_server.port, prefix=key_prefix + "b")
    try:
        a.set("x", 1)
        a.insert_record("s", "r", {"v": 1})
        assert b.get("x") is None and list(b.keys()) == [] and b.count("s") == 0
        b.clear()
        b.drop_schema("s")
        assert a.get("x") == 1 and a.count("s") == 1
    finally:
        a.close()
        b.close()


def test_glob_characters_in_prefix_match_literally(store: RedisStore) -> None:
    for key in ["a*b", "a?c", "a[x]", "a\\d", "ab"]:
        store.set(key, key)
    assert sorted(store.keys_by_prefix("a*")) == ["a*b"]
    assert sorted(store.keys_by_prefix("a[")) == ["a[x]"]
    assert sorted(store.keys_by_prefix("a\\")) == ["a\\d"]
    assert dict(store.fetch_by_prefix("a?")) == {"a?c": "a?c"}
    assert glob_escape("*?[]\\") == "\\*\\?\\[\\]\\\\"


def test_listing_uses_scan_and_one_mget_per_batch(store: RedisStore, raw: redis.Redis) -> None:
    store.set_many({f"p{i}": i for i in range(1200)})
    keys_before, scans_before, mgets_before = _stat(raw, "keys"), _stat(raw, "scan"), _stat(raw, "mget")
    gets_before = _stat(raw, "get")
    assert len(dict(store.fetch_by_prefix("p"))) == 1200
    assert _stat(raw, "keys") == keys_before
    assert _stat(raw, "scan") > scans_before
    assert _stat(raw, "get") == gets_before
    assert _stat(raw, "mget") - mgets_before <= 4  # batches of 500, not one round trip per key


def test_count_schema_reads_counters_not_records(store: RedisStore, raw: redis.Redis) -> None:
    store.set_many({"kv": 1})
    for i in range(300):
        store.insert_record("items", f"r{i}", Item(f"r{i}", "red"))
    scans = _stat(raw, "scan")
    assert store.count("items") == 300
    assert _stat(raw, "scan") == scans


def test_records_spread_over_many_cluster_slots(store: RedisStore) -> None:
    from redis.crc import key_slot

    names = [store.layout.record("items", f"r{i}") for i in range(200)]
    assert len({key_slot(n.encode()) for n in names}) == store.layout.buckets


def test_indexed_filter_reads_only_matching_records(store: RedisStore, raw: redis.Redis) -> None:
    for i in range(400):
        store.insert_record("items", f"r{i}", Item(f"r{i}", "red" if i % 40 == 0 else "blue", i))
    scans, mgets = _stat(raw, "scan"), _stat(raw, "mget")
    found = store.filter_record("items", Item, color="red")
    assert sorted(r.id for r in found) == sorted(f"r{i}" for i in range(0, 400, 40))
    assert _stat(raw, "scan") == scans  # no scan: the index sets named the 10 records
    assert _stat(raw, "mget") == mgets + 1
    # updates move index entries; deletes remove them
    store.update_record("items", "r0", Item("r0", "green"))
    store.delete_record("items", "r40")
    assert sorted(r.id for r in store.filter_record("items", Item, color="red"))[:2] == ["r120", "r160"]
    assert [r.id for r in store.filter_record("items", Item, color="green")] == ["r0"]
    assert [r.id for r in store.filter_record("items", Item, color="red", size=80)] == ["r80"]


def test_numeric_index_matches_python_equality(store: RedisStore) -> None:
    @dataclasses.dataclass
    class N:
        __indexes__: ClassVar[tuple[str, ...]] = ("v",)
        id: str
        v: Any

    store.insert_record("nums", "a", N("a", 1))
    store.insert_record("nums", "b", N("b", 1.0))
    store.insert_record("nums", "c", N("c", "1"))
    assert sorted(r.id for r in store.filter_record("nums", N, v=1)) == ["a", "b"]
    assert [r.id for r in store.filter_record("nums", N, v="1")] == ["c"]


def test_unindexed_writes_make_filter_fall_back_to_a_correct_scan(store: RedisStore, raw: redis.Redis) -> None:
    store.insert_record("items", "plain", {"id": "plain", "color": "red"})  # dict: no index declared yet
    store.insert_record("items", "typed", Item("typed", "red"))
    scans = _stat(raw, "scan")
    assert sorted(r.id for r in store.filter_record("items", Item, color="red")) == ["plain", "typed"]
    assert _stat(raw, "scan") > scans


def test_expired_records_leave_count_and_index(store: RedisStore) -> None:
    store.insert_record("items", "short", Item("short", "red"), ttl=0.2)
    store.insert_record("items", "long", Item("long", "red"))
    assert store.count("items") == 2
    deadline = time.monotonic() + 5
    while store.exists("items", "short"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert store.count("items") == 1
    assert [r.id for r in store.filter_record("items", Item, color="red")] == ["long"]
    store.insert_record("items", "short", Item("short", "blue"))  # the expired key can be inserted again
    assert store.count("items") == 2
    assert store.filter_record("items", Item, color="blue")[0].id == "short"


def test_incr_on_a_non_integer_names_the_key(store: RedisStore) -> None:
    store.set("s", "text")
    with pytest.raises(InvalidArgumentError) as info:
        store.incr("s")
    assert info.value.key == "s"
    assert store.get("s") == "text"


def test_incr_and_cas_with_msgpack_codec(redis_server: RedisServer, key_prefix: str) -> None:
    with RedisStore(port=redis_server.port, prefix=key_prefix, codec="msgpack") as store:
        assert store.incr("n", 5) == 5
        assert store.incr("n", -2) == 3
        assert store.compare_and_set("n", 3, 10)
        assert not store.compare_and_set("n", 3, 11)
        assert store.get("n") == 10


@pytest.mark.parametrize("where", ["refused", "not-a-cluster"])
def test_cluster_store_that_cannot_reach_a_cluster_raises_backend_unavailable(
    where: str, redis_server: RedisServer
) -> None:
    """No reachable startup node, or a node not in cluster mode: redis-py's own RedisClusterException
    surfaces as BackendUnavailableError, never raw, and never shows the password."""
    from polykv_redis.testing import free_port

    from polykv.errors import BackendUnavailableError

    port = free_port() if where == "refused" else redis_server.port
    store = polykv.connect(f"redis+cluster://u:Cl0sedSecret@127.0.0.1:{port}/0?timeout=1")
    try:
        with pytest.raises(BackendUnavailableError) as info:
            store.get("k")
        assert "Cl0sedSecret" not in str(info.value) and "Cl0sedSecret" not in repr(info.value)
    finally:
        store.close()
