"""``StoreWrapper``: the base of every wrapper, a store that delegates each primitive to the store it wraps.

Subclasses (``polykv.wrappers.prefix``, ``.readonly``, ``.cached``, ``.fallback``) override the primitives they
change. Also the helpers they share: ``DELEGABLE`` (the capabilities plain delegation honours), ``END`` (an
end-of-iterator sentinel), ``check_store`` and ``close_iterator``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from ..capabilities import Capability
from ..codecs import Codec
from ..errors import InvalidArgumentError, a_type_name
from ..records import Condition
from ..store import KeyValueStore, _Missing

__all__ = ["DELEGABLE", "END", "StoreWrapper", "check_store", "close_iterator"]

#: Capabilities a wrapper can pass through by delegating primitives (WATCH lives in polykv.ops and
#: dispatches on the store's class, so no wrapper claims it).
DELEGABLE = frozenset({Capability.TTL, Capability.ADD, Capability.COMPARE_AND_SET, Capability.INCR, Capability.INDEX})

#: Sentinel for "nothing there" where None is a real answer (``next(items, END)``, a cached deadline of None).
END: Any = object()


def check_store(store: object, owner: str, role: str) -> KeyValueStore:
    """``store`` itself if it is a ``KeyValueStore``; else ``InvalidArgumentError`` naming ``owner`` and ``role``."""
    if not isinstance(store, KeyValueStore):
        raise InvalidArgumentError(f"{owner} wraps a KeyValueStore; {role} is {a_type_name(store)}")
    return store


def close_iterator(iterator: Iterator[Any]) -> None:
    """Close ``iterator`` if it can be closed (a generator left early releases its cursor or lock now)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


class StoreWrapper(KeyValueStore):
    """A store that delegates every primitive to ``inner``; subclasses change what they need.

    ``owns=True`` makes ``close()`` close the wrapped store(s) too (stacks built from a URL own
    everything they opened); by default a wrapper leaves the store it was given open.
    """

    #: The name of the wrapper in stacked URLs and in ``backend_name`` (``"prefix+memory"``).
    wrapper_name: ClassVar[str] = "wrapper"

    def __init__(self, inner: KeyValueStore, *, owns: bool = False) -> None:
        # No super().__init__(): the codec is the wrapped store's (see the ``codec`` property).
        self.inner = check_store(inner, type(self).__name__, "the wrapped store")
        self.owns = owns
        self._capabilities = frozenset(self._honoured(self.inner.capabilities))

    def _honoured(self, wrapped: frozenset[Capability]) -> frozenset[Capability]:
        """The capabilities this wrapper can really honour, given the wrapped store's."""
        return wrapped & DELEGABLE

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        """Per instance: what this wrapper honours over the store it wraps."""
        return self._capabilities

    @property
    def codec(self) -> Codec:
        """The wrapped store's codec (a wrapper has none of its own; setting it sets the wrapped one's)."""
        return self.inner.codec

    @codec.setter
    def codec(self, codec: Codec) -> None:
        self.inner.codec = codec

    @property
    def backend_name(self) -> str:
        """``<wrapper>+<wrapped backend>``, as in the stacked URL syntax."""
        return f"{self.wrapper_name}+{self.inner.backend_name}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.inner!r}>"

    def close(self) -> None:
        """Close the wrapped store if this wrapper owns it; otherwise leave it open."""
        if self.owns:
            self.inner.close()

    # -- primitives: plain delegation ---------------------------------------------------------------
    def _get(self, ns: str, key: str) -> bytes | None:
        return self.inner._get(ns, key)

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self.inner._set(ns, key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        return self.inner._delete(ns, key)

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        return self.inner._scan(ns, prefix)

    def _schemas(self) -> Iterator[str]:
        return self.inner._schemas()

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        return self.inner._get_many(ns, keys)

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        self.inner._set_many(ns, items, ttl)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        return self.inner._delete_many(ns, keys)

    def _count(self, ns: str, prefix: str) -> int:
        return self.inner._count(ns, prefix)

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        return self.inner._scan_items(ns, prefix)

    def _clear(self, ns: str, prefix: str) -> int:
        return self.inner._clear(ns, prefix)

    def _drop_schema(self, ns: str) -> None:
        self.inner._drop_schema(ns)

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        return self.inner._filter(ns, conditions, indexes)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._replace(ns, key, data, ttl)

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._add(ns, key, data, ttl)

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        return self.inner._compare_and_set(ns, key, expected, data)

    def _incr(self, ns: str, key: str, amount: int) -> int:
        return self.inner._incr(ns, key, amount)

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        return self.inner._ttl(ns, key)
