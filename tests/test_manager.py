"""StoreManager over a BackendRegistry and over plain dicts: routing, errors, sharing, threads, closing."""

from __future__ import annotations

import dataclasses
import doctest
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from polykv.backend_registry import BackendRegistry
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.errors import (
    BackendNotFoundError,
    InvalidArgumentError,
    InvalidKeyError,
    KeyNotFoundError,
    PolyKVError,
    ReadOnlyError,
    RecordExistsError,
    RecordNotFoundError,
)
from polykv.manager import StoreManager
from polykv.records import Record
from polykv.wrappers import ReadOnlyStore

DOCS = Path(__file__).resolve().parent.parent / "docs" / "guide" / "manager.rst"


@dataclasses.dataclass
class Session(Record):
    __schema_name__ = "sessions"

    id: str
    user: str


@pytest.fixture
def three() -> dict[str, MemoryStore]:
    return {"main": MemoryStore(), "cache": MemoryStore(), "archive": MemoryStore()}


# == addressing ========================================================================================
def test_every_operation_takes_backend(three: dict[str, MemoryStore]) -> None:
    mgr = StoreManager(three, default="main")
    mgr.set("k", 1, backend="cache")
    assert three["cache"].get("k") == 1 and three["main"].get("k") is None
    assert mgr.get("k", backend="cache") == 1 and mgr.get("k") is None
    assert mgr.add("a", 1, backend="archive") and not mgr.add("a", 2, backend="archive")
    assert mgr.incr("n", 5, backend="archive") == 5
    assert mgr.compare_and_set("n", 5, 6, backend="archive")
    assert mgr.exists("n", backend="archive") and not mgr.exists("n")
    assert sorted(mgr.keys(backend="archive")) == ["a", "n"]
    assert mgr.count(backend="archive") == 2 and mgr.count() == 0
    mgr.insert_record("users", "1", {"id": "1", "name": "Ada"}, backend="archive")
    assert mgr.get_record("users", dict, "1", backend="archive")["name"] == "Ada"
    assert mgr.exists("users", "1", backend="archive") and not mgr.exists("users", "1")
    assert mgr.filter_record("users", dict, backend="archive", name="Ada") == [{"id": "1", "name": "Ada"}]
    assert mgr.list_schemas(backend="archive") == ["users"] and mgr.list_schemas() == []
    assert mgr.delete_record("users", "1", backend="archive")
    assert mgr.delete("n", backend="archive") and mgr.clear(backend="archive") == 1


def test_plain_dict_of_one_store_makes_it_the_default() -> None:
    only = MemoryStore()
    mgr = StoreManager({"only": only})
    mgr.set("k", 1)
    assert only.get("k") == 1 and mgr.default == "only"


def test_no_default_and_no_route_is_a_clear_error(three: dict[str, MemoryStore]) -> None:
    mgr = StoreManager(three)
    with pytest.raises(InvalidArgumentError, match="no default backend") as info:
        mgr.get("k")
    assert "archive, cache, main" in str(info.value)


# == routing ===========================================================================================
def test_routes_by_schema_and_longest_prefix(three: dict[str, MemoryStore]) -> None:
    mgr = StoreManager(
        three, default="main", routes={"sessions": "cache", "user:": "cache", "user:archived:": "archive"}
    )
    mgr.set("user:1", "live")
    mgr.set("user:archived:1", "old")
    mgr.set("other", "x")
    assert three["cache"].get("user:1") == "live"
    assert three["archive"].get("user:archived:1") == "old"  # the longest matching prefix wins
    assert three["main"].get("other") == "x"
    mgr.save(Session("s1", "ada"))
    assert three["cache"].exists("sessions", "s1")
    assert mgr.get_record("sessions", Session, "s1").user == "ada"
    # Record keys are not prefix-routed: a schema stays in one store.
    mgr.insert_record("users", "user:9", {"id": "user:9"})
    assert three["main"].exists("users", "user:9")
    assert mgr.route("user:archived:2") == "archive" and mgr.route(schema="sessions") == "cache"
    assert mgr.route("zzz") == "main" and mgr.route(schema="users") == "main"


