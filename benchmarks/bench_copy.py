"""``polykv.ops.copy`` of 100k records, sqlite -> Redis, against a hand-written raw loop.

Run: ``python benchmarks/bench_copy.py [N]``. Needs the sqlite store (core) and the Redis plugin
(``pip install -e plugins/polykv-redis``) and a ``redis-server`` binary: the script starts its own server on
a free 127.0.0.1 port and stops it (by pid) at the end. The raw loop reads the sqlite file with ``sqlite3``
(``SELECT key, value ... ORDER BY key``, the store's own table) and writes with redis-py pipelines of the
same batch size. Prints throughputs and the ratio polykv/raw (target >= 0.8); asserts nothing about time.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
BATCH = 1000
SCHEMA = "items"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not found (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                sys.exit("redis-server did not start")
            time.sleep(0.05)
    client.close()
    return process, port


def raw_copy(db: Path, port: int) -> float:
    import redis

    from polykv.backends.sqlite_sql import table_names

    client = redis.Redis(host="127.0.0.1", port=port)
    con = sqlite3.connect(db)
    started = time.perf_counter()
    table = table_names(SCHEMA).table  # layout 2: the schema's own table
    cursor = con.execute(f"SELECT key, value FROM {table} ORDER BY key")
    while rows := cursor.fetchmany(BATCH):
        pipe = client.pipeline(transaction=False)
        for key, value in rows:
            pipe.set(f"raw:{SCHEMA}:{key}", value)
        pipe.execute()
    elapsed = time.perf_counter() - started
    con.close()
    client.flushdb()
    client.close()
    return elapsed


def polykv_copy(db: Path, port: int, overwrite: bool) -> float:
    import polykv
    from polykv import ops

    src = polykv.connect(f"sqlite:///{db}")
    dst = polykv.connect(f"redis://127.0.0.1:{port}/0")
    try:
        started = time.perf_counter()
        result = ops.copy(src, dst, schemas=[SCHEMA], overwrite=overwrite, batch_size=BATCH)
        elapsed = time.perf_counter() - started
        if result.copied != N or dst.count(SCHEMA) != N:
            sys.exit(f"copy incomplete: {result}")
        dst.drop_schema(SCHEMA)
    finally:
        src.close()
        dst.close()
    return elapsed


def main() -> None:
    try:
        from polykv.backends.sqlite import SQLiteStore
        from polykv.urls import store_class_for_url

        store_class_for_url("redis://127.0.0.1/0")
    except Exception as exc:
        sys.exit(f"needs the sqlite store and the polykv-redis plugin: {type(exc).__name__}: {exc}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "src.db"
        with SQLiteStore(str(db)) as src:
            for start in range(0, N, 10_000):
                rows = [
                    (f"r{i:07d}", src.codec.encode({"id": i, "name": f"item {i}", "price": i * 0.01, "tags": ["a"]}))
                    for i in range(start, min(start + 10_000, N))
                ]
                src._set_many(SCHEMA, rows, None)
        process, port = start_redis(folder)
        try:
            rounds = 3
            raw, fast, safe = [], [], []
            for _ in range(rounds):  # interleaved against drift on the shared machine
                raw.append(raw_copy(db, port))
                fast.append(polykv_copy(db, port, overwrite=True))
                safe.append(polykv_copy(db, port, overwrite=False))
            best_raw = min(raw)
            print(f"== copy {N} records sqlite -> redis, batches of {BATCH}, best of {rounds}")
            print(f"raw sqlite3 + redis-py pipeline  {N / best_raw:10,.0f} records/s")
            for label, runs in (("ops.copy(overwrite=True) ", fast), ("ops.copy(overwrite=False)", safe)):
                print(f"{label}        {N / min(runs):10,.0f} records/s   ratio {best_raw / min(runs):.2f}x")
            print("(overwrite=False also reads the destination per batch to leave existing keys alone)")
            spread = max(raw) / min(raw)
            print(f"noise: raw runs spread {spread:.2f}x (max/min); 2 shared cores")
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
