"""polykv-postgres: a PostgreSQL store (``postgres``) for polykv, on psycopg 3 and psycopg_pool.

Installing the distribution is enough: ``polykv.registry["postgres"]`` and
``polykv.connect("postgresql://...")`` find the store through entry points. Names load on first use, so
importing this package imports no client library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0.dev0"

if TYPE_CHECKING:
    from .connector import PostgresConnector as PostgresConnector
    from .connector import PostgresPoolConnector as PostgresPoolConnector
    from .store import PostgresStore as PostgresStore

_EXPORTS = {
    "PostgresStore": "store",
    "PostgresConnector": "connector",
    "PostgresPoolConnector": "connector",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'polykv_postgres' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
