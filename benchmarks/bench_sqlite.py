"""The sqlite store next to raw ``sqlite3`` on the same work, in the same process; prints ratios (not a test).

One command prints every figure of issue 14's sqlite part::

    .venv/bin/python benchmarks/bench_sqlite.py --instructions --growth 10000,100000,1000000

Both sides use WAL and ``synchronous=NORMAL``, 100-byte values and the ``bytes`` codec (so both store the
same bytes). The raw side is what a careful hand-written key-value table does: one table ``(key TEXT PRIMARY
KEY, value BLOB)``, autocommit single-row ``INSERT ... ON CONFLICT`` writes, ``SELECT value ... WHERE key =
?`` reads, one ``IN (...)`` query per batch read and one ``executemany`` in one ``BEGIN IMMEDIATE``
transaction per batch write. Each side has its own file holding the same 10,000 keys.

Wall clock: each case alternates short raw and polykv runs (``--rounds`` x 10 pairs, order flipped every
pair; ``polykv.testing.benchmarking.paired``) so that CPU noise hits both sides alike, and prints both
rates, the median ratio polykv/raw and the spread (middle half of the pair ratios). Every write stores new
bytes (a counter in the value).

``--instructions [N]`` also counts CPU instructions per call with valgrind's callgrind (SQLite runs in the
process, so its work is counted too; waiting on the disk is not): each side of each case runs in a child
under callgrind with N and 3N calls, and the difference / 2N is one call's cost. The ratio raw/polykv is
the throughput ratio when the CPU is the limit.

``--growth SIZES`` prints how ``count()``, ``count(schema)``, ``count(prefix=)`` and listing 1,000 keys
under a prefix (``keys_by_prefix``) grow with the number of keys in the store, next to raw ``count(*)``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from polykv.backends.sqlite import SQLiteStore
from polykv.testing.benchmarking import Case, marginal_instructions, paired

PREFIX_COUNT = "SELECT count(*) FROM kv WHERE key >= 'match:' AND key < 'match;'"
PREFIX_LIST = "SELECT key FROM kv WHERE key >= 'match:' AND key < 'match;' ORDER BY key"
KEYS = 10_000
BATCH = 100
SIZE = 100
UPSERT = "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"


def raw_connection(path: str) -> sqlite3.Connection:
    """The raw side: autocommit, WAL, synchronous NORMAL, one plain key-value table."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB)")
    return con


def values() -> Iterator[bytes]:
    """100-byte values that differ from call to call (a counter in the first 8 bytes)."""
    tail = os.urandom(SIZE - 8)
    for n in itertools.count():
        yield n.to_bytes(8, "big") + tail


def load(folder: str) -> None:
    """Write the two files: the same KEYS keys of SIZE-byte values on each side."""
    pairs = [(f"key_{i:07d}", os.urandom(SIZE)) for i in range(KEYS)]
    con = raw_connection(os.path.join(folder, "raw.db"))
    con.execute("BEGIN IMMEDIATE")
    con.executemany(UPSERT, pairs)
    con.execute("COMMIT")
    con.close()
    with SQLiteStore(os.path.join(folder, "polykv.db"), codec="bytes") as store:
        store.set_many(pairs)


