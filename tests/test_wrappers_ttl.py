"""TTLStore: the conformance suite over memory and sqlite (with its two no-default-TTL tests restated), its rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import polykv
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.capabilities import Capability
from polykv.errors import InvalidArgumentError, InvalidURLError, NotSupportedError
from polykv.store import MAX_TTL, KeyValueStore
from polykv.testing import StoreSuite
from polykv.testing.limits import BAD_TTLS, assert_bad_ttl_writes_refused
from polykv.wrappers import ReadOnlyStore, TTLStore

DEFAULT, MAXIMUM = 3000.0, 7200.0


class _TTLSuite(StoreSuite):
    """The suite, with its three tests of "no ttl means no expiry" restated for a default TTL."""

    @pytest.mark.parametrize("ttl", BAD_TTLS, ids=repr)
    def test_ttl_out_of_range_is_refused_everywhere(self, store: KeyValueStore, ttl: Any) -> None:
        store.set("k", "before")
        before = store.ttl("k")
        store.upsert_record("things", "r1", {"v": 1})
        assert Capability.ADD in store.capabilities  # so the add write is among those refused
        assert_bad_ttl_writes_refused(store, ttl)
        assert store.get("k") == "before"
        assert "n" not in store
        left = store.ttl("k")
        assert before is not None and left is not None and left <= before  # the default, unchanged
        assert store.get_record("things", dict, "r1") == {"v": 1}
        assert not store.exists("things", "r2")

    def test_ttl_expires(self, store: KeyValueStore) -> None:
        store.set("short", 1, ttl=0.5)
        store.set("long", 2, ttl=3600)
        store.set("default", 3)
        left = store.ttl("long")
        assert left is not None and 3500 < left <= 3600
        left = store.ttl("default")
        assert left is not None and DEFAULT - 100 < left <= DEFAULT

    def test_set_without_ttl_clears_expiry(self, store: KeyValueStore) -> None:
        store.set("k", 1, ttl=100)
        store.set("k", 2)
        left = store.ttl("k")
        assert left is not None and 100 < left <= DEFAULT


class TestTTLOverMemoryConformance(_TTLSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return TTLStore(MemoryStore(), default_ttl=DEFAULT, max_ttl=MAXIMUM)


class TestTTLOverSQLiteConformance(_TTLSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return TTLStore(SQLiteStore(tmp_path / "t.db"), default_ttl=DEFAULT, max_ttl=MAXIMUM, owns=True)


class TestTTLStackedURLConformance(_TTLSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return polykv.connect(f"ttl:default={DEFAULT}&max={MAXIMUM}+sqlite:///{tmp_path}/u.db")


def _left(store: KeyValueStore, key: str) -> float:
    left = store.ttl(key)
    assert left is not None
    return left


def test_every_write_gets_the_default_and_none_exceeds_the_maximum(inner: KeyValueStore) -> None:
    store = TTLStore(inner, default_ttl=60, max_ttl=600)
    store.set("plain", 1)
    store.set("long", 1, ttl=10_000)
    store.set("short", 1, ttl=5)
    store.set_many({"m1": 1, "m2": 2})
    store.set_many({"m3": 1}, ttl=10_000)
    store.add("added", 1)
    store.setdefault("sd", 1)
    store.update({"u": 1})
    assert 50 < _left(store, "plain") <= 60 and 590 < _left(store, "long") <= 600 and _left(store, "short") <= 5
    for key in ("m1", "m2", "added", "sd", "u"):
        assert 50 < _left(store, key) <= 60
    assert 590 < _left(store, "m3") <= 600
    store.insert_record("s", "r1", {"id": "r1"})
    store.upsert_record("s", "r2", {"id": "r2"}, ttl=10_000)
    store.update_record("s", "r1", {"id": "r1", "v": 2})
    r1, r2 = inner._ttl("s", "r1"), inner._ttl("s", "r2")  # records have no public ttl(): the primitive
    assert isinstance(r1, float) and 50 < r1 <= 60
    assert isinstance(r2, float) and 590 < r2 <= 600


def test_max_only_bounds_writes_without_a_ttl(inner: KeyValueStore) -> None:
    store = TTLStore(inner, max_ttl=30)
    store.set("a", 1)
    store.set("b", 1, ttl=10)
    assert 25 < _left(store, "a") <= 30 and _left(store, "b") <= 10
    assert store.effective_ttl(None) == 30 and store.effective_ttl(100) == 30 and store.effective_ttl(1) == 1


def test_incr_creates_with_the_default_and_keeps_an_existing_expiry(inner: KeyValueStore) -> None:
    store = TTLStore(inner, default_ttl=60)
    assert store.incr("n") == 1
    assert 50 < _left(store, "n") <= 60
    store.set("m", 5, ttl=10)
    assert store.incr("m") == 6 and _left(store, "m") <= 10
    assert store.compare_and_set("m", 6, 7) and _left(store, "m") <= 10


def test_needs_ttl_capability() -> None:
    with pytest.raises(NotSupportedError) as info:
        TTLStore(ReadOnlyStore(_NoTTL()), default_ttl=1)
    assert info.value.capability == "ttl"


class _NoTTL(MemoryStore):
    capabilities = MemoryStore.capabilities - {polykv.Capability.TTL}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"default_ttl": 0},
        {"max_ttl": -1},
        {"default_ttl": True},
        {"max_ttl": MAX_TTL + 1},
        {"default_ttl": 10, "max_ttl": 5},
    ],
)
def test_bad_bounds(options: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        TTLStore(MemoryStore(), **options)


@pytest.mark.parametrize("url", ["ttl+memory://", "ttl:default=x+memory://", "ttl:min=3+memory://"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(InvalidURLError):
        polykv.connect(url)


def test_url() -> None:
    with polykv.connect("ttl:max=90+memory://") as store:
        assert isinstance(store, TTLStore) and store.max_ttl == 90 and store.default_ttl is None
