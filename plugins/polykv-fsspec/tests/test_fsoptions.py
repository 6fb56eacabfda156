"""Options passed on to an fsspec file system are checked at construction (issue 11 item 6)."""

from __future__ import annotations

import pytest
from polykv_fsspec import FsspecStore, HDFSConnector, S3Store

import polykv
from polykv.errors import InvalidArgumentError


@pytest.mark.parametrize(
    "make",
    [
        lambda: FsspecStore("memory://polykv/opts", prefx="a"),
        lambda: polykv.connect("file:///tmp/polykv-opts?prefx=a"),
        lambda: S3Store("bucket", endpoint_url="http://127.0.0.1:9", prefx="a"),
        lambda: HDFSConnector("127.0.0.1", 9, prefx="a"),
        lambda: HDFSConnector("127.0.0.1", 9, protocol="webhdfs", prefx="a"),
    ],
    ids=["memory", "file-url", "s3", "hdfs", "webhdfs"],
)
def test_an_unknown_option_is_refused_by_name(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgumentError, match="'prefx'") as info:
        make()
    assert "accepted" in str(info.value)


def test_known_file_system_options_pass() -> None:
    with FsspecStore("memory://polykv/opts-ok", use_listings_cache=False) as store:
        store.set("k", 1)
        assert store.get("k") == 1
    connector = HDFSConnector("127.0.0.1", 9, **{"dfs.client.socket-timeout": 1000})  # a Hadoop configuration key
    assert connector.options["dfs.client.socket-timeout"] == 1000
    HDFSConnector("127.0.0.1", 9, protocol="webhdfs", use_https=False)


def test_s3fs_refusals_are_polykv_errors_without_the_secret() -> None:
    with pytest.raises(InvalidArgumentError, match="s3fs refused") as info:
        S3Store("bucket", endpoint_url="http://127.0.0.1:9", secret="TOPSECRET1", password="TOPSECRET2")
    assert "TOPSECRET" not in str(info.value) and "TOPSECRET" not in repr(info.value)
