"""The S3 store's asyncio face vs its sync face vs raw async s3fs, same process, on a real S3 server.

Run: ``.venv/bin/python plugins/polykv-fsspec/benchmarks/bench_s3_aio.py`` (starts and stops its own SeaweedFS
``weed mini``; ``--rounds N`` to change the number of rounds, ``--batch-concurrency N`` to run the async face's
batches N requests at once instead of ``AsyncS3Store.batch_concurrency``).

Three sides do the same work on the same objects:

* ``raw``: s3fs in asynchronous mode, configured as the store configures it (one GET per read), awaited
  directly: ``await fs._cat_file(path)``, ``await fs._pipe_file(path, data)``, ``await fs._cat(paths)``;
* ``async``: ``polykv.aio`` (``AsyncKeyValueStore`` over ``AsyncS3Store``): ``await store.get(key)``...;
* ``sync``: ``S3Store`` (s3fs on fsspec's I/O thread), called from the same loop's thread.

Values are bytes (``codec="bytes"``), so the figures compare I/O paths, not codecs. The sides take turns in
every round, in a rotating order, so a shared machine's noise hits all alike; every figure is the median and
[min-max] over the rounds, of the rate (operations per second), the ratio to the other sides, and the CPU
time this process spent per operation (the client's CPU is what limits a local S3 server's throughput).

A last figure takes the server and botocore out: the loop's s3fs answers ``_cat_file``/``_pipe_file`` from a
stub coroutine, so what remains is the layer's own cost per call (bridge, key naming, ``ObjectIO``, fault
mapping, the awaited file system) over awaiting the same stub directly.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

from polykv_fsspec import S3Store  # noqa: E402
from polykv_fsspec.aio import AsyncS3Store  # noqa: E402
from s3_fixtures import BUCKET, make_bucket  # noqa: E402
from s3_server import S3Server  # noqa: E402

from polykv.aio import AsyncKeyValueStore, BridgeRunner  # noqa: E402

SINGLE = 200  # sequential gets (sets) per side and round
BATCH = 100  # keys per get_many / set_many
BATCHES = 5  # batch calls per side and round
VALUE = b'{"name":"polykv","n":12345,"pad":"' + b"x" * 100 + b'"}'

#: One side of one figure: an async callable doing the work once (the sync side wraps a blocking call).
Work = Callable[[], Awaitable[Any]]


def spread(values: list[float], fmt: str = ".2f") -> str:
    """``median [min-max]`` of ``values``."""
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


async def timed(work: Work, calls: int, unit: int) -> tuple[float, float]:
    """Operations per second and process CPU microseconds per operation over ``calls`` runs of ``work``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await work()
    ops = calls * unit
    return ops / (time.perf_counter() - wall), (time.process_time() - cpu) * 1e6 / ops


async def figure(name: str, sides: dict[str, tuple[Work, int, int]], rounds: int) -> None:
    """Alternate the sides ``rounds`` times and print rates, CPU per operation and ratios."""
    rates: dict[str, list[float]] = {side: [] for side in sides}
    cpus: dict[str, list[float]] = {side: [] for side in sides}
    order = list(sides)
    for round_ in range(rounds):
        for side in order[round_ % len(order) :] + order[: round_ % len(order)]:
            work, calls, unit = sides[side]
            ops_per_s, cpu_us = await timed(work, calls, unit)
            rates[side].append(ops_per_s)
            cpus[side].append(cpu_us)
    print(f"{name}:")
    for side in order:
        print(f"  {side:6s} {spread(rates[side], '8.0f')} ops/s   cpu {spread(cpus[side], '6.0f')} us/op")
    for ours, other in (("async", "raw"), ("async", "sync")):
        ratios = [a / b for a, b in zip(rates[ours], rates[other], strict=True)]
        print(f"  {ours}/{other} {spread(ratios)}x")


