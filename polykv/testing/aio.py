"""``AsyncStoreSuite`` and ``AsyncWatchSuite``: the conformance suite, run against a store's async face.

One definition: the cases are ``StoreSuite``'s and ``WatchSuite``'s own. ``AsyncStoreSuite`` hands them a
:class:`BlockingStore`, which turns each call into the coroutine of the same name on the
``AsyncKeyValueStore`` under test, awaited on an event loop in a background thread (:class:`Portal`), and
each listing into an ``async for`` over the async iterator. Every case therefore runs the async face's
coroutines, on a real loop, against the real server; ``AsyncOnlyCases`` adds what only an async face has
(``async for``, ``async with``, many concurrent tasks, cancellation, a loop that keeps ticking).

Subclass it as you subclass ``StoreSuite``, with an ``open_async_store`` fixture that returns a callable
giving an awaitable of a fresh, empty ``AsyncKeyValueStore`` (e.g. ``lambda: polykv.aio.connect(url)``)::

    class TestMyStoreAsync(AsyncStoreSuite):
        @pytest.fixture
        def open_async_store(self):
            return lambda: polykv.aio.connect("mystore://...")
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from .. import ops
from ..aio import AsyncKeyValueStore, watch
from ..aio import connect as aio_connect
from ..capabilities import Capability
from ..changes import Change
from ..codecs import Codec
from ..errors import InvalidArgumentError, InvalidKeyError, KeyNotFoundError
from ..primitives import MISSING
from ..records import bind_record, record_binding
from ..store import KeyValueStore
from .config import _store_url
from .suite import StoreSuite, requires
from .watch import WatchSuite

__all__ = ["AsyncOnlyCases", "AsyncStoreSuite", "AsyncWatchSuite", "BlockingStore", "LoopTicker", "Portal", "portal"]

T = TypeVar("T")
OpenAsyncStore = Callable[[], Awaitable[AsyncKeyValueStore]]


class Portal:
    """An event loop running in a daemon thread; ``run(coroutine)`` awaits it there from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="polykv-test-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """The coroutine's result (or exception), awaited on the portal's loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def iterate(self, items: AsyncIterator[T]) -> Iterator[T]:
        """A synchronous iterator over an async one (closed, with ``aclose``, when this one is)."""
        try:
            while True:
                try:
                    yield self.run(_anext(items))
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                self.run(aclose())

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _anext(items: AsyncIterator[T]) -> T:
    return await items.__anext__()


_portal: Portal | None = None
_portal_lock = threading.Lock()


def portal() -> Portal:
    """The process-wide portal the async suites share (started on first use)."""
    global _portal
    with _portal_lock:
        if _portal is None:
            _portal = Portal()
        return _portal


async def _opened(open_async_store: OpenAsyncStore) -> AsyncKeyValueStore:
    return await open_async_store()


# The public methods of KeyValueStore that BlockingStore hands to the coroutine of the same name, and the
# listing methods it hands to the async iterator of the same name.
_COROUTINES = (
    "get",
    "set",
    "upsert",
    "delete",
    "get_many",
    "set_many",
    "delete_many",
    "add",
    "compare_and_set",
    "incr",
    "ttl",
    "clear",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "exists",
    "count",
    "insert_record",
    "update_record",
    "upsert_record",
    "delete_record",
    "get_record",
    "reload_record",
    "filter_record",
    "list_schemas",
    "drop_schema",
    "save",
    "get_or_set",
)
_ITERATORS = ("keys_by_prefix", "fetch_by_prefix", "iter_records", "record_keys")
# The primitives it runs, through the async face's runner, on the store the face runs (a few cases call
# them directly: a stored value no codec reads, a change-feed head).
_PRIMITIVES = (
    "_get_many",
    "_set_many",
    "_delete_many",
    "_count",
    "_clear",
    "_drop_schema",
    "_replace",
    "_add",
    "_compare_and_set",
    "_incr",
    "_ttl",
    "_change_head",
    "_changes",
    "_delete_if",
    "_expire_if",
    "_indexes_declared",
)
_ITERATOR_PRIMITIVES = ("_scan_items", "_filter")


