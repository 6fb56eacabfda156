"""The asyncio face against the sync one on the same data: written by one face, read by the other, on a real
redis-server, the same over TLS, and a real Redis Cluster. Until ``polykv.aio``'s facade lands, the async
stores are driven as it will drive them: their synchronous methods through ``polykv.aio.bridge.run``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from polykv_redis.aio import AsyncRedisClusterStore, AsyncRedisStore
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer, RedisTLSServer, running

from polykv.aio.bridge import run
from polykv.changes import BEGINNING, ChangeOp
from polykv.errors import RecordNotFoundError

#: (sync store, async store) factories over one server and one prefix, per face pair.
Faces = tuple[Callable[..., RedisStore], Callable[..., RedisStore]]


@pytest.fixture(scope="module")
def tls_server() -> Iterator[RedisTLSServer]:
    pytest.importorskip("trustme", reason="the TLS tests need the plugin's test extra (trustme)")
    if not RedisTLSServer.supported():
        pytest.skip("not applicable: this redis-server was built without TLS (it rejects --tls-port)")
    yield from running(RedisTLSServer())


@pytest.fixture(params=["redis", "rediss", "redis_cluster"])
def faces(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[Faces]:
    """Factories of a sync and an async store on the same server and prefix (options passed to both)."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = f"{server.url}?prefix={key_prefix}"
        classes: tuple[type[RedisStore], type[RedisStore]] = (RedisStore, AsyncRedisStore)
    elif request.param == "rediss":
        tls: RedisTLSServer = request.getfixturevalue("tls_server")
        url = f"{tls.url}&prefix={key_prefix}"
        classes = (RedisStore, AsyncRedisStore)
    else:
        cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
        url = f"{cluster.url}?prefix={key_prefix}"
        classes = (RedisClusterStore, AsyncRedisClusterStore)
    made: list[RedisStore] = []

    def sync(**options: Any) -> RedisStore:
        made.append(classes[0].from_url(url, **options))
        return made[-1]

    def async_(**options: Any) -> RedisStore:
        return classes[1].from_url(url, **options)  # closed by the test, on its event loop

    yield sync, async_
    for store in made:
        store.close()


def on_loop(store: RedisStore, body: Callable[[RedisStore], Coroutine[Any, Any, None]]) -> None:
    """Run ``body(store)`` on a fresh event loop, then close ``store`` there (its connections are the loop's)."""

    async def main() -> None:
        try:
            await body(store)
        finally:
            await run(store.close)

    asyncio.run(main())


def test_kv_pairs_ttls_and_incr_cross_faces(faces: Faces) -> None:
    make_sync, make_async = faces
    sync = make_sync()
    sync.set("a", {"x": [1, 2], "s": "é"})
    sync.set_many({"b": 1, "c": "two", "gone": None})
    sync.set("t", "short", ttl=30)
    sync.incr("n", 5)

    async def body(a: RedisStore) -> None:
        assert await run(a.get, "a") == {"x": [1, 2], "s": "é"}
        assert await run(a.get_many, ["b", "c", "gone", "missing"]) == {"b": 1, "c": "two", "gone": None}
        left = await run(a.ttl, "t")
        assert left is not None and 0 < left <= 30
        assert await run(a.ttl, "a") is None
        assert await run(a.incr, "n", 2) == 7
        assert await run(a.add, "n", 0) is False
        assert await run(a.compare_and_set, "c", "two", "three") is True
        await run(a.set, "from_async", [1, "x"])
        await run(a.set_many, {"d": 4, "e": 5}, 60)
        assert await run(a.delete, "b") is True
        assert await run(a.delete_many, ["gone", "nope"]) == 1
        keys = await run(lambda: sorted(a.keys_by_prefix("")))
        assert keys == ["a", "c", "d", "e", "from_async", "n", "t"]
        assert await run(lambda: dict(a.fetch_by_prefix("f"))) == {"from_async": [1, "x"]}
        assert await run(len, a) == 7

    on_loop(make_async(), body)
    assert sync.get("from_async") == [1, "x"]
    assert sync.get("c") == "three"
    left = sync.ttl("d")
    assert left is not None and 0 < left <= 60
    assert sync.incr("n") == 8
    assert "b" not in sync and "gone" not in sync
    assert sync.clear() == 7


