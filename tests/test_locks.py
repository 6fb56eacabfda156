"""``store.lock``: owner-only release and extension, blocking timeouts, and mutual exclusion across threads
and processes (a sqlite file), including a holder killed with SIGKILL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import polykv
from polykv import Capability, LockNotOwnedError, LockTimeoutError, NotSupportedError, PolyKVError
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.locks import Lock
from polykv.store import KeyValueStore
from polykv.testing.races import crashed_holder, expired_holder, lock_race, wait_until_absent
from polykv.wrappers import PrefixStore


@pytest.fixture(params=["memory", "sqlite", "sqlite-bytes"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    made: KeyValueStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "locks.db")
    else:
        made = SQLiteStore(tmp_path / "locks.db", codec="bytes")
    with made:
        yield made


def test_acquire_release(store: KeyValueStore) -> None:
    lock = store.lock("job", ttl=30)
    assert isinstance(lock, Lock) and not lock.locked()
    assert lock.acquire()
    assert lock.locked() and lock.owned() and lock.token
    assert not store.lock("job", ttl=30).acquire(blocking=False)
    assert not lock.acquire(blocking=False)  # not reentrant
    lock.release()
    assert not lock.locked() and not lock.owned()
    assert store.lock("job", ttl=30).acquire(blocking=False)


def test_context_manager_and_ttl(store: KeyValueStore) -> None:
    with store.lock("job", ttl=30) as lock:
        left = store.ttl("job")
        assert left is not None and 29 < left <= 30
        assert lock.owned()
    assert "job" not in store


def test_only_the_owner_releases(store: KeyValueStore) -> None:
    owner = store.lock("job", ttl=30)
    other = store.lock("job", ttl=30)
    owner.acquire()
    with pytest.raises(LockNotOwnedError) as info:
        other.release()
    assert isinstance(info.value, RuntimeError) and info.value.key == "job"
    assert owner.owned()
    with pytest.raises(LockNotOwnedError):
        other.extend()
    owner.release()
    with pytest.raises(LockNotOwnedError):
        owner.release()


def test_an_expired_holder_cannot_release_or_extend_the_next_owners_lock(store: KeyValueStore) -> None:
    second = expired_holder(store, "job")
    left = store.ttl("job")
    assert left is not None and left > 29
    second.release()


def test_extend(store: KeyValueStore) -> None:
    with store.lock("job", ttl=5) as lock:
        lock.extend(100)
        left = store.ttl("job")
        assert left is not None and 99 < left <= 100
        lock.extend()
        left = store.ttl("job")
        assert left is not None and 4 < left <= 5


def test_blocking_timeout_raises_a_timeout_error(store: KeyValueStore) -> None:
    holder = store.lock("job", ttl=30)
    holder.acquire()
    waiter = store.lock("job", ttl=30, blocking_timeout=0.05)
    with pytest.raises(LockTimeoutError) as info, waiter:
        pass
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, PolyKVError)
    assert info.value.key == "job" and info.value.backend == store.backend_name
    assert not waiter.acquire(blocking_timeout=0)
    holder.release()
    assert waiter.acquire(blocking_timeout=0)


def test_a_waiter_gets_the_lock_when_it_is_released(store: KeyValueStore) -> None:
    holder = store.lock("job", ttl=30)
    holder.acquire()
    got = threading.Event()

    def wait() -> None:
        with store.lock("job", ttl=30, blocking_timeout=60):
            got.set()

    thread = threading.Thread(target=wait)
    thread.start()
    assert not got.wait(0.05)  # blocked while the holder holds it
    holder.release()
    thread.join(60)
    assert got.is_set()


def test_an_error_in_the_block_is_not_hidden_by_a_lost_lease(store: KeyValueStore) -> None:
    with pytest.raises(ZeroDivisionError), store.lock("job", ttl=0.1):
        wait_until_absent(store, "job")
        raise ZeroDivisionError
    with pytest.raises(LockNotOwnedError), store.lock("job", ttl=0.1):
        wait_until_absent(store, "job")


def test_mutual_exclusion_between_threads(store: KeyValueStore) -> None:
    inside: list[int] = []
    overlaps: list[int] = []
    count = [0]

    def run(n: int) -> None:
        for _ in range(20):
            with store.lock("job", ttl=30, blocking_timeout=60):
                if inside:
                    overlaps.append(n)
                inside.append(n)
                seen = count[0]
                store.get("other")  # a round trip between the read and the write
                count[0] = seen + 1
                inside.pop()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert overlaps == [] and count[0] == 160


@pytest.mark.parametrize("ttl", [0, -1, None, float("nan"), True, "5"])
def test_bad_ttl(store: KeyValueStore, ttl: object) -> None:
    with pytest.raises(polykv.InvalidArgumentError):
        store.lock("job", ttl=ttl)  # type: ignore[arg-type]


def test_bad_blocking_timeout_and_name(store: KeyValueStore) -> None:
    with pytest.raises(polykv.InvalidArgumentError):
        store.lock("job", ttl=1, blocking_timeout=-1)
    with pytest.raises(polykv.InvalidKeyError):
        store.lock("", ttl=1)


def test_stores_without_leases_raise_not_supported() -> None:
    wrapped = PrefixStore(MemoryStore(), "p:")
    assert Capability.LEASE not in wrapped.capabilities
    with pytest.raises(NotSupportedError) as info:
        wrapped.lock("job", ttl=1)
    assert info.value.capability == "lease" and "lease" in str(info.value)


def test_sqlite_mutual_exclusion_between_processes(tmp_path: Path) -> None:
    race = lock_race(f"sqlite:///{tmp_path / 'race.db'}", "job", processes=4, threads=2, iterations=10)
    assert race.overlaps == 0
    assert race.counted == race.expected == 80


def test_sqlite_a_killed_holders_lock_expires(tmp_path: Path) -> None:
    still_held, waited = crashed_holder(f"sqlite:///{tmp_path / 'crash.db'}", "job", ttl=2.0)
    assert still_held  # SIGKILL released nothing
    assert waited < 2.0 + 10  # free once the lease expired (within the poll backoff and start-up slack)
