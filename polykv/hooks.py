"""pluggy hooks for what is not a store class: extra codecs, URL-scheme aliases and store events.

Hook plugins are found in the ``polykv.plugins`` entry-point group (checked once, before the first store is
created or when a codec or URL scheme is not found; set ``POLYKV_DISABLE_PLUGIN_AUTOLOAD=1`` to skip it)
or registered by hand::

    from polykv import hooks

    class Audit:
        @hooks.hookimpl
        def polykv_write_done(self, store, op, schema, keys):
            print(op, schema, keys)

    hooks.register(Audit())

pluggy itself is imported only when hooks are first used, so ``import polykv`` stays cheap. Whenever a hook
plugin is registered or unregistered, this module pushes what the plugins provide into the tables below it
(push, not pull): the observers of ``polykv.events`` (subscribed only while a ``polykv_write_done`` or
``polykv_store_created`` implementation is registered, so the write path calls nothing otherwise), the
codec offers of ``polykv.codecs.HOOK_CODECS`` and the URL-scheme aliases of ``polykv.catalog.SCHEME_ALIASES``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import events
from .catalog import SCHEME_ALIASES
from .claims import Claim
from .codecs import HOOK_CODECS

if TYPE_CHECKING:
    import pluggy

    from .codecs import Codec
    from .events import CreatedObserver, WriteObserver
    from .store import KeyValueStore

__all__ = [
    "DISABLE_AUTOLOAD_ENV",
    "PLUGIN_ENTRY_POINT_GROUP",
    "PROJECT_NAME",
    "autoload",
    "find_codec",
    "get_plugin_manager",
    "register",
    "scheme_alias",
    "unregister",
]

PROJECT_NAME = "polykv"
PLUGIN_ENTRY_POINT_GROUP = "polykv.plugins"
DISABLE_AUTOLOAD_ENV = "POLYKV_DISABLE_PLUGIN_AUTOLOAD"

_manager: pluggy.PluginManager | None = None
_lock = threading.RLock()
_autoloaded = False


def __getattr__(name: str) -> Any:
    """``hookimpl``/``hookspec`` markers, created on first access so that pluggy loads only when needed."""
    if name in ("hookimpl", "hookspec"):
        import pluggy

        marker = pluggy.HookimplMarker(PROJECT_NAME) if name == "hookimpl" else pluggy.HookspecMarker(PROJECT_NAME)
        globals()[name] = marker
        return marker
    raise AttributeError(f"module 'polykv.hooks' has no attribute {name!r}")


def _specs() -> type:
    """The hook specifications (built on first use: the markers need pluggy)."""
    import pluggy

    hookspec = pluggy.HookspecMarker(PROJECT_NAME)

    class PolyKVHookSpecs:
        """What a polykv hook plugin may implement."""

        @hookspec
        def polykv_codecs(self) -> dict[str, Callable[[], Codec]]:  # type: ignore[empty-body]
            """Return ``{name: factory}`` of extra codecs for ``codec=name`` (asked for unknown names only)."""

        @hookspec
        def polykv_url_scheme_aliases(self) -> dict[str, str]:  # type: ignore[empty-body]
            """Return ``{alias: scheme}``, e.g. ``{"mem": "memory"}`` (asked for unknown schemes only)."""

        @hookspec
        def polykv_store_created(self, store: KeyValueStore) -> None:
            """A store was created (its ``__init__`` has run)."""

        @hookspec
        def polykv_write_done(self, store: KeyValueStore, op: str, schema: str | None, keys: tuple[str, ...]) -> None:
            """A public write completed: ``op`` is set/delete/clear/add/compare_and_set/incr/insert/update/
            drop_schema; ``schema`` is None for KV pairs; ``keys`` the keys written (the prefix for clear)."""

    return PolyKVHookSpecs


def _offers(pm: pluggy.PluginManager, hook_name: str) -> tuple[dict[str, list[tuple[Claim, Any]]], list[str]]:
    """Every registered plugin's answer to the no-argument hook ``hook_name`` as claims by name (plugins in
    name order), and a message for each plugin whose hook raised (reported when a name it might have
    offered is asked for, so that it breaks no other name)."""
    offers: dict[str, list[tuple[Claim, Any]]] = {}
    failures: list[str] = []
    for impl in sorted(getattr(pm.hook, hook_name).get_hookimpls(), key=lambda i: i.plugin_name):
        try:
            answer = impl.function()
        except Exception as exc:
            failures.append(f"hook plugin {impl.plugin_name!r} raised {type(exc).__name__}: {exc} in {hook_name}()")
            continue
        for name, value in dict(answer or {}).items():
            target = (
                value
                if isinstance(value, str)
                else f"{getattr(value, '__module__', '?')}:" + (getattr(value, "__qualname__", None) or repr(value))
            )
            offers.setdefault(name, []).append((Claim("hook", target, impl.plugin_name), value))
    return offers, failures


def _sync(pm: pluggy.PluginManager, on_write: WriteObserver, on_created: CreatedObserver) -> None:
    """Push what the registered hook plugins provide into the tables and event lists below: the write and
    store-created observers (subscribed only while an implementation is registered, so the write path
    calls nothing otherwise), the offered codecs and the URL-scheme aliases."""
    if pm.hook.polykv_write_done.get_hookimpls():
        events.subscribe_writes(on_write)
    else:
        events.unsubscribe_writes(on_write)
    if pm.hook.polykv_store_created.get_hookimpls():
        events.subscribe_created(on_created)
    else:
        events.unsubscribe_created(on_created)
    HOOK_CODECS.replace(*_offers(pm, "polykv_codecs"))
    SCHEME_ALIASES.replace(*_offers(pm, "polykv_url_scheme_aliases"))


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide pluggy manager with polykv's hook specs and the ``polykv.plugins`` entry points."""
    global _manager
    if _manager is not None:
        return _manager
    with _lock:
        if _manager is None:
            import pluggy

            class _Manager(pluggy.PluginManager):
                """Keeps the event lists and offer tables in step with what is registered."""

                on_write: WriteObserver
                on_created: CreatedObserver

                def register(self, plugin: object, name: str | None = None) -> str | None:
                    registered = super().register(plugin, name)
                    _sync(self, self.on_write, self.on_created)
                    return registered

                def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
                    removed = super().unregister(plugin, name)
                    _sync(self, self.on_write, self.on_created)
                    return removed

            pm = _Manager(PROJECT_NAME)
            pm.add_hookspecs(_specs())
            write_done, created = pm.hook.polykv_write_done, pm.hook.polykv_store_created

            def on_write(s: KeyValueStore, op: str, schema: str | None, keys: tuple[str, ...]) -> None:
                write_done(store=s, op=op, schema=schema, keys=keys)

            def on_created(s: KeyValueStore) -> None:
                created(store=s)

            pm.on_write, pm.on_created = on_write, on_created
            if not os.environ.get(DISABLE_AUTOLOAD_ENV):
                pm.load_setuptools_entrypoints(PLUGIN_ENTRY_POINT_GROUP)
            _sync(pm, pm.on_write, pm.on_created)
            _manager = pm
    return _manager