def build_cases(folder: str) -> tuple[dict[str, Case], Callable[[], None], list[sqlite3.Connection]]:
    """Every raw-vs-polykv pair on the files ``load`` wrote; returns the cases, a function closing both sides
    and their two connections (the raw one and the store's on this thread)."""
    con = raw_connection(os.path.join(folder, "raw.db"))
    store = SQLiteStore(os.path.join(folder, "polykv.db"), codec="bytes")
    keys = [f"key_{i:07d}" for i in range(KEYS)]
    batches = [keys[i : i + BATCH] for i in range(0, KEYS, BATCH)]
    in_list = f"SELECT key, value FROM kv WHERE key IN ({', '.join('?' * BATCH)})"
    raw_keys, our_keys = itertools.cycle(keys), itertools.cycle(keys)
    raw_batches, our_batches = itertools.cycle(batches), itertools.cycle(batches)
    raw_values, our_values = values(), values()
    raw_new, our_new = itertools.count(), itertools.count()

    def raw_set() -> None:
        con.execute(UPSERT, (next(raw_keys), next(raw_values)))

    def our_set() -> None:
        store.set(next(our_keys), next(our_values))

    def raw_get() -> Any:
        row = con.execute("SELECT value FROM kv WHERE key = ?", (next(raw_keys),)).fetchone()
        return None if row is None else row[0]

    def our_get() -> Any:
        return store.get(next(our_keys))

    def raw_get_many() -> dict[str, bytes]:
        return dict(con.execute(in_list, next(raw_batches)).fetchall())

    def our_get_many() -> dict[str, Any]:
        return store.get_many(next(our_batches))

    def raw_set_many(batch: list[str]) -> None:
        value = next(raw_values)
        con.execute("BEGIN IMMEDIATE")
        con.executemany(UPSERT, [(key, value) for key in batch])
        con.execute("COMMIT")

    def our_set_many(batch: list[str]) -> None:
        store.set_many(dict.fromkeys(batch, next(our_values)))

    def fresh(counter: Iterator[int], side: str) -> list[str]:
        n = next(counter)  # keys no earlier run wrote, callgrind's children included
        return [f"new_{side}_{os.getpid()}_{n:07d}_{i:03d}" for i in range(BATCH)]

    cases: dict[str, Case] = {
        "set (overwrite)": (raw_set, our_set, 1, 2000),
        "get": (raw_get, our_get, 1, 4000),
        f"get_many({BATCH})": (raw_get_many, our_get_many, BATCH, 400),
        f"set_many({BATCH}) overwrite": (
            lambda: raw_set_many(next(raw_batches)),
            lambda: our_set_many(next(our_batches)),
            BATCH,
            200,
        ),
        f"set_many({BATCH}) new keys": (
            lambda: raw_set_many(fresh(raw_new, "r")),
            lambda: our_set_many(fresh(our_new, "p")),
            BATCH,
            200,
        ),
    }

    def close() -> None:
        con.close()
        store.close()

    return cases, close, [con, store._con()]


def compare(cases: dict[str, Case], rounds: int, only: str) -> None:
    for name, case in cases.items():
        if only not in name:
            continue
        result = paired(case, rounds)
        print(
            f"{name:<28} raw {result.raw_rate:>10,.0f}/s  polykv {result.our_rate:>10,.0f}/s  "
            f"ratio median {result.median:.2f}x  (middle half {result.q1:.2f}-{result.q3:.2f})",
            flush=True,
        )


def run_one(folder: str, name: str, side: str, count: int) -> None:
    """The callgrind child: build the cases, start both files from an empty WAL (so that no run inherits a
    checkpoint another run left pending: its cost would not cancel out), call both sides of case ``name`` a
    few times, then ``count`` calls of one side."""
    cases, close, connections = build_cases(folder)
    for con in connections:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw, ours, _, _ = cases[name]
    for _ in range(3):
        raw()
        ours()
    fn = raw if side == "raw" else ours
    for _ in range(count):
        fn()
    close()


