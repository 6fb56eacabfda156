"""Record kinds: model classes of other libraries (pydantic, msgspec) used as record classes.

polykv's own record handling (``polykv.records``) covers ``Record`` subclasses, dataclasses, dicts,
``__getstate__`` classes and plain objects. A *record kind* teaches it one more family of classes: how an
instance becomes the stored document (a ``dict`` of JSON-ready values), how a document becomes an
instance again (validated), which field names ``filter_record`` accepts and under which name each field
sits in the document.

The table holds a kind for pydantic v2 ``BaseModel`` subclasses and one for ``msgspec.Struct``
subclasses. Neither library is imported here: a kind recognises its classes only once the library is in
``sys.modules`` (an instance of a model implies its library was imported), so ``import polykv`` and
records of other kinds never load them. ``register_record_kind`` adds a kind for another library.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from typing import Any, TypeVar

from .errors import RecordError, a_type_name

__all__ = [
    "DocumentInvalid",
    "MsgspecKind",
    "PydanticKind",
    "RecordKind",
    "kind_of",
    "record_kinds",
    "register_record_kind",
]

T = TypeVar("T")


class DocumentInvalid(ValueError):
    """A stored document does not validate as the record class (``polykv.records`` raises ``RecordError``),
    or a record cannot be put into document form (``SerializationError``); either names the backend,
    schema and key. ``problems`` lists ``"location: message"`` lines (never the values, which may be
    private)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class RecordKind(ABC):
    """One family of record classes: recognising them, and converting instances to documents and back."""

    #: A short name used in messages ("pydantic", "msgspec").
    name: str = ""

    @abstractmethod
    def claims(self, klass: type) -> bool:
        """Whether ``klass`` belongs to this kind. Must not import anything: a cheap check of ``sys.modules``."""

    @abstractmethod
    def to_document(self, record: Any) -> dict[str, Any]:
        """The stored document of ``record``: a dict of JSON-ready values (str, int, float, bool, None,
        lists and dicts of them). ``DocumentInvalid`` for a value the library cannot serialise,
        ``RecordError`` for a record that does not become a dict (a pydantic ``RootModel`` of a list)."""

    @abstractmethod
    def from_document(self, klass: type[T], document: dict[str, Any]) -> T:
        """A validated ``klass`` instance from a stored document; ``DocumentInvalid`` if it does not validate."""

    @abstractmethod
    def refresh(self, record: Any, document: dict[str, Any]) -> None:
        """Replace ``record``'s fields in place with the validated ``document`` (``DocumentInvalid`` likewise)."""

    @abstractmethod
    def field_names(self, klass: type) -> frozenset[str]:
        """The attribute names ``filter_record`` terms may name."""

    def document_name(self, klass: type, field: str) -> str:
        """The key under which field ``field`` is stored in the document (the field name by default)."""
        return field

    def kept_fields(self, klass: type) -> frozenset[str] | None:
        """The document keys an instance built by ``from_document`` keeps; polykv keeps the others beside
        the instance and writes them back on save. None (the default): the instance keeps every key."""
        return None

    def filter_operand(self, operand: Any) -> Any:
        """``operand`` of a filter term as it would appear in a document (a UUID as its string...)."""
        return operand


def _secret_field(model: Any, path: str = "") -> str | None:
    """The dotted path of the first field of ``model`` (nested models, lists and dicts included) holding a
    pydantic ``SecretStr``/``SecretBytes`` with no ``field_serializer`` of its own, or None."""
    pydantic = sys.modules["pydantic"]
    secret_types = (pydantic.SecretStr, pydantic.SecretBytes)
    serializers = type(model).__pydantic_decorators__.field_serializers.values()
    custom = {name for decorator in serializers for name in decorator.info.fields}  # the model says how
    stack: list[tuple[str, Any]] = [
        (f"{path}{name}", getattr(model, name, None)) for name in type(model).model_fields if name not in custom
    ]
    while stack:
        where, value = stack.pop()
        if isinstance(value, secret_types):
            return where
        if isinstance(value, pydantic.BaseModel):
            found = _secret_field(value, f"{where}.")
            if found is not None:
                return found
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, dict):
            stack.extend((f"{where}[{k!r}]", v) for k, v in value.items())
    return None


