"""``AttrsRecordSuite``: attrs classes work as record classes, the way dataclasses do.

Subclass it with a ``store`` fixture (a fresh, empty store). It imports attrs, so import it only where
attrs is installed (``pytest.importorskip("attrs")`` first).

attrs classes need no record kind: slotted classes (``attrs.define``, the default) store their
``__getstate__`` dict and are rebuilt through ``__setstate__``; ``slots=False`` classes store ``vars()``.
As with dataclasses, field values are stored as they are, so they must be values the store's codec takes
(no datetime under the json codec, no nested attrs instances).
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import pytest

from ..errors import FilterError
from ..store import KeyValueStore

__all__ = ["AttrsRecordSuite"]


@attrs.define
class Book:
    __schema_name__: ClassVar[str] = "books"
    __record_key__: ClassVar[str] = "isbn"
    __indexes__: ClassVar[tuple[str, ...]] = ("author",)

    isbn: str
    author: str
    pages: int = 0
    tags: list[str] = attrs.Factory(list)


@attrs.frozen
class Frozen:
    name: str


@attrs.define(slots=False)
class Loose:
    id: str
    note: str = ""


@attrs.define
class BookView:
    """Two fields of ``Book`` (slotted, as ``attrs.define`` makes it): the others are kept beside it."""

    __record_key__: ClassVar[str] = "isbn"

    isbn: str
    author: str


class AttrsRecordSuite:
    """Record-surface tests with attrs classes; subclass and provide a ``store`` fixture."""

    def test_round_trip_and_filter(self, store: KeyValueStore) -> None:
        store.save(Book("1", "Le Guin", 300, ["sf"]))
        store.save(Book("2", "Borges", 120))
        store.save(Book("3", "Le Guin", 200))
        assert store.get_record("books", Book, "1") == Book("1", "Le Guin", 300, ["sf"])
        assert sorted(b.isbn for b in store.filter_record("books", Book, author="Le Guin")) == ["1", "3"]
        assert [b.isbn for b in store.filter_record("books", Book, pages__lt=150)] == ["2"]
        with pytest.raises(FilterError):
            store.filter_record("books", Book, writer="Borges")

    def test_frozen_and_dict_classes(self, store: KeyValueStore) -> None:
        frozen = Frozen("a")
        store.insert_record("frozen", "f", frozen)
        store.upsert_record("frozen", "f", Frozen("b"))
        store.reload_record("frozen", frozen)
        assert frozen == Frozen("b")
        store.insert_record("loose", "l", Loose("l", "hi"))
        assert store.get_record("loose", Loose, "l") == Loose("l", "hi")

    def test_fields_a_narrower_class_does_not_declare_survive_a_save(self, store: KeyValueStore) -> None:
        store.save(Book("1", "Le Guin", 300, ["sf"]))
        view = store.get_record("books", BookView, "1")
        view.author = "Ursula K. Le Guin"
        store.save(view, "books")
        assert store.get_record("books", Book, "1") == Book("1", "Ursula K. Le Guin", 300, ["sf"])
