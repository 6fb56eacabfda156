# ruff: noqa: S603 - runs fixed commands (java, pip, weed) built here, never user input
"""Start a real single-node HDFS (NameNode + DataNode, WebHDFS on) on 127.0.0.1 for tests and CI.

The Hadoop 2.7.3 jars come from the ``pyspark==2.4.8`` source distribution on the package index (it carries
``hadoop-hdfs-2.7.3.jar``); they are cached in ``~/.cache/polykv-hdfs`` (or ``$POLYKV_HDFS_CACHE``) so only the
first run downloads. WebHDFS needs Jersey 1, taken from the Debian packages ``libjersey1-core-java
libjersey1-server-java libjersey1-servlet-java libjsr311-api-java``. Needs Java 17 (``java`` on PATH).

Command line::

    python hdfs_server.py fetch                  # download and cache the jars only
    python hdfs_server.py run --dir /tmp/hdfs    # start, print the ports, stop on Ctrl-C / SIGTERM

From Python: ``with HDFSServer.start(workdir) as server: server.namenode_url``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processes import free_port, spawn, stop, wait_ready

from polykv.testing.progress import announce, server_start

__all__ = ["HDFSServer", "ensure_jars", "free_port"]

PYSPARK = "pyspark==2.4.8"
CACHE = Path(os.environ.get("POLYKV_HDFS_CACHE", Path.home() / ".cache" / "polykv-hdfs"))
JERSEY1_DIR = Path("/usr/share/java")
JERSEY1_JARS = ("jersey1-core.jar", "jersey1-server.jar", "jersey1-servlet.jar", "jsr311-api.jar")
JERSEY1_PACKAGES = "libjersey1-core-java libjersey1-server-java libjersey1-servlet-java libjsr311-api-java"
#: CPU priority (nice value) of the NameNode and DataNode; below 0 applies only when running as root.
#: A small write ends with the client's complete() call, which the NameNode refuses until the DataNode has
#: reported the block; refused, the client sleeps (hdfs-native: 500 ms, the Java client behind WebHDFS:
#: 400 ms) before asking again. With the test client on the same few cores, a higher priority lets the
#: DataNode's report win that race more often. ``$POLYKV_HDFS_NICE`` overrides it; 0 turns it off.
DAEMON_NICENESS = int(os.environ.get("POLYKV_HDFS_NICE", "-10"))
#: Event-loop threads of the DataNode's WebHDFS server (see ``HDFSServer._java``).
NETTY_THREADS = 64
#: pyspark jars that clash with Hadoop 2.7's Jersey 1 WebHDFS server.
EXCLUDED_PREFIXES = ("jersey-", "javax.ws.rs-api", "hk2-", "spark-")
JAVA_OPENS = [
    f"--add-opens={mod}=ALL-UNNAMED"
    for mod in (
        "java.base/java.lang",
        "java.base/java.nio",
        "java.base/sun.nio.ch",
        "java.base/java.util",
        "java.base/java.lang.reflect",
        "java.base/java.net",
    )
]


def ensure_jars(cache: Path = CACHE) -> Path:
    """The folder of cached Hadoop jars; downloads and extracts the pyspark sdist on the first call only.
    Parallel test workers (pytest-xdist) take a file lock, so one downloads and the others wait for it."""
    jars = cache / "jars"
    if (jars / "hadoop-hdfs-2.7.3.jar").exists():
        return jars
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "jars.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (jars / "hadoop-hdfs-2.7.3.jar").exists():  # another worker fetched them while this one waited
            return jars
        return _fetch_jars(cache, jars)


def _fetch_jars(cache: Path, jars: Path) -> Path:
    announce(f"fetching the Hadoop 2.7.3 jars ({PYSPARK} sdist, about 220 MB) into {jars}; only the first run")
    download = cache / "download"
    download.mkdir(parents=True, exist_ok=True)
    # pip prepares the sdist's metadata with this interpreter's setuptools and wheel (the test extra has both)
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", PYSPARK, "-d", str(download)],
        stdout=subprocess.DEVNULL,
    )
    if fetched.returncode != 0:
        raise RuntimeError(f"pip download {PYSPARK} failed (it needs setuptools and wheel: pip install wheel)")
    sdist = next(download.glob("pyspark-*.tar.gz"))
    partial = cache / "jars.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if member.isfile() and len(parts) == 4 and parts[1:3] == ("deps", "jars"):
                member.name = parts[3]
                tar.extract(member, partial, filter="data")
    partial.rename(jars)
    sdist.unlink()
    announce(f"Hadoop jars cached in {jars}")
    return jars


def _jersey1_jars() -> list[Path]:
    found = [JERSEY1_DIR / name for name in JERSEY1_JARS]
    missing = [str(p) for p in found if not p.exists()]
    if missing:
        raise RuntimeError(f"WebHDFS needs Jersey 1 ({', '.join(missing)} missing): apt-get install {JERSEY1_PACKAGES}")
    return found


def _webapps(cache: Path) -> Path:
    """A classpath folder with the empty ``webapps/*`` descriptors the Hadoop HTTP servers look up."""
    root = cache / "webroot"
    for app in ("hdfs", "datanode", "secondary"):
        web_inf = root / "webapps" / app / "WEB-INF"
        web_inf.mkdir(parents=True, exist_ok=True)
        descriptor = web_inf / "web.xml"
        if not descriptor.exists():
            descriptor.write_text('<?xml version="1.0"?>\n<web-app version="2.5"/>\n')
    return root


def _site_xml(props: dict[str, str]) -> str:
    body = "".join(f"  <property><name>{k}</name><value>{v}</value></property>\n" for k, v in props.items())
    return f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'


@dataclass
class HDFSServer:
    """A running NameNode + DataNode; ``stop()`` ends both by pid."""

    workdir: Path
    rpc_port: int
    http_port: int
    classpath: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def namenode_url(self) -> str:
        """The ``hdfs://`` address of the NameNode RPC endpoint."""
        return f"hdfs://127.0.0.1:{self.rpc_port}"

    @property
    def webhdfs_url(self) -> str:
        """The ``webhdfs://`` address of the NameNode's WebHDFS endpoint."""
        return f"webhdfs://127.0.0.1:{self.http_port}"

    @classmethod
    def configure(cls, workdir: Path, cache: Path = CACHE) -> HDFSServer:
        """Write the configuration and format the NameNode (no process left running)."""
        jars = ensure_jars(cache)
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "conf"
        conf.mkdir(exist_ok=True)
        rpc, http = free_port(), free_port()
        dn_ports = {name: free_port() for name in ("address", "http.address", "ipc.address")}
        (conf / "core-site.xml").write_text(
            _site_xml({"fs.defaultFS": f"hdfs://127.0.0.1:{rpc}", "hadoop.tmp.dir": str(workdir / "tmp")})
        )
        (conf / "hdfs-site.xml").write_text(
            _site_xml(
                {
                    "dfs.replication": "1",
                    "dfs.namenode.name.dir": str(workdir / "name"),
                    "dfs.datanode.data.dir": str(workdir / "data"),
                    "dfs.namenode.rpc-address": f"127.0.0.1:{rpc}",
                    "dfs.namenode.http-address": f"127.0.0.1:{http}",
                    "dfs.namenode.secondary.http-address": "127.0.0.1:0",
                    **{f"dfs.datanode.{name}": f"127.0.0.1:{port}" for name, port in dn_ports.items()},
                    "dfs.datanode.hostname": "127.0.0.1",
                    "dfs.namenode.datanode.registration.ip-hostname-check": "false",
                    "dfs.permissions.enabled": "false",
                    "dfs.namenode.safemode.extension": "0",
                    "dfs.webhdfs.enabled": "true",
                    "dfs.client.use.datanode.hostname": "true",
                    "dfs.datanode.use.datanode.hostname": "true",
                }
            )
        )
        (conf / "log4j.properties").write_text(
            "log4j.rootLogger=WARN,console\nlog4j.appender.console=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.console.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.console.layout.ConversionPattern=%d %p %c: %m%n\n"
        )
        pyspark_jars = sorted(str(jar) for jar in jars.glob("*.jar") if not jar.name.startswith(EXCLUDED_PREFIXES))
        classpath = os.pathsep.join(
            [str(conf), str(_webapps(cache)), *(str(j) for j in _jersey1_jars()), *pyspark_jars]
        )
        server = cls(workdir=workdir, rpc_port=rpc, http_port=http, classpath=classpath)
        fmt = server._java("org.apache.hadoop.hdfs.server.namenode.NameNode", "-format", "-force", "-nonInteractive")
        announce(f"formatting a fresh HDFS NameNode in {workdir}")
        with open(workdir / "format.log", "wb") as log:
            done = subprocess.run(fmt, stdout=log, stderr=subprocess.STDOUT, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"NameNode -format failed; see {workdir / 'format.log'}")
        return server

    def _java(self, main: str, *args: str) -> list[str]:
        privileged = DAEMON_NICENESS >= 0 or os.geteuid() == 0
        return [
            *(["nice", "-n", str(DAEMON_NICENESS)] if DAEMON_NICENESS and privileged else []),
            "java",
            "-Xmx256m",
            *JAVA_OPENS,
            "-Djava.net.preferIPv4Stack=true",
            # the DataNode's WebHDFS server (Netty) handles a request on its event-loop thread, for the whole
            # ~0.4 s a write waits on complete(); Netty's default of 2 threads per core caps concurrent writes
            f"-Dio.netty.eventLoopThreads={NETTY_THREADS}",
            f"-Dhadoop.log.dir={self.workdir / 'logs'}",
            "-cp",
            self.classpath,
            main,
            *args,
        ]

    def _spawn(self, name: str, main: str) -> None:
        self.processes[name] = spawn(self._java(main), self.workdir / f"{name}.log")

    def live_datanodes(self) -> int:
        """Live DataNodes as the NameNode's JMX reports them (-1 when the NameNode does not answer yet)."""
        url = f"http://127.0.0.1:{self.http_port}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                beans: list[dict[str, Any]] = json.load(response)["beans"]
        except (OSError, ValueError, KeyError):
            return -1
        return int(beans[0]["NumLiveDataNodes"]) if beans else -1

    def start_processes(self, timeout: float = 90.0) -> None:
        """Start NameNode then DataNode; return once the NameNode sees one live DataNode and left safe mode.

        Says on the terminal when it starts and when it is ready (WebHDFS is served by the same NameNode).
        """
        where = f"127.0.0.1:{self.rpc_port}, WebHDFS on 127.0.0.1:{self.http_port}"
        with server_start("HDFS (NameNode + DataNode)", where):
            if "namenode" not in self.processes or self.processes["namenode"].poll() is not None:
                self._spawn("namenode", "org.apache.hadoop.hdfs.server.namenode.NameNode")
            if "datanode" not in self.processes or self.processes["datanode"].poll() is not None:
                self._spawn("datanode", "org.apache.hadoop.hdfs.server.datanode.DataNode")
            try:
                wait_ready(
                    lambda: self.live_datanodes() >= 1 and self._out_of_safemode(),
                    self.processes,
                    timeout,
                    "HDFS",
                    self.workdir,
                    interval=0.2,
                )
            except BaseException:
                self.stop()
                raise

    def _out_of_safemode(self) -> bool:
        url = f"http://127.0.0.1:{self.http_port}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                beans = json.load(response)["beans"]
        except (OSError, ValueError, KeyError):
            return False
        return bool(beans) and not beans[0].get("Safemode")

    @classmethod
    def start(cls, workdir: Path, cache: Path = CACHE, timeout: float = 90.0) -> HDFSServer:
        """Configure, format and start a fresh HDFS in ``workdir``."""
        server = cls.configure(workdir, cache)
        server.start_processes(timeout)
        return server

    def stop(self, name: str | None = None, timeout: float = 20.0) -> None:
        """Stop one process (``"namenode"``/``"datanode"``) or all, by pid: SIGTERM, then SIGKILL."""
        names = [name] if name else list(self.processes)
        stop([self.processes[each] for each in names if each in self.processes], timeout)

    def __enter__(self) -> HDFSServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``fetch`` the jars, or ``run`` a server in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download and cache the Hadoop jars")
    run = sub.add_parser("run", help="start HDFS and keep it running until SIGINT/SIGTERM")
    run.add_argument("--dir", type=Path, required=True, help="work folder (configuration, data, logs)")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(ensure_jars())
        return 0
    server = HDFSServer.start(args.dir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(
            json.dumps(
                {
                    "hdfs": server.namenode_url,
                    "webhdfs": server.webhdfs_url,
                    "pids": {n: p.pid for n, p in server.processes.items()},
                }
            ),
            flush=True,
        )
        while all(p.poll() is None for p in server.processes.values()):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
