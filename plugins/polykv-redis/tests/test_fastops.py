"""``polykv.ops`` fast paths into Redis (``polykv_redis.fastops``): same results as the portable path, on a
real redis-server, with the copy semantics (prefix, schemas, overwrite, checkpoint) intact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from polykv_redis import fastops
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer

from polykv import ops
from polykv.backends.sqlite import SQLiteStore
from polykv.changes import BEGINNING, ChangeOp


@pytest.fixture
def source(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "src.db")
    store.set_many({f"k{i:04d}": i for i in range(1200)})
    for i in range(1500):
        store.upsert_record("items", f"r{i:04d}", {"id": i, "name": f"item {i}"})
    store.upsert_record("other", "o1", {"x": 1})
    yield store
    store.close()


@pytest.fixture
def dst(redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
    store = RedisStore(port=redis_server.port, prefix=key_prefix, buckets=8)
    yield store
    store.close()


def test_copy_into_redis_dispatches_on_the_destination(dst: RedisStore) -> None:
    assert ops.write_batch.dispatch(RedisStore) is fastops.write_batch
    assert ops.write_batch.dispatch(RedisClusterStore) is fastops.write_batch
    assert ops.write_batch.dispatch(SQLiteStore) is not fastops.write_batch


def test_copy_sqlite_to_redis_keeps_counts_and_values(source: SQLiteStore, dst: RedisStore) -> None:
    dst.upsert_record("items", "r0001", {"kept": True})
    dst.set("k0000", "kept")
    result = ops.copy(source, dst, batch_size=400)
    assert result.copied == 1200 + 1500 + 1 - 2 and result.skipped == 2
    assert dst.count("items") == 1500 and dst.count("other") == 1 and dst.count() == 1200
    assert dst.get_record("items", dict, "r0001") == {"kept": True} and dst.get("k0000") == "kept"
    assert dst.get_record("items", dict, "r1499") == {"id": 1499, "name": "item 1499"}
    assert sorted(dst.record_keys("items")) == [f"r{i:04d}" for i in range(1500)]
    again = ops.copy(source, dst, schemas=["items"], overwrite=True, batch_size=1000)
    assert again.copied == 1500 and dst.count("items") == 1500  # overwrites are not counted twice
    assert dst.get_record("items", dict, "r0001") == {"id": 1, "name": "item 1"}


def test_bulk_write_keeps_ttl_and_index_bookkeeping_like_single_writes(
    dst: RedisStore, redis_server: RedisServer
) -> None:
    indexed = RedisStore(port=redis_server.port, prefix=dst.layout.prefix, buckets=8, indexes={"items": ["name"]})
    indexed.upsert_record("items", "r0003", {"name": "x"})  # indexed on name by another client
    dst.upsert_record("items", "r0002", {"old": 1}, ttl=300)  # live with a TTL
    fastops.write_batch(dst, "items", [("r0002", b'{"id":2}'), ("r0003", b'{"id":3}'), ("r0009", b'{"id":9}')])
    assert dst.count("items") == 3
    assert dst._ttl("items", "r0002") is None  # a set without ttl clears the old expiry, as WRITE does
    bucket = dst.layout.bucket_of("r0003")
    h, m, _ = dst.layout.bookkeeping("items", bucket)
    client = indexed._run(lambda c: c)
    assert client.hget(m, "r0003") is None and int(client.hget(h, "i:name") or 0) == 0  # unindexed
    assert indexed._count("items", "") == 3
    indexed.close()


def test_prefix_schemas_and_checkpoint_resume(source: SQLiteStore, dst: RedisStore, tmp_path: Path) -> None:
    checkpoint = tmp_path / "ck.json"
    seen: list[int] = []

    def stop_after_two_batches(items: int) -> None:
        seen.append(items)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ops.copy(source, dst, schemas=["items"], prefix="r1", batch_size=100, checkpoint=checkpoint,
                 progress=stop_after_two_batches)  # fmt: skip
    state = json.loads(checkpoint.read_text())
    assert state["ns"] == "items" and state["position"] == 200
    result = ops.copy(source, dst, schemas=["items"], prefix="r1", batch_size=100, checkpoint=checkpoint)
    assert result.resumed == 200 and result.copied == 300 and not checkpoint.exists()
    assert sorted(dst.record_keys("items")) == [f"r{i:04d}" for i in range(1000, 1500)]
    assert dst.count("items") == 500 and dst.count() == 0


def test_copy_into_a_store_with_change_feed_logs_every_record(
    source: SQLiteStore, redis_server: RedisServer, key_prefix: str
) -> None:
    with RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True) as fed:
        ops.copy(source, fed, schemas=["items"], prefix="r00")
        events = list(ops.watch(fed, since=BEGINNING, follow=False))
    assert [(e.op, e.key) for e in events] == [(ChangeOp.INSERT, f"r{i:04d}") for i in range(100)]


def test_copy_into_a_cluster(source: SQLiteStore, redis_cluster: RedisClusterServers, key_prefix: str) -> None:
    with RedisClusterStore(port=redis_cluster.port, prefix=key_prefix) as dst:
        result = ops.copy(source, dst, schemas=["items"])
        assert result.copied == 1500 and dst.count("items") == 1500
        assert dst.get_record("items", dict, "r0777") == {"id": 777, "name": "item 777"}
