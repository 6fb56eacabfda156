"""Helpers for tests against the S3 server of ``s3_server.py``: the test bucket, URLs and stores of its folders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from polykv_fsspec import S3Store
from polykv_fsspec.s3 import close_s3fs
from s3_server import S3Server

if TYPE_CHECKING:
    from polykv_fsspec.aio import AsyncS3Store

    from polykv.aio import AsyncKeyValueStore

__all__ = ["BUCKET", "make_bucket", "open_async", "open_async_s3", "open_s3", "s3_url", "start_s3"]

BUCKET = "polykv-test"


def make_bucket(server: S3Server) -> None:
    """Create the test bucket (the server answers before its filer is ready: poll with a deadline)."""
    import time

    import s3fs

    fs = s3fs.S3FileSystem(
        key=server.access_key,
        secret=server.secret_key,
        client_kwargs={"endpoint_url": server.endpoint_url},
        skip_instance_cache=True,
    )
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                fs.mkdir(BUCKET)
                return
            except FileExistsError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        close_s3fs(fs)


def s3_url(server: S3Server, folder: str, secret: str | None = None) -> str:
    """The ``s3://`` URL of ``folder`` in the test bucket on ``server``, with the server's credentials
    (``secret`` in place of the server's secret key, to be refused)."""
    return (
        f"s3://{BUCKET}/{folder}?endpoint_url={server.endpoint_url}&key={server.access_key}"
        f"&secret={secret or server.secret_key}"
    )


def open_s3(server: S3Server, folder: str, **options: Any) -> S3Store:
    """An ``S3Store`` over ``folder`` in the test bucket on ``server``, with the server's credentials;
    ``options`` go to ``S3Store`` as they are (``codec``, ``retries``...). The caller closes it."""
    return S3Store(
        BUCKET, folder, endpoint_url=server.endpoint_url, key=server.access_key, secret=server.secret_key, **options
    )


def open_async_s3(server: S3Server, folder: str, **options: Any) -> AsyncS3Store:
    """The ``AsyncS3Store`` (the store the asyncio face runs) over ``folder``, as :func:`open_s3` builds the sync
    one; :func:`open_async` puts the facade on it."""
    from polykv_fsspec.aio import AsyncS3Store

    return AsyncS3Store(
        BUCKET, folder, endpoint_url=server.endpoint_url, key=server.access_key, secret=server.secret_key, **options
    )


def open_async(server: S3Server, folder: str, **options: Any) -> AsyncKeyValueStore:
    """The asyncio face (``polykv.aio.AsyncKeyValueStore`` on the bridge) of :func:`open_async_s3`'s store, as
    ``polykv.aio.connect(s3_url(server, folder))`` opens it; ``async with`` it on the loop that uses it."""
    from polykv.aio import AsyncKeyValueStore, BridgeRunner

    return AsyncKeyValueStore(open_async_s3(server, folder, **options), BridgeRunner())


def start_s3(tmp: Path) -> S3Server:
    """A running S3 server with the test bucket."""
    server = S3Server.start(tmp)
    try:
        make_bucket(server)
    except BaseException:
        server.stop()
        raise
    return server
