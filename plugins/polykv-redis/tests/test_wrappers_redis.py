"""The value wrappers (compression, encryption, instrumentation, default/maximum TTL) on a real Redis server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisServer

from polykv.capabilities import Capability
from polykv.errors import InvalidArgumentError, SerializationError
from polykv.records import Record
from polykv.store import KeyValueStore
from polykv.testing import StoreSuite
from polykv.testing.limits import BAD_TTLS
from polykv.wrappers import CompressedStore, EncryptedStore, InstrumentedStore, TTLStore, generate_key
from polykv.wrappers.compressed import MAGIC

KEY_A, KEY_B = generate_key(), generate_key()
BIG = {"text": "redis " * 300}


@pytest.fixture
def redis_store(redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
    store = RedisStore(port=redis_server.port, prefix=key_prefix)
    try:
        yield store
    finally:
        store.close()


class TestCompressedOverRedisConformance(StoreSuite):
    @pytest.fixture
    def store(self, redis_store: RedisStore) -> Iterator[KeyValueStore]:
        yield CompressedStore(redis_store, algorithm="zstd", min_size=0)


class TestEncryptedOverRedisConformance(StoreSuite):
    @pytest.fixture
    def store(self, redis_store: RedisStore) -> Iterator[KeyValueStore]:
        yield EncryptedStore(redis_store, [KEY_A, KEY_B])


class TestInstrumentedOverRedisConformance(StoreSuite):
    @pytest.fixture
    def store(self, redis_store: RedisStore) -> Iterator[KeyValueStore]:
        yield InstrumentedStore(redis_store)


class TestTTLOverRedisConformance(StoreSuite):
    """The suite through TTLStore, its three tests of "no ttl means no expiry" restated for a default TTL."""

    DEFAULT = 3000.0

    @pytest.fixture
    def store(self, redis_store: RedisStore) -> Iterator[KeyValueStore]:
        yield TTLStore(redis_store, default_ttl=self.DEFAULT, max_ttl=7200)

    def _has_default(self, store: KeyValueStore, key: str) -> None:
        left = store.ttl(key)
        assert left is not None and self.DEFAULT - 100 < left <= self.DEFAULT

    def test_ttl_expires(self, store: KeyValueStore) -> None:
        store.set("long", 2, ttl=3600)
        store.set("default", 3)
        assert 3500 < (store.ttl("long") or 0) <= 3600
        self._has_default(store, "default")

    def test_set_without_ttl_clears_expiry(self, store: KeyValueStore) -> None:
        store.set("k", 1, ttl=100)
        store.set("k", 2)
        self._has_default(store, "k")

    @pytest.mark.parametrize("ttl", BAD_TTLS, ids=repr)
    def test_ttl_out_of_range_is_refused_everywhere(self, store: KeyValueStore, ttl: Any) -> None:
        store.set("k", "before")
        for call in (
            lambda: store.set("k", "new", ttl=ttl),
            lambda: store.set_many({"k": "new"}, ttl=ttl),
            lambda: store.add("n", "new", ttl=ttl),
            lambda: store.insert_record("things", "r2", {"v": 2}, ttl=ttl),
        ):
            with pytest.raises(InvalidArgumentError):
                call()
        assert store.get("k") == "before" and "n" not in store
        self._has_default(store, "k")


class TestTTLOverRedis:
    """TTLStore's own rules on Redis."""

    def test_default_and_maximum(self, redis_store: RedisStore) -> None:
        store = TTLStore(redis_store, default_ttl=60, max_ttl=600)
        store.set("a", 1)
        store.set("b", 1, ttl=10_000)
        store.set_many({"c": 1})
        assert store.add("d", 1)
        assert store.incr("n") == 1
        store.insert_record("s", "r", {"id": "r"})
        for key, bound in (("a", 60), ("b", 600), ("c", 60), ("d", 60), ("n", 60)):
            left = store.ttl(key)
            assert left is not None and bound - 10 < left <= bound, key
        left = redis_store._ttl("s", "r")
        assert isinstance(left, float) and 50 < left <= 60
        store.set("m", 5, ttl=10)
        assert store.incr("m") == 6
        assert (store.ttl("m") or 0) <= 10


@dataclasses.dataclass
class Doc(Record):
    __schema_name__ = "docs"
    __indexes__ = ("kind",)
    id: str
    kind: str
    body: str


@pytest.mark.parametrize("wrap", ["compressed", "encrypted"])
def test_atomic_operations_on_transformed_values(redis_store: RedisStore, wrap: str) -> None:
    store: KeyValueStore = (
        CompressedStore(redis_store, min_size=10) if wrap == "compressed" else EncryptedStore(redis_store, KEY_A)
    )
    store.set("doc", BIG)
    raw = redis_store._get("", "doc")
    assert raw is not None
    assert raw.startswith(MAGIC if wrap == "compressed" else b"gAAAAA")
    assert store.compare_and_set("doc", BIG, {"v": 2}) and store["doc"] == {"v": 2}
    assert not store.compare_and_set("doc", BIG, 3)
    assert store.add("fresh", BIG) and not store.add("fresh", 1)
    for n in range(6):
        store.insert_record("docs", f"d{n}", Doc(f"d{n}", "a" if n % 2 else "b", "z" * 400))
    assert {d.id for d in store.filter_record("docs", Doc, kind="a")} == {"d1", "d3", "d5"}
    assert Capability.INDEX not in store.capabilities

    with ThreadPoolExecutor(8) as pool:  # the CAS loop Redis runs for a non-JSON codec stays atomic
        list(pool.map(lambda _: store.incr("counter"), range(200)))
    assert store.get("counter") == 200
    stored = redis_store._get("", "counter")  # compressed: small ints stay plain; encrypted: never
    assert (stored == b"200") is (wrap == "compressed")


def test_encrypted_value_under_another_key_raises_naming_it(redis_store: RedisStore) -> None:
    EncryptedStore(redis_store, KEY_A).set("secret", "v")
    redis_store.codec = redis_store.codec.inner  # type: ignore[attr-defined]
    other = EncryptedStore(redis_store, KEY_B)
    with pytest.raises(SerializationError) as info:
        other.get("secret")
    assert info.value.key == "secret" and KEY_A not in str(info.value) and KEY_B not in str(info.value)
    with pytest.raises(SerializationError):
        other.incr("secret")


def test_compression_turned_on_reads_existing_values(redis_store: RedisStore) -> None:
    redis_store.set_many({"old": BIG, "n": 4})
    store = CompressedStore(redis_store, min_size=0)
    assert store.get_many(["old", "n"]) == {"old": BIG, "n": 4}
    assert store.incr("n") == 5


def test_instrumented_counts_redis_operations(redis_store: RedisStore) -> None:
    store = InstrumentedStore(redis_store, opentelemetry=False)
    store.set_many({"a": 1, "b": 2})
    assert store.get_many(["a", "b"]) == {"a": 1, "b": 2}
    stats: dict[str, Any] = store.stats()
    assert stats["set_many"].count == 1 and stats["get_many"].count == 1
    assert stats["get_many"].total_seconds > 0
