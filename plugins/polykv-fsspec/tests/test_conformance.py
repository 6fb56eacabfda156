"""The polykv conformance suite against local files, fsspec memory, S3 (SeaweedFS) and HDFS (hdfs-native, WebHDFS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from polykv_fsspec import FsspecStore, HDFSConnector, HDFSStore
from s3_fixtures import open_s3, s3_url

import polykv
from polykv.store import KeyValueStore
from polykv.testing import StoreSuite


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
