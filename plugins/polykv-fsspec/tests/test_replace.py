"""``update_record`` (replace-if-exists) racing ``delete_record``: a deleted record never comes back.

Local files (``renameat2`` exchange) and S3 (``If-Match`` on the ETag) replace atomically; HDFS checks then
renames, which the store declares (``io.atomic_replace`` is False) and the guide documents.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hdfs_server import HDFSServer
from polykv_fsspec import FsspecStore, HDFSConnector, HDFSStore, S3Store
from s3_fixtures import open_s3
from s3_server import S3Server

from polykv.errors import RecordNotFoundError
from polykv.store import KeyValueStore

UPDATERS = 4


def race_update_with_delete(store: KeyValueStore, rounds: int) -> list[str]:
    """Keys of the rounds where a record deleted while updates ran was there afterwards (should be none)."""
    resurrected = []
    for round_ in range(rounds):
        key = f"r{round_}"
        store.insert_record("users", key, {"v": 0})
        barrier = threading.Barrier(UPDATERS + 1)

        def delete(key: str = key, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait()
            return store.delete_record("users", key)

        def update(n: int, key: str = key, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait()
            try:
                store.update_record("users", key, {"v": n})
            except RecordNotFoundError:
                return False
            return True

        with ThreadPoolExecutor(UPDATERS + 1) as pool:
            deleted = pool.submit(delete)
            updates = [pool.submit(update, n) for n in range(1, UPDATERS + 1)]
            assert deleted.result() is True  # nothing else deletes: the record was there when delete ran
            for each in updates:
                each.result()
        if store.exists("users", key):
            resurrected.append(key)
    return resurrected


def test_local_replace_is_atomic(tmp_path: Path) -> None:
    with FsspecStore(f"file://{tmp_path}") as store:
        assert store.io.atomic_replace
        assert race_update_with_delete(store, rounds=60) == []
        assert not [n for n in (tmp_path / "users").iterdir() if n.name.startswith(".")], "temporary files left"


def test_local_update_of_missing_record_creates_nothing(tmp_path: Path) -> None:
    with FsspecStore(f"file://{tmp_path}") as store:
        store.insert_record("users", "a", {"v": 1})
        with pytest.raises(RecordNotFoundError):
            store.update_record("users", "b", {"v": 2})
        store.update_record("users", "a", {"v": 3})
        assert sorted(store.record_keys("users")) == ["a"]
        assert store.get_record("users", dict, "a") == {"v": 3}
        assert sorted(p.name for p in (tmp_path / "users").iterdir()) == ["a"]


@pytest.fixture
def s3_store(s3_server: S3Server, unique: str) -> Iterator[S3Store]:
    with open_s3(s3_server, unique) as store:
        yield store


def test_s3_replace_is_atomic(s3_store: S3Store) -> None:
    assert s3_store.io.atomic_replace
    assert race_update_with_delete(s3_store, rounds=15) == []
    with pytest.raises(RecordNotFoundError):
        s3_store.update_record("users", "missing", {"v": 1})
    assert not s3_store.exists("users", "missing")


def test_hdfs_declares_check_then_write(hdfs_server: HDFSServer, unique: str) -> None:
    with HDFSStore(HDFSConnector("127.0.0.1", hdfs_server.rpc_port), base_path=f"/{unique}") as store:
        assert not store.io.atomic_replace
        store.insert_record("users", "a", {"v": 1})
        store.update_record("users", "a", {"v": 2})
        assert store.get_record("users", dict, "a") == {"v": 2}
        with pytest.raises(RecordNotFoundError):
            store.update_record("users", "missing", {"v": 1})
        assert not store.exists("users", "missing")
