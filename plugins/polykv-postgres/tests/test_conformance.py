"""The polykv conformance suite and the change-feed suite on a real PostgreSQL server, in both connection modes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from polykv_postgres.store import PostgresStore
from polykv_postgres.testing import PostgresServer

from polykv.testing import StoreSuite
from polykv.testing.watch import WatchSuite


class TestPostgresConformance(StoreSuite):
    @pytest.fixture
    def store(self, make_store: Callable[..., PostgresStore]) -> PostgresStore:
        return make_store()

    @pytest.fixture
    def store_url(self, pg_url: str) -> str:
        return pg_url


class TestPostgresSingleModeConformance(StoreSuite):
    @pytest.fixture
    def store(self, make_store: Callable[..., PostgresStore]) -> PostgresStore:
        return make_store(connection_mode="single")

    @pytest.fixture
    def store_url(self, pg_url: str) -> str:
        return f"{pg_url}&connection_mode=single"


class TestPostgresWatch(WatchSuite):
    @pytest.fixture
    def watched(self, pg_server: PostgresServer, table: str) -> Iterator[Callable[..., PostgresStore]]:
        stores: list[PostgresStore] = []

        def make(change_log_size: int = 100_000) -> PostgresStore:
            store = PostgresStore(
                port=pg_server.port,
                username="postgres",
                table=f"{table}_{len(stores)}",
                change_feed=True,
                change_feed_size=change_log_size,
            )
            stores.append(store)
            return store

        yield make
        for store in stores:
            store.drop_tables()
            store.close()
