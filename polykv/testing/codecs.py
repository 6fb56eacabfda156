"""Conformance cases: a codec never loses data silently (issue 11, item 4).

Every value a codec accepts reads back equal (after its documented normalisations: tuple -> list,
bytearray -> bytes, subclasses -> base type); a value it cannot hold is refused with ``SerializationError``
naming the key, on every write path, and the value stored before stays intact. The cases swap the store's
codec on the fresh store the fixture gives and restore it afterwards.
"""

from __future__ import annotations

import enum
import importlib.util
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..capabilities import Capability
from ..codecs import MAX_NESTING, get_codec
from ..errors import SerializationError
from ..store import KeyValueStore

__all__ = ["CodecCases", "normalised"]

# few examples: each one is a round trip to a real server on Redis/S3/HDFS
_settings = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.differing_executors],
)
_HAS_MSGPACK = importlib.util.find_spec("msgpack") is not None
#: Why msgpack cases skip when the package is missing (the codec is an extra, not part of the contract).
MSGPACK_MISSING = "not applicable: the msgpack package is not installed (pip install 'polykv-core[msgpack]')"
_needs_msgpack = pytest.mark.skipif(not _HAS_MSGPACK, reason=MSGPACK_MISSING)


def normalised(value: Any) -> Any:
    """``value`` as a codec reads it back: tuples as lists, bytearray/memoryview as bytes."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalised(v) for v in value]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN (msgpack and pickle store it bit-exactly)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


_text = st.text(max_size=8)  # hypothesis text never holds lone surrogates unless asked; they are tested below
_json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text
_json_values = st.recursive(
    _json_scalar,
    lambda kids: st.lists(kids, max_size=3) | st.tuples(kids) | st.dictionaries(_text, kids, max_size=3),
    max_leaves=8,
)
_int64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)
_mp_scalar = st.none() | st.booleans() | _int64 | st.floats() | _text | st.binary(max_size=8)
_mp_key = st.none() | st.booleans() | _int64 | st.floats(allow_nan=False) | _text | st.binary(max_size=8)
_mp_values = st.recursive(
    _mp_scalar,
    lambda kids: st.lists(kids, max_size=3) | st.tuples(kids) | st.dictionaries(_mp_key, kids, max_size=3),
    max_leaves=8,
)
_pickle_values = st.recursive(
    _mp_scalar | st.complex_numbers(allow_nan=False),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.tuples(kids)
        | st.frozensets(_text, max_size=3)
        | st.dictionaries(_mp_key | st.tuples(_text), kids, max_size=3)
    ),
    max_leaves=8,
)


class _Colour(enum.IntEnum):
    RED = 1


class _Name(str, enum.Enum):
    A = "a"


def _deep(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def _deep_dict(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"k": value}
    return value


#: Values each codec must refuse: it would not read them back equal (or could not read them at all).
REFUSED: dict[str, list[Any]] = {
    "json": [
        {1: "int"},
        {"o": {1: "int", "1": "str"}},
        {"o": {True: 1}},
        {"o": {None: 1}},
        {"o": {1.5: 1}},
        [{"a": 1}, {2: "b"}],
        {"a": [[{3: 4}]]},
        {"a": ({_Colour.RED: 1},)},
        float("nan"),
        [float("inf")],
        {"x": -math.inf},
        b"bytes",
        {"b": bytearray(b"x")},
        "\ud800",
        {"\udfff": 1},
        {1, 2},
        _deep(MAX_NESTING + 1),
        _deep_dict(MAX_NESTING + 1),
        _deep(5000),  # deeper than the interpreter's recursion limit
        object(),
    ],
    "msgpack": [
        {(1, 2): "t"},
        {"o": {(1,): "t"}},
        [{"a": {frozenset(): 1}}],
        {"a": [{(): 1}]},
        2**64,
        -(2**63) - 1,
        [2**70],
        "\ud800",
        {1, 2},
        _deep(MAX_NESTING + 1),
        _deep(5000),
        object(),
    ],
    "bytes": ["text", 1, None, [b"x"], {"a": b"x"}],
    "pickle": [lambda: None, _deep(100_000)],
}


@contextmanager
def _codec(store: KeyValueStore, name: str) -> Iterator[None]:
    saved = store.codec
    store.codec = get_codec(name)
    try:
        yield
    finally:  # leave nothing the fixture's own codec could not read
        try:
            store.clear()
            store.drop_schema("things")
        finally:
            store.codec = saved


def _writes(store: KeyValueStore, key: str, value: Any) -> list[Callable[[], object]]:
    """Every write path that encodes a KV value or a record state."""
    calls: list[Callable[[], object]] = [
        lambda: store.set(key, value),
        lambda: store.__setitem__(key, value),
        lambda: store.set_many({key: value}),
        lambda: store.set_many([("other-key", b"ok" if store.codec.name == "bytes" else 1), (key, value)]),
    ]
    if Capability.ADD in store.capabilities:
        calls.append(lambda: store.add(key, value))
    if Capability.COMPARE_AND_SET in store.capabilities:
        calls.append(lambda: store.compare_and_set(key, _BEFORE[store.codec.name], value))
        calls.append(lambda: store.compare_and_set(key, value, _BEFORE[store.codec.name]))
    return calls


_BEFORE = {"json": {"kept": [1, "x"]}, "msgpack": {"kept": [1, b"x"]}, "bytes": b"kept", "pickle": {"kept": [1, 2j]}}


class CodecCases:
    """Round trips and refusals for the json, msgpack, bytes and pickle codecs."""

    def _round_trip(self, store: KeyValueStore, codec: str, value: Any) -> None:
        with _codec(store, codec):
            store.set("v", value)
            want = value if codec == "pickle" else normalised(value)  # pickle keeps tuples and types
            got = store.get("v")
            assert _same(got, want), (value, got)
            assert _same(store.get_many(["v"])["v"], want)

    @_settings
    @given(value=_json_values)
    def test_json_accepted_values_read_back_equal(self, store: KeyValueStore, value: Any) -> None:
        self._round_trip(store, "json", value)

    @_needs_msgpack
    @_settings
    @given(value=_mp_values)
    def test_msgpack_accepted_values_read_back_equal(self, store: KeyValueStore, value: Any) -> None:
        self._round_trip(store, "msgpack", value)

    @_settings
    @given(value=st.binary(max_size=64) | st.binary(max_size=8).map(bytearray))
    def test_bytes_accepted_values_read_back_equal(self, store: KeyValueStore, value: Any) -> None:
        self._round_trip(store, "bytes", value)

    @_settings
    @given(value=_pickle_values)
    def test_pickle_accepted_values_read_back_equal(self, store: KeyValueStore, value: Any) -> None:
        self._round_trip(store, "pickle", value)

    @_settings
    @given(value=st.dictionaries(st.integers() | st.booleans() | st.none() | st.floats(), _json_scalar, min_size=1))
    def test_json_non_str_keys_at_any_depth_refused(self, store: KeyValueStore, value: Any) -> None:
        with _codec(store, "json"):
            store.set("k", "before")
            for wrapped in (value, {"o": value}, [{"a": 1}, value], {"l": [value]}):
                with pytest.raises(SerializationError) as info:
                    store.set("k", wrapped)
                assert info.value.key == "k"
            assert store.get("k") == "before"

    def test_json_subclasses_and_enums_read_back_as_base_types(self, store: KeyValueStore) -> None:
        class S(str):
            pass

        class N(int):
            pass

        value = {S("s"): [S("t"), N(5), _Colour.RED, _Name.A, 1.5], "e": {_Name.A: True}}
        with _codec(store, "json"):
            store.set("k", value)
            got = store.get("k")
        assert got == {"s": ["t", 5, 1, "a", 1.5], "e": {"a": True}}
        assert [type(x) for x in got["s"]] == [str, int, int, str, float]

    @pytest.mark.parametrize("codec", sorted(REFUSED))
    def test_refused_values_raise_and_keep_the_previous_value(self, store: KeyValueStore, codec: str) -> None:
        if codec == "msgpack" and not _HAS_MSGPACK:
            pytest.skip(MSGPACK_MISSING)
        with _codec(store, codec):
            before = _BEFORE[codec]
            for value in REFUSED[codec]:
                store.set("k", before)
                for write in _writes(store, "k", value):
                    with pytest.raises(SerializationError) as info:
                        write()
                    assert info.value.key == "k", (codec, value)
                    assert _same(store.get("k"), normalised(before)), (codec, value)
                assert "other-key" not in store
                with pytest.raises(SerializationError):
                    store.upsert_record("things", "r1", {"v": value})
                assert not store.exists("things", "r1")
                store.set("k", before)
