"""Records: turning objects into field dicts and back, and ``filter_record`` lookups.

A record is a ``Record`` subclass, a plain dataclass, a ``dict``, a pydantic model, a msgspec Struct (see
``polykv.record_kinds``), or any object whose class defines ``__getstate__``/``__setstate__``. Its schema
and key can come from the class (``__schema_name__`` and ``__record_key__``, the name of the field that
holds the key). ``__indexes__`` names fields that stores able to index use for equality filters.

How a class is handled (its kind, whether it defines ``__getstate__``/``__setstate__``, its dataclass
fields) is decided the first time a record of that class is stored or loaded, and remembered.
"""

from __future__ import annotations

import dataclasses
import operator
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .errors import FilterError, InvalidArgumentError, RecordError, SerializationError, a_type_name, with_article
from .record_kinds import DocumentInvalid, RecordKind, kind_of

if TYPE_CHECKING:
    from .store import KeyValueStore

__all__ = [
    "LOOKUPS",
    "BackendIntegrationMixin",
    "Condition",
    "Record",
    "RecordBinding",
    "build_record",
    "compile_filter",
    "indexed_fields",
    "record_binding",
    "record_fields",
    "record_key_of",
    "record_state",
    "schema_name_of",
    "unknown_fields",
]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RecordBinding:
    """Where a record was last loaded from or written to: its store, schema and key."""

    store: KeyValueStore
    schema: str | None
    key: str | None
    #: The record's key field (``__record_key__``) as text when it was bound (None: no value): while the
    #: field still holds it, the record belongs under ``key`` (see ``record_key_of``).
    field: str | None = None


