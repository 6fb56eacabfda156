"""polykv-fsspec vs raw fsspec, same process: single put/get on local files, get_many of 100 on S3.

Run: ``.venv/bin/python plugins/polykv-fsspec/benchmarks/bench_fsspec.py`` (starts and stops its own S3
server). Prints ops/s and ratios; targets: put/get >= 0.8x raw, S3 get_many(100) >= 3x 100 sequential gets.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import fsspec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

from polykv_fsspec import FsspecStore, S3Store  # noqa: E402
from s3_server import S3Server  # noqa: E402


def best_rate(fn: Callable[[int], None], n: int, rounds: int = 3) -> float:
    """Best ops/s over ``rounds`` runs of ``fn(i)`` for i in range(n) (best-of damps a shared CPU's noise)."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = max(best, n / (time.perf_counter() - start))
    return best


def bench_local(n: int = 3000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fs = fsspec.filesystem("file")
        raw_dir = f"{tmp}/raw"
        fs.makedirs(raw_dir)
        value = b'{"name":"polykv","n":12345}'
        store = FsspecStore(f"file://{tmp}/polykv", codec="bytes")
        raw_put = best_rate(lambda i: fs.pipe_file(f"{raw_dir}/k{i % 500}", value), n)
        kv_put = best_rate(lambda i: store.set(f"k{i % 500}", value), n)
        raw_get = best_rate(lambda i: fs.cat_file(f"{raw_dir}/k{i % 500}"), n)
        kv_get = best_rate(lambda i: store.get(f"k{i % 500}"), n)
        for what, raw, ours in (("put", raw_put, kv_put), ("get", raw_get, kv_get)):
            print(f"local {what}: fsspec {raw:8.0f}/s  polykv {ours:8.0f}/s  ratio {ours / raw:.2f}x (target >= 0.8)")


def bench_s3() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = S3Server.start(Path(tmp))
        try:
            store = S3Store("bench", "polykv", endpoint_url=server.endpoint_url, key=server.access_key,
                            secret=server.secret_key)
            fs = store.fs
            deadline = time.monotonic() + 30
            while True:
                try:
                    fs.mkdir("bench")
                    break
                except FileExistsError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            keys = [f"rec:{i:03d}" for i in range(100)]
            store.set_many({k: {"i": i, "pad": "x" * 200} for i, k in enumerate(keys)})
            paths = [store._path("", k)[0] for k in keys]
            timings_raw, timings_many, timings_cat = [], [], []
            for _ in range(3):
                start = time.perf_counter()
                for path in paths:
                    fs.cat_file(path)
                timings_raw.append(time.perf_counter() - start)
                start = time.perf_counter()
                got = store.get_many(keys)
                timings_many.append(time.perf_counter() - start)
                assert len(got) == 100
                start = time.perf_counter()
                fs.cat(paths)
                timings_cat.append(time.perf_counter() - start)
            raw, many = min(timings_raw), min(timings_many)
            print(f"s3 raw fsspec cat of 100 paths (the concurrency ceiling here): {min(timings_cat) * 1000:7.1f} ms")
            print(f"s3 100 gets: sequential raw fsspec {raw * 1000:7.1f} ms  polykv get_many {many * 1000:7.1f} ms  "
                  f"ratio {raw / many:.1f}x faster (target >= 3)")
            store.close()
        finally:
            server.stop()


if __name__ == "__main__":
    bench_local()
    bench_s3()
