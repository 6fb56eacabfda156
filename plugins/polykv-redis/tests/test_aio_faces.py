"""The asyncio face against the sync one on the same data: written by one face, read by the other, on a real
redis-server, the same over TLS, and a real Redis Cluster; the async side is ``polykv.aio.connect(url)``."""

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

import polykv.aio
from polykv.aio import AsyncKeyValueStore
from polykv.aio.connect import Connecting
from polykv.changes import BEGINNING, ChangeOp
from polykv.errors import RecordNotFoundError

#: (sync store, async store) factories over one server and one prefix, per face pair.
Faces = tuple[Callable[..., RedisStore], Callable[..., Connecting]]


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
        classes: tuple[type[RedisStore], type[RedisStore]] = (RedisStore, AsyncRedisStore)  # sync, its face
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

    def async_(**options: Any) -> Connecting:
        return polykv.aio.connect(url, **options)  # opened and closed by the test, on its event loop

    yield sync, async_
    for store in made:
        store.close()


def on_loop(opening: Connecting, body: Callable[[AsyncKeyValueStore], Coroutine[Any, Any, None]]) -> None:
    """Open the async store on a fresh event loop, run ``body(store)``, close the store there."""

    async def main() -> None:
        async with opening as store:
            assert store.runner.kind == "bridge"  # the native face, not a thread pool
            await body(store)

    asyncio.run(main())


def test_kv_pairs_ttls_and_incr_cross_faces(faces: Faces) -> None:
    make_sync, make_async = faces
    sync = make_sync()
    sync.set("a", {"x": [1, 2], "s": "é"})
    sync.set_many({"b": 1, "c": "two", "gone": None})
    sync.set("t", "short", ttl=30)
    sync.incr("n", 5)

    async def body(a: AsyncKeyValueStore) -> None:
        assert await a.get("a") == {"x": [1, 2], "s": "é"}
        assert await a.get_many(["b", "c", "gone", "missing"]) == {"b": 1, "c": "two", "gone": None}
        left = await a.ttl("t")
        assert left is not None and 0 < left <= 30
        assert await a.ttl("a") is None
        assert await a.incr("n", 2) == 7
        assert await a.add("n", 0) is False
        assert await a.compare_and_set("c", "two", "three") is True
        await a.set("from_async", [1, "x"])
        await a.set_many({"d": 4, "e": 5}, 60)
        assert await a.delete("b") is True
        assert await a.delete_many(["gone", "nope"]) == 1
        keys = sorted([k async for k in a.keys_by_prefix("")])
        assert keys == ["a", "c", "d", "e", "from_async", "n", "t"]
        assert {k: v async for k, v in a.fetch_by_prefix("f")} == {"from_async": [1, "x"]}
        assert await a.count() == 7

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

    async def body(a: AsyncKeyValueStore) -> None:
        assert await a.get_record("users", dict, "u1") == {"name": "ann", "city": "Oslo"}
        assert await a.count("users") == 3
        found = await a.filter_record("users", dict, city="Oslo")
        assert sorted(r["name"] for r in found) == ["ann", "cy"]
        await a.update_record("users", "u3", {"name": "cy", "city": "Rome"})
        await a.insert_record("users", "u4", {"name": "dee", "city": "Oslo"})
        assert await a.delete_record("users", "u1") is True
        with pytest.raises(RecordNotFoundError):
            await a.update_record("users", "missing", {"name": "x"})
        assert await a.list_schemas() == ["users"]

    on_loop(make_async(indexes={"users": ["city"]}, buckets=4), body)
    assert sorted(r["name"] for r in sync.filter_record("users", dict, city="Rome")) == ["bob", "cy"]
    assert [r["name"] for r in sync.filter_record("users", dict, city="Oslo")] == ["dee"]
    assert sync.count("users") == 3
    left = sync._ttl("users", "u2")
    assert isinstance(left, float) and 0 < left <= 60
    sync.drop_schema("users")

    async def dropped(a: AsyncKeyValueStore) -> None:
        assert await a.count("users") == 0
        assert await a.list_schemas() == []

    on_loop(make_async(buckets=4), dropped)


def test_key_index_cross_faces(redis_server: RedisServer, key_prefix: str) -> None:
    url = f"{redis_server.url}?prefix={key_prefix}&key_index=true"
    sync = RedisStore.from_url(url)
    sync.set_many({f"p:{i:03d}": i for i in range(30)})
    sync.set("q:1", 1, ttl=30)

    async def body(a: AsyncKeyValueStore) -> None:
        assert [k async for k in a.keys_by_prefix("p:00")] == [f"p:00{i}" for i in range(10)]
        assert await a.count(prefix="p:") == 30
        await a.set("p:100", 100)
        assert await a.clear("q:") == 1

    on_loop(polykv.aio.connect(url), body)
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

    async def body(a: AsyncKeyValueStore) -> None:
        events = [e async for e in polykv.aio.watch(a, since=BEGINNING, follow=False)]
        assert [(e.op, e.schema, e.key) for e in events] == [
            (ChangeOp.INSERT, None, "a"),
            (ChangeOp.INSERT, "users", "u1"),
        ]
        assert events[-1].cursor == head
        await a.set("a", 2)
        await a.delete("a")
        tail = [e async for e in polykv.aio.watch(a, since=head, follow=False)]
        assert [(e.op, e.key, e.value) for e in tail] == [(ChangeOp.UPDATE, "a", 2), (ChangeOp.DELETE, "a", None)]
        seen["head"] = tail[-1].cursor

    on_loop(polykv.aio.connect(url), body)
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
