"""``MappingSuite``: CPython's mapping-protocol cases, run against every store.

Adapted from CPython's ``Lib/test/mapping_tests.py`` (``BasicTestMappingProtocol`` and
``TestMappingProtocol``), written here so that the interpreter's ``test`` package is not needed. Keys are
``str`` and values JSON-able (``(1, 2, 3)`` becomes ``[1, 2, 3]``); a store holds copies, so a value
returned by ``setdefault`` is not the stored one; cases that need a constructor, ``copy`` or
``fromkeys`` (a dict's, not a ``MutableMapping``'s) are left out. Added: views are re-iterable and
set-like, ``len()`` of a view is the store's count, and membership never raises.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from types import MappingProxyType
from typing import Any

import pytest

from ..errors import InvalidArgumentError, InvalidKeyError, KeyNotFoundError, SerializationError
from ..keys import MAX_KEY_LENGTH
from ..store import KV_NAMESPACE, KeyValueStore

__all__ = ["MappingSuite"]

#: Values invariant by storage (CPython's ``_reference``, with the tuple as a list).
REFERENCE: dict[str, Any] = {"1": "2", "key1": "value1", "key2": [1, 2, 3]}
#: A pair not in the mapping, and one in it (as CPython's __init__ picks them).
OTHER = ("key2", [1, 2, 3])
INMAPPING = ("key1", "value1")
UNSTORABLE_KEYS: list[Any] = [
    1,
    None,
    b"bytes",
    ("t",),
    [],
    {},
    "",
    "k" * (MAX_KEY_LENGTH + 1),
    "\ud800",
    "lone \udfff surrogate",
]


class _Exc(Exception):
    pass


def _fill(store: KeyValueStore, data: dict[str, Any]) -> KeyValueStore:
    for key, value in data.items():
        store[key] = value
    return store


class MappingSuite:
    """The mapping protocol (``MutableMapping`` in full, with dict semantics) on a store."""

    @pytest.fixture
    def reference(self) -> dict[str, Any]:
        data = dict(REFERENCE)
        del data[OTHER[0]]
        return data

    def test_mapping_read(self, store: KeyValueStore, reference: dict[str, Any]) -> None:
        assert len(store) == 0 and not store and store == {} and store == store
        _fill(store, reference)
        for key, value in reference.items():
            assert store[key] == value
        with pytest.raises(KeyError):
            store[OTHER[0]]
        assert len(store) == len(reference)
        assert all(k in store for k in reference) and OTHER[0] not in store
        assert store == store and store != {} and store == reference and reference == store
        assert store != {**reference, "extra": 1} and store != {k: "changed" for k in reference}
        assert store == MappingProxyType(reference)
        assert bool(store) is True

        def check(iterator: Iterator[Any], listed: list[Any], ref: Any) -> None:
            assert hasattr(iterator, "__next__") and hasattr(iterator, "__iter__")
            assert sorted(map(repr, iterator)) == sorted(map(repr, listed)) == sorted(map(repr, ref))

        check(iter(store.keys()), list(store.keys()), reference.keys())
        check(iter(store), list(store.keys()), reference.keys())
        check(iter(store.values()), list(store.values()), reference.values())
        check(iter(store.items()), list(store.items()), reference.items())
        key, value = next(iter(store.items()))
        assert store.get(key, "x") == value and store.get(OTHER[0], "x") == "x"
        assert OTHER[0] not in store

    def test_mapping_write(self, store: KeyValueStore, reference: dict[str, Any]) -> None:
        for key, value in reference.items():
            store[key] = value
            assert store[key] == value
        for key in reference:
            del store[key]
            with pytest.raises(KeyError):
                store[key]
        store.update(reference)
        assert dict(store) == reference
        items = list(store.items())
        store.clear()
        store.update(items)
        assert dict(store) == reference
        key, value = INMAPPING
        known_key, known_value = OTHER
        assert store.setdefault(key, known_value) == value and store[key] == value
        assert store.setdefault(known_key, known_value) == known_value and store[known_key] == known_value
        assert store.pop(known_key) == known_value and known_key not in store
        with pytest.raises(KeyError):
            store.pop(known_key)
        store[known_key] = known_value
        assert store.pop(known_key, 909) == known_value and known_key not in store
        assert store.pop(known_key, 909) == 909
        key, value = store.popitem()
        assert key not in store and value == reference[key]
        store.clear()
        with pytest.raises(KeyError):
            store.popitem()

    def test_mapping_empty_equals_empty(self, store: KeyValueStore) -> None:
        assert store == {} and {} == store and store == MappingProxyType({})  # noqa: SIM300  # reflected ==
        assert not (store != {})  # noqa: SIM202  # != is derived from ==
        assert store != [] and store != 0  # not a mapping: never equal

    def test_mapping_bool(self, store: KeyValueStore) -> None:
        assert bool(store) is False and not store
        store["x"] = "y"
        assert bool(store) is True

    def test_mapping_keys_view(self, store: KeyValueStore) -> None:
        assert list(store.keys()) == []
        _fill(store, {"a": 1, "b": 2})
        keys = store.keys()
        assert isinstance(keys, KeysView)
        assert "a" in keys and "b" in keys and "c" not in keys
        assert keys == {"a", "b"} and {"a", "b"} == keys and keys != {"a"}  # type: ignore[comparison-overlap]
        assert len(keys) == 2 == store.count()
        assert keys & {"a", "z"} == {"a"} and keys | {"z"} == {"a", "b", "z"} and keys - {"a"} == {"b"}
        assert keys ^ {"a", "z"} == {"b", "z"} and not keys.isdisjoint({"b"}) and keys <= {"a", "b", "c"}
        assert sorted(keys) == ["a", "b"] and sorted(keys) == ["a", "b"], "a view is re-iterable"
        store["c"] = 3
        assert sorted(keys) == ["a", "b", "c"] and len(keys) == 3, "a view is live"
        with pytest.raises(TypeError):
            store.keys(None)  # type: ignore[call-arg]

    def test_mapping_values_view(self, store: KeyValueStore) -> None:
        assert list(store.values()) == []
        _fill(store, {"a": 1, "b": [2]})
        values = store.values()
        assert isinstance(values, ValuesView) and len(values) == 2
        assert sorted(map(repr, values)) == ["1", "[2]"] and sorted(map(repr, values)) == ["1", "[2]"]
        assert 1 in values and [2] in values and 3 not in values
        with pytest.raises(TypeError):
            store.values(None)  # type: ignore[call-arg]

    def test_mapping_items_view(self, store: KeyValueStore) -> None:
        assert list(store.items()) == []
        _fill(store, {"a": 1, "b": 2})
        items = store.items()
        assert isinstance(items, ItemsView) and len(items) == 2
        assert items == {("a", 1), ("b", 2)} and sorted(items) == [("a", 1), ("b", 2)]  # type: ignore[comparison-overlap]
        assert sorted(items) == [("a", 1), ("b", 2)], "a view is re-iterable"
        assert ("a", 1) in items and ("a", 2) not in items and ("c", 1) not in items
        assert items & {("a", 1), ("a", 2)} == {("a", 1)}
        for odd in (("", 1), (1, 1), ("k" * (MAX_KEY_LENGTH + 1), 1), ("\ud800", 1), "a", ("a",), 5):
            assert odd not in items
        with pytest.raises(TypeError):
            store.items(None)  # type: ignore[call-arg]

    def test_mapping_len(self, store: KeyValueStore) -> None:
        assert len(store) == 0
        _fill(store, {"a": 1, "b": 2})
        assert len(store) == 2

    def test_mapping_getitem(self, store: KeyValueStore) -> None:
        _fill(store, {"a": 1, "b": 2})
        assert store["a"] == 1 and store["b"] == 2
        store["c"] = 3
        store["a"] = 4
        assert store["c"] == 3 and store["a"] == 4
        del store["b"]
        assert store == {"a": 4, "c": 3}
        with pytest.raises(TypeError):
            store.__getitem__()  # type: ignore[call-arg]

    def test_mapping_contains(self, store: KeyValueStore) -> None:
        assert "a" not in store and not ("a" in store)  # noqa: E713
        _fill(store, {"a": 1, "b": 2})
        assert "a" in store and "b" in store and "c" not in store
        with pytest.raises(TypeError):
            store.__contains__()  # type: ignore[call-arg]

    @pytest.mark.parametrize("key", UNSTORABLE_KEYS, ids=[repr(k)[:20] for k in UNSTORABLE_KEYS])
    def test_mapping_contains_never_raises(self, store: KeyValueStore, key: Any) -> None:
        store["a"] = 1
        assert (key in store) is False
        assert (key in store.keys()) is False  # noqa: SIM118  # the view's own membership
        assert ((key, 1) in store.items()) is False
        with pytest.raises(InvalidKeyError):
            store[key]  # lookups other than membership still name the bad key

    def test_mapping_clear(self, store: KeyValueStore) -> None:
        _fill(store, {"1": 1, "2": 2, "3": 3})
        store.clear()
        assert store == {} and len(store) == 0

    def test_mapping_update(self, store: KeyValueStore) -> None:
        store.update({"1": 100})
        store.update({"2": 20})
        store.update({"1": 1, "2": 2, "3": 3})
        assert store == {"1": 1, "2": 2, "3": 3}
        store.update()
        assert store == {"1": 1, "2": 2, "3": 3}
        store.clear()
        store.update(x=100)
        store.update(y=20)
        store.update(x=1, y=2, z=3)
        assert store == {"x": 1, "y": 2, "z": 3}
        store.clear()
        store.update([("x", 100), ("y", 20)])
        assert store == {"x": 100, "y": 20}
        store.clear()
        store.update([("x", 100), ("y", 20)], x=1, y=2)
        assert store == {"x": 1, "y": 2}
        store.clear()
        store.update(iter([("a", 1), ("a", 2)]))  # later pairs win, as in a dict
        assert store == {"a": 2}
        store.clear()

        class SimpleUserDict:
            def __init__(self) -> None:
                self.d = {"1": 1, "2": 2, "3": 3}

            def keys(self) -> Any:
                return self.d.keys()

            def __getitem__(self, key: str) -> int:
                return self.d[key]

        store.update(SimpleUserDict())
        assert store == {"1": 1, "2": 2, "3": 3}
        store.clear()
        store.update(dict.fromkeys((f"k{i:04d}" for i in range(1234)), 0))  # more than one batch
        assert len(store) == 1234 and store.get("k1233") == 0

    def test_mapping_update_errors(self, store: KeyValueStore) -> None:
        with pytest.raises((TypeError, AttributeError)):
            store.update(42)

        class FailingKeys:
            def keys(self) -> Any:
                raise _Exc

        with pytest.raises(_Exc):
            store.update(FailingKeys())

        class BogonKeys:
            def keys(self) -> Iterator[str]:
                yield "a"
                raise _Exc

            def __getitem__(self, key: str) -> str:
                return key

        with pytest.raises(_Exc):
            store.update(BogonKeys())

        class FailingGetItem:
            def keys(self) -> list[str]:
                return [chr(i) for i in range(ord("a"), ord("z") + 1)]

            def __getitem__(self, key: str) -> str:
                raise _Exc

        with pytest.raises(_Exc):
            store.update(FailingGetItem())

        class BadSeq:
            def __iter__(self) -> BadSeq:
                return self

            def __next__(self) -> Any:
                raise _Exc

        with pytest.raises(_Exc):
            store.update(BadSeq())
        with pytest.raises(ValueError):
            store.update([("a", 2, 3)])
        with pytest.raises(InvalidKeyError):
            store.update([([], 1)])  # an unhashable key is a bad key, as any other
        with pytest.raises(InvalidKeyError):
            store.update({"ok": 1, "": 2})
        assert "ok" not in store, "a batch is validated before any of it is written"

    def test_mapping_get(self, store: KeyValueStore) -> None:
        assert store.get("c") is None and store.get("c", 3) == 3
        _fill(store, {"a": 1, "b": 2})
        assert store.get("c") is None and store.get("c", 3) == 3
        assert store.get("a") == 1 and store.get("a", 3) == 1
        with pytest.raises(TypeError):
            store.get()  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            store.get(None, None, None)  # type: ignore[call-arg, arg-type]

    def test_mapping_setdefault(self, store: KeyValueStore) -> None:
        with pytest.raises(TypeError):
            store.setdefault()  # type: ignore[call-arg]
        assert store.setdefault("key0") is None
        assert store.setdefault("key0", []) is None
        assert store.setdefault("key", [3]) == [3]
        assert store.setdefault("key", [4]) == [3] and store["key"] == [3]

    def test_mapping_popitem(self, store: KeyValueStore) -> None:
        with pytest.raises(KeyError):
            store.popitem()
        with pytest.raises(TypeError):
            store.popitem(42)  # type: ignore[call-arg]
        for log2size in range(7):
            size = 2**log2size
            store.update({repr(i): i for i in range(size)})
            popped = set()
            for _ in range(size):
                key, value = store.popitem()
                assert value == int(key) and key not in store
                popped.add(key)
            assert popped == {repr(i) for i in range(size)} and not store

    def test_mapping_pop(self, store: KeyValueStore) -> None:
        key, value = INMAPPING
        store[key] = value
        with pytest.raises(KeyError):
            store.pop(OTHER[0])
        assert store.pop(key) == value and len(store) == 0
        with pytest.raises(KeyNotFoundError):
            store.pop(key)
        assert store.pop("abc", "def") == "def"
        store["abc"] = "def"
        assert store.pop("abc", 1) == "def"

    def test_mapping_views_stream(self, store: KeyValueStore) -> None:
        store.update({f"k{i}": i for i in range(5)})
        for view in (store.keys(), store.values(), store.items()):
            iterator = iter(view)
            assert iter(iterator) is iterator, "a view's iterator is a stream, not a list"
            next(iterator)
        assert sorted(store.keys_by_prefix("k")) == [f"k{i}" for i in range(5)]


class UndecodableValueCases:
    """Mixed into ``StoreSuite``: a stored value the codec cannot read raises ``SerializationError`` from
    ``pop`` and ``popitem`` and stays stored (nothing is deleted before it is decoded)."""

    @pytest.fixture
    def undecodable(self, store: KeyValueStore) -> Iterator[str]:
        """The key of a value planted below the codec that the codec cannot decode (removed afterwards)."""
        junk = b"\xc0\xff\x00polykv-undecodable"
        try:
            store.codec.decode(junk)
        except Exception:
            readable = False
        else:
            readable = True
        if readable:
            pytest.skip(f"not applicable: the {store.codec.name} codec reads any bytes")
        store._set(KV_NAMESPACE, "undecodable", junk, None)
        try:
            yield "undecodable"
        finally:
            store._delete(KV_NAMESPACE, "undecodable")

    def test_pop_of_an_undecodable_value_keeps_it(self, store: KeyValueStore, undecodable: str) -> None:
        with pytest.raises(SerializationError) as info:
            store.pop(undecodable)
        assert str(info.value.key).endswith(undecodable)
        assert store._get(KV_NAMESPACE, undecodable) is not None, "pop deleted a value it could not decode"

    def test_popitem_of_an_undecodable_value_keeps_it(self, store: KeyValueStore, undecodable: str) -> None:
        with pytest.raises(SerializationError):
            store.popitem()
        assert store._get(KV_NAMESPACE, undecodable) is not None, "popitem deleted a value it could not decode"


class BatchArgumentCases:
    """Mixed into ``StoreSuite``: a batch call given something that is not a batch raises
    ``InvalidArgumentError`` and touches nothing (a str is not a batch of its characters)."""

    @pytest.mark.parametrize("bad", [None, 5, "abc", b"abc"], ids=["none", "int", "str", "bytes"])
    def test_a_batch_call_refuses_what_is_not_a_batch(self, store: KeyValueStore, bad: Any) -> None:
        store.set("a", 1)
        for call in (store.get_many, store.delete_many, store.set_many):
            with pytest.raises(InvalidArgumentError):
                call(bad)
        assert store.get("a") == 1 and store.get("b") is None
