"""``TTLStore``: a default TTL for writes that give none, and a maximum TTL no write may exceed."""

from __future__ import annotations

from collections.abc import Sequence

from ..capabilities import Capability
from ..errors import InvalidArgumentError, NotSupportedError
from ..store import MAX_TTL, KeyValueStore
from .base import StoreWrapper

__all__ = ["TTLStore"]


def _seconds(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TTL:
        raise InvalidArgumentError(
            f"{name} must be None or a number of seconds with 0 < {name} <= {MAX_TTL} (polykv.MAX_TTL), got {value!r}"
        )
    return float(value)


class TTLStore(StoreWrapper):
    """Every write that gives no ``ttl`` gets ``default_ttl``; every ttl above ``max_ttl`` is cut to it.

    With ``max_ttl`` and no ``default_ttl``, a write without a ttl gets ``max_ttl``: no value written
    through the wrapper lives longer. Applies to every write that creates or replaces a value and takes a
    ttl: ``set``, ``set_many``, ``add``, ``setdefault``, ``update``, and the record writes. ``compare_and_set``
    and ``incr`` on an existing key keep its expiry (as on every store); ``incr`` on an absent key creates it
    with the default TTL (through ``add`` where the store has ADD; without ADD the inner store creates it
    with no expiry, which is the one way past the limit). Values that were in the store before it was
    wrapped keep their own expiry.

    Needs the TTL capability: ``NotSupportedError`` naming ``ttl`` on a store without it.
    ``InvalidArgumentError`` for a bound that is not a number of seconds in ``(0, MAX_TTL]``, or a
    ``default_ttl`` above ``max_ttl``.
    """

    wrapper_name = "ttl"

    def __init__(
        self,
        store: KeyValueStore,
        *,
        default_ttl: float | None = None,
        max_ttl: float | None = None,
        owns: bool = False,
    ) -> None:
        super().__init__(store, owns=owns)
        if Capability.TTL not in self.inner.capabilities:
            raise NotSupportedError(
                f"TTLStore needs a store with expiry; the {self.inner.backend_name!r} store does not support ttl",
                capability=str(Capability.TTL),
                backend=self.inner.backend_name,
            )
        self.default_ttl = _seconds(default_ttl, "default_ttl")
        self.max_ttl = _seconds(max_ttl, "max_ttl")
        if self.default_ttl is None and self.max_ttl is None:
            raise InvalidArgumentError("TTLStore needs default_ttl, max_ttl or both")
        if self.default_ttl is not None and self.max_ttl is not None and self.default_ttl > self.max_ttl:
            raise InvalidArgumentError(f"default_ttl ({default_ttl!r}) is above max_ttl ({max_ttl!r})")

    def __repr__(self) -> str:
        return f"<TTLStore default_ttl={self.default_ttl!r} max_ttl={self.max_ttl!r} of {self.inner!r}>"

    def effective_ttl(self, ttl: float | None) -> float | None:
        """The ttl a write asking for ``ttl`` gets (seconds, or None for no expiry)."""
        if ttl is None:
            return self.default_ttl if self.default_ttl is not None else self.max_ttl
        if self.max_ttl is not None and ttl > self.max_ttl:
            return self.max_ttl
        return ttl

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self.inner._set(ns, key, data, self.effective_ttl(ttl))

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        self.inner._set_many(ns, items, self.effective_ttl(ttl))

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._replace(ns, key, data, self.effective_ttl(ttl))

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return self.inner._add(ns, key, data, self.effective_ttl(ttl))

    def _incr(self, ns: str, key: str, amount: int) -> int:
        if Capability.ADD in self.inner.capabilities and self.inner._get(ns, key) is None:
            value, data = self._incremented(ns, key, None, amount)
            if self.inner._add(ns, key, data, self.effective_ttl(None)):
                return value
        return self.inner._incr(ns, key, amount)
