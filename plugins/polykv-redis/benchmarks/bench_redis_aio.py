"""polykv-redis's asyncio face vs raw ``redis.asyncio`` and vs py-key-value-aio's Redis store, in one process,
on one redis-server; prints rates and ratios (not a test)::

    .venv/bin/python plugins/polykv-redis/benchmarks/bench_redis_aio.py [--rounds 10] [--profile]

Without ``--port`` it starts its own redis-server on a free 127.0.0.1 port and stops it at the end.

Every case alternates short runs of its sides (order flipped every pair, so CPU noise hits both alike) and
prints each side's median rate, the median ratio polykv/other and the spread (middle half of the pair
ratios). Values are 100 bytes as stored (polykv's JSON of a 98-character string; the raw side stores the
same bytes; py-key-value-aio stores its own JSON envelope of a dict, and polykv then stores the same dict).

- ``get``/``set``: one awaited call at a time: ``await store.get(k)`` through the facade
  (``polykv.aio.connect``), ``await bridge.run(inner.get, k)`` (the facade's runner without the facade),
  and raw ``await redis.asyncio.Redis.get(name)``.
- ``100 tasks``: 100 concurrent tasks doing gets; total throughput (both sides 100 connections at most).
- ``vs py-key-value-aio``: ``get``/``put`` and ``get_many``/``put_many`` of 100 keys on the same dicts.

``--profile`` runs polykv's single get under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio
from polykv_redis.testing import RedisServer

import polykv.aio
from polykv.aio import bridge

Run = Callable[[int], Awaitable[None]]  # does n operations


async def rate(run: Run, n: int) -> float:
    started = time.perf_counter()
    await run(n)
    return n / (time.perf_counter() - started)


async def compare(name: str, ours: Run, theirs: Run, label: str, n: int, rounds: int) -> float:
    """Alternate ``ours``/``theirs`` runs of ``n`` operations; print rates and ratio quartiles."""
    await ours(n // 10)
    await theirs(n // 10)  # warm both (connections, caches)
    our_rates, their_rates, ratios = [], [], []
    for i in range(rounds * 2):
        if i % 2:
            b = await rate(theirs, n)
            a = await rate(ours, n)
        else:
            a = await rate(ours, n)
            b = await rate(theirs, n)
        our_rates.append(a)
        their_rates.append(b)
        ratios.append(a / b)
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    print(
        f"{name:<34} {label:<10} {statistics.median(their_rates):>9,.0f}/s  polykv "
        f"{statistics.median(our_rates):>9,.0f}/s  ratio median {median:.2f}x  (middle half {q1:.2f}-{q3:.2f})"
    )
    return median


async def main(port: int, rounds: int, profile: bool) -> None:
    url = f"redis://127.0.0.1:{port}/0"
    store = await polykv.aio.connect(f"{url}?prefix=bench&max_connections=100")
    inner: Any = store._store  # the AsyncRedisStore the facade runs
    raw = redis.asyncio.Redis(port=port, max_connections=100)
    text = "x" * 98
    payload = inner.codec.encode(text)
    assert len(payload) == 100
    await store.set("k", text)
    await raw.set("raw:k", payload)

    async def our_get(n: int) -> None:
        for _ in range(n):
            await store.get("k")

    async def bridged_get(n: int) -> None:
        get = inner.get
        for _ in range(n):
            await bridge.run(get, "k")

    async def raw_get(n: int) -> None:
        for _ in range(n):
            await raw.get("raw:k")

    async def our_set(n: int) -> None:
        for _ in range(n):
            await store.set("k", text)

    async def raw_set(n: int) -> None:
        for _ in range(n):
            await raw.set("raw:k", payload)

    def tasks(run_one: Run) -> Run:
        async def run(n: int) -> None:
            await asyncio.gather(*(run_one(n // 100) for _ in range(100)))

        return run

    print(f"redis-server on 127.0.0.1:{port}; {rounds} x 2 alternating runs per case")
    await compare("get (facade)", our_get, raw_get, "raw", 3000, rounds)
    await compare("get (bridge.run, no facade)", bridged_get, raw_get, "raw", 3000, rounds)
    await compare("set (facade)", our_set, raw_set, "raw", 3000, rounds)
    await compare("get, 100 concurrent tasks", tasks(our_get), tasks(raw_get), "raw", 20000, rounds)

    from key_value.aio.stores.redis import RedisStore as KVRedisStore

    kv = KVRedisStore(url=url, default_collection="bench")
    doc = {"v": "x" * 88}  # polykv's JSON of it: 100 bytes
    await kv.put("k", doc)
    await store.set("d", doc)
    keys = [f"m{i}" for i in range(100)]
    await kv.put_many(keys, [doc] * 100)
    await store.set_many(dict.fromkeys(keys, doc))

    async def our_dget(n: int) -> None:
        for _ in range(n):
            await store.get("d")

    async def kv_get(n: int) -> None:
        for _ in range(n):
            await kv.get("k")

    async def our_dput(n: int) -> None:
        for _ in range(n):
            await store.set("d", doc)

    async def kv_put(n: int) -> None:
        for _ in range(n):
            await kv.put("k", doc)

    async def our_mget(n: int) -> None:
        for _ in range(n // 100):
            await store.get_many(keys)

    async def kv_mget(n: int) -> None:
        for _ in range(n // 100):
            await kv.get_many(keys)

    mapping = dict.fromkeys(keys, doc)

    async def our_mset(n: int) -> None:
        for _ in range(n // 100):
            await store.set_many(mapping)

    async def kv_mset(n: int) -> None:
        values = [doc] * 100
        for _ in range(n // 100):
            await kv.put_many(keys, values)

    label = "kv-aio"
    await compare("get (dict value)", our_dget, kv_get, label, 3000, rounds)
    await compare("set (dict value)", our_dput, kv_put, label, 3000, rounds)
    await compare("get_many 100 (keys/s)", our_mget, kv_mget, label, 20000, rounds)
    await compare("set_many 100 (keys/s)", our_mset, kv_mset, label, 20000, rounds)

    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await our_get(20000)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)

    await kv.close()
    await raw.aclose()
    await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, help="an existing redis-server (default: start one)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    if options.port:
        asyncio.run(main(options.port, options.rounds, options.profile))
    else:
        with RedisServer() as server:
            asyncio.run(main(server.port, options.rounds, options.profile))
