"""The Redis change feed (``change_feed=True``): the shared watch checks on a real redis-server, plus the
stream layout, the blocking wait, the opt-in and the cluster's refusal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer

import polykv
from polykv import ops
from polykv.capabilities import Capability
from polykv.changes import BEGINNING, Change, ChangeOp
from polykv.errors import InvalidArgumentError, InvalidURLError, NotSupportedError, RecordNotFoundError
from polykv.store import KeyValueStore
from polykv.testing import StoreSuite
from polykv.testing.watch import DEADLINE, Factory, WatchSuite, drain, wait_until


@pytest.fixture
def feed_store(redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
    store = RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True)
    yield store
    store.close()


class TestRedisWatch(WatchSuite):
    @pytest.fixture
    def watched(self, redis_server: RedisServer, key_prefix: str) -> Iterator[Factory]:
        stores: list[RedisStore] = []

        def make(change_log_size: int = 100_000) -> KeyValueStore:
            prefix = f"{key_prefix}-{len(stores)}"
            stores.append(
                RedisStore(port=redis_server.port, prefix=prefix, change_feed=True, change_feed_size=change_log_size)
            )
            return stores[-1]

        yield make
        for store in stores:
            store.close()


class TestRedisChangeFeedConformance(StoreSuite):
    """Every write path of a store with the feed on (the logged scripts) keeps the contract."""

    @pytest.fixture
    def store(self, redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
        store = RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True, buckets=4)
        yield store
        store.close()


def test_feed_is_opt_in_and_leaves_the_plain_store_untouched(redis_server: RedisServer, key_prefix: str) -> None:
    plain = RedisStore(port=redis_server.port, prefix=key_prefix)
    assert Capability.WATCH not in plain.capabilities and not plain.change_feed
    assert not {"_set", "_get_many", "_set_many", "_delete"} & set(vars(plain))  # the class's own primitives
    with pytest.raises(NotSupportedError, match="does not support watch"):
        ops.watch(plain, follow=False)
    url = f"{redis_server.url}?prefix={key_prefix}&change_feed=true&change_feed_size=50"
    fed = polykv.connect(url)
    assert isinstance(fed, RedisStore) and fed.change_feed and Capability.WATCH in fed.capabilities
    assert Capability.WATCH not in RedisStore.capabilities  # declared per instance, not for the class
    with pytest.raises(InvalidURLError, match="change_feed='maybe'"):
        RedisStore.from_url(f"{redis_server.url}?change_feed=maybe")
    with pytest.raises(InvalidArgumentError, match="change_feed_size"):
        RedisStore(port=redis_server.port, change_feed=True, change_feed_size=0)
    for store in (plain, fed):
        store.close()


def test_stream_layout_one_entry_per_write(feed_store: RedisStore, raw: redis.Redis) -> None:
    feed_store.set("a", {"x": 1})
    feed_store.upsert_record("users", "u1", {"name": "ann"})
    feed_store.delete("a")
    stream = f"{feed_store.layout.prefix}:changes"
    entries: Any = raw.xrange(stream)
    assert [entry_id for entry_id, _ in entries] == [b"1-0", b"2-0", b"3-0"]  # consecutive ids: gaps are visible
    assert entries[0][1] == {b"o": b"1", b"n": b"", b"k": b"a", b"v": b'{"x":1}'}
    assert entries[1][1][b"n"] == b"users" and entries[2][1] == {b"o": b"4", b"n": b"", b"k": b"a"}
    assert feed_store._change_head() == "3"


def test_a_failed_write_logs_nothing(feed_store: RedisStore) -> None:
    feed_store.set("text", "abc")
    head = feed_store._change_head()
    with pytest.raises(InvalidArgumentError, match="increment"):
        feed_store.incr("text")
    with pytest.raises(RecordNotFoundError):
        feed_store.update_record("users", "missing", {"a": 1})  # a replace that found nothing
    assert feed_store.get("text") == "abc"
    assert drain(feed_store, since=head) == []


def test_writes_through_every_primitive_are_logged(feed_store: RedisStore) -> None:
    feed_store.set("t", 1, ttl=60)
    feed_store.set_many({"m1": 1, "m2": 2}, ttl=60)
    assert feed_store.delete_many(["m1", "m2", "nope"]) == 2
    feed_store.upsert_record("users", "u1", {"n": 1})
    feed_store.upsert_record("users", "u1", {"n": 2})
    head = feed_store._change_head()
    feed_store.drop_schema("users")
    events = drain(feed_store, since=head)
    assert [(e.op, e.schema, e.key) for e in events] == [(ChangeOp.DELETE, "users", "u1")]
    assert feed_store.count("users") == 0
    assert [(e.op, e.schema, e.key) for e in drain(feed_store)] == [
        (ChangeOp.INSERT, None, "t"),
        (ChangeOp.INSERT, None, "m1"),
        (ChangeOp.INSERT, None, "m2"),
        (ChangeOp.DELETE, None, "m1"),
        (ChangeOp.DELETE, None, "m2"),
        (ChangeOp.INSERT, "users", "u1"),
        (ChangeOp.UPDATE, "users", "u1"),
        (ChangeOp.DELETE, "users", "u1"),
    ]


def test_blocked_watcher_is_woken_by_a_write_from_another_thread(
    redis_server: RedisServer, key_prefix: str, raw: redis.Redis
) -> None:
    # a long socket timeout: one blocking XREAD may last the whole 60 s poll interval, so only a wake-up ends it
    store = RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True, socket_timeout=300.0)
    writer = RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True)
    got: list[Change] = []
    done = threading.Event()

    def consume() -> None:
        for event in ops.watch(store, timeout=120.0, poll_interval=60.0):
            got.append(event)
            done.set()
            return

    blocked_before = int(raw.info("clients")["blocked_clients"])
    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        assert wait_until(lambda: int(raw.info("clients")["blocked_clients"]) > blocked_before), "never blocked"
        writer.set("wake", 1)
        assert done.wait(DEADLINE), "the blocked watcher was not woken by the write"
    finally:
        consumer.join(DEADLINE)
    assert not consumer.is_alive()
    assert [(e.op, e.key, e.value) for e in got] == [(ChangeOp.INSERT, "wake", 1)]
    store.close()
    writer.close()


def test_resume_with_since_across_store_instances(redis_server: RedisServer, key_prefix: str) -> None:
    first = RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True)
    first.set_many({f"k{i}": i for i in range(5)})
    seen = drain(first)
    first.close()
    later = RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True)  # e.g. after a restart
    later.set("k5", 5)
    assert [e.key for e in drain(later, since=seen[-1].cursor)] == ["k5"]
    assert [e.key for e in drain(later, since=BEGINNING)] == [f"k{i}" for i in range(6)]
    later.close()


def test_cluster_store_declines_the_feed(redis_cluster: RedisClusterServers, key_prefix: str) -> None:
    with pytest.raises(NotSupportedError, match="atomically") as info:
        RedisClusterStore(port=redis_cluster.port, prefix=key_prefix, change_feed=True)
    assert info.value.capability == "watch"
    store = RedisClusterStore(port=redis_cluster.port, prefix=key_prefix)
    assert Capability.WATCH not in store.capabilities
    with pytest.raises(NotSupportedError):
        ops.watch(store)
    store.close()
