"""Store wrappers: ``PrefixStore``, ``ReadOnlyStore``, ``CachedStore`` and ``FallbackStore``.

Each wrapper is itself a ``KeyValueStore`` (and passes the conformance suite): it implements the byte-level
primitives by calling the wrapped store's primitives, so the whole contract, records included, works
through it. A wrapper has no codec of its own: ``wrapper.codec`` *is* the wrapped store's codec, so bytes
pass through unchanged and a value written through a wrapper reads back equal from the wrapped store.

Wrappers are not registered backends (they declare no ``_backend_type``). They stack in code
(``ReadOnlyStore(PrefixStore(store, "tenant1/"))``) or from a URL given to ``polykv.connect``:
``"readonly+prefix:tenant1/+sqlite:///data.db"`` (see ``connect_stacked``).

One module per wrapper family: ``base`` (``StoreWrapper``), ``prefix``, ``readonly``, ``cached``,
``fallback``, and ``stacking`` (the URL syntax). Every public name is importable from this package.
"""

from __future__ import annotations

from .base import StoreWrapper
from .cached import CachedStore
from .fallback import FallbackStore
from .prefix import PrefixStore
from .readonly import ReadOnlyStore
from .stacking import WRAPPER_NAMES, connect_stacked, is_stacked_url

__all__ = [
    "WRAPPER_NAMES",
    "CachedStore",
    "FallbackStore",
    "PrefixStore",
    "ReadOnlyStore",
    "StoreWrapper",
    "connect_stacked",
    "is_stacked_url",
]
