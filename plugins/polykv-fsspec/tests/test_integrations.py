"""polykv.integrations.zarr on a real S3 server (SeaweedFS): zarr's StoreTests, and a chunked array reads back."""

from __future__ import annotations

import asyncio
import functools
import inspect
import pickle
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from polykv_fsspec import S3Store

pytest.importorskip("zarr")

import numpy as np
import zarr
from zarr.core.buffer import cpu
from zarr.testing.store import StoreTests

from polykv.integrations.zarr import ZarrStore

from .conftest import BUCKET


def test_zarr_chunked_array_round_trip_on_s3(s3_server, unique: str) -> None:  # type: ignore[no-untyped-def]
    data = np.arange(50 * 24, dtype="int64").reshape(50, 24) * 3
    with S3Store(
        BUCKET,
        unique,
        endpoint_url=s3_server.endpoint_url,
        key=s3_server.access_key,
        secret=s3_server.secret_key,
        codec="bytes",
    ) as s3:
        array = zarr.create_array(ZarrStore(s3), name="runs/r1", shape=data.shape, chunks=(20, 10), dtype="i8")
        array[:] = data
        assert "runs/r1/zarr.json" in s3
        assert len(list(s3.keys_by_prefix("runs/r1/c/"))) == 3 * 3  # one object per chunk

    url = (
        f"s3://{BUCKET}/{unique}?endpoint_url={s3_server.endpoint_url}"
        f"&key={s3_server.access_key}&secret={s3_server.secret_key}"
    )
    with ZarrStore(url, read_only=True) as reader:  # a new S3 client over the same objects
        np.testing.assert_array_equal(zarr.open_array(reader, path="runs/r1")[:], data)
        assert s3_server.secret_key not in repr(reader)
        copy = pickle.loads(pickle.dumps(reader))
        try:
            np.testing.assert_array_equal(zarr.open_array(copy, path="runs/r1")[7:41, 3:19], data[7:41, 3:19])
        finally:
            copy.close()


C = TypeVar("C", bound=type)


def run_coroutine_tests(cls: C) -> C:
    """Give ``cls`` a synchronous twin of every inherited ``async def test_*`` (a fresh event loop each)."""
    for name in dir(cls):
        test = getattr(cls, name)
        if name.startswith("test_") and inspect.iscoroutinefunction(test):

            @functools.wraps(test)
            def run(*args: Any, __test: Any = test, **kwargs: Any) -> None:
                asyncio.run(__test(*args, **kwargs))

            run.__signature__ = inspect.signature(test)  # type: ignore[attr-defined]
            setattr(cls, name, run)
    return cls


@run_coroutine_tests
class TestZarrStoreTestsS3(StoreTests[ZarrStore, cpu.Buffer]):
    """zarr's own StoreTests, the store opened from an s3:// URL in a folder of its own."""

    store_cls = ZarrStore
    buffer_cls = cpu.Buffer

    @pytest.fixture
    def store_kwargs(self, s3_server, unique: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return {
            "store": f"s3://{BUCKET}/{unique}?endpoint_url={s3_server.endpoint_url}"
            f"&key={s3_server.access_key}&secret={s3_server.secret_key}"
        }

    @pytest.fixture
    def store(self, open_kwargs: dict[str, Any]) -> Iterator[ZarrStore]:  # type: ignore[override]
        store = asyncio.run(ZarrStore.open(**open_kwargs))
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def store_not_open(self, store_kwargs: dict[str, Any]) -> Iterator[ZarrStore]:  # type: ignore[override]
        store = ZarrStore(**store_kwargs)
        try:
            yield store
        finally:
            store.close()

    async def set(self, store: ZarrStore, key: str, value: cpu.Buffer) -> None:  # type: ignore[override]
        store.kv.set(key, value.to_bytes())

    async def get(self, store: ZarrStore, key: str) -> cpu.Buffer:  # type: ignore[override]
        return cpu.Buffer.from_bytes(store.kv[key])

    def test_store_repr(self, store: ZarrStore) -> None:
        assert repr(store).startswith("ZarrStore(<S3Store")

    def test_store_supports_writes(self, store: ZarrStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: ZarrStore) -> None:
        assert store.supports_listing
