"""Store registration: ``StoreMeta`` (on metaclass-registry) and ``STORE_CLASSES``.

A concrete store class registers itself under the ``_backend_type`` written in its own class body when it
is defined. Creating a store checks its options first and fires the store-created event afterwards
(``polykv.events``). This module sits below the store contract (``polykv.store`` uses the metaclass) and
imports nothing above it; ``polykv.backend_registry`` builds the lazy ``BackendRegistry`` on top.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from metaclass_registry import AutoRegisterMeta, DuplicateRegistryKeyError, RegistryConfig

from .errors import InvalidArgumentError, PolyKVError, RegistrationError
from .events import created_observers, load_plugins, notify_created
from .options import check_options, is_secret_option, secret_options

if TYPE_CHECKING:
    from .store import KeyValueStore

__all__ = ["BACKEND_TYPE_PATTERN", "STORE_CLASSES", "StoreMeta", "store_registry_config"]

#: Every registered store class by backend type, filled in as classes are defined.
STORE_CLASSES: dict[str, type[KeyValueStore]] = {}

#: What a backend name may look like: 1-64 lowercase letters, digits and ``_``, starting with a letter.
BACKEND_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")

store_registry_config = RegistryConfig(
    registry_dict=STORE_CLASSES,
    key_attribute="_backend_type",
    skip_if_no_key=True,
    registry_name="polykv store",
    log_registration=False,
)


class StoreMeta(AutoRegisterMeta):
    """Registers a concrete store class under the ``_backend_type`` declared in its own class body.

    A subclass that declares no ``_backend_type`` of its own (a tweak of a registered store) is not
    registered and does not clash with its parent; abstract classes are never registered.
    """

    def __new__(
        mcs: type[StoreMeta],
        name: str,
        bases: tuple[type, ...],
        attrs: dict[str, Any],
        **kwargs: Any,
    ) -> StoreMeta:
        declared = attrs.get("_backend_type")
        if declared is not None:
            qualname = f"{attrs.get('__module__', '?')}.{attrs.get('__qualname__', name)}"
            if not isinstance(declared, str):
                raise RegistrationError(
                    f"{qualname}._backend_type must be a str, got {type(declared).__name__} {declared!r}"
                )
            if BACKEND_TYPE_PATTERN.fullmatch(declared) is None:
                raise RegistrationError(
                    f"{qualname}._backend_type = {declared!r} is not a valid backend name: use 1-64 "
                    "lowercase letters, digits and '_', starting with a letter (e.g. 'redis_cluster')"
                )
        try:
            cls: StoreMeta = super().__new__(mcs, name, bases, attrs, **kwargs)
            return cls
        except DuplicateRegistryKeyError as exc:
            raise RegistrationError(str(exc), backend=declared) from None

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        """Create the store, then tell the store-created observers (if any are subscribed).

        Before the first store of the process is created, the loaders registered with
        ``polykv.events.on_first_use`` run once (hook plugins declared by entry points load there, so that
        their codecs and observers are in place for that first store).

        Configuration faults surface here, as polykv errors: an option the class does not accept raises
        ``InvalidArgumentError`` listing the accepted ones (``polykv.options.check_options``), and a bare
        ``TypeError``/``ValueError`` from the constructor (a malformed value) becomes ``InvalidArgumentError``
        (secret option values are masked in its message)."""
        load_plugins()
        if kwargs:
            check_options(cls, kwargs)
        try:
            store = super().__call__(*args, **kwargs)
        except PolyKVError:
            raise
        except (TypeError, ValueError) as exc:
            text = str(exc)
            declared = secret_options(cls)
            for name, value in kwargs.items():
                if isinstance(value, str) and value and is_secret_option(name, declared):
                    text = text.replace(value, "***")
            backend = vars(cls).get("_backend_type") or getattr(cls, "_backend_type", None) or cls.__name__
            raise InvalidArgumentError(
                f"cannot create the {backend!r} store ({cls.__name__}): {type(exc).__name__}: {text}",
                backend=backend,
            ) from None
        if created_observers:
            notify_created(store)
        return store

    @staticmethod
    def _get_registration_key(name: str, cls: type, config: RegistryConfig) -> str | None:
        """Only a key written in the class's own body registers it: an inherited key does not."""
        key = vars(cls).get(config.key_attribute)
        return key if isinstance(key, str) else None