class _BindingRef(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a record that carries what polykv keeps beside it (the table's value): its
    binding, and the stored fields its class does not declare (``unknown``, written back on save)."""

    __slots__ = ("binding", "ident", "unknown")
    binding: RecordBinding | None
    unknown: dict[str, Any] | None
    ident: int


#: id(record) -> weak reference carrying the binding. Kept beside the record, not in it: the record's
#: ``__dict__``, ``vars()``, pickling, copying and equality stay untouched, and frozen dataclasses,
#: unhashable dataclasses, ``__slots__`` classes with ``__weakref__`` and dict subclasses all work.
_bindings: dict[int, _BindingRef] = {}


def _forget(ref: _BindingRef) -> None:
    """Weak-reference callback: the record is gone, drop its binding (before its id can be reused)."""
    if _bindings.get(ref.ident) is ref:
        del _bindings[ref.ident]


def _side(record: object) -> _BindingRef | None:
    """The live side-table entry of ``record``, or None."""
    ref = _bindings.get(id(record))
    if ref is None or ref() is not record:
        return None
    return ref


def _side_or_new(record: object) -> _BindingRef | None:
    """``record``'s side-table entry, made if it has none; None if the record cannot be weakly referenced."""
    ref = _side(record)
    if ref is None:
        try:
            ref = _BindingRef(record, _forget)
        except TypeError:
            return None
        ref.binding = None
        ref.unknown = None
        ref.ident = id(record)
        _bindings[ref.ident] = ref
    return ref


def record_binding(record: object) -> RecordBinding | None:
    """The binding ``record`` carries (set by the store calls that load or write it), or None."""
    ref = _side(record)
    return None if ref is None else ref.binding


def bind_record(record: object, store: KeyValueStore, schema: str | None = None, key: str | None = None) -> bool:
    """Remember that ``record`` lives in ``store`` under ``(schema, key)``; returns whether it could.

    A record that cannot be weakly referenced (a plain ``dict``, a ``__slots__`` class without
    ``__weakref__``) carries no binding: it needs a key field, or the key passed explicitly.
    """
    ref = _side_or_new(record)
    if ref is None:
        return False
    previous = ref.binding
    if previous is not None:
        schema = previous.schema if schema is None else schema
        key = previous.key if key is None else key
    ref.binding = RecordBinding(store, schema, key, _key_field_text(record))
    return True


def unknown_fields(record: object) -> dict[str, Any]:
    """The stored fields ``record``'s class does not declare, kept from the document it was built from
    (``get_record``, ``reload_record``...) and written back with it, so that saving a record read through
    a narrower class loses nothing. Empty when there were none, or for a record not built by polykv."""
    ref = _side(record)
    return {} if ref is None or ref.unknown is None else dict(ref.unknown)


def _unbindable_hint(record: object) -> str:
    klass = type(record)
    if isinstance(record, dict) and type(record) is dict:
        return (
            "a plain dict cannot remember the key it is stored under; keep the key in the dict under "
            f"{getattr(klass, '__record_key__', 'id')!r}, load it as a dict subclass (class Doc(dict): pass), "
            "or pass the key explicitly (reload_record(schema, record, record_key=...))"
        )
    try:
        weakref.ref(record)
    except TypeError:
        if hasattr(klass, "__struct_fields__"):
            return (
                f"{klass.__name__} cannot remember the key it is stored under (a msgspec Struct without "
                "weakref=True); define it with weakref=True, give the class a key field (__record_key__), "
                "or pass the key explicitly"
            )
        return (
            f"{klass.__name__} cannot remember the key it is stored under (its __slots__ have no __weakref__); "
            "add '__weakref__' to __slots__ (or @dataclass(slots=True, weakref_slot=True)), give the class a "
            "key field (__record_key__), or pass the key explicitly"
        )
    return (
        f"{klass.__name__} record was never loaded from or written to a store; give it a key field "
        "(__record_key__), or pass the key explicitly"
    )


class Record:
    """Base for records that know their store: ``save()``, ``delete()`` and ``reload()`` once bound.

    Subclass it (usually together with ``@dataclass``); set ``__schema_name__`` and ``__record_key__``
    (the field holding the key, ``"id"`` by default) and optionally ``__indexes__``. A record is bound
    by ``store.get_record``/``filter_record``/``iter_records``/``insert_record``/``update_record``/
    ``upsert_record`` (which also remember its schema and key, so a class without a key field works) or
    explicitly with ``bind(store)``.
    """

    __schema_name__: ClassVar[str | None] = None
    __record_key__: ClassVar[str] = "id"
    __indexes__: ClassVar[tuple[str, ...]] = ()

    def bind(self, store: KeyValueStore) -> Record:
        """Attach the record to ``store`` so that save/delete/reload need no arguments."""
        bind_record(self, store)
        return self

    def _binding(self) -> RecordBinding:
        binding = record_binding(self)
        if binding is None:
            raise RecordError(
                f"{type(self).__name__} record is not bound to a store; call record.bind(store) first",
                schema=schema_name_of(type(self)),
            )
        return binding

    def _schema(self, binding: RecordBinding) -> str:
        return binding.schema or _require_schema(type(self))

    def save(self) -> None:
        """Write the record to its store, inserting or replacing it (schema and key: see ``record_key_of``)."""
        binding = self._binding()
        binding.store.upsert_record(self._schema(binding), record_key_of(self), self)

    def delete(self) -> None:
        """Delete the record from its store (nothing happens if it is already gone)."""
        binding = self._binding()
        binding.store.delete_record(self._schema(binding), record_key_of(self))

    def reload(self) -> None:
        """Refresh the record's fields in place from its store."""
        binding = self._binding()
        binding.store.reload_record(self._schema(binding), self)


#: The reference API's name for the record base.
BackendIntegrationMixin = Record


def record_schema_of(record: object) -> str | None:
    """The schema a record was last loaded from or written to, else its class's ``__schema_name__``."""
    binding = record_binding(record)
    if binding is not None and binding.schema is not None:
        return binding.schema
    return schema_name_of(type(record))


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
    """The record's key: the key it was last loaded from or written to (see ``bind_record``) while its key
    field (named by the class's ``__record_key__``, default ``id``) still holds what it held then, else
    the key field's value.

    So a record stored under ``"r1"`` with ``id=7`` saves back to ``"r1"``, never over record ``"7"``; a
    changed key field wins: after ``u.id = "u2"``, ``save()`` writes under ``"u2"`` (the record under the
    old key stays) and the record then remembers ``"u2"``. ``RecordError`` when neither is known.
    """
    refuse_a_class(record)
    value = _key_field_text(record)
    binding = record_binding(record)
    if binding is not None and binding.key is not None and (value is None or value == binding.field):
        return binding.key  # the key field is unchanged since the record was stored or loaded
    if value is not None:
        return value
    field = getattr(type(record), "__record_key__", "id")
    raise RecordError(
        f"{type(record).__name__} record has no key: field {field!r} is missing or None, and {_unbindable_hint(record)}"
    )


def _key_field_text(record: object) -> str | None:
    """The value of ``record``'s key field (``__record_key__``, ``"id"`` by default) as text, or None."""
    field = getattr(type(record), "__record_key__", "id")
    value = record.get(field) if isinstance(record, Mapping) else getattr(record, field, None)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def refuse_a_class(
    record: object, *, backend: str | None = None, schema: str | None = None, key: str | None = None
) -> None:
    """``RecordError`` if ``record`` is a class (``insert_record(s, k, User)`` for ``User(...)``)."""
    if isinstance(record, type):
        raise RecordError(
            f"a record is an instance, not the class {record.__name__} itself (write {record.__name__}(...))",
            backend=backend,
            schema=schema,
            key=key,
        )


def _overrides(klass: type, name: str) -> bool:
    return any(name in vars(base) for base in klass.__mro__ if base is not object)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How polykv turns one record class into documents and back, decided on the class's first use."""

    kind: RecordKind | None
    getstate: bool  # the class (not object) defines __getstate__
    setstate: bool
    fields: tuple[str, ...] | None  # dataclass fields, or None for a non-dataclass
    init_fields: tuple[str, ...]  # dataclass fields passed to __init__
    late_fields: tuple[str, ...]  # dataclass fields with init=False, set after __init__
    kept: frozenset[str] | None  # the document keys an instance keeps; None: it keeps every key


#: record class -> its plan. The MRO scans and ``dataclasses.fields`` calls are done once per class,
#: which keeps the record path of dataclasses and ``__getstate__`` classes as cheap as a dict lookup.
_plans: dict[type, _Plan] = {}


def _plan(klass: type) -> _Plan:
    plan = _plans.get(klass)
    if plan is None:
        fields = dataclasses.fields(klass) if dataclasses.is_dataclass(klass) else None
        setstate = _overrides(klass, "__setstate__")
        plan = _Plan(
            kind=kind_of(klass),
            getstate=_overrides(klass, "__getstate__"),
            setstate=setstate,
            fields=None if fields is None else tuple(f.name for f in fields),
            init_fields=() if fields is None else tuple(f.name for f in fields if f.init),
            late_fields=() if fields is None else tuple(f.name for f in fields if not f.init),
            kept=_kept_keys(klass, fields, setstate),
        )
        _plans[klass] = plan
    return plan


def _kept_keys(klass: type, fields: tuple[dataclasses.Field[Any], ...] | None, setstate: bool) -> frozenset[str] | None:
    """The stored-document keys an instance of ``klass`` built by polykv keeps (None: all of them).

    A model kind says (pydantic's declared fields and aliases unless ``extra`` is allow/forbid; msgspec's
    encoded names unless ``forbid_unknown_fields``). A dataclass keeps its fields; an attrs class with
    attrs' own ``__setstate__`` its attributes. ``__setstate__`` classes, plain objects and dicts keep all.
    """
    kind = kind_of(klass)
    if kind is not None:
        return kind.kept_fields(klass)
    attributes = getattr(klass, "__attrs_attrs__", None)
    if attributes is not None and getattr(getattr(klass, "__setstate__", None), "__module__", None) == "attr._make":
        return frozenset(a.name for a in attributes if a.name != "__weakref__")
    if setstate:
        return None
    return None if fields is None else frozenset(f.name for f in fields)


def _unknown_in(
    record: object, plan: _Plan, state: dict[str, Any], backend: str | None, schema: str | None, key: str | None
) -> dict[str, Any] | None:
    """The fields of ``state`` that ``record``'s class drops, or None. ``RecordError`` if there are some
    and the record cannot carry them beside it (it cannot be weakly referenced)."""
    kept = plan.kept
    if kept is None or kept.issuperset(state):
        return None
    unknown = {name: value for name, value in state.items() if name not in kept}
    try:
        weakref.ref(record)
    except TypeError:
        klass = type(record)
        raise RecordError(
            f"the stored record has fields {klass.__name__} does not declare ({', '.join(sorted(unknown))}) and "
            f"{klass.__name__} cannot carry them (it cannot be weakly referenced), so saving it would lose them; "
            "declare the fields, make the class weak-referenceable (__weakref__ in __slots__, weakref=True for "
            "a msgspec Struct), or read the record as a dict",
            backend=backend,
            schema=schema,
            key=key,
        ) from None
    return unknown


def _remember_unknown(record: object, unknown: dict[str, Any] | None) -> None:
    """Keep ``unknown`` beside ``record`` for ``record_state`` (None forgets what was kept)."""
    ref = _side(record) if unknown is None else _side_or_new(record)
    if ref is not None:
        ref.unknown = unknown


def _with_unknown(record: object, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the record's remembered unknown fields added (its own fields win)."""
    ref = _side(record)
    if ref is None or not ref.unknown:
        return document
    return {**ref.unknown, **document}


def record_state(
    record: object, *, backend: str | None = None, schema: str | None = None, key: str | None = None
) -> dict[str, Any]:
    """The field dict that is stored for ``record``. A model (pydantic, msgspec) gives its JSON-mode
    document; ``SerializationError`` naming ``backend``, ``schema`` and ``key`` if it cannot. Stored fields
    the class does not declare, kept when the record was built (``unknown_fields``), are written back."""
    klass = type(record)
    if isinstance(record, Mapping):
        return dict(record)
    refuse_a_class(record, backend=backend, schema=schema, key=key)
    plan = _plan(klass)
    kind = plan.kind
    if kind is not None:  # before __getstate__: pydantic models define one for pickling
        try:
            return _with_unknown(record, kind.to_document(record))
        except DocumentInvalid as exc:
            raise SerializationError(
                f"cannot store {kind.name} {klass.__name__}: {exc}", backend=backend, schema=schema, key=key
            ) from None
    if plan.getstate:
        state = record.__getstate__()  # type: ignore[attr-defined]
        if not isinstance(state, dict):
            raise RecordError(
                f"{klass.__name__}.__getstate__ must return a dict, got {type(state).__name__}",
                backend=backend,
                schema=schema,
                key=key,
            )
        return state if plan.kept is None else _with_unknown(record, state)
    if plan.fields is not None:
        return _with_unknown(record, {name: getattr(record, name) for name in plan.fields})
    try:
        attributes = vars(record)
    except TypeError:
        raise RecordError(
            f"cannot store {with_article(klass.__name__)}: use a dataclass, a dict, a Record, or define "
            "__getstate__/__setstate__",
            backend=backend,
            schema=schema,
            key=key,
        ) from None
    return {k: v for k, v in attributes.items() if not k.startswith("_polykv")}


def _invalid(
    klass: type, kind: RecordKind, exc: DocumentInvalid, backend: str | None, schema: str | None, key: str | None
) -> RecordError:
    return RecordError(
        f"stored document does not validate as {kind.name} {klass.__name__}: {exc}; migrate the stored "
        "records or make the model accept them",
        backend=backend,
        schema=schema,
        key=key,
    )


def build_record(
    klass: type[T],
    state: dict[str, Any],
    *,
    backend: str | None = None,
    schema: str | None = None,
    key: str | None = None,
) -> T:
    """Make a ``klass`` object from a stored field dict (model kinds validate). Stored fields the class
    does not declare are kept beside the object and written back when it is saved (``unknown_fields``).
    ``backend``, ``schema`` and ``key`` name the record in the ``RecordError`` raised when a model rejects
    the document, or when the class has no such fields and cannot carry them (no weak reference)."""
    if klass is dict or (isinstance(klass, type) and issubclass(klass, dict)):
        return klass(state)  # type: ignore[call-arg]
    check_record_class(klass, backend=backend, schema=schema)
    plan = _plan(klass)
    kind = plan.kind
    if kind is not None:
        try:
            model = kind.from_document(klass, state)
        except DocumentInvalid as exc:
            raise _invalid(klass, kind, exc, backend, schema, key) from None
        _remember_unknown(model, _unknown_in(model, plan, state, backend, schema, key))
        return model
    if plan.setstate:
        obj = klass.__new__(klass)
        obj.__setstate__(state)  # type: ignore[attr-defined]
        _remember_unknown(obj, _unknown_in(obj, plan, state, backend, schema, key))
        return obj
    if plan.fields is not None:
        try:
            obj = klass(**{name: state[name] for name in plan.init_fields if name in state})
        except TypeError as exc:  # a required field the stored record lacks
            raise RecordError(
                f"cannot build {with_article(klass.__name__)} from the stored record (fields: "
                f"{', '.join(sorted(state)) or 'none'}): {exc}",
                backend=backend,
                schema=schema,
                key=key,
            ) from None
        for name in plan.late_fields:
            if name in state:
                object.__setattr__(obj, name, state[name])
        _remember_unknown(obj, _unknown_in(obj, plan, state, backend, schema, key))
        return obj
    try:
        obj = klass.__new__(klass)
        obj.__dict__.update(state)
    except (AttributeError, TypeError):  # a __slots__ class, typing.Any: nothing to hold the fields
        raise RecordError(
            f"cannot build {with_article(klass.__name__)} from a stored record: use a dataclass, a dict, a "
            "Record, a model class, or define __setstate__",
            backend=backend,
            schema=schema,
            key=key,
        ) from None
    return obj


def check_record_class(klass: object, *, backend: str | None = None, schema: str | None = None) -> None:
    """``InvalidArgumentError`` unless ``klass`` is a class whose instances can hold a record's fields
    (``filter_record("users", "User")`` and ``filter_record("users", int)`` are slips, refused even when
    nothing matches)."""
    if not isinstance(klass, type):
        raise InvalidArgumentError(
            f"a record class must be a class (a dataclass, dict, Record or model), not {a_type_name(klass)}",
            backend=backend,
            schema=schema,
        )
    if issubclass(klass, dict):
        return
    plan = _plan(klass)
    if plan.kind is None and not plan.setstate and plan.fields is None and not klass.__dictoffset__:
        raise InvalidArgumentError(  # int, str, list, a __slots__ class: nothing to hold the fields
            f"{klass.__name__} cannot hold a record (its instances have no fields to fill); use a dataclass, "
            "a dict, a Record, a model class, or define __getstate__/__setstate__",
            backend=backend,
            schema=schema,
        )


def refresh_record(
    record: object,
    state: dict[str, Any],
    *,
    backend: str | None = None,
    schema: str | None = None,
    key: str | None = None,
) -> None:
    """Replace ``record``'s fields in place with ``state`` (``RecordError`` naming ``backend``, ``schema``
    and ``key`` when a model rejects it; the record is then unchanged)."""
    if isinstance(record, dict):
        record.clear()
        record.update(state)
        return
    plan = _plan(type(record))
    unknown = _unknown_in(record, plan, state, backend, schema, key)  # before any change
    if plan.kind is not None:
        try:
            plan.kind.refresh(record, state)
        except DocumentInvalid as exc:
            raise _invalid(type(record), plan.kind, exc, backend, schema, key) from None
    elif plan.setstate:
        record.__setstate__(state)  # type: ignore[attr-defined]
    elif plan.fields is not None:
        for name in plan.fields:
            if name in state:
                object.__setattr__(record, name, state[name])
    else:
        record.__dict__.clear()
        record.__dict__.update(state)
    _remember_unknown(record, unknown)


def record_fields(klass: type) -> frozenset[str] | None:
    """The field names a record class declares (model or dataclass fields, or annotations); None if unknowable."""
    kind = kind_of(klass)
    if kind is not None:
        return kind.field_names(klass)
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
    """Fields the record class asks stores to index (``__indexes__``), as named in its stored documents."""
    indexes = getattr(klass, "__indexes__", ())
    if isinstance(indexes, str) or not all(isinstance(i, str) for i in indexes):
        raise RecordError(f"{klass.__name__}.__indexes__ must be a tuple of field names")
    kind = kind_of(klass) if indexes else None
    if kind is not None:
        return tuple(kind.document_name(klass, i) for i in indexes)
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
    """Parse ``filter_record`` keyword arguments into conditions, raising FilterError for bad ones.

    For a model kind (pydantic, msgspec) terms name the model's fields; each condition names the field
    as it is stored in the document, and its operand is in the document's JSON form (a UUID as a str)."""
    check_record_class(klass, schema=schema)
    kind = kind_of(klass)
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
        if operand is None and lookup in ("exact", "ne"):  # as Django does: a stored None, or no such field
            lookup, operand = "isnull", lookup == "exact"
        if lookup == "in":
            if isinstance(operand, (str, bytes)) or not isinstance(operand, Iterable):
                raise FilterError(f"{term} needs a list, tuple or set, got {operand!r}", schema=schema)
            operand = list(operand)
            if None in operand:
                raise FilterError(
                    f"{term} cannot match None (stored None never equals it); find those with "
                    f"{field}__isnull=True in a second filter_record",
                    schema=schema,
                )
        elif lookup == "isnull" and not isinstance(operand, bool):
            raise FilterError(f"{term} needs True or False, got {operand!r}", schema=schema)
        elif lookup in _ORDERING and operand is None:
            raise FilterError(f"{term} cannot compare with None; use {field}__isnull", schema=schema)
        elif lookup == "startswith" and not isinstance(operand, str):
            raise FilterError(f"{term} needs a str, got {operand!r}", schema=schema)
        if kind is not None:
            field = kind.document_name(klass, field)
            if lookup != "isnull":
                operand = kind.filter_operand(operand)
        conditions.append(Condition(field, lookup, operand))
    return conditions


def matches_all(state: Mapping[str, Any], conditions: Iterable[Condition]) -> bool:
    """Whether a stored field dict satisfies every condition."""
    return all(c.matches(state) for c in conditions)
