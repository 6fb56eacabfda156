"""``HDFSStore``: the fsspec store on HDFS, reached through an ``HDFSConnector`` (hdfs-native or WebHDFS)
that a connector manager from ``ConnectorManagerFactory`` hands out.

The store holds one file-system client for its whole life: both clients are thread-safe and keep their own
connections (hdfs-native multiplexes RPCs to the NameNode and DataNodes; WebHDFS's ``requests`` session pools
HTTP connections), and the store's batches already run concurrently on that one client. So the manager is a
``ConnectionMode.SINGLE`` one: a pool of several clients would only open more NameNode connections.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from polykv.connectors import BackendConnectorBase, BaseConnectorManager, ConnectionMode, ConnectorManagerFactory
from polykv.errors import InvalidArgumentError, InvalidURLError
from polykv.options import options_from_url, require_module

from .fsoptions import check_filesystem_options
from .store import FsspecStore, parse_options

__all__ = ["HDFSConnector", "HDFSStore"]


def _filesystem_class(protocol: str) -> type:
    """The fsspec file system class of ``protocol``, or ``MissingDependencyError`` naming the extra."""
    if protocol == "webhdfs":
        require_module("requests", "polykv-fsspec[hdfs]", "the webhdfs store", backend="hdfs")
        webhdfs = require_module("fsspec.implementations.webhdfs", "polykv-fsspec", "the webhdfs store", backend="hdfs")
        return webhdfs.WebHDFS  # type: ignore[no-any-return]
    native = require_module("hdfs_native.fsspec", "polykv-fsspec[hdfs]", "the hdfs store", backend="hdfs")
    return native.HdfsFileSystem  # type: ignore[no-any-return]


class HDFSConnector(BackendConnectorBase):
    """Opens an fsspec HDFS client: ``protocol="hdfs"`` (hdfs-native, NameNode RPC port) or ``"webhdfs"``
    (NameNode HTTP port). hdfs-native takes the user from ``HADOOP_USER_NAME``; WebHDFS from ``username``."""

    backend_name = "hdfs"
    thread_safe = True

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = 9000,
        username: str | None = None,
        *,
        protocol: str = "hdfs",
        connect_timeout: float = 5.0,
        **options: Any,
    ) -> None:
        super().__init__(host, port, username, connect_timeout=connect_timeout, **options)
        if protocol not in ("hdfs", "webhdfs"):
            raise InvalidArgumentError(f"protocol must be 'hdfs' or 'webhdfs', got {protocol!r}", backend="hdfs")
        self.protocol = protocol
        check_filesystem_options(
            _filesystem_class(protocol),
            self.options,
            backend="hdfs",
            own_options=("host", "port", "username", "protocol", "connect_timeout", "codec", "base_path"),
            also_accepted=(lambda name: "." in name) if protocol == "hdfs" else None,  # Hadoop configuration keys
        )

    def config(self) -> dict[str, Any]:
        """The keyword arguments that build an equal connector (what a connector manager is given)."""
        return {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "protocol": self.protocol,
            "connect_timeout": self.connect_timeout,
            **self.options,
        }

    def connect(self) -> Any:
        """An fsspec file system for this NameNode (no network traffic until the first call)."""
        fsspec = require_module("fsspec", "polykv-fsspec", "the hdfs store", backend="hdfs")
        if self.protocol == "webhdfs":
            require_module("requests", "polykv-fsspec[hdfs]", "the webhdfs store", backend="hdfs")
        else:  # fsspec's own "hdfs" entry points at pyarrow; polykv-fsspec uses hdfs-native's file system
            require_module("hdfs_native", "polykv-fsspec[hdfs]", "the hdfs store", backend="hdfs")

        options = dict(self.options)
        if self.protocol == "webhdfs":
            if self.username:
                options.setdefault("user", self.username)
            options.setdefault("data_proxy", None)
        else:
            # hdfs-native takes Hadoop configuration as strings (a URL query turns "1" into 1)
            options = {name: value if isinstance(value, str) else str(value) for name, value in options.items()}
            # hdfs-native retries an unreachable NameNode for about 3 minutes by default: bound it
            options.setdefault("dfs.client.socket-timeout", str(int(self.connect_timeout * 1000)))
            options.setdefault("dfs.client.failover.max.attempts", "2")
            options.setdefault("dfs.client.failover.sleep.base.millis", "100")
            options.setdefault("dfs.client.failover.sleep.max.millis", "1000")
        return fsspec.filesystem(self.protocol, host=self.host, port=self.port, skip_instance_cache=True, **options)

    def disconnect(self) -> None:
        """Forget the client (hdfs-native and WebHDFS close their sockets when collected)."""
        self._connection = None

    def is_connected(self) -> bool:
        """Whether a client was opened (HDFS clients reconnect by themselves)."""
        return self._connection is not None


class HDFSStore(FsspecStore):
    """Files under ``base_path`` (default ``/polykv``) on HDFS; writes are a temporary file plus an atomic
    rename, so ``add`` and ``insert_record`` are atomic (rename without overwrite).

    The connection comes from a connector manager (``manager``): by default the store builds a
    ``ConnectionMode.SINGLE`` one with ``ConnectorManagerFactory`` from ``connector`` (an ``HDFSConnector``
    whose settings, ``HDFSConnector.config()``, the manager's connector copies) or from
    ``connector_options`` (``host``, ``port``, ``username``, ``protocol``, ``connect_timeout``, fsspec
    options), and closes it in ``close()``. A ``manager`` passed in stays the caller's to close; it must hand
    out ``HDFSConnector`` instances (else ``InvalidArgumentError``). The store checks one connector out when
    it opens and returns it in ``close()``; ``connector`` is that connector.
    """

    _backend_type = "hdfs"
    url_schemes = ("hdfs", "webhdfs")

    def __init__(
        self,
        connector: HDFSConnector | None = None,
        base_path: str = "/polykv",
        *,
        codec: Any = "json",
        manager: BaseConnectorManager | None = None,
        **connector_options: Any,
    ) -> None:
        if manager is not None and (connector is not None or connector_options):
            raise InvalidArgumentError(
                "pass either a manager or a connector (or its options) to HDFSStore, not both", backend="hdfs"
            )
        self._owns_manager = manager is None
        if manager is None:
            klass = type(connector) if connector is not None else HDFSConnector
            config = connector.config() if connector is not None else connector_options
            manager = ConnectorManagerFactory.create_manager(klass, config, ConnectionMode.SINGLE)
        self.manager = manager
        checked_out = manager.acquire()
        if not isinstance(checked_out, HDFSConnector):
            manager.release(checked_out)
            raise InvalidArgumentError(
                f"HDFSStore needs a manager of HDFSConnector connectors, got {type(checked_out).__name__}",
                backend="hdfs",
            )
        self.connector: HDFSConnector = checked_out
        self._held = True
        try:
            super().__init__(checked_out.connection, base_path, codec=codec)
        except BaseException:
            self.close()
            raise
        self._location = f"{checked_out.protocol}://{checked_out.address}{self.base_path}"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> HDFSStore:
        """``hdfs://host:port/base`` (RPC port) or ``webhdfs://host:port/base?user=name`` (HTTP port)."""
        parts = urlsplit(url)
        if not parts.hostname:
            raise InvalidURLError("an HDFS URL needs the NameNode host: hdfs://host:port/base", backend="hdfs")
        query = parse_options(parts.query)
        merged = {**query, **options}
        codec = merged.pop("codec", "json")
        username = merged.pop("user", None) or merged.pop("username", None) or parts.username
        with options_from_url(query, options):
            connector = HDFSConnector(
                parts.hostname,
                parts.port or (9870 if parts.scheme == "webhdfs" else 9000),
                username,
                protocol=parts.scheme.lower(),
                **merged,
            )
            return cls(connector, parts.path.rstrip("/") or "/polykv", codec=codec)

    def close(self) -> None:
        """Return the connector to the manager, and close the manager if the store made it."""
        if self._held:
            self._held = False
            self.manager.release(self.connector)
        if self._owns_manager:
            self.manager.close()
