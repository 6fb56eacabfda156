"""``polykv.aio.connect(url, **options)``: open the async face of a store URL, wrapper stacks included."""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import Any

from ..store import KeyValueStore
from ..urls import DEFAULT_URL, open_url
from .faces import face_class, runner_for
from .runners import ThreadRunner, check_max_workers
from .store import AsyncKeyValueStore

__all__ = ["Connecting", "connect"]


def _open(url: str, options: dict[str, Any], natives: list[bool]) -> KeyValueStore:
    """Build the stack for ``url`` with each store's async face class; ``natives`` records, per store
    opened, whether it awaits natively (runs in a worker thread, so a blocking constructor blocks no loop)."""

    def open_class(cls: type[KeyValueStore], inner_url: str, inner_options: dict[str, Any]) -> KeyValueStore:
        native = face_class(cls)
        natives.append(native is not cls)
        store: KeyValueStore = native.from_url(inner_url, **inner_options)
        return store

    return open_url(url, options, open_class)


async def _connect(url: str | None, options: dict[str, Any]) -> AsyncKeyValueStore:
    if url is None:
        import os

        url = os.environ.get("POLYKV_URL") or DEFAULT_URL
    max_workers = options.pop("max_workers", None)
    if max_workers is not None:
        check_max_workers(max_workers)  # before anything is built
    natives: list[bool] = []
    builder = ThreadRunner(1)
    try:
        store = await builder.call(_open, url, options, natives)
    finally:
        await builder.aclose()
    return AsyncKeyValueStore(store, runner_for(natives, max_workers))


class Connecting(Coroutine[Any, Any, AsyncKeyValueStore]):
    """What ``connect`` returns: await it for the store, ``async with`` it to close the store after, or hand
    it to ``asyncio.run`` (it is a coroutine) to open a store that later loops use."""

    def __init__(self, url: str | None, options: dict[str, Any]) -> None:
        self._url = url
        self._options = options
        self._store: AsyncKeyValueStore | None = None
        self._running: Coroutine[Any, Any, AsyncKeyValueStore] | None = None

    def __await__(self) -> Generator[Any, None, AsyncKeyValueStore]:
        return _connect(self._url, dict(self._options)).__await__()

    # -- the coroutine protocol, for asyncio.run(connect(url)) and create_task(connect(url)) --------------
    def _coroutine(self) -> Coroutine[Any, Any, AsyncKeyValueStore]:
        if self._running is None:
            self._running = _connect(self._url, dict(self._options))
        return self._running

    def send(self, value: Any) -> Any:
        return self._coroutine().send(value)

    def throw(self, typ: Any, val: Any = None, tb: TracebackType | None = None) -> Any:
        if val is None and tb is None:
            return self._coroutine().throw(typ)
        return self._coroutine().throw(typ, val, tb)

    def close(self) -> None:
        if self._running is not None:
            self._running.close()

    async def __aenter__(self) -> AsyncKeyValueStore:
        self._store = await _connect(self._url, dict(self._options))
        return self._store

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._store is not None:
            await self._store.aclose()


def connect(url: str | None = None, **options: Any) -> Connecting:
    """Open a new async store for ``url``, as ``polykv.connect`` does (same schemes, options, wrapper
    stacks, ``$POLYKV_URL`` default): ``store = await polykv.aio.connect(url)``,
    ``async with polykv.aio.connect(url) as store``, or outside any loop
    ``store = asyncio.run(polykv.aio.connect(url))`` (each event loop that then uses the store gets its own
    connections). ``max_workers`` sets the thread pool of a store whose I/O blocks (default
    ``polykv.aio.runners.DEFAULT_MAX_WORKERS``). The store is built in a worker thread, so a constructor
    that opens a file does not stall the loop."""
    return Connecting(url, options)
