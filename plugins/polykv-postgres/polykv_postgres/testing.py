"""Start and stop a real PostgreSQL cluster on a free 127.0.0.1 port (tests, benchmarks, examples).

``PostgresServer`` runs ``initdb`` into a fresh temporary folder (trust authentication, superuser
``postgres``), starts it with ``pg_ctl start -w`` (which returns once the server accepts connections: no
sleeps) on a free port of 127.0.0.1 with its Unix socket in the same folder, and stops it by its pid at the
end. It never touches a PostgreSQL service already running on the machine (port 5432 or any other).

PostgreSQL refuses to run as root. When the current user is root, every server program is run as an
unprivileged user (``POLYKV_PG_USER``, else ``nobody``) through ``runuser``, and the temporary folder is
given to that user. The binaries are looked up on ``PATH`` and in ``/usr/lib/postgresql/*/bin``
(``scripts/system-deps.sh`` installs Debian's ``postgresql`` package when ``initdb`` is missing).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresServer", "find_binary", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (never 5432)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port != 5432:
            return port


def find_binary(name: str) -> str:
    """The path of a PostgreSQL server program (``initdb``, ``pg_ctl``); ``RuntimeError`` saying what to
    install when it is missing."""
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    raise RuntimeError(f"{name} is not installed (scripts/system-deps.sh, or apt-get install postgresql)")


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (read from /proc)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


class PostgresServer:
    """One throwaway PostgreSQL cluster on ``127.0.0.1:port`` (``fsync=off``: it survives a killed server,
    not a power loss; test data only).

    ``url`` is a ``postgresql://`` URL for the ``postgres`` database as superuser ``postgres``;
    ``create_database(name)`` makes another database for a test that needs a fresh one. ``kill()`` kills
    the postmaster at once (as a crash would); ``start()`` after it restarts on the same port and folder.
    """

    def __init__(self, port: int | None = None, *, user: str | None = None) -> None:
        self.port = port or free_port()
        self.run_as = self._run_as(user)
        # as another user: under /tmp, which that user can traverse (a private TMPDIR may not be)
        base = "/tmp" if self.run_as is not None and os.path.isdir("/tmp") else None  # noqa: S108
        self.dir = Path(tempfile.mkdtemp(prefix=f"polykv-pg-{self.port}-", dir=base))
        self.data = self.dir / "data"
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        os.chmod(self.dir, 0o700)
        self.pid: int | None = None
        self._initialised = False

    @staticmethod
    def _run_as(user: str | None) -> str | None:
        if os.geteuid() != 0:
            return None
        return user or os.environ.get("POLYKV_PG_USER") or "nobody"

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres``."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        """The URL of ``database`` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _command(self, *args: str) -> list[str]:
        if self.run_as is None:
            return list(args)
        return ["runuser", "-u", self.run_as, "--", *args]

    def _run(self, *args: str, timeout: float = 120.0) -> str:
        done = subprocess.run(  # noqa: S603 - fixed argv: our own binaries and folder
            self._command(*args), capture_output=True, text=True, timeout=timeout, check=False, cwd=self.dir
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, timeout: float = 60.0) -> PostgresServer:
        """initdb (first time only), then ``pg_ctl start -w``: returns once the server accepts connections."""
        if not self._initialised:
            self._run(
                find_binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            self._initialised = True
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        try:
            self._run(
                find_binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"),
                "-w", "-t", str(int(timeout)), "start", timeout=timeout + 10,
            )  # fmt: skip
        except RuntimeError as exc:
            log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL on port {self.port} did not start: {exc}\n{log}") from None
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def create_database(self, name: str) -> str:
        """Create database ``name`` (an identifier of letters, digits and ``_``); returns its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def _wait_gone(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server by its pid: ``pg_ctl stop -m fast``, then SIGKILL if it is still there."""
        pid, self.pid = self.pid, None
        if pid is None:
            return
        subprocess.run(  # noqa: S603 - fixed argv
            self._command(find_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self._wait_gone(pid, 10)

    def kill(self) -> None:
        """Kill the postmaster and its backends at once (SIGKILL, as a crash would), by their pids."""
        pid, self.pid = self.pid, None
        if pid is None:
            return
        children = _children(pid)
        for victim in (pid, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        for victim in (pid, *children):
            self._wait_gone(victim, 10)

    def restart(self) -> PostgresServer:
        """Stop (if running) and start again on the same port and data folder (data kept)."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.cleanup()
