"""polykv.integrations.zarr: zarr's own StoreTests on memory and sqlite, chunked arrays round-tripped, a free loop.

zarr's ``StoreTests`` run through the shipped ``polykv.testing.zarr.ZarrStoreTests``, which runs each coroutine
test in a fresh event loop (what zarr's own suite does through pytest-asyncio), so no asyncio pytest plugin is
needed. The Redis and S3 runs are in plugins/polykv-redis/tests/test_integrations.py and
plugins/polykv-fsspec/tests/test_integrations.py.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("zarr")

import numpy as np
import zarr
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import cpu, default_buffer_prototype

from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.errors import InvalidArgumentError, NotSupportedError, ReadOnlyError
from polykv.integrations.zarr import ZarrStore, cut
from polykv.store import KeyValueStore
from polykv.testing.zarr import ZarrStoreTests
from polykv.wrappers import PrefixStore, ReadOnlyStore


class PolykvStoreTests(ZarrStoreTests):
    """The shipped ZarrStoreTests; the repr also says the store is writable. Subclasses give ``store_kwargs``."""

    def test_store_repr(self, store: ZarrStore) -> None:
        super().test_store_repr(store)
        assert "read_only=False" in repr(store)


class TestZarrStoreTestsMemory(PolykvStoreTests):
    """Over a store object (a MemoryStore with the bytes codec)."""

    @pytest.fixture
    def store_kwargs(self) -> dict[str, Any]:
        return {"store": MemoryStore(codec="bytes")}

    async def test_serializable_store(self, store: ZarrStore) -> None:  # type: ignore[override]
        # An in-process store cannot travel to another process: pickling says so instead of copying nothing.
        with pytest.raises(NotSupportedError, match="pickles only when opened from a URL"):
            pickle.dumps(store)


class TestZarrStoreTestsSQLite(PolykvStoreTests):
    """Opened from a sqlite URL (so it pickles: the copy reopens the same file)."""

    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"store": f"sqlite:///{tmp_path}/zarr.db"}


@pytest.fixture(params=["memory", "sqlite"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    store: KeyValueStore = (
        MemoryStore(codec="bytes") if request.param == "memory" else SQLiteStore(tmp_path / "a.db", codec="bytes")
    )
    with store:
        yield store


def test_chunked_array_round_trip(kv: KeyValueStore) -> None:
    data = np.arange(60 * 45, dtype="float64").reshape(60, 45) / 7
    array = zarr.create_array(ZarrStore(kv), name="grid/temps", shape=data.shape, chunks=(16, 10), dtype="f8")
    array[:] = data
    assert "grid/temps/zarr.json" in kv
    assert len(list(kv.keys_by_prefix("grid/temps/c/"))) == 4 * 5  # one polykv key per chunk
    again = zarr.open_array(ZarrStore(kv), path="grid/temps", mode="r")
    np.testing.assert_array_equal(again[:], data)
    np.testing.assert_array_equal(again[5:20, 7:33], data[5:20, 7:33])
    group = zarr.open_group(ZarrStore(kv), mode="r")
    assert [name for name, _ in group.members()] == ["grid"]


def test_sqlite_file_reopened_reads_back_equal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/arrays.db"
    data = np.random.default_rng(0).integers(0, 1000, size=(33, 17), dtype="int32")
    with ZarrStore(url) as store:
        zarr.create_array(store, name="a", shape=data.shape, chunks=(8, 8), dtype="i4")[:] = data
    with ZarrStore(url, read_only=True) as reader:
        np.testing.assert_array_equal(zarr.open_array(reader, path="a")[:], data)
        with pytest.raises(ValueError, match="read-only"):
            zarr.open_array(reader, path="a")[0, 0] = 1
    copy = pickle.loads(pickle.dumps(ZarrStore(url)))
    np.testing.assert_array_equal(zarr.open_array(copy, path="a")[:], data)
    copy.close()


class GatedStore(MemoryStore):
    """A memory store whose reads wait until a gate opens, counting the primitive calls zarr causes."""

    _backend_type = None  # not registered

    def __init__(self) -> None:
        super().__init__(codec="bytes")
        self.gate = threading.Event()
        self.gate.set()
        self.reads: list[str] = []

    def _get(self, ns: str, key: str) -> bytes | None:
        self.reads.append("get")
        assert self.gate.wait(10), "the gate never opened: the event loop was blocked"
        return super()._get(ns, key)

    def _get_many(self, ns: str, keys: Any) -> list[bytes | None]:
        self.reads.append("get_many")
        return [super(GatedStore, self)._get(ns, key) for key in keys]


def test_the_event_loop_runs_while_a_read_waits() -> None:
    kv = GatedStore()
    kv.set("c/0", b"chunk")
    store = ZarrStore(kv)

    async def scenario() -> bytes:
        kv.gate.clear()
        read = asyncio.ensure_future(store.get("c/0", default_buffer_prototype()))
        await asyncio.sleep(0)  # the read is now waiting in a worker thread
        kv.gate.set()  # only reachable if the loop is not blocked by the read
        buffer = await read
        assert buffer is not None
        return buffer.to_bytes()

    assert asyncio.run(scenario()) == b"chunk"
    assert threading.current_thread() is threading.main_thread()


def test_partial_values_are_one_batch() -> None:
    kv = GatedStore()
    kv.set_many({"a": b"0123456789", "b": b"abcdef"})
    store = ZarrStore(kv)
    ranges = [("a", RangeByteRequest(2, 5)), ("b", SuffixByteRequest(2)), ("a", OffsetByteRequest(8)), ("x", None)]
    got = asyncio.run(store.get_partial_values(default_buffer_prototype(), ranges))
    assert [None if g is None else g.to_bytes() for g in got] == [b"234", b"ef", b"89", None]
    assert kv.reads == ["get_many"]


def test_byte_ranges_past_the_end_are_cut_short() -> None:
    assert cut(b"abcd", SuffixByteRequest(10)) == b"abcd"
    assert cut(b"abcd", SuffixByteRequest(0)) == b""
    assert cut(b"abcd", RangeByteRequest(2, 99)) == b"cd"
    assert cut(b"abcd", OffsetByteRequest(9)) == b""
    with pytest.raises(InvalidArgumentError, match="Unexpected byte_range"):
        cut(b"abcd", (0, 2))  # type: ignore[arg-type]


def test_list_dir_names_keys_and_folders_once() -> None:
    kv = MemoryStore(codec="bytes")
    kv.set_many({"zarr.json": b"", "a/zarr.json": b"", "a/c/0": b"", "a/c/1": b"", "ab/zarr.json": b""})
    store = ZarrStore(kv)

    async def listing(prefix: str) -> list[str]:
        return sorted([name async for name in store.list_dir(prefix)])

    assert asyncio.run(listing("")) == ["a", "ab", "zarr.json"]
    assert asyncio.run(listing("a")) == ["c", "zarr.json"]
    assert asyncio.run(listing("a/c/")) == ["0", "1"]
    asyncio.run(store.delete_dir("a"))
    assert sorted(kv.keys()) == ["ab/zarr.json", "zarr.json"]


def test_stores_with_another_codec_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="'bytes' codec") as caught:
        ZarrStore(MemoryStore())
    assert caught.value.backend == "memory"
    with pytest.raises(InvalidArgumentError, match="codec='json'"):
        ZarrStore("memory://", codec="json")
    with pytest.raises(InvalidArgumentError, match="only with a URL"):
        ZarrStore(MemoryStore(codec="bytes"), timeout=3)
    with pytest.raises(InvalidArgumentError, match="KeyValueStore or a store URL"):
        ZarrStore(42)  # type: ignore[arg-type]


def test_wrapped_stores_work_and_keep_their_rules() -> None:
    base = MemoryStore(codec="bytes")
    data = np.arange(12, dtype="i2")
    tenant = ZarrStore(PrefixStore(base, "tenant1/"))
    zarr.create_array(tenant, name="v", shape=(12,), chunks=(5,), dtype="i2")[:] = data
    assert all(key.startswith("tenant1/") for key in base)
    readonly = ZarrStore(ReadOnlyStore(PrefixStore(base, "tenant1/")))
    np.testing.assert_array_equal(zarr.open_array(readonly, path="v")[:], data)
    with pytest.raises(ReadOnlyError):
        asyncio.run(readonly.set("v/c/0", cpu.Buffer.from_bytes(b"x")))
    with pytest.raises(NotSupportedError, match="pickles only"):
        pickle.dumps(ZarrStore(base))


def test_equality_and_read_only_copies(tmp_path: Path) -> None:
    kv = MemoryStore(codec="bytes")
    assert ZarrStore(kv) == ZarrStore(kv)
    assert ZarrStore(kv) != ZarrStore(MemoryStore(codec="bytes"))
    assert ZarrStore("memory://") != ZarrStore("memory://")  # two separate in-process stores
    url = f"sqlite:///{tmp_path}/e.db"
    one, two = ZarrStore(url), ZarrStore(url)
    reader = one.with_read_only(True)
    try:
        assert one == two
        assert reader.read_only and reader.kv is one.kv
        reader.close()  # leaves the shared store open
        asyncio.run(one.set("k", cpu.Buffer.from_bytes(b"v")))
        assert two.kv["k"] == b"v"
    finally:
        one.close()
        two.close()


def test_sync_protocol(kv: KeyValueStore) -> None:
    store = ZarrStore(kv)
    store.set_sync("k", cpu.Buffer.from_bytes(b"12345"))
    got = store.get_sync("k", byte_range=RangeByteRequest(1, 3))
    assert got is not None and got.to_bytes() == b"23"
    store.delete_sync("k")
    assert store.get_sync("k") is None
