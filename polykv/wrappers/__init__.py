"""Store wrappers: ``PrefixStore``, ``ReadOnlyStore``, ``CachedStore``, ``FallbackStore``, ``CompressedStore``,
``EncryptedStore``, ``InstrumentedStore`` and ``TTLStore``.

Each wrapper is itself a ``KeyValueStore`` (and passes the conformance suite): it implements the byte-level
primitives by calling the wrapped store's primitives, so the whole contract, records included, works
through it. A wrapper has no codec of its own: ``wrapper.codec`` *is* the wrapped store's codec, so bytes
pass through unchanged and a value written through a wrapper reads back equal from the wrapped store.

Wrappers are not registered backends (they declare no ``_backend_type``). They stack in code
(``ReadOnlyStore(PrefixStore(store, "tenant1/"))``) or from a URL given to ``polykv.connect``:
``"readonly+prefix:tenant1/+sqlite:///data.db"`` (see ``connect_stacked``).

The wrappers that transform values (``CompressedStore``, ``EncryptedStore``) work at the codec level
instead: they install a codec over the wrapped store's own (``coded``), so the bytes the backend stores
are compressed or encrypted and every primitive that decodes inside the backend (compare-and-set, incr,
filters) sees them consistently.

One module per wrapper family: ``base`` (``StoreWrapper``), ``prefix``, ``readonly``, ``cached``,
``fallback``, ``coded`` (the codec-level base), ``compressed``, ``encrypted``, ``instrumented`` (with
``telemetry``, its OpenTelemetry side, imported only when used), ``ttl``, and ``stacking`` (the URL
syntax). Every public name is importable from this package; the optional packages (zstandard,
cryptography, opentelemetry) are imported only when a wrapper uses them.
"""

from __future__ import annotations

from .base import StoreWrapper
from .cached import CachedStore
from .coded import CodecWrapperStore
from .compressed import CompressedCodec, CompressedStore
from .encrypted import EncryptedCodec, EncryptedStore, generate_key
from .fallback import FallbackStore
from .instrumented import InstrumentedStore, OperationStats
from .prefix import PrefixStore
from .readonly import ReadOnlyStore
from .stacking import WRAPPER_NAMES, connect_stacked, is_stacked_url
from .ttl import TTLStore

__all__ = [
    "WRAPPER_NAMES",
    "CachedStore",
    "CodecWrapperStore",
    "CompressedCodec",
    "CompressedStore",
    "EncryptedCodec",
    "EncryptedStore",
    "FallbackStore",
    "InstrumentedStore",
    "OperationStats",
    "PrefixStore",
    "ReadOnlyStore",
    "StoreWrapper",
    "TTLStore",
    "connect_stacked",
    "generate_key",
    "is_stacked_url",
]
