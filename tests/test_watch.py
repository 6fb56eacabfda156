"""Change feeds: the shared watch checks (``polykv.testing.watch``) on the memory and sqlite stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.errors import InvalidArgumentError
from polykv.store import KeyValueStore
from polykv.testing.watch import Factory, WatchSuite


class TestMemoryWatch(WatchSuite):
    @pytest.fixture
    def watched(self) -> Factory:
        def make(change_log_size: int = 100_000) -> KeyValueStore:
            return MemoryStore(change_log_size=change_log_size)

        return make


class TestSQLiteWatch(WatchSuite):
    @pytest.fixture
    def watched(self, tmp_path: Path) -> Iterator[Factory]:
        stores: list[SQLiteStore] = []

        def make(change_log_size: int = 100_000) -> KeyValueStore:
            path = tmp_path / f"w{len(stores)}.db"
            stores.append(SQLiteStore(path, change_log=True, change_log_size=change_log_size))
            return stores[-1]

        yield make
        for store in stores:
            store.close()


def test_bad_change_log_size() -> None:
    with pytest.raises(InvalidArgumentError, match="change_log_size"):
        MemoryStore(change_log_size=0)
