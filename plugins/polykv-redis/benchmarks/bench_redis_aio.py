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

``--profile`` runs polykv's single get under cProfile and prints where the time goes. ``--instructions [N]``
counts client instructions per operation of each side with valgrind's callgrind (user space only, so the
same count however loaded the machine is; the socket syscalls both sides make are left out).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio
from polykv_redis.testing import RedisServer

import polykv.aio
from polykv.aio import bridge

Run = Callable[[int], Awaitable[None]]  # does n operations


async def rate(run: Run, n: int) -> tuple[float, float]:
    """Operations per second of wall clock, and client CPU seconds (user + system) per operation."""
    started, cpu = time.perf_counter(), time.process_time()
    await run(n)
    return n / (time.perf_counter() - started), (time.process_time() - cpu) / n


async def compare(name: str, ours: Run, theirs: Run, label: str, n: int, rounds: int) -> float:
    """Alternate ``ours``/``theirs`` runs of ``n`` operations; print rates, ratio quartiles and the client CPU
    per operation of each side (on a loaded machine the steadier figure: it ignores time spent waiting)."""
    await ours(n // 10)
    await theirs(n // 10)  # warm both (connections, caches)
    our_rates, their_rates, ratios, our_cpu, their_cpu = [], [], [], [], []
    for i in range(rounds * 2):
        if i % 2:
            b, b_cpu = await rate(theirs, n)
            a, a_cpu = await rate(ours, n)
        else:
            a, a_cpu = await rate(ours, n)
            b, b_cpu = await rate(theirs, n)
        our_rates.append(a)
        their_rates.append(b)
        ratios.append(a / b)
        our_cpu.append(a_cpu)
        their_cpu.append(b_cpu)
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    ours_us, theirs_us = statistics.median(our_cpu) * 1e6, statistics.median(their_cpu) * 1e6
    print(
        f"{name:<30} {label:<6} {statistics.median(their_rates):>8,.0f}/s polykv "
        f"{statistics.median(our_rates):>8,.0f}/s  ratio {median:.2f}x ({q1:.2f}-{q3:.2f})  "
        f"cpu/op {theirs_us:.1f} vs {ours_us:.1f} us = {theirs_us / ours_us:.2f}x"
    )
    return median


async def build(
    port: int, socket_timeout: float = 5.0
) -> tuple[dict[str, tuple[Run, Run, str, int]], Callable[[], Awaitable[None]]]:
    """Every case, ``name -> (polykv side, other side, other's label, operations per run)``, on data written
    first; and a coroutine function that closes every client. (Under callgrind, 50x slower, the socket
    timeout is raised so that no read times out.)"""
    url = f"redis://127.0.0.1:{port}/0"
    store = await polykv.aio.connect(f"{url}?prefix=bench&max_connections=100&socket_timeout={socket_timeout}")
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
    cases: dict[str, tuple[Run, Run, str, int]] = {
        "get (facade)": (our_get, raw_get, "raw", 3000),
        "get (bridge.run, no facade)": (bridged_get, raw_get, "raw", 3000),
        "set (facade)": (our_set, raw_set, "raw", 3000),
        "get, 100 concurrent tasks": (tasks(our_get), tasks(raw_get), "raw", 20000),
        "get (dict value)": (our_dget, kv_get, label, 3000),
        "set (dict value)": (our_dput, kv_put, label, 3000),
        "get_many 100 (keys/s)": (our_mget, kv_mget, label, 20000),
        "set_many 100 (keys/s)": (our_mset, kv_mset, label, 20000),
    }

    async def close() -> None:
        await kv.close()
        await raw.aclose()
        await store.aclose()

    return cases, close


async def main(port: int, rounds: int, profile: bool) -> None:
    cases, close = await build(port)
    print(f"redis-server on 127.0.0.1:{port}; {rounds} x 2 alternating runs per case")
    for name, (ours, theirs, label, n) in cases.items():
        await compare(name, ours, theirs, label, n, rounds)
    if profile:
        get = cases["get (facade)"][0]
        profiler = cProfile.Profile()
        profiler.enable()
        await get(20000)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    await close()


async def run_one(port: int, name: str, side: str, count: int) -> None:
    """The callgrind child: build the cases, run every side of every case once (the same warm-up in every
    run), then ``count`` operations of one side of one case."""
    cases, close = await build(port, socket_timeout=300.0)
    for ours, theirs, _, n in cases.values():
        await ours(100 if n > 3000 else 1)
        await theirs(100 if n > 3000 else 1)
    if count:
        ours, theirs, _, _ = cases[name]
        await (ours if side == "polykv" else theirs)(count)
    await close()


def instructions(port: int, count: int, only: str = "") -> None:
    """Client instructions per operation, other side vs polykv, counted by callgrind (user space only: the
    socket syscalls both sides make are not counted): the marginal cost, (cost of 3N - cost of N) / 2N."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    print(f"client instructions per operation (callgrind, marginal over {count}..{3 * count}); ratio = other / polykv")
    with tempfile.TemporaryDirectory() as tmp:

        def total(name: str, side: str, n: int) -> int:
            out = Path(tmp) / f"cg.{side}.{n}"
            done = subprocess.run(  # noqa: S603 - our own interpreter and script
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,  # noqa: S607
                 "--port", str(port), "--run-one", name, side, str(n)],
                check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )  # fmt: skip
            if done.returncode:
                tail = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("=="))[-2000:]
                raise SystemExit(f"the callgrind run of {name!r} ({side}, {n}) failed:\n{tail}")
            match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
            assert match is not None
            return int(match.group(1))

        for name in CASE_NAMES:
            if only not in name:
                continue
            n = count * (100 if "many" in name or "tasks" in name else 1)
            per = {side: (total(name, side, 3 * n) - total(name, side, n)) / (2 * n) for side in ("other", "polykv")}
            print(f"{name:<30} other {per['other']:>9,.0f}  polykv {per['polykv']:>9,.0f}  "
                  f"ratio {per['other'] / per['polykv']:.2f}x", flush=True)  # fmt: skip


CASE_NAMES = (
    "get (facade)", "get (bridge.run, no facade)", "set (facade)", "get, 100 concurrent tasks",
    "get (dict value)", "set (dict value)", "get_many 100 (keys/s)", "set_many 100 (keys/s)",
)  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, help="an existing redis-server (default: start one)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--instructions", type=int, nargs="?", const=300, default=None, metavar="N",
                        help="count client instructions per operation with callgrind, marginal over N..3N")  # fmt: skip
    parser.add_argument("--only", default="", help="--instructions only for cases whose name contains this")
    parser.add_argument("--run-one", nargs=3, metavar=("CASE", "SIDE", "N"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.run_one:
        name, side, n = options.run_one
        asyncio.run(run_one(options.port, name, side, int(n)))
    elif options.port:
        asyncio.run(main(options.port, options.rounds, options.profile))
        if options.instructions:
            instructions(options.port, options.instructions, options.only)
    else:
        with RedisServer() as server:
            asyncio.run(main(server.port, options.rounds, options.profile))
            if options.instructions:
                instructions(server.port, options.instructions, options.only)
