"""The async face of the stores whose I/O blocks (local files, HDFS over hdfs-native, WebHDFS): their
synchronous methods in a bounded thread pool, against the whole conformance suite and the real servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

import polykv
import polykv.aio
from polykv.aio.connect import Connecting
from polykv.testing.aio import AsyncStoreSuite


class _ByURL(AsyncStoreSuite):
    loop_latency_values = 2_000  # one file per key

    @pytest.fixture
    def open_async_store(self, store_url: str) -> Callable[[], Connecting]:
        return lambda: polykv.aio.connect(store_url)


class TestAsyncLocalFiles(_ByURL):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"file://{tmp_path}/store"


class TestAsyncHDFS(_ByURL):
    @pytest.fixture
    def store_url(self, hdfs_server, unique: str) -> str:  # type: ignore[no-untyped-def]
        return f"hdfs://127.0.0.1:{hdfs_server.rpc_port}/{unique}"


class TestAsyncWebHDFS(_ByURL):
    @pytest.fixture
    def store_url(self, hdfs_server, unique: str) -> str:  # type: ignore[no-untyped-def]
        return f"webhdfs://127.0.0.1:{hdfs_server.http_port}/{unique}?user=polykv"


def test_files_both_faces_read_and_write_each_other(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/both"
    with polykv.connect(url) as sync:
        sync.set("from-sync", {"n": 1})
        sync.insert_record("users", "u1", {"id": "u1"})

    async def main() -> None:
        async with polykv.aio.connect(url) as store:
            assert store.runner.kind == "thread"
            assert await store.get("from-sync") == {"n": 1}
            assert await store.get_record("users", dict, "u1") == {"id": "u1"}
            await store.set_many({f"a{i}": i for i in range(50)})

    asyncio.run(main())
    with polykv.connect(url) as sync:
        assert sync.get_many([f"a{i}" for i in range(50)]) == {f"a{i}": i for i in range(50)}
