"""Against the real servers: URLs, credentials, conditional writes, and faults (server stopped, restarted)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hdfs_server import HDFSServer
from polykv_fsspec import AccessDeniedError, FsspecStore, HDFSConnector, HDFSStore, S3Store
from s3_fixtures import open_s3, s3_url, start_s3
from s3_server import S3Server

import polykv
from polykv.capabilities import Capability
from polykv.connectors import ConnectionMode, ConnectorManagerFactory, SingleConnectorManager
from polykv.errors import BackendUnavailableError, InvalidArgumentError, PolyKVError

#: Guard against a hang (not a performance bound): a stopped server must give an error well before this.
HANG_GUARD_SECONDS = 60.0


def test_connect_s3_url_and_secret_hidden(s3_server: S3Server, unique: str) -> None:
    with polykv.connect(s3_url(s3_server, unique)) as store:
        assert isinstance(store, S3Store)
        store["k"] = {"v": 1}
        assert store["k"] == {"v": 1}
        assert Capability.ADD in store.capabilities
        assert s3_server.secret_key not in repr(store)
    with polykv.connect(s3_url(s3_server, unique)) as again:
        assert again["k"] == {"v": 1}  # the same objects through a second client


def test_a_listing_does_not_hide_another_clients_writes(s3_server: S3Server, unique: str) -> None:
    """s3fs answered exists() from its cached listing of the folder: delete() after a listing returned False
    and kept a key another client had written since."""
    with open_s3(s3_server, unique) as first, open_s3(s3_server, unique) as second:
        first["x"] = 1
        assert list(first.keys()) == ["x"]
        second["k"] = 2
        assert first.delete("k") is True and second.get("k") is None
        assert first.add("k", 3) is True and second.get("k") == 3


def test_close_closes_the_client_and_the_store_reconnects(s3_server: S3Server, unique: str) -> None:
    store = open_s3(s3_server, unique)
    store["k"] = 1
    store.close()
    assert store.fs._s3 is None  # the S3 client is closed now, not when collected
    assert store["k"] == 1
    store.close()
    store.close()  # closing twice, or a store that never connected, is fine
    open_s3(s3_server, unique).close()


def test_wrong_secret_is_refused(s3_server: S3Server, unique: str) -> None:
    with polykv.connect(s3_url(s3_server, unique, secret="not-the-secret")) as store:
        with pytest.raises(AccessDeniedError) as info:
            store["k"] = 1
        assert "not-the-secret" not in str(info.value)
        with pytest.raises(AccessDeniedError):
            store.get("k")
    with polykv.connect(s3_url(s3_server, unique)) as good:
        assert good.get("k") is None  # nothing was written by the refused client


def test_s3_without_conditional_writes_declares_no_add(s3_server: S3Server, unique: str) -> None:
    with open_s3(s3_server, unique, conditional_writes=False) as store:
        assert Capability.ADD not in store.capabilities
        store.insert_record("users", "a", {"n": 1})  # check-then-write, still refuses a duplicate
        with pytest.raises(polykv.RecordExistsError):
            store.insert_record("users", "a", {"n": 2})


def test_connect_hdfs_and_webhdfs_share_files(hdfs_server: HDFSServer, unique: str) -> None:
    with polykv.connect(f"hdfs://127.0.0.1:{hdfs_server.rpc_port}/{unique}") as native:
        assert isinstance(native, HDFSStore) and native.base_path == f"/{unique}"
        native["Key/../x"] = [1, 2]
        native.upsert_record("users", "u1", {"name": "A"})
        with polykv.connect(f"webhdfs://127.0.0.1:{hdfs_server.http_port}/{unique}?user=polykv") as web:
            assert web["Key/../x"] == [1, 2]
            assert web.list_schemas() == ["users"]
        assert sorted(native.fs.ls(f"/{unique}", detail=False)) == [f"/{unique}/_kv", f"/{unique}/users"]


def test_hdfs_default_base_path() -> None:
    store = HDFSStore(host="127.0.0.1", port=9000)
    assert store.base_path == "/polykv" and store.connector.username is None


def test_hdfs_store_takes_its_client_from_a_single_connector_manager() -> None:
    store = HDFSStore(host="127.0.0.1", port=9000, connect_timeout=2)  # hdfs-native connects on first use
    assert isinstance(store.manager, SingleConnectorManager)
    assert store.fs is store.connector.connection and store.connector.connect_timeout == 2
    assert store.manager.stats() == {"total": 1, "in_use": 0, "idle": 1}
    store.close()
    assert store.manager.stats()["total"] == 0  # the store made the manager, so it closed it


def test_hdfs_store_copies_a_given_connector_of_any_subclass() -> None:
    class Traced(HDFSConnector):
        pass

    given = Traced("127.0.0.1", 9000, "ada", protocol="webhdfs")
    with HDFSStore(given, "/base") as store:
        assert type(store.connector) is Traced and store.connector.config() == given.config()
        assert repr(store) == "<HDFSStore 'webhdfs://127.0.0.1:9000/base' codec='json'>"


def test_hdfs_store_on_the_callers_manager() -> None:
    manager = ConnectorManagerFactory.create_manager(
        HDFSConnector, {"host": "127.0.0.1", "port": 9000}, ConnectionMode.SINGLE
    )
    with manager:
        with HDFSStore(manager=manager) as store:
            shared = manager.acquire()  # SINGLE: every caller gets the one connector
            manager.release(shared)
            assert store.manager is manager and store.connector is shared
        assert manager.stats()["total"] == 1  # the caller's manager stays open until the caller closes it
        with pytest.raises(InvalidArgumentError):
            HDFSStore(HDFSConnector(), manager=manager)
    assert manager.stats()["total"] == 0


def test_connect_file_and_fsspec_memory(tmp_path: Path, unique: str) -> None:
    with polykv.connect(f"file://{tmp_path}/data") as store:
        assert isinstance(store, FsspecStore) and Capability.ADD in store.capabilities
        store["a"] = 1
    assert (tmp_path / "data" / "_kv" / "a").read_bytes() == b"1"
    with polykv.connect(f"fsspec+memory://{unique}/base?codec=msgpack") as mem:
        assert mem.codec.name == "msgpack"
        mem["a"] = {"x": 1}
        assert mem["a"] == {"x": 1} and Capability.ADD not in mem.capabilities


def test_bad_urls_raise_polykv_errors() -> None:
    with pytest.raises(polykv.InvalidURLError):
        polykv.connect("s3:///no-bucket")
    with pytest.raises(polykv.InvalidURLError):
        polykv.connect("hdfs:///no-host")


# == faults ========================================================================================
@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[S3Server]:
    server = start_s3(tmp_path / "s3")
    try:
        yield server
    finally:
        server.stop()


def _expect_unavailable(action: object) -> None:
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        action()  # type: ignore[operator]
    assert time.monotonic() - started < HANG_GUARD_SECONDS
    assert info.value.backend is not None


def test_s3_stopped_then_restarted(own_s3: S3Server, unique: str) -> None:
    with open_s3(own_s3, unique, retries=2, connect_timeout=2) as store:
        store.set_many({f"k{i}": i for i in range(20)})
        own_s3.stop()
        _expect_unavailable(lambda: store.get("k1"))
        _expect_unavailable(lambda: store.set("k1", 5))
        _expect_unavailable(lambda: store.get_many(["k1", "k2"]))
        _expect_unavailable(lambda: list(store.keys()))
        own_s3.restart()
        deadline = time.monotonic() + 30
        while True:  # the restarted server answers before its filer is ready: poll with a deadline
            try:
                assert store.get("k1") == 1
                break
            except BackendUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        store.set("k1", 6)
        assert store.get_many(["k1", "k2"]) == {"k1": 6, "k2": 2}
        assert store.count() == 20


def test_hdfs_stopped_then_restarted(tmp_path: Path, unique: str) -> None:
    server = HDFSServer.start(tmp_path / "hdfs")
    try:
        with HDFSStore(host="127.0.0.1", port=server.rpc_port, base_path=f"/{unique}", connect_timeout=2) as store:
            store.set_many({f"k{i}": i for i in range(5)})
            server.stop()
            _expect_unavailable(lambda: store.get("k1"))
            _expect_unavailable(lambda: store.set("k1", 5))
            _expect_unavailable(lambda: list(store.keys()))
            server.start_processes()
            assert store.get("k1") == 1
            store.set("k1", 6)
            assert store.get_many(["k1", "k2"]) == {"k1": 6, "k2": 2}
    finally:
        server.stop()


def test_polykv_errors_name_the_backend(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with FsspecStore(f"file://{blocker}") as store, pytest.raises(PolyKVError) as info:
        store["k"] = 1
    assert info.value.backend == "fsspec" and info.value.key == "k"
