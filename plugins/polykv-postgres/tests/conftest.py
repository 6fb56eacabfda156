"""Session fixture: a real PostgreSQL cluster (initdb into a temporary folder, pg_ctl start on a free
127.0.0.1 port), stopped by its pid at the end. The machine's own PostgreSQL (5432) is never used.

Every store a test gets uses a table no other test uses, so tests never see each other's rows:
``make_store(**options)`` opens one on the session's server and ``table`` (its tables dropped and the store
closed afterwards), ``pg_url`` is the same store's URL. ``own_server`` is a server of the test's own, which
it may kill and restart.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from polykv_postgres.store import PostgresStore
from polykv_postgres.testing import PostgresServer

_tables = itertools.count()


def _running_server() -> Iterator[PostgresServer]:
    """A started cluster, removed (stopped by pid, its folder deleted) when the generator is closed."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The cluster every test shares."""
    yield from _running_server()


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server this test may kill and restart (never the session's shared one)."""
    yield from _running_server()


@pytest.fixture
def table() -> str:
    """A table name no other test uses (unique per process too)."""
    return f"t{os.getpid()}_{next(_tables)}"


@pytest.fixture
def make_store(pg_server: PostgresServer, table: str) -> Iterator[Callable[..., PostgresStore]]:
    """A factory ``make(**options) -> PostgresStore`` on the shared server, user ``postgres``, table ``table``
    (``options`` go to ``PostgresStore`` and may override those). Afterwards each store made drops its
    tables and is closed."""
    stores: list[PostgresStore] = []

    def make(**options: Any) -> PostgresStore:
        options = {"port": pg_server.port, "username": "postgres", "table": table, **options}
        store = PostgresStore(**options)
        stores.append(store)
        return store

    try:
        yield make
    finally:
        for store in stores:
            try:
                store.drop_tables()
            finally:
                store.close()


@pytest.fixture
def pg_url(pg_server: PostgresServer, table: str) -> str:
    """The URL of ``make_store()``'s store: ``postgresql://postgres@127.0.0.1:PORT/postgres?table=TABLE``."""
    return f"postgresql://postgres@127.0.0.1:{pg_server.port}/postgres?table={table}"
