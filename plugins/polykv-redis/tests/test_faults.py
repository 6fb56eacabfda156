"""Faults on a real server: killed, hung, restarted; pool limits, reaping, fork; 16 threads x 2000 ops."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
import redis
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer

from polykv.errors import BackendUnavailableError, PoolTimeoutError
from polykv.testing.waiters import SignallingWaiters

TIMEOUT = 1.0


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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="not applicable: this platform has no os.fork")
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


def test_redis_pool_serves_waiters_in_arrival_order(own_server: RedisServer) -> None:
    store = _store(own_server, max_connections=1, connection_timeout=30.0)
    try:
        store.set("k", 1)
        pool = store.manager.acquire()._pool  # type: ignore[attr-defined]
        line = pool.pool.waiters = SignallingWaiters()  # the pool's real hand-off queue, observed
        held = pool.get_connection()
        order: list[object] = []

        def take_turn(n: int) -> None:
            connection = pool.get_connection()
            order.append(n)
            pool.release(connection)

        threads = [threading.Thread(target=take_turn, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
            assert line.joined.acquire(timeout=10)  # this thread is in line before the next one starts
        pool.release(held)
        again = pool.get_connection()  # the returning thread asks again: it is served after all six
        order.append("returner")
        pool.release(again)
        for t in threads:
            t.join(timeout=30)
        assert order == [0, 1, 2, 3, 4, 5, "returner"]
        assert store.get("k") == 1 and store.manager.stats()["total"] == 1
    finally:
        store.close()


def test_pool_16_threads_2000_mixed_ops_loses_nothing_and_leaks_nothing(own_server: RedisServer) -> None:
    # Waiters are served in arrival order, so no thread starves: a modest checkout wait is enough.
    store = _store(own_server, max_connections=8, client_name="polykv-pool-test", connection_timeout=15.0)
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


# -- Redis Cluster ----------------------------------------------------------------------------------------


def _cluster_store(cluster: RedisClusterServers, **options: object) -> RedisClusterStore:
    options.setdefault("connect_timeout", TIMEOUT)
    options.setdefault("socket_timeout", TIMEOUT)
    return RedisClusterStore(port=cluster.port, prefix="f", **options)  # type: ignore[arg-type]


def _node_of(store: RedisClusterStore, name: str) -> Any:
    client = store.manager.acquire().connection
    return client.get_node_from_key(name)


def test_cluster_pool_waits_for_a_free_connection_then_times_out(own_cluster: RedisClusterServers) -> None:
    store = _cluster_store(own_cluster, max_connections=1, connection_timeout=0.3)
    try:
        store.set("k", 1)
        pool = _node_of(store, store.layout.kv("k")).redis_connection.connection_pool
        held = pool.get_connection()
        started = time.monotonic()
        with pytest.raises(PoolTimeoutError) as info:
            store.get("k")
        assert 0.25 < time.monotonic() - started < 3 and info.value.backend == "redis_cluster"
        line = pool.pool.waiters = SignallingWaiters()
        store.manager.connection_timeout = 30.0
        for node_pool in store.manager.acquire()._pools():  # type: ignore[attr-defined]
            node_pool.timeout = 30.0
        got: list[object] = []
        waiter = threading.Thread(target=lambda: got.append(store.get("k")))
        waiter.start()
        assert line.joined.acquire(timeout=10)  # it waits for the busy connection instead of failing
        pool.release(held)
        waiter.join(timeout=30)
        assert got == [1]
        assert store.manager.stats()["in_use"] == 0
    finally:
        store.close()


def test_cluster_idle_connections_are_reaped_per_node(redis_cluster: RedisClusterServers) -> None:
    store = RedisClusterStore(port=redis_cluster.port, prefix="reap", idle_timeout=0.2)
    try:
        store.set_many({f"k{i}": i for i in range(30)})  # touches every node
        pool = _node_of(store, store.layout.kv("k0")).redis_connection.connection_pool
        held = pool.get_connection()
        assert store.manager.stats()["open"] >= 3
        deadline = time.monotonic() + 5
        while store.manager.stats()["open"] != 1:  # the reaper closes every idle one, on every node
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert held._sock is not None  # never the checked-out one
        pool.release(held)
        assert store.get_many([f"k{i}" for i in range(30)]) == {f"k{i}": i for i in range(30)}
    finally:
        store.close()


def _migrate_slot(cluster: RedisClusterServers, slot: int, source: int, target: int) -> None:
    """Move one slot and its keys from the node on port ``source`` to the one on ``target``, the way
    ``redis-cli --cluster reshard`` does (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE everywhere)."""
    clients = {n.port: redis.Redis(port=n.port) for n in cluster.nodes}
    try:
        ids = {port: c.execute_command("CLUSTER MYID").decode() for port, c in clients.items()}
        clients[target].execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
        clients[source].execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target])
        while keys := clients[source].execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
            clients[source].execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        for client in clients.values():
            client.execute_command("CLUSTER SETSLOT", slot, "NODE", ids[target])
    finally:
        for client in clients.values():
            client.close()


def test_cluster_store_follows_moved_after_a_slot_migration(own_cluster: RedisClusterServers) -> None:
    store = _cluster_store(own_cluster)
    try:
        store.set("k", {"v": 1})
        store.insert_record("s", "r", {"v": 1})
        name = store.layout.kv("k")
        record = store.layout.record("s", "r")
        client = store.manager.acquire().connection
        moved_to: dict[int, int] = {}
        for key_name in (name, record):
            slot = client.keyslot(key_name)
            source = client.nodes_manager.get_node_from_slot(slot).port
            target = next(n.port for n in own_cluster.nodes if n.port != source)
            _migrate_slot(own_cluster, slot, source, target)
            moved_to[slot] = target
            with redis.Redis(port=source) as old_owner, pytest.raises(redis.exceptions.MovedError, match=f":{target}$"):
                old_owner.get(key_name)  # the old owner now answers MOVED <slot> <new owner>
            assert client.nodes_manager.get_node_from_slot(slot).port == source  # the store does not know yet
        assert store.get("k") == {"v": 1}  # answered through the MOVED redirect
        assert store.get_record("s", dict, "r") == {"v": 1}
        store.update_record("s", "r", {"v": 2})  # a record script follows the redirect too
        assert store.count("s") == 1 and store.get_record("s", dict, "r") == {"v": 2}
        assert {slot: client.nodes_manager.get_node_from_slot(slot).port for slot in moved_to} == moved_to
    finally:
        store.close()


def test_cluster_node_killed_is_unavailable_within_timeout_then_recovers(own_cluster: RedisClusterServers) -> None:
    store = _cluster_store(own_cluster)
    try:
        store.set("k", 1)
        port = _node_of(store, store.layout.kv("k")).port
        victim = next(n for n in own_cluster.nodes if n.port == port)
        victim.kill()
        for operation in (lambda: store.get("k"), lambda: store.set("k", 2), lambda: store.get_many(["k", "x"])):
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError) as info:
                operation()
            assert time.monotonic() - started < 3 * TIMEOUT + 2
            assert info.value.backend == "redis_cluster"
        victim.start()  # same port and nodes.conf: it rejoins with its slots, empty (no persistence)
        deadline = time.monotonic() + 30
        while not all(own_cluster._state_ok(n.port) for n in own_cluster.nodes):
            assert time.monotonic() < deadline, "the cluster did not recover"
            time.sleep(0.1)  # waiting on the servers' own gossip, not on polykv
        assert store.get("k") is None  # the same store object works again
        store.set("k", 3)
        assert store.get("k") == 3
    finally:
        store.close()
