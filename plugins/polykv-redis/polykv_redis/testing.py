"""Start and stop real ``redis-server`` processes on free 127.0.0.1 ports (tests, benchmarks, examples).

``RedisServer`` runs one server without persistence in its own temporary folder; ``RedisClusterServers``
runs three cluster-enabled servers and joins them with ``redis-cli --cluster create``. Both stop their
processes by pid, and say on the terminal when they start and when they are ready
(``polykv.testing.progress``).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar
from urllib.parse import quote

from polykv.testing.progress import server_start

__all__ = ["RedisClusterServers", "RedisServer", "RedisTLSServer", "free_port", "running"]


class _Servers(Protocol):
    def start(self) -> object: ...

    def cleanup(self) -> None: ...


S = TypeVar("S", bound=_Servers)


def running(servers: S) -> Iterator[S]:
    """Start ``servers`` (a ``RedisServer``, ``RedisTLSServer`` or ``RedisClusterServers``), yield them, and
    clean them up afterwards: stop their processes by pid and remove their folders, also when ``start``
    raised halfway (which ``with servers:`` would not). For pytest fixtures::

        @pytest.fixture
        def own_server() -> Iterator[RedisServer]:
            yield from running(RedisServer())
    """
    try:
        servers.start()
        yield servers
    finally:
        servers.cleanup()


def free_port(*, with_bus: bool = False) -> int:
    """A TCP port on 127.0.0.1 that is free now (and port + 10000, for a cluster bus, if ``with_bus``)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if not with_bus:
            return port
        if port + 10000 < 65536:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair found")


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (apt-get install redis-server)")
    return path


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` on 127.0.0.1 (``--save "" --appendonly no``), in its own temporary folder."""

    def __init__(self, port: int | None = None, *, extra_args: tuple[str, ...] = ()) -> None:
        self.port = port or free_port(with_bus=bool(extra_args))
        self.extra_args = extra_args
        self.dir = Path(tempfile.mkdtemp(prefix=f"polykv-redis-{self.port}-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    #: How the start and ready lines name this server.
    label = "redis-server"

    def start(self, timeout: float = 10.0, *, announce: bool = True) -> RedisServer:
        """Start the server and wait (polling PING, up to ``timeout`` seconds) until it answers.

        ``announce`` prints a line when it starts and when it answers (a cluster announces itself instead).
        """
        if not announce:
            self._start(timeout)
            return self
        with server_start(self.label, f"127.0.0.1:{self.port}"):
            self._start(timeout)
        return self

    def _start(self, timeout: float) -> None:
        args = [
            _binary("redis-server"),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"),
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:] if self.dir.exists() else ""
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{log}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        return _ping(self.port)

    def stop(self) -> None:
        """Stop the process by pid (SIGTERM, then SIGKILL after 5 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> RedisServer:
        """Stop if running, then start again on the same port (empty: nothing persists)."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.cleanup()


class RedisTLSServer(RedisServer):
    """A ``redis-server`` that answers TLS only (``--port 0 --tls-port``), with a throwaway CA and server
    certificate for 127.0.0.1 made by ``trustme`` (a test dependency). ``ca_file`` is what clients trust."""

    label = "redis-server (TLS)"

    def __init__(self, port: int | None = None) -> None:
        import trustme

        super().__init__(port)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = self.dir / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.cert_chain_pems[0].write_to_path(str(self.dir / "server.pem"))
        cert.private_key_pem.write_to_path(str(self.dir / "server.key"))
        self._ssl_context = ssl.create_default_context(cafile=str(self.ca_file))
        self.extra_args = (
            "--port", "0", "--tls-port", str(self.port),
            "--tls-cert-file", str(self.dir / "server.pem"), "--tls-key-file", str(self.dir / "server.key"),
            "--tls-ca-cert-file", str(self.ca_file), "--tls-auth-clients", "no",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={quote(str(self.ca_file))}"

    @staticmethod
    def supported() -> bool:
        """Whether the installed ``redis-server`` knows TLS (a build without it rejects ``tls-port``)."""
        out = subprocess.run(  # noqa: S603 - fixed argv; with no port at all the server exits at once
            [_binary("redis-server"), "--port", "0", "--tls-port", "0", "--save", ""],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return "Bad directive" not in out.stdout + out.stderr

    def _answers(self) -> bool:
        try:
            with (
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw,
                self._ssl_context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
            ):
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class RedisClusterServers:
    """Three cluster-enabled redis-servers joined into one 3-master cluster (no replicas)."""

    def __init__(self, masters: int = 3) -> None:
        self.nodes = [
            RedisServer(
                free_port(with_bus=True),
                extra_args=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                            "--cluster-node-timeout", "5000"),
            )
            for _ in range(masters)
        ]  # fmt: skip

    @property
    def port(self) -> int:
        return self.nodes[0].port

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> RedisClusterServers:
        """Start every node, create the cluster, and wait until every node reports ``cluster_state:ok``."""
        ports = ",".join(str(n.port) for n in self.nodes)
        with server_start(f"Redis Cluster ({len(self.nodes)} masters)", f"127.0.0.1:{ports}"):
            self._start(timeout)
        return self

    def _start(self, timeout: float) -> None:
        try:
            for node in self.nodes:
                node.start(announce=False)
            subprocess.run(  # noqa: S603 - fixed argv, our own binaries and ports
                [_binary("redis-cli"), "--cluster", "create",
                 *(f"127.0.0.1:{n.port}" for n in self.nodes), "--cluster-yes"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
            )  # fmt: skip
            deadline = time.monotonic() + timeout
            while not all(self._state_ok(n.port) for n in self.nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
                time.sleep(0.05)
        except BaseException:
            self.cleanup()
            raise

    @staticmethod
    def _state_ok(port: int) -> bool:
        out = subprocess.run(  # noqa: S603 - fixed argv
            [_binary("redis-cli"), "-h", "127.0.0.1", "-p", str(port), "cluster", "info"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
        return "cluster_state:ok" in out.stdout

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()

    def __enter__(self) -> RedisClusterServers:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.cleanup()
