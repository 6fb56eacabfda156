"""polykv: one Python API for key-value and record storage over pluggable backends.

The public API is re-exported here and loaded on first use, so ``import polykv`` stays cheap and imports
no plugin and no client library.
"""

from __future__ import annotations

import threading
from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import events as _events

__version__ = "1.0.0.dev0"

if TYPE_CHECKING:
    from .backend_registry import BackendRegistry
    from .caching import memoize
    from .capabilities import Capability
    from .codecs import Codec, get_codec, register_codec
    from .connectors import BackendConnectorBase, ConnectionMode, ConnectorManagerFactory
    from .errors import (
        AccessDeniedError,
        AuthenticationFailedError,
        BackendBusyError,
        BackendError,
        BackendNotFoundError,
        BackendUnavailableError,
        FilterError,
        InvalidArgumentError,
        InvalidKeyError,
        InvalidURLError,
        KeyNotFoundError,
        LockNotOwnedError,
        LockTimeoutError,
        NotSupportedError,
        PluginLoadError,
        PolyKVError,
        PoolTimeoutError,
        ReadOnlyError,
        RecordError,
        RecordExistsError,
        RecordNotFoundError,
        RegistrationError,
        SerializationError,
        StorageError,
        WrongTypeError,
    )
    from .locks import Lock
    from .manager import StoreManager
    from .records import BackendIntegrationMixin, Record
    from .registration import StoreMeta
    from .store import INCR_MAX, INCR_MIN, MAX_TTL, KeyValueStore
    from .urls import connect
    from .wrappers import CachedStore, FallbackStore, PrefixStore, ReadOnlyStore

    open_store = connect
    registry: BackendRegistry

_EXPORTS: dict[str, str] = {
    "Capability": "capabilities",
    "Codec": "codecs",
    "get_codec": "codecs",
    "register_codec": "codecs",
    "AccessDeniedError": "errors",
    "AuthenticationFailedError": "errors",
    "BackendBusyError": "errors",
    "BackendError": "errors",
    "StorageError": "errors",
    "WrongTypeError": "errors",
    "BackendNotFoundError": "errors",
    "BackendUnavailableError": "errors",
    "FilterError": "errors",
    "InvalidArgumentError": "errors",
    "InvalidKeyError": "errors",
    "InvalidURLError": "errors",
    "KeyNotFoundError": "errors",
    "LockNotOwnedError": "errors",
    "LockTimeoutError": "errors",
    "Lock": "locks",
    "memoize": "caching",
    "NotSupportedError": "errors",
    "PluginLoadError": "errors",
    "PolyKVError": "errors",
    "PoolTimeoutError": "errors",
    "ReadOnlyError": "errors",
    "RecordError": "errors",
    "RecordExistsError": "errors",
    "RecordNotFoundError": "errors",
    "RegistrationError": "errors",
    "SerializationError": "errors",
    "BackendIntegrationMixin": "records",
    "Record": "records",
    "BackendRegistry": "backend_registry",
    "StoreMeta": "registration",
    "KeyValueStore": "store",
    "MAX_TTL": "store",
    "INCR_MIN": "store",
    "INCR_MAX": "store",
    "connect": "urls",
    "BackendConnectorBase": "connectors",
    "ConnectionMode": "connectors",
    "ConnectorManagerFactory": "connectors",
    "StoreManager": "manager",
    "CachedStore": "wrappers",
    "FallbackStore": "wrappers",
    "PrefixStore": "wrappers",
    "ReadOnlyStore": "wrappers",
}

__all__ = [
    "INCR_MAX",
    "INCR_MIN",
    "MAX_TTL",
    "AccessDeniedError",
    "AuthenticationFailedError",
    "BackendBusyError",
    "BackendConnectorBase",
    "BackendError",
    "BackendIntegrationMixin",
    "BackendNotFoundError",
    "BackendRegistry",
    "BackendUnavailableError",
    "CachedStore",
    "Capability",
    "Codec",
    "ConnectionMode",
    "ConnectorManagerFactory",
    "FallbackStore",
    "FilterError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidURLError",
    "KeyNotFoundError",
    "KeyValueStore",
    "Lock",
    "LockNotOwnedError",
    "LockTimeoutError",
    "NotSupportedError",
    "PluginLoadError",
    "PolyKVError",
    "PoolTimeoutError",
    "PrefixStore",
    "ReadOnlyError",
    "ReadOnlyStore",
    "Record",
    "RecordError",
    "RecordExistsError",
    "RecordNotFoundError",
    "RegistrationError",
    "SerializationError",
    "StorageError",
    "StoreManager",
    "StoreMeta",
    "WrongTypeError",
    "connect",
    "default_registry",
    "get_codec",
    "memoize",
    "open_store",
    "register_codec",
    "registry",
]

_default_registry: Any = None
_default_registry_lock = threading.Lock()


def default_registry() -> BackendRegistry:
    """The process-wide registry behind ``polykv.registry``, created on first use."""
    global _default_registry
    if _default_registry is None:
        with _default_registry_lock:
            if _default_registry is None:
                from .backend_registry import BackendRegistry

                _default_registry = BackendRegistry()
    registry: BackendRegistry = _default_registry
    return registry


def __getattr__(name: str) -> Any:
    """Load a public name on first access (PEP 562); ``registry`` is the default ``BackendRegistry``."""
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    if name == "registry":
        registry = default_registry()
        globals()["registry"] = registry
        return registry
    if name == "open_store":
        return __getattr__("connect")
    raise AttributeError(f"module 'polykv' has no attribute {name!r}")


def _load_hook_plugins() -> None:
    """Load the hook plugins declared in the ``polykv.plugins`` entry-point group (once, on first use)."""
    from .hooks import autoload

    autoload()


_events.on_first_use(_load_hook_plugins)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
