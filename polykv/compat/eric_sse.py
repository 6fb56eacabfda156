"""eric_sse's ``KvStorage`` on polykv: where it is served.

Every polykv store already has the ``KvStorage`` surface: ``upsert(key, value)`` and
``fetch_by_prefix(prefix)`` (which yields ``(key, value)`` pairs, where eric_sse's yields values). The adapter
that makes a polykv store an ``eric_sse`` ``KvStorage`` subclass belongs to ``polykv.integrations.eric_sse``,
which another issue builds; it does not exist yet in this release, so this module only points there.
"""

from __future__ import annotations

__all__ = ["ADAPTER_MODULE"]

#: Where the ``KvStorage`` adapter lives once it exists.
ADAPTER_MODULE = "polykv.integrations.eric_sse"