def autoload() -> None:
    """Load the ``polykv.plugins`` entry points once, if any distribution declares one (pluggy is not
    imported otherwise). ``polykv`` registers it with ``polykv.events.on_first_use``: it runs before the
    first store is created, or when a codec or URL scheme is not found, whichever comes first."""
    global _autoloaded
    if _autoloaded:
        return
    _autoloaded = True
    if os.environ.get(DISABLE_AUTOLOAD_ENV) or _manager is not None:
        return
    from importlib.metadata import entry_points

    if entry_points(group=PLUGIN_ENTRY_POINT_GROUP):
        get_plugin_manager()


def register(plugin: object, name: str | None = None) -> str | None:
    """Register a hook plugin (an object or module with ``@hookimpl`` functions); returns its name."""
    return get_plugin_manager().register(plugin, name)


def unregister(plugin: object) -> None:
    """Remove a hook plugin registered earlier."""
    get_plugin_manager().unregister(plugin)


def find_codec(name: str) -> Callable[[], Codec] | None:
    """The factory a hook plugin offers for codec ``name``, or None; two plugins offering different
    factories for one name raise ``PluginConflictError`` (the one conflict rule, ``polykv.claims``)."""
    get_plugin_manager()
    factory: Callable[[], Codec] | None = HOOK_CODECS.resolve(name)
    return factory


def scheme_alias(scheme: str) -> str | None:
    """The scheme that hook plugins map the alias ``scheme`` to, or None; two plugins mapping it to different
    schemes raise ``PluginConflictError``."""
    get_plugin_manager()
    target: str | None = SCHEME_ALIASES.resolve(scheme)
    return target
