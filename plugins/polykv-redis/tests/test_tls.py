"""``rediss://``: the whole conformance suite over TLS against a real redis-server with a throwaway CA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisTLSServer, running

import polykv
from polykv.errors import BackendUnavailableError
from polykv.testing import StoreSuite


@pytest.fixture(scope="module")
def tls_server() -> Iterator[RedisTLSServer]:
    pytest.importorskip("trustme", reason="the TLS tests need the plugin's test extra (trustme)")
    if not RedisTLSServer.supported():
        pytest.skip("not applicable: this redis-server was built without TLS (it rejects --tls-port)")
    yield from running(RedisTLSServer())


class TestRedisTLSConformance(StoreSuite):
    @pytest.fixture
    def store(self, tls_server: RedisTLSServer, key_prefix: str) -> Iterator[RedisStore]:
        store = polykv.connect(f"{tls_server.url}&prefix={key_prefix}")
        assert isinstance(store, RedisStore)
        try:
            yield store
        finally:
            store.close()


def test_rediss_url_really_speaks_tls_and_checks_the_certificate(tls_server: RedisTLSServer, key_prefix: str) -> None:
    store = polykv.connect(f"{tls_server.url}&prefix={key_prefix}")
    try:
        store.set("k", {"v": 1})
        assert store.get("k") == {"v": 1}
        client = store.manager.acquire().connection
        assert client.connection_pool.connection_class.__name__ == "SSLConnection"
        assert client.config_get("port") == {"port": "0"}  # the server has no plain-text port at all
        assert repr(store).startswith("<RedisStore rediss://")
    finally:
        store.close()
    untrusted = polykv.connect(f"rediss://127.0.0.1:{tls_server.port}/0?prefix={key_prefix}&connect_timeout=1")
    try:
        with pytest.raises(BackendUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.get("k")  # the server's certificate is signed by a CA the client was not given
    finally:
        untrusted.close()
