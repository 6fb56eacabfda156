"""Records: turning objects into field dicts and back, and ``filter_record`` lookups.

A record is a ``Record`` subclass, a plain dataclass, a ``dict``, or any object whose class defines
``__getstate__``/``__setstate__``. Its schema and key can come from the class (``__schema_name__`` and
``__record_key__``, the name of the field that holds the key). ``__indexes__`` names fields that stores
able to index use for equality filters.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .errors import FilterError, RecordError

if TYPE_CHECKING:
    from .store import KeyValueStore

__all__ = [
    "LOOKUPS",
    "BackendIntegrationMixin",
    "Condition",
    "Record",
    "build_record",
    "compile_filter",
    "indexed_fields",
    "record_fields",
    "record_key_of",
    "record_state",
    "schema_name_of",
]

T = TypeVar("T")

_BINDING = "_polykv_store"


class Record:
    """Base for records that know their store: ``save()``, ``delete()`` and ``reload()`` once bound.

    Subclass it (usually together with ``@dataclass``); set ``__schema_name__`` and ``__record_key__``
    (the field holding the key, ``"id"`` by default) and optionally ``__indexes__``. A record is bound
    by ``store.get_record``/``filter_record``/``insert_record`` or explicitly with ``bind(store)``.
    """

    __schema_name__: ClassVar[str | None] = None
    __record_key__: ClassVar[str] = "id"
    __indexes__: ClassVar[tuple[str, ...]] = ()

    def bind(self, store: KeyValueStore) -> Record:
        """Attach the record to ``store`` so that save/delete/reload need no arguments."""
        object.__setattr__(self, _BINDING, store)
        return self

    def _bound_store(self) -> KeyValueStore:
        store: KeyValueStore | None = getattr(self, _BINDING, None)
        if store is None:
            raise RecordError(
                f"{type(self).__name__} record is not bound to a store; call record.bind(store) first",
                schema=schema_name_of(type(self)),
            )
        return store

    def save(self) -> None:
        """Write the record to its store, inserting or replacing it."""
        self._bound_store().upsert_record(_require_schema(type(self)), record_key_of(self), self)

    def delete(self) -> None:
        """Delete the record from its store (nothing happens if it is already gone)."""
        self._bound_store().delete_record(_require_schema(type(self)), record_key_of(self))

    def reload(self) -> None:
        """Refresh the record's fields in place from its store."""
        self._bound_store().reload_record(_require_schema(type(self)), self)


#: The reference API's name for the record base.
BackendIntegrationMixin = Record


def bind_record(record: object, store: KeyValueStore) -> None:
    """Bind ``record`` to ``store`` when it is a ``Record``; other records carry no binding."""
    if isinstance(record, Record):
        object.__setattr__(record, _BINDING, store)


def schema_name_of(klass: type) -> str | None:
    """The schema name a record class declares in ``__schema_name__``, if any."""
    name = getattr(klass, "__schema_name__", None)
    return name if isinstance(name, str) else None


def _require_schema(klass: type) -> str:
    name = schema_name_of(klass)
    if name is None:
        raise RecordError(f"{klass.__name__} declares no __schema_name__; pass the schema name explicitly")
    return name


def record_key_of(record: object) -> str:
    """The record's key, read from the field named by its class's ``__record_key__`` (default ``id``)."""
    field = getattr(type(record), "__record_key__", "id")
    value = record.get(field) if isinstance(record, Mapping) else getattr(record, field, None)
    if value is None:
        raise RecordError(f"{type(record).__name__} record has no key: field {field!r} is missing or None")
    return value if isinstance(value, str) else str(value)


def _overrides(klass: type, name: str) -> bool:
    return any(name in vars(base) for base in klass.__mro__ if base is not object)


def record_state(record: object) -> dict[str, Any]:
    """The field dict that is stored for ``record``."""
    klass = type(record)
    if isinstance(record, Mapping):
        return dict(record)
    if _overrides(klass, "__getstate__"):
        state = record.__getstate__()  # type: ignore[attr-defined]
        if not isinstance(state, dict):
            raise RecordError(f"{klass.__name__}.__getstate__ must return a dict, got {type(state).__name__}")
        return state
    if dataclasses.is_dataclass(record):
        return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    try:
        attributes = vars(record)
    except TypeError:
        raise RecordError(
            f"cannot store a {klass.__name__}: use a dataclass, a dict, a Record, or define __getstate__/__setstate__"
        ) from None
    return {k: v for k, v in attributes.items() if not k.startswith("_polykv")}


def build_record(klass: type[T], state: dict[str, Any]) -> T:
    """Make a ``klass`` object from a stored field dict (unknown stored fields are kept by __setstate__
    classes and dropped by dataclasses)."""
    if klass is dict or (isinstance(klass, type) and issubclass(klass, dict)):
        return klass(state)  # type: ignore[call-arg]
    if _overrides(klass, "__setstate__"):
        obj = klass.__new__(klass)
        obj.__setstate__(state)  # type: ignore[attr-defined]
        return obj
    if dataclasses.is_dataclass(klass):
        fields = dataclasses.fields(klass)
        init = {f.name: state[f.name] for f in fields if f.init and f.name in state}
        obj = klass(**init)
        for f in fields:
            if not f.init and f.name in state:
                object.__setattr__(obj, f.name, state[f.name])
        return obj
    obj = klass.__new__(klass)
    obj.__dict__.update(state)
    return obj


