"""The async face's own machinery: what importing it costs, the bridge, runners, registry, connect, wrappers,
copy, locks and leases."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

import polykv
import polykv.aio
from polykv.aio import bridge
from polykv.errors import InvalidArgumentError, ReadOnlyError


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def test_import_polykv_imports_no_asyncio_machinery() -> None:
    loaded = _modules_after("import polykv\nstore = polykv.connect('memory://')\nstore.set('a', 1)")
    for name in ("asyncio", "greenlet", "polykv.aio", "redis.asyncio", "s3fs", "aiohttp", "aiobotocore"):
        assert name not in loaded, f"import polykv imported {name}"


def test_import_polykv_aio_imports_no_plugin() -> None:
    loaded = _modules_after("import polykv.aio\npolykv.aio.registry.keys()")
    plugins = sorted(m for m in loaded if m.split(".")[0] in {"polykv_redis", "polykv_fsspec", "polykv_postgres"})
    clients = sorted(m for m in loaded if m.split(".")[0] in {"redis", "s3fs", "fsspec", "psycopg", "aiohttp"})
    assert plugins == [] and clients == []


def test_await_outside_a_bridged_call_is_a_clear_error() -> None:
    async def nothing() -> None:
        return None

    with pytest.raises(RuntimeError, match="outside a bridged call"):
        bridge.await_(nothing())


def test_bridge_returns_raises_and_cancels_into_the_sync_code() -> None:
    log: list[str] = []

    def step(x: int) -> int:
        return bridge.await_(asyncio.sleep(0, x)) + 1

    def fails() -> None:
        bridge.await_(asyncio.sleep(0))
        raise ValueError("inside")

    def waits() -> None:
        try:
            bridge.await_(asyncio.sleep(30))
        finally:
            log.append("finally ran")

    async def main() -> None:
        assert await asyncio.gather(*(bridge.run(step, i) for i in range(50))) == list(range(1, 51))
        with pytest.raises(ValueError, match="inside"):
            await bridge.run(fails)
        task = asyncio.ensure_future(bridge.run(waits))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await bridge.run(step, 1) == 2  # workers are reused after a cancellation

    asyncio.run(main())
    assert log == ["finally ran"]


def test_a_native_store_under_a_threaded_wrapper_awaits_from_its_thread(tmp_path: Path) -> None:
    """CachedStore(memory front, sqlite back): runs in the sqlite store's threads; the memory store's I/O
    (none) and its awaits still work there."""

    async def main() -> None:
        front = await polykv.aio.connect("memory://")
        back = await polykv.aio.connect(f"sqlite:///{tmp_path / 'back.db'}")
        cached = polykv.aio.CachedStore(front, back, owns=True)
        assert cached.runner.kind == "thread"
        await cached.set("k", {"v": 1})
        assert await cached.get("k") == {"v": 1}
        assert await back.get("k") == {"v": 1}
        await cached.aclose()

    asyncio.run(main())


def test_wrapper_twins_and_stacked_urls(tmp_path: Path) -> None:
    async def main() -> None:
        async with polykv.aio.connect("memory://") as base:
            tenant = polykv.aio.PrefixStore(base, "t1/")
            await tenant.set("k", 1)
            assert await base.get("t1/k") == 1
            frozen = polykv.aio.ReadOnlyStore(base)
            assert await frozen.get("t1/k") == 1
            with pytest.raises(ReadOnlyError):
                await frozen.set("x", 1)
        async with polykv.aio.connect(f"readonly+prefix:a/+sqlite:///{tmp_path / 's.db'}") as stacked:
            assert stacked.runner.kind == "thread"
            assert await stacked.get("missing", 7) == 7
            with pytest.raises(ReadOnlyError):
                await stacked.set("x", 1)

    asyncio.run(main())


def test_copy_between_faces_and_kinds(tmp_path: Path) -> None:
    async def main() -> None:
        src = await polykv.aio.connect("memory://")
        await src.set_many({f"k{i}": i for i in range(1200)})
        await src.insert_record("users", "u1", {"id": "u1"})
        dst = await polykv.aio.connect(f"sqlite:///{tmp_path / 'dst.db'}")
        result = await polykv.aio.copy(src, dst)
        assert result.copied == 1201
        assert await dst.count() == 1200 and await dst.count("users") == 1
        await src.aclose()
        await dst.aclose()

    asyncio.run(main())


def test_registry_uses_the_sync_declarations() -> None:
    registry = polykv.aio.AsyncBackendRegistry({"memory": {"change_log_size": 10}})
    assert registry.keys() == polykv.registry.keys()
    store = registry["memory"]
    assert store is registry["memory"] and store.runner.kind == "bridge"
    assert store._store._log.maxlen == 10  # type: ignore[attr-defined]

    async def main() -> None:
        assert await registry.aget("memory") is store
        sqlite = await registry.aget("sqlite")
        assert sqlite.runner.kind == "thread"
        await registry.aclose()

    asyncio.run(main())
    with pytest.raises(polykv.BackendNotFoundError, match="available"):
        registry["nope"]


def test_connect_refuses_bad_input_as_the_sync_face_does() -> None:
    async def main() -> None:
        with pytest.raises(polykv.InvalidURLError):
            await polykv.aio.connect("nosuchscheme://x")
        with pytest.raises(InvalidArgumentError):
            await polykv.aio.connect("memory://", change_log_size=0)
        for url in ("sqlite://", "memory://"):  # memory runs on the bridge, but the mistake still shows
            with pytest.raises(InvalidArgumentError, match="max_workers"):
                await polykv.aio.connect(url, max_workers=0)
        with pytest.raises(InvalidArgumentError, match="max_workers"):
            polykv.aio.AsyncBackendRegistry({"memory": {"max_workers": "4"}})["memory"]

    asyncio.run(main())


def test_lock_waiters_and_get_or_set_never_block_the_loop() -> None:
    """While one task holds a lock (or computes under a lease), waiting tasks back off with asyncio.sleep:
    a ticker keeps ticking and the waiters get their turn."""

    async def main() -> None:
        async with polykv.aio.connect("memory://") as store:
            ticks = 0
            running = True

            async def ticker() -> None:
                nonlocal ticks
                while running:
                    await asyncio.sleep(0.005)
                    ticks += 1

            tick = asyncio.ensure_future(ticker())
            order: list[int] = []

            async def worker(n: int) -> None:
                async with store.lock("L", ttl=5, blocking_timeout=10):
                    order.append(n)
                    await asyncio.sleep(0.02)

            started = time.monotonic()
            await asyncio.gather(*(worker(n) for n in range(5)))
            assert sorted(order) == list(range(5))
            calls = 0

            async def compute() -> str:
                nonlocal calls
                calls += 1
                await asyncio.sleep(0.05)
                return "made"

            results = await asyncio.gather(*(store.get_or_set("cached", compute, ttl=60) for _ in range(10)))
            assert results == ["made"] * 10 and calls == 1
            running = False
            await tick
            elapsed = time.monotonic() - started
            assert ticks >= elapsed / 0.005 / 4, (ticks, elapsed)  # the loop ran while tasks waited

    asyncio.run(main())


def test_store_manager_routes_like_the_sync_one(tmp_path: Path) -> None:
    async def main() -> None:
        cache = await polykv.aio.connect("memory://")
        disk = await polykv.aio.connect(f"sqlite:///{tmp_path / 'm.db'}")
        async with polykv.aio.AsyncStoreManager(
            {"cache": cache, "disk": disk}, default="disk", routes={"tmp/": "cache"}
        ) as mgr:
            assert mgr.route("tmp/x") == "cache" and mgr.route("other") == "disk"
            await mgr.set_many({"tmp/a": 1, "b": 2})
            assert await cache.get("tmp/a") == 1 and await disk.get("b") == 2
            assert await mgr.get_many(["tmp/a", "b"]) == {"tmp/a": 1, "b": 2}
            assert mgr.store("cache") is cache
            with pytest.raises(polykv.BackendNotFoundError, match="cache"):
                mgr.store("nope")
        await cache.aclose()
        await disk.aclose()

    asyncio.run(main())


def test_a_waiting_call_never_holds_up_the_calls_queued_behind_it() -> None:
    """One worker waits inside a call for what a later call does: a second worker must take the later one
    (queued before or after the first started), or the two would wait for each other."""
    import threading

    from polykv.aio import ThreadRunner

    async def main() -> None:
        runner = ThreadRunner(max_workers=2)
        for _ in range(20):
            event = threading.Event()
            waiting = asyncio.ensure_future(runner.call(event.wait, 5))
            setting = asyncio.ensure_future(runner.call(event.set))
            assert await asyncio.wait_for(waiting, 10) is True
            await setting
        await runner.aclose()

    asyncio.run(main())


def test_a_cancelled_call_that_has_not_started_never_runs() -> None:
    import threading

    from polykv.aio import ThreadRunner

    ran: list[int] = []

    async def main() -> None:
        runner = ThreadRunner(max_workers=1)
        gate = threading.Event()
        first = asyncio.ensure_future(runner.call(gate.wait, 5))
        queued = asyncio.ensure_future(runner.call(ran.append, 1))
        await asyncio.sleep(0.05)
        queued.cancel()
        gate.set()
        await first
        assert await runner.call(len, ran) == 0
        await runner.aclose()

    asyncio.run(main())
    assert ran == []


def test_a_worker_shared_by_two_loops_still_answers_one_after_the_other_closed() -> None:
    """One worker runs a call of loop A, whose loop then closes, and a call of loop B queued behind it: B's
    result still comes back (handing A's back to its closed loop must not lose B's)."""
    import threading

    from polykv.aio import ThreadRunner

    runner = ThreadRunner(max_workers=1)
    started, gate = threading.Event(), threading.Event()

    def blocking() -> int:
        started.set()
        gate.wait(10)
        return 1

    async def loop_a() -> None:
        running = asyncio.ensure_future(runner.call(blocking))  # still running in the worker when this loop closes
        await asyncio.to_thread(started.wait, 10)
        assert not running.done()

    async def loop_b() -> int:
        queued = asyncio.ensure_future(runner.call(int, "2"))
        await asyncio.sleep(0)  # one loop turn: the call is queued behind A's
        gate.set()
        return await asyncio.wait_for(queued, 10)

    asyncio.run(loop_a())
    assert asyncio.run(loop_b()) == 2
    asyncio.run(runner.aclose())


@pytest.mark.parametrize("url", ["memory://", "sqlite://"])
def test_asyncio_run_of_connect_opens_a_store_that_later_loops_use(url: str) -> None:
    """``connect`` returns a coroutine, so ``asyncio.run`` takes it; the store then serves every later loop."""
    store = asyncio.run(polykv.aio.connect(url))
    assert isinstance(store, polykv.aio.AsyncKeyValueStore)

    async def bump() -> int:
        return await store.incr("n")

    assert [asyncio.run(bump()) for _ in range(3)] == [1, 2, 3]
    asyncio.run(store.aclose())
