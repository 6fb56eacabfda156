"""polykv's integrations on a real Redis: eric-sse's repositories end to end, zarr's StoreTests, a chunked array.

The same scenarios run on memory and sqlite in the core tests (tests/test_integration_eric_sse.py and
tests/test_integration_zarr.py); here the data lives in a redis-server started for the session.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import redis
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisServer

pytest.importorskip("eric_sse")
pytest.importorskip("zarr")

import numpy as np
import zarr
from eric_sse.exception import ItemNotFound
from eric_sse.prefabs import SSEChannel

from polykv.integrations.eric_sse import KvStorageAdapter
from polykv.integrations.zarr import ZarrStore
from polykv.testing.eric_sse import repositories
from polykv.testing.zarr import ZarrStoreTests


# == eric-sse ====================================================================================
def test_eric_sse_repositories_end_to_end(redis_server: RedisServer, key_prefix: str) -> None:
    with (
        RedisStore(port=redis_server.port, prefix=key_prefix) as first,
        RedisStore(port=redis_server.port, prefix=key_prefix) as second,
    ):
        channel = SSEChannel(retry_timeout_milliseconds=9)
        listeners = [channel.add_listener(), channel.add_listener()]
        repositories(first).persist(channel)

        again = repositories(second)  # a second adapter over the same data, through another client
        loaded = again.load_one(channel.id)
        assert loaded.retry_timeout_milliseconds == 9
        assert {c.listener.id for c in loaded.get_connections()} == {listener.id for listener in listeners}
        assert [c.id for c in again.load_all()] == [channel.id]

        loaded.remove_listener(listeners[0].id)
        again.persist(loaded)
        assert [c.listener.id for c in repositories(first).load_one(channel.id).get_connections()] == [listeners[1].id]

        repositories(first).delete(channel.id)
        with pytest.raises(ItemNotFound):
            again.load_one(channel.id)
        assert list(second.keys()) == []


def test_eric_sse_prefix_reads_are_batched_and_literal(redis_server: RedisServer, key_prefix: str) -> None:
    """eric-sse's own Redis storage did SCAN plus one GET per key, with glob characters live; the adapter does not."""
    client = redis.Redis(port=redis_server.port)
    with RedisStore(port=redis_server.port, prefix=key_prefix) as store:
        storage = KvStorageAdapter(store)
        for i in range(120):
            storage.upsert(f"ch[1]:{i}", {"i": i})
        storage.upsert("ch1:x", {"i": -1})  # what the glob ch[1]* would also match
        client.config_resetstat()
        values = list(storage.fetch_by_prefix("ch[1]:"))
        stats = client.info("commandstats")
    client.close()
    assert sorted(v["i"] for v in values) == list(range(120))
    assert "cmdstat_get" not in stats
    assert stats["cmdstat_mget"]["calls"] == 1


# == zarr ========================================================================================
class TestZarrStoreTestsRedis(ZarrStoreTests):
    """zarr's own StoreTests, the store opened from a redis:// URL with a key prefix of its own."""

    repr_prefix = "ZarrStore(<RedisStore"

    @pytest.fixture
    def store_kwargs(self, redis_server: RedisServer, key_prefix: str) -> dict[str, Any]:
        return {"store": f"redis://127.0.0.1:{redis_server.port}/0?prefix={key_prefix}"}


def test_zarr_chunked_array_round_trip(redis_server: RedisServer, key_prefix: str) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/0?prefix={key_prefix}"
    data = np.random.default_rng(1).normal(size=(40, 30)).astype("float32")
    with ZarrStore(url) as store:
        array = zarr.create_array(store, name="obs/wind", shape=data.shape, chunks=(16, 16), dtype="f4")
        array[:] = data
        assert len(list(store.kv.keys_by_prefix("obs/wind/c/"))) == 3 * 2
    with ZarrStore(url, read_only=True) as reader:  # a new connection pool over the same server and prefix
        np.testing.assert_array_equal(zarr.open_array(reader, path="obs/wind")[:], data)
        copy = pickle.loads(pickle.dumps(reader))
        try:
            assert copy == reader and copy.read_only
            np.testing.assert_array_equal(zarr.open_array(copy, path="obs/wind")[3:20, 5:9], data[3:20, 5:9])
        finally:
            copy.close()
