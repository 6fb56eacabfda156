"""``ReadOnlyStore``: every read of the wrapped store; every write raises ``ReadOnlyError``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..capabilities import Capability
from ..errors import ReadOnlyError
from .base import StoreWrapper

__all__ = ["ReadOnlyStore"]


class ReadOnlyStore(StoreWrapper):
    """Every read of the wrapped store; every write (KV, records, add/incr/CAS) raises ``ReadOnlyError``.

    It declares TTL (``ttl(key)`` is a read) and INDEX when the wrapped store does, never ADD, INCR or
    COMPARE_AND_SET: those are writes.
    """

    wrapper_name = "readonly"

    def _honoured(self, wrapped: frozenset[Capability]) -> frozenset[Capability]:
        return wrapped & {Capability.TTL, Capability.INDEX}

    def _refuse(self, ns: str = "", key: str | None = None, what: str = "write") -> ReadOnlyError:
        return ReadOnlyError(
            f"cannot {what}: the store is read-only", backend=self.backend_name, schema=ns or None, key=key
        )

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        raise self._refuse(ns, key)

    def _delete(self, ns: str, key: str) -> bool:
        raise self._refuse(ns, key, "delete")

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        raise self._refuse(ns)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        raise self._refuse(ns, what="delete")

    def _clear(self, ns: str, prefix: str) -> int:
        raise self._refuse(ns, what="clear")

    def _drop_schema(self, ns: str) -> None:
        raise self._refuse(ns, what="drop a schema")

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        raise self._refuse(ns, key)

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        raise self._refuse(ns, key)

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        raise self._refuse(ns, key)

    def _incr(self, ns: str, key: str, amount: int) -> int:
        raise self._refuse(ns, key)

    # Writes that would otherwise first check a capability or the current value.
    def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Refused: ``ReadOnlyError``."""
        raise self._refuse(key=self._key(key))

    def compare_and_set(self, key: str, expected: Any, new: Any) -> bool:
        """Refused: ``ReadOnlyError``."""
        raise self._refuse(key=self._key(key))

    def incr(self, key: str, amount: int = 1) -> int:
        """Refused: ``ReadOnlyError``."""
        raise self._refuse(key=self._key(key))

    def insert_record(self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None) -> None:
        """Refused: ``ReadOnlyError`` (whether or not the record exists)."""
        ns = self._schema(schema_name)
        raise self._refuse(ns, self._key(record_key, ns))
