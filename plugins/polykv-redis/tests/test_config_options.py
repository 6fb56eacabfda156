"""Issue 11, items 6 and 9 on Redis: options are checked against what the store and the installed redis-py
accept, at construction (no server needed: nothing connects before the first command)."""

from __future__ import annotations

import pytest
from polykv_redis import RedisClusterStore, RedisStore
from polykv_redis.store import redis_passthrough_options

import polykv
from polykv.errors import InvalidArgumentError, InvalidURLError

URL = "redis://127.0.0.1:1/0"  # port 1: nothing listens, and nothing here connects


@pytest.mark.parametrize("url", [URL, "redis+cluster://127.0.0.1:1/0"])
def test_unknown_query_option_is_refused_at_construction(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="prefx") as info:
        polykv.connect(f"{url}?prefx=a")
    assert "prefix" in str(info.value) and "socket_timeout" in str(info.value)


def test_unknown_keyword_and_registry_option_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="prefx"):
        RedisStore(port=1, prefx="a")
    with pytest.raises(InvalidArgumentError, match="prefx"):
        polykv.connect(URL, prefx="a")
    with pytest.raises(InvalidArgumentError, match="prefx"):
        polykv.BackendRegistry({"redis": {"port": 1, "prefx": "a"}})["redis"]
    with pytest.raises(InvalidArgumentError, match="nodes_flag"):  # a redis.Connection-only name
        RedisClusterStore(port=1, read_from_replicas=False, nodes_flag="x")


def test_redis_py_options_pass_through_and_are_typed_from_the_url() -> None:
    store = polykv.connect(f"{URL}?client_name=polykv-test&health_check_interval=7&socket_keepalive=true")
    try:
        assert store.manager is not None
    finally:
        store.close()
    with pytest.raises(InvalidURLError, match="health_check_interval"):
        polykv.connect(f"{URL}?health_check_interval=often")
    with pytest.raises(InvalidURLError, match="socket_keepalive"):
        polykv.connect(f"{URL}?socket_keepalive=perhaps")
    assert "read_from_replicas" in redis_passthrough_options(cluster=True)
    assert "read_from_replicas" not in redis_passthrough_options(cluster=False)


def test_query_password_never_shows() -> None:
    url = "redis://user:userpw@127.0.0.1:1/0?password=QUERYPW&ssl_password=SSLPW&socket_timeout=soon"
    with pytest.raises(InvalidURLError) as info:
        polykv.connect(url)
    text = str(info.value)
    assert "socket_timeout" in text
    for secret in ("userpw", "QUERYPW", "SSLPW"):
        assert secret not in text
    store = polykv.connect("redis://127.0.0.1:1/0?password=QUERYPW")
    try:
        assert "QUERYPW" not in repr(store) and "QUERYPW" not in repr(polykv.connect("readonly+" + URL))
    finally:
        store.close()
    assert "QUERYPW" not in polykv.urls.redact_url(url)


@pytest.mark.parametrize("url", [URL, "redis+cluster://127.0.0.1:1/0"])
def test_options_that_change_the_bytes_read_or_written_are_refused(url: str) -> None:
    """decode_responses would hand the codec str (the bytes codec then broke, clear() crashed); another
    encoding would store keys other clients cannot find."""
    for query in ("decode_responses=true", "encoding=latin-1"):
        with pytest.raises(InvalidArgumentError, match=query.split("=")[0]):
            polykv.connect(f"{url}?{query}")
    with pytest.raises(InvalidArgumentError, match="decode_responses"):
        polykv.connect(url, decode_responses=True)
    polykv.connect(url, decode_responses=False, encoding="UTF-8").close()  # the defaults, spelled out
