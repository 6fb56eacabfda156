"""polykv-fsspec vs raw fsspec, same process: single put/get on local files, get_many of 100 on S3.

Run: ``.venv/bin/python plugins/polykv-fsspec/benchmarks/bench_fsspec.py`` (starts and stops its own S3
servers: SeaweedFS ``weed mini``, and ``moto_server`` when installed: ``pip install 'plugins/polykv-fsspec[bench]'``).
Targets: put/get >= 0.8x raw fsspec; S3 get_many(100) >= 3x 100 sequential raw gets.

Raw and polykv alternate round by round, and every ratio is printed as median [min-max] over the rounds, so a
shared machine's noise shows as a range instead of hiding in one number. For S3 the CPU seconds the client
(this process) and the server spent during the runs are printed too: when concurrent ``get_many`` costs as much
client CPU as its wall time, the client's per-request work (botocore) is the ceiling, not the server.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

from polykv_fsspec import FsspecStore, S3Store  # noqa: E402
from s3_server import S3Server  # noqa: E402

ROUNDS = 7
S3_ROUNDS = 5
RECORDS = 100


def rate(fn: Callable[[int], object], n: int) -> float:
    """Calls per second of ``fn(i)`` for i in range(n)."""
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def spread(values: list[float], fmt: str = ".2f") -> str:
    """``median [min-max]`` of ``values``."""
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def bench_local(n: int = 3000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fs = fsspec.filesystem("file")
        raw_dir = f"{tmp}/raw"
        fs.makedirs(raw_dir)
        value = b'{"name":"polykv","n":12345}'
        store = FsspecStore(f"file://{tmp}/polykv", codec="bytes")
        rates: dict[str, list[float]] = {"raw put": [], "put": [], "raw get": [], "get": []}
        for _ in range(ROUNDS):  # alternate, so both sides see the same background load
            rates["raw put"].append(rate(lambda i: fs.pipe_file(f"{raw_dir}/k{i % 500}", value), n))
            rates["put"].append(rate(lambda i: store.set(f"k{i % 500}", value), n))
            rates["raw get"].append(rate(lambda i: fs.cat_file(f"{raw_dir}/k{i % 500}"), n))
            rates["get"].append(rate(lambda i: store.get(f"k{i % 500}"), n))
        for what in ("put", "get"):
            ratios = [ours / raw for ours, raw in zip(rates[what], rates[f"raw {what}"], strict=True)]
            print(
                f"local {what}: fsspec {spread(rates[f'raw {what}'], '.0f')}/s  polykv {spread(rates[what], '.0f')}/s"
                f"  ratio {spread(ratios)}x (target >= 0.8)"
            )


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _make_bucket(fs: Any, bucket: str) -> None:
    deadline = time.monotonic() + 30
    while True:  # a fresh server may answer before it can create buckets
        try:
            fs.mkdir(bucket)
            return
        except FileExistsError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def bench_s3(name: str, endpoint_url: str, key: str, secret: str, server_pid: int) -> None:
    import s3fs

    store = S3Store("bench", "polykv", endpoint_url=endpoint_url, key=key, secret=secret)
    fs = store.fs  # s3fs as polykv configures it: one GET per file
    default_fs = s3fs.S3FileSystem(  # s3fs as it comes: cat_file sends a HEAD before each GET
        key=key, secret=secret, client_kwargs={"endpoint_url": endpoint_url}, skip_instance_cache=True
    )
    _make_bucket(fs, "bench")
    keys = [f"rec:{i:03d}" for i in range(RECORDS)]
    store.set_many({k: {"i": i, "pad": "x" * 200} for i, k in enumerate(keys)})
    paths = [store._path("", k)[0] for k in keys]
    assert len(store.get_many(keys)) == RECORDS
    times: dict[str, list[float]] = {"seq default": [], "seq": [], "many": [], "cat": []}
    cpu: dict[str, tuple[float, float]] = {}

    def timed(label: str, fn: Callable[[], object]) -> None:
        client, server, start = _cpu_self(), _cpu_of(server_pid), time.perf_counter()
        fn()
        times[label].append(time.perf_counter() - start)
        cpu[label] = (_cpu_self() - client, _cpu_of(server_pid) - server)

    for _ in range(S3_ROUNDS):
        timed("seq default", lambda: [default_fs.cat_file(p) for p in paths])
        timed("seq", lambda: [fs.cat_file(p) for p in paths])
        timed("many", lambda: store.get_many(keys))
        timed("cat", lambda: fs.cat(paths))
    ms = {label: [t * 1000 for t in values] for label, values in times.items()}
    print(f"s3 [{name}] {RECORDS} records, ms as median [min-max] of {S3_ROUNDS} rounds:")
    for label, text in (
        ("seq default", f"{RECORDS} sequential gets, s3fs defaults (HEAD + GET each)"),
        ("seq", f"{RECORDS} sequential gets, s3fs as polykv sets it (GET only)"),
        ("many", f"polykv get_many({RECORDS})"),
        ("cat", f"raw fsspec cat of {RECORDS} paths (concurrent)"),
    ):
        client, server = cpu[label]
        print(
            f"  {text:58s} {spread(ms[label], '7.1f')} ms   cpu last run: client {client * 1000:4.0f} ms"
            f"  server {server * 1000:4.0f} ms"
        )
    strict = [s / m for s, m in zip(times["seq"], times["many"], strict=True)]
    loose = [s / m for s, m in zip(times["seq default"], times["many"], strict=True)]
    print(
        f"  get_many speed-up vs sequential GETs {spread(strict)}x, vs s3fs-default gets {spread(loose)}x (target >= 3)"
    )
    store.close()


def bench_seaweedfs() -> None:
    with tempfile.TemporaryDirectory() as tmp, S3Server.start(Path(tmp)) as server:
        assert server.process is not None
        bench_s3("SeaweedFS weed mini", server.endpoint_url, server.access_key, server.secret_key, server.process.pid)


def bench_moto() -> None:
    from s3_moto import MotoS3Server, moto_binary

    try:
        moto_binary()
    except RuntimeError as missing:
        print(f"s3 [moto]: skipped, {missing}")
        return
    with tempfile.TemporaryDirectory() as tmp, MotoS3Server.start(Path(tmp)) as server:
        assert server.process is not None
        bench_s3("moto_server", server.endpoint_url, server.access_key, server.secret_key, server.process.pid)


if __name__ == "__main__":
    bench_local()
    bench_seaweedfs()
    bench_moto()
