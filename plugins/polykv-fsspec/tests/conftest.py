"""Session fixtures: a real S3 server (SeaweedFS) and a real HDFS (NameNode + DataNode) on 127.0.0.1.

``scripts/s3_fixtures.py`` (importable once this conftest put ``scripts`` on ``sys.path``) names and opens
folders of the test bucket: ``s3_url``, ``open_s3``, ``BUCKET``. The tests folder is no package, so its
conftest cannot clash with another ``tests/conftest.py`` under pytest's importlib import mode.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from hdfs_server import HDFSServer  # noqa: E402
from s3_fixtures import start_s3  # noqa: E402
from s3_server import S3Server  # noqa: E402


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
