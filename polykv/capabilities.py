"""What a store can do beyond the contract; asking for a missing capability raises NotSupportedError."""

from __future__ import annotations

from enum import Enum

__all__ = ["Capability"]


class Capability(str, Enum):
    """A capability a store declares in its ``capabilities`` class attribute."""

    #: ``set(key, value, ttl=seconds)``, ``ttl(key)`` and per-record ``ttl=``.
    TTL = "ttl"
    #: ``add(key, value)``: atomic insert-if-absent (and atomic ``insert_record``).
    ADD = "add"
    #: ``compare_and_set(key, expected, new)``, atomic.
    COMPARE_AND_SET = "compare_and_set"
    #: ``incr(key, amount)``, atomic.
    INCR = "incr"
    #: Change feeds through ``polykv.ops.watch``.
    WATCH = "watch"
    #: ``filter_record`` reads only matching records for equality on fields in ``__indexes__``.
    INDEX = "index"
    #: Owner-checked leases: ``_delete_if`` and ``_expire_if`` (delete / re-expire a key only while it holds
    #: the exact bytes the owner wrote), atomic. With ADD and TTL this is what ``store.lock`` and
    #: ``store.get_or_set`` need.
    LEASE = "lease"

    def __str__(self) -> str:
        return self.value
