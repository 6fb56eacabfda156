# ruff: noqa: S603 - runs fixed commands built by the server scripts, never user input
"""Process helpers shared by the test-server scripts: free ports, start with a log, wait until ready, stop by pid."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["free_port", "spawn", "stop", "wait_ready"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn(
    command: list[str], log: Path, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output appended to ``log``, no standard input and ``env`` added to ours."""
    full_env = {**os.environ, **env} if env else None
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=full_env
        )


def wait_ready(
    ready: Callable[[], bool],
    processes: Mapping[str, subprocess.Popen[bytes]],
    timeout: float,
    what: str,
    logs: Path,
    interval: float = 0.1,
) -> None:
    """Poll ``ready()`` until it holds; raise (naming the logs) if a process exits or ``timeout`` passes.

    The caller stops the processes on failure; this only reports why waiting ended.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        for name, proc in processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: {name} exited with {proc.returncode}; see the logs in {logs}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {timeout:.0f} s; see the logs in {logs}")
        time.sleep(interval)


def stop(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """End the processes by pid: SIGTERM to all, then SIGKILL to any still running after ``timeout`` s."""
    running = [proc for proc in processes if proc.poll() is None]
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
