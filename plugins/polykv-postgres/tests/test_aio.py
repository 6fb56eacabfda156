"""The PostgreSQL store's async face (psycopg's blocking connections in a bounded thread pool) against the
conformance suite on the real server, and both faces on one table."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from polykv_postgres.store import PostgresStore

import polykv.aio
from polykv.aio.connect import Connecting
from polykv.testing.aio import AsyncStoreSuite


class TestAsyncPostgres(AsyncStoreSuite):
    @pytest.fixture
    def store_url(self, pg_url: str, make_store: Callable[..., PostgresStore]) -> str:
        make_store()  # the fixture drops this table's tables afterwards
        return pg_url

    @pytest.fixture
    def open_async_store(self, store_url: str) -> Callable[[], Connecting]:
        return lambda: polykv.aio.connect(store_url)


def test_both_faces_share_the_table(pg_url: str, make_store: Callable[..., PostgresStore]) -> None:
    sync = make_store()
    sync.set("from-sync", [1, 2])

    async def main() -> None:
        async with polykv.aio.connect(pg_url) as store:
            assert store.runner.kind == "thread"
            assert await store.get("from-sync") == [1, 2]
            await store.insert_record("users", "u1", {"id": "u1", "age": 3})
            assert await store.incr("n", 2) == 2

    asyncio.run(main())
    assert sync.get_record("users", dict, "u1") == {"id": "u1", "age": 3}
    assert sync.incr("n") == 3
