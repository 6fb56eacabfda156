"""The one polykv error hierarchy: every error names the backend, and the schema and key where there is one."""

from __future__ import annotations

from typing import TypeVar

__all__ = [
    "AccessDeniedError",
    "AuthenticationFailedError",
    "BackendBusyError",
    "BackendError",
    "BackendNotFoundError",
    "BackendUnavailableError",
    "FilterError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidURLError",
    "KeyNotFoundError",
    "LockNotOwnedError",
    "LockTimeoutError",
    "MissingDependencyError",
    "NotSupportedError",
    "PluginConflictError",
    "PluginLoadError",
    "PolyKVError",
    "PoolTimeoutError",
    "ReadOnlyError",
    "RecordError",
    "RecordExistsError",
    "RecordNotFoundError",
    "RegistrationError",
    "SerializationError",
    "StorageError",
    "WrongTypeError",
    "a_type_name",
    "locate",
    "with_article",
]


def a_type_name(value: object) -> str:
    """The type name of ``value`` with its English article, for messages: "an int", "a str", "an object"."""
    return with_article(type(value).__name__)


def with_article(name: str) -> str:
    """``name`` after "a", or "an" before a vowel letter (by spelling: "an UUID", as messages can't hear)."""
    return f"{'an' if name.startswith(tuple('aeiouAEIOU')) else 'a'} {name}"


class PolyKVError(Exception):
    """Root of every error polykv raises; carries ``backend``, ``schema`` and ``key`` when known."""

    def __init__(
        self,
        message: str,
        *,
        backend: str | None = None,
        schema: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.schema = schema
        self.key = key

    def __str__(self) -> str:
        where = []
        if self.backend is not None:
            where.append(f"backend={self.backend!r}")
        if self.schema is not None:
            where.append(f"schema={self.schema!r}")
        if self.key is not None:
            where.append(f"key={self.key!r}")
        return f"{self.message} [{', '.join(where)}]" if where else self.message

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.message, self.backend, self.schema, self.key))


def _rebuild(
    cls: type[PolyKVError], message: str, backend: str | None, schema: str | None, key: str | None
) -> PolyKVError:
    """Unpickle an error (exceptions with keyword-only arguments need help)."""
    return cls(message, backend=backend, schema=schema, key=key)


E = TypeVar("E", bound=PolyKVError)


def locate(error: E, *, backend: str | None = None, schema: str | None = None, key: str | None = None) -> E:
    """Fill in the backend, schema and key ``error`` does not name yet (raised by a helper that did not know
    them, such as the filter compiler); returns ``error``."""
    if error.backend is None:
        error.backend = backend
    if error.schema is None:
        error.schema = schema
    if error.key is None:
        error.key = key
    return error


class BackendNotFoundError(PolyKVError, KeyError):
    """No backend of that name is defined, built in or declared by an installed distribution."""


class PluginLoadError(PolyKVError):
    """An entry point named a module or class that could not be loaded as a polykv store."""


class PluginConflictError(PluginLoadError, ValueError):
    """More than one provider claims the same name (backend, URL scheme, codec or scheme alias); the message
    names every claimant and how to choose one (see ``polykv.claims.resolve_claims``)."""


class RegistrationError(PolyKVError, TypeError):
    """A store class declares an invalid ``_backend_type`` or claims a key that another class owns."""


class NotSupportedError(PolyKVError):
    """The store does not declare the capability or operation that was asked for."""

    def __init__(self, message: str, *, capability: str | None = None, **where: str | None) -> None:
        super().__init__(message, **where)
        self.capability = capability


class InvalidArgumentError(PolyKVError, ValueError):
    """An argument has the wrong type or value (a negative TTL, a non-integer increment); nothing was written."""


class InvalidKeyError(InvalidArgumentError):
    """A key or schema name is not acceptable (wrong type, empty, too long); nothing was written."""


class KeyNotFoundError(PolyKVError, KeyError):
    """The key is not in the store."""


class RecordError(PolyKVError):
    """Base of the record-surface errors."""


class RecordExistsError(RecordError):
    """``insert_record`` found a record under that key already; nothing was changed."""


class RecordNotFoundError(RecordError, KeyError):
    """No record exists under that schema and key."""


class FilterError(RecordError, ValueError):
    """A ``filter_record`` argument names an unknown field or lookup, or has a wrong value type."""


class SerializationError(PolyKVError, ValueError):
    """A value could not be encoded or decoded by the store's codec."""


class BackendUnavailableError(PolyKVError, ConnectionError):
    """The backend's server could not be reached within the configured timeout."""


class PoolTimeoutError(BackendUnavailableError):
    """No pooled connection became free within ``connection_timeout``."""


class BackendError(PolyKVError):
    """The server refused a command with an error reply that has no more specific polykv class (or a client
    library fault that is not a reply). ``code`` is the reply's code, its first word (``"ERR"``,
    ``"EXECABORT"``...), or None when there was no reply; the message says what the reply meant."""

    def __init__(self, message: str, *, code: str | None = None, **where: str | None) -> None:
        super().__init__(message, **where)
        self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_coded, (type(self), self.message, self.code, self.backend, self.schema, self.key))


def _rebuild_coded(
    cls: type[BackendError],
    message: str,
    code: str | None,
    backend: str | None,
    schema: str | None,
    key: str | None,
) -> BackendError:
    """Unpickle a ``BackendError`` (keeping its ``code``)."""
    return cls(message, code=code, backend=backend, schema=schema, key=key)


class BackendBusyError(BackendError, BackendUnavailableError):
    """The server answered but cannot serve the command now: loading its data, busy running a script, a
    read-only replica during a failover, a cluster or its master down. Transient: idempotent operations were
    retried within the store's timeout, others were not re-sent (they may be retried by the caller, who
    knows whether applying them twice is harmless)."""


class AccessDeniedError(BackendError, PermissionError):
    """The server's access control forbids this command or key for the configured user (Redis ``NOPERM``);
    nothing was changed. Grant the permission or use another user; retrying will not help."""


class AuthenticationFailedError(AccessDeniedError, BackendUnavailableError):
    """The server refused the credentials: a wrong username or password, none given where one is required,
    or one given where none is configured. The message never shows the password."""


class StorageError(BackendError):
    """The server refused a write for want of memory or of a place to persist it (Redis ``OOM`` under
    ``maxmemory`` with ``noeviction``, ``MISCONF`` when snapshots fail); nothing was written. Free memory or
    raise the limit; retrying will not help until then."""


class WrongTypeError(BackendError):
    """The server holds a value of another kind under the store's own key (Redis ``WRONGTYPE``: written by
    something other than this store); nothing was changed. Remove or rename that foreign value."""


class ReadOnlyError(PolyKVError):
    """A write was attempted through a read-only store."""


class InvalidURLError(InvalidArgumentError):
    """A store URL could not be parsed, names no known scheme, or carries an unknown or malformed option."""


class MissingDependencyError(PluginLoadError, ImportError):
    """An optional dependency a store or codec needs is not installed; the message names the extra to install."""


class LockTimeoutError(PolyKVError, TimeoutError):
    """A lock (``store.lock``) or a lease of ``store.get_or_set`` was not acquired within its
    ``blocking_timeout`` / ``wait_timeout``: another owner held it the whole time. ``key`` is the lock's key."""


class LockNotOwnedError(PolyKVError, RuntimeError):
    """``release()`` or ``extend()`` of a lock this caller does not hold (never acquired, released already,
    or its lease expired and was perhaps taken by another owner); the store was not changed."""
