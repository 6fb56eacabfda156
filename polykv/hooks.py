"""pluggy hooks for what is not a store class: extra codecs, URL-scheme aliases and store events.

Hook plugins are found in the ``polykv.plugins`` entry-point group (checked once, when the first store is
created; set ``POLYKV_DISABLE_PLUGIN_AUTOLOAD=1`` to skip it) or registered by hand::

    from polykv import hooks

    class Audit:
        @hooks.hookimpl
        def polykv_write_done(self, store, op, schema, keys):
            print(op, schema, keys)

    hooks.register(Audit())

pluggy itself is imported only when hooks are first used, so ``import polykv`` stays cheap; while no
``polykv_write_done`` implementation is registered the write path calls nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from .codecs import Codec
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


def _sync(pm: pluggy.PluginManager) -> None:
    """Point the store and registry seams at the event hooks while they have implementations, else None."""
    from importlib import import_module

    # import_module, not "from . import registry": polykv.registry is the default BackendRegistry attribute
    registry = import_module("polykv.registry")
    store = import_module("polykv.store")
    write_done = pm.hook.polykv_write_done
    created = pm.hook.polykv_store_created

    def on_write(s: KeyValueStore, op: str, schema: str | None, keys: tuple[str, ...]) -> None:
        write_done(store=s, op=op, schema=schema, keys=keys)

    def on_created(s: KeyValueStore) -> None:
        created(store=s)

    setattr(store, "_write_observer", on_write if write_done.get_hookimpls() else None)  # noqa: B010
    setattr(registry, "_store_created_observer", on_created if created.get_hookimpls() else None)  # noqa: B010


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide pluggy manager with polykv's hook specs and the ``polykv.plugins`` entry points."""
    global _manager
    if _manager is not None:
        return _manager
    with _lock:
        if _manager is None:
            import pluggy

            class _Manager(pluggy.PluginManager):
                """Keeps the write-path seams in step with what is registered."""

                def register(self, plugin: object, name: str | None = None) -> str | None:
                    registered = super().register(plugin, name)
                    _sync(self)
                    return registered

                def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
                    removed = super().unregister(plugin, name)
                    _sync(self)
                    return removed

            pm = _Manager(PROJECT_NAME)
            pm.add_hookspecs(_specs())
            if not os.environ.get(DISABLE_AUTOLOAD_ENV):
                pm.load_setuptools_entrypoints(PLUGIN_ENTRY_POINT_GROUP)
            _sync(pm)
            _manager = pm
    return _manager


def autoload() -> None:
    """Load the ``polykv.plugins`` entry points once, if any distribution declares one (pluggy is not
    imported otherwise). Called when the first store is created."""
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


def _hook_claims(results: list[tuple[object, dict[str, Any]]], name: str) -> list[Any]:
    """Claims on ``name`` from hook implementations' answers ``(plugin, {name: value})``."""
    from .registry import Claim

    claims = []
    for plugin, offered in results:
        if name in offered:
            value = offered[name]
            target = (
                value
                if isinstance(value, str)
                else f"{getattr(value, '__module__', '?')}:" + (getattr(value, "__qualname__", None) or repr(value))
            )
            claims.append((Claim("hook", target, get_plugin_manager().get_name(plugin)), value))
    return claims


def _answers(hook_name: str) -> list[tuple[object, dict[str, Any]]]:
    """Each registered plugin's answer to a no-argument hook, in a stable order (by plugin name)."""
    pm = get_plugin_manager()
    answers = []
    for impl in sorted(getattr(pm.hook, hook_name).get_hookimpls(), key=lambda i: i.plugin_name):
        answer = impl.function()
        if answer:
            answers.append((impl.plugin, dict(answer)))
    return answers


def _resolve(kind: str, hook_name: str, name: str, how: str) -> Any:
    from .registry import resolve_claims

    claims = _hook_claims(_answers(hook_name), name)
    chosen = resolve_claims(kind, name, [c for c, _ in claims], how_to_choose=how)
    if chosen is None:
        return None
    return next(value for claim, value in claims if claim == chosen)


def find_codec(name: str) -> Callable[[], Codec] | None:
    """The factory a hook plugin offers for codec ``name``, or None; two plugins offering different
    factories for one name raise ``PluginConflictError`` (the one conflict rule, ``registry.resolve_claims``)."""
    factory: Callable[[], Codec] | None = _resolve(
        "codec", "polykv_codecs", name, how="register the one you want with polykv.register_codec(name, factory)"
    )
    return factory


def scheme_alias(scheme: str) -> str | None:
    """The scheme that hook plugins map the alias ``scheme`` to, or None; two plugins mapping it to different
    schemes raise ``PluginConflictError``."""
    target: str | None = _resolve(
        "URL scheme alias", "polykv_url_scheme_aliases", scheme, how="write the scheme it stands for in the URL"
    )
    return target
