"""The opt-in durable change feed of a ``RedisStore``: one Redis stream per store, ``<prefix>:changes``.

Every write of a store with the feed on runs as one Lua script that makes the change and appends its stream
entry (``scripts.*_LOGGED``), so the stream holds an entry exactly for each write that happened, in the order
the server applied them. ``ChangeFeed.install`` binds the logged write primitives onto the store instance
once, so a store with the feed off runs its usual commands with no extra branch.

Entry ids are consecutive, ``<n>-0`` for the n-th change (the script appends one more than the last id), and
a cursor is that ``n``. The stream is trimmed with ``XADD MAXLEN ~ size``: at least the last ``size`` changes
stay; as ids have no holes, a cursor older than the first entry kept minus one raises ``CursorExpiredError``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from polykv.capabilities import Capability
from polykv.changes import ChangeOp, CursorExpiredError, RawChange
from polykv.codecs import JSONCodec
from polykv.errors import InvalidArgumentError

from . import scripts
from .scripts import LuaScript

if TYPE_CHECKING:
    from .store import RedisStore

__all__ = ["LOGGED_PRIMITIVES", "ChangeFeed"]

#: The store primitives a feed replaces on its store instance (every write path, and the feed's readers).
LOGGED_PRIMITIVES = (
    "_write_call",
    "_delete_call",
    "_set",
    "_delete",
    "_set_many",
    "_delete_many",
    "_add",
    "_replace",
    "_cas_bytes",
    "_incr",
    "_drop_schema",
    "_change_head",
    "_changes",
)

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
    """The change feed of one store: logged write primitives, ``_change_head`` and ``_changes``.

    ``size`` is the retention (about the last ``size`` changes); ``block_limit`` caps one blocking
    ``XREAD`` (below the socket timeout, so a waiting read is never mistaken for a dead connection).
    """

    def __init__(self, store: RedisStore, size: int, block_limit: float | None) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidArgumentError(f"change_feed_size must be an int >= 1, got {size!r}", backend="redis")
        self.store = store
        self.stream = f"{store.layout.prefix}:changes"
        self.size = size
        self.block_limit = block_limit

    def install(self) -> None:
        """Bind the logged primitives onto the store and declare ``Capability.WATCH`` for it."""
        for name in LOGGED_PRIMITIVES:
            setattr(self.store, name, getattr(self, name))
        object.__setattr__(self.store, "capabilities", type(self.store).capabilities | {Capability.WATCH})

    # -- logged writes ------------------------------------------------------------------------------
    def _write_call(
        self, ns: str, mode: str, key: str, data: bytes, ttl: float | None
    ) -> tuple[LuaScript, list[str], list[Any]]:
        _, keys, args = type(self.store)._write_call(self.store, ns, mode, key, data, ttl)
        return scripts.WRITE_LOGGED, [*keys, self.stream], [*args, self.size, ns]

    def _delete_call(self, ns: str, key: str) -> tuple[LuaScript, list[str], list[Any]]:
        _, keys, args = type(self.store)._delete_call(self.store, ns, key)
        return scripts.DELETE_LOGGED, [*keys, self.stream], [*args, self.size, ns]

    def _script(self, script: LuaScript, keys: list[str], args: list[Any], ns: str = "", key: str | None = None) -> Any:
        """Run one logged script, never retried once sent (a retry could log a change twice)."""
        store = self.store
        return store._run(lambda c: store._eval(c, script, keys, args), idempotent=False, ns=ns, key=key)

    def _kv_write(self, mode: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> int:
        keys = [self.stream, *(self.store.layout.kv(k) for k, _ in items)]
        args: list[Any] = [self.size, mode, scripts.ttl_arg(ttl)]
        for k, d in items:
            args += [k, d]
        return int(self._script(scripts.KV_WRITE_LOGGED, keys, args, key=items[0][0] if len(items) == 1 else None))

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        if ns:
            self.store._record_write(ns, "set", key, data, ttl, idempotent=False)
        else:
            self._kv_write("set", [(key, data)], ttl)

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        if ns:
            return self.store._record_write(ns, "add", key, data, ttl, idempotent=False)
        return self._kv_write("add", [(key, data)], ttl) == 1

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        if ns:
            return self.store._record_write(ns, "replace", key, data, ttl, idempotent=False)
        return self._kv_write("replace", [(key, data)], ttl) == 1

    def _delete(self, ns: str, key: str) -> bool:
        if ns:
            script, keys, args = self._delete_call(ns, key)
            return bool(self._script(script, keys, args, ns, key))
        keys = [self.stream, self.store.layout.kv(key)]
        return bool(self._script(scripts.KV_DELETE_LOGGED, keys, [self.size, key], key=key))

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        from .store import BATCH_SIZE

        store = self.store
        for start in range(0, len(items), BATCH_SIZE):
            chunk = items[start : start + BATCH_SIZE]
            if ns:
                calls = [self._write_call(ns, "set", k, d, ttl) for k, d in chunk]
                store._run(partial(store._eval_many, calls=calls), idempotent=False, ns=ns)
            else:
                self._kv_write("set", chunk, ttl)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        from .store import BATCH_SIZE

        store = self.store
        removed = 0
        for start in range(0, len(keys), BATCH_SIZE):
            chunk = keys[start : start + BATCH_SIZE]
            if ns:
                calls = [self._delete_call(ns, k) for k in chunk]
                removed += sum(store._run(partial(store._eval_many, calls=calls), idempotent=False, ns=ns))
            else:
                names = [self.stream, *(store.layout.kv(k) for k in chunk)]
                removed += int(self._script(scripts.KV_DELETE_LOGGED, names, [self.size, *chunk]))
        return removed

    def _cas_bytes(self, ns: str, key: str, old: bytes, new: bytes) -> bool:
        keys = [self.store._name(ns, key), self.stream]
        return bool(self._script(scripts.CAS_LOGGED, keys, [old, new, self.size, ns, key], ns, key))

    def _incr(self, ns: str, key: str, amount: int) -> int:
        store = self.store
        if isinstance(store.codec, JSONCodec) and not ns:  # a JSON int is Redis's integer text: INCRBY
            keys = [store.layout.kv(key), self.stream]
            return store._incr_reply(
                ns, key, self._script(scripts.KV_INCR_LOGGED, keys, [amount, self.size, key], key=key)
            )
        return type(store)._incr(store, ns, key, amount)  # reads, then the logged add / compare-and-set

    def _drop_schema(self, ns: str) -> None:
        """Delete each record with a logged script (one DELETE event each), then unlink what is left."""
        self.store._clear(ns, "")
        type(self.store)._drop_schema(self.store, ns)

    # -- reading the feed ---------------------------------------------------------------------------
    def _change_head(self) -> str:
        last = self.store._run(lambda c: c.xrevrange(self.stream, count=1))
        return str(_sequence(last[0][0])) if last else "0"

    def _changes(self, since: str, limit: int, wait: float) -> list[RawChange]:
        """Up to ``limit`` entries after ``since``; without any, wait (blocking ``XREAD``) up to ``wait`` s."""
        try:
            after = _sequence(since)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"not a redis change-feed cursor (a change number like '42'): {since!r}",
                backend=self.store.backend_name,
            ) from None
        cursor = f"{after}-0"
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            entries = self._checked_read(since, after, cursor, limit)
            remaining = deadline - time.monotonic()
            if entries or remaining <= 0:
                return entries
            if self.block_limit is not None:
                remaining = min(remaining, self.block_limit)
            block = max(1, int(remaining * 1000))
            # a wake-up only: the entries are read again with the retention check (a script's batch of
            # XADDs may trim before a blocked reader is served)
            self.store._run(partial(_wait_for_entry, stream=self.stream, cursor=cursor, block=block))

    def _checked_read(self, since: str, after: int, cursor: str, limit: int) -> list[RawChange]:
        """Check the cursor against the stream's ends and read after it in one MULTI/EXEC (one consistent view)."""

        def read(client: Any) -> list[Any]:
            pipe = client.pipeline(transaction=True)
            pipe.xrange(self.stream, count=1)
            pipe.xrevrange(self.stream, count=1)
            pipe.xread({self.stream: cursor}, count=limit)
            replies: list[Any] = pipe.execute()
            return replies

        first, last, reply = self.store._run(read)
        head = _sequence(last[0][0]) if last else 0
        if after > head:
            raise InvalidArgumentError(
                f"cursor {since!r} is ahead of this store's change feed (latest {head}); it comes from another store",
                backend=self.store.backend_name,
            )
        oldest = _sequence(first[0][0]) if first else head + 1
        if after < oldest - 1:
            raise CursorExpiredError(
                f"cursor {since!r} is older than the change feed retains (oldest kept: {oldest}; the stream "
                f"keeps about the last {self.size} changes)",
                backend=self.store.backend_name,
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
