"""``store.get_or_set`` and ``polykv.memoize``: one factory run per cold key across threads and processes,
errors, timeouts, keys and invalidation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import polykv
from polykv import LockTimeoutError, NotSupportedError
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.caching import LEASE_PREFIX, Memoized, default_key, lease_key
from polykv.keys import MAX_KEY_LENGTH
from polykv.store import KeyValueStore
from polykv.testing.races import get_or_set_race, wait_until_absent
from polykv.wrappers import PrefixStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    made: KeyValueStore = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "cache.db")
    with made:
        yield made


def test_get_or_set_computes_once_and_stores(store: KeyValueStore) -> None:
    calls: list[int] = []

    def factory() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    assert store.get_or_set("k", factory, ttl=60) == {"n": 1}
    assert store.get_or_set("k", factory, ttl=60) == {"n": 1}
    assert calls == [1] and store["k"] == {"n": 1}
    left = store.ttl("k")
    assert left is not None and 59 < left <= 60
    assert not store.exists(lease_key("k"))  # the lease was released


def test_a_stored_none_is_a_value(store: KeyValueStore) -> None:
    calls: list[int] = []
    assert store.get_or_set("k", lambda: calls.append(1)) is None
    assert store.get_or_set("k", lambda: calls.append(1)) is None
    assert calls == [1]


def test_a_factory_error_stores_nothing_and_frees_the_lease(store: KeyValueStore) -> None:
    with pytest.raises(ZeroDivisionError):
        store.get_or_set("k", lambda: 1 / 0)
    assert "k" not in store and not store.exists(lease_key("k"))
    assert store.get_or_set("k", lambda: 5) == 5


def test_an_unstorable_value_frees_the_lease(store: KeyValueStore) -> None:
    with pytest.raises(polykv.SerializationError):
        store.get_or_set("k", lambda: {1, 2})
    assert not store.exists(lease_key("k"))


def test_after_expiry_the_factory_runs_again(store: KeyValueStore) -> None:
    runs = iter(range(1, 10))
    assert store.get_or_set("k", lambda: next(runs), ttl=0.1) == 1
    wait_until_absent(store, "k")
    assert store.get_or_set("k", lambda: next(runs), ttl=0.1) == 2


def test_waiters_wait_for_the_holder(store: KeyValueStore) -> None:
    lease = store.lock(lease_key("k"), ttl=30)
    lease.acquire()  # someone is computing
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(store.get_or_set("k", lambda: "mine")))
    thread.start()
    store.set("k", "theirs")
    lease.release()
    thread.join(60)
    assert got == ["theirs"]


def test_wait_timeout(store: KeyValueStore) -> None:
    lease = store.lock(lease_key("k"), ttl=30)
    lease.acquire()
    with pytest.raises(LockTimeoutError) as info:
        store.get_or_set("k", lambda: 1, wait_timeout=0.05)
    assert isinstance(info.value, TimeoutError) and info.value.key == "k"
    lease.release()


def test_a_crashed_holders_lease_expires_and_a_waiter_computes(store: KeyValueStore) -> None:
    store.lock(lease_key("k"), ttl=0.2).acquire()  # never released: a holder that died
    assert store.get_or_set("k", lambda: "recomputed", wait_timeout=30) == "recomputed"


def test_one_run_among_many_threads(store: KeyValueStore) -> None:
    runs: list[int] = []
    start = threading.Barrier(16)
    got: list[object] = []

    def factory() -> str:
        runs.append(1)
        time.sleep(0.05)  # the computation: a window for the others to arrive
        return "v"

    def call() -> None:
        start.wait()
        got.append(store.get_or_set("cold", factory, ttl=60))

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert runs == [1] and got == ["v"] * 16


def test_sqlite_one_run_per_expiry_across_processes(tmp_path: Path) -> None:
    race = get_or_set_race(f"sqlite:///{tmp_path / 'race.db'}", "cold", processes=4, threads=16, rounds=2)
    assert race.factory_runs == 2
    assert race.values == {0: ["value-1"] * 64, 1: ["value-2"] * 64}


def test_lease_keys() -> None:
    assert lease_key("k") == LEASE_PREFIX + "k"
    long = lease_key("x" * MAX_KEY_LENGTH)
    assert long.startswith(LEASE_PREFIX + "sha256:") and len(long) <= MAX_KEY_LENGTH


def test_not_supported_without_leases() -> None:
    wrapped = PrefixStore(MemoryStore(), "p:")
    with pytest.raises(NotSupportedError) as info:
        wrapped.get_or_set("k", lambda: 1)
    assert info.value.capability == "lease"
    with pytest.raises(NotSupportedError):
        polykv.memoize(wrapped)


# == memoize ===========================================================================================
def test_memoize(store: KeyValueStore) -> None:
    calls: list[tuple[int, int]] = []

    @polykv.memoize(store, ttl=60)
    def add(x: int, y: int = 1) -> int:
        calls.append((x, y))
        return x + y

    assert isinstance(add, Memoized) and add.__name__ == "add"
    assert add(1) == 2 and add(1, 1) == 2 and add(x=1) == 2 and add(1, y=1) == 2
    assert add(2, 3) == 5
    assert calls == [(1, 1), (2, 3)]
    key = add.key_for(1)
    assert key == add.key_for(x=1, y=1) == default_key(add.__wrapped__, (1,), {})
    assert key.startswith(f"memoize:{__name__}.test_memoize.<locals>.add:")
    assert store[key] == 2
    assert add.invalidate(1) is True and add.invalidate(1) is False
    assert add(1) == 2 and calls[-1] == (1, 1)


def test_memoize_keys_tell_argument_types_apart(store: KeyValueStore) -> None:
    @polykv.memoize(store)
    def echo(value: object) -> str:
        return repr(value)

    assert len({echo.key_for(v) for v in (1, 1.0, "1", True, None, [1], {"a": 1})}) == 7


def test_memoize_custom_key_and_unkeyable_arguments(store: KeyValueStore) -> None:
    @polykv.memoize(store, key=lambda user: f"user:{user.id}")
    def profile(user: object) -> str:
        return f"profile {user.id}"  # type: ignore[attr-defined]

    class User:
        id = 7

    assert profile(User()) == "profile 7" and store["user:7"] == "profile 7"

    @polykv.memoize(store)
    def plain(user: object) -> str:
        return "x"

    with pytest.raises(polykv.InvalidArgumentError, match="key="):
        plain(User())


def test_memoize_refuses_coroutine_functions(store: KeyValueStore) -> None:
    async def fetch() -> int:
        return 1

    with pytest.raises(NotSupportedError, match=r"polykv\.aio\.memoize") as info:
        polykv.memoize(store)(fetch)
    assert info.value.capability == "async"


def test_memoize_checks_its_arguments(store: KeyValueStore) -> None:
    with pytest.raises(polykv.InvalidArgumentError):
        polykv.memoize(store, ttl=-1)
    with pytest.raises(polykv.InvalidArgumentError):
        polykv.memoize(store, lease_ttl=0)


def test_a_factory_that_is_not_callable_is_refused() -> None:
    from polykv.errors import InvalidArgumentError

    store = polykv.connect("memory://")
    with pytest.raises(InvalidArgumentError, match="callable"):
        store.get_or_set("k", 5)  # type: ignore[arg-type]
    assert store.get("k") is None


def test_memoize_on_a_method_binds_the_instance(store: KeyValueStore) -> None:
    """In a class body the memoized function binds like a function (it said "missing a required argument");
    the default key cannot take the instance, so the error asks for key=, and key= works."""
    calls: list[int] = []

    class Prices:
        @polykv.memoize(store)
        def plain(self, n: int) -> int:
            return n

        @polykv.memoize(store, key=lambda self, n: f"price:{n}")
        def price(self, n: int) -> int:
            calls.append(n)
            return n * 10

    with pytest.raises(polykv.InvalidArgumentError, match="pass key="):
        Prices().plain(1)
    assert Prices().price(2) == Prices().price(2) == 20 and calls == [2]
    assert store.get("price:2") == 20 and Prices.price.invalidate(None, 2) is True
    prices = Prices()
    assert prices.price(4) == 40 and prices.price.key_for(4) == "price:4"  # bound: the instance goes first
    assert prices.price.invalidate(4) is True and prices.price.invalidate(4) is False
    with pytest.raises(polykv.InvalidArgumentError, match="key must be a callable"):
        polykv.memoize(store, key="price")  # type: ignore[arg-type]
