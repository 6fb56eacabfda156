"""Throughput of the sqlite and memory stores next to the raw libraries they are measured against.

Run: ``python benchmarks/bench_stores.py [--quick]``. Everything runs in one process, one after the other,
on the same machine state; each figure is the best of ``REPEATS`` timed rounds. Prints operations per
second and the ratios the project targets (issue 3); asserts nothing about time.

sqlite (WAL, ``synchronous=NORMAL`` everywhere: a commit survives a process crash, the last commits can be
lost on power loss):
  * polykv ``SQLiteStore`` vs raw ``sqlite3`` (one table ``key TEXT PRIMARY KEY, value BLOB``, autocommit
    single-row writes, ``IN (...)`` batch reads, ``executemany`` batch writes in one transaction) vs
    ``diskcache.Cache`` (its defaults: WAL, synchronous NORMAL; no native batches, so loops inside
    ``transact()`` for writes). Values are bytes of 100 B and 10 KB; polykv uses ``codec="bytes"``, so all
    three store the same bytes. A second table repeats it with the json codec (str values) against raw
    sqlite3 + json.dumps/loads.
  * ``filter_record`` over 100k records: equality on an ``__indexes__`` field (expression index) vs the same
    query with no index (decodes every record).
memory (json codec): ``MemoryStore`` set/get vs minimalkv's ``DictStore`` and vs a plain dict with
``json.dumps``/``json.loads``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import diskcache
from minimalkv.memory import DictStore

from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.records import Record

REPEATS = 3
BATCH = 100


def best(run: Callable[[], int], repeats: int = REPEATS) -> float:
    """Operations per second of the fastest of ``repeats`` rounds (``run`` returns its operation count)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        ops = run()
        rates.append(ops / (time.perf_counter() - start))
    return max(rates)


def interleaved(runs: list[Callable[[], int]], repeats: int = REPEATS) -> list[float]:
    """Best rate of each contender, timed round by round in turn so that load spikes hit all of them."""
    rates: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            ops = run()
            rates[i].append(ops / (time.perf_counter() - start))
    return [max(r) for r in rates]


# == raw sqlite3 baseline ===========================================================================
class RawSQLite:
    """What a careful hand-written sqlite3 key-value table does: the baseline for the same work."""

    UPSERT = "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"

    def __init__(
        self, path: str, encode: Callable[[Any], Any] | None = None, decode: Callable[[Any], Any] | None = None
    ):
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode = WAL")
        self.con.execute("PRAGMA synchronous = NORMAL")
        self.con.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        self.encode = encode or (lambda v: v)
        self.decode = decode or (lambda v: v)

    def set(self, key: str, value: Any) -> None:
        self.con.execute(self.UPSERT, (key, self.encode(value)))

    def get(self, key: str) -> Any:
        row = self.con.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else self.decode(row[0])

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        sql = f"SELECT key, value FROM kv WHERE key IN ({', '.join('?' * len(keys))})"
        return {k: self.decode(v) for k, v in self.con.execute(sql, keys)}

    def set_many(self, items: dict[str, Any]) -> None:
        self.con.execute("BEGIN IMMEDIATE")
        self.con.executemany(self.UPSERT, [(k, self.encode(v)) for k, v in items.items()])
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


class DiskCache:
    """``diskcache.Cache`` behind the same four calls (it has no batch API of its own)."""

    def __init__(self, directory: str) -> None:
        self.cache = diskcache.Cache(directory)

    def set(self, key: str, value: Any) -> None:
        self.cache.set(key, value)

    def get(self, key: str) -> Any:
        return self.cache.get(key)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        get = self.cache.get
        return {k: v for k in keys if (v := get(k)) is not None}

    def set_many(self, items: dict[str, Any]) -> None:
        with self.cache.transact():
            for k, v in items.items():
                self.cache.set(k, v)

    def close(self) -> None:
        self.cache.close()


OPS = ["set", "get", "get_many", "set_many"]


