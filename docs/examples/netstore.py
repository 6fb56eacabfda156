"""A networked polykv store whose connections a ``ConnectorManagerFactory`` manager hands out.

``KVConnector`` opens one TCP connection to a ``kvserver.KVServer``; ``NetStore`` never touches a socket
itself: every primitive is ``self.manager.execute(operation)``, which checks a connection out (``SINGLE``:
the one connection; ``POOLED``: a free one of up to ``max_connections``), returns it, and retries
connection faults within one deadline. Only the connector knows the protocol's transport.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from io import BufferedIOBase
from typing import Any
from urllib.parse import urlsplit

from polykv.connectors import BackendConnectorBase, ConnectionMode, ConnectorManagerFactory
from polykv.options import as_int, parse_query
from polykv.store import KeyValueStore


class KVConnector(BackendConnectorBase):
    """One connection to a KVServer: ``connect()`` returns the socket's buffered file."""

    backend_name = "net_example"  # named by errors such as BackendUnavailableError

    def connect(self) -> BufferedIOBase:
        sock = socket.create_connection((self.host, self.port or 7070), timeout=self.connect_timeout)
        return sock.makefile("rwb")

    def disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def is_connected(self) -> bool:
        return self._connection is not None and not self._connection.closed


def request(conn: BufferedIOBase, op: str, *args: str | bytes) -> list[bytes]:
    """Send one request line, read one reply line; a closed connection raises ``ConnectionError``."""
    words = [a.encode() if isinstance(a, str) else a for a in args]
    conn.write(b" ".join([op.encode(), *(b"=" + w.hex().encode() for w in words)]) + b"\n")
    conn.flush()
    reply = conn.readline()
    if not reply:
        raise ConnectionError("the server closed the connection")
    return reply.split()


def _unhex(word: bytes) -> bytes:
    return bytes.fromhex(word[1:].decode())


class NetStore(KeyValueStore):
    """Values on a KVServer at ``host:port``; ``connection_mode`` ``"single"`` (default) or ``"pooled"``
    (with ``max_connections`` and ``connection_timeout``, seconds to wait for a free connection)."""

    _backend_type = "net_example"
    url_schemes = ("netexample",)

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7070,
        *,
        connection_mode: ConnectionMode | str = ConnectionMode.SINGLE,
        max_connections: int = 4,
        connection_timeout: float = 5.0,
        codec: Any = "json",
    ) -> None:
        super().__init__(codec=codec)
        pool = {}
        if ConnectionMode(connection_mode) is ConnectionMode.POOLED:
            pool = {"max_connections": max_connections, "connection_timeout": connection_timeout}
        self.manager = ConnectorManagerFactory.create_manager(
            KVConnector, {"host": host, "port": port}, connection_mode, **pool
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> NetStore:
        """``netexample://host:port?connection_mode=pooled&max_connections=8``."""
        parts = urlsplit(url)
        query = parse_query(parts.query, {"connection_mode": str, "max_connections": as_int}, "net_example")
        return cls(parts.hostname or "127.0.0.1", parts.port or 7070, **{**query, **options})

    def close(self) -> None:
        self.manager.close()  # the manager reconnects if the store is used again

    def _get(self, ns: str, key: str) -> bytes | None:
        reply = self.manager.execute(lambda conn: request(conn, "GET", ns, key))
        return _unhex(reply[1]) if reply[0] == b"V" else None

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self.manager.execute(lambda conn: request(conn, "SET", ns, key, data))  # idempotent: may be retried

    def _delete(self, ns: str, key: str) -> bool:
        # a retried DEL would answer "0" for a key the first try removed: never resend it once sent
        reply = self.manager.execute(lambda conn: request(conn, "DEL", ns, key), idempotent=False)
        return reply == [b"1"]

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        reply = self.manager.execute(lambda conn: request(conn, "SCAN", ns, prefix))
        yield from (_unhex(k).decode() for k in reply[1:])

    def _schemas(self) -> Iterator[str]:
        reply = self.manager.execute(lambda conn: request(conn, "SCHEMAS"))
        yield from (_unhex(k).decode() for k in reply[1:])
