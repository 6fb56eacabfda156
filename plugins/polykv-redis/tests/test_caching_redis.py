"""Locks and ``get_or_set`` on a real Redis server: owner-checked release/extend (Lua), one factory run per
expiry across 4 processes x 16 threads, mutual exclusion across processes, a SIGKILLed holder's lock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisServer

from polykv import LockNotOwnedError, ops
from polykv.caching import lease_key
from polykv.changes import ChangeOp
from polykv.testing.races import crashed_holder, expired_holder, get_or_set_race, lock_race

#: Workers import the plugin's store module (the test environment need not install its entry point).
PRELOAD = ("polykv_redis.store",)


@pytest.fixture(params=[{}, {"change_feed": True}, {"connection_mode": "single"}], ids=["plain", "feed", "single"])
def store(request: pytest.FixtureRequest, redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
    made = RedisStore(port=redis_server.port, prefix=key_prefix, **request.param)
    try:
        yield made
    finally:
        made.clear()
        made.close()


@pytest.fixture
def url(redis_server: RedisServer, key_prefix: str) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/0?prefix={key_prefix}"


def test_lock_owner_only(store: RedisStore) -> None:
    owner, other = store.lock("job", ttl=30), store.lock("job", ttl=30)
    assert owner.acquire() and not other.acquire(blocking=False)
    with pytest.raises(LockNotOwnedError):
        other.release()
    owner.extend(100)
    left = store.ttl("job")
    assert left is not None and 99 < left <= 100
    owner.release()
    assert not owner.locked()


def test_an_expired_holder_cannot_touch_the_next_owners_lock(store: RedisStore) -> None:
    expired_holder(store, "job").release()


def test_get_or_set(store: RedisStore) -> None:
    calls: list[int] = []
    assert store.get_or_set("k", lambda: calls.append(1) or {"a": [1]}, ttl=60) == {"a": [1]}
    assert store.get_or_set("k", lambda: calls.append(1)) == {"a": [1]}
    assert calls == [1] and not store.exists(lease_key("k"))


def test_release_is_logged_in_the_change_feed(redis_server: RedisServer, key_prefix: str) -> None:
    store = RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True)
    try:
        since = store._change_head()
        with store.lock("job", ttl=30) as lock:
            lock.extend(60)  # a new expiry is not a change
        seen = [(c.op, c.key) for c in ops.watch(store, since=since, follow=False)]
        assert seen == [(ChangeOp.INSERT, "job"), (ChangeOp.DELETE, "job")]
    finally:
        store.clear()
        store.close()


def test_one_factory_run_per_expiry_across_processes(url: str) -> None:
    race = get_or_set_race(url, "cold", processes=4, threads=16, rounds=2, preload=PRELOAD)
    assert race.factory_runs == 2
    assert race.values == {0: ["value-1"] * 64, 1: ["value-2"] * 64}


def test_mutual_exclusion_across_processes(url: str) -> None:
    race = lock_race(url, "job", processes=4, threads=2, iterations=10, preload=PRELOAD)
    assert race.overlaps == 0 and race.counted == race.expected == 80


def test_a_killed_holders_lock_expires(url: str) -> None:
    still_held, waited = crashed_holder(url, "job", ttl=2.0, preload=PRELOAD)
    assert still_held and waited < 12


# == dogpile.cache's own backend and mutex fixtures, on this Redis ====================================
dogpile_fixtures = pytest.importorskip("dogpile.testing.fixtures")
from dogpile.cache import make_region  # noqa: E402
from dogpile.cache.region import register_backend  # noqa: E402

register_backend("polykv", "polykv.integrations.dogpile", "PolykvBackend")  # installed metadata may predate it


class _RedisURL:
    config_args: dict[str, Any] = {}

    @classmethod
    def setup_class(cls) -> None:
        """The backend is built by each test, once the server is up."""

    @pytest.fixture(autouse=True)
    def _redis_url(self, url: str) -> None:
        type(self).config_args = {"arguments": {"url": url}}


class TestDogpileRedisBackend(_RedisURL, dogpile_fixtures._GenericBackendTestSuite):
    backend = "polykv"


class TestDogpileRedisMutex(_RedisURL, dogpile_fixtures._GenericMutexTestSuite):
    backend = "polykv"


def test_dogpile_region_on_redis(url: str) -> None:
    region = make_region().configure("polykv", expiration_time=60, arguments={"url": url})
    assert region.get_or_create("k", lambda: [1, "a"]) == [1, "a"]
    assert region.backend.get_mutex("k").lock.store.supports("lease")