def instructions(folder: str, cases: list[str], count: int, only: str) -> None:
    print(f"\ninstructions per call (callgrind, marginal over {count}..{3 * count} calls); ratio = raw / polykv")
    for name in cases:
        if only not in name:
            continue
        per = {}
        for side in ("raw", "polykv"):

            def command(n: int, side: str = side, name: str = name) -> list[str]:
                return [sys.executable, __file__, "--folder", folder, "--run-one", name, side, str(n)]

            per[side] = marginal_instructions(command, count)
        ratio = per["raw"] / per["polykv"]
        print(f"{name:<28} raw {per['raw']:>10,.0f}  polykv {per['polykv']:>10,.0f}  ratio {ratio:.2f}x", flush=True)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, float]:
    """Median, fastest and slowest of ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), max(times)


def growth(folder: str, sizes: list[int], repeats: int) -> None:
    """``count()``, ``count(schema)``, ``count(prefix=)`` of 1,000 keys and listing those 1,000 keys, in a
    store (and a raw table) that also holds ``size`` other keys, and as many records of one schema."""
    con = raw_connection(os.path.join(folder, "growth-raw.db"))
    store = SQLiteStore(os.path.join(folder, "growth.db"), codec="bytes")
    blob = os.urandom(SIZE)
    matching = [(f"match:{i:04d}", blob) for i in range(1000)]
    store.set_many(matching)
    con.execute("BEGIN IMMEDIATE")
    con.executemany(UPSERT, matching)
    con.execute("COMMIT")
    print(f"\ngrowth: milliseconds per call, median (fastest-slowest) of {repeats}; 1,000 keys match 'match:'")
    print(
        f"{'other keys':>10} | {'raw count(*)':>20} {'count()':>20} {'count(schema)':>20} | "
        f"{'raw prefix count':>20} {'count(prefix=)':>20} | {'raw list prefix':>20} {'keys_by_prefix':>20}"
    )
    loaded = 0
    for size in sizes:
        while loaded < size:
            step = min(20_000, size - loaded)
            pairs = [(f"other:{i:08d}", blob) for i in range(loaded, loaded + step)]
            store.set_many(pairs)
            store._set_many("records", pairs, None)  # the same number of records in one schema
            con.execute("BEGIN IMMEDIATE")
            con.executemany(UPSERT, pairs)
            con.execute("COMMIT")
            loaded += step
        assert store.count() == size + 1000 and store.count("records") == size
        cells = [
            timed(lambda: con.execute("SELECT count(*) FROM kv").fetchone(), repeats),
            timed(store.count, repeats),
            timed(lambda: store.count("records"), repeats),
            timed(lambda: con.execute(PREFIX_COUNT).fetchone(), repeats),
            timed(lambda: store.count(prefix="match:"), repeats),
            timed(lambda: con.execute(PREFIX_LIST).fetchall(), repeats),
            timed(lambda: list(store.keys_by_prefix("match:")), repeats),
        ]
        text = [f"{m:8.3f} ({lo:.3f}-{hi:.3f})" for m, lo, hi in cells]
        print(f"{size:>10,} | {text[0]:>20} {text[1]:>20} {text[2]:>20} | {text[3]:>20} {text[4]:>20} | "
              f"{text[5]:>20} {text[6]:>20}", flush=True)  # fmt: skip
    con.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="x 10 alternating pairs per case")
    parser.add_argument(
        "--instructions",
        type=int,
        nargs="?",
        const=300,
        default=None,
        metavar="N",
        help="count instructions per call with callgrind, marginal over N..3N calls (default 300)",
    )
    parser.add_argument(
        "--growth",
        default="10000,100000",
        metavar="SIZES",
        help="sizes of the count/prefix growth table (default 10000,100000; '' for none), e.g. 10000,100000,1000000",
    )
    parser.add_argument("--growth-repeats", type=int, default=7)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--run-one", nargs=3, metavar=("CASE", "SIDE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        name, side, n = args.run_one
        run_one(args.folder, name, side, int(n))
        return
    print(
        f"python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; WAL, synchronous=NORMAL, {SIZE}-byte values, {args.rounds} x 10 pairs\n"
    )
    with tempfile.TemporaryDirectory(prefix="polykv-bench-sqlite-") as folder:
        load(folder)
        cases, close, _ = build_cases(folder)
        compare(cases, args.rounds, args.only)
        close()
        if args.instructions is not None:
            instructions(folder, list(cases), args.instructions, args.only)
        if args.growth:
            growth(folder, [int(n) for n in args.growth.split(",")], args.growth_repeats)


if __name__ == "__main__":
    main()
