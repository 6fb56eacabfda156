"""Store wrappers: the conformance suite through every wrapper (memory and sqlite), plus each one's own rules."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import polykv
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.capabilities import Capability
from polykv.errors import (
    BackendUnavailableError,
    InvalidArgumentError,
    InvalidURLError,
    NotSupportedError,
    ReadOnlyError,
    RecordExistsError,
)
from polykv.registration import STORE_CLASSES
from polykv.store import KeyValueStore
from polykv.testing import StoreSuite
from polykv.wrappers import CachedStore, FallbackStore, PrefixStore, ReadOnlyStore, StoreWrapper

OTHER_TENANT = {"tenant2/a": 1, "tenant10/b": 2, "tenant1": 3, "tenant1-x": 4}


def _seed_other_tenant(inner: KeyValueStore) -> None:
    inner.set_many(OTHER_TENANT)
    PrefixStore(inner, "tenant2/").insert_record("users", "u", {"id": "u"})


def _other_tenant_untouched(inner: KeyValueStore) -> None:
    assert {k: v for k, v in inner.fetch_by_prefix("") if not k.startswith("tenant1/")} == OTHER_TENANT
    assert list(inner.record_keys("users", "tenant2/")) == ["tenant2/u"]


class OutageStore(MemoryStore):
    """A memory store whose every primitive raises BackendUnavailableError while ``down`` is set (an outage)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = threading.Event()

    def _check(self) -> None:
        if self.down.is_set():
            raise BackendUnavailableError("outage", backend=self.backend_name)

    def _get(self, ns: str, key: str) -> bytes | None:
        self._check()
        return super()._get(ns, key)

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self._check()
        super()._set(ns, key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        self._check()
        return super()._delete(ns, key)

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        self._check()
        return super()._scan(ns, prefix)

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        self._check()
        return super()._add(ns, key, data, ttl)

    def _ttl(self, ns: str, key: str) -> Any:
        self._check()
        return super()._ttl(ns, key)


# == conformance =======================================================================================
class TestTransparentWrapperConformance(StoreSuite):
    """The delegating base every wrapper builds on."""

    @pytest.fixture
    def store(self) -> Iterator[KeyValueStore]:
        with StoreWrapper(MemoryStore()) as store:
            yield store


class TestPrefixOverMemoryConformance(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[KeyValueStore]:
        inner = MemoryStore()
        _seed_other_tenant(inner)
        with PrefixStore(inner, "tenant1/") as store:
            yield store
        _other_tenant_untouched(inner)


class TestPrefixOverSQLiteConformance(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[KeyValueStore]:
        inner = SQLiteStore(tmp_path / "shared.db")
        _seed_other_tenant(inner)
        try:
            with PrefixStore(inner, "tenant1/") as store:
                yield store
            _other_tenant_untouched(inner)
        finally:
            inner.close()


class TestCachedOverMemoryConformance(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[KeyValueStore]:
        with CachedStore(MemoryStore(), MemoryStore(), max_items=50) as store:
            yield store


class TestCachedOverSQLiteConformance(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[KeyValueStore]:
        with CachedStore(MemoryStore(), SQLiteStore(tmp_path / "back.db"), max_items=50, owns=True) as store:
            yield store


class TestFallbackOverMemoryConformance(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[KeyValueStore]:
        with FallbackStore(MemoryStore(), MemoryStore()) as store:
            yield store


class TestFallbackOverSQLiteConformance(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[KeyValueStore]:
        primary, secondary = SQLiteStore(tmp_path / "primary.db"), SQLiteStore(tmp_path / "replica.db")
        with FallbackStore(primary, secondary, owns=True) as store:
            yield store


class TestStackedURLConformance(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[KeyValueStore]:
        url = f"cached:max_items=40+prefix:t%2B1/+fallback:memory://+sqlite:///{tmp_path}/stack.db"
        with polykv.connect(url) as store:
            yield store


# == wrappers are stores, not backends =================================================================
def test_wrappers_are_not_registered() -> None:
    for cls in (StoreWrapper, PrefixStore, ReadOnlyStore, CachedStore, FallbackStore):
        assert cls not in STORE_CLASSES.values()
        assert "_backend_type" not in vars(cls)


def test_wrapper_shares_the_wrapped_codec() -> None:
    inner = MemoryStore(codec="json")
    wrapped = PrefixStore(inner, "p/")
    assert wrapped.codec is inner.codec
    wrapped.set("k", {"a": 1})
    assert inner.get("p/k") == {"a": 1}  # same bytes: readable straight from the wrapped store
    inner.set("p/j", [1, 2])
    assert wrapped.get("j") == [1, 2]
    wrapped.codec = polykv.get_codec("msgpack")
    assert inner.codec.name == "msgpack"


def test_non_store_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        PrefixStore({"a": 1}, "p/")  # type: ignore[arg-type]


# == PrefixStore =======================================================================================
def test_prefix_isolates_tenants_sharing_a_store() -> None:
    shared = MemoryStore()
    one, two = PrefixStore(shared, "t1/"), PrefixStore(shared, "t2/")
    one.set("k", 1)
    two.set("k", 2)
    one.insert_record("users", "u1", {"id": "u1"})
    assert (one.get("k"), two.get("k")) == (1, 2)
    assert list(two.record_keys("users")) == [] and two.list_schemas() == []
    assert one.list_schemas() == ["users"]
    two.drop_schema("users")
    assert one.count("users") == 1
    assert one.clear() == 1
    assert sorted(shared.keys()) == ["t2/k"]


def test_prefix_filter_sees_only_its_records(tmp_path: Path) -> None:
    shared = SQLiteStore(tmp_path / "f.db")
    try:
        PrefixStore(shared, "a/").insert_record("people", "1", {"id": "1", "city": "Oslo"})
        PrefixStore(shared, "b/").insert_record("people", "1", {"id": "1", "city": "Oslo"})
        found = PrefixStore(shared, "a/").filter_record("people", dict, city="Oslo")
        assert found == [{"id": "1", "city": "Oslo"}]
    finally:
        shared.close()


@pytest.mark.parametrize("prefix", ["", None, 3])
def test_prefix_must_be_a_non_empty_str(prefix: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        PrefixStore(MemoryStore(), prefix)


# == ReadOnlyStore =====================================================================================
@pytest.fixture
def populated() -> MemoryStore:
    inner = MemoryStore()
    inner.set_many({"a": 1, "b": [2], "c": {"x": 3}})
    inner.set("ttl", 1, ttl=100)
    inner.insert_record("users", "1", {"id": "1", "name": "Ada"})
    return inner


def test_read_only_reads_everything(populated: MemoryStore) -> None:
    ro = ReadOnlyStore(populated)
    assert ro.get("a") == 1 and ro["b"] == [2] and "c" in ro
    assert sorted(ro.keys()) == sorted(populated.keys()) and len(ro) == 4
    assert dict(ro.fetch_by_prefix("")) == dict(populated.fetch_by_prefix(""))
    assert ro.get_many(["a", "zz"]) == {"a": 1}
    assert ro.get_record("users", dict, "1") == {"id": "1", "name": "Ada"}
    assert ro.filter_record("users", dict, name="Ada") == [{"id": "1", "name": "Ada"}]
    assert ro.list_schemas() == ["users"] and ro.count("users") == 1
    left = ro.ttl("ttl")
    assert left is not None and 0 < left <= 100
    assert ro.capabilities == {Capability.TTL}


WRITES = {
    "set": lambda s: s.set("a", 9),
    "set_ttl": lambda s: s.set("a", 9, ttl=5),
    "setitem": lambda s: s.__setitem__("new", 1),
    "upsert": lambda s: s.upsert("a", 9),
    "delete": lambda s: s.delete("a"),
    "delitem": lambda s: s.__delitem__("a"),
    "clear": lambda s: s.clear(),
    "set_many": lambda s: s.set_many({"a": 9}),
    "delete_many": lambda s: s.delete_many(["a"]),
    "add": lambda s: s.add("new", 1),
    "compare_and_set": lambda s: s.compare_and_set("a", 1, 2),
    "incr": lambda s: s.incr("a"),
    "insert_record_new": lambda s: s.insert_record("users", "2", {"id": "2"}),
    "insert_record_existing": lambda s: s.insert_record("users", "1", {"id": "1"}),
    "update_record": lambda s: s.update_record("users", "1", {"id": "1", "name": "Eve"}),
    "upsert_record": lambda s: s.upsert_record("users", "1", {"id": "1"}),
    "delete_record": lambda s: s.delete_record("users", "1"),
    "drop_schema": lambda s: s.drop_schema("users"),
    "save": lambda s: s.save({"id": "3"}, "users"),
}


@pytest.mark.parametrize("write", list(WRITES.values()), ids=list(WRITES))
def test_read_only_refuses_every_write(populated: MemoryStore, write: Any) -> None:
    before = (dict(populated.fetch_by_prefix("")), list(populated.iter_records("users", dict)))
    ro = ReadOnlyStore(populated)
    with pytest.raises(ReadOnlyError) as info:
        write(ro)
    assert info.value.backend == "readonly+memory"
    assert (dict(populated.fetch_by_prefix("")), list(populated.iter_records("users", dict))) == before


# == CachedStore =======================================================================================
def test_cache_is_bounded_and_serves_from_the_front() -> None:
    front, back = MemoryStore(), MemoryStore()
    cached = CachedStore(front, back, max_items=3)
    for i in range(10):
        cached.set(f"k{i}", i)
    assert cached.cached_count() == 3 and len(list(front.keys())) == 3
    assert sorted(front.keys()) == ["k7", "k8", "k9"]  # least recently used went first
    assert cached.get("k0") == 0  # read through from the back store, and now cached
    assert "k0" in set(front.keys()) and cached.cached_count() == 3
    # The front answers a hit: the back store is not asked (its copy is changed behind the cache's back).
    back.set("k0", "changed behind the cache")
    assert cached.get("k0") == 0
    cached.invalidate()
    assert cached.get("k0") == "changed behind the cache" and list(front.keys()) == ["k0"]


def test_cache_write_through_and_delete() -> None:
    front, back = MemoryStore(), MemoryStore()
    cached = CachedStore(front, back)
    cached.set("k", 1)
    assert back.get("k") == 1 and front.get("k") == 1
    cached.delete("k")
    assert back.get("k") is None and front.get("k") is None
    cached.insert_record("users", "1", {"id": "1"})
    assert back.get_record("users", dict, "1") == {"id": "1"}
    with pytest.raises(RecordExistsError):
        cached.insert_record("users", "1", {"id": "1"})


def test_cache_ignores_front_entries_it_did_not_put_there() -> None:
    front, back = MemoryStore(), MemoryStore()
    front.set("k", "stale")
    back.set("k", "fresh")
    assert CachedStore(front, back).get("k") == "fresh"


def test_cache_entries_expire_with_their_ttl() -> None:
    front, back = MemoryStore(), MemoryStore()
    back.set("k", 1, ttl=0.05)
    cached = CachedStore(front, back)
    assert cached.get("k") == 1
    import time

    deadline = time.monotonic() + 10
    while cached.get("k") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cached.get("k") is None and back.get("k") is None


def test_cache_ttl_option_bounds_staleness() -> None:
    import time

    front, back = MemoryStore(), MemoryStore()
    cached = CachedStore(front, back, ttl=0.05)
    cached.set("k", 1)
    back.set("k", 2)  # another process writes to the back store
    deadline = time.monotonic() + 10
    while cached.get("k") != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cached.get("k") == 2


def test_cache_capabilities_follow_the_back_store() -> None:
    from polykv.backends.memory import MemoryStore as M

    class Plain(M):
        capabilities = frozenset()

    cached = CachedStore(MemoryStore(), Plain(), max_items=5)
    assert cached.capabilities == frozenset()
    with pytest.raises(NotSupportedError):
        cached.add("k", 1)
    assert CachedStore(Plain(), MemoryStore()).capabilities >= {Capability.ADD, Capability.INCR}


def test_cache_stays_coherent_under_concurrent_writers_and_readers() -> None:
    cached = CachedStore(MemoryStore(), MemoryStore(), max_items=8)
    keys = [f"k{i}" for i in range(16)]

    def work(worker: int) -> None:
        for round_ in range(200):
            key = keys[(worker + round_) % len(keys)]
            if worker % 2:
                cached.set(key, round_)
            else:
                cached.get(key)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    for key in keys:  # the cache never serves a value other than the back store's
        assert cached.get(key) == cached.back.get(key)


@pytest.mark.parametrize("bad", [{"max_items": 0}, {"max_items": True}, {"ttl": 0}, {"ttl": "1"}])
def test_cache_rejects_bad_settings(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        CachedStore(MemoryStore(), MemoryStore(), **bad)


# == FallbackStore =====================================================================================
def test_fallback_reads_from_the_secondary_during_an_outage() -> None:
    primary, secondary = OutageStore(), MemoryStore()
    primary.set("k", "primary")
    secondary.set_many({"k": "replica", "r": 1})
    secondary.insert_record("users", "1", {"id": "1"})
    store = FallbackStore(primary, secondary)
    assert store.get("k") == "primary" and store.fallbacks == 0
    primary.down.set()
    assert store.get("k") == "replica"
    assert sorted(store.keys_by_prefix()) == ["k", "r"]
    assert store.get_record("users", dict, "1") == {"id": "1"}
    assert store.ttl("r") is None
    assert store.fallbacks == 4
    primary.down.clear()
    assert store.get("k") == "primary"


def test_fallback_never_drops_a_write() -> None:
    primary, secondary = OutageStore(), MemoryStore()
    store = FallbackStore(primary, secondary)
    primary.down.set()
    for write in (lambda: store.set("k", 1), lambda: store.delete("k"), lambda: store.add("k", 1)):
        with pytest.raises(BackendUnavailableError):
            write()
    assert list(secondary.keys()) == []  # nothing was written anywhere else either
    primary.down.clear()
    assert list(primary.keys()) == []


def test_fallback_needs_one_codec() -> None:
    with pytest.raises(InvalidArgumentError):
        FallbackStore(MemoryStore(codec="json"), MemoryStore(codec="bytes"))


def test_fallback_index_only_if_both_index(tmp_path: Path) -> None:
    sqlite = SQLiteStore(tmp_path / "i.db")
    try:
        assert Capability.INDEX in FallbackStore(sqlite, SQLiteStore(":memory:")).capabilities
        assert Capability.INDEX not in FallbackStore(sqlite, MemoryStore()).capabilities
    finally:
        sqlite.close()


# == URLs ==============================================================================================
def test_stacked_url_builds_the_stack(tmp_path: Path) -> None:
    db = tmp_path / "data.db"
    with SQLiteStore(db) as seed:
        seed.set("tenant1/greeting", "hello")
    with polykv.connect(f"readonly+prefix:tenant1/+sqlite:///{db}") as store:
        assert isinstance(store, ReadOnlyStore) and isinstance(store.inner, PrefixStore)
        assert isinstance(store.inner.inner, SQLiteStore)
        assert store.backend_name == "readonly+prefix+sqlite"
        assert store.get("greeting") == "hello"
        with pytest.raises(ReadOnlyError):
            store.set("greeting", "bye")


def test_stacked_url_options_and_ownership() -> None:
    store = polykv.connect("cached:max_items=7&ttl=30&front=memory://+memory://")
    assert isinstance(store, CachedStore)
    assert (store.max_items, store.cache_ttl, store.owns) == (7, 30.0, True)
    assert isinstance(store.front, MemoryStore) and isinstance(store.back, MemoryStore)
    store.close()


def test_stacked_url_closes_what_it_opened_on_failure(tmp_path: Path) -> None:
    with pytest.raises(InvalidURLError):
        polykv.connect(f"cached:size=3+sqlite:///{tmp_path}/x.db")


@pytest.mark.parametrize(
    "url",
    [
        "readonly:x+memory://",
        "prefix+memory://",
        "fallback+memory://",
        "cached:max_items=many+memory://",
        "cached:oops+memory://",
        "readonly+",
        "readonly+nosuchscheme://x",
    ],
)
def test_bad_stacked_urls_raise_invalid_url(url: str) -> None:
    with pytest.raises(InvalidURLError):
        polykv.connect(url)


def test_stacked_url_errors_hide_passwords() -> None:
    with pytest.raises(InvalidURLError) as info:
        polykv.connect("readonly+nosuchscheme://user:s3cret@host/0")
    assert "s3cret" not in str(info.value)


def test_plain_urls_still_connect() -> None:
    assert isinstance(polykv.connect("memory://"), MemoryStore)
