"""polykv-redis vs raw redis-py on the same pool, in the same process; prints ratios (not a test).

Usage: ``.venv/bin/python plugins/polykv-redis/benchmarks/bench_redis.py [--rounds 5] [--port PORT]``.
Without ``--port`` it starts its own redis-server on a free 127.0.0.1 port and stops it at the end.
Rounds alternate raw and polykv runs so CPU noise hits both; the spread over rounds is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any, ClassVar

from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisServer


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


def compare(name: str, raw: Callable[[], Any], ours: Callable[[], Any], repeat: int, rounds: int, unit: float = 1):
    ratios, raw_rates, our_rates = [], [], []
    for _ in range(rounds):
        r = rate(raw, repeat) * unit
        o = rate(ours, repeat) * unit
        raw_rates.append(r)
        our_rates.append(o)
        ratios.append(o / r)
    print(
        f"{name:<34} raw {statistics.median(raw_rates):>10,.0f}/s  polykv {statistics.median(our_rates):>10,.0f}/s  "
        f"ratio median {statistics.median(ratios):.2f}x  (min {min(ratios):.2f}, max {max(ratios):.2f})"
    )
    return statistics.median(our_rates)


def redis_benchmark(port: int) -> float:
    out = subprocess.run(
        ["redis-benchmark",  # noqa: S607 - found on PATH like redis-server, "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-P", "16", "-t", "get", "-n", "200000",
         "-q"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    match = re.search(r"GET: ([\d.]+) requests per second", out.replace("\r", "\n"))
    if match is None:
        raise RuntimeError(f"cannot parse redis-benchmark output: {out!r}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    server = None if args.port else RedisServer().start()
    port = args.port or server.port  # type: ignore[union-attr]
    store = RedisStore(port=port, prefix="bench")
    try:
        raw = store.manager.acquire().connection  # the very client (and pool) the store uses
        print(f"redis-server 127.0.0.1:{port}; {args.rounds} rounds; shared 2-core machine: expect noise\n")
        store.set("k", {"v": 1})
        payload = store.codec.encode({"v": 1})
        raw.set(store.layout.kv("raw"), payload)
        compare("get (single key)", lambda: raw.get("bench:k:raw"), lambda: store.get("k"), 2000, args.rounds)
        compare("set (single key)", lambda: raw.set("bench:k:raw", payload), lambda: store.set("k", {"v": 1}), 2000,
                args.rounds)  # fmt: skip

        keys = [f"m{i}" for i in range(100)]
        names = [store.layout.kv(k) for k in keys]
        store.set_many({k: {"v": i} for i, k in enumerate(keys)})
        values = {k: {"v": i} for i, k in enumerate(keys)}
        encoded = {store.layout.kv(k): store.codec.encode(v) for k, v in values.items()}
        decode = store.codec.decode
        def raw_decoded() -> dict[str, Any]:
            return {k: decode(v) for k, v in zip(keys, raw.mget(names), strict=True)}

        compare("get_many(100) vs MGET+decode", raw_decoded, lambda: store.get_many(keys), 300, args.rounds, unit=100)
        compare("get (single) vs GET+decode", lambda: decode(raw.get("bench:k:raw")), lambda: store.get("k"), 2000,
                args.rounds)  # fmt: skip
        ours_mget = compare("get_many(100) keys/s vs MGET", lambda: raw.mget(names), lambda: store.get_many(keys),
                            300, args.rounds, unit=100)  # fmt: skip
        compare("set_many(100) keys/s vs MSET", lambda: raw.mset(encoded), lambda: store.set_many(values), 300,
                args.rounds, unit=100)  # fmt: skip
        # the same batches with the bytes codec: no JSON on either side, so only polykv's own layer differs
        raw_store = RedisStore(port=port, prefix="benchb", codec="bytes")
        try:
            blobs = {k: b"x" * 100 for k in keys}
            raw_store.set_many(blobs)
            bnames = [raw_store.layout.kv(k) for k in keys]
            bencoded = {raw_store.layout.kv(k): v for k, v in blobs.items()}
            compare("bytes codec: get_many(100) vs MGET", lambda: raw.mget(bnames), lambda: raw_store.get_many(keys),
                    300, args.rounds, unit=100)  # fmt: skip
            compare("bytes codec: set_many(100) vs MSET", lambda: raw.mset(bencoded),
                    lambda: raw_store.set_many(blobs), 300, args.rounds, unit=100)  # fmt: skip
        finally:
            raw_store.close()
        limit = redis_benchmark(port)
        print(f"{'redis-benchmark -c 1 -P 16 -t get':<34} {limit:>10,.0f}/s  get_many(100)/limit = "
              f"{ours_mget / limit:.2f}x")  # fmt: skip

        # filter on an indexed field: 10 matches among N records (loaded through the pipelined write path)
        store.drop_schema("items")
        store._learn_indexes("items", Item.__indexes__)
        every = args.records // 10
        batch = []
        for i in range(args.records):
            item = Item(f"r{i}", "red" if i % every == 0 else f"c{i % 97}", i)
            batch.append((item.id, store.codec.encode(dataclasses.asdict(item))))
            if len(batch) == 1000:
                store._set_many("items", batch, None)
                batch = []
        if batch:
            store._set_many("items", batch, None)
        assert store.count("items") == args.records
        assert len(store.filter_record("items", Item, color="red")) == 10
        get_rate = statistics.median(rate(lambda: store.get_record("items", Item, "r5"), 500) for _ in range(3))
        filter_rate = statistics.median(
            rate(lambda: store.filter_record("items", Item, color="red"), 100) for _ in range(3)
        )
        label = f"filter(10 of {args.records:,}) vs get_record"
        print(f"{label:<34} get_record {get_rate:,.0f}/s  filter {filter_rate:,.0f}/s  "
              f"cost ratio {get_rate / filter_rate:.1f}x (target < 100x)")  # fmt: skip
        store.drop_schema("items")
    finally:
        store.close()
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
