"""Conformance cases: the same TTL and ``incr`` input gives the same result or error on every store
(issue 11, item 5).

TTLs are int/float seconds, finite, ``0 < ttl <= MAX_TTL``; anything else raises ``InvalidArgumentError``
naming the bound, before anything is written. ``incr`` amounts and results stay within signed 64 bits
(``INCR_MIN``..``INCR_MAX``); past that, or on a stored value that is not an int, ``InvalidArgumentError``
naming the key, and the stored value is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from ..capabilities import Capability
from ..errors import InvalidArgumentError
from ..store import INCR_MAX, INCR_MIN, MAX_TTL, KeyValueStore

__all__ = ["BAD_TTLS", "LimitCases", "assert_bad_ttl_writes_refused"]

F = TypeVar("F", bound=Callable[..., Any])


def _requires(*capabilities: Capability) -> Callable[[F], F]:
    mark: Callable[[F], F] = pytest.mark.polykv_requires(*capabilities)
    return mark


#: TTLs every store refuses.
BAD_TTLS: list[Any] = [
    0,
    0.0,
    -1,
    -0.5,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e18,
    MAX_TTL + 1,
    MAX_TTL + 0.001,
    10**400,
    True,
    False,
    "10",
    b"10",
    [1],
]


def assert_bad_ttl_writes_refused(store: KeyValueStore, ttl: Any) -> None:
    """Assert that every write given ``ttl`` (one of ``BAD_TTLS``) raises ``InvalidArgumentError`` naming MAX_TTL.

    The writes are ``set`` of key ``"k"`` and of a new key ``"n"``, ``set_many`` of both and of nothing,
    ``insert_record`` of ``things/r2``, ``update_record`` and ``upsert_record`` of ``things/r1`` (which the
    caller has stored), and ``add`` of ``"n"`` when the store declares ``Capability.ADD``. What stays
    stored afterwards is the caller's to check.
    """
    calls: list[Callable[[], object]] = [
        lambda: store.set("k", "new", ttl=ttl),
        lambda: store.set("n", "new", ttl=ttl),
        lambda: store.set_many({"k": "new", "n": "new"}, ttl=ttl),
        lambda: store.set_many({}, ttl=ttl),
        lambda: store.insert_record("things", "r2", {"v": 2}, ttl=ttl),
        lambda: store.update_record("things", "r1", {"v": 2}, ttl=ttl),
        lambda: store.upsert_record("things", "r1", {"v": 2}, ttl=ttl),
    ]
    if Capability.ADD in store.capabilities:
        calls.append(lambda: store.add("n", "new", ttl=ttl))
    for call in calls:
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert str(MAX_TTL) in str(info.value)


#: Values ``incr`` cannot add to.
NOT_INTEGERS: list[Any] = ["5", "x", 1.5, 2.0, True, False, None, {"n": 1}, [1]]


class LimitCases:
    """TTL range and ``incr`` range, identical on every store that declares TTL / INCR."""

    @_requires(Capability.TTL)
    @pytest.mark.parametrize("ttl", BAD_TTLS, ids=repr)
    def test_ttl_out_of_range_is_refused_everywhere(self, store: KeyValueStore, ttl: Any) -> None:
        store.set("k", "before")
        store.upsert_record("things", "r1", {"v": 1})
        assert_bad_ttl_writes_refused(store, ttl)
        assert store.get("k") == "before"
        assert "n" not in store
        assert store.ttl("k") is None
        assert store.get_record("things", dict, "r1") == {"v": 1}
        assert not store.exists("things", "r2")

    @_requires(Capability.TTL)
    @pytest.mark.parametrize("ttl", [MAX_TTL, float(MAX_TTL), MAX_TTL - 0.5, 3600, 0.25])
    def test_ttl_within_range_is_honoured(self, store: KeyValueStore, ttl: float) -> None:
        store.set("k", 1, ttl=ttl)
        store.set_many({"m": 2}, ttl=ttl)
        store.upsert_record("things", "r1", {"v": 1}, ttl=ttl)
        for key in ("k", "m"):
            left = store.ttl(key)
            assert left is not None and 0 < left <= ttl
        assert store.get("k") == 1 and store.get("m") == 2

    @_requires(Capability.INCR)
    def test_incr_reaches_the_64_bit_bounds_exactly(self, store: KeyValueStore) -> None:
        assert store.incr("c", INCR_MAX) == INCR_MAX
        assert store.get("c") == INCR_MAX
        assert store.incr("c", -1) == INCR_MAX - 1
        assert store.incr("d", INCR_MIN) == INCR_MIN
        assert store.incr("d", 0) == INCR_MIN
        assert store.get("d") == INCR_MIN

    @_requires(Capability.INCR)
    @pytest.mark.parametrize(("start", "amount"), [(INCR_MAX, 1), (INCR_MAX - 5, 6), (INCR_MIN, -1), (-5, INCR_MIN)])
    def test_incr_overflow_is_refused_and_keeps_the_value(self, store: KeyValueStore, start: int, amount: int) -> None:
        store.incr("c", start)
        with pytest.raises(InvalidArgumentError) as info:
            store.incr("c", amount)
        assert info.value.key == "c"
        assert "64-bit" in str(info.value)
        assert store.get("c") == start

    @_requires(Capability.INCR)
    @pytest.mark.parametrize("amount", [INCR_MAX + 1, INCR_MIN - 1, 2**100, True, 1.0, "1", None])
    def test_incr_amount_outside_64_bits_or_not_int_is_refused(self, store: KeyValueStore, amount: Any) -> None:
        store.incr("c", 7)
        with pytest.raises(InvalidArgumentError):
            store.incr("c", amount)
        with pytest.raises(InvalidArgumentError):
            store.incr("absent", amount)
        assert store.get("c") == 7
        assert "absent" not in store

    @_requires(Capability.INCR)
    @pytest.mark.parametrize("value", NOT_INTEGERS, ids=repr)
    def test_incr_of_a_stored_non_integer_is_refused(self, store: KeyValueStore, value: Any) -> None:
        if store.codec.name == "bytes":
            pytest.skip("not applicable: the store's codec is bytes, which cannot store these non-integer values")
        store.set("c", value)
        with pytest.raises(InvalidArgumentError) as info:
            store.incr("c", 1)
        assert info.value.key == "c"
        assert store.get("c") == value

    @_requires(Capability.INCR)
    def test_incr_of_a_stored_int_beyond_64_bits_is_refused(self, store: KeyValueStore) -> None:
        if store.codec.name != "json":
            pytest.skip(f"not applicable: the codec is {store.codec.name}; only json stores ints beyond 64 bits")
        store.set("c", 2**70)
        with pytest.raises(InvalidArgumentError) as info:
            store.incr("c", -1)
        assert info.value.key == "c"
        assert store.get("c") == 2**70
