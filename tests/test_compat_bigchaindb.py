"""polykv.compat.bigchaindb and polykv.connect() with no URL: configuration picks the store."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import polykv
from polykv import ops, urls
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.compat import bigchaindb
from polykv.errors import NotSupportedError, RecordExistsError


def test_connect_url_is_optional() -> None:
    assert inspect.signature(urls.connect).parameters["url"].default is None
    from polykv import cli

    assert cli.DEFAULT_URL is urls.DEFAULT_URL


def test_connect_reads_polykv_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POLYKV_URL", f"sqlite:///{tmp_path}/env.db")
    with bigchaindb.connect() as store:
        assert isinstance(store, SQLiteStore)
        store.set("k", 1)
    assert (tmp_path / "env.db").exists()
    monkeypatch.setenv("POLYKV_URL", "memory://")
    with polykv.connect() as store:
        assert isinstance(store, MemoryStore)


def test_connect_default_without_configuration(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "POLYKV_URL"}
    code = "import polykv; s = polykv.connect(); print(type(s).__name__); s.close()"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "SQLiteStore"
    assert (tmp_path / "polykv.db").exists()


@pytest.fixture(params=["memory", "sqlite"])
def connection(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("POLYKV_URL", "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/q.db")
    with bigchaindb.connect() as store:
        yield store


def test_query_interfaces_dispatch_on_the_store(connection: Any) -> None:
    tx = {"id": "abc", "operation": "CREATE"}
    bigchaindb.query.write_transaction(connection, tx)
    with pytest.raises(RecordExistsError):
        bigchaindb.query.write_transaction(connection, tx)
    assert bigchaindb.query.get_transaction(connection, "abc") == tx
    assert bigchaindb.query.get_transaction(connection, "nope") is None
    assert bigchaindb.schema.list_schemas(connection) == ["transactions"]
    bigchaindb.schema.drop_schema(connection, "transactions")
    assert bigchaindb.schema.list_schemas(connection) == []


def test_unserved_object_names_the_operation() -> None:
    with pytest.raises(NotSupportedError, match="write_transaction"):
        bigchaindb.query.write_transaction(object(), {"id": "x"})
    with pytest.raises(NotSupportedError):
        ops.copy(object(), object())


def test_backend_implementations_register_when_its_store_module_is_imported() -> None:
    code = (
        "from polykv import ops\n"
        "from polykv.store import KeyValueStore\n"
        "import polykv_redis.store as s\n"
        "assert ops.write_batch.dispatch(s.RedisStore) is not ops.write_batch.dispatch(KeyValueStore)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