async def bench(server: S3Server, rounds: int, batch_concurrency: int | None) -> None:
    options: dict[str, Any] = {"endpoint_url": server.endpoint_url, "key": server.access_key}
    options |= {"secret": server.secret_key, "codec": "bytes"}
    sync_store = S3Store(BUCKET, "bench", **options)

    class Tuned(AsyncS3Store):  # not registered: no _backend_type of its own
        pass

    if batch_concurrency is not None:
        Tuned.batch_concurrency = batch_concurrency
    runs = Tuned(BUCKET, "bench", **options)
    raw = runs._new_s3fs(asynchronous=True)  # s3fs exactly as the store configures it
    keys = [f"rec:{i:03d}" for i in range(BATCH)]
    paths = [runs._path("", key)[0] for key in keys]
    sync_store.set_many(dict.fromkeys(keys, VALUE))
    counter = iter(range(10**9))

    async def sync(fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)  # blocks this loop's thread while fsspec's I/O thread does the request

    async with AsyncKeyValueStore(runs, BridgeRunner()) as store:
        await raw.set_session()
        assert await store.get_many(keys) == dict.fromkeys(keys, VALUE)  # warm: sessions, connections
        print(
            f"SeaweedFS weed mini, {rounds} rounds; async batches {runs.fs.concurrency} requests at once, "
            f"raw _cat and the sync face up to max_connections={runs.max_connections}\n"
        )
        await figure(
            f"get ({SINGLE} sequential per round)",
            {
                "raw": (lambda: raw._cat_file(paths[next(counter) % BATCH]), SINGLE, 1),
                "async": (lambda: store.get(keys[next(counter) % BATCH]), SINGLE, 1),
                "sync": (lambda: sync(sync_store.get, keys[next(counter) % BATCH]), SINGLE, 1),
            },
            rounds,
        )
        await figure(
            f"set ({SINGLE} sequential per round)",
            {
                "raw": (lambda: raw._pipe_file(paths[next(counter) % BATCH], VALUE), SINGLE, 1),
                "async": (lambda: store.set(keys[next(counter) % BATCH], VALUE), SINGLE, 1),
                "sync": (lambda: sync(sync_store.set, keys[next(counter) % BATCH], VALUE), SINGLE, 1),
            },
            rounds,
        )
        await figure(
            f"get_many({BATCH}) ({BATCHES} per round; rates in keys/s)",
            {
                "raw": (lambda: raw._cat(paths), BATCHES, BATCH),
                "async": (lambda: store.get_many(keys), BATCHES, BATCH),
                "sync": (lambda: sync(sync_store.get_many, keys), BATCHES, BATCH),
            },
            rounds,
        )
        items = dict.fromkeys(keys, VALUE)
        await figure(
            f"set_many({BATCH}) ({BATCHES} per round; rates in keys/s)",
            {
                "raw": (lambda: raw._pipe(dict.fromkeys(paths, VALUE)), BATCHES, BATCH),
                "async": (lambda: store.set_many(items), BATCHES, BATCH),
                "sync": (lambda: sync(sync_store.set_many, items), BATCHES, BATCH),
            },
            rounds,
        )
        await layer_cost(store, runs, paths, keys, rounds)
    await raw._s3creator.__aexit__(None, None, None)
    sync_store.close()


async def layer_cost(
    store: AsyncKeyValueStore, runs: AsyncS3Store, paths: list[str], keys: list[str], rounds: int
) -> None:
    """Per-call cost of the async face over a stub s3fs (no request is sent)."""
    fs = runs.fs.filesystem()

    async def cat_file(path: str, **kwargs: Any) -> bytes:
        return VALUE

    async def pipe_file(path: str, data: bytes, **kwargs: Any) -> None:
        return None

    fs._cat_file, fs._pipe_file = cat_file, pipe_file
    counter = iter(range(10**9))
    n = 20 * SINGLE
    try:
        for name, raw_work, our_work, unit in (
            ("get", lambda: cat_file(paths[next(counter) % BATCH]), lambda: store.get(keys[next(counter) % BATCH]), 1),
            ("set", lambda: pipe_file(paths[0], VALUE), lambda: store.set(keys[next(counter) % BATCH], VALUE), 1),
            ("get_many", lambda: gather_stub(cat_file, paths), lambda: store.get_many(keys), BATCH),
        ):
            ours, stub = [], []
            for _ in range(rounds):
                stub.append((await timed(raw_work, n // unit, unit))[0])
                ours.append((await timed(our_work, n // unit, unit))[0])
            cost = [1e6 / o - 1e6 / s for o, s in zip(ours, stub, strict=True)]
            print(f"layer cost, {name} on a stub s3fs: {spread(cost, '.1f')} us per key over awaiting the stub")
    finally:
        del fs._cat_file, fs._pipe_file


async def gather_stub(cat_file: Callable[[str], Awaitable[bytes]], paths: list[str]) -> list[bytes]:
    return list(await asyncio.gather(*(cat_file(path) for path in paths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-concurrency", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, S3Server.start(Path(tmp)) as server:
        make_bucket(server)
        asyncio.run(bench(server, args.rounds, args.batch_concurrency))


if __name__ == "__main__":
    main()
