"""``MsgspecRecordSuite``: msgspec Structs work everywhere a record class does.

Subclass it with a ``store`` fixture (a fresh, empty store). It imports msgspec, so import it only where
msgspec is installed (``pytest.importorskip("msgspec")`` first).

Covered: Structs stored as ``msgspec.to_builtins`` (datetimes, UUIDs, enums, nested Structs; ``rename``\\ d
fields under their encoded names), loaded with ``msgspec.convert``; filter terms name fields and take
Python operands; ``__schema_name__``/``__record_key__``/``__indexes__`` (on a renamed field); a document
that no longer converts raises ``RecordError`` naming schema and key; frozen Structs reload in place; a
Struct without ``weakref=True`` and without a key field is told what to do.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import ClassVar

import msgspec
import pytest

from ..errors import FilterError, RecordError, SerializationError
from ..store import KeyValueStore

__all__ = ["MsgspecRecordSuite"]

UTC = dt.timezone.utc


class Level(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Place(msgspec.Struct, rename="camel"):
    city: str
    zip_code: str


class Event(msgspec.Struct, rename="camel", frozen=True, weakref=True):
    """Frozen, camelCase on the wire, keyed by a UUID field, indexed on a renamed field."""

    __schema_name__: ClassVar[str] = "events"
    __record_key__: ClassVar[str] = "event_id"
    __indexes__: ClassVar[tuple[str, ...]] = ("owner_name",)

    event_id: uuid.UUID
    owner_name: str
    at: dt.datetime
    level: Level
    place: Place
    tags: list[str] = []


class Holder(msgspec.Struct):
    """A field typed ``object``: msgspec cannot encode arbitrary objects."""

    thing: object


class Keyless(msgspec.Struct):
    """No key field and no weakref: it cannot remember where it is stored."""

    name: str


class EventView(msgspec.Struct, rename="camel", weakref=True):
    """Two fields of ``Event``: the others are kept beside it and written back."""

    event_id: uuid.UUID
    owner_name: str


class EventViewNoWeakref(msgspec.Struct, rename="camel"):
    event_id: uuid.UUID
    owner_name: str


def event(n: int, owner: str, level: Level = Level.LOW) -> Event:
    return Event(
        event_id=uuid.UUID(int=n),
        owner_name=owner,
        at=dt.datetime(2024, 2, n, 8, 0, tzinfo=UTC),
        level=level,
        place=Place(city="Lyon", zip_code=f"6900{n}"),
        tags=["x"] * n,
    )


class MsgspecRecordSuite:
    """Record-surface tests with msgspec Structs; subclass and provide a ``store`` fixture."""

    def test_round_trip_and_document(self, store: KeyValueStore) -> None:
        ev = event(1, "ada", Level.HIGH)
        store.insert_record("events", str(ev.event_id), ev)
        loaded = store.get_record("events", Event, str(ev.event_id))
        assert loaded == ev and isinstance(loaded.place, Place) and loaded.level is Level.HIGH
        doc = store.get_record("events", dict, str(ev.event_id))
        assert doc["eventId"] == str(uuid.UUID(int=1)) and doc["ownerName"] == "ada"
        assert doc["at"] == "2024-02-01T08:00:00Z" and doc["place"] == {"city": "Lyon", "zipCode": "69001"}

    def test_save_uses_schema_name_and_record_key(self, store: KeyValueStore) -> None:
        store.save(event(2, "bob"))
        assert list(store.record_keys("events")) == [str(uuid.UUID(int=2))]

    def test_filter_by_field_names(self, store: KeyValueStore) -> None:
        for n, owner, level in [(1, "ada", Level.HIGH), (2, "bob", Level.LOW), (3, "ada", Level.LOW)]:
            store.save(event(n, owner, level))

        def ids(found: list[Event]) -> list[int]:
            return sorted(e.event_id.int for e in found)

        assert ids(store.filter_record("events", Event, owner_name="ada")) == [1, 3]  # indexed, renamed
        assert ids(store.filter_record("events", Event, owner_name="ada", level=Level.LOW)) == [3]
        assert ids(store.filter_record("events", Event, event_id=uuid.UUID(int=2))) == [2]
        assert ids(store.filter_record("events", Event, at__gte=dt.datetime(2024, 2, 2, 8, 0, tzinfo=UTC))) == [2, 3]
        with pytest.raises(FilterError):
            store.filter_record("events", Event, ownerName="ada")

    def test_invalid_document_raises_record_error(self, store: KeyValueStore) -> None:
        store.upsert_record("events", "bad", {"eventId": "nope"})
        with pytest.raises(RecordError) as info:
            store.get_record("events", Event, "bad")
        assert info.value.schema == "events" and info.value.key == "bad" and "Event" in str(info.value)

    def test_frozen_struct_reloads_in_place(self, store: KeyValueStore) -> None:
        ev = event(1, "ada")
        store.save(ev)
        store.save(event(1, "ada", Level.HIGH))
        store.reload_record("events", ev)
        assert ev.level is Level.HIGH

    def test_keyless_struct_without_weakref_needs_a_key(self, store: KeyValueStore) -> None:
        item = Keyless(name="n")
        store.insert_record("items", "i", item)
        with pytest.raises(RecordError, match="weakref=True"):
            store.reload_record("items", item)
        store.reload_record("items", item, record_key="i")
        assert store.get_record("items", Keyless, "i") == item

    def test_unencodable_struct_is_refused_before_writing(self, store: KeyValueStore) -> None:
        with pytest.raises(SerializationError) as info:
            store.insert_record("holders", "h", Holder(thing=object()))
        assert info.value.schema == "holders" and info.value.key == "h"
        assert not store.exists("holders", "h")

    def test_fields_a_narrower_struct_does_not_declare_survive_a_save(self, store: KeyValueStore) -> None:
        full = event(1, "ada", Level.HIGH)
        store.save(full)
        key = str(full.event_id)
        view = store.get_record("events", EventView, key)
        view.owner_name = "Ada"
        store.save(view, "events")
        assert store.get_record("events", Event, key) == msgspec.structs.replace(full, owner_name="Ada")
        with pytest.raises(RecordError, match=r"does not declare \(at, level, place, tags\).*weakref=True"):
            store.get_record("events", EventViewNoWeakref, key)
