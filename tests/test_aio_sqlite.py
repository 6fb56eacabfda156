"""The sqlite store's async face (its blocking I/O in a bounded thread pool) against the conformance suite,
and both faces on one file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

import polykv.aio
from polykv.aio.connect import Connecting
from polykv.backends.sqlite import SQLiteStore
from polykv.testing.aio import AsyncStoreSuite, AsyncWatchSuite


class TestAsyncSQLiteFile(AsyncStoreSuite):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'suite.db'}"

    @pytest.fixture
    def open_async_store(self, store_url: str) -> Callable[[], Connecting]:
        return lambda: polykv.aio.connect(store_url)


class TestAsyncSQLiteWatch(AsyncWatchSuite):
    @pytest.fixture
    def open_watched_async(self, tmp_path: Path) -> Callable[[int], Connecting]:
        made: list[int] = []

        def make(change_log_size: int) -> Connecting:
            made.append(change_log_size)
            path = tmp_path / f"w{len(made)}.db"
            return polykv.aio.connect(f"sqlite:///{path}?change_log=true&change_log_size={change_log_size}")

        return make


def test_both_faces_read_and_write_one_file(tmp_path: Path) -> None:
    path = tmp_path / "both.db"
    sync = SQLiteStore(path)
    sync.set("from-sync", {"n": 1}, ttl=600)
    sync.insert_record("users", "u1", {"id": "u1", "name": "Ada"})

    async def main() -> None:
        async with polykv.aio.connect(f"sqlite:///{path}") as store:
            assert store.runner.kind == "thread"
            assert await store.get("from-sync") == {"n": 1}
            assert 0 < (await store.ttl("from-sync") or 0) <= 600
            assert (await store.get_record("users", dict, "u1"))["name"] == "Ada"
            await store.set("from-async", [1, 2])
            await store.insert_record("users", "u2", {"id": "u2", "name": "Alan"})
            assert await store.incr("hits", 5) == 5

    asyncio.run(main())
    assert sync.get("from-async") == [1, 2]
    assert sync.count("users") == 2 and sync.incr("hits") == 6
    sync.close()


def test_max_workers_bounds_the_pool(tmp_path: Path) -> None:
    async def main() -> None:
        async with polykv.aio.connect(f"sqlite:///{tmp_path / 'p.db'}", max_workers=2) as store:
            assert store.runner.max_workers == 2  # type: ignore[attr-defined]
            await asyncio.gather(*(store.set(f"k{i}", i) for i in range(50)))
            assert await store.count() == 50

    asyncio.run(main())


def test_closing_a_feed_whose_cancelled_read_still_runs_in_its_thread(tmp_path: Path) -> None:
    """A cancelled read of a threaded feed goes on in its worker until the feed sees the halt; an aclose()
    meanwhile waits for it (it met "generator already executing" before), and frees every worker."""

    async def main() -> None:
        url = f"sqlite:///{tmp_path / 'feed.db'}?change_log=true"
        async with polykv.aio.connect(url, max_workers=2) as store:
            feed = polykv.aio.watch(store, poll_interval=0.5)
            await feed.open()  # the generator exists; the read below is inside it as soon as a worker runs it
            read = asyncio.ensure_future(feed.__anext__())
            while not store.runner.busy:  # type: ignore[attr-defined]  # the worker is inside the feed's wait
                await asyncio.sleep(0)
            read.cancel()
            with pytest.raises(asyncio.CancelledError):
                await read
            await feed.aclose()  # the worker may still be inside the generator here
            await store.set("after", 1)
            assert await store.get("after") == 1

    for _ in range(3):
        asyncio.run(main())
