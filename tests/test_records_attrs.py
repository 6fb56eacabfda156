"""attrs record classes on memory and sqlite (file): ``polykv.testing.records_attrs``.

The same suite runs on a real Redis in plugins/polykv-redis/tests/test_records_models_redis.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("attrs")

from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.testing.records_attrs import AttrsRecordSuite


class TestAttrsRecordsMemory(AttrsRecordSuite):
    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        store = MemoryStore()
        yield store
        store.close()


class TestAttrsRecordsSQLite(AttrsRecordSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "records.db")
        yield store
        store.close()
