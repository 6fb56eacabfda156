"""The opt-in durable change feed of a ``RedisStore``: one Redis stream per store, ``<prefix>:changes``.

Every write of a store with the feed on runs as one Lua script that makes the change and appends its stream
entry (``scripts.*_LOGGED``), so the stream holds an entry exactly for each write that happened, in the order
the server applied them. ``ChangeFeed`` is a strategy object: ``RedisStore`` asks it, at fixed points of its
write primitives, for the logged form of a write (a script call: script, keys, args) and runs that call
itself, never re-sent (a retry could log a change twice); it reads the feed through ``head``/``changes``.
A store with the feed off has no ``ChangeFeed`` and runs its usual commands.

Entry ids are consecutive, ``<n>-0`` for the n-th change (the script appends one more than the last id), and
a cursor is that ``n``. The stream is trimmed with ``XADD MAXLEN ~ size``: at least the last ``size`` changes
stay; as ids have no holes, a cursor older than the first entry kept minus one raises ``CursorExpiredError``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from polykv.changes import ChangeOp, CursorExpiredError, RawChange
from polykv.errors import InvalidArgumentError

from . import scripts
from .layout import KeyLayout
from .scripts import LuaScript

__all__ = ["ChangeFeed", "Runner", "ScriptCall"]

T = TypeVar("T")

#: One script to run: the script, its KEYS, its ARGV.
ScriptCall = tuple[LuaScript, list[str], list[Any]]


class Runner(Protocol):
    """Runs ``operation(client)`` on the store's server and returns its result (``RedisStore._run``)."""

    def __call__(self, operation: Callable[[Any], T], /) -> T: ...


_CURSOR = re.compile(r"(\d+)(?:-0)?")


