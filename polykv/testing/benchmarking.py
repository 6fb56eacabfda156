"""Paired raw-vs-polykv timing for the plugins' benchmark scripts (bench_postgres.py, bench_redis.py).

A ``Case`` is ``(raw, ours, unit, repeat)``: two zero-argument callables doing the same work, the operations
one call does (``unit``) and the calls one run makes (``repeat``). ``paired`` alternates short runs of the two
sides (``rounds`` x 10 pairs of ``repeat // 10`` calls, order flipped every pair) so that noise on a shared
machine hits both alike, and returns the median rates and the quartiles of the pair ratios ours/raw.

``Item`` and ``filter_items`` are the records of the scripts' "indexed filter vs get_record" figure.
``marginal_instructions`` counts CPU instructions per call with valgrind's callgrind: a figure that does not
move with the load on a shared machine. Pure standard library: the scripts import this without pytest or
hypothesis installed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "Case",
    "Item",
    "PairedRates",
    "callgrind_total",
    "filter_items",
    "marginal_instructions",
    "median_rate",
    "paired",
    "rate",
]

#: raw side, polykv side, operations per call (the unit of the printed rates), calls per run.
Case = tuple[Callable[[], Any], Callable[[], Any], int, int]


@dataclasses.dataclass
class Item:
    """A record with one indexed field (``color``), for the filter figure."""

    __indexes__: ClassVar[tuple[str, ...]] = ("color",)
    id: str
    color: str
    n: int


@dataclasses.dataclass(frozen=True)
class PairedRates:
    """What ``paired`` measured: median rates in operations per second, and pair-ratio quartiles (ours/raw).

    ``median`` > 1 means polykv did more operations per second than the raw side; ``q1``..``q3`` is the
    spread of the middle half of the pair ratios.
    """

    raw_rate: float
    our_rate: float
    q1: float
    median: float
    q3: float


def rate(fn: Callable[[], Any], repeat: int) -> float:
    """Calls per second of ``fn`` over ``repeat`` calls (wall clock, ``time.perf_counter``)."""
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return repeat / (time.perf_counter() - started)


def median_rate(fn: Callable[[], Any], repeat: int, times: int) -> float:
    """The median of ``times`` measurements of ``rate(fn, repeat)``, in calls per second."""
    return statistics.median(rate(fn, repeat) for _ in range(times))


def paired(case: Case, rounds: int) -> PairedRates:
    """Alternate short raw/polykv runs of ``case`` (``rounds`` x 10 pairs); see the module docstring.

    ``rounds`` must be at least 1 (``statistics.quantiles`` needs two pairs or more; it raises
    ``StatisticsError`` otherwise).
    """
    raw, ours, unit, repeat = case
    chunk = max(1, repeat // 10)
    ratios, raw_rates, our_rates = [], [], []
    for i in range(rounds * 10):
        if i % 2:
            o, r = rate(ours, chunk), rate(raw, chunk)
        else:
            r, o = rate(raw, chunk), rate(ours, chunk)
        raw_rates.append(r * unit)
        our_rates.append(o * unit)
        ratios.append(o / r)
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    return PairedRates(statistics.median(raw_rates), statistics.median(our_rates), q1, median, q3)


def filter_items(records: int) -> Iterator[Item]:
    """``records`` items ``r0``, ``r1``, ...; every ``records // 10``-th is ``color="red"`` (so 10 match
    when ``records`` is a multiple of 10), the others spread over 97 colours. ``records`` must be >= 10."""
    every = records // 10
    for i in range(records):
        yield Item(f"r{i}", "red" if i % every == 0 else f"c{i % 97}", i)


def callgrind_total(command: list[str]) -> int:
    """The instructions valgrind's callgrind counts while ``command`` runs (its whole process, start-up
    included), with ``PYTHONHASHSEED=0`` so that every run lays out dicts and sets alike. Raises
    ``SystemExit`` when valgrind is not installed and ``subprocess.CalledProcessError`` when the command fails.
    """
    if shutil.which("valgrind") is None:
        raise SystemExit("instruction counts need valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="polykv-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(  # noqa: S603 - the caller's own command line
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],  # noqa: S607
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no instruction total in callgrind's output for {command!r}")
        return int(match.group(1))


def marginal_instructions(command: Callable[[int], list[str]], count: int) -> float:
    """Instructions per call: ``(total(command(3 * count)) - total(command(count))) / (2 * count)``, where
    ``command(n)`` is a command line whose process makes ``n`` calls after the same start-up and warm-up, so
    that start-up and warm-up (which vary by a few million instructions from run to run) cancel out."""
    return (callgrind_total(command(3 * count)) - callgrind_total(command(count))) / (2 * count)
