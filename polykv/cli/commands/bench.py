"""``polykv bench``: ops/s of get, set, get_many and set_many on a store."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import click

from ..context import opened
from ..output import console
from ..params import legacy_url_argument, resolve_url, url_option

__all__ = ["bench"]


@click.command()
@legacy_url_argument
@url_option
@click.option("-n", "--number", type=click.IntRange(min=10), default=2000, show_default=True, help="Keys to write.")
@click.option("--batch", type=click.IntRange(min=1), default=100, show_default=True, help="Keys per get_many/set_many.")
def bench(legacy_url: str | None, url: str, number: int, batch: int) -> None:
    """Print ops/s for get, set, get_many and set_many (on random reserved keys, removed afterwards).

    The positional URL is the old spelling of --url, still accepted.
    """
    from rich.table import Table

    url = resolve_url(url, legacy_url)
    prefix = f"__polykv_bench_{uuid.uuid4().hex[:12]}__/"
    keys = [f"{prefix}{i}" for i in range(number)]
    value = {"payload": "x" * 100, "n": 1}
    results: list[tuple[str, float]] = []

    def timed(name: str, run: Callable[[], None]) -> None:
        started = time.perf_counter()
        run()
        results.append((name, number / (time.perf_counter() - started)))

    with opened(url) as store:
        chunks = [keys[i : i + batch] for i in range(0, number, batch)]

        def set_each() -> None:
            for key in keys:
                store.set(key, value)

        def get_each() -> None:
            for key in keys:
                store.get(key)

        def set_batches() -> None:
            for chunk in chunks:
                store.set_many(dict.fromkeys(chunk, value))

        def get_batches() -> None:
            for chunk in chunks:
                store.get_many(chunk)

        try:
            timed("set", set_each)
            timed("get", get_each)
            timed("set_many", set_batches)
            timed("get_many", get_batches)
        finally:
            store.clear(prefix)
    table = Table("operation", "ops/s", title=f"{number} keys, batches of {batch}")
    for name, rate in results:
        table.add_row(name, f"{rate:,.0f}")
    console().print(table)
