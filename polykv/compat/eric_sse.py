"""eric_sse's ``KvStorage`` on polykv: where it is served.

Every polykv store already has the ``KvStorage`` surface: ``upsert(key, value)`` and
``fetch_by_prefix(prefix)`` (which yields ``(key, value)`` pairs, where eric_sse's yields values). The adapter
that makes a polykv store a real eric_sse ``KvStorage`` (values from ``fetch_by_prefix``, plus ``fetch_all``,
``fetch_one`` and ``delete``) is ``polykv.integrations.eric_sse.KvStorageAdapter``. This module names it
(``ADAPTER_MODULE``) and hands it out as ``KvStorageAdapter`` on first use: importing this module does not
import eric_sse; reading ``KvStorageAdapter`` does (``MissingDependencyError`` when it is not installed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..integrations.eric_sse import KvStorageAdapter

__all__ = ["ADAPTER_MODULE", "KvStorageAdapter"]

#: Where the ``KvStorage`` adapter lives.
ADAPTER_MODULE = "polykv.integrations.eric_sse"


def __getattr__(name: str) -> Any:
    if name == "KvStorageAdapter":
        from ..integrations.eric_sse import KvStorageAdapter

        return KvStorageAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
