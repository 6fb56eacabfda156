"""Runs polykv's async conformance suite against the example store of the plugin-author guide: its async
face (the store's own methods, in a bounded thread pool) passes the same cases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from dictstore import DictStore

from polykv.aio import AsyncKeyValueStore, ThreadRunner
from polykv.testing.aio import AsyncStoreSuite


async def open_dictstore() -> AsyncKeyValueStore:
    return AsyncKeyValueStore(DictStore(), ThreadRunner())  # what polykv.aio.connect("dictexample://") builds


class TestDictStoreAsync(AsyncStoreSuite):
    @pytest.fixture
    def open_async_store(self) -> Callable[[], Awaitable[AsyncKeyValueStore]]:
        return open_dictstore  # fresh and empty for every test
