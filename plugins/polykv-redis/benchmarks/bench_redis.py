"""polykv-redis vs raw redis-py, in the same process; prints ratios (not a test).

One command prints every figure of issue 14::

    .venv/bin/python plugins/polykv-redis/benchmarks/bench_redis.py --instructions --growth 10000,100000,1000000

Without ``--port`` it starts its own redis-server on a free 127.0.0.1 port and stops it at the end.

Wall clock: each case alternates short raw and polykv runs (``--rounds`` x 10 pairs, order flipped every
pair) so CPU noise hits both sides alike, and prints both rates, the median ratio polykv/raw and the spread
(middle half of the pair ratios). The raw side is a plain ``redis.Redis`` (hiredis parser) on the same
100-byte values; for the JSON batch cases it moves the same bytes with no encoding or decoding at all.

``--instructions [N]`` also counts client-side CPU instructions per call with valgrind's callgrind (the same
count whatever else the machine is doing): each side of each case runs under callgrind with N and 3N calls;
the difference / 2N is the cost of one call. The ratio raw/polykv is the throughput ratio when the client's
CPU is the limit; network and server time are equal on both sides.

``--growth SIZES`` prints how listing 1,000 matching keys (``fetch_by_prefix``), ``count(prefix=)`` and
``count()`` grow with the number of other keys in the database, without (SCAN) and with the key index.
``--filter`` times ``filter_record`` on an indexed field among ``--records`` records.
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
from typing import Any

from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisServer

from polykv.testing.benchmarking import Case, Item, filter_items, median_rate, paired


def compare(name: str, case: Case, rounds: int) -> float:
    """Alternate short raw/polykv runs; print rates and ratio quartiles; return polykv's median rate."""
    result = paired(case, rounds)
    print(
        f"{name:<36} raw {result.raw_rate:>10,.0f}/s  polykv {result.our_rate:>10,.0f}/s  "
        f"ratio median {result.median:.2f}x  (middle half {result.q1:.2f}-{result.q3:.2f})"
    )
    return result.our_rate


def build_cases(port: int) -> tuple[dict[str, Case], list[RedisStore]]:
    """Every raw-vs-polykv pair, on data written first. The raw side is a plain ``redis.Redis`` (its own pool,
    hiredis parser), as a user would call it, on the same 100-byte values the polykv side stores."""
    import redis

    raw = redis.Redis(port=port)
    store = RedisStore(port=port, prefix="bench")  # JSON, the default codec
    bstore = RedisStore(port=port, prefix="benchb", codec="bytes")
    istore = RedisStore(port=port, prefix="benchi", key_index=True)
    text = "x" * 98  # JSON-encoded: 100 bytes
    payload = store.codec.encode(text)
    blob = b"x" * 100
    assert len(payload) == 100
    store.set("k", text)
    bstore.set("k", blob)
    raw_name = "raw:k"
    raw.set(raw_name, payload)
    keys = [f"m{i}" for i in range(100)]
    raw_names = [f"raw:m{i}" for i in range(100)]
    raw_pairs = dict.fromkeys(raw_names, payload)
    raw.mset(raw_pairs)
    values = dict.fromkeys(keys, text)
    blobs = dict.fromkeys(keys, blob)
    store.set_many(values)
    bstore.set_many(blobs)
    istore.set_many(values)

    cases: dict[str, Case] = {
        "get (json)": (lambda: raw.get(raw_name), lambda: store.get("k"), 1, 2000),
        "set (json)": (lambda: raw.set(raw_name, payload), lambda: store.set("k", text), 1, 2000),
        "get (bytes)": (lambda: raw.get(raw_name), lambda: bstore.get("k"), 1, 2000),
        "set (bytes)": (lambda: raw.set(raw_name, payload), lambda: bstore.set("k", blob), 1, 2000),
        "set (json, key_index)": (lambda: raw.set(raw_name, payload), lambda: istore.set("k", text), 1, 2000),
        "get_many(100) bytes vs MGET": (lambda: raw.mget(raw_names), lambda: bstore.get_many(keys), 100, 300),
        "set_many(100) bytes vs MSET": (lambda: raw.mset(raw_pairs), lambda: bstore.set_many(blobs), 100, 300),
        "get_many(100) json vs MGET": (lambda: raw.mget(raw_names), lambda: store.get_many(keys), 100, 300),
        "set_many(100) json vs MSET": (lambda: raw.mset(raw_pairs), lambda: store.set_many(values), 100, 300),
        "set_many(100) json, key_index": (lambda: raw.mset(raw_pairs), lambda: istore.set_many(values), 100, 300),
    }
    return cases, [store, bstore, istore]


