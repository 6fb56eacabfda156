"""From a store class of the synchronous registry to its async face: the class that runs, and the runner.

A backend's one declaration (its store class) gives both faces: ``async_face = "module:Class"`` in the
class's own body names a subclass whose I/O awaits natively (run through the bridge); without it, the class
itself runs in a ``ThreadRunner``. A subclass that does not repeat the declaration runs in threads, since
the named native class is not a subclass of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backend_registry import load_target
from ..errors import PluginLoadError
from ..store import KeyValueStore
from .runners import BridgeRunner, Runner, ThreadRunner
from .store import AsyncKeyValueStore

__all__ = ["face_class", "runner_for", "wrap"]


def face_class(cls: type[KeyValueStore]) -> type[KeyValueStore]:
    """The class that serves ``cls`` under ``polykv.aio``: its native async subclass, or ``cls`` itself.
    ``PluginLoadError`` if the declared subclass cannot be imported or is not a subclass of ``cls``."""
    target = vars(cls).get("async_face")
    if not target:
        return cls
    try:
        native = load_target(target)
    except Exception as exc:
        raise PluginLoadError(
            f"cannot load the async face {target!r} of {cls.__qualname__}: {type(exc).__name__}: {exc}",
            backend=cls._backend_type,
        ) from exc
    if not (isinstance(native, type) and issubclass(native, cls)):
        raise PluginLoadError(
            f"{cls.__qualname__}.async_face = {target!r} is not a subclass of {cls.__qualname__}",
            backend=cls._backend_type,
        )
    return native


_BRIDGE = BridgeRunner()


def runner_for(natives: list[bool], max_workers: int | None = None) -> Runner:
    """A bridge when every store in a stack is native, else a pool of ``max_workers`` threads (natives
    inside it await on the loop from their thread)."""
    if natives and all(natives):
        return _BRIDGE
    return ThreadRunner() if max_workers is None else ThreadRunner(max_workers)


def wrap(wrapper: Callable[..., KeyValueStore], /, *args: Any, **kwargs: Any) -> AsyncKeyValueStore:
    """Apply a synchronous wrapper (``polykv.wrappers.PrefixStore``, ``CachedStore``...) to async stores:
    every ``AsyncKeyValueStore`` among the arguments is replaced by the store it runs, and the result runs
    on the bridge if they all do, else in a thread pool of the first threaded one."""
    runners: list[Runner] = []

    def unwrap(value: Any) -> Any:
        if isinstance(value, AsyncKeyValueStore):
            runners.append(value.runner)
            return value._store
        return value

    inner_args = [unwrap(arg) for arg in args]
    inner_kwargs = {name: unwrap(value) for name, value in kwargs.items()}
    if not runners:
        raise TypeError(f"polykv.aio.wrap({getattr(wrapper, '__name__', wrapper)!r}, ...) got no async store")
    threaded = [runner for runner in runners if runner.kind != "bridge"]
    return AsyncKeyValueStore(wrapper(*inner_args, **inner_kwargs), threaded[0] if threaded else _BRIDGE)
