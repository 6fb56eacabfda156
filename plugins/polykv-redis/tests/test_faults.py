"""Faults on a real server: killed, hung, restarted; pool limits, reaping, fork; 16 threads x 2000 ops."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisServer

from polykv.errors import BackendUnavailableError, PoolTimeoutError

TIMEOUT = 1.0


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server this test may kill, stop and restart (never the session's shared one)."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def _store(server: RedisServer, **options: object) -> RedisStore:
    options.setdefault("connect_timeout", TIMEOUT)
    options.setdefault("socket_timeout", TIMEOUT)
    return RedisStore(port=server.port, prefix="f", **options)  # type: ignore[arg-type]


def test_killed_server_raises_unavailable_within_timeout_then_recovers(own_server: RedisServer) -> None:
    store = _store(own_server)
    try:
        store.set("k", 1)
        store.insert_record("s", "r", {"v": 1})
        own_server.kill()
        for operation in (lambda: store.get("k"), lambda: store.add("n", 1), lambda: store.count("s")):
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError) as info:
                operation()
            assert time.monotonic() - started < 2 * TIMEOUT + 1
            assert info.value.backend == "redis"
            assert str(own_server.port) in str(info.value)
        own_server.start()  # same port, empty (no persistence): the same store object works again
        assert store.get("k") is None
        store.set("k", 2)
        store.insert_record("s", "r", {"v": 2})  # scripts are loaded again after NOSCRIPT
        assert store.get("k") == 2 and store.count("s") == 1
    finally:
        store.close()


def test_hung_server_times_out_instead_of_hanging(own_server: RedisServer) -> None:
    store = _store(own_server)
    try:
        store.set("k", 1)
        assert own_server.process is not None
        pid = own_server.process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError):
                store.get("k")
            assert time.monotonic() - started < 3 * TIMEOUT + 1
        finally:
            os.kill(pid, signal.SIGCONT)
        assert store.get("k") == 1
    finally:
        store.close()


def test_server_killed_while_threads_work(own_server: RedisServer) -> None:
    store = _store(own_server, max_connections=4)
    outcomes: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def work(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                store.set(f"t{n}:{i}", i)
                result = "ok"
            except BackendUnavailableError:
                result = "unavailable"
            with lock:
                outcomes.append(result)
            i += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while outcomes.count("ok") < 50:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        own_server.kill()
        while outcomes.count("unavailable") < 6:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    own_server.start()
    store.set("after", 1)
    assert store.get("after") == 1
    store.close()


def test_pool_timeout_when_every_connection_is_checked_out(own_server: RedisServer) -> None:
    store = _store(own_server, max_connections=1, connection_timeout=0.2)
    try:
        store.set("k", 1)
        pool = store.manager.acquire()._pool  # type: ignore[attr-defined]
        held = pool.get_connection()
        try:
            started = time.monotonic()
            with pytest.raises(PoolTimeoutError):
                store.get("k")
            assert 0.15 < time.monotonic() - started < 2
        finally:
            pool.release(held)
        assert store.get("k") == 1
    finally:
        store.close()


def test_idle_connections_are_closed_but_checked_out_ones_are_not(own_server: RedisServer) -> None:
    store = _store(own_server, max_connections=4, idle_timeout=0.2)
    try:
        pool = store.manager.acquire()._pool  # type: ignore[attr-defined]
        held = pool.get_connection()
        store.set("k", 1)  # opens a second connection, then leaves it idle
        assert store.manager.stats()["open"] == 2
        deadline = time.monotonic() + 5
        while store.manager.stats()["open"] != 1:  # the reaper closes the idle one only
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert held._sock is not None
        assert held.send_command("PING") is None and held.read_response() == b"PONG"
        pool.release(held)
        assert store.get("k") == 1  # a reaped connection reconnects on its next use
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_uses_its_own_connections(own_server: RedisServer) -> None:
    store = _store(own_server)
    try:
        store.set("parent", 1)
        pid = os.fork()
        if pid == 0:  # child: must not touch the parent's sockets
            code = 1
            try:
                store.set("child", 2)
                code = 0 if store.get("parent") == 1 and store.get("child") == 2 else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.get("child") == 2 and store.get("parent") == 1  # parent's connection still in sync
    finally:
        store.close()


def test_pool_16_threads_2000_mixed_ops_loses_nothing_and_leaks_nothing(own_server: RedisServer) -> None:
    # The pool does not hand connections over fairly (a returning thread can take its connection straight
    # back), so on a loaded machine one of 16 threads may wait for seconds; this test is about lost writes
    # and leaks, so it allows a long wait rather than the 5 s default.
    store = _store(own_server, max_connections=8, client_name="polykv-pool-test", connection_timeout=120.0)
    expected: list[dict[str, object]] = [{} for _ in range(16)]
    counters = [0] * 16
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            mine = expected[n]
            for i in range(2000):
                op = i % 8
                key = f"w{n}:{i % 50}"
                if op in (0, 1):
                    store.set(key, [n, i])
                    mine[key] = [n, i]
                elif op == 2:
                    assert store.get(key, "absent") == mine.get(key, "absent")
                elif op == 3:
                    counters[n] = store.incr(f"c{n}")
                elif op == 4:
                    store.delete(key)
                    mine.pop(key, None)
                elif op == 5:
                    if store.add(key, {"added": i}):
                        mine[key] = {"added": i}
                elif op == 6:
                    store.upsert_record("rec", f"{n}:{i // 8 % 20}", {"n": n, "i": i})
                else:
                    store.set_many({f"{key}:m{j}": j for j in range(5)})
                    mine.update({f"{key}:m{j}": j for j in range(5)})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        for n in range(16):
            assert store.get_many(list(expected[n])) == expected[n]
            assert store.get(f"c{n}") == counters[n] == 250
        assert store.count("rec") == 16 * 20
        stats = store.manager.stats()
        assert stats["in_use"] == 0 and stats["total"] <= 8
        clients = store._run(lambda c: c.client_list())
        assert sum(1 for c in clients if c.get("name") == "polykv-pool-test") <= 8
    finally:
        store.close()
