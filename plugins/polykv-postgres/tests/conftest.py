"""Session fixture: a real PostgreSQL cluster (initdb into a temporary folder, pg_ctl start on a free
127.0.0.1 port), stopped by its pid at the end. The machine's own PostgreSQL (5432) is never used.

Every store a test gets uses a table no other test uses, so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from polykv_postgres.testing import PostgresServer

_tables = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def table() -> str:
    """A table name no other test uses (unique per process too)."""
    return f"t{os.getpid()}_{next(_tables)}"