def test_explicit_backend_beats_routes(three: dict[str, MemoryStore]) -> None:
    mgr = StoreManager(three, default="main", routes={"sessions": "cache", "k": "cache"})
    mgr.set("k1", 1, backend="archive")
    mgr.insert_record("sessions", "s", {"id": "s"}, backend="archive")
    assert three["archive"].get("k1") == 1 and three["archive"].exists("sessions", "s")
    assert three["cache"].count() == 0 and three["cache"].count("sessions") == 0


def test_scans_go_to_the_store_the_prefix_routes_to(three: dict[str, MemoryStore]) -> None:
    mgr = StoreManager(three, default="main", routes={"user:": "cache"})
    mgr.set_many({"user:1": 1, "user:2": 2, "page:1": 3})
    assert sorted(mgr.keys_by_prefix("user:")) == ["user:1", "user:2"]
    assert dict(mgr.fetch_by_prefix("user:")) == {"user:1": 1, "user:2": 2}
    assert mgr.count(prefix="user:") == 2 and list(mgr.keys()) == ["page:1"]
    assert mgr.clear("user:") == 2


def test_batches_split_by_route_and_keep_order(three: dict[str, MemoryStore]) -> None:
    mgr = StoreManager(three, default="main", routes={"c:": "cache"})
    mgr.set_many([("c:1", 1), ("m:1", 2), ("c:2", 3)])
    assert sorted(three["cache"].keys()) == ["c:1", "c:2"] and list(three["main"].keys()) == ["m:1"]
    assert list(mgr.get_many(["m:1", "c:2", "nope", "c:1"]).items()) == [("m:1", 2), ("c:2", 3), ("c:1", 1)]
    assert mgr.delete_many(["c:1", "m:1", "nope"]) == 2


def test_batch_validates_every_key_before_any_store_is_written(three: dict[str, MemoryStore]) -> None:
    mgr = StoreManager(three, default="main", routes={"c:": "cache"})
    with pytest.raises(InvalidKeyError):
        mgr.set_many([("c:1", 1), ("m:1", 2), ("", 3)])
    assert all(store.count() == 0 for store in three.values())


# == errors ============================================================================================
def test_unknown_backend_lists_what_the_manager_holds(three: dict[str, MemoryStore]) -> None:
    mgr = StoreManager(three, default="main")
    with pytest.raises(BackendNotFoundError) as info:
        mgr.get("k", backend="redis")
    assert isinstance(info.value, KeyError)
    assert "'redis'" in str(info.value) and "archive, cache, main" in str(info.value)
    with pytest.raises(BackendNotFoundError):
        StoreManager(three, default="nope")
    with pytest.raises(BackendNotFoundError, match="route 'x'"):
        StoreManager(three, routes={"x": "nope"})


def test_unknown_backend_in_a_registry_lists_the_registry_names() -> None:
    registry = BackendRegistry()
    mgr = StoreManager(registry)
    with pytest.raises(BackendNotFoundError, match=r"available: .*memory.*sqlite") as info:
        mgr.get("k", backend="no_such_backend")
    assert info.value.backend == "no_such_backend"
    assert registry.loaded() == {}


def test_store_errors_pass_through_unchanged(three: dict[str, MemoryStore]) -> None:
    three["ro"] = ReadOnlyStore(MemoryStore())  # type: ignore[assignment]
    mgr = StoreManager(three, default="main")
    mgr.insert_record("users", "1", {"id": "1"})
    with pytest.raises(RecordExistsError) as exists:
        mgr.insert_record("users", "1", {"id": "1"})
    assert (exists.value.backend, exists.value.schema, exists.value.key) == ("memory", "users", "1")
    with pytest.raises(RecordNotFoundError):
        mgr.get_record("users", dict, "2")
    with pytest.raises(KeyNotFoundError):
        mgr.ttl("missing")
    with pytest.raises(ReadOnlyError) as ro:
        mgr.set("k", 1, backend="ro")
    assert type(ro.value) is ReadOnlyError and ro.value.backend == "readonly+memory"


