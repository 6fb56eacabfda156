"""``StoreSuite``: the tests every polykv store passes; the definition of the contract.

A subclass supplies a ``store`` fixture yielding a fresh, empty store. Tests marked with ``requires``
skip when the store does not declare the capability (the store's ``capabilities`` is the requirements
class, as in SQLAlchemy's compliance suite).
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..capabilities import Capability
from ..codecs import get_codec
from ..errors import (
    FilterError,
    InvalidArgumentError,
    InvalidKeyError,
    KeyNotFoundError,
    NotSupportedError,
    PolyKVError,
    RecordError,
    RecordExistsError,
    RecordNotFoundError,
    SerializationError,
)
from ..keys import MAX_KEY_LENGTH
from ..records import Record
from ..store import KeyValueStore
from .codecs import CodecCases
from .config import ConfigSuite
from .limits import LimitCases
from .mapping import BatchArgumentCases, MappingSuite, UndecodableValueCases
from .records_binding import RecordBindingSuite

__all__ = ["StoreSuite", "requires"]

F = TypeVar("F", bound=Callable[..., Any])

#: Generous bound for expiry and concurrency checks on a slow or shared machine.
DEADLINE_SECONDS = 10.0


def requires(*capabilities: Capability) -> Callable[[F], F]:
    """Mark a test as needing ``capabilities``; it skips on stores that do not declare them."""
    mark: Callable[[F], F] = pytest.mark.polykv_requires(*capabilities)
    return mark


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE_SECONDS) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@dataclasses.dataclass
class User:
    """A plain dataclass record."""

    id: str
    name: str
    age: int | None = None
    email: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class IndexedUser(Record):
    """A ``Record`` with a declared index and schema."""

    __schema_name__ = "indexed_users"
    __indexes__ = ("email",)

    id: str
    name: str
    email: str | None = None
    age: int | None = None


class StatefulThing:
    """A record defined only through __getstate__/__setstate__."""

    def __init__(self, id: str, payload: dict[str, Any]) -> None:
        self.id = id
        self.payload = payload

    def __getstate__(self) -> dict[str, Any]:
        return {"id": self.id, "payload": self.payload}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.id = state["id"]
        self.payload = state["payload"]


SAMPLE_VALUES: list[Any] = [
    0,
    -17,
    2**53,
    3.25,
    True,
    None,
    "",
    "text",
    "unicode: żółć ✓ 🧪 \u0000 end",
    [],
    [1, "two", None, [3.5]],
    {},
    {"nested": {"list": [1, 2, {"deep": True}]}, "empty": {}},
]

ODD_KEYS = [
    "a*b",
    "a?c",
    "a[b]",
    "a\\b",
    "a%b",
    "a_b",
    "x/../y",
    "../escape",
    "/abs",
    ".",
    "..",
    "space key",
    "new\nline",
    "nul\x00byte",
    "ünïcödé",
    "🧪",
    "CASE",
    "case",
    "k" * MAX_KEY_LENGTH,
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

hypothesis_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.differing_executors],
)


#: Why ``test_undeclared_capabilities_raise_not_supported`` has no store call to try for these capabilities.
_NOT_REFUSED_BY_A_STORE_METHOD = {
    Capability.WATCH: "without watch, polykv.ops.watch is what refuses; no store method to call here",
    Capability.INDEX: "without index, nothing is refused: filter_record reads every record of the schema",
}


class StoreSuite(
    ConfigSuite, MappingSuite, UndecodableValueCases, BatchArgumentCases, RecordBindingSuite, CodecCases, LimitCases
):
    """Conformance tests; subclass and provide a ``store`` fixture yielding a fresh, empty store."""

    @pytest.fixture(autouse=True)
    def _polykv_capability_gate(self, request: pytest.FixtureRequest, store: KeyValueStore) -> None:
        for mark in request.node.iter_markers("polykv_requires"):
            missing = [c for c in mark.args if c not in store.capabilities]
            if missing:
                needed = " and ".join(map(str, missing))
                pytest.skip(f"not applicable: the test needs {needed}, which {store.backend_name} does not support")

    # == KV basics =================================================================================
    def test_store_is_a_key_value_store(self, store: KeyValueStore) -> None:
        assert isinstance(store, KeyValueStore)
        assert all(isinstance(c, Capability) for c in store.capabilities)
        assert store.count() == 0 and list(store.keys()) == []

    def test_a_closed_store_opens_again_when_used(self, store: KeyValueStore) -> None:
        """``close()`` releases connections and files but does not retire the store (docs: concepts,
        *Registry*): used again it reconnects, and closing twice is harmless."""
        store.set("before", 1)
        store.close()
        store.close()
        store.set("after", 2)
        assert store.get("after") == 2 and store.get_many(["after"]) == {"after": 2}
        assert store.delete("after") is True

    @pytest.mark.parametrize("value", SAMPLE_VALUES, ids=[repr(v)[:30] for v in SAMPLE_VALUES])
    def test_set_get_round_trip(self, store: KeyValueStore, value: Any) -> None:
        store.set("k", value)
        assert store.get("k") == value
        assert store["k"] == value

    def test_get_missing_returns_default(self, store: KeyValueStore) -> None:
        assert store.get("missing") is None
        assert store.get("missing", 42) == 42

    def test_getitem_missing_raises_key_not_found(self, store: KeyValueStore) -> None:
        with pytest.raises(KeyNotFoundError) as info:
            store["missing"]
        assert isinstance(info.value, KeyError)
        assert info.value.key == "missing"
        assert info.value.backend == store.backend_name

    def test_upsert_replaces(self, store: KeyValueStore) -> None:
        store.upsert("k", 1)
        store.upsert("k", {"v": 2})
        assert store.get("k") == {"v": 2}
        assert store.count() == 1

    def test_delete_is_idempotent(self, store: KeyValueStore) -> None:
        store.set("k", 1)
        assert store.delete("k") is True
        assert store.delete("k") is False
        assert store.get("k") is None

    def test_delitem_missing_raises(self, store: KeyValueStore) -> None:
        store["k"] = 1
        del store["k"]
        with pytest.raises(KeyNotFoundError):
            del store["k"]

    def test_exists_and_contains(self, store: KeyValueStore) -> None:
        store.set("k", None)
        assert store.exists("k") and "k" in store
        assert not store.exists("other") and "other" not in store
        assert 42 not in store  # type: ignore[comparison-overlap]

    def test_values_are_copies(self, store: KeyValueStore) -> None:
        value = {"list": [1, 2]}
        store.set("k", value)
        value["list"].append(3)
        got = store.get("k")
        assert got == {"list": [1, 2]}
        got["list"].append(99)
        assert store.get("k") == {"list": [1, 2]}

    # -- prefixes -------------------------------------------------------------------------------
    def _fill(self, store: KeyValueStore, keys: list[str]) -> None:
        store.set_many({k: i for i, k in enumerate(keys)})

    def test_keys_with_prefix(self, store: KeyValueStore) -> None:
        self._fill(store, ["user:1", "user:2", "users", "group:1", "u"])
        assert sorted(store.keys_by_prefix("user:")) == ["user:1", "user:2"]
        assert sorted(store.keys_by_prefix("user")) == ["user:1", "user:2", "users"]
        assert sorted(store.keys()) == ["group:1", "u", "user:1", "user:2", "users"]
        assert list(store.keys_by_prefix("nothing")) == []

    def test_keys_streams(self, store: KeyValueStore) -> None:
        self._fill(store, ["a", "b"])
        keys = store.keys_by_prefix()
        assert iter(keys) is keys, "keys_by_prefix() must return an iterator, not a list"
        assert sorted(keys) == ["a", "b"]

    @pytest.mark.parametrize("prefix", ["a*", "a?", "a[", "a\\", "a%", "a_", "[", "*", "?"])
    def test_prefix_is_literal(self, store: KeyValueStore, prefix: str) -> None:
        keys = ["a*b", "a?c", "a[b]", "a\\b", "a%b", "a_b", "abc", "axb", "[x", "*x", "?x", "zz"]
        self._fill(store, keys)
        expected = sorted(k for k in keys if k.startswith(prefix))
        assert sorted(store.keys_by_prefix(prefix)) == expected
        assert sorted(k for k, _ in store.fetch_by_prefix(prefix)) == expected
        assert store.count(prefix=prefix) == len(expected)

    def test_fetch_by_prefix_yields_pairs(self, store: KeyValueStore) -> None:
        store.set_many({"p:1": {"n": 1}, "p:2": {"n": 2}, "q:1": {"n": 3}})
        assert dict(store.fetch_by_prefix("p:")) == {"p:1": {"n": 1}, "p:2": {"n": 2}}

    def test_count_and_len(self, store: KeyValueStore) -> None:
        self._fill(store, ["a1", "a2", "b1"])
        assert store.count() == 3 == len(store)
        assert store.count(prefix="a") == 2

    def test_clear_with_prefix(self, store: KeyValueStore) -> None:
        self._fill(store, ["a1", "a2", "b1"])
        store.insert_record("people", "1", {"id": "1"})
        assert store.clear("a") == 2
        assert sorted(store.keys()) == ["b1"]
        store.clear()
        assert store.count() == 0
        assert store.exists("people", "1"), "clear() must not touch records"

    def test_many_keys_scan(self, store: KeyValueStore) -> None:
        keys = [f"key:{i:05d}" for i in range(1234)]
        self._fill(store, keys)
        assert sorted(store.keys_by_prefix("key:")) == keys
        assert store.count(prefix="key:00") == 1000
        assert len(dict(store.fetch_by_prefix("key:01"))) == 234
        assert store.clear("key:") == 1234
        assert store.count() == 0

    # -- batches -------------------------------------------------------------------------------
    def test_get_many_omits_missing(self, store: KeyValueStore) -> None:
        store.set_many({"a": 1, "b": [2]})
        assert store.get_many(["a", "b", "c"]) == {"a": 1, "b": [2]}
        assert store.get_many([]) == {}

    def test_set_many_accepts_pairs(self, store: KeyValueStore) -> None:
        store.set_many([("a", 1), ("b", 2)])
        assert store.get_many(["a", "b"]) == {"a": 1, "b": 2}

    def test_delete_many(self, store: KeyValueStore) -> None:
        store.set_many({"a": 1, "b": 2, "c": 3})
        assert store.delete_many(["a", "b", "zz"]) == 2
        assert list(store.keys()) == ["c"]

    def test_set_many_validates_before_writing(self, store: KeyValueStore) -> None:
        with pytest.raises(InvalidKeyError):
            store.set_many([("good", 1), ("", 2)])
        with pytest.raises(SerializationError):
            store.set_many({"good": 1, "bad": object()})
        assert store.count() == 0

    @pytest.mark.parametrize(
        "items",
        [
            [("a", 1), ("b",)],
            [("a", 1), 3],
            [("a", 1, 2)],
            [("a", 1), None],
            # two-element containers that dict() would unpack but that are not (key, value) pairs
            ["bc"],
            [("a", 1), b"xy"],
            [{"k": 1, "v": 2}],
            [{"a", "b"}],
        ],
    )
    def test_set_many_refuses_items_that_are_not_pairs(self, store: KeyValueStore, items: list[Any]) -> None:
        store.set("keep", "me")
        with pytest.raises(InvalidArgumentError, match="pairs"):
            store.set_many(items)
        assert dict(store.fetch_by_prefix("")) == {"keep": "me"}  # nothing of the batch was written

    @pytest.mark.parametrize("other", ["ab", 5, ["bc"], [("a", 1), 3], [("a", 1), ("b", 2, 3)], [{"k": 1, "v": 2}]])
    def test_update_refuses_what_is_not_pairs(self, store: KeyValueStore, other: Any) -> None:
        """``update`` is ``dict.update`` with polykv's error: a str or an item that is no (key, value) pair
        raises InvalidArgumentError (a ValueError, as dict's), a number a TypeError (as dict's), naming what
        it takes; nothing of the batch is written."""
        store.set("keep", "me")
        with pytest.raises(TypeError if other == 5 else InvalidArgumentError, match="pairs"):
            store.update(other)
        assert dict(store.fetch_by_prefix("")) == {"keep": "me"}

    # -- bad input -------------------------------------------------------------------------------
    @pytest.mark.parametrize("key", [None, 1, b"bytes", ("t",), "", "k" * (MAX_KEY_LENGTH + 1)])
    def test_invalid_keys_rejected_before_writing(self, store: KeyValueStore, key: Any) -> None:
        store.set("keep", "me")
        for call in (
            lambda: store.set(key, 1),
            lambda: store.get(key),
            lambda: store.delete(key),
            lambda: store.insert_record("s", key, {"id": "x"}),
        ):
            with pytest.raises(InvalidKeyError) as info:
                call()
            assert isinstance(info.value, ValueError)
        assert dict(store.fetch_by_prefix("")) == {"keep": "me"}

    @pytest.mark.parametrize("schema", ["", "has/slash", "../up", "_reserved", "a" * 129, 3])
    def test_invalid_schema_names_rejected(self, store: KeyValueStore, schema: Any) -> None:
        with pytest.raises(InvalidKeyError):
            store.insert_record(schema, "1", {"id": "1"})
        assert store.list_schemas() == []

    def test_unencodable_value_names_key_and_type(self, store: KeyValueStore) -> None:
        store.set("k", "old")
        with pytest.raises(SerializationError) as info:
            store.set("k", object())
        assert info.value.key == "k" and "object" in str(info.value)
        assert store.get("k") == "old"

    @pytest.mark.parametrize("key", ODD_KEYS, ids=[repr(k)[:20] for k in ODD_KEYS])
    def test_odd_keys_round_trip(self, store: KeyValueStore, key: str) -> None:
        store.set(key, {"key": key})
        assert store.get(key) == {"key": key}
        assert list(store.keys()) == [key]
        assert list(store.keys_by_prefix(key)) == [key]
        store.insert_record("odd", key, {"id": key})
        assert store.get_record("odd", dict, key) == {"id": key}
        assert list(store.record_keys("odd")) == [key]

    def test_keys_differing_in_case_do_not_collide(self, store: KeyValueStore) -> None:
        store.set_many({"Key": 1, "key": 2, "KEY": 3})
        assert store.get_many(["Key", "key", "KEY"]) == {"Key": 1, "key": 2, "KEY": 3}
        assert store.count() == 3

    @given(keys=st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=8, unique=True), value=json_values)
    @hypothesis_settings
    def test_generated_keys_and_values(self, store: KeyValueStore, keys: list[str], value: Any) -> None:
        try:
            store.set_many({k: value for k in keys})
            assert store.get_many(keys) == {k: value for k in keys}
            assert sorted(store.keys()) == sorted(keys)
            for k in keys:
                assert k in set(store.keys_by_prefix(k))
        finally:
            store.clear()

    # == codecs ==================================================================================
    @pytest.mark.parametrize(
        ("codec", "value"),
        [
            ("json", {"a": [1, 2.5, None, "ż"]}),
            ("bytes", b"\x00\xffraw"),
            ("msgpack", {"a": [1, 2.5, None, b"bin"]}),
            ("pickle", {"a": (1, 2), "s": {3}}),
        ],
    )
    def test_codec_round_trip(self, store: KeyValueStore, codec: str, value: Any) -> None:
        if codec == "msgpack":
            pytest.importorskip("msgpack")
        original = store.codec
        store.codec = get_codec(codec)
        try:
            store.set("k", value)
            assert store.get("k") == value
            assert store.get_many(["k"]) == {"k": value}
        finally:
            store.delete("k")
            store.codec = original

    def test_bytes_codec_refuses_str(self, store: KeyValueStore) -> None:
        original = store.codec
        store.codec = get_codec("bytes")
        try:
            with pytest.raises(SerializationError):
                store.set("k", "a str")
            assert store.get("k") is None
        finally:
            store.codec = original

    # == capabilities ============================================================================
    @pytest.mark.parametrize("capability", list(Capability), ids=[c.value for c in Capability])
    def test_undeclared_capabilities_raise_not_supported(self, store: KeyValueStore, capability: Capability) -> None:
        calls: dict[Capability, Callable[[], Any]] = {
            Capability.TTL: lambda: store.set("k", 1, ttl=10),
            Capability.ADD: lambda: store.add("k", 1),
            Capability.COMPARE_AND_SET: lambda: store.compare_and_set("k", 1, 2),
            Capability.INCR: lambda: store.incr("k"),
            Capability.LEASE: lambda: store.lock("k", ttl=10).acquire(blocking=False),
        }
        if capability not in calls:
            pytest.skip(f"not applicable: {_NOT_REFUSED_BY_A_STORE_METHOD[capability]}")
        if capability in store.capabilities:
            pytest.skip(
                f"not applicable: {store.backend_name} supports {capability}; "
                f"this test checks that a store without {capability} refuses it"
            )
        with pytest.raises(NotSupportedError) as info:
            calls[capability]()
        if capability is Capability.LEASE:  # a lock also needs add and ttl: it names the first one missing
            assert info.value.capability in {c.value for c in (Capability.ADD, Capability.TTL, Capability.LEASE)}
            assert info.value.capability not in {c.value for c in store.capabilities}
        else:
            assert info.value.capability == capability.value
        assert info.value.backend == store.backend_name
        assert store.get("k") is None

    @requires(Capability.TTL)
    def test_ttl_expires(self, store: KeyValueStore) -> None:
        store.set("short", 1, ttl=0.5)
        store.set("long", 2, ttl=3600)
        store.set("forever", 3)
        left = store.ttl("long")
        assert left is not None and 3500 < left <= 3600
        assert store.ttl("forever") is None
        assert wait_until(lambda: store.get("short") is None)
        assert "short" not in set(store.keys())
        assert store.count() == 2
        with pytest.raises(KeyNotFoundError):
            store.ttl("short")

    @requires(Capability.TTL)
    def test_set_without_ttl_clears_expiry(self, store: KeyValueStore) -> None:
        store.set("k", 1, ttl=100)
        store.set("k", 2)
        assert store.ttl("k") is None

    @requires(Capability.TTL)
    @pytest.mark.parametrize("ttl", [0, -1, "10", True])
    def test_bad_ttl_rejected(self, store: KeyValueStore, ttl: Any) -> None:
        with pytest.raises(InvalidArgumentError):
            store.set("k", 1, ttl=ttl)
        assert store.get("k") is None

    @requires(Capability.TTL)
    def test_set_many_with_ttl(self, store: KeyValueStore) -> None:
        store.set_many({"a": 1, "b": 2}, ttl=0.5)
        assert wait_until(lambda: store.get_many(["a", "b"]) == {})

    @requires(Capability.TTL)
    def test_record_ttl(self, store: KeyValueStore) -> None:
        store.insert_record("sessions", "s1", {"id": "s1"}, ttl=0.5)
        store.insert_record("sessions", "s2", {"id": "s2"})
        assert store.exists("sessions", "s1")
        assert wait_until(lambda: not store.exists("sessions", "s1"))
        assert store.count("sessions") == 1
        store.insert_record("sessions", "s1", {"id": "s1"})  # an expired record does not block insert

    @requires(Capability.ADD)
    def test_add(self, store: KeyValueStore) -> None:
        assert store.add("k", 1) is True
        assert store.add("k", 2) is False
        assert store.get("k") == 1

    @requires(Capability.ADD)
    def test_add_races_exactly_one_wins(self, store: KeyValueStore) -> None:
        for round_ in range(5):
            key = f"race-{round_}"
            barrier = threading.Barrier(16)

            def attempt(i: int, key: str = key, barrier: threading.Barrier = barrier) -> bool:
                barrier.wait()
                return store.add(key, i)

            with ThreadPoolExecutor(16) as pool:
                results = list(pool.map(attempt, range(16)))
            assert results.count(True) == 1
            assert store.get(key) == results.index(True)

    @requires(Capability.ADD)
    def test_insert_record_races_exactly_one_wins(self, store: KeyValueStore) -> None:
        barrier = threading.Barrier(16)

        def attempt(i: int) -> bool:
            barrier.wait()
            try:
                store.insert_record("race", "one", {"id": "one", "writer": i})
            except RecordExistsError:
                return False
            return True

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(attempt, range(16)))
        assert results.count(True) == 1
        assert store.get_record("race", dict, "one")["writer"] == results.index(True)

    @requires(Capability.COMPARE_AND_SET)
    def test_compare_and_set(self, store: KeyValueStore) -> None:
        assert store.compare_and_set("k", 1, 2) is False
        assert store.get("k") is None
        store.set("k", {"a": 1, "b": 2})
        assert store.compare_and_set("k", {"b": 2, "a": 1}, "new") is True
        assert store.compare_and_set("k", {"a": 1}, "newer") is False
        assert store.get("k") == "new"

    @requires(Capability.COMPARE_AND_SET)
    def test_compare_and_set_loop_loses_no_update(self, store: KeyValueStore) -> None:
        store.set("counter", 0)

        def bump(_: int) -> None:
            for _i in range(20):
                while True:
                    current = store.get("counter")
                    if store.compare_and_set("counter", current, current + 1):
                        break

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(bump, range(8)))
        assert store.get("counter") == 160

    @requires(Capability.INCR)
    def test_incr(self, store: KeyValueStore) -> None:
        assert store.incr("n") == 1
        assert store.incr("n", 10) == 11
        assert store.incr("n", -12) == -1
        assert store.get("n") == -1
        store.set("s", "text")
        with pytest.raises(PolyKVError):
            store.incr("s")
        assert store.get("s") == "text"
        with pytest.raises(InvalidArgumentError):
            store.incr("n", 1.5)  # type: ignore[arg-type]

    @requires(Capability.INCR)
    def test_incr_concurrent(self, store: KeyValueStore) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: [store.incr("n") for _ in range(50)], range(8)))
        assert store.get("n") == 400

    # == records =================================================================================
    def test_record_round_trip_dataclass(self, store: KeyValueStore) -> None:
        user = User("1", "Ada", 36, "ada@example.org", ["math"])
        store.insert_record("users", "1", user)
        assert store.get_record("users", User, "1") == user
        assert store.exists("users", "1") and store.exists(schema_name="users", record_key="1")
        assert not store.exists("users", "2")
        assert store.count("users") == 1

    def test_record_round_trip_getstate(self, store: KeyValueStore) -> None:
        thing = StatefulThing("t", {"x": [1, 2]})
        store.insert_record("things", "t", thing)
        loaded = store.get_record("things", StatefulThing, "t")
        assert isinstance(loaded, StatefulThing) and loaded.payload == {"x": [1, 2]}

    def test_record_round_trip_dict(self, store: KeyValueStore) -> None:
        store.insert_record("docs", "d", {"id": "d", "body": "text"})
        assert store.get_record("docs", dict, "d") == {"id": "d", "body": "text"}

    def test_insert_existing_raises_and_keeps_original(self, store: KeyValueStore) -> None:
        store.insert_record("users", "1", User("1", "Ada"))
        with pytest.raises(RecordExistsError) as info:
            store.insert_record("users", "1", User("1", "Eve"))
        assert (info.value.schema, info.value.key, info.value.backend) == ("users", "1", store.backend_name)
        assert store.get_record("users", User, "1").name == "Ada"

    def test_update_missing_raises(self, store: KeyValueStore) -> None:
        with pytest.raises(RecordNotFoundError) as info:
            store.update_record("users", "1", User("1", "Ada"))
        assert isinstance(info.value, KeyError)
        assert not store.exists("users", "1")
        assert store.list_schemas() == []

    def test_update_existing(self, store: KeyValueStore) -> None:
        store.insert_record("users", "1", User("1", "Ada"))
        store.update_record("users", "1", User("1", "Ada Lovelace"))
        assert store.get_record("users", User, "1").name == "Ada Lovelace"
        assert store.count("users") == 1

    def test_upsert_record(self, store: KeyValueStore) -> None:
        store.upsert_record("users", "1", User("1", "A"))
        store.upsert_record("users", "1", User("1", "B"))
        assert store.get_record("users", User, "1").name == "B"

    def test_get_missing_record_raises(self, store: KeyValueStore) -> None:
        with pytest.raises(RecordNotFoundError) as info:
            store.get_record("users", User, "nope")
        assert (info.value.schema, info.value.key) == ("users", "nope")

    def test_delete_record_is_idempotent(self, store: KeyValueStore) -> None:
        store.insert_record("users", "1", User("1", "Ada"))
        assert store.delete_record("users", "1") is True
        assert store.delete_record("users", "1") is False
        assert store.count("users") == 0

    def test_reload_record_in_place(self, store: KeyValueStore) -> None:
        user = User("1", "Ada")
        store.insert_record("users", "1", user)
        store.update_record("users", "1", User("1", "Changed", 50))
        store.reload_record("users", user)
        assert (user.name, user.age) == ("Changed", 50)

    def test_missing_schema_behaves_as_empty(self, store: KeyValueStore) -> None:
        assert store.count("ghosts") == 0
        assert store.filter_record("ghosts", User) == []
        assert list(store.record_keys("ghosts")) == []
        store.drop_schema("ghosts")

    def test_records_and_kv_are_separate(self, store: KeyValueStore) -> None:
        store.set("users", "a kv value")
        store.insert_record("users", "users", {"id": "users"})
        assert store.count() == 1 and store.count("users") == 1
        assert list(store.keys()) == ["users"]
        assert store.list_schemas() == ["users"]

    def test_list_and_drop_schemas(self, store: KeyValueStore) -> None:
        store.insert_record("a", "1", {"id": "1"})
        store.insert_record("b", "1", {"id": "1"})
        store.insert_record("b", "2", {"id": "2"})
        assert store.list_schemas() == ["a", "b"]
        store.drop_schema("b")
        assert store.list_schemas() == ["a"]
        assert store.count("b") == 0 and store.count("a") == 1

    def test_bound_record_save_delete_reload(self, store: KeyValueStore) -> None:
        user = IndexedUser("7", "Grace", "grace@example.org")
        store.save(user)
        loaded = store.get_record("indexed_users", IndexedUser, "7")
        loaded.name = "Grace Hopper"
        loaded.save()
        user.reload()
        assert user.name == "Grace Hopper"
        user.delete()
        assert not store.exists("indexed_users", "7")

    def test_many_records(self, store: KeyValueStore) -> None:
        for i in range(300):
            store.insert_record("bulk", f"{i:04d}", {"id": f"{i:04d}", "n": i})
        assert store.count("bulk") == 300
        assert len(store.filter_record("bulk", dict, n__gte=250)) == 50
        assert sorted(k for k, _ in store.iter_records("bulk", dict))[:2] == ["0000", "0001"]

    # -- filters -------------------------------------------------------------------------------
    @pytest.fixture
    def people(self, store: KeyValueStore) -> KeyValueStore:
        rows = [
            User("1", "Ada", 36, "ada@example.org", ["math", "code"]),
            User("2", "Alan", 41, "alan@example.org", ["code"]),
            User("3", "Grace", 85, None, ["navy"]),
            User("4", "Edsger", None, "ewd@example.org", []),
        ]
        for row in rows:
            store.insert_record("people", row.id, row)
        return store

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({}, ["1", "2", "3", "4"]),
            ({"name": "Ada"}, ["1"]),
            ({"name__exact": "Ada"}, ["1"]),
            ({"name__ne": "Ada"}, ["2", "3", "4"]),
            ({"age__gt": 40}, ["2", "3"]),
            ({"age__gte": 41}, ["2", "3"]),
            ({"age__lt": 41}, ["1"]),
            ({"age__lte": 41}, ["1", "2"]),
            ({"id__in": ["1", "3", "9"]}, ["1", "3"]),
            ({"name__contains": "ra"}, ["3"]),
            ({"tags__contains": "code"}, ["1", "2"]),
            ({"name__startswith": "A"}, ["1", "2"]),
            ({"email__isnull": True}, ["3"]),
            ({"email": None}, ["3"]),  # as Django: field=None is field__isnull=True
            ({"email__exact": None}, ["3"]),
            ({"email__ne": None}, ["1", "2", "4"]),
            ({"age__isnull": False}, ["1", "2", "3"]),
            ({"name__startswith": "A", "age__gt": 40}, ["2"]),
            ({"name": "Nobody"}, []),
        ],
    )
    def test_filter_lookups(self, people: KeyValueStore, filters: dict[str, Any], expected: list[str]) -> None:
        found = people.filter_record("people", User, **filters)
        assert sorted(u.id for u in found) == expected
        assert all(isinstance(u, User) for u in found)

    @pytest.mark.parametrize(
        "filters",
        [{"nmae": "Ada"}, {"name__like": "A%"}, {"age__in": 3}, {"email__isnull": 1}, {"email__in": ["x", None]}],
    )
    def test_bad_filters_raise(self, people: KeyValueStore, filters: dict[str, Any]) -> None:
        with pytest.raises(FilterError) as info:
            people.filter_record("people", User, **filters)
        assert (info.value.backend, info.value.schema) == (people.backend_name, "people")  # errors say where

    def test_a_record_class_that_cannot_hold_the_record_is_refused(self, store: KeyValueStore) -> None:
        """A str or an int as the record class, or a class the stored fields do not fit, is a polykv error
        naming backend and schema (AttributeError and TypeError from the class before)."""
        store.insert_record("people", "u1", {"id": "u1", "name": "Ada"})

        @dataclasses.dataclass
        class Strict:
            id: str
            required: int

        for call in (
            lambda: store.filter_record("people", "User"),  # type: ignore[arg-type]
            lambda: store.filter_record("people", int),
            lambda: store.filter_record("people", int, x=1),  # refused even though nothing matches
            lambda: store.filter_record("people", str, name="Nobody"),
            lambda: store.filter_record("people", tuple, name="Nobody"),
            lambda: store.get_record("people", int, "u1"),
            lambda: list(store.iter_records("people", bytes)),
            lambda: store.get_record("people", Strict, "u1"),
        ):
            with pytest.raises((InvalidArgumentError, RecordError)) as info:
                call()
            assert (info.value.backend, info.value.schema) == (store.backend_name, "people")

    def test_a_record_class_given_for_a_record_is_refused(self, store: KeyValueStore) -> None:
        """``insert_record("people", "u1", User)`` (the class, not an instance) is a RecordError that says
        so, for every write, and nothing is stored (the JSON codec's "type is not serializable" before)."""
        for write in (store.insert_record, store.upsert_record):
            with pytest.raises(RecordError, match=r"not the class User itself") as info:
                write("people", "u1", User)
            assert (info.value.backend, info.value.schema) == (store.backend_name, "people")
        with pytest.raises(RecordError, match="not the class"):
            store.save(User, "people")
        assert store.count("people") == 0

    def test_a_record_without_a_key_names_backend_and_schema(self, store: KeyValueStore) -> None:
        with pytest.raises(RecordError) as info:
            store.save(User(None, "Ada", 36), "people")  # type: ignore[arg-type]
        assert (info.value.backend, info.value.schema) == (store.backend_name, "people")
        assert store.list_schemas() == []

    def test_indexed_filter_matches_scan(self, store: KeyValueStore) -> None:
        for i in range(60):
            email = f"user{i % 7}@example.org" if i % 5 else None
            store.insert_record("indexed_users", str(i), IndexedUser(str(i), f"n{i}", email, i))
        indexed = store.filter_record("indexed_users", IndexedUser, email="user3@example.org")
        expected = sorted(str(i) for i in range(60) if i % 5 and i % 7 == 3)
        assert sorted(u.id for u in indexed) == expected
        combined = store.filter_record("indexed_users", IndexedUser, email="user3@example.org", age__gt=30)
        assert sorted(u.id for u in combined) == [i for i in expected if int(i) > 30]
        store.update_record("indexed_users", expected[0], IndexedUser(expected[0], "moved", "elsewhere@x", 1))
        store.delete_record("indexed_users", expected[1])
        after = store.filter_record("indexed_users", IndexedUser, email="user3@example.org")
        assert sorted(u.id for u in after) == expected[2:]
        assert [u.id for u in store.filter_record("indexed_users", IndexedUser, email="elsewhere@x")] == [expected[0]]

    # == threads =================================================================================
    def test_concurrent_writers_lose_nothing(self, store: KeyValueStore) -> None:
        def write(worker: int) -> None:
            for i in range(100):
                store.set(f"w{worker}:{i}", {"w": worker, "i": i})

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(8)))
        assert store.count() == 800
        assert store.get("w7:99") == {"w": 7, "i": 99}


def unique_prefix() -> str:
    """A prefix no live data uses (for checks run against stores that hold real data)."""
    return f"__polykv_check_{uuid.uuid4().hex}:"


def iter_suite_tests() -> Iterator[str]:
    """Names of the conformance tests (for reports and ``polykv check``)."""
    return (name for name in dir(StoreSuite) if name.startswith("test_"))
