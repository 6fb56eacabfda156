"""polykv-postgres vs raw psycopg 3 on the same pool, in the same process; prints ratios (not a test).

Usage: ``.venv/bin/python plugins/polykv-postgres/benchmarks/bench_postgres.py [--rounds 5] [--port PORT]``.
Without ``--port`` it starts its own PostgreSQL cluster (``polykv_postgres.testing.PostgresServer``) on a
free 127.0.0.1 port and stops it at the end; with ``--port`` it uses table ``polykv_bench`` there.

Each comparison alternates short raw and polykv runs (``--rounds`` x 10 pairs, order flipped every pair) so
noise hits both sides alike, and prints the median ratio polykv/raw (throughput; > 1 is faster than raw)
and the spread of the middle half. The raw side checks a connection out of the store's own psycopg_pool
for each call, as the store does, and runs the statement a hand-written client would:

* get / set: ``cursor.execute`` of the same SELECT / upsert, prepared (``prepare=True``), binary results;
* get_many(100): one ``SELECT ... WHERE key = ANY(%s)`` and decoding the values;
* set_many(1000): ``executemany`` of the upsert (psycopg runs it in pipeline mode).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from polykv_postgres.store import PostgresStore
from polykv_postgres.testing import PostgresServer

from polykv.testing.benchmarking import Case, Item, filter_items, median_rate, paired


def compare(name: str, case: Case, rounds: int, target: float) -> float:
    """Alternate short raw/polykv runs; print rates and ratio quartiles; return the median ratio."""
    result = paired(case, rounds)
    verdict = "ok" if result.median >= target else "MISS"
    print(
        f"{name:<34} raw {result.raw_rate:>9,.0f}/s  polykv {result.our_rate:>9,.0f}/s  "
        f"ratio median {result.median:.2f}x (middle half {result.q1:.2f}-{result.q3:.2f}; "
        f"target >= {target}x: {verdict})"
    )
    return result.median


def build_cases(store: PostgresStore) -> dict[str, tuple[Case, float]]:
    """Every raw-vs-polykv pair, on data written first; the raw side uses the store's pool."""
    pool = store.manager.direct
    layout = store.layout
    store.set("k", {"v": 1})
    payload = store.codec.encode({"v": 1})
    decode = store.codec.decode
    keys = [f"m{i}" for i in range(100)]
    values = {k: {"v": i} for i, k in enumerate(keys)}
    store.set_many(values)
    many = {f"s{i}": {"v": i, "name": f"item {i}"} for i in range(1000)}
    encoded_many = [("", k, store.codec.encode(v), None) for k, v in many.items()]
    get_sql, set_sql, get_many_sql = layout.get, layout.set[False], layout.get_many

    def raw_get() -> Any:
        with pool.connection() as conn:
            row = conn.execute(get_sql, ("", "k"), prepare=True, binary=True).fetchone()
        return decode(row[0])

    def raw_set() -> None:
        with pool.connection() as conn:
            conn.execute(set_sql, ("", "k", payload, None), prepare=True)

    def raw_get_many() -> dict[str, Any]:
        with pool.connection() as conn:
            rows = conn.execute(get_many_sql, ("", keys), prepare=True, binary=True).fetchall()
        return {k: decode(v) for k, v in rows}

    def raw_set_many() -> None:
        with pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(set_sql, encoded_many)

    return {
        "get (single key)": ((raw_get, lambda: store.get("k"), 1, 2000), 0.9),
        "set (single key)": ((raw_set, lambda: store.set("k", {"v": 1}), 1, 2000), 0.9),
        "get_many(100) vs = ANY(%s)": ((raw_get_many, lambda: store.get_many(keys), 100, 300), 1.0),
        "set_many(1000) vs executemany": ((raw_set_many, lambda: store.set_many(many), 1000, 30), 1.0),
    }


def filter_benchmark(store: PostgresStore, records: int) -> None:
    """An indexed filter with 10 matches among ``records`` records vs one get_record."""
    store.drop_schema("items")
    batch: dict[str, Item] = {}
    for item in filter_items(records):
        batch[item.id] = item
        if len(batch) == 1000:
            store._set_many("items", [(k, store.codec.encode(dataclasses.asdict(v))) for k, v in batch.items()], None)
            batch = {}
    if batch:
        store._set_many("items", [(k, store.codec.encode(dataclasses.asdict(v))) for k, v in batch.items()], None)
    assert store.count("items") == records
    assert len(store.filter_record("items", Item, color="red")) == 10
    with store.manager.direct.connection() as conn:
        conn.execute(f'ANALYZE "{store.layout.table}"')
    get_rate = median_rate(lambda: store.get_record("items", Item, "r5"), 500, 5)
    filter_rate = median_rate(lambda: store.filter_record("items", Item, color="red"), 200, 5)
    cost = get_rate / filter_rate
    label = f"filter(10 of {records:,}) vs get_record"
    print(
        f"{label:<34} get_record {get_rate:,.0f}/s  filter {filter_rate:,.0f}/s  cost ratio {cost:.1f}x "
        f"(target <= 20x: {'ok' if cost <= 20 else 'MISS'})"
    )
    store.drop_schema("items")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    server = None if args.port else PostgresServer().start()
    port = args.port or server.port  # type: ignore[union-attr]
    store = PostgresStore(port=port, username="postgres", table="polykv_bench", max_connections=4)
    try:
        store.get("warm-up")
        print(f"PostgreSQL 127.0.0.1:{port}; {args.rounds} x 10 alternating pairs; shared 2-core machine\n")
        for name, (case, target) in build_cases(store).items():
            compare(name, case, args.rounds, target)
        filter_benchmark(store, args.records)
    finally:
        store.drop_tables()
        store.close()
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
