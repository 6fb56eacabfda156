"""Redis error replies -> polykv errors, by one explicit table keyed by the reply's code.

An error reply is ``<CODE> <text>``; the code is its first word (``WRONGTYPE``, ``NOPERM``, ``OOM``...).
``ERR`` is Redis's catch-all code, so its kinds are told apart by the fixed text the server puts after it
(``value is not an integer or out of range``...), matched from the start, never by searching the message.
Errors that polykv's own Lua scripts hand back as values (``redis.pcall`` in ``scripts.KV_INCR``) are
replies too and go through the same table (``reply_of_text``).

``REPLY_KINDS`` says, per kind, which polykv error it becomes and whether it is *retryable*: a transient
state of the server (loading, busy with a script, failover) during which the connection manager may retry
idempotent commands within the store's one total deadline. A code the table does not know becomes a
``BackendError`` naming the code. Secrets never reach a message: the text a server echoes back from a
command's arguments (``with args beginning with: ...``) is cut, and the store's own secrets are masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from redis import exceptions as rexc

from polykv.errors import (
    AccessDeniedError,
    AuthenticationFailedError,
    BackendBusyError,
    BackendError,
    InvalidArgumentError,
    PolyKVError,
    StorageError,
    WrongTypeError,
)
from polykv.store import INCR_MAX, INCR_MIN

__all__ = [
    "REPLY_KINDS",
    "UNKNOWN",
    "Reply",
    "ReplyKind",
    "is_retryable",
    "kind_of",
    "reply_error",
    "reply_of",
    "reply_of_text",
]


class Reply(NamedTuple):
    """One error reply: its ``code`` (first word; ``""`` if it has none) and the ``text`` after the code."""

    code: str
    text: str


@dataclass(frozen=True)
class ReplyKind:
    """A kind of error reply: ``code``, and for ``ERR`` the fixed text (``detail``) its rest begins with;
    the polykv ``error`` class it becomes, what it ``means`` (the message), and whether it is ``retryable``
    (transient: idempotent commands may be retried within the deadline)."""

    code: str
    error: type[PolyKVError]
    means: str
    retryable: bool = False
    detail: str = ""


_CREDENTIALS = "refused the credentials (check username/password)"
_BUSY = "cannot serve the command now"

#: Every error reply polykv tells apart. Order matters only within a code: ``detail`` kinds before the
#: code's catch-all (``detail=""``).
REPLY_KINDS: tuple[ReplyKind, ...] = (
    # -- the data under the store's key ------------------------------------------------------------
    ReplyKind("WRONGTYPE", WrongTypeError, "holds a value of another Redis type under this key (not written "
              "by this store); nothing was changed"),
    ReplyKind("ERR", InvalidArgumentError, f"refused the increment: the stored value is no integer in the "
              f"signed 64-bit range [{INCR_MIN}, {INCR_MAX}]; the value is unchanged",
              detail="value is not an integer or out of range"),
    ReplyKind("ERR", InvalidArgumentError, f"refused the increment: incr result would leave the signed 64-bit "
              f"range [{INCR_MIN}, {INCR_MAX}]; the value is unchanged",
              detail="increment or decrement would overflow"),
    # -- who may do what ---------------------------------------------------------------------------
    ReplyKind("NOPERM", AccessDeniedError, "denies this command or key to the configured user (ACL); nothing "
              "was changed"),
    ReplyKind("ERR", AccessDeniedError, "denies a command of polykv's script to the configured user (ACL); "
              "nothing was changed", detail="The user executing the script can't run this command"),
    ReplyKind("WRONGPASS", AuthenticationFailedError, _CREDENTIALS),
    ReplyKind("NOAUTH", AuthenticationFailedError, f"requires a password and none was given: it {_CREDENTIALS}"),
    ReplyKind("ERR", AuthenticationFailedError, _CREDENTIALS, detail="invalid password"),
    ReplyKind("ERR", AuthenticationFailedError, f"has no password configured but one was given: it {_CREDENTIALS}",
              detail="AUTH <password> called without any password configured"),
    ReplyKind("ERR", AuthenticationFailedError, f"has no password configured but one was given: it {_CREDENTIALS}",
              detail="Client sent AUTH, but no password is set"),
    # -- capacity ----------------------------------------------------------------------------------
    ReplyKind("OOM", StorageError, "is out of memory (maxmemory reached, noeviction policy); nothing was "
              "written"),
    ReplyKind("MISCONF", StorageError, "refuses writes because it cannot persist its snapshots; nothing was "
              "written"),
    # -- transient: the server answers but cannot serve now ----------------------------------------
    ReplyKind("LOADING", BackendBusyError, f"{_BUSY}: it is loading its dataset", retryable=True),
    ReplyKind("BUSY", BackendBusyError, f"{_BUSY}: it is running a long script or function", retryable=True),
    ReplyKind("READONLY", BackendBusyError, f"{_BUSY}: it is a read-only replica (during a failover, or the "
              "store points at a replica)", retryable=True),
    ReplyKind("MASTERDOWN", BackendBusyError, f"{_BUSY}: it is a replica that lost its master and serves no "
              "stale data", retryable=True),
    ReplyKind("CLUSTERDOWN", BackendBusyError, f"{_BUSY}: the cluster is down or the key's slot is not served",
              retryable=True),
    ReplyKind("TRYAGAIN", BackendBusyError, f"{_BUSY}: the key's slot is being migrated", retryable=True),
    ReplyKind("NOREPLICAS", BackendBusyError, f"{_BUSY}: too few replicas are connected for a write",
              retryable=True),
    ReplyKind("ERR", BackendBusyError, f"{_BUSY}: it has the maximum number of clients",
              retryable=True, detail="max number of clients reached"),
    # -- polykv's own protocol ---------------------------------------------------------------------
    ReplyKind("NOSCRIPT", BackendError, "does not know one of polykv's scripts even after polykv loaded it "
              "again (script cache flushed meanwhile?); nothing ran"),
    ReplyKind("EXECABORT", BackendError, "discarded a MULTI/EXEC transaction because a queued command was "
              "refused; nothing in it ran"),
    ReplyKind("MOVED", BackendError, "is a Redis Cluster node that does not serve this key: use a "
              "redis+cluster:// URL (RedisClusterStore)"),
    ReplyKind("ASK", BackendError, "is a Redis Cluster node that does not serve this key: use a "
              "redis+cluster:// URL (RedisClusterStore)"),
    ReplyKind("CROSSSLOT", BackendError, "refuses a command whose keys are in different cluster slots"),
    ReplyKind("ERR", BackendError, "refused the command"),
)  # fmt: skip

#: What a reply whose code is not in ``REPLY_KINDS`` becomes.
UNKNOWN = ReplyKind("", BackendError, "answered with an error reply polykv does not know")

_BY_CODE: dict[str, tuple[ReplyKind, ...]] = {}
for _kind in REPLY_KINDS:
    _BY_CODE[_kind.code] = (*_BY_CODE.get(_kind.code, ()), _kind)
del _kind

_CODE = re.compile(r"[A-Z][A-Z0-9_-]*")
#: redis-py prefixes a pipeline command's error with the command and its (data-bearing) arguments.
_PIPELINE = re.compile(r"Command # \d+ \(.*\) of pipeline caused error: ", re.DOTALL)
#: Redis echoes the start of an unknown command's arguments (which could hold a password): cut there.
_ECHO = re.compile(r", with args beginning with:.*", re.DOTALL)


def reply_of_text(text: str) -> Reply:
    """A reply from its full text (``"<CODE> <text>"``, as a Lua ``pcall`` error's ``err`` field holds it)."""
    code, _, rest = text.partition(" ")
    if _CODE.fullmatch(code):
        return Reply(code, rest)
    return Reply("", text)


def reply_of(exc: BaseException) -> Reply | None:
    """The error reply behind a redis-py exception, or None when ``exc`` carries none (a dropped connection,
    a timeout, a client-side fault). redis-py strips the code of the replies it knows into ``status_code``;
    other replies (``WRONGTYPE``, ``BUSY``...) keep it as the first word of their text."""
    if not isinstance(exc, rexc.RedisError):
        return None
    text = str(exc.args[0]) if exc.args else ""
    pipeline = _PIPELINE.match(text)
    if pipeline is not None:
        text = text[pipeline.end() :]
    code = getattr(exc, "status_code", None)
    if code:
        code = str(code)
        # some redis-py paths keep the code in the text too ("WRONGTYPE Operation against..."): once is enough
        return Reply(code, text[len(code) + 1 :] if text.startswith(f"{code} ") else text)
    if isinstance(exc, rexc.ResponseError):
        return reply_of_text(text)
    return None


def kind_of(reply: Reply) -> ReplyKind:
    """The table's kind for ``reply`` (``UNKNOWN`` when its code is not in the table)."""
    for kind in _BY_CODE.get(reply.code, ()):
        if reply.text.startswith(kind.detail):
            return kind
    return UNKNOWN


def is_retryable(exc: BaseException) -> bool | None:
    """Whether ``exc`` is an error reply of a transient kind; None when it is no error reply at all."""
    reply = reply_of(exc)
    return None if reply is None else kind_of(reply).retryable


def _shown(text: str, secrets: Iterable[str]) -> str:
    text = _ECHO.sub(", with args beginning with: (not shown)", text).strip()
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def reply_error(
    reply: Reply,
    *,
    server: str,
    backend: str,
    schema: str | None = None,
    key: str | None = None,
    secrets: Iterable[str] = (),
) -> PolyKVError:
    """The polykv error for ``reply`` from ``server`` (shown as ``Redis at <server>``), naming ``backend``,
    ``schema`` and ``key``; the message says what the reply means and quotes it (``secrets`` masked)."""
    kind = kind_of(reply)
    quoted = _shown(f"{reply.code} {reply.text}" if reply.code else f"(no code) {reply.text}", secrets)
    message = f"Redis at {server} {kind.means} (reply: {quoted})"
    if issubclass(kind.error, BackendError):
        return kind.error(message, code=reply.code or None, backend=backend, schema=schema, key=key)
    return kind.error(message, backend=backend, schema=schema, key=key)