class PydanticKind(RecordKind):
    """pydantic v2 models (``pydantic.BaseModel`` subclasses).

    Documents are ``model_dump(mode="json", by_alias=False)``: keyed by field names at every depth, with
    datetimes, UUIDs, enums, decimals and nested models in their JSON form, computed fields included.
    Loading is ``model_validate(document, by_alias=True, by_name=True)`` (computed fields dropped first),
    so documents keyed by aliases (written by other tools) load too. Needs pydantic >= 2.11 (``by_name``).
    """

    name = "pydantic"

    def claims(self, klass: type) -> bool:
        main = sys.modules.get("pydantic.main")
        return main is not None and issubclass(klass, main.BaseModel)

    def to_document(self, record: Any) -> dict[str, Any]:
        secret = _secret_field(record)
        if secret is not None:
            raise DocumentInvalid(
                [
                    f"{secret}: a pydantic secret (SecretStr/SecretBytes) dumps as '**********' in JSON mode, so "
                    "the value would be lost; store it in a plain field (or give it a field_serializer that "
                    "returns the value), or keep secrets out of records"
                ]
            )
        try:
            document = record.model_dump(mode="json", by_alias=False)
        except (sys.modules["pydantic_core"].PydanticSerializationError, UnicodeError, ValueError) as exc:
            raise DocumentInvalid([f"{type(exc).__name__}: {exc}"]) from None
        if not isinstance(document, dict):
            raise RecordError(
                f"cannot store {a_type_name(record)}: it dumps to {a_type_name(document)}, not a dict of fields"
            )
        return document

    def _validate(self, klass: type[T], document: dict[str, Any]) -> T:
        computed = klass.model_computed_fields  # type: ignore[attr-defined]
        if computed:
            document = {k: v for k, v in document.items() if k not in computed}
        error_class = sys.modules["pydantic_core"].ValidationError
        try:
            model: T = klass.model_validate(document, by_alias=True, by_name=True)  # type: ignore[attr-defined]
        except error_class as exc:
            raise DocumentInvalid(
                [
                    f"{'.'.join(str(part) for part in error['loc']) or '(document)'}: {error['msg']}"
                    for error in exc.errors(include_url=False, include_input=False)
                ]
            ) from None
        return model

    def from_document(self, klass: type[T], document: dict[str, Any]) -> T:
        return self._validate(klass, document)

    def refresh(self, record: Any, document: dict[str, Any]) -> None:
        fresh = self._validate(type(record), document)
        # Private attributes (``__pydantic_private__``) are not stored, so the record keeps its own.
        for slot in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__"):
            object.__setattr__(record, slot, getattr(fresh, slot))

    def field_names(self, klass: type) -> frozenset[str]:
        return frozenset(klass.model_fields) | frozenset(klass.model_computed_fields)  # type: ignore[attr-defined]

    def kept_fields(self, klass: type) -> frozenset[str] | None:
        if klass.model_config.get("extra") in ("allow", "forbid"):  # type: ignore[attr-defined]
            return None  # kept in __pydantic_extra__ and dumped, or refused by validation
        names = set(klass.model_computed_fields)  # type: ignore[attr-defined]
        for name, info in klass.model_fields.items():  # type: ignore[attr-defined]
            names.add(name)
            if info.alias:
                names.add(info.alias)
            alias = info.validation_alias
            for choice in getattr(alias, "choices", (alias,)):  # AliasChoices, or one str or AliasPath
                path = getattr(choice, "path", (choice,))
                if path and isinstance(path[0], str):
                    names.add(path[0])
        return frozenset(names)

    def filter_operand(self, operand: Any) -> Any:
        return sys.modules["pydantic_core"].to_jsonable_python(operand)


