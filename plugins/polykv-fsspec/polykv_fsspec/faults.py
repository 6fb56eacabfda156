"""Turn file-system client exceptions into polykv errors: unreachable servers, refused credentials."""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from types import TracebackType

from polykv.errors import BackendUnavailableError, PolyKVError

__all__ = ["AccessDeniedError", "is_unavailable", "translate_faults"]

_UNAVAILABLE_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.EPIPE}
)
#: Class names (anywhere in an exception's cause chain) of client-library faults that mean "not reachable".
_UNAVAILABLE_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ClientOSError",
        "ServerTimeoutError",
        "ConnectionError",
        "MaxRetryError",
        "NewConnectionError",
    }
)


_UNAVAILABLE_TEXT = re.compile(
    r"connection refused|connection reset|broken pipe|timed out|os error (104|110|111|113)|service unavailable"
    r"|ServiceUnavailable|SlowDown",
    re.IGNORECASE,
)


class AccessDeniedError(PolyKVError, PermissionError):
    """The server refused the credentials or the operation (a wrong secret, a missing permission)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) says the server could not be reached or did not answer in time."""
    for each in _chain(exc):
        if isinstance(each, (ConnectionError, TimeoutError)):
            return True
        if isinstance(each, OSError) and each.errno in _UNAVAILABLE_ERRNOS:
            return True
        if isinstance(each, OSError) and each.errno is None and _UNAVAILABLE_TEXT.search(str(each)):
            return True  # hdfs-native raises a bare OSError("Connection refused (os error 111)")
        if any(cls.__name__ in _UNAVAILABLE_NAMES for cls in type(each).__mro__):
            return True
    return False


class translate_faults:  # lower case: used like a function, ``with translate_faults(...):``
    """Re-raise client faults as ``BackendUnavailableError``/``AccessDeniedError``; polykv errors pass through.

    A class rather than ``@contextmanager``: it wraps every single read and write, where a generator costs.
    """

    __slots__ = ("backend", "key", "schema", "where")

    def __init__(self, backend: str, where: str, schema: str | None = None, key: str | None = None) -> None:
        self.backend, self.where, self.schema, self.key = backend, where, schema, key

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None or isinstance(exc, PolyKVError) or not isinstance(exc, Exception):
            return
        where, context = self.where, {"backend": self.backend, "schema": self.schema, "key": self.key}
        if isinstance(exc, PermissionError):
            raise AccessDeniedError(
                f"{where} refused access ({exc}); check the credentials and permissions", **context
            ) from exc
        if is_unavailable(exc):
            raise BackendUnavailableError(f"cannot reach {where}: {type(exc).__name__}: {exc}", **context) from exc
        if isinstance(exc, (FileNotFoundError, FileExistsError)):
            return
        raise PolyKVError(f"{where} failed: {type(exc).__name__}: {exc}", **context) from exc