def refresh_record(record: object, state: dict[str, Any]) -> None:
    """Replace ``record``'s fields in place with ``state``."""
    if isinstance(record, dict):
        record.clear()
        record.update(state)
    elif _overrides(type(record), "__setstate__"):
        record.__setstate__(state)  # type: ignore[attr-defined]
    elif dataclasses.is_dataclass(record):
        for f in dataclasses.fields(record):
            if f.name in state:
                object.__setattr__(record, f.name, state[f.name])
    else:
        binding = getattr(record, _BINDING, None)
        record.__dict__.clear()
        record.__dict__.update(state)
        if binding is not None:
            object.__setattr__(record, _BINDING, binding)


def record_fields(klass: type) -> frozenset[str] | None:
    """The field names a record class declares (dataclass fields or annotations); None if unknowable."""
    if dataclasses.is_dataclass(klass):
        return frozenset(f.name for f in dataclasses.fields(klass))
    names: set[str] = set()
    for base in reversed(klass.__mro__):
        if base in (object, Record, dict):
            continue
        for name, annotation in vars(base).get("__annotations__", {}).items():
            if not name.startswith("__") and "ClassVar" not in str(annotation):
                names.add(name)
    return frozenset(names) if names else None


def indexed_fields(klass: type) -> tuple[str, ...]:
    """Fields the record class asks stores to index (``__indexes__``)."""
    indexes = getattr(klass, "__indexes__", ())
    if isinstance(indexes, str) or not all(isinstance(i, str) for i in indexes):
        raise RecordError(f"{klass.__name__}.__indexes__ must be a tuple of field names")
    return tuple(indexes)


_MISSING = object()


def _contains(value: Any, operand: Any) -> bool:
    if isinstance(value, str):
        if not isinstance(operand, str):
            raise TypeError("contains on a str field needs a str")
        return operand in value
    return operand in value


def _startswith(value: Any, operand: Any) -> bool:
    if not isinstance(operand, str):
        raise TypeError("startswith needs a str")
    return isinstance(value, str) and value.startswith(operand)


#: Lookup name -> predicate(stored_value, operand). ``exact`` is plain equality.
LOOKUPS: dict[str, Callable[[Any, Any], bool]] = {
    "exact": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda value, operand: value in operand,
    "contains": _contains,
    "startswith": _startswith,
    "isnull": lambda value, operand: (value is None) is operand,
}

_ORDERING = frozenset({"gt", "gte", "lt", "lte"})


@dataclasses.dataclass(frozen=True)
class Condition:
    """One ``field__lookup=operand`` term of a filter."""

    field: str
    lookup: str
    operand: Any

    def matches(self, state: Mapping[str, Any]) -> bool:
        value = state.get(self.field)
        if self.lookup == "isnull":
            return LOOKUPS["isnull"](value, self.operand)
        if value is None:
            return self.lookup == "ne" and self.operand is not None
        try:
            return bool(LOOKUPS[self.lookup](value, self.operand))
        except TypeError as exc:
            raise FilterError(
                f"cannot apply {self.field}__{self.lookup}={self.operand!r} to stored value {value!r}: {exc}"
            ) from None


def compile_filter(klass: type, filters: Mapping[str, Any], schema: str | None = None) -> list[Condition]:
    """Parse ``filter_record`` keyword arguments into conditions, raising FilterError for bad ones."""
    known = record_fields(klass)
    conditions = []
    for term, operand in filters.items():
        field, sep, lookup = term.rpartition("__")
        if not sep or (known is not None and term in known):
            field, lookup = term, "exact"
        elif lookup not in LOOKUPS:
            raise FilterError(
                f"unknown lookup {lookup!r} in {term!r}; known lookups: {', '.join(sorted(LOOKUPS))}",
                schema=schema,
            )
        if not field:
            raise FilterError(f"filter term {term!r} names no field", schema=schema)
        if known is not None and field not in known:
            raise FilterError(
                f"{klass.__name__} has no field {field!r} (fields: {', '.join(sorted(known))})", schema=schema
            )
        if lookup == "in":
            if isinstance(operand, (str, bytes)) or not isinstance(operand, Iterable):
                raise FilterError(f"{term} needs a list, tuple or set, got {operand!r}", schema=schema)
            operand = list(operand)
        elif lookup == "isnull" and not isinstance(operand, bool):
            raise FilterError(f"{term} needs True or False, got {operand!r}", schema=schema)
        elif lookup in _ORDERING and operand is None:
            raise FilterError(f"{term} cannot compare with None; use {field}__isnull", schema=schema)
        elif lookup == "startswith" and not isinstance(operand, str):
            raise FilterError(f"{term} needs a str, got {operand!r}", schema=schema)
        conditions.append(Condition(field, lookup, operand))
    return conditions


def matches_all(state: Mapping[str, Any], conditions: Iterable[Condition]) -> bool:
    """Whether a stored field dict satisfies every condition."""
    return all(c.matches(state) for c in conditions)
