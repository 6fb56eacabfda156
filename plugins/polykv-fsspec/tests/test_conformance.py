"""The polykv conformance suite against local files, fsspec memory, S3 (SeaweedFS) and HDFS (hdfs-native, WebHDFS),
and against the S3 store's async face (``AsyncS3Store``, native on the loop)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from polykv_fsspec import FsspecStore, HDFSConnector, HDFSStore
from s3_fixtures import open_s3, s3_url

import polykv
import polykv.aio
from polykv.aio.connect import Connecting
from polykv.store import KeyValueStore
from polykv.testing import StoreSuite
from polykv.testing.aio import AsyncStoreSuite


class TestLocalFiles(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[KeyValueStore]:
        with polykv.connect(f"file://{tmp_path}/store") as store:
            yield store

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"file://{tmp_path}/store"


class TestFsspecMemory(StoreSuite):
    @pytest.fixture
    def store(self, unique: str) -> Iterator[KeyValueStore]:
        with FsspecStore(f"memory://polykv/{unique}") as store:
            yield store


class TestS3(StoreSuite):
    @pytest.fixture
    def store(self, s3_server, unique: str) -> Iterator[KeyValueStore]:  # type: ignore[no-untyped-def]
        with open_s3(s3_server, unique) as store:
            yield store

    @pytest.fixture
    def store_url(self, s3_server, unique: str) -> str:  # type: ignore[no-untyped-def]
        return s3_url(s3_server, unique)


#: Cases whose record binding holds the store the async face runs, and then call it synchronously from the test's
#: thread (``record.save()``, ``binding.store == store``): a store whose I/O awaits on the loop cannot answer
#: there. The memory store can (its "I/O" never waits); for S3 this is the async suite's to solve.
BOUND_RECORDS_CALL_THE_INNER_STORE = frozenset(
    {
        "test_filtered_and_iterated_records_remember_their_keys",
        "test_record_methods_without_a_key_field",
        "test_record_methods_use_the_schema_it_came_from",
        "test_bound_record_save_delete_reload",
    }
)


class TestS3Async(AsyncStoreSuite):
    @pytest.fixture(autouse=True)
    def _known_gaps(self, request: pytest.FixtureRequest) -> None:
        if request.node.originalname in BOUND_RECORDS_CALL_THE_INNER_STORE:
            pytest.skip("a bound record calls the inner store outside the loop (AsyncStoreSuite, not S3)")

    @pytest.fixture
    def open_async_store(self, s3_server, unique: str) -> Callable[[], Connecting]:  # type: ignore[no-untyped-def]
        return lambda: polykv.aio.connect(s3_url(s3_server, unique))

    @pytest.fixture
    def store_url(self, s3_server, unique: str) -> str:  # type: ignore[no-untyped-def]
        return s3_url(s3_server, unique)


class TestHDFS(StoreSuite):
    @pytest.fixture
    def store(self, hdfs_server, unique: str) -> Iterator[KeyValueStore]:  # type: ignore[no-untyped-def]
        with HDFSStore(HDFSConnector("127.0.0.1", hdfs_server.rpc_port), base_path=f"/{unique}") as store:
            yield store

    @pytest.fixture
    def store_url(self, hdfs_server, unique: str) -> str:  # type: ignore[no-untyped-def]
        return f"hdfs://127.0.0.1:{hdfs_server.rpc_port}/{unique}"


class TestWebHDFS(StoreSuite):
    @pytest.fixture
    def store(self, hdfs_server, unique: str) -> Iterator[KeyValueStore]:  # type: ignore[no-untyped-def]
        with polykv.connect(f"webhdfs://127.0.0.1:{hdfs_server.http_port}/{unique}?user=polykv") as store:
            yield store

    @pytest.fixture
    def store_url(self, hdfs_server, unique: str) -> str:  # type: ignore[no-untyped-def]
        return f"webhdfs://127.0.0.1:{hdfs_server.http_port}/{unique}?user=polykv"
