"""Races and faults on a real PostgreSQL server: 16 threads and 8 processes racing one insert per round
(exactly one winner, processes starting together on a fresh database), a killed server (an error within the
timeout), a restarted one (the same store object works again), a statement timeout honoured."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from polykv_postgres.store import PostgresStore
from polykv_postgres.testing import PostgresServer

from polykv.errors import BackendUnavailableError, RecordExistsError

TIMEOUT = 2.0
ROUNDS = 20


def _store(port: int, **options: Any) -> PostgresStore:
    options.setdefault("username", "postgres")
    options.setdefault("connect_timeout", 1.0)
    options.setdefault("connection_timeout", 1.0)
    options.setdefault("timeout", TIMEOUT)
    return PostgresStore(port=port, **options)


# -- races -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["pooled", "single"])
def test_16_threads_race_one_insert_per_round(pg_server: PostgresServer, table: str, mode: str) -> None:
    store = _store(pg_server.port, table=table, connection_mode=mode, max_connections=16, timeout=10)
    barrier = threading.Barrier(16)

    def contend(worker: int) -> list[int]:
        won = []
        for round_ in range(ROUNDS):
            barrier.wait()
            try:
                store.insert_record("race", f"r{round_}", {"winner": worker})
                won.append(round_)
            except RecordExistsError:
                pass
            if store.add(f"kv{round_}", worker):
                won.append(1000 + round_)
        return won

    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(contend, range(16)))
        wins = sorted(r for won in results for r in won)
        assert wins == sorted([*range(ROUNDS), *range(1000, 1000 + ROUNDS)])  # one winner per round
        for round_ in range(ROUNDS):
            winner = store.get_record("race", dict, f"r{round_}")["winner"]
            assert round_ in results[winner]
    finally:
        store.drop_tables()
        store.close()


def _process_worker(port: int, db: str, worker: int, barrier: Any, results: Any) -> None:
    """One of the 8 racing processes: opens its own store on the fresh database and races every round."""
    try:
        store = PostgresStore(port=port, username="postgres", db=db, table="race", timeout=20, change_feed=True)
        won = []
        for round_ in range(ROUNDS):
            barrier.wait(60)
            try:
                store.insert_record("race", f"r{round_}", {"winner": worker})
                won.append(round_)
            except RecordExistsError:
                pass
        store.close()
        results.put((worker, won, None))
    except Exception as exc:
        results.put((worker, [], f"{type(exc).__name__}: {exc}"))


def test_8_processes_on_a_fresh_database_race_one_insert_per_round(pg_server: PostgresServer) -> None:
    db = f"fresh_{int(time.time() * 1000)}"
    pg_server.create_database(db)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    results = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(pg_server.port, db, w, barrier, results)) for w in range(8)]
    for proc in procs:
        proc.start()
    try:
        outcomes = [results.get(timeout=120) for _ in procs]
    finally:
        for proc in procs:
            proc.join(30)
    errors = [error for _, _, error in outcomes if error]
    assert errors == []  # nobody raced anybody into an error creating the tables and the feed
    wins = sorted(r for _, won, _ in outcomes for r in won)
    assert wins == list(range(ROUNDS))
    store = PostgresStore(port=pg_server.port, username="postgres", db=db, table="race", change_feed=True)
    try:
        from polykv import ops

        events = list(ops.watch(store, since="0", follow=False))
        assert sorted(e.key for e in events) == sorted(f"r{r}" for r in range(ROUNDS))
    finally:
        store.close()


# -- faults ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["pooled", "single"])
def test_killed_server_raises_unavailable_within_timeout_then_recovers(own_server: PostgresServer, mode: str) -> None:
    store = _store(own_server.port, table="faults", connection_mode=mode)
    try:
        store.set("k", 1)
        store.insert_record("s", "r", {"v": 1})
        own_server.kill()
        for call in (lambda: store.get("k"), lambda: store.set("k", 2), lambda: store.count("s")):
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError):
                call()
            assert time.monotonic() - started < TIMEOUT + 1.5
        own_server.start()  # same port, same data folder
        deadline = time.monotonic() + 30
        while True:  # the pool reconnects in the background, with backoff
            try:
                assert store.get("k") == 1
                break
            except BackendUnavailableError:
                assert time.monotonic() < deadline, "the store never reconnected"
        store.set("k", 3)
        assert store.get("k") == 3 and store.get_record("s", dict, "r") == {"v": 1}
    finally:
        store.close()


def test_statement_timeout_is_honoured(pg_server: PostgresServer, table: str) -> None:
    store = _store(pg_server.port, table=table, statement_timeout=0.5, timeout=5)
    try:
        store.set("locked", 1)
        with psycopg.connect(pg_server.url) as blocker:  # holds the row lock in an open transaction
            blocker.execute(f'SELECT * FROM "{table}" WHERE key = %s FOR UPDATE', ("locked",))
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError, match="statement_timeout"):
                store.set("locked", 2)
            elapsed = time.monotonic() - started
            blocker.rollback()
        assert 0.4 < elapsed < 2.0
        assert store.get("locked") == 1
        store.set("locked", 3)
        assert store.get("locked") == 3
    finally:
        store.drop_tables()
        store.close()
