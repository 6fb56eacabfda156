"""The async face next to the synchronous one, same process, same files: what running through the bridge
(memory) or a thread pool (sqlite) costs, and how long the event loop stalls meanwhile.

Run: ``python benchmarks/bench_aio.py [--rounds N]``. Each figure is ``polykv.testing.benchmarking.paired``:
short alternating runs of the sync side and the async side, median rates and the quartiles of the pair
ratios (async/sync). An async run is one coroutine doing ``unit`` operations, run on one long-lived loop,
so the cost of starting a loop is not in it. Cases:

* ``get``/``set`` one at a time (``await store.get(k)`` in sequence) against the sync store's calls;
* ``get`` x 16 and x 100 tasks (``asyncio.gather`` of that many sequential readers) against the same gets
  done in sequence by the sync store: the throughput of the face's thread pool, whose workers drain every
  queued call in one hand-off;
* ``get_many``/``set_many`` of 100 keys.

Then the loop latency: a ticker task's longest gap (every 1 ms) while 2,000 sqlite sets and a
``set_many`` of 20,000 run. Values are 100-byte strings, codec json, sqlite WAL ``synchronous=NORMAL``.
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import polykv
import polykv.aio
from polykv.aio import AsyncKeyValueStore
from polykv.testing.aio import LoopTicker
from polykv.testing.benchmarking import Case, paired

VALUE = "x" * 100
KEYS = [f"key{i:05d}" for i in range(1000)]


def run_on(loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], Any]:
    return lambda: loop.run_until_complete(make())


def cases(sync: Any, astore: AsyncKeyValueStore, loop: asyncio.AbstractEventLoop) -> dict[str, Case]:
    sync.set_many(dict.fromkeys(KEYS, VALUE))
    unit = 100
    batch = KEYS[:100]

    def sync_gets() -> None:
        for key in KEYS[:unit]:
            sync.get(key)

    async def async_gets() -> None:
        for key in KEYS[:unit]:
            await astore.get(key)

    def sync_sets() -> None:
        for key in KEYS[:unit]:
            sync.set(key, VALUE)

    async def async_sets() -> None:
        for key in KEYS[:unit]:
            await astore.set(key, VALUE)

    async def async_concurrent_gets() -> None:
        async def reader(part: list[str]) -> None:
            for key in part:
                await astore.get(key)

        await asyncio.gather(*(reader(KEYS[i : unit * 4 : 16]) for i in range(16)))

    async def async_gets_100_tasks() -> None:
        async def reader(part: list[str]) -> None:
            for key in part:
                await astore.get(key)

        await asyncio.gather(*(reader(KEYS[i : unit * 10 : 100]) for i in range(100)))

    def sync_gets_1000() -> None:
        for key in KEYS[: unit * 10]:
            sync.get(key)

    def sync_gets_400() -> None:
        for key in KEYS[: unit * 4]:
            sync.get(key)

    async def async_get_many() -> None:
        await astore.get_many(batch)

    async def async_set_many() -> None:
        await astore.set_many(dict.fromkeys(batch, VALUE))

    return {
        "get": (sync_gets, run_on(loop, async_gets), unit, 20),
        "set": (sync_sets, run_on(loop, async_sets), unit, 10),
        "get x 16 tasks": (sync_gets_400, run_on(loop, async_concurrent_gets), unit * 4, 10),
        "get x 100 tasks": (sync_gets_1000, run_on(loop, async_gets_100_tasks), unit * 10, 10),
        "get_many(100)": (lambda: sync.get_many(batch), run_on(loop, async_get_many), 100, 100),
        "set_many(100)": (lambda: sync.set_many(dict.fromkeys(batch, VALUE)), run_on(loop, async_set_many), 100, 50),
    }


async def loop_latency(astore: AsyncKeyValueStore) -> tuple[float, float, float]:
    """(longest tick gap, median gap, seconds of work) while sets and a big set_many run."""
    async with LoopTicker(0.001) as ticker:
        started = time.perf_counter()
        for i in range(2000):
            await astore.set(f"lat{i}", VALUE)
        await astore.set_many({f"big{i}": VALUE for i in range(20_000)})
        work = time.perf_counter() - started
    gaps = sorted(ticker.gaps)
    return gaps[-1], gaps[len(gaps) // 2], work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 10 alternating pairs per figure")
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as folder:
        for name, url in (("memory (bridge)", "memory://"), ("sqlite (threads)", f"sqlite:///{Path(folder) / 'b.db'}")):
            sync = polykv.connect(url)
            # sqlite: both faces on the same file; memory: each face has its own store
            astore = loop.run_until_complete(_connect(url))
            print(f"\n== {name}: async / sync, median [q1 .. q3] of {args.rounds * 10} pairs")
            for label, case in cases(sync, astore, loop).items():
                got = paired(case, args.rounds)
                print(
                    f"  {label:<16} {got.median:5.2f}x [{got.q1:.2f} .. {got.q3:.2f}]   "
                    f"sync {got.raw_rate:>10,.0f} ops/s   async {got.our_rate:>10,.0f} ops/s"
                )
            worst, typical, work = loop.run_until_complete(loop_latency(astore))
            print(
                f"  loop latency while 2,000 sets + set_many(20,000) ran ({work:.2f} s): longest tick gap "
                f"{worst * 1000:.1f} ms, median {typical * 1000:.2f} ms (ticker asks for 1 ms)"
            )
            loop.run_until_complete(astore.aclose())
            sync.close()
    loop.close()


async def _connect(url: str) -> AsyncKeyValueStore:
    return await polykv.aio.connect(url)


if __name__ == "__main__":
    main()
