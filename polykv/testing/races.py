"""Cross-process race checks for locks and ``get_or_set``, runnable against any store reachable by URL.

Each check starts worker processes with the ``spawn`` start method (fresh interpreters: nothing shared but
the store), lines them up on a ``multiprocessing`` barrier, and reports what happened, counted in the store
itself with its atomic ``incr``. A plugin runs them against its own server, for example::

    from polykv.testing.races import get_or_set_race
    result = get_or_set_race("redis://127.0.0.1:7000/0?prefix=t1", "cold")
    assert result.factory_runs == result.rounds

Workers open the store with ``polykv.connect(url)``, so the URL must name a store every process can reach
(a sqlite file, a server; not ``memory://``). ``preload`` names modules each worker imports first (a
plugin's store module, when its store is not installed with an entry point).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import LockNotOwnedError
from ..locks import Backoff, Lock
from ..urls import connect

__all__ = [
    "GetOrSetRace",
    "LockRace",
    "crashed_holder",
    "expired_holder",
    "get_or_set_race",
    "lock_race",
    "wait_until_absent",
]

#: Seconds any one step of a check may take before it fails (a barrier, a join, a queue read).
STEP_TIMEOUT = 120.0


def _open(url: str, preload: tuple[str, ...]) -> Any:
    for module in preload:
        importlib.import_module(module)
    return connect(url)


def _collect(results: Any, workers: list[Any], count: int) -> list[Any]:
    """``count`` messages from ``results``; a worker that exits with an error fails the check at once."""
    got: list[Any] = []
    deadline = time.monotonic() + STEP_TIMEOUT * 2
    while len(got) < count:
        try:
            got.append(results.get(timeout=0.2))
        except queue.Empty:
            failed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
            if failed:
                raise RuntimeError(f"a race worker failed with exit code {failed[0]}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"race workers sent {len(got)} of {count} results") from None
    return got


def wait_until_absent(store: Any, key: str, timeout: float = STEP_TIMEOUT) -> None:
    """Poll (with ``Backoff``) until ``key`` is absent from ``store``, e.g. expired; ``TimeoutError`` after
    ``timeout`` seconds."""
    backoff = Backoff(cap=0.05, deadline=time.monotonic() + timeout)
    while store.exists(key):
        if backoff.expired():
            raise TimeoutError(f"{key!r} was still present after {timeout}s")
        backoff.sleep()


def expired_holder(store: Any, name: str, *, ttl: float = 0.2) -> Lock:
    """A holder takes ``store.lock(name, ttl=ttl)`` and lets it expire; the next owner takes the lock (ttl 30 s).

    Checks, in this order, that the next owner's non-blocking ``acquire`` succeeds, that the old holder's
    ``extend()`` and then ``release()`` each raise ``LockNotOwnedError``, and that the next owner still owns
    the lock; ``AssertionError`` at the first that fails (any other exception propagates). Returns the next
    owner's lock, still held: the caller releases it. Waits for the expiry with ``wait_until_absent``.
    """
    first = store.lock(name, ttl=ttl)
    first.acquire()
    wait_until_absent(store, name)
    second: Lock = store.lock(name, ttl=30)
    if not second.acquire(blocking=False):
        raise AssertionError(f"{name!r} could not be locked after its holder's lease expired")
    for step in (first.extend, first.release):
        try:
            step()
        except LockNotOwnedError:
            continue
        raise AssertionError(f"an expired holder's {step.__name__}() of {name!r} did not raise LockNotOwnedError")
    if not second.owned():
        raise AssertionError(f"the next owner lost {name!r} to its expired holder")
    return second


@dataclass
class GetOrSetRace:
    """What ``get_or_set_race`` saw: how often the factory ran, and the values callers got per round."""

    rounds: int
    callers: int
    factory_runs: int
    values: dict[int, list[Any]] = field(default_factory=dict)


def _get_or_set_worker(
    url: str,
    preload: tuple[str, ...],
    key: str,
    threads: int,
    rounds: int,
    ttl: float,
    work: float,
    barrier: Any,
    results: Any,
) -> None:
    store = _open(url, preload)
    counter = key + ".factory-runs"
    try:
        for round_ in range(rounds):
            if round_:
                wait_until_absent(store, key)  # the value of the last round has expired
            barrier.wait(STEP_TIMEOUT)
            start = threading.Barrier(threads)
            got: list[Any] = []

            def factory() -> str:
                runs = store.incr(counter)
                time.sleep(work)  # the computation being protected: a window for others to pile up
                return f"value-{runs}"

            def call(start: threading.Barrier = start, got: list[Any] = got) -> None:
                start.wait(STEP_TIMEOUT)
                got.append(store.get_or_set(key, factory, ttl=ttl))

            pool = [threading.Thread(target=call) for _ in range(threads)]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join(STEP_TIMEOUT)
            results.put((round_, got))
    finally:
        store.close()


def get_or_set_race(
    url: str,
    key: str,
    *,
    processes: int = 4,
    threads: int = 16,
    rounds: int = 2,
    ttl: float = 2.0,
    work: float = 0.05,
    preload: tuple[str, ...] = (),
) -> GetOrSetRace:
    """``processes`` x ``threads`` callers call ``store.get_or_set(key, factory, ttl=ttl)`` on a cold key at
    once, for ``rounds`` rounds (each after the last round's value expired). The factory counts its runs
    with ``incr`` on ``key + ".factory-runs"``; exactly ``rounds`` runs means one per expiry."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_get_or_set_worker, args=(url, preload, key, threads, rounds, ttl, work, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    values: dict[int, list[Any]] = {r: [] for r in range(rounds)}
    try:
        for round_, got in _collect(results, workers, processes * rounds):
            values[round_].extend(got)
    finally:
        for worker in workers:
            worker.join(STEP_TIMEOUT)
            if worker.is_alive():
                worker.kill()
    with _open(url, preload) as store:
        runs = store.get(key + ".factory-runs", 0)
    return GetOrSetRace(rounds=rounds, callers=processes * threads, factory_runs=runs, values=values)


@dataclass
class LockRace:
    """What ``lock_race`` saw: critical sections entered, unprotected increments counted, overlaps seen."""

    expected: int
    counted: int
    overlaps: int


def _lock_worker(
    url: str, preload: tuple[str, ...], name: str, threads: int, iterations: int, ttl: float, barrier: Any
) -> None:
    store = _open(url, preload)
    try:
        barrier.wait(STEP_TIMEOUT)

        def run() -> None:
            for _ in range(iterations):
                with store.lock(name, ttl=ttl, blocking_timeout=STEP_TIMEOUT):
                    if not store.add(name + ".inside", os.getpid()):  # someone else is inside too
                        store.incr(name + ".overlaps")
                    count = store.get(name + ".count", 0)  # read-modify-write: safe only under the lock
                    store.set(name + ".count", count + 1)
                    store.delete(name + ".inside")

        pool = [threading.Thread(target=run) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(STEP_TIMEOUT)
    finally:
        store.close()


def lock_race(
    url: str,
    name: str,
    *,
    processes: int = 4,
    threads: int = 2,
    iterations: int = 10,
    ttl: float = 30.0,
    preload: tuple[str, ...] = (),
) -> LockRace:
    """``processes`` x ``threads`` callers each enter ``with store.lock(name)`` ``iterations`` times and do
    an unprotected read-modify-write of a counter inside; mutual exclusion means no lost increments and no
    caller ever finding another inside."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    args = (url, preload, name, threads, iterations, ttl, barrier)
    workers = [ctx.Process(target=_lock_worker, args=args) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(STEP_TIMEOUT)
        if worker.is_alive():
            worker.kill()
            raise TimeoutError(f"a lock_race worker did not finish within {STEP_TIMEOUT}s")
        if worker.exitcode != 0:
            raise RuntimeError(f"a lock_race worker failed with exit code {worker.exitcode}")
    with _open(url, preload) as store:
        return LockRace(
            expected=processes * threads * iterations,
            counted=store.get(name + ".count", 0),
            overlaps=store.get(name + ".overlaps", 0),
        )


def _holder(url: str, preload: tuple[str, ...], name: str, ttl: float, held: Any) -> None:
    store = _open(url, preload)
    lock = store.lock(name, ttl=ttl)
    lock.acquire()
    held.put(lock.token)
    threading.Event().wait()  # hold the lock until killed


def crashed_holder(url: str, name: str, *, ttl: float = 1.0, preload: tuple[str, ...] = ()) -> tuple[bool, float]:
    """A process takes ``store.lock(name, ttl=ttl)`` and is killed with SIGKILL while holding it. Returns
    (whether the lock was still held right after the kill, seconds until another process's blocking
    ``acquire`` got it): a crashed holder's lock is free once its lease expires, not before."""
    ctx = multiprocessing.get_context("spawn")
    held = ctx.Queue()
    holder = ctx.Process(target=_holder, args=(url, preload, name, ttl, held))
    holder.start()
    try:
        _collect(held, [holder], 1)
        killed_at = time.monotonic()
        os.kill(holder.pid or 0, signal.SIGKILL)
        holder.join(STEP_TIMEOUT)
    finally:
        if holder.is_alive():
            holder.kill()
    with _open(url, preload) as store:
        lock = store.lock(name, ttl=ttl)
        still_held = not lock.acquire(blocking=False)
        got = lock.acquire(blocking_timeout=ttl + STEP_TIMEOUT) if still_held else True
        waited = time.monotonic() - killed_at
        if got:
            lock.release()
    return still_held, waited