def _sequence(text: str | bytes) -> int:
    """The change number of a cursor or entry id (``"7"`` or ``"7-0"``)."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return int(match[1])


def _wait_for_entry(client: Any, *, stream: str, cursor: str, block: int) -> None:
    client.xread({stream: cursor}, count=1, block=block)


class ChangeFeed:
    """The change feed of one store: the logged forms of its writes, and the feed's readers.

    ``layout`` is the store's key layout (the stream is ``<prefix>:changes``); ``size`` the retention (about
    the last ``size`` changes); ``block_limit`` caps one blocking ``XREAD`` (below the socket timeout, so a
    waiting read is never mistaken for a dead connection); ``backend`` is named in errors.
    """

    def __init__(self, layout: KeyLayout, size: int, block_limit: float | None, backend: str = "redis") -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidArgumentError(f"change_feed_size must be an int >= 1, got {size!r}", backend=backend)
        self.layout = layout
        self.stream = f"{layout.prefix}:changes"
        self.size = size
        self.block_limit = block_limit
        self.backend = backend

    # -- logged writes: script calls for the store to run, once ----------------------------------
    def record_write(self, call: ScriptCall, ns: str) -> ScriptCall:
        """``scripts.WRITE``'s call (``RedisStore._write_call``) as ``WRITE_LOGGED``."""
        _, keys, args = call
        return scripts.WRITE_LOGGED, [*keys, self.stream], [*args, self.size, ns]

    def record_delete(self, call: ScriptCall, ns: str) -> ScriptCall:
        """``scripts.DELETE``'s call (``RedisStore._delete_call``) as ``DELETE_LOGGED``."""
        _, keys, args = call
        return scripts.DELETE_LOGGED, [*keys, self.stream], [*args, self.size, ns]

    def kv_write(self, mode: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> ScriptCall:
        """Write KV pairs (``mode`` set, add or replace) and log each one written; returns how many were."""
        keys = [self.stream, *(self.layout.kv(k) for k, _ in items)]
        args: list[Any] = [self.size, mode, scripts.ttl_arg(ttl)]
        for k, d in items:
            args += [k, d]
        return scripts.KV_WRITE_LOGGED, keys, args

    def kv_delete(self, keys: Sequence[str]) -> ScriptCall:
        """Delete KV pairs and log each one that existed; returns how many did."""
        return scripts.KV_DELETE_LOGGED, [self.stream, *(self.layout.kv(k) for k in keys)], [self.size, *keys]

    def compare_and_set(self, name: str, ns: str, key: str, old: bytes, new: bytes) -> ScriptCall:
        """``scripts.CAS`` on the Redis key ``name``, logging the new value when it was set."""
        return scripts.CAS_LOGGED, [name, self.stream], [old, new, self.size, ns, key]

    def kv_delete_if(self, key: str, expected: bytes) -> ScriptCall:
        """``scripts.DELETE_IF`` on a KV pair, logging the delete when it happened."""
        return scripts.DELETE_IF_LOGGED, [self.layout.kv(key), self.stream], [expected, self.size, key]

    def kv_incr(self, key: str, amount: int) -> ScriptCall:
        """``scripts.KV_INCR`` on a KV pair, logging the new value's exact bytes."""
        return scripts.KV_INCR_LOGGED, [self.layout.kv(key), self.stream], [amount, self.size, key]

    # -- reading the feed ---------------------------------------------------------------------------
    def head(self, run: Runner) -> str:
        """The cursor of the latest change (``"0"`` when there is none), read through ``run``."""
        last = run(lambda c: c.xrevrange(self.stream, count=1))
        return str(_sequence(last[0][0])) if last else "0"

    def changes(self, run: Runner, since: str, limit: int, wait: float) -> list[RawChange]:
        """Up to ``limit`` entries after ``since``; without any, wait (blocking ``XREAD``) up to ``wait`` s."""
        try:
            after = _sequence(since)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"not a redis change-feed cursor (a change number like '42'): {since!r}",
                backend=self.backend,
            ) from None
        cursor = f"{after}-0"
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            entries = self._checked_read(run, since, after, cursor, limit)
            remaining = deadline - time.monotonic()
            if entries or remaining <= 0:
                return entries
            if self.block_limit is not None:
                remaining = min(remaining, self.block_limit)
            block = max(1, int(remaining * 1000))
            # a wake-up only: the entries are read again with the retention check (a script's batch of
            # XADDs may trim before a blocked reader is served)
            run(partial(_wait_for_entry, stream=self.stream, cursor=cursor, block=block))

    def _checked_read(self, run: Runner, since: str, after: int, cursor: str, limit: int) -> list[RawChange]:
        """Check the cursor against the stream's ends and read after it in one MULTI/EXEC (one consistent view)."""

        def read(client: Any) -> list[Any]:
            pipe = client.pipeline(transaction=True)
            pipe.xrange(self.stream, count=1)
            pipe.xrevrange(self.stream, count=1)
            pipe.xread({self.stream: cursor}, count=limit)
            replies: list[Any] = pipe.execute()
            return replies

        first, last, reply = run(read)
        head = _sequence(last[0][0]) if last else 0
        if after > head:
            raise InvalidArgumentError(
                f"cursor {since!r} is ahead of this store's change feed (latest {head}); it comes from another store",
                backend=self.backend,
            )
        oldest = _sequence(first[0][0]) if first else head + 1
        if after < oldest - 1:
            raise CursorExpiredError(
                f"cursor {since!r} is older than the change feed retains (oldest kept: {oldest}; the stream "
                f"keeps about the last {self.size} changes)",
                backend=self.backend,
            )
        if not reply:
            return []
        entries = reply[0][1]  # RESP2 (the connectors' protocol): [[stream, [(id, fields), ...]]]
        return [self._raw(entry_id, fields) for entry_id, fields in entries]

    @staticmethod
    def _raw(entry_id: bytes, fields: dict[bytes, bytes]) -> RawChange:
        return RawChange(
            str(_sequence(entry_id)),
            ChangeOp(int(fields[b"o"])),
            fields[b"n"].decode("utf-8"),
            fields[b"k"].decode("utf-8"),
            fields.get(b"v"),
        )