class BlockingStore(KeyValueStore):
    """A synchronous view of an ``AsyncKeyValueStore`` for the conformance cases (not registered: it
    declares no ``_backend_type``). Every public call awaits the async face's coroutine of the same name."""

    def __init__(self, store: AsyncKeyValueStore, portal: Portal) -> None:
        self.async_store = store
        self.portal = portal
        self.capabilities = store.capabilities  # type: ignore[misc]  # the instance's own declaration

    @property
    def backend_name(self) -> str:
        return self.async_store.backend_name

    @property
    def codec(self) -> Codec:
        """The codec of the store the async face runs (a case that swaps it swaps that one's)."""
        return self.async_store._store.codec

    @codec.setter
    def codec(self, codec: Codec) -> None:
        self.async_store._store.codec = codec

    def __repr__(self) -> str:
        return f"<BlockingStore of {self.async_store!r}>"

    @classmethod
    def accepted_options(cls) -> None:
        """Options are the async face's (``polykv.aio.connect``): none are checked on this view."""
        return None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> BlockingStore:
        """``polykv.aio.connect(url, **options)``, viewed synchronously."""
        shared = portal()
        return cls(shared.run(_opened(lambda: aio_connect(url, **options))), shared)

    def close(self) -> None:
        self.portal.run(self.async_store.aclose())

    # -- the MutableMapping surface, on the async face's coroutines ---------------------------------
    def __getitem__(self, key: str) -> Any:
        value = self.get(key, MISSING)
        if value is MISSING:
            raise KeyNotFoundError("no such key", backend=self.backend_name, key=key)
        return value

    def __delitem__(self, key: str) -> None:
        if not self.delete(key):
            raise KeyNotFoundError("no such key", backend=self.backend_name, key=key)

    def __iter__(self) -> Iterator[str]:
        return self.portal.iterate(self.async_store.keys())

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, key: object) -> bool:
        return self._lookup(key) is not MISSING

    # the primitives without a portable default, on the store the async face runs
    def _get(self, ns: str, key: str) -> bytes | None:
        result: bytes | None = self._primitive("_get", ns, key)
        return result

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self._primitive("_set", ns, key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        result: bool = self._primitive("_delete", ns, key)
        return result

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        inner = self.async_store._store
        return self.portal.iterate(self.async_store.runner.stream(lambda: inner._scan(ns, prefix), 500))

    def _schemas(self) -> Iterator[str]:
        return iter(self._primitive("_schemas_list"))

    def _primitive(self, name: str, *args: Any) -> Any:
        inner = self.async_store._store
        if name == "_schemas_list":
            return self.portal.run(self.async_store.runner.call(lambda: list(inner._schemas())))
        return self.portal.run(self.async_store.runner.call(getattr(inner, name), *args))

    def _lookup(self, key: object) -> Any:
        try:
            return self.get(key, MISSING)  # type: ignore[arg-type]
        except InvalidKeyError:
            return MISSING


def _rebound(view: BlockingStore, found: Any) -> Any:
    """Records the async face loaded or wrote are bound to the store it runs; bind them to the view, so that
    a case's ``record.save()`` (the sync face's convenience) goes through the async face too."""
    inner = view.async_store._store
    for each in found if isinstance(found, (list, tuple)) else (found,):
        binding = record_binding(each)
        if binding is not None and binding.store is inner:
            bind_record(each, view, binding.schema, binding.key)
        elif isinstance(each, tuple) and len(each) == 2 and not isinstance(each[1], (list, tuple)):
            _rebound(view, each[1])
    return found


def _coroutine(name: str) -> Callable[..., Any]:
    def call(self: BlockingStore, *args: Any, **kwargs: Any) -> Any:
        result = self.portal.run(getattr(self.async_store, name)(*args, **kwargs))
        if "record" in name or name == "save":
            _rebound(self, args)
            _rebound(self, result)
        return result

    call.__name__ = name
    return call


def _iterator(name: str) -> Callable[..., Iterator[Any]]:
    def iterate(self: BlockingStore, *args: Any) -> Iterator[Any]:
        items = self.portal.iterate(getattr(self.async_store, name)(*args))
        return (_rebound(self, item) for item in items) if name == "iter_records" else items

    iterate.__name__ = name
    return iterate


def _primitive(name: str) -> Callable[..., Any]:
    def call(self: BlockingStore, *args: Any) -> Any:
        return self._primitive(name, *args)

    call.__name__ = name
    return call


def _iterator_primitive(name: str) -> Callable[..., Iterator[Any]]:
    def iterate(self: BlockingStore, *args: Any) -> Iterator[Any]:
        inner = self.async_store._store
        return self.portal.iterate(self.async_store.runner.stream(lambda: getattr(inner, name)(*args), 500))

    iterate.__name__ = name
    return iterate


for _name in _COROUTINES:
    setattr(BlockingStore, _name, _coroutine(_name))
for _name in _ITERATORS:
    setattr(BlockingStore, _name, _iterator(_name))
for _name in _PRIMITIVES:
    setattr(BlockingStore, _name, _primitive(_name))
for _name in _ITERATOR_PRIMITIVES:
    setattr(BlockingStore, _name, _iterator_primitive(_name))


def _watch_blocking(
    store: BlockingStore, schema: str | None = None, prefix: str | None = None, **options: Any
) -> Iterator[Change]:
    """``polykv.ops.watch`` on the view: ``polykv.aio.watch`` on the async face, opened at once (its first
    step, where a bad cursor or a missing capability raises, is taken in the call, as the sync feed's is)."""
    feed = watch(store.async_store, schema, prefix, **options)
    store.portal.run(feed.open())
    return store.portal.iterate(feed)


_watch_blocking.__name__ = "watch"
ops.implements(BlockingStore)(_watch_blocking)


class LoopTicker:
    """``async with LoopTicker(interval) as ticker:`` a task that sleeps ``interval`` seconds again and again
    while the block runs; ``ticker.gaps`` holds the seconds between its wake-ups (one that the loop could
    not serve on time shows as a long gap; the block's end lets it tick once more, so a block that never
    yielded shows as one gap as long as the block)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.gaps: list[float] = []
        self._running = False
        self._task: asyncio.Future[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while self._running:
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.gaps.append(now - last)
            last = now

    async def __aenter__(self) -> LoopTicker:
        self._running = True
        self._task = asyncio.ensure_future(self._tick())
        await asyncio.sleep(self.interval * 4)  # it is ticking before the block starts
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.sleep(self.interval * 2)
        self._running = False
        assert self._task is not None
        await self._task


class AsyncOnlyCases:
    """What only an async face has; mixed into ``AsyncStoreSuite``."""

    def _run(self, store: BlockingStore, case: Callable[[AsyncKeyValueStore], Coroutine[Any, Any, T]]) -> T:
        return store.portal.run(case(store.async_store))

    def test_async_listing_streams_and_stops_early(self, store: BlockingStore) -> None:
        async def case(s: AsyncKeyValueStore) -> None:
            await s.set_many({f"p/{i:04d}": i for i in range(1200)})
            seen = [key async for key in s.keys_by_prefix("p/")]
            assert sorted(seen) == [f"p/{i:04d}" for i in range(1200)]
            pairs = s.fetch_by_prefix("p/")
            first = [await pairs.__anext__() for _ in range(3)]
            await pairs.aclose()  # type: ignore[attr-defined]
            assert all(value == int(key[2:]) for key, value in first)
            assert await s.count(prefix="p/") == 1200

        self._run(store, case)

    def test_aclose_while_another_task_reads(self, store: BlockingStore) -> None:
        """Closing a listing while another task is inside a read of it neither raises (a running generator
        cannot be closed: "generator already executing") nor breaks the reader: it ends, without error,
        with the items it had; the store serves calls afterwards."""

        async def case(s: AsyncKeyValueStore) -> None:
            await s.set_many({f"p/{i:04d}": i for i in range(1200)})
            pairs = s.fetch_by_prefix("p/")
            first = await pairs.__anext__()

            async def drain() -> list[tuple[str, Any]]:
                return [pair async for pair in pairs]

            reader = asyncio.ensure_future(drain())
            await asyncio.sleep(0)  # one turn of the loop: the reader's next read is in flight now
            await pairs.aclose()  # type: ignore[attr-defined]
            rest = await reader
            assert len(rest) < 1200 and all(value == int(key[2:]) for key, value in [first, *rest])
            assert [pair async for pair in pairs] == []
            assert await s.count(prefix="p/") == 1200

        self._run(store, case)

    def test_many_concurrent_tasks(self, store: BlockingStore) -> None:
        async def case(s: AsyncKeyValueStore) -> None:
            await asyncio.gather(*(s.set(f"t{i}", {"n": i}) for i in range(200)))
            values = await asyncio.gather(*(s.get(f"t{i}") for i in range(200)))
            assert values == [{"n": i} for i in range(200)]
            assert await s.get_many(f"t{i}" for i in range(200)) == {f"t{i}": {"n": i} for i in range(200)}

        self._run(store, case)

    @requires(Capability.ADD)
    def test_concurrent_add_has_one_winner(self, store: BlockingStore) -> None:
        async def case(s: AsyncKeyValueStore) -> None:
            won = await asyncio.gather(*(s.add("race", n) for n in range(30)))
            assert won.count(True) == 1
            assert await s.get("race") == won.index(True)

        self._run(store, case)

    def test_a_store_serves_other_event_loops(self, store: BlockingStore) -> None:
        """A store opened on one loop serves loops made later (``asyncio.run`` in another thread, each closed
        afterwards) while its first loop still runs, then that first loop again: no call fails, none is
        lost. (redis-py's asyncio connections belong to one loop; a store reused across ``asyncio.run``
        calls once raised "Event loop is closed" every other call, its write applied anyway.)"""
        s = store.async_store
        store.portal.run(s.set("loop0", {"n": 0}))

        async def case(n: int) -> None:
            await s.set(f"loop{n}", {"n": n})
            assert await s.get(f"loop{n}") == {"n": n}
            assert await s.get_many([f"loop{n}", "absent"]) == {f"loop{n}": {"n": n}}
            assert sorted([key async for key in s.keys_by_prefix("loop")]) == [f"loop{i}" for i in range(n + 1)]

        for n in range(1, 4):
            asyncio.run(case(n))
        assert store.portal.run(s.get_many([f"loop{n}" for n in range(4)])) == {f"loop{n}": {"n": n} for n in range(4)}
        assert store.portal.run(s.count(prefix="loop")) == 4

    def test_errors_are_the_sync_faces(self, store: BlockingStore) -> None:
        async def case(s: AsyncKeyValueStore) -> None:
            with pytest.raises(InvalidKeyError):
                await s.get("")
            with pytest.raises(KeyNotFoundError):
                await s.pop("absent")

        self._run(store, case)

    def test_cancellation_leaves_the_store_consistent(self, store: BlockingStore) -> None:
        """Tasks cancelled at random points of get/set/get_many: afterwards every key holds a value one of
        its writers wrote, every read returns its own key's value, and the store still serves calls."""
        rng = random.Random(7)

        async def one(s: AsyncKeyValueStore, i: int) -> None:
            key = f"c{i % 40}"
            await s.set(key, {"key": key, "n": i})
            got = await s.get(key)
            assert got is None or got["key"] == key
            many = await s.get_many([f"c{j}" for j in range(i % 40, i % 40 + 5)])
            assert all(value["key"] == k for k, value in many.items())

        async def case(s: AsyncKeyValueStore) -> None:
            tasks = [asyncio.ensure_future(one(s, i)) for i in range(400)]
            for task in tasks:
                if rng.random() < 0.5:
                    asyncio.get_running_loop().call_later(rng.random() * 0.02, task.cancel)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            failures = [
                r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
            ]
            assert not failures, failures[:3]
            for i in range(40):
                value = await s.get(f"c{i}")
                assert value is None or value["key"] == f"c{i}"
            await s.set("after", 1)
            assert await s.get("after") == 1

        self._run(store, case)

    #: Values written and read back by the loop-latency case, in two batches (a store with one file per key
    #: may lower it; a few thousand still take it seconds).
    loop_latency_values = 20_000

    def test_the_loop_keeps_running_during_a_large_batch(self, store: BlockingStore) -> None:
        """A ticker task (every 5 ms) measures the longest gap between its ticks while large ``set_many`` and
        ``get_many`` calls run. A face that ran them on the loop would show a gap as long as the longest call;
        the bound is half of it, and never under 0.25 s (a loaded machine's scheduling noise: 0.13 s seen)."""
        total = self.loop_latency_values

        async def case(s: AsyncKeyValueStore) -> tuple[float, float]:
            calls: list[float] = []
            async with LoopTicker(0.005) as ticker:
                keys = [f"big{i:06d}" for i in range(total)]
                for half in (keys[: total // 2], keys[total // 2 :]):
                    started = time.monotonic()
                    await s.set_many(dict.fromkeys(half, "x" * 100))
                    calls.append(time.monotonic() - started)
                    started = time.monotonic()
                    assert len(await s.get_many(half)) == len(half)
                    calls.append(time.monotonic() - started)
            return max(ticker.gaps), max(calls)

        worst, longest = self._run(store, case)
        assert worst < max(0.25, longest / 2), (
            f"the event loop stalled for {worst:.3f} s while the longest batch call took {longest:.3f} s"
        )


class AsyncStoreSuite(AsyncOnlyCases, StoreSuite):
    """``StoreSuite``'s cases (and ``AsyncOnlyCases``) on a store's async face; subclass it with an
    ``open_async_store`` fixture (see the module docstring)."""

    def test_constructor_refuses_an_unknown_option(self, store: Any, request: pytest.FixtureRequest) -> None:  # type: ignore[override]
        """The async face is built by ``polykv.aio.connect``: an unknown keyword option is refused there."""
        url = _store_url(request)
        with pytest.raises(InvalidArgumentError, match="polykv_no_such_option"):
            store.portal.run(_opened(lambda: aio_connect(url, polykv_no_such_option=1)))

    @pytest.fixture
    def store(self, open_async_store: OpenAsyncStore) -> Iterator[BlockingStore]:
        shared = portal()
        opened = shared.run(_opened(open_async_store))
        view = BlockingStore(opened, shared)
        try:
            yield view
        finally:
            shared.run(opened.aclose())


class AsyncWatchSuite(WatchSuite):
    """``WatchSuite``'s cases on an async face's ``polykv.aio.watch``; subclass it with an
    ``open_watched_async`` fixture: a callable ``make(change_log_size)`` giving an awaitable of a fresh
    async store that keeps a change log of that size."""

    @pytest.fixture
    def watched(
        self, open_watched_async: Callable[[int], Awaitable[AsyncKeyValueStore]]
    ) -> Iterator[Callable[..., BlockingStore]]:
        shared = portal()
        opened: list[AsyncKeyValueStore] = []

        def make(change_log_size: int = 100_000) -> BlockingStore:
            store = shared.run(_awaited(open_watched_async(change_log_size)))
            opened.append(store)
            return BlockingStore(store, shared)

        try:
            yield make
        finally:
            for store in opened:
                shared.run(store.aclose())

    def test_cancelled_quiet_watchers_free_the_store(
        self, open_watched_async: Callable[[int], Awaitable[AsyncKeyValueStore]]
    ) -> None:
        """As many watchers as the store has worker threads (one on a native store) wait on a feed that
        stays quiet, and are cancelled: the store then still writes, and ``aclose()`` returns (a wait in a
        thread that never ended held every worker, and the runner's shutdown with them)."""

        async def main() -> None:
            store = await open_watched_async(1000)
            count = getattr(store.runner, "max_workers", 1)
            feeds = [watch(store, schema="quiet", poll_interval=0.05) for _ in range(count)]
            for feed in feeds:
                await feed.open()
            readers = [asyncio.ensure_future(feed.__anext__()) for feed in feeds]
            deadline = time.monotonic() + 10
            while getattr(store.runner, "busy", count) < count:  # every reader is waiting in its thread
                assert time.monotonic() < deadline, "the readers never started"
                await asyncio.sleep(0.01)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.wait_for(store.set("after", 1), 10)
            assert await store.get("after") == 1
            await asyncio.wait_for(store.aclose(), 10)

        asyncio.run(main())

    def test_aclose_ends_the_feeds_waiting_on_the_store(
        self, open_watched_async: Callable[[int], Awaitable[AsyncKeyValueStore]]
    ) -> None:
        """``aclose()`` while a feed waits for changes: the close returns, and the feed ends (its ``async for``
        finishes) rather than waiting on (a worker thread held the pool's shutdown for ever) or failing with
        the closed connection's error (Redis ``XREAD BLOCK``)."""

        async def main() -> None:
            store = await open_watched_async(1000)
            await store.set("a", 1)
            seen: list[object] = []
            changes = watch(store, schema="", poll_interval=0.05)
            await changes.open()  # the head cursor is taken: the next read waits for a change

            async def follow() -> None:
                async for change in changes:
                    seen.append(change)

            feed = asyncio.ensure_future(follow())
            deadline = time.monotonic() + 10
            while getattr(store.runner, "busy", 1) < 1 and time.monotonic() < deadline:  # waiting in its thread
                await asyncio.sleep(0.01)
            for _ in range(20):  # a native feed: a few loop turns take its read to the server's blocking wait
                await asyncio.sleep(0)
            await asyncio.wait_for(store.aclose(), 10)
            await asyncio.wait_for(feed, 10)  # ended, without an error
            assert seen == []

        asyncio.run(main())


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable
