"""Connectors and connection managers against a real TCP server on 127.0.0.1 (a tiny line protocol)."""

from __future__ import annotations

import os
import select
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from polykv.connectors import (
    BackendConnectorBase,
    ConnectionMode,
    ConnectorManagerFactory,
    PooledConnectorManager,
    RetryPolicy,
    Secret,
    SingleConnectorManager,
)
from polykv.errors import BackendUnavailableError, InvalidArgumentError, PoolTimeoutError
from polykv.testing.waiters import SignallingWaiters


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            if line == b"PING\n":
                self.wfile.write(b"PONG\n")
            elif line == b"CLOSE\n":
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="session")
def line_server() -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class LineConnector(BackendConnectorBase):
    """One TCP socket speaking PING/PONG."""

    backend_name = "line"
    transient_errors = (ConnectionError, TimeoutError, socket.timeout)

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port or 0), timeout=self.connect_timeout)

    def disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def is_connected(self) -> bool:
        sock = self._connection
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return not readable or sock.recv(1, socket.MSG_PEEK) != b""  # readable and empty: peer hung up
        except OSError:
            return False


def ping(sock: socket.socket) -> bytes:
    sock.sendall(b"PING\n")
    return sock.recv(5)


def _config(port: int, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "username": "u", "password": "hunter2-secret", **extra}


def test_password_never_in_repr_or_str() -> None:
    connector = LineConnector(**_config(1))
    assert "hunter2-secret" not in repr(connector)
    assert "hunter2-secret" not in f"{connector.password} {connector.password!r} {connector.password!s}"
    assert connector.password is not None and connector.password.reveal() == "hunter2-secret"
    assert "hunter2-secret" not in repr(vars(connector))
    assert repr(Secret("x")) == "Secret('***')"


def test_factory_picks_manager_by_mode(line_server: int) -> None:
    single = ConnectorManagerFactory.create_manager(LineConnector, _config(line_server))
    pooled = ConnectorManagerFactory.create_manager(
        LineConnector, _config(line_server), ConnectionMode.POOLED, max_connections=3
    )
    assert isinstance(single, SingleConnectorManager)
    assert isinstance(pooled, PooledConnectorManager) and pooled.max_connections == 3
    assert isinstance(ConnectorManagerFactory.create_manager(LineConnector, {}, "pooled"), PooledConnectorManager)
    with pytest.raises(InvalidArgumentError):
        ConnectorManagerFactory.create_manager(LineConnector, {}, "sometimes")
    with pytest.raises(InvalidArgumentError):
        ConnectorManagerFactory.create_manager(LineConnector, {}, "single", max_connections=3)
    for manager in (single, pooled):
        assert manager.execute(ping) == b"PONG\n"
        manager.close()


def test_pool_waits_then_raises_pool_timeout(line_server: int) -> None:
    pool = PooledConnectorManager(LineConnector, _config(line_server), max_connections=2, connection_timeout=0.2)
    a, b = pool.acquire(), pool.acquire()
    started = time.monotonic()
    with pytest.raises(PoolTimeoutError):
        pool.acquire()
    assert 0.15 < time.monotonic() - started < 2
    pool.release(a)
    assert pool.acquire() is a  # a returned connection is handed out again
    pool.release(a)
    pool.release(b)
    assert pool.stats() == {"total": 2, "in_use": 0, "idle": 2}
    pool.close()
    assert pool.stats()["total"] == 0


def test_no_connection_is_handed_to_two_users(line_server: int) -> None:
    pool = PooledConnectorManager(LineConnector, _config(line_server), max_connections=3, connection_timeout=10)
    holders: set[int] = set()
    lock = threading.Lock()
    problems: list[str] = []

    def work() -> None:
        for _ in range(50):
            with pool.connection() as sock:
                with lock:
                    if id(sock) in holders:
                        problems.append("shared")
                    holders.add(id(sock))
                if ping(sock) != b"PONG\n":
                    problems.append("bad reply")
                with lock:
                    holders.discard(id(sock))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    stats = pool.stats()
    assert stats["in_use"] == 0 and stats["total"] <= 3
    pool.close()


def test_waiters_are_served_in_arrival_order_and_a_returner_queues_behind_them(line_server: int) -> None:
    pool = PooledConnectorManager(LineConnector, _config(line_server), max_connections=1, connection_timeout=30)
    line = pool._waiters = SignallingWaiters()
    held = pool.acquire()
    order: list[object] = []

    def take_turn(n: int) -> None:
        with pool.connection() as sock:
            order.append(n)
            assert ping(sock) == b"PONG\n"

    threads = [threading.Thread(target=take_turn, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
        assert line.joined.acquire(timeout=10)  # this thread is in line before the next one starts
    pool.release(held)
    again = pool.acquire()  # the thread that just returned the connection asks again: it is seventh
    order.append("returner")
    pool.release(again)
    for t in threads:
        t.join(timeout=30)
    assert order == [0, 1, 2, 3, 4, 5, "returner"]
    assert pool.stats() == {"total": 1, "in_use": 0, "idle": 1}
    pool.close()


def test_a_discarded_connection_lets_the_next_waiter_open_one_and_timed_out_waiters_leave_the_line(
    line_server: int,
) -> None:
    pool = PooledConnectorManager(LineConnector, _config(line_server), max_connections=1, connection_timeout=0.2)
    held = pool.acquire()
    with pytest.raises(PoolTimeoutError):
        pool.acquire()
    assert len(pool._waiters) == 0  # the timed-out caller left the line
    pool.connection_timeout = 30.0
    line = pool._waiters = SignallingWaiters()
    got: list[BackendConnectorBase] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    assert line.joined.acquire(timeout=10)
    pool.release(held, discard=True)  # the slot, not the broken connection, goes to the waiter
    waiter.join(timeout=30)
    assert got and got[0] is not held and ping(got[0].connection) == b"PONG\n"
    assert pool.stats() == {"total": 1, "in_use": 1, "idle": 0}
    pool.release(got[0])
    pool.close()


def test_idle_connections_are_reaped_but_checked_out_ones_never(line_server: int) -> None:
    pool = PooledConnectorManager(LineConnector, _config(line_server), max_connections=3, idle_timeout=0.1)
    held = pool.acquire()
    idle = pool.acquire()
    pool.release(idle)
    deadline = time.monotonic() + 5
    while pool.stats()["idle"]:  # the background reaper closes the idle one
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert idle._connection is None
    assert held.is_connected() and ping(held.connection) == b"PONG\n"
    assert pool.stats() == {"total": 1, "in_use": 1, "idle": 0}
    pool.release(held)
    pool.close()


def test_unhealthy_connection_is_replaced_on_checkout(line_server: int) -> None:
    pool = PooledConnectorManager(LineConnector, _config(line_server), max_connections=1)
    first = pool.acquire()
    first.connection.sendall(b"CLOSE\n")  # the server hangs up on this connection
    deadline = time.monotonic() + 5
    while first.is_connected():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pool.release(first)
    second = pool.acquire()
    assert second is not first and ping(second.connection) == b"PONG\n"
    pool.release(second)
    assert pool.stats()["total"] == 1
    pool.close()


def test_release_of_a_foreign_connection_is_refused(line_server: int) -> None:
    pool = PooledConnectorManager(LineConnector, _config(line_server), max_connections=1)
    stranger = LineConnector(**_config(line_server))
    with pytest.raises(InvalidArgumentError):
        pool.release(stranger)
    assert pool.stats()["total"] == 0
    pool.close()


def test_unreachable_server_is_unavailable_within_the_deadline() -> None:
    port = _closed_port()
    for mode in ("single", "pooled"):
        manager = ConnectorManagerFactory.create_manager(
            LineConnector, _config(port, connect_timeout=0.5), mode, retry=RetryPolicy(attempts=3, deadline=1.0)
        )
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as info:
            manager.execute(ping, idempotent=False)  # refused: nothing was sent, so retrying is allowed
        assert time.monotonic() - started < 2
        assert "hunter2-secret" not in str(info.value)
        assert info.value.backend == "line"
        assert manager.stats()["total"] == 0
        manager.close()


def test_transient_faults_retried_with_bound_others_never(line_server: int) -> None:
    manager = SingleConnectorManager(LineConnector, _config(line_server), retry=RetryPolicy(attempts=3, backoff=0.01))
    calls: list[int] = []

    def flaky(sock: socket.socket) -> bytes:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset by peer")
        return ping(sock)

    assert manager.execute(flaky) == b"PONG\n" and len(calls) == 3
    calls.clear()

    def always_reset(sock: socket.socket) -> bytes:
        calls.append(1)
        raise ConnectionResetError("reset by peer")

    with pytest.raises(BackendUnavailableError):
        manager.execute(always_reset)
    assert len(calls) == 3  # bounded
    calls.clear()
    with pytest.raises(BackendUnavailableError):
        manager.execute(always_reset, idempotent=False)
    assert len(calls) == 1  # a sent, non-idempotent request is never retried blindly
    calls.clear()

    def answer(sock: socket.socket) -> bytes:
        calls.append(1)
        raise KeyError("missing")

    with pytest.raises(KeyError):
        manager.execute(answer)
    assert len(calls) == 1  # an answer is not a fault
    manager.close()


def test_single_manager_serialises_a_non_thread_safe_connection(line_server: int) -> None:
    manager = SingleConnectorManager(LineConnector, _config(line_server))
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with manager.connection():
            order.append("holder in")
            inside.set()
            release.wait(5)
            order.append("holder out")

    def other() -> None:
        inside.wait(5)
        with manager.connection():
            order.append("other in")

    threads = [threading.Thread(target=holder), threading.Thread(target=other)]
    for t in threads:
        t.start()
    inside.wait(5)
    time.sleep(0.05)  # give "other" the chance to (wrongly) enter; the ordering below is the assertion
    release.set()
    for t in threads:
        t.join()
    assert order == ["holder in", "holder out", "other in"]
    manager.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="not applicable: this platform has no os.fork")
@pytest.mark.parametrize("mode", ["single", "pooled"])
def test_forked_child_never_reuses_parent_sockets(line_server: int, mode: str) -> None:
    manager = ConnectorManagerFactory.create_manager(LineConnector, _config(line_server), mode)
    parent = manager.acquire()
    parent_fd = parent.connection.fileno()
    manager.release(parent)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child = manager.acquire()
            ok = child is not parent and ping(child.connection) == b"PONG\n"
            manager.release(child)
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    again = manager.acquire()
    assert again is parent and again.connection.fileno() == parent_fd and ping(again.connection) == b"PONG\n"
    manager.release(again)
    manager.close()