def kv_rates(stores: list[Any], make_value: Callable[[int], Any], n_writes: int, n_reads: int) -> list[list[float]]:
    """set / get / get_many / set_many throughput (operations = keys) of each store, interleaved.

    Every write round stores a different value (``make_value(round)``): rewriting identical bytes lets
    SQLite skip the page write and would flatter whoever does it.
    """
    keys = [f"key_{i:07d}" for i in range(n_writes)]
    batches = [keys[i : i + BATCH] for i in range(0, len(keys), BATCH)]

    def sets(store: Any, value: Any) -> Callable[[], int]:
        def run() -> int:
            for k in keys:
                store.set(k, value)
            return len(keys)

        return run

    def gets(store: Any) -> Callable[[], int]:
        def run() -> int:
            get = store.get
            done = 0
            while done < n_reads:
                for k in keys:
                    get(k)
                done += len(keys)
            return done

        return run

    def get_manys(store: Any) -> Callable[[], int]:
        def run() -> int:
            done = 0
            while done < n_reads:
                for batch in batches:
                    store.get_many(batch)
                done += len(keys)
            return done

        return run

    def set_manys(store: Any, value: Any) -> Callable[[], int]:
        def run() -> int:
            for batch in batches:
                store.set_many(dict.fromkeys(batch, value))
            return len(keys)

        return run

    def rounds(factory: Callable[[Any, Any], Callable[[], int]], first_round: int) -> list[float]:
        rates: list[list[float]] = [[] for _ in stores]
        for r in range(REPEATS):
            value = make_value(first_round + r)
            for i, store in enumerate(stores):
                rates[i].extend(interleaved([factory(store, value)], repeats=1))
        return [max(x) for x in rates]

    set_rates = rounds(sets, 1)
    last = make_value(REPEATS)
    assert all(store.get(keys[0]) == last for store in stores)
    get_rates = interleaved([gets(store) for store in stores])
    get_many_rates = interleaved([get_manys(store) for store in stores])
    set_many_rates = rounds(set_manys, 100)
    return [list(r) for r in zip(set_rates, get_rates, get_many_rates, set_many_rates, strict=True)]


def table(
    title: str, columns: list[str], rows: list[tuple[str, list[float]]], ratios: list[tuple[str, int, int, float]]
) -> None:
    print(f"\n{title}")
    print(f"  {'':<22}" + "".join(f"{c:>14}" for c in columns))
    for name, values in rows:
        print(f"  {name:<22}" + "".join(f"{v:>14,.0f}" for v in values))
    for label, a, b, target in ratios:
        print(
            f"  {label:<22}"
            + "".join(f"{rows[a][1][i] / rows[b][1][i]:>14.2f}" for i in range(len(columns)))
            + f"   (target {target})"
        )


def bench_sqlite(folder: str, quick: bool) -> None:
    ops = OPS
    for size in (100, 10_000):
        n_writes = 500 if quick else 2000
        n_reads = 10_000 if quick else 40_000
        payload = os.urandom(size)

        def make_value(round_: int, payload: bytes = payload) -> bytes:
            return round_.to_bytes(4, "big") + payload[4:]

        stores: list[tuple[str, Any]] = [
            ("polykv sqlite", SQLiteStore(os.path.join(folder, f"p{size}.db"), codec="bytes")),
            ("raw sqlite3", RawSQLite(os.path.join(folder, f"r{size}.db"))),
            ("diskcache.Cache", DiskCache(os.path.join(folder, f"d{size}"))),
        ]
        rates = kv_rates([store for _, store in stores], make_value, n_writes, n_reads)
        rows = [(name, r) for (name, _), r in zip(stores, rates, strict=True)]
        for _, store in stores:
            store.close()
        table(
            f"sqlite, {size:,}-byte values, bytes codec (ops/s; keys/s for batches of {BATCH})",
            ops,
            rows,
            [("polykv / raw sqlite3", 0, 1, ">= 0.6"), ("polykv / diskcache", 0, 2, ">= 1.5")],
        )
    # the same with the json codec: str values, raw sqlite3 doing json.dumps/loads itself
    json_stores: list[tuple[str, Any]] = [
        ("polykv sqlite (json)", SQLiteStore(os.path.join(folder, "pj.db"))),
        ("raw sqlite3 + json", RawSQLite(os.path.join(folder, "rj.db"), lambda v: json.dumps(v).encode(), json.loads)),
    ]
    rates = kv_rates(
        [store for _, store in json_stores],
        lambda r: f"{r:08d}" + "x" * 90,
        500 if quick else 2000,
        10_000 if quick else 40_000,
    )
    rows = [(name, r) for (name, _), r in zip(json_stores, rates, strict=True)]
    for _, store in json_stores:
        store.close()
    table("sqlite, 100-byte JSON str values (ops/s)", ops, rows, [("polykv / raw sqlite3", 0, 1, ">= 0.6")])


@dataclasses.dataclass
class Person(Record):
    __schema_name__ = "people"
    __indexes__ = ("email",)
    id: str
    email: str
    age: int


@dataclasses.dataclass
class PersonNoIndex(Record):
    id: str
    email: str
    age: int


