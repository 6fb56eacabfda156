"""``PrefixStore``: a namespace inside a shared store (every key stored as ``prefix + key``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import InvalidArgumentError, InvalidKeyError, a_type_name
from ..keys import validate_key
from ..records import Condition
from ..store import KeyValueStore, _Missing
from .base import END, StoreWrapper, close_iterator

__all__ = ["PrefixStore"]


class PrefixStore(StoreWrapper):
    """A namespace inside a shared store: every key (KV and record keys) is stored as ``prefix + key``.

    Listing, counting, clearing and ``drop_schema`` see only this prefix's keys; other tenants' keys are
    untouched. Keys up to ``MAX_KEY_LENGTH`` are accepted as on any store, so the wrapped store receives
    keys up to ``len(prefix)`` characters longer.
    """

    wrapper_name = "prefix"

    def __init__(self, store: KeyValueStore, prefix: str, *, owns: bool = False) -> None:
        super().__init__(store, owns=owns)
        if not isinstance(prefix, str):  # validate_key's message would speak of keys
            raise InvalidArgumentError(
                f"PrefixStore's prefix must be a str, not {a_type_name(prefix)}", backend="prefix"
            )
        try:
            self.prefix = validate_key(prefix, "prefix")
        except InvalidKeyError as exc:
            raise InvalidArgumentError(
                f"PrefixStore's prefix must be usable as a key: {exc.args[0]}", backend="prefix"
            ) from None
        self._cut = len(self.prefix)

    def __repr__(self) -> str:
        return f"<PrefixStore prefix={self.prefix!r} of {self.inner!r}>"

    def _strip(self, keys: Iterator[str]) -> Iterator[str]:
        cut = self._cut
        try:
            for key in keys:
                yield key[cut:]
        finally:
            close_iterator(keys)

    def _get(self, ns: str, key: str) -> bytes | None:
        return self.inner._get(ns, self.prefix + key)

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self.inner._set(ns, self.prefix + key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        return self.inner._delete(ns, self.prefix + key)

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        return self._strip(self.inner._scan(ns, self.prefix + prefix))

    def _schemas(self) -> Iterator[str]:
        for ns in self.inner._schemas():
            keys = self.inner._scan(ns, self.prefix)
            try:
                found = next(keys, END) is not END
            finally:
                close_iterator(keys)
            if found:
                yield ns

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        p = self.prefix
        return self.inner._get_many(ns, [p + k for k in keys])

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        p = self.prefix
        self.inner._set_many(ns, [(p + k, d) for k, d in items], ttl)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        p = self.prefix
        return self.inner._delete_many(ns, [p + k for k in keys])

    def _count(self, ns: str, prefix: str) -> int:
        return self.inner._count(ns, self.prefix + prefix)

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        cut = self._cut
        items = self.inner._scan_items(ns, self.prefix + prefix)
        try:
            for key, data in items:
                yield key[cut:], data
        finally:
            close_iterator(items)

    def _clear(self, ns: str, prefix: str) -> int:
        return self.inner._clear(ns, self.prefix + prefix)

    def _drop_schema(self, ns: str) -> None:
        self.inner._clear(ns, self.prefix)

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        p, cut = self.prefix, self._cut
        found = self.inner._filter(ns, conditions, indexes)
        try:
            for key, state in found:
                if key.startswith(p):
                    yield key[cut:], state
        finally:
            close_iterator(found)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._replace(ns, self.prefix + key, data, ttl)

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._add(ns, self.prefix + key, data, ttl)

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        return self.inner._compare_and_set(ns, self.prefix + key, expected, data)

    def _incr(self, ns: str, key: str, amount: int) -> int:
        return self.inner._incr(ns, self.prefix + key, amount)

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        return self.inner._ttl(ns, self.prefix + key)
