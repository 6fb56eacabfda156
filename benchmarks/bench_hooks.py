"""Cost of the hook seam on the write path when no hook implementation is registered.

Run: ``python benchmarks/bench_hooks.py``. Compares the store as shipped (pluggy loaded, plugin manager
built, no ``polykv_write_done`` implementation) with the same store whose write methods are rebuilt from
their own source with every line that tests or calls the write observers removed ("hooks compiled out").
Prints ratios; asserts nothing about time. Target: ratio ~1.00 (within the noise printed beside it).
"""

from __future__ import annotations

import inspect
import statistics
import sys
import textwrap
import timeit
from collections.abc import Callable
from typing import Any

from polykv import events, hooks
from polykv import store as store_module
from polykv.backends.memory import MemoryStore
from polykv.store import KeyValueStore

SEAM = ("write_observers", "notify_write")  # the write path's event seam (polykv.events)
WRITE_METHODS = ("set", "set_many", "delete", "upsert_record")


def compiled_out(name: str) -> Callable[..., Any]:
    """``KeyValueStore.<name>`` rebuilt from its source without the hook seam."""
    source = textwrap.dedent(inspect.getsource(getattr(KeyValueStore, name)))
    kept = "\n".join(line for line in source.splitlines() if not any(word in line for word in SEAM))
    namespace: dict[str, Any] = dict(vars(store_module))
    exec(compile("from __future__ import annotations\n" + kept, f"<{name} without hooks>", "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    return function


def without_hooks(cls: type[KeyValueStore]) -> type[KeyValueStore]:
    return type(f"{cls.__name__}NoHooks", (cls,), {name: compiled_out(name) for name in WRITE_METHODS})


def workload(store: KeyValueStore, n: int) -> Callable[[], None]:
    keys = [f"k{i}" for i in range(n)]
    batch = {f"b{i}": i for i in range(100)}

    def run() -> None:
        for key in keys:
            store.set(key, 1)
        for _ in range(n // 100):
            store.set_many(batch)
        for key in keys:
            store.delete(key)
        for i in range(n // 10):
            store.upsert_record("items", f"r{i}", {"i": i})

    return run


def compare(label: str, make: Callable[[], KeyValueStore], make_plain: Callable[[], KeyValueStore], n: int) -> None:
    shipped, plain = make(), make_plain()
    run_shipped, run_plain = workload(shipped, n), workload(plain, n)
    ratios = []
    for _ in range(15):  # interleaved, so drift on the shared machine hits both sides alike
        t_shipped = min(timeit.repeat(run_shipped, number=1, repeat=3))
        t_plain = min(timeit.repeat(run_plain, number=1, repeat=3))
        ratios.append(t_shipped / t_plain)
    median = statistics.median(ratios)
    print(
        f"{label:28s} shipped/compiled-out time ratio {median:5.3f}  "
        f"(noise: min {min(ratios):.3f} max {max(ratios):.3f} over 15 rounds)"
    )
    shipped.close()
    plain.close()


def main() -> None:
    hooks.get_plugin_manager()  # pluggy loaded and the manager built, nothing registered
    assert not events.write_observers
    n = 2000
    print(f"== write path, {n} set + {n // 100} set_many(100) + {n} delete + {n // 10} upsert_record per round")
    compare("memory, no hook registered", MemoryStore, lambda: without_hooks(MemoryStore)(), n)
    try:
        from polykv.backends.sqlite import SQLiteStore
    except ImportError:
        print("sqlite store not available; skipped")
    else:
        compare(
            "sqlite (:memory:), no hook",
            lambda: SQLiteStore(":memory:"),
            lambda: without_hooks(SQLiteStore)(":memory:"),
            n,
        )

    class Noop:
        @hooks.hookimpl
        def polykv_write_done(self, store: Any, op: str, schema: Any, keys: Any) -> None:
            pass

    plugin = Noop()
    hooks.register(plugin)
    try:
        compare("memory, one no-op hook (info)", MemoryStore, lambda: without_hooks(MemoryStore)(), n)
    finally:
        hooks.unregister(plugin)
    print(f"python {sys.version.split()[0]}; 2 shared cores: expect a few % of noise either way")


if __name__ == "__main__":
    main()
