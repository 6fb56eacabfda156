"""``run_all``, the thread pool behind HDFS batches: keeps order, raises the first error, leaves nothing running."""

from __future__ import annotations

import threading

import pytest
from polykv_fsspec.fileio import run_all


def test_results_in_order_and_concurrent() -> None:
    inside, most = 0, 0
    lock = threading.Lock()
    gate = threading.Barrier(4)

    def work(n: int) -> int:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        if n < 4:
            gate.wait(timeout=10)  # the first four only pass once four run at the same time
        with lock:
            inside -= 1
        return n * n

    assert run_all(work, list(range(40)), concurrency=4) == [n * n for n in range(40)]
    assert most == 4


def test_first_error_is_raised_and_nothing_left_running() -> None:
    started, finished = [], []
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            started.append(n)
        try:
            if n == 3:
                raise OSError(f"file {n} failed")
            return n
        finally:
            with lock:
                finished.append(n)

    with pytest.raises(OSError, match="file 3 failed"):
        run_all(work, list(range(200)), concurrency=8)
    assert sorted(started) == sorted(finished)  # every call that started had ended when run_all raised
    assert 3 in started


def test_single_item_and_serial_run_inline() -> None:
    caller = threading.get_ident()
    assert run_all(lambda _: threading.get_ident(), [1]) == [caller]
    assert run_all(lambda _: threading.get_ident(), [1, 2], concurrency=1) == [caller, caller]
