"""pydantic models, msgspec Structs and attrs classes as records on a real Redis (and Redis Cluster for pydantic).

The suites are ``polykv.testing.records_pydantic``/``records_msgspec``/``records_attrs``; the core tests run
them on memory and sqlite. Here the Redis store's own paths are exercised too: the secondary index sets
kept for ``__indexes__`` fields (a renamed msgspec field is indexed under its stored name) and the
bucketed layout.
"""

from __future__ import annotations

import pytest
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.store import RedisStore

pytest.importorskip("pydantic", minversion="2.11")
pytest.importorskip("msgspec")
pytest.importorskip("attrs")

from polykv.testing.records_attrs import AttrsRecordSuite
from polykv.testing.records_msgspec import MsgspecRecordSuite
from polykv.testing.records_pydantic import PydanticRecordSuite


class TestPydanticRecordsRedis(PydanticRecordSuite):
    @pytest.fixture
    def store(self, redis_store: RedisStore) -> RedisStore:
        return redis_store


class TestPydanticRecordsRedisCluster(PydanticRecordSuite):
    @pytest.fixture
    def store(self, redis_cluster_store: RedisClusterStore) -> RedisClusterStore:
        return redis_cluster_store


class TestMsgspecRecordsRedis(MsgspecRecordSuite):
    @pytest.fixture
    def store(self, redis_store: RedisStore) -> RedisStore:
        return redis_store


class TestAttrsRecordsRedis(AttrsRecordSuite):
    @pytest.fixture
    def store(self, redis_store: RedisStore) -> RedisStore:
        return redis_store


def test_indexed_model_field_uses_the_redis_index(redis_store: RedisStore) -> None:
    from polykv.testing.records_msgspec import Event, event
    from polykv.testing.records_pydantic import Account, account

    redis_store.save(account(1, "ada@example.org"))
    redis_store.save(event(1, "ada"))
    assert [a.email for a in redis_store.filter_record("accounts", Account, email="ada@example.org")] == [
        "ada@example.org"
    ]
    assert [e.owner_name for e in redis_store.filter_record("events", Event, owner_name="ada")] == ["ada"]
    assert redis_store._indexes == {"accounts": ("email",), "events": ("ownerName",)}