# == sharing: registry vs plain dicts ==================================================================
def test_two_managers_over_one_registry_share_its_instances() -> None:
    registry = BackendRegistry()
    one, two = StoreManager(registry, default="memory"), StoreManager(registry, default="memory")
    assert "memory" not in registry.loaded()  # lazy: nothing is created before it is addressed
    one.set("k", "shared")
    assert two.get("k") == "shared"
    assert one.store("memory") is two.store("memory") is registry["memory"]
    registry.close()


def test_two_managers_over_two_dicts_share_nothing() -> None:
    one = StoreManager({"memory": MemoryStore()})
    two = StoreManager({"memory": MemoryStore()})
    one.set("k", "mine")
    assert two.get("k") is None
    assert one.store("memory") is not two.store("memory")


def test_registry_creates_each_store_once_under_threads() -> None:
    registry = BackendRegistry()
    mgr = StoreManager(registry, default="memory")
    barrier = threading.Barrier(8)

    def hit(_: int) -> int:
        barrier.wait()
        for _i in range(100):
            mgr.incr("n")
        return id(mgr.store("memory"))

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(hit, range(8)))
    assert len(ids) == 1 and mgr.get("n") == 800
    registry.close()


def test_manual_registration_through_the_registry() -> None:
    registry = BackendRegistry()
    mine = MemoryStore()
    registry.register("sessions_store", mine)
    mgr = StoreManager(registry, routes={"sessions": "sessions_store"}, default="memory")
    mgr.save(Session("s1", "ada"))
    assert mine.exists("sessions", "s1")
    registry.close()


# == closing ===========================================================================================
def test_close_closes_what_the_manager_opened_and_nothing_else(tmp_path: Path) -> None:
    given = SQLiteStore(":memory:")  # a :memory: sqlite store comes back empty once closed
    given.set("k", "kept")
    mgr = StoreManager({"given": given, "opened": "sqlite:///:memory:"}, default="opened")
    mgr.set("k", "lost on close")
    opened = mgr.store("opened")
    with mgr:
        pass
    assert mgr.closed
    assert given.get("k") == "kept"  # the caller's store was left open
    try:  # the store the manager opened from a URL was closed: its in-memory database is gone
        gone = opened.get("k") is None
    except PolyKVError:
        gone = True
    assert gone
    with pytest.raises(PolyKVError, match="closed"):
        mgr.get("k")
    with pytest.raises(PolyKVError, match="closed"):
        mgr.get("k", backend="given")
    mgr.close()  # idempotent
    given.close()


def test_close_leaves_a_shared_registry_alone() -> None:
    registry = BackendRegistry()
    with StoreManager(registry, default="memory") as mgr:
        mgr.set("k", 1)
    assert registry.loaded()["memory"].get("k") == 1
    registry.close()


def test_a_private_registry_is_owned_and_closed() -> None:
    mgr = StoreManager(default="memory")
    mgr.set("k", 1)
    registry = mgr._stores
    assert isinstance(registry, BackendRegistry) and "memory" in registry.loaded()
    mgr.close()
    assert registry.loaded() == {}


def test_failed_url_closes_the_ones_already_opened() -> None:
    with pytest.raises(PolyKVError):
        StoreManager({"a": "memory://", "b": "nosuchscheme://x"})


@pytest.mark.parametrize("stores", [{"a": 3}, {"": MemoryStore()}])
def test_bad_store_entries_are_refused(stores: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        StoreManager(stores)


# == the guide's examples run ==========================================================================
def test_manager_guide_examples_run() -> None:
    result = doctest.testfile(str(DOCS), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0
