"""``BackendConnectorBase``: what a backend implements to open and close one connection to its server.

Managers (``polykv.connectors.managers`` and below) call only the methods defined here, so a connector that
implements ``connect``/``disconnect``/``is_connected`` works in every ``ConnectionMode``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ..errors import InvalidArgumentError, PolyKVError
from .secret import Secret

__all__ = ["BackendConnectorBase"]


class BackendConnectorBase(ABC):
    """Opens and closes one connection to a server; subclasses implement ``connect``/``disconnect``/
    ``is_connected`` and say which exceptions are transient.

    The password is kept in a ``Secret``: it never shows in ``repr``, logs or error messages.
    """

    #: Name used in error messages.
    backend_name: ClassVar[str] = "backend"
    #: The client returned by ``connect`` pools connections itself; the pooled manager then configures
    #: that pool (``configure_pool``) instead of keeping a second pool of its own.
    native_pool: ClassVar[bool] = False
    #: The connection object may be used by several threads at once.
    thread_safe: ClassVar[bool] = False
    #: Exception types that mean "the server could not be reached or did not answer in time".
    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (ConnectionError, TimeoutError)

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        username: str | None = None,
        password: str | Secret | None = None,
        db: int | str | None = None,
        *,
        connect_timeout: float = 5.0,
        **options: Any,
    ) -> None:
        if not isinstance(host, str) or not host:
            raise InvalidArgumentError(f"host must be a non-empty str, got {host!r}", backend=self.backend_name)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise InvalidArgumentError(f"port must be an int in 1..65535, got {port!r}", backend=self.backend_name)
        if not connect_timeout > 0:
            raise InvalidArgumentError("connect_timeout must be > 0 seconds", backend=self.backend_name)
        self.host = host
        self.port = port
        self.username = username
        self._password: Secret | None = (
            password if isinstance(password, Secret) or password is None else Secret(password)
        )
        self.db = db
        self.connect_timeout = float(connect_timeout)
        self.options = options
        self._connection: Any = None
        self._pid = os.getpid()

    @property
    def password(self) -> Secret | None:
        """The password, wrapped so that printing it shows ``***``."""
        return self._password

    @property
    def address(self) -> str:
        """``host:port`` for messages (never credentials)."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def connection(self) -> Any:
        """What ``connect`` returned; connects first if needed."""
        if self._connection is None:
            self._connection = self.connect()
        return self._connection

    @abstractmethod
    def connect(self) -> Any:
        """Open the connection (or client) and return it; raise a transient error if unreachable."""

    @abstractmethod
    def disconnect(self) -> None:
        """Close the connection; safe to call twice."""

    @abstractmethod
    def is_connected(self) -> bool:
        """Whether the connection is open and usable."""

    def health_check(self) -> bool:
        """Checked when a pooled connection is checked out; a failing one is replaced. Default: ``is_connected``."""
        return self.is_connected()

    def configure_pool(self, max_connections: int, connection_timeout: float, idle_timeout: float) -> None:
        """Size the client's own pool (only called when ``native_pool`` is True)."""
        raise NotImplementedError(f"{type(self).__name__} has no native pool")

    def reap_idle(self, idle_timeout: float) -> int:
        """Close native-pool connections idle longer than ``idle_timeout``; return how many were closed."""
        return 0

    def pool_stats(self) -> dict[str, int]:
        """Native-pool counters: ``total``, ``in_use``, ``idle``."""
        return {}

    def forget(self) -> None:
        """Drop references to connections inherited through ``os.fork()`` without closing the parent's sockets."""
        self._connection = None
        self._pid = os.getpid()

    def is_transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a connection fault worth retrying (never a polykv answer such as a missing key)."""
        return isinstance(exc, self.transient_errors) and not isinstance(exc, PolyKVError)

    def was_sent(self, exc: BaseException) -> bool:
        """Whether the request may have reached the server before ``exc`` (True unless the subclass can tell)."""
        return True

    def attempt_timeout(self) -> float:
        """The longest one try can wait for the server, in seconds (its socket timeout); 0 when unknown.

        The manager spends no retry that could end past its total deadline, and counts a timed-out first
        try as having used this much of it."""
        return 0.0

    def timed_out(self, exc: BaseException) -> bool:
        """Whether ``exc`` means a try waited its whole ``attempt_timeout`` (a read timeout)."""
        return isinstance(exc, TimeoutError)

    def __repr__(self) -> str:
        user = f" username={self.username!r}" if self.username else ""
        secret = " password=***" if self._password is not None else ""
        return f"<{type(self).__name__} {self.address} db={self.db!r}{user}{secret}>"
