"""The memory store: the conformance suite plus what is particular to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import polykv
from polykv.backends.memory import MemoryStore
from polykv.errors import InvalidURLError
from polykv.testing import StoreSuite


class TestMemoryConformance(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        store = MemoryStore()
        yield store
        store.close()

    @pytest.fixture
    def store_url(self) -> str:
        return "memory://"


def test_instances_do_not_share_data() -> None:
    a, b = MemoryStore(), MemoryStore()
    a.set("k", 1)
    assert b.get("k") is None


def test_memory_url() -> None:
    import polykv

    store = polykv.connect("memory://")
    assert isinstance(store, MemoryStore)


def test_a_memory_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(InvalidURLError, match="no user or password") as info:
        polykv.connect("memory://ada:s3cret@host/")
    assert "s3cret" not in str(info.value) and "ada" not in str(info.value)
