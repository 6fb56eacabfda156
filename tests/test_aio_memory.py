"""The memory store's async face (native: on the loop) against the whole conformance suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import polykv.aio
from polykv.aio import AsyncKeyValueStore
from polykv.aio.connect import Connecting
from polykv.testing.aio import AsyncStoreSuite, AsyncWatchSuite


class TestAsyncMemory(AsyncStoreSuite):
    @pytest.fixture
    def open_async_store(self) -> Callable[[], Connecting]:
        return lambda: polykv.aio.connect("memory://")

    @pytest.fixture
    def store_url(self) -> str:
        return "memory://"


class TestAsyncMemoryWatch(AsyncWatchSuite):
    @pytest.fixture
    def open_watched_async(self) -> Callable[[int], Connecting]:
        return lambda size: polykv.aio.connect(f"memory://?change_log_size={size}")


def test_the_face_runs_on_the_bridge() -> None:
    import asyncio

    async def main() -> AsyncKeyValueStore:
        async with polykv.aio.connect("memory://") as store:
            return store

    assert asyncio.run(main()).runner.kind == "bridge"
