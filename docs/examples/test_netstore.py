"""Runs polykv's conformance suite against the connector example, with each connection mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kvserver import KVServer
from netstore import NetStore

from polykv.connectors import ConnectionMode, PooledConnectorManager, SingleConnectorManager
from polykv.errors import BackendUnavailableError
from polykv.testing import StoreSuite


@pytest.fixture(scope="module")
def running() -> Iterator[KVServer]:
    server = KVServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(running: KVServer) -> KVServer:
    running.data.clear()  # every test starts with an empty server
    return running


class TestSingle(StoreSuite):
    @pytest.fixture
    def store(self, server: KVServer) -> Iterator[NetStore]:
        with NetStore(port=server.port, connection_mode=ConnectionMode.SINGLE) as store:
            yield store


class TestPooled(StoreSuite):
    @pytest.fixture
    def store(self, server: KVServer) -> Iterator[NetStore]:
        with NetStore(port=server.port, connection_mode=ConnectionMode.POOLED, max_connections=4) as store:
            yield store


def test_each_mode_gets_its_manager(server: KVServer) -> None:
    with NetStore(port=server.port) as single, NetStore(port=server.port, connection_mode="pooled") as pooled:
        assert isinstance(single.manager, SingleConnectorManager)
        assert isinstance(pooled.manager, PooledConnectorManager)
        single["k"] = 1
        assert pooled["k"] == 1
        assert pooled.manager.stats() == {"total": 1, "in_use": 0, "idle": 1}


def test_a_stopped_server_is_unavailable() -> None:
    server = KVServer()
    store = NetStore(port=server.port)
    store["k"] = 1
    server.stop()
    with pytest.raises(BackendUnavailableError) as info:
        store["k"]
    assert info.value.backend == "net_example"
    store.close()