def test_records_and_indexes_cross_faces(faces: Faces) -> None:
    make_sync, make_async = faces
    sync = make_sync(indexes={"users": ["city"]}, buckets=4)
    sync.insert_record("users", "u1", {"name": "ann", "city": "Oslo"})
    sync.insert_record("users", "u2", {"name": "bob", "city": "Rome"}, ttl=60)
    sync.insert_record("users", "u3", {"name": "cy", "city": "Oslo"})

    async def body(a: RedisStore) -> None:
        assert await run(a.get_record, "users", dict, "u1") == {"name": "ann", "city": "Oslo"}
        assert await run(a.count, "users") == 3
        found = await run(a.filter_record, "users", dict, city="Oslo")
        assert sorted(r["name"] for r in found) == ["ann", "cy"]
        await run(a.update_record, "users", "u3", {"name": "cy", "city": "Rome"})
        await run(a.insert_record, "users", "u4", {"name": "dee", "city": "Oslo"})
        assert await run(a.delete_record, "users", "u1") is True
        with pytest.raises(RecordNotFoundError):
            await run(a.update_record, "users", "missing", {"name": "x"})
        assert await run(a.list_schemas) == ["users"]

    on_loop(make_async(indexes={"users": ["city"]}, buckets=4), body)
    assert sorted(r["name"] for r in sync.filter_record("users", dict, city="Rome")) == ["bob", "cy"]
    assert [r["name"] for r in sync.filter_record("users", dict, city="Oslo")] == ["dee"]
    assert sync.count("users") == 3
    left = sync._ttl("users", "u2")
    assert isinstance(left, float) and 0 < left <= 60
    sync.drop_schema("users")

    async def dropped(a: RedisStore) -> None:
        assert await run(a.count, "users") == 0
        assert await run(a.list_schemas) == []

    on_loop(make_async(buckets=4), dropped)


def test_key_index_cross_faces(redis_server: RedisServer, key_prefix: str) -> None:
    url = f"{redis_server.url}?prefix={key_prefix}&key_index=true"
    sync = RedisStore.from_url(url)
    sync.set_many({f"p:{i:03d}": i for i in range(30)})
    sync.set("q:1", 1, ttl=30)

    async def body(a: RedisStore) -> None:
        assert await run(lambda: list(a.keys_by_prefix("p:00"))) == [f"p:00{i}" for i in range(10)]
        assert await run(a.count, prefix="p:") == 30
        await run(a.set, "p:100", 100)
        assert await run(a.clear, "q:") == 1

    on_loop(AsyncRedisStore.from_url(url), body)
    assert sync.count(prefix="p:") == 31 and sync.count(prefix="q:") == 0
    assert list(sync.keys_by_prefix("p:1")) == ["p:100"]
    sync.close()


def test_change_feed_cursor_cross_faces(redis_server: RedisServer, key_prefix: str) -> None:
    url = f"{redis_server.url}?prefix={key_prefix}&change_feed=true"
    sync = RedisStore.from_url(url)
    sync.set("a", 1)
    sync.upsert_record("users", "u1", {"n": 1})
    head = sync._change_head()
    seen: dict[str, Any] = {}

    async def body(a: RedisStore) -> None:
        assert await run(a._change_head) == head
        changes = await run(a._changes, BEGINNING, 10, 0.0)
        assert [(c.op, c.ns, c.key) for c in changes] == [(ChangeOp.INSERT, "", "a"), (ChangeOp.INSERT, "users", "u1")]
        assert changes[-1].cursor == head
        await run(a.set, "a", 2)
        await run(a.delete, "a")
        seen["head"] = await run(a._change_head)

    on_loop(AsyncRedisStore.from_url(url), body)
    later = sync._changes(head, 10, 0.0)
    assert [(c.op, c.key, c.data) for c in later] == [(ChangeOp.UPDATE, "a", b"2"), (ChangeOp.DELETE, "a", None)]
    assert later[-1].cursor == seen["head"]
    sync.close()


def test_async_stores_are_the_sync_stores_with_another_io_layer() -> None:
    assert RedisStore.async_face == "polykv_redis.aio:AsyncRedisStore"
    assert RedisClusterStore.async_face == "polykv_redis.aio:AsyncRedisClusterStore"
    assert issubclass(AsyncRedisStore, RedisStore) and issubclass(AsyncRedisClusterStore, RedisClusterStore)

    # the subclasses declare no store logic of their own: only the I/O layer
    def own(cls: type) -> set[str]:
        return {name for name in vars(cls) if not name.startswith("__") and name != "_abc_impl"}

    assert own(AsyncRedisStore) == {"connector_class", "_commands"}
    assert own(AsyncRedisClusterStore) == {"connector_class", "_node_client"}
    from polykv.registration import STORE_CLASSES

    assert STORE_CLASSES["redis"] is RedisStore and AsyncRedisStore not in STORE_CLASSES.values()


def test_construction_does_no_io_and_sync_calls_outside_the_bridge_refuse(key_prefix: str) -> None:
    from polykv_redis.testing import free_port

    store = AsyncRedisStore(port=free_port(), prefix=key_prefix, timeout=1.0)  # nothing listens there
    assert store.manager.stats()["total"] == 0
    with pytest.raises(RuntimeError, match="outside a bridged call"):
        store.get("k")
    store.close()


def test_import_polykv_redis_imports_no_asyncio_client() -> None:
    """``import polykv_redis`` imports no client library at all; the sync stores import neither the asyncio face
    nor greenlet nor the bridge (redis-py 8 itself imports ``redis.asyncio`` on ``import redis``, so that is
    checked only as far as polykv's own imports go)."""
    code = (
        "import sys, polykv, polykv_redis\n"
        "early = [m for m in ('redis', 'redis.asyncio', 'greenlet') if m in sys.modules]\n"
        "assert not early, early\n"
        "import polykv_redis.store, polykv_redis.cluster\n"
        "polykv_redis.RedisStore, polykv_redis.RedisClusterStore\n"
        "bad = [m for m in ('greenlet', 'polykv.aio.bridge', 'polykv_redis.aio') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
