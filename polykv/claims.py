"""The one conflict rule for every name a plugin can claim: backends, URL schemes, codecs, URL-scheme aliases.

A *claim* says who provides a name and what it points at. ``resolve_claims`` picks the one claim or raises
``PluginConflictError`` naming every claimant. ``Offers`` holds the names hook plugins offer (codecs, scheme
aliases): ``polykv.hooks`` pushes the whole set into it whenever the registered plugins change, and the table
that owns the kind (``polykv.codecs``, ``polykv.catalog``) resolves a name from it when asked.

Imports nothing from polykv but the errors.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import PluginConflictError, PluginLoadError

__all__ = ["Claim", "Offers", "class_target", "resolve_claims", "same_target"]

T = TypeVar("T")


@dataclass(frozen=True)
class Claim:
    """One provider's claim on a name: where it comes from and what it points at."""

    source: str  # "builtin", "defined" (a class of this process), "entry_point" or "hook"
    target: str  # "module:attr" (or a repr for objects that have no import path)
    distribution: str | None = None

    def describe(self) -> str:
        origin = f"distribution {self.distribution!r}" if self.distribution else self.source
        return f"{self.target} ({origin})"


def resolve_claims(kind: str, name: str, claims: Iterable[Claim], *, how_to_choose: str) -> Claim | None:
    """The one conflict rule for every name a plugin can claim (backend, URL scheme, codec, scheme alias).

    Claims that point at the same target are one claim. No claim: None. Exactly one: that claim. More than
    one distinct claim: ``PluginConflictError`` naming every claimant, in a stable order, and
    ``how_to_choose`` (the explicit, in-process choice that settles it, which callers check before this).
    No claimant wins by import order, installation order or being built in."""
    distinct: dict[str, Claim] = {}
    for claim in claims:
        distinct.setdefault(claim.target, claim)
    if not distinct:
        return None
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    listed = "; ".join(c.describe() for c in sorted(distinct.values(), key=lambda c: (c.target, c.source)))
    raise PluginConflictError(
        f"{kind} {name!r} is claimed by more than one provider: {listed}. Uninstall all but one, or {how_to_choose}",
        backend=name if kind == "backend" else None,
    )


def class_target(cls: type) -> str:
    """``module:qualname`` of a class, the form entry points use."""
    return f"{cls.__module__}:{cls.__qualname__}"


def same_target(target: str, cls: type) -> bool:
    """Whether entry-point ``target`` names ``cls`` (also through a re-export), importing nothing new."""
    if target == class_target(cls):
        return True
    module_name, _, attr_path = target.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        return False
    obj: Any = module
    for part in filter(None, attr_path.split(".")):
        obj = getattr(obj, part, None)
    return obj is cls


class Offers(Generic[T]):
    """Values that hook plugins offer by name (a codec factory, the scheme an alias stands for).

    ``replace`` swaps in the complete set at once (``polykv.hooks`` calls it whenever a hook plugin is
    registered or unregistered); ``resolve`` applies the one conflict rule to a name. A plugin whose hook
    raised while its offers were collected is remembered in ``failures`` and reported (``PluginLoadError``)
    only when a name nobody else offers is asked for: it breaks no name that resolves without it.
    """

    def __init__(self, kind: str, how_to_choose: str) -> None:
        self.kind = kind
        self.how_to_choose = how_to_choose
        self._lock = threading.Lock()
        self._offers: dict[str, list[tuple[Claim, T]]] = {}
        self._failures: tuple[str, ...] = ()

    def replace(self, offers: Mapping[str, Sequence[tuple[Claim, T]]], failures: Sequence[str] = ()) -> None:
        """Make ``offers`` (``{name: [(claim, value), ...]}``) the whole set; ``failures`` describe plugins
        whose hook raised (each message names the plugin and the error)."""
        table = {name: list(claims) for name, claims in offers.items() if claims}
        with self._lock:
            self._offers, self._failures = table, tuple(failures)

    def names(self) -> list[str]:
        """Every offered name, sorted."""
        return sorted(self._offers)

    def resolve(self, name: str) -> T | None:
        """The value offered for ``name``, or None when nothing offers it. ``PluginConflictError`` when two
        plugins offer different values; ``PluginLoadError`` when nothing offers it but a plugin's hook failed."""
        offers, failures = self._offers, self._failures
        claims = offers.get(name, [])
        chosen = resolve_claims(self.kind, name, [c for c, _ in claims], how_to_choose=self.how_to_choose)
        if chosen is None:
            if failures:
                raise PluginLoadError(
                    f"no hook plugin offers the {self.kind} {name!r}, and some could not say: " + "; ".join(failures)
                )
            return None
        return next(value for claim, value in claims if claim == chosen)
