"""polykv.integrations.eric_sse: eric-sse's own channel and connection repositories, end to end, on memory and sqlite.

Each scenario persists a channel with its connections through one set of adapters, reloads it through a second
set over the same data (the same memory store; a second SQLiteStore on the same file), removes a listener,
then deletes the channel (``polykv.testing.eric_sse.scenario``). The Redis run of eric-sse's repositories is in
plugins/polykv-redis/tests/test_integrations.py.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("eric_sse")

from eric_sse.exception import ItemNotFound
from eric_sse.repository import KvStorage

from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.errors import InvalidArgumentError, KeyNotFoundError, SerializationError
from polykv.integrations.eric_sse import ItemNotFoundError, KvStorageAdapter
from polykv.store import KeyValueStore
from polykv.testing.eric_sse import scenario


def test_memory_end_to_end() -> None:
    store = MemoryStore()
    scenario(store, lambda: store)


def test_sqlite_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "eric.db"
    opened: list[SQLiteStore] = []

    def reopen() -> SQLiteStore:
        opened.append(SQLiteStore(path))
        return opened[-1]

    with SQLiteStore(path) as store:
        try:
            scenario(store, reopen)
        finally:
            for other in opened:
                other.close()


@pytest.fixture(params=["memory", "sqlite"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KvStorageAdapter]:
    store: KeyValueStore = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "kv.db")
    with store:
        yield KvStorageAdapter(store)


def test_is_an_eric_sse_kv_storage(adapter: KvStorageAdapter) -> None:
    assert isinstance(adapter, KvStorage)
    assert "KvStorageAdapter" in repr(adapter)


def test_kv_storage_contract(adapter: KvStorageAdapter) -> None:
    adapter.upsert("a:1", {"v": 1})
    adapter.upsert("a:2", {"v": 2})
    adapter.upsert("a*", {"v": 3})  # glob characters are literal
    adapter.upsert("b:1", None)
    adapter.upsert("a:1", {"v": 10})
    assert adapter.fetch_one("a:1") == {"v": 10}
    assert adapter.fetch_one("b:1") is None  # a stored None is a value, not a miss
    assert sorted(v["v"] for v in adapter.fetch_by_prefix("a:")) == [2, 10]
    assert [v["v"] for v in adapter.fetch_by_prefix("a*")] == [3]
    assert len(list(adapter.fetch_all())) == 4
    adapter.delete("a:1")
    adapter.delete("a:1")  # idempotent
    adapter.delete("never-there")
    with pytest.raises(ItemNotFound) as caught:
        adapter.fetch_one("a:1")
    assert caught.value.key == "a:1"


def test_records_are_not_items(adapter: KvStorageAdapter) -> None:
    adapter.store.insert_record("items", "a:1", {"v": 1})
    assert list(adapter.fetch_all()) == []


def test_missing_item_is_both_eric_sse_and_polykv_error(adapter: KvStorageAdapter) -> None:
    with pytest.raises(ItemNotFoundError) as caught:
        adapter.fetch_one("nope")
    error = caught.value
    assert isinstance(error, ItemNotFound)
    assert isinstance(error, KeyNotFoundError)
    assert isinstance(error, KeyError)
    assert (error.backend, error.key) == (adapter.store.backend_name, "nope")
    assert "key='nope'" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.key, copy.backend) == (ItemNotFoundError, "nope", error.backend)


def test_refusals_are_polykv_errors_and_write_nothing(adapter: KvStorageAdapter) -> None:
    with pytest.raises(SerializationError, match="cannot encode"):
        adapter.upsert("x", object())
    with pytest.raises(InvalidArgumentError):
        adapter.upsert("", {})
    assert list(adapter.fetch_all()) == []
    with pytest.raises(InvalidArgumentError, match="KeyValueStore"):
        KvStorageAdapter({})  # type: ignore[arg-type]


def test_two_adapters_over_one_store_see_the_same_items(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as one, SQLiteStore(tmp_path / "a.db") as two:
        KvStorageAdapter(one).upsert("k", {"x": [1, 2]})
        assert KvStorageAdapter(two).fetch_one("k") == {"x": [1, 2]}


def test_compat_module_points_at_the_adapter() -> None:
    from polykv.compat import eric_sse as compat

    assert compat.ADAPTER_MODULE == "polykv.integrations.eric_sse"
    assert compat.KvStorageAdapter is KvStorageAdapter
