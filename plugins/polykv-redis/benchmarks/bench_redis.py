"""polykv-redis vs raw redis-py on the same pool, in the same process; prints ratios (not a test).

Usage: ``.venv/bin/python plugins/polykv-redis/benchmarks/bench_redis.py [--rounds 5] [--port PORT]``.
Without ``--port`` it starts its own redis-server on a free 127.0.0.1 port and stops it at the end.
Each comparison alternates short raw and polykv runs (``--rounds`` x 10 pairs, order flipped every pair) so
CPU noise hits both sides alike; it prints the median ratio and the spread of the middle half.

``--instructions`` counts client-side CPU instructions per operation instead, with valgrind's callgrind
(the same count whatever else the machine is doing): each case runs under callgrind with 0 and N
operations, the difference / N is the cost of one operation. The ratio raw/polykv is the throughput
ratio when the client's CPU is the limit; network and server time are equal on both sides.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisServer

Case = tuple[Callable[[], Any], Callable[[], Any], int, int]  # raw, polykv, ops per call (unit), calls per run


@dataclasses.dataclass
class Item:
    __indexes__: ClassVar[tuple[str, ...]] = ("color",)
    id: str
    color: str
    n: int


def rate(fn: Callable[[], Any], repeat: int) -> float:
    """Calls per second of ``fn`` over ``repeat`` calls."""
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return repeat / (time.perf_counter() - started)


def compare(name: str, case: Case, rounds: int) -> float:
    """Alternate short raw/polykv runs; print rates and ratio quartiles; return polykv's median rate."""
    raw, ours, unit, repeat = case
    chunk = max(1, repeat // 10)
    ratios, raw_rates, our_rates = [], [], []
    for i in range(rounds * 10):
        if i % 2:
            o, r = rate(ours, chunk), rate(raw, chunk)
        else:
            r, o = rate(raw, chunk), rate(ours, chunk)
        raw_rates.append(r * unit)
        our_rates.append(o * unit)
        ratios.append(o / r)
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    print(
        f"{name:<36} raw {statistics.median(raw_rates):>10,.0f}/s  polykv {statistics.median(our_rates):>10,.0f}/s  "
        f"ratio median {median:.2f}x  (middle half {q1:.2f}-{q3:.2f})"
    )
    return statistics.median(our_rates)


def redis_benchmark(port: int) -> float:
    out = subprocess.run(  # noqa: S603 - fixed argv, our own server
        ["redis-benchmark",  # noqa: S607 - found on PATH like redis-server
         "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-P", "16", "-t", "get", "-n", "200000", "-q"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    match = re.search(r"GET: ([\d.]+) requests per second", out.replace("\r", "\n"))
    if match is None:
        raise RuntimeError(f"cannot parse redis-benchmark output: {out!r}")
    return float(match.group(1))


def build_cases(port: int) -> tuple[dict[str, Case], list[RedisStore]]:
    """Every raw-vs-polykv pair, on data written first; the raw side uses the store's own client and pool."""
    store = RedisStore(port=port, prefix="bench")
    bstore = RedisStore(port=port, prefix="benchb", codec="bytes")
    raw = store.manager.acquire().connection
    store.set("k", {"v": 1})
    payload = store.codec.encode({"v": 1})
    raw_name = store.layout.kv("raw")
    raw.set(raw_name, payload)
    keys = [f"m{i}" for i in range(100)]
    names = [store.layout.kv(k) for k in keys]
    values = {k: {"v": i} for i, k in enumerate(keys)}
    store.set_many(values)
    encoded = {store.layout.kv(k): store.codec.encode(v) for k, v in values.items()}
    decode = store.codec.decode
    blobs = {k: b"x" * 100 for k in keys}
    bstore.set_many(blobs)
    bnames = [bstore.layout.kv(k) for k in keys]
    bencoded = {bstore.layout.kv(k): v for k, v in blobs.items()}

    def raw_decoded() -> dict[str, Any]:
        return {k: decode(v) for k, v in zip(keys, raw.mget(names), strict=True)}

    cases: dict[str, Case] = {
        "get (single key)": (lambda: raw.get(raw_name), lambda: store.get("k"), 1, 2000),
        "set (single key)": (lambda: raw.set(raw_name, payload), lambda: store.set("k", {"v": 1}), 1, 2000),
        "get (single) vs GET+decode": (lambda: decode(raw.get(raw_name)), lambda: store.get("k"), 1, 2000),
        "bytes codec: get_many(100) vs MGET": (lambda: raw.mget(bnames), lambda: bstore.get_many(keys), 100, 300),
        "bytes codec: set_many(100) vs MSET": (lambda: raw.mset(bencoded), lambda: bstore.set_many(blobs), 100, 300),
        "get_many(100) vs MGET+decode": (raw_decoded, lambda: store.get_many(keys), 100, 300),
        "get_many(100) keys/s vs MGET": (lambda: raw.mget(names), lambda: store.get_many(keys), 100, 300),
        "set_many(100) keys/s vs MSET": (lambda: raw.mset(encoded), lambda: store.set_many(values), 100, 300),
    }
    return cases, [store, bstore]


def filter_benchmark(store: RedisStore, records: int) -> None:
    """Filter on an indexed field: 10 matches among ``records`` (loaded through the pipelined write path)."""
    store.drop_schema("items")
    store._learn_indexes("items", Item.__indexes__)
    every = records // 10
    batch = []
    for i in range(records):
        item = Item(f"r{i}", "red" if i % every == 0 else f"c{i % 97}", i)
        batch.append((item.id, store.codec.encode(dataclasses.asdict(item))))
        if len(batch) == 1000:
            store._set_many("items", batch, None)
            batch = []
    if batch:
        store._set_many("items", batch, None)
    assert store.count("items") == records
    assert len(store.filter_record("items", Item, color="red")) == 10
    get_rate = statistics.median(rate(lambda: store.get_record("items", Item, "r5"), 500) for _ in range(3))
    filter_rate = statistics.median(
        rate(lambda: store.filter_record("items", Item, color="red"), 100) for _ in range(3)
    )
    label = f"filter(10 of {records:,}) vs get_record"
    print(f"{label:<36} get_record {get_rate:,.0f}/s  filter {filter_rate:,.0f}/s  "
          f"cost ratio {get_rate / filter_rate:.1f}x (target < 100x)")  # fmt: skip
    store.drop_schema("items")


def run_one(port: int, name: str, side: str, count: int) -> None:
    """The callgrind child: build the cases, call every side of every case once (the same warm-up in every
    run, so one baseline run serves all), then ``count`` calls of one side of one case."""
    cases, stores = build_cases(port)
    for raw, ours, _, _ in cases.values():
        raw()
        ours()
    if count:
        raw, ours, _, _ = cases[name]
        fn = raw if side == "raw" else ours
        for _ in range(count):
            fn()
    for store in stores:
        store.close()


def instructions(port: int, count: int, only: str = "") -> None:
    """Client instructions per operation, raw vs polykv, counted by callgrind (N calls minus 0 calls)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    names, _ = build_cases(port)
    print(f"client instructions per call (callgrind, {count} calls minus 0); ratio = raw / polykv\n")
    with tempfile.TemporaryDirectory() as tmp:

        def total(name: str, side: str, n: int) -> int:
            out = Path(tmp) / f"cg.{side}.{n}"
            subprocess.run(  # noqa: S603 - our own interpreter and script
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,  # noqa: S607
                 "--port", str(port), "--run-one", name, side, str(n)],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict and set layouts in every run
            )  # fmt: skip
            match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
            assert match is not None
            return int(match.group(1))

        base = total(next(iter(names)), "raw", 0)
        for name in names:
            if only not in name:
                continue
            per = {side: (total(name, side, count) - base) / count for side in ("raw", "polykv")}
            print(f"{name:<36} raw {per['raw']:>10,.0f}  polykv {per['polykv']:>10,.0f}  "
                  f"ratio {per['raw'] / per['polykv']:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--instructions",
        type=int,
        nargs="?",
        const=1000,
        default=None,
        metavar="N",
        help="count instructions per call with callgrind over N calls (default 1000)",
    )
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    parser.add_argument("--run-one", nargs=3, metavar=("CASE", "SIDE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()  # fmt: skip
    if args.run_one:
        name, side, n = args.run_one
        run_one(args.port, name, side, int(n))
        return
    server = None if args.port else RedisServer().start()
    port = args.port or server.port  # type: ignore[union-attr]
    try:
        if args.instructions is not None:
            instructions(port, args.instructions, args.only)
            return
        cases, stores = build_cases(port)
        print(f"redis-server 127.0.0.1:{port}; {args.rounds} x 10 alternating pairs; shared 2-core machine\n")
        ours = {name: compare(name, case, args.rounds) for name, case in cases.items()}
        limit = redis_benchmark(port)
        print(f"{'redis-benchmark -c 1 -P 16 -t get':<36} {limit:>10,.0f}/s  polykv get_many(100) keys/s / limit = "
              f"{ours['bytes codec: get_many(100) vs MGET'] / limit:.2f}x (bytes), "
              f"{ours['get_many(100) keys/s vs MGET'] / limit:.2f}x (json)")  # fmt: skip
        filter_benchmark(stores[0], args.records)
        for store in stores:
            store.close()
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
