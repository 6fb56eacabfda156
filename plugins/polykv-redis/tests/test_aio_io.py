"""The asyncio face's I/O on real servers: cancellation under load never mixes replies up nor leaks a
connection, batches stay whole, the change feed's XREAD BLOCK and the retry backoff leave the event loop
running, the pool bounds and queues callers, and every operation ends within the one total deadline."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import redis
from polykv_redis.aio import AsyncRedisClusterStore, AsyncRedisStore
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer

from polykv.aio.bridge import run
from polykv.errors import BackendUnavailableError, PoolTimeoutError

KEYS = 200
GROUPS = 20
GROUP_SIZE = 50


def value_of(i: int) -> str:
    """A value no other key holds, of varied length (so a reply read for the wrong key cannot pass)."""
    return f"v{i}:" + "x" * (i % 97)


class Ticker:
    """Counts how often the event loop let it run (every ``interval`` s) while something else waited."""

    def __init__(self, interval: float = 0.01) -> None:
        self.ticks = 0
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(self.interval)

    def __enter__(self) -> Ticker:
        self._task = asyncio.ensure_future(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def on_loop(store: RedisStore, body: Callable[[RedisStore], Coroutine[Any, Any, None]]) -> None:
    async def main() -> None:
        try:
            await body(store)
        finally:
            await run(store.close)

    asyncio.run(main())


def group_key(group: int, j: int) -> str:
    return f"g{group}:{j}"


def tagged_group_key(group: int, j: int) -> str:
    """A group's keys on a cluster: one hash tag per group, so its MSET is one command in one slot (across
    slots a cluster batch is several MSETs, and two concurrent ones may interleave, cancelled or not)."""
    return f"{{g{group}}}:{j}"


async def storm(
    store: RedisStore, tasks: int, seed: int, key_of: Callable[[int, int], str] = group_key
) -> dict[str, int]:
    """``tasks`` concurrent gets, sets, get_many and MSETs of whole groups, about two thirds of them cancelled
    at a random moment: by ``asyncio.wait_for`` with a random short timeout, or by ``task.cancel`` from a
    canceller that wakes every loop turn or so and picks random unfinished tasks (waiting for a connection,
    in the middle of a round trip, or not started yet). Every operation that completes is checked on the spot:
    a reply for another key fails the test."""
    rng = random.Random(seed)
    outcome = {"done": 0, "cancelled": 0}

    busy: set[asyncio.Task[Any]] = set()  # tasks inside a store call now (waiting for a connection or on one)

    async def one(n: int, start: float) -> None:
        await asyncio.sleep(start)
        task = asyncio.current_task()
        assert task is not None
        busy.add(task)
        try:
            await call(n)
        finally:
            busy.discard(task)

    async def call(n: int) -> None:
        kind = rng.random()
        if kind < 0.45:
            i = rng.randrange(KEYS)
            assert await run(store.get, f"k{i}") == value_of(i)
        elif kind < 0.65:
            i = rng.randrange(KEYS)
            await run(store.set, f"k{i}", value_of(i))
        elif kind < 0.85:
            picked = rng.sample(range(KEYS), 8)
            got = await run(store.get_many, [f"k{i}" for i in picked])
            assert got == {f"k{i}": value_of(i) for i in picked}
        else:  # one MSET of a whole group, every key the same token: applied whole or not at all
            group = rng.randrange(GROUPS)
            await run(store.set_many, {key_of(group, j): n for j in range(GROUP_SIZE)})

    jobs: list[asyncio.Future[None]] = []
    targets: list[asyncio.Future[Any]] = []
    for n in range(tasks):
        start = 0.0 if n % 2 else rng.uniform(0, 0.05)  # half queue for the pool at once, half trickle in
        mode = rng.random()
        if mode < 0.3:
            jobs.append(asyncio.ensure_future(one(n, start)))
        elif mode < 0.5:
            jobs.append(asyncio.ensure_future(asyncio.wait_for(one(n, start), start + rng.uniform(0, 0.003))))
        else:
            jobs.append(asyncio.ensure_future(one(n, start)))
            targets.append(jobs[-1])

    async def canceller() -> None:
        rng.shuffle(targets)
        while targets:
            await asyncio.sleep(0 if rng.random() < 0.7 else 0.0005)
            for _ in range(rng.randint(1, 4)):
                inside = [t for t in targets if t in busy]
                pool = inside if inside and rng.random() < 0.8 else targets
                victim = pool[rng.randrange(len(pool))]
                targets.remove(victim)
                victim.cancel()
                if not targets:
                    break

    await asyncio.gather(canceller(), asyncio.gather(*jobs, return_exceptions=True))
    for job in jobs:
        if job.cancelled() or isinstance(job.exception(), asyncio.TimeoutError):
            outcome["cancelled"] += 1
        elif job.exception() is not None:
            raise job.exception()  # type: ignore[misc]
        else:
            outcome["done"] += 1
    return outcome


async def check_after_storm(
    store: RedisStore, max_connections: int, key_of: Callable[[int, int], str] = group_key
) -> None:
    # every later reply is the right one, for every key, single and batched
    for i in range(KEYS):
        assert await run(store.get, f"k{i}") == value_of(i)
    everything = await run(store.get_many, [f"k{i}" for i in range(KEYS)])
    assert everything == {f"k{i}": value_of(i) for i in range(KEYS)}
    for group in range(GROUPS):
        tokens = set((await run(store.get_many, [key_of(group, j) for j in range(GROUP_SIZE)])).values())
        assert len(tokens) <= 1, f"group {group} holds values of several MSETs: {sorted(tokens)[:5]}"
    stats = store.manager.stats()
    assert stats["in_use"] == 0, stats  # nothing leaked: every connection came back
    assert stats["total"] <= max_connections, stats
    # and the pool still serves a full load
    results = await asyncio.gather(*(run(store.get, f"k{i % KEYS}") for i in range(500)))
    assert results == [value_of(i % KEYS) for i in range(500)]


@pytest.mark.parametrize(("max_connections", "rounds"), [(64, 3), (4, 1)])
def test_cancellations_under_load_never_mix_replies_or_leak_connections(
    redis_server: RedisServer, key_prefix: str, raw: redis.Redis, max_connections: int, rounds: int
) -> None:
    """2,000 tasks in all: with 64 connections most cancellations land in the middle of a round trip, with 4
    most land on tasks waiting for a connection (or just handed one)."""
    sync = RedisStore(port=redis_server.port, prefix=key_prefix)
    sync.set_many({f"k{i}": value_of(i) for i in range(KEYS)})
    connections_before = int(raw.info("stats")["total_connections_received"])
    store = AsyncRedisStore(port=redis_server.port, prefix=key_prefix, max_connections=max_connections)
    seen = {"done": 0, "cancelled": 0}

    async def body(a: RedisStore) -> None:
        for round_ in range(rounds):
            for name, count in (await storm(a, 500, 1000 * max_connections + round_)).items():
                seen[name] += count
        await check_after_storm(a, max_connections)

    on_loop(store, body)
    assert seen["cancelled"] > 100 * rounds and seen["done"] > 100 * rounds, seen
    assert sync.get_many([f"k{i}" for i in range(KEYS)]) == {f"k{i}": value_of(i) for i in range(KEYS)}
    sync.close()
    if max_connections > 8:  # connections were really cut mid-command (and replaced), not only while waiting
        replaced = int(raw.info("stats")["total_connections_received"]) - connections_before - max_connections
        assert replaced > 10, replaced


def test_cancellations_under_load_on_a_cluster(redis_cluster: RedisClusterServers, key_prefix: str) -> None:
    store = AsyncRedisClusterStore(port=redis_cluster.port, prefix=key_prefix, max_connections=8)

    async def body(a: RedisStore) -> None:
        await run(a.set_many, {f"k{i}": value_of(i) for i in range(KEYS)})
        await storm(a, 600, 7, tagged_group_key)
        # the asyncio cluster's node pools are bounded by the gate instead of max_connections
        await check_after_storm(a, 10**9, tagged_group_key)

    on_loop(store, body)


def test_watcher_blocks_in_xread_while_the_loop_keeps_running(
    redis_server: RedisServer, key_prefix: str, raw: redis.Redis
) -> None:
    store = AsyncRedisStore(port=redis_server.port, prefix=key_prefix, change_feed=True, socket_timeout=10.0)
    blocked_before = int(raw.info("clients")["blocked_clients"])

    async def body(a: RedisStore) -> None:
        head = await run(a._change_head)
        with Ticker() as ticker:
            watcher = asyncio.ensure_future(run(a._changes, head, 10, 5.0))
            await asyncio.sleep(0.5)
            assert not watcher.done()
            assert int(raw.info("clients")["blocked_clients"]) == blocked_before + 1  # XREAD BLOCK on the server
            assert ticker.ticks >= 10, ticker.ticks  # the loop ran other tasks the whole time
            await run(a.set, "wake", 1)  # the same store writes meanwhile (another pooled connection)
            changes = await asyncio.wait_for(watcher, 5.0)
        assert [(c.key, c.data) for c in changes] == [("wake", b"1")]

    on_loop(store, body)


def test_retry_backoff_waits_on_the_loop_within_the_deadline(own_server: RedisServer, key_prefix: str) -> None:
    store = AsyncRedisStore(port=own_server.port, prefix=key_prefix, timeout=2.0, socket_timeout=1.0)

    async def body(a: RedisStore) -> None:
        await run(a.set, "k", 1)
        own_server.kill()
        with Ticker(0.005) as ticker:
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError):
                await run(a.get, "k")
            elapsed = time.monotonic() - started
        assert elapsed < 2.0 + 0.6
        assert ticker.ticks >= 5, ticker.ticks  # the backoff between the tries was asyncio.sleep

    on_loop(store, body)


SOCKET_TIMEOUT = 0.5
SLACK = 0.6
OPERATIONS: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "get": (RedisStore.get, ("k",)),
    "set": (RedisStore.set, ("k", 2)),
    "get_many": (RedisStore.get_many, (["k", "j"],)),
    "set_many": (RedisStore.set_many, ({"k": 1, "j": 2},)),
    "incr": (RedisStore.incr, ("n",)),
    "add": (RedisStore.add, ("new", 1)),
    "insert_record": (RedisStore.insert_record, ("users", "u9", {"v": 1})),
    "count": (RedisStore.count, ("users",)),
    "keys": (lambda s: list(s.keys_by_prefix("k")), ()),
}


def test_every_operation_on_a_hung_server_ends_within_the_deadline(own_server: RedisServer) -> None:
    store = AsyncRedisStore(port=own_server.port, prefix="d", socket_timeout=SOCKET_TIMEOUT)
    assert own_server.process is not None
    pid = own_server.process.pid

    async def body(a: RedisStore) -> None:
        await run(a.set, "k", 1)
        os.kill(pid, signal.SIGSTOP)
        try:
            for name, (operation, args) in OPERATIONS.items():
                started = time.monotonic()
                with pytest.raises(BackendUnavailableError):
                    await run(operation, a, *args)
                elapsed = time.monotonic() - started
                assert elapsed < SOCKET_TIMEOUT + SLACK, f"{name} took {elapsed:.2f} s"
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await run(a.get, "k") in (1, 2)  # the same store works again once the server answers

    on_loop(store, body)


def test_pool_bounds_queues_and_times_out(redis_server: RedisServer, key_prefix: str) -> None:
    # connection_timeout leaves the 300 queued gets room on a loaded CI worker (0.3 s failed there once), and
    # stays well inside the watchers' 4 s XREAD BLOCK, so the timeout below is the pool's, not the read's
    store = AsyncRedisStore(
        port=redis_server.port, prefix=key_prefix, change_feed=True, max_connections=3, connection_timeout=1.0
    )

    async def body(a: RedisStore) -> None:
        await run(a.set_many, {f"k{i}": i for i in range(50)})
        got = await asyncio.gather(*(run(a.get, f"k{i % 50}") for i in range(300)))
        assert got == [i % 50 for i in range(300)]
        assert a.manager.stats()["total"] <= 3
        head = await run(a._change_head)
        watchers = [asyncio.ensure_future(run(a._changes, head, 1, 4.0)) for _ in range(3)]
        deadline = time.monotonic() + 10
        while a.manager.stats()["in_use"] < 3 and time.monotonic() < deadline:  # all three wait in XREAD BLOCK
            await asyncio.sleep(0.01)
        assert a.manager.stats()["in_use"] == 3
        started = time.monotonic()
        with pytest.raises(PoolTimeoutError, match="max_connections=3"):
            await run(a.get, "k1")
        assert 0.95 < time.monotonic() - started < 3.5
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        assert a.manager.stats()["in_use"] == 0
        assert await run(a.get, "k1") == 1  # cancelled blocked reads gave their connections back, closed

    on_loop(store, body)


@pytest.mark.parametrize("cluster", [False, True], ids=["redis", "redis_cluster"])
def test_many_tasks_on_a_fresh_store_connect_once_without_blocking_the_loop(
    request: pytest.FixtureRequest, key_prefix: str, cluster: bool
) -> None:
    """The first use connects (a cluster client discovers its slots then) while other tasks of the same
    thread ask too: the connection manager's thread lock is never held across an await."""
    if cluster:
        servers: RedisClusterServers = request.getfixturevalue("redis_cluster")
        store: RedisStore = AsyncRedisClusterStore(port=servers.port, prefix=key_prefix)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        store = AsyncRedisStore(port=server.port, prefix=key_prefix)

    async def body(a: RedisStore) -> None:
        with Ticker(0.001) as ticker:
            results = await asyncio.wait_for(
                asyncio.gather(*(run(a.add, f"k{i % 10}", i) for i in range(50))), timeout=20
            )
        assert results.count(True) == 10
        assert ticker.ticks >= 1
        assert sorted(await run(lambda: list(a.keys_by_prefix("k")))) == [f"k{i}" for i in range(10)]

    on_loop(store, body)


def test_idle_connections_are_closed_on_the_loop(redis_server: RedisServer, key_prefix: str) -> None:
    """The connection manager's reaper thread asks; the pool closes its idle connections on its own loop."""
    store = AsyncRedisStore(port=redis_server.port, prefix=key_prefix, idle_timeout=0.2)

    async def body(a: RedisStore) -> None:
        await asyncio.gather(*(run(a.set, f"k{i}", i) for i in range(20)))
        assert a.manager.stats()["open"] >= 1
        deadline = time.monotonic() + 5
        while a.manager.stats()["open"] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert a.manager.stats()["open"] == 0, a.manager.stats()
        assert await run(a.get, "k3") == 3  # a closed connection's slot reconnects when next taken

    on_loop(store, body)
