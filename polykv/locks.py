"""``Lock``: a lease on one key of a store, shared by threads, processes and machines using that store.

A lock is the KV key ``name`` holding the owner's random token, written with the atomic insert-if-absent
``add(name, token, ttl=ttl)``: whoever's ``add`` stored the key holds the lock until it releases it or the
TTL runs out (a holder that crashes loses the lock when its lease expires). Only the owner can release or
extend: both are single atomic operations that act only while the key still holds the owner's exact token
bytes (the store's ``_delete_if`` and ``_expire_if`` primitives, ``Capability.LEASE``), so a holder whose
lease expired can never delete or prolong the lease of whoever took the lock after it.

A waiter polls with jittered exponential backoff (``Backoff``: 2 ms doubling to 100 ms) until the lock is
free or its ``blocking_timeout`` has passed; nothing is notified, so a release is seen within one backoff
step. Needs ``Capability.ADD``, ``TTL`` and ``LEASE``; on any other store, creating a lock raises
``NotSupportedError`` naming the first missing capability.

This module is below the store contract (it imports no store module), so ``KeyValueStore.lock`` can
delegate here.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .capabilities import Capability
from .errors import InvalidArgumentError, LockNotOwnedError, LockTimeoutError, SerializationError
from .options import check_seconds
from .pausing import pause

if TYPE_CHECKING:
    from .store import KeyValueStore

__all__ = ["LEASE_CAPABILITIES", "Backoff", "Lock", "require_leases"]

#: What a store must declare for locks and ``get_or_set``.
LEASE_CAPABILITIES = (Capability.ADD, Capability.TTL, Capability.LEASE)

#: The plain key-value namespace (``polykv.store.KV_NAMESPACE``; not imported, to stay below the store).
_KV = ""


def require_leases(store: KeyValueStore, what: str) -> None:
    """``NotSupportedError`` naming the first capability of ``LEASE_CAPABILITIES`` that ``store`` lacks."""
    for capability in LEASE_CAPABILITIES:
        if capability not in store.capabilities:
            raise store._unsupported(capability, f"{what} (it needs the {capability} capability)")


class Backoff:
    """Delays for polling: ``first`` seconds, doubling up to ``cap``, each drawn uniformly from its upper
    half (jitter, so waiters that started together spread out), never past ``deadline`` (a
    ``time.monotonic()`` value, or None for no deadline)."""

    def __init__(self, first: float = 0.002, cap: float = 0.1, deadline: float | None = None) -> None:
        self._next = first
        self._cap = cap
        self.deadline = deadline

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def sleep(self) -> None:
        """Sleep for the next delay (cut to the time left before the deadline)."""
        delay = random.uniform(self._next / 2, self._next)
        self._next = min(self._cap, self._next * 2)
        if self.deadline is not None:
            delay = max(0.0, min(delay, self.deadline - time.monotonic()))
        pause(delay)  # time.sleep, or asyncio.sleep on the event loop under polykv.aio


class Lock:
    """A distributed lock on the key ``name`` of ``store``, held for at most ``ttl`` seconds per lease.

    ``blocking_timeout`` (seconds, or None to wait as long as it takes) bounds how long ``acquire()`` and
    ``with lock:`` wait; ``with`` raises ``LockTimeoutError`` (a ``TimeoutError``) when it expires. The lock
    is not reentrant: acquiring it again while this object holds it waits like any other caller. One
    ``Lock`` object holds one lease at a time; threads that contend should each make their own object for
    the same name (as with ``store.lock(name, ...)`` per call).

    Raises ``NotSupportedError`` (store without ADD, TTL or LEASE), ``InvalidArgumentError`` (a ttl or
    timeout that is not a positive number of seconds) and ``InvalidKeyError`` (a name that is not a key).
    """

    def __init__(self, store: KeyValueStore, name: str, *, ttl: float, blocking_timeout: float | None = None) -> None:
        require_leases(store, "locks")
        self.store = store
        self.name = store._key(name)
        checked = store._check_ttl(ttl)
        if checked is None:
            raise InvalidArgumentError("a lock needs a ttl (seconds > 0)", backend=store.backend_name, key=self.name)
        self.ttl: float = checked
        self.blocking_timeout = (
            None
            if blocking_timeout is None
            else check_seconds(blocking_timeout, "blocking_timeout", store.backend_name, zero=True)
        )
        self._held: bytes | None = None  # the stored bytes of our token while we believe we hold the lease
        self.token: str | None = None

    def __repr__(self) -> str:
        state = "held" if self._held is not None else "not held"
        return f"<Lock name={self.name!r} ttl={self.ttl} {state} on {self.store!r}>"

    def _token_value(self, token: str) -> tuple[Any, bytes]:
        """The value to store for ``token`` and its bytes: the str, or its ASCII bytes for codecs (such as
        ``bytes``) that only take bytes."""
        codec = self.store.codec
        for value in (token, token.encode("ascii")):
            try:
                return value, codec.encode(value)
            except Exception:  # noqa: S112 - try the next form
                continue
        raise SerializationError(
            f"the {codec.name} codec encodes neither a str nor bytes token",
            backend=self.store.backend_name,
            key=self.name,
        )

    def acquire(self, blocking: bool = True, blocking_timeout: float | None = None) -> bool:
        """Take the lock; returns whether it was taken. ``blocking=False`` tries once. Otherwise waits up to
        ``blocking_timeout`` (default: the lock's own; None: forever), polling with ``Backoff``."""
        timeout = self.blocking_timeout if blocking_timeout is None else blocking_timeout
        if timeout is not None:
            timeout = check_seconds(timeout, "blocking_timeout", self.store.backend_name, zero=True)
        token = secrets.token_hex(16)
        value, data = self._token_value(token)
        backoff = Backoff(deadline=None if timeout is None else time.monotonic() + timeout)
        while True:
            if self.store.add(self.name, value, ttl=self.ttl):
                self._held, self.token = data, token
                return True
            if not blocking or backoff.expired():
                return False
            backoff.sleep()

    def release(self) -> None:
        """Give the lock up; ``LockNotOwnedError`` if this object does not hold it (its lease expired, and
        perhaps another owner holds it now: that owner's lease is left alone)."""
        held, self._held, self.token = self._held, None, None
        if held is None:
            raise LockNotOwnedError(
                "release() of a lock this object does not hold", backend=self.store.backend_name, key=self.name
            )
        if not self.store._delete_if(_KV, self.name, held):
            raise LockNotOwnedError(
                "release() of a lock whose lease had expired (another owner may hold it now; it was left alone)",
                backend=self.store.backend_name,
                key=self.name,
            )

    def extend(self, ttl: float | None = None) -> None:
        """Make the lease last ``ttl`` seconds from now (default: the lock's ``ttl``); ``LockNotOwnedError``
        if this object does not hold the lock any more."""
        seconds = self.ttl if ttl is None else self.store._check_ttl(ttl)
        if self._held is None or seconds is None or not self.store._expire_if(_KV, self.name, self._held, seconds):
            self._held, self.token = None, None
            raise LockNotOwnedError(
                "extend() of a lock this object does not hold", backend=self.store.backend_name, key=self.name
            )

    def locked(self) -> bool:
        """Whether anyone holds the lock now."""
        return self.store._get(_KV, self.name) is not None

    def owned(self) -> bool:
        """Whether this object holds the lock now (its lease has not expired)."""
        return self._held is not None and self.store._get(_KV, self.name) == self._held

    def __enter__(self) -> Lock:
        if not self.acquire():
            raise LockTimeoutError(
                f"could not acquire the lock within blocking_timeout={self.blocking_timeout}s",
                backend=self.store.backend_name,
                key=self.name,
            )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Release the lock. If the block raised, a lost lease does not hide that error (it is the one
        raised); otherwise a lost lease raises ``LockNotOwnedError``: the block may have run unprotected."""
        if exc is None:
            self.release()
            return
        with contextlib.suppress(LockNotOwnedError):
            self.release()
