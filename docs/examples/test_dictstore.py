"""Runs polykv's conformance suite against the example store of the plugin-author guide."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dictstore import DictStore

from polykv.testing import StoreSuite


class TestDictStoreConformance(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[DictStore]:
        store = DictStore()  # fresh and empty for every test
        try:
            yield store
        finally:
            store.close()
