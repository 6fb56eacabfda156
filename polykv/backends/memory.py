"""``memory``: a thread-safe store in one process's memory, one dict per instance, every capability.

Change feed: every write appends to a bounded in-memory log (the last ``change_log_size`` changes, 10,000
by default); ``polykv.ops.watch`` reads it. Expiry of a TTL is not reported as a change.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from ..capabilities import Capability
from ..changes import ChangeOp, CursorExpiredError, RawChange
from ..errors import InvalidArgumentError
from ..events import notify_write, write_observers
from ..keys import MAX_KEY_LENGTH
from ..store import KV_NAMESPACE, MISSING, KeyValueStore, _Missing

__all__ = ["MemoryStore"]

# Enum member lookups cost as much as a dict write on the hot path: bind them once.
_INSERT, _UPDATE, _DELETE = ChangeOp.INSERT, ChangeOp.UPDATE, ChangeOp.DELETE


class MemoryStore(KeyValueStore):
    """Keeps encoded values (so a stored value is a copy) in a dict per namespace; nothing persists."""

    _backend_type = "memory"
    url_schemes = ("memory",)
    async_face = "polykv.aio.memory:AsyncMemoryStore"
    exact_bytes = True  # it keeps what the codec encoded, bytes
    capabilities = frozenset(
        {
            Capability.TTL,
            Capability.ADD,
            Capability.COMPARE_AND_SET,
            Capability.INCR,
            Capability.WATCH,
            Capability.LEASE,
        }
    )

    def __init__(self, *, codec: Any = "json", change_log_size: int = 10_000) -> None:
        super().__init__(codec=codec)
        if isinstance(change_log_size, bool) or not isinstance(change_log_size, int) or change_log_size < 1:
            raise InvalidArgumentError(
                f"change_log_size must be an int >= 1, got {change_log_size!r}", backend=self._backend_type
            )
        self._data: dict[str, dict[str, bytes]] = {"": {}}
        self._expires: dict[tuple[str, str], float] = {}
        self._lock = threading.RLock()
        # change log: (sequence number, op, ns, key, data); sequence numbers are the cursors
        self._log: deque[tuple[int, ChangeOp, str, str, bytes | None]] = deque(maxlen=change_log_size)
        self._seq = 0
        self._log_waiters = 0
        self._log_cond = threading.Condition(self._lock)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MemoryStore:
        """``memory://[?codec=...&change_log_size=...]`` (any host or path is ignored: every call makes a new,
        empty store; keywords win). An unknown or malformed query option, or a user or password (there is no
        server to log in to), raises ``InvalidURLError``."""
        from urllib.parse import urlsplit

        from ..errors import InvalidURLError
        from ..options import as_int, options_from_url, parse_query

        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:  # never echoed: it may be a secret
            raise InvalidURLError(
                "memory:// URLs take no user or password (the memory store has no server to log in to)",
                backend="memory",
            )
        settings = parse_query(parts.query, {"codec": str, "change_log_size": as_int}, "memory")
        with options_from_url(settings, options):
            return cls(**{**settings, **options})

    # -- expiry -----------------------------------------------------------------------------------
    def _expired(self, ns: str, key: str) -> bool:
        deadline = self._expires.get((ns, key))
        if deadline is None or deadline > time.monotonic():
            return False
        with self._lock:
            deadline = self._expires.get((ns, key))
            if deadline is not None and deadline <= time.monotonic():
                del self._expires[(ns, key)]
                self._data.get(ns, {}).pop(key, None)
                return True
        return False

    def _live(self, ns: str, key: str) -> bytes | None:
        """Caller holds the lock."""
        data = self._data.get(ns, {}).get(key)
        if data is not None and self._expires and self._expired(ns, key):
            return None
        return data

    def _record(self, op: ChangeOp, ns: str, key: str, data: bytes | None) -> None:
        """Append to the change log; caller holds the lock."""
        self._seq += 1
        self._log.append((self._seq, op, ns, key, data))
        if self._log_waiters:
            self._wake_log_waiters()

    def _wake_log_waiters(self) -> None:
        """A change was logged while a watcher waits for one; caller holds the lock."""
        self._log_cond.notify_all()

    def _put(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        """Caller holds the lock."""
        bucket = self._data.get(ns)
        if bucket is None:
            bucket = self._data[ns] = {}
        existed = key in bucket and not (self._expires and self._expired(ns, key))
        bucket[key] = data
        self._seq += 1
        self._log.append((self._seq, _UPDATE if existed else _INSERT, ns, key, data))
        if self._log_waiters:
            self._wake_log_waiters()
        if ttl is not None:
            self._expires[(ns, key)] = time.monotonic() + ttl
        elif self._expires:
            self._expires.pop((ns, key), None)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """``KeyValueStore.set`` with the common case (plain key, no TTL) inlined; same checks, same result."""
        if (
            ttl is not None
            or type(key) is not str
            or not 0 < len(key) <= MAX_KEY_LENGTH
            or not key.isascii()
            or type(self)._set is not MemoryStore._set
        ):
            super().set(key, value, ttl)
            return
        try:
            data = self.codec.encode(value)
        except Exception:
            super().set(key, value)  # raises the SerializationError that names key and type
            return
        with self._lock:
            self._put(KV_NAMESPACE, key, data, None)
        if write_observers:
            notify_write(self, "set", None, (key,))

    # -- primitives -------------------------------------------------------------------------------
    def _get(self, ns: str, key: str) -> bytes | None:
        bucket = self._data.get(ns)
        if bucket is None:
            return None
        data = bucket.get(key)
        if data is not None and self._expires and self._expired(ns, key):
            return None
        return data

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        with self._lock:
            self._put(ns, key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        with self._lock:
            live = self._live(ns, key) is not None
            self._data.get(ns, {}).pop(key, None)
            self._expires.pop((ns, key), None)
            if ns and ns in self._data and not self._data[ns]:
                del self._data[ns]
            if live:
                self._record(_DELETE, ns, key, None)
            return live

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        with self._lock:
            snapshot = [k for k in self._data.get(ns, {}) if k.startswith(prefix)]
        for key in snapshot:
            if not (self._expires and self._expired(ns, key)) and key in self._data.get(ns, {}):
                yield key

    def _schemas(self) -> Iterator[str]:
        with self._lock:
            names = [ns for ns, bucket in self._data.items() if ns and bucket]
        for ns in names:
            if any(True for _ in self._scan(ns, "")):
                yield ns

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        get = self._get
        return [get(ns, key) for key in keys]

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        with self._lock:
            for key, data in items:
                self._put(ns, key, data, ttl)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        with self._lock:
            if self._live(ns, key) is None:
                return False
            self._put(ns, key, data, ttl)
            return True

    def _drop_schema(self, ns: str) -> None:
        with self._lock:
            live = [key for key in list(self._data.get(ns, {})) if self._live(ns, key) is not None]
            self._data.pop(ns, None)
            for expiring in [k for k in self._expires if k[0] == ns]:
                del self._expires[expiring]
            for key in live:
                self._record(_DELETE, ns, key, None)

    # -- change feed ------------------------------------------------------------------------------
    def _change_head(self) -> str:
        return str(self._seq)

    def _changes(self, since: str, limit: int, wait: float) -> list[RawChange]:
        try:
            after = int(since)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"not a memory-store cursor: {since!r}", backend=self.backend_name) from None
        with self._lock:
            if after > self._seq:
                raise InvalidArgumentError(
                    f"cursor {since!r} is ahead of this store's change log (latest {self._seq}); "
                    "it comes from another store",
                    backend=self.backend_name,
                )
            if after == self._seq and wait > 0:
                self._log_waiters += 1
                try:
                    self._log_cond.wait_for(lambda: self._seq > after, wait)
                finally:
                    self._log_waiters -= 1
            oldest = self._log[0][0] if self._log else self._seq + 1
            if after < oldest - 1:
                raise CursorExpiredError(
                    f"cursor {since!r} is older than the change log retains (oldest kept: {oldest}; "
                    f"the log keeps the last {self._log.maxlen} changes)",
                    backend=self.backend_name,
                )
            start = after - oldest + 1
            entries = list(islice(self._log, start, start + limit))
        return [RawChange(str(seq), op, ns, key, data) for seq, op, ns, key, data in entries]

    # -- capabilities -----------------------------------------------------------------------------
    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        with self._lock:
            if self._live(ns, key) is not None:
                return False
            self._put(ns, key, data, ttl)
            return True

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        with self._lock:
            current = self._live(ns, key)
            if current is None or self._decode(current, ns, key) != expected:
                return False
            deadline = self._expires.get((ns, key))
            self._put(ns, key, data, None)
            if deadline is not None:
                self._expires[(ns, key)] = deadline
            return True

    def _incr(self, ns: str, key: str, amount: int) -> int:
        with self._lock:
            value, data = self._incremented(ns, key, self._live(ns, key), amount)  # raises before any write
            deadline = self._expires.get((ns, key))
            self._put(ns, key, data, None)
            if deadline is not None:
                self._expires[(ns, key)] = deadline
            return value

    def _delete_if(self, ns: str, key: str, expected: bytes) -> bool:
        with self._lock:
            if self._live(ns, key) != expected:
                return False
            return self._delete(ns, key)

    def _expire_if(self, ns: str, key: str, expected: bytes, ttl: float) -> bool:
        with self._lock:  # a new expiry is not a change of value: nothing is logged
            if self._live(ns, key) != expected:
                return False
            self._expires[(ns, key)] = time.monotonic() + ttl
            return True

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        with self._lock:
            if self._live(ns, key) is None:
                return MISSING
            deadline = self._expires.get((ns, key))
            if deadline is None:
                return None
            return max(0.0, deadline - time.monotonic())

    def close(self) -> None:
        """Nothing to release; the data stays readable."""
