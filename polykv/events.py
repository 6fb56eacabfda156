"""Store events: who is told when a store is created or written to, and what loads before first use.

A leaf module (it imports nothing from polykv): the store contract and the registration metaclass fire
events here, and higher layers (``polykv.hooks``, or any code of yours) subscribe. Nothing rewrites another
module's globals.

Cost: the lists below are the "anyone listening?" flags. The write path tests ``if write_observers:`` (one
global lookup of a list the store module imported by reference) and calls nothing while it is empty.

Observers are called synchronously, in subscription order, on the thread that did the write; an exception
from an observer propagates to the caller of the write (which has completed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "CreatedObserver",
    "WriteObserver",
    "created_observers",
    "load_plugins",
    "notify_created",
    "notify_write",
    "on_first_use",
    "subscribe_created",
    "subscribe_writes",
    "unsubscribe_created",
    "unsubscribe_writes",
    "write_observers",
]

#: ``(store, op, schema, keys)`` after a public write completed: ``op`` is set/delete/clear/add/
#: compare_and_set/incr/insert/update/drop_schema; ``schema`` None for KV pairs; ``keys`` the keys written.
WriteObserver = Callable[[Any, str, str | None, tuple[str, ...]], None]
#: ``(store)`` once a new store's ``__init__`` has run.
CreatedObserver = Callable[[Any], None]

#: Subscribed write observers; empty (false) while nobody listens. Changed only through subscribe/
#: unsubscribe, in place, never rebound, so ``from polykv.events import write_observers`` stays current.
write_observers: list[WriteObserver] = []
#: Subscribed store-created observers; empty while nobody listens.
created_observers: list[CreatedObserver] = []

_lock = threading.RLock()
_loaders: list[Callable[[], None]] = []
# What notify_* iterate: rebuilt under the lock on every (un)subscribe, so a call never copies a list and
# (un)subscribing while observers run skips no one.
_writes: tuple[WriteObserver, ...] = ()
_created: tuple[CreatedObserver, ...] = ()


def subscribe_writes(observer: WriteObserver) -> None:
    """Call ``observer(store, op, schema, keys)`` after every completed public write (once per observer)."""
    global _writes
    with _lock:
        if observer not in write_observers:
            write_observers.append(observer)
            _writes = tuple(write_observers)


def unsubscribe_writes(observer: WriteObserver) -> None:
    """Stop calling ``observer``; one that is not subscribed is ignored."""
    global _writes
    with _lock:
        if observer in write_observers:
            write_observers.remove(observer)
            _writes = tuple(write_observers)


def subscribe_created(observer: CreatedObserver) -> None:
    """Call ``observer(store)`` for every store created from now on (once per observer)."""
    global _created
    with _lock:
        if observer not in created_observers:
            created_observers.append(observer)
            _created = tuple(created_observers)


def unsubscribe_created(observer: CreatedObserver) -> None:
    """Stop calling ``observer``; one that is not subscribed is ignored."""
    global _created
    with _lock:
        if observer in created_observers:
            created_observers.remove(observer)
            _created = tuple(created_observers)


def notify_write(store: Any, op: str, schema: str | None, keys: tuple[str, ...]) -> None:
    """Tell every write observer; callers test ``if write_observers:`` first, so this runs only when needed."""
    for observer in _writes:
        observer(store, op, schema, keys)


def notify_created(store: Any) -> None:
    """Tell every store-created observer about ``store``."""
    for observer in _created:
        observer(store)


def on_first_use(loader: Callable[[], None]) -> None:
    """Run ``loader()`` once, the first time ``load_plugins`` is called (before the first store is created,
    or when a codec or URL-scheme name is not found). ``polykv`` registers the loading of hook plugins
    declared by entry points here; a loader registered after that first time runs at the next call."""
    with _lock:
        _loaders.append(loader)


def load_plugins() -> bool:
    """Run the loaders not run yet (each once, thread-safe); returns whether any ran. A loader that raises
    is not run again; its error propagates."""
    if not _loaders:
        return False
    with _lock:
        pending = list(_loaders)
        _loaders.clear()
        for loader in pending:
            loader()
    return bool(pending)
