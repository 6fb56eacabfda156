"""Session fixtures: a real S3 server (SeaweedFS) and a real HDFS (NameNode + DataNode) on 127.0.0.1.

``s3_url`` and ``open_s3`` name and open a folder of the test bucket with a server's credentials.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polykv_fsspec import S3Store

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from hdfs_server import HDFSServer  # noqa: E402
from s3_server import S3Server  # noqa: E402

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


def start_s3(tmp: Path) -> S3Server:
    """A running S3 server with the test bucket."""
    server = S3Server.start(tmp)
    try:
        make_bucket(server)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hdfs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HDFSServer]:
    server = HDFSServer.start(tmp_path_factory.mktemp("hdfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def unique() -> str:
    """A fresh folder name, so every test starts with an empty store."""
    return "t" + uuid.uuid4().hex[:12]
