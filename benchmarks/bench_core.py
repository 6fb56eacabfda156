"""Core costs: ``import polykv``, a cached ``registry[name]`` lookup, and listing 100 entry points.

Run: ``python benchmarks/bench_core.py``. Prints figures and ratios; it asserts nothing about time.
Targets (issue 2): import adds <= 40 ms over a bare interpreter (median of 10), cached lookup <= 3x a
dict lookup, building a registry and listing 100 entry points imports none of their modules.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path


def whole_process_ms(code: str, runs: int = 10) -> list[float]:
    times = []
    for _ in range(runs):
        start = timeit.default_timer()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((timeit.default_timer() - start) * 1000)
    return times


def bench_import() -> None:
    bare = statistics.median(whole_process_ms("pass"))
    with_import = whole_process_ms("import polykv")
    first_use = whole_process_ms("import polykv; polykv.registry['memory']")
    print("== import cost (median of 10 fresh interpreters, whole process wall time)")
    print(f"bare interpreter            {bare:7.1f} ms")
    print(
        f"import polykv               {statistics.median(with_import):7.1f} ms  "
        f"(+{statistics.median(with_import) - bare:.1f} ms; spread {min(with_import):.1f}-{max(with_import):.1f})"
    )
    print(
        f"import + registry['memory'] {statistics.median(first_use):7.1f} ms  "
        f"(+{statistics.median(first_use) - bare:.1f} ms: metaclass-registry and the stdlib modules it needs)"
    )
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, polykv; print(sorted(m for m in ('redis','fsspec','pluggy',"
            "'metaclass_registry','importlib.metadata') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"heavy modules after import polykv: {heavy}")


def bench_lookup() -> None:
    import polykv
    from polykv.backend_registry import BackendRegistry

    registry = BackendRegistry()
    registry["memory"]
    plain = {"memory": polykv.registry["memory"]}
    print("== cached lookup (best of 5 x 1,000,000)")
    n = 1_000_000
    t_dict = min(timeit.repeat("d['memory']", globals={"d": plain}, number=n, repeat=5))
    t_reg = min(timeit.repeat("r['memory']", globals={"r": registry}, number=n, repeat=5))
    print(f"dict lookup       {t_dict / n * 1e9:6.1f} ns")
    print(f"registry[name]    {t_reg / n * 1e9:6.1f} ns   ratio {t_reg / t_dict:.2f}x (target <= 3x)")


def bench_entry_points() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        info = Path(tmp) / "polykv_many-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: polykv-many\nVersion: 0.1\n")
        lines = ["[polykv.backends]"] + [f"many{i} = many_mod_{i}:Store" for i in range(100)]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        code = (
            "import sys, time, json\n"
            "t0 = time.perf_counter()\n"
            "from polykv.backend_registry import BackendRegistry\n"
            "t1 = time.perf_counter()\n"
            "r = BackendRegistry()\n"
            "names = r.keys()\n"
            "t2 = time.perf_counter()\n"
            "imported = [m for m in sys.modules if m.startswith('many_mod_')]\n"
            "print(json.dumps({'listed': sum(n.startswith('many') for n in names), 'imported': len(imported),"
            " 'import_registry_ms': (t1-t0)*1000, 'construct_and_list_ms': (t2-t1)*1000}))"
        )
        runs = [
            json.loads(
                subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": tmp}
                ).stdout
            )
            for _ in range(5)
        ]
    listing = [r["construct_and_list_ms"] for r in runs]
    print("== registry with 100 declared entry points (5 fresh interpreters)")
    print(f"listed {runs[0]['listed']} plugin names, imported {runs[0]['imported']} plugin modules")
    print(
        f"construct + keys(): median {statistics.median(listing):.1f} ms (spread {min(listing):.1f}-{max(listing):.1f})"
    )


if __name__ == "__main__":
    bench_import()
    bench_lookup()
    bench_entry_points()