class MsgspecKind(RecordKind):
    """msgspec Structs (``msgspec.Struct`` subclasses, not ``array_like``).

    Documents are ``msgspec.to_builtins(record)``: msgspec's own wire form, so a ``rename``\\ d field is
    stored under its encoded name (``filter_record`` still takes field names and translates). Loading is
    ``msgspec.convert(document, klass)``.
    """

    name = "msgspec"

    def claims(self, klass: type) -> bool:
        msgspec = sys.modules.get("msgspec")
        return msgspec is not None and issubclass(klass, msgspec.Struct)

    def to_document(self, record: Any) -> dict[str, Any]:
        try:
            document = sys.modules["msgspec"].to_builtins(record)
        except TypeError as exc:  # a field value msgspec cannot encode
            raise DocumentInvalid([str(exc)]) from None
        if not isinstance(document, dict):
            raise RecordError(
                f"cannot store {a_type_name(record)}: an array_like Struct is stored as a list, not a record"
            )
        return document

    def _convert(self, klass: type[T], document: dict[str, Any]) -> T:
        msgspec = sys.modules["msgspec"]
        try:
            record: T = msgspec.convert(document, klass)
        except msgspec.ValidationError as exc:
            raise DocumentInvalid([str(exc)]) from None
        return record

    def from_document(self, klass: type[T], document: dict[str, Any]) -> T:
        return self._convert(klass, document)

    def refresh(self, record: Any, document: dict[str, Any]) -> None:
        fresh = self._convert(type(record), document)
        # Struct fields are slots; frozen Structs refuse setattr, so write through the slot descriptors.
        for name in type(record).__struct_fields__:
            getattr(type(record), name).__set__(record, getattr(fresh, name))

    def field_names(self, klass: type) -> frozenset[str]:
        return frozenset(klass.__struct_fields__)  # type: ignore[attr-defined]

    def kept_fields(self, klass: type) -> frozenset[str] | None:
        config = klass.__struct_config__  # type: ignore[attr-defined]
        if config.forbid_unknown_fields:
            return None  # convert refuses them
        names = set(klass.__struct_encode_fields__)  # type: ignore[attr-defined]
        if isinstance(config.tag_field, str):
            names.add(config.tag_field)
        return frozenset(names)

    def document_name(self, klass: type, field: str) -> str:
        names: tuple[str, ...] = klass.__struct_fields__  # type: ignore[attr-defined]
        encoded: tuple[str, ...] = klass.__struct_encode_fields__  # type: ignore[attr-defined]
        return encoded[names.index(field)] if field in names else field

    def filter_operand(self, operand: Any) -> Any:
        return sys.modules["msgspec"].to_builtins(operand)


#: The kinds polykv tries, in order, before its own record handling (first claim wins).
_kinds: list[RecordKind] = [PydanticKind(), MsgspecKind()]

#: record class -> its kind (None: polykv's own handling). A class is asked once: the record path of a
#: dataclass costs one dict lookup. Sound because a model class exists only once its library is imported.
_cache: dict[type, RecordKind | None] = {}


def register_record_kind(kind: RecordKind) -> None:
    """Add a record kind, tried before the built-in ones (so it can take over a subclass family)."""
    _kinds.insert(0, kind)
    _cache.clear()


def record_kinds() -> tuple[RecordKind, ...]:
    """The registered kinds, in the order they are tried."""
    return tuple(_kinds)


def kind_of(klass: type) -> RecordKind | None:
    """The kind that claims record class ``klass``, or None (polykv's own handling applies)."""
    try:
        return _cache[klass]
    except KeyError:
        pass
    except TypeError:  # an unhashable "class" is no model class
        return None
    found = next((k for k in _kinds if k.claims(klass)), None) if isinstance(klass, type) else None
    _cache[klass] = found
    return found