def bench_filter(folder: str, quick: bool) -> None:
    n = 20_000 if quick else 100_000
    store = SQLiteStore(os.path.join(folder, "filter.db"))
    # bulk load through the backend primitive (one transaction per 5,000 records)
    encode = store.codec.encode
    items = [(f"p{i:06d}", encode({"id": f"p{i:06d}", "email": f"u{i}@example.com", "age": i % 90})) for i in range(n)]
    start = time.perf_counter()
    for i in range(0, n, 5000):
        store._set_many("people", items[i : i + 5000], None)
    load = time.perf_counter() - start
    start = time.perf_counter()
    first = store.filter_record("people", Person, email="u77@example.com")
    create = time.perf_counter() - start
    assert [p.id for p in first] == ["p000077"]

    def indexed() -> int:
        for i in range(200):
            store.filter_record("people", Person, email=f"u{i * 37}@example.com")
        return 200

    def scanned() -> int:
        store.filter_record("people", PersonNoIndex, email="u77@example.com")
        return 1

    q_indexed, q_scanned = best(indexed), best(scanned, repeats=2)

    def upserts() -> int:
        for i in range(300):
            store.upsert_record("people", f"q{i}", Person(f"q{i}", "w@x", 1))
        return 300

    write_with_index = best(upserts)
    print(f"\nfilter_record over {n:,} records (sqlite, json codec; bulk load {n / load:,.0f} records/s)")
    print(f"  first indexed query (creates the expression index): {create * 1000:8.1f} ms")
    print(
        f"  indexed equality (1 match, reads 1 row):            {1000 / q_indexed:8.3f} ms/query  ({q_indexed:,.0f}/s)"
    )
    print(f"  unindexed equality (decodes all {n:,}):            {1000 / q_scanned:8.1f} ms/query")
    print(f"  indexed / unindexed speed-up:                       {q_indexed / q_scanned:8.0f}x")
    print(f"  upsert_record with the index present:               {write_with_index:8,.0f}/s")
    store.close()


def bench_memory(quick: bool) -> None:
    n = 20_000 if quick else 100_000
    keys = [f"key_{i:07d}" for i in range(n)]
    value = {"name": "Ada Lovelace", "tags": ["math", "engines"], "n": 1815, "ok": True}  # ~70 B as JSON
    memory = MemoryStore()
    minimal = DictStore()
    plain: dict[str, bytes] = {}
    dumps, loads = json.dumps, json.loads

    def mem_set() -> int:
        s = memory.set
        for k in keys:
            s(k, value)
        return n

    def mem_get() -> int:
        g = memory.get
        for k in keys:
            g(k)
        return n

    def mkv_set() -> int:  # minimalkv stores bytes only: it is given JSON bytes, as a user would
        p = minimal.put
        for k in keys:
            p(k, dumps(value).encode())
        return n

    def mkv_get() -> int:
        g = minimal.get
        for k in keys:
            loads(g(k))
        return n

    def mkv_set_raw() -> int:
        p = minimal.put
        data = dumps(value).encode()
        for k in keys:
            p(k, data)
        return n

    def mkv_get_raw() -> int:
        g = minimal.get
        for k in keys:
            g(k)
        return n

    def dict_set() -> int:
        for k in keys:
            plain[k] = dumps(value).encode()
        return n

    def dict_get() -> int:
        for k in keys:
            loads(plain[k])
        return n

    sets = interleaved([mem_set, mkv_set, mkv_set_raw, dict_set], repeats=5)
    gets = interleaved([mem_get, mkv_get, mkv_get_raw, dict_get], repeats=5)
    names = ["polykv memory (json)", "minimalkv DictStore+json", "minimalkv DictStore bytes", "dict + json"]
    rows = [(name, [s, g]) for name, s, g in zip(names, sets, gets, strict=True)]
    assert memory.get(keys[-1]) == value
    table(
        "memory store (ops/s)",
        ["set", "get"],
        rows,
        [
            ("polykv / minimalkv+json", 0, 1, ">= 1.0"),
            ("polykv / minimalkv bytes", 0, 2, "(no json work)"),
            ("polykv / dict+json", 0, 3, ">= 0.67, i.e. cost <= 1.5x"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer operations (a smoke run)")
    parser.add_argument("--only", choices=["sqlite", "filter", "memory"], help="run one section")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} (a shared machine: expect a few % to 20 % run-to-run noise)"
    )
    with tempfile.TemporaryDirectory(prefix="polykv-bench-") as folder:
        if args.only in (None, "sqlite"):
            bench_sqlite(folder, args.quick)
        if args.only in (None, "filter"):
            bench_filter(folder, args.quick)
        if args.only in (None, "memory"):
            bench_memory(args.quick)


if __name__ == "__main__":
    main()