def growth_table(port: int, sizes: list[int], repeats: int) -> None:
    """Listing 1,000 matching keys (``fetch_by_prefix``) and ``count``, in a database that also holds ``size``
    other keys: a store without the key index (SCAN) beside one with it. The other keys live in the indexed
    store (its index holds them all); the SCAN store's database holds them too."""
    import redis

    raw = redis.Redis(port=port)
    raw.flushdb()
    scan_store = RedisStore(port=port, prefix="gs", codec="bytes")
    index_store = RedisStore(port=port, prefix="gi", codec="bytes", key_index=True)
    matching = {f"match:{i:04}": b"v" * 100 for i in range(1000)}
    scan_store.set_many(matching)
    index_store.set_many(matching)
    print(f"\n{'other keys':>10} | {'SCAN fetch_by_prefix':>21} {'count(prefix)':>14} {'count()':>10} | "
          f"{'index fetch_by_prefix':>21} {'count(prefix)':>14} {'count()':>10} | fetch speed-up")  # fmt: skip
    loaded = 0
    for size in sizes:
        while loaded < size:
            step = min(10_000, size - loaded)
            index_store.set_many((f"other:{i}", b"o") for i in range(loaded, loaded + step))
            loaded += step

        def timed(fn: Callable[[], Any]) -> tuple[float, float]:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                fn()
                times.append(time.perf_counter() - started)
            return statistics.median(times), max(times) - min(times)

        assert index_store.count(prefix="match:") == 1000  # builds the index once (not timed)
        row = []
        for store in (scan_store, index_store):
            fetch = timed(lambda store=store: sum(1 for _ in store.fetch_by_prefix("match:")))
            counted = timed(lambda store=store: store.count(prefix="match:"))
            whole = timed(lambda store=store: store.count())
            row.append((fetch, counted, whole))

        def ms(pair: tuple[float, float]) -> str:
            return f"{pair[0] * 1000:9.1f} ±{pair[1] * 1000:.1f} ms"

        (sf, sc, sw), (xf, xc, xw) = row
        print(f"{size:>10,} | {ms(sf):>21} {ms(sc):>14} {ms(sw):>10} | {ms(xf):>21} {ms(xc):>14} {ms(xw):>10} | "
              f"{sf[0] / xf[0]:.0f}x")  # fmt: skip
    for store in (scan_store, index_store):
        store.close()
    raw.flushdb()


def filter_benchmark(store: RedisStore, records: int) -> None:
    """Filter on an indexed field: 10 matches among ``records`` (loaded through the pipelined write path)."""
    store.drop_schema("items")
    store._learn_indexes("items", Item.__indexes__)
    batch = []
    for item in filter_items(records):
        batch.append((item.id, store.codec.encode(dataclasses.asdict(item))))
        if len(batch) == 1000:
            store._set_many("items", batch, None)
            batch = []
    if batch:
        store._set_many("items", batch, None)
    assert store.count("items") == records
    assert len(store.filter_record("items", Item, color="red")) == 10
    get_rate = median_rate(lambda: store.get_record("items", Item, "r5"), 500, 3)
    filter_rate = median_rate(lambda: store.filter_record("items", Item, color="red"), 100, 3)
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
    """Client instructions per operation, raw vs polykv, counted by callgrind: the marginal cost, (cost of 3N
    calls - cost of N calls) / 2N, so start-up and warm-up (which vary by a few million instructions from run
    to run) cancel out."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    names, stores = build_cases(port)
    for store in stores:
        store.close()
    print(f"client instructions per call (callgrind, marginal over {count}..{3 * count} calls); "
          "ratio = raw / polykv\n")  # fmt: skip
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

        for name in names:
            if only not in name:
                continue
            per = {side: (total(name, side, 3 * count) - total(name, side, count)) / (2 * count)
                   for side in ("raw", "polykv")}  # fmt: skip
            print(f"{name:<36} raw {per['raw']:>10,.0f}  polykv {per['polykv']:>10,.0f}  "
                  f"ratio {per['raw'] / per['polykv']:.2f}x", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--records", type=int, default=100_000, help="records for --filter")
    parser.add_argument(
        "--instructions",
        type=int,
        nargs="?",
        const=500,
        default=None,
        metavar="N",
        help="count instructions per call with callgrind, marginal over N..3N calls (default 500)",
    )
    parser.add_argument("--filter", action="store_true", help="also time filter_record on an indexed field")
    parser.add_argument(
        "--growth",
        default="",
        metavar="SIZES",
        help="prefix listing/count growth table for these database sizes, e.g. 10000,100000,1000000",
    )
    parser.add_argument("--growth-repeats", type=int, default=5)
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
        cases, stores = build_cases(port)
        print(f"redis-server 127.0.0.1:{port}; {args.rounds} x 10 alternating pairs; shared 2-core machine\n")
        for name, case in cases.items():
            if args.only in name:
                compare(name, case, args.rounds)
        for store in stores:
            store.close()
        if args.instructions is not None:
            print()
            instructions(port, args.instructions, args.only)
        if args.filter:
            with RedisStore(port=port, prefix="benchf") as fstore:
                filter_benchmark(fstore, args.records)
        if args.growth:
            growth_table(port, [int(n) for n in args.growth.split(",")], args.growth_repeats)
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
