"""``RecordBindingSuite``: a record remembers the schema and key it is stored under.

A record returned by ``get_record``/``filter_record``/``iter_records``, or passed to ``insert_record``/
``update_record``/``upsert_record``, can then be reloaded (``reload_record(schema, record)``), saved
(``store.save(record)``, ``Record.save()``) and deleted (``Record.delete()``) whether or not its class has
a key field. A key field, when present and set, wins; a record kind that cannot carry a binding (a plain
``dict``, ``__slots__`` without ``__weakref__``) raises ``RecordError`` saying what to do.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
from typing import Any

import pytest

from ..errors import RecordError
from ..records import Record, _bindings, record_binding, unknown_fields
from ..store import KeyValueStore

__all__ = ["RecordBindingSuite"]


@dataclasses.dataclass
class Keyless:
    """A plain dataclass with no key field."""

    name: str


@dataclasses.dataclass(frozen=True)
class FrozenKeyless:
    """A frozen dataclass with no key field."""

    name: str


@dataclasses.dataclass
class SlottedKeyless:
    """A ``__slots__`` dataclass that can be weakly referenced."""

    __slots__ = ("__weakref__", "name")
    name: str


@dataclasses.dataclass
class SlottedNoWeakref:
    """A ``__slots__`` dataclass without ``__weakref__``: it cannot remember its key."""

    __slots__ = ("name",)
    name: str


class StateKeyless:
    """A ``__getstate__``/``__setstate__`` record with no key attribute (state is ``vars``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getstate__(self) -> dict[str, Any]:
        return dict(vars(self))

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StateKeyless) and vars(self) == vars(other)


@dataclasses.dataclass
class KeylessRecord(Record):
    """A ``Record`` with a schema and no key field."""

    __schema_name__ = "keyless_records"
    name: str


@dataclasses.dataclass
class KeyedUser:
    """A dataclass with its key in ``id``."""

    id: str
    name: str


@dataclasses.dataclass
class WideUser:
    """The full record of a ``users`` schema: narrower classes read a part of it."""

    id: str
    name: str
    email: str
    visits: int


@dataclasses.dataclass
class NarrowUser:
    """A view of ``WideUser`` with two of its fields."""

    id: str
    name: str


@dataclasses.dataclass(frozen=True)
class FrozenNarrowUser:
    id: str
    name: str


@dataclasses.dataclass
class SlottedNarrowUser:
    __slots__ = ("__weakref__", "id", "name")
    id: str
    name: str


@dataclasses.dataclass
class SlottedNarrowNoWeakref:
    __slots__ = ("id", "name")
    id: str
    name: str


NARROW: list[Any] = [NarrowUser, FrozenNarrowUser, SlottedNarrowUser]


class Doc(dict[str, Any]):
    """A dict subclass: unlike a plain dict it can be weakly referenced, so it remembers its key."""


KINDS: list[Any] = [Keyless, FrozenKeyless, SlottedKeyless, StateKeyless, KeylessRecord, Doc]


def _make(kind: Any, name: str) -> Any:
    return kind({"name": name}) if kind is Doc else kind(name)


def _name(record: Any) -> str:
    return str(record["name"] if isinstance(record, dict) else record.name)


class RecordBindingSuite:
    """Records of every kind remember where they are stored."""

    @pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
    def test_loaded_record_reloads_and_saves(self, store: KeyValueStore, kind: Any) -> None:
        store.insert_record("users", "u1", _make(kind, "Ada"))
        store.insert_record("users", "u2", _make(kind, "Bob"))
        loaded = store.get_record("users", kind, "u1")
        store.update_record("users", "u1", _make(kind, "Ada Lovelace"))
        store.reload_record("users", loaded)
        assert _name(loaded) == "Ada Lovelace"
        changed = _make(kind, "Ada L.")
        store.update_record("users", "u1", changed)
        store.save(changed, "users")
        assert _name(store.get_record("users", kind, "u1")) == "Ada L."
        assert _name(store.get_record("users", kind, "u2")) == "Bob", "save touched only its own key"
        assert store.count("users") == 2

    @pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
    def test_filtered_and_iterated_records_remember_their_keys(self, store: KeyValueStore, kind: Any) -> None:
        for key, name in (("a", "Ann"), ("b", "Ben")):
            store.upsert_record("people", key, _make(kind, name))
        for record in store.filter_record("people", kind, name="Ben"):
            binding = record_binding(record)
            assert binding is not None and (binding.schema, binding.key) == ("people", "b")
        for key, record in store.iter_records("people", kind):
            binding = record_binding(record)
            assert binding is not None and (binding.store, binding.schema, binding.key) == (store, "people", key)
            store.update_record("people", key, _make(kind, "renamed"))
            store.reload_record("people", record)
            assert _name(record) == "renamed"

    @pytest.mark.parametrize("write", ["insert_record", "upsert_record"])
    def test_written_record_remembers_its_key(self, store: KeyValueStore, write: str) -> None:
        user = Keyless("Ada")
        getattr(store, write)("users", "u1", user)
        store.update_record("users", "u1", Keyless("Changed"))
        store.reload_record("users", user)
        assert user.name == "Changed"
        user.name = "Saved"
        store.save(user)  # schema and key both remembered
        assert store.get_record("users", Keyless, "u1") == Keyless("Saved")
        assert store.count("users") == 1

    def test_record_methods_without_a_key_field(self, store: KeyValueStore) -> None:
        store.insert_record("keyless_records", "k1", KeylessRecord("one"))
        loaded = store.get_record("keyless_records", KeylessRecord, "k1")
        loaded.name = "uno"
        loaded.save()
        assert store.get_record("keyless_records", KeylessRecord, "k1").name == "uno"
        store.update_record("keyless_records", "k1", KeylessRecord("eins"))
        loaded.reload()
        assert loaded.name == "eins"
        loaded.delete()
        assert not store.exists("keyless_records", "k1")

    def test_record_methods_use_the_schema_it_came_from(self, store: KeyValueStore) -> None:
        store.insert_record("archive", "k1", KeylessRecord("old"))
        loaded = store.get_record("archive", KeylessRecord, "k1")
        loaded.name = "kept in the archive"
        loaded.save()
        assert store.get_record("archive", KeylessRecord, "k1").name == "kept in the archive"
        assert store.count("keyless_records") == 0
        loaded.delete()
        assert not store.exists("archive", "k1")

    def test_key_field_wins_over_the_remembered_key(self, store: KeyValueStore) -> None:
        store.insert_record("users", "u1", KeyedUser("u1", "Ada"))
        user = store.get_record("users", KeyedUser, "u1")
        user.id = "u2"
        store.save(user, "users")  # written under the key field: u1 stays, u2 is new
        assert store.get_record("users", KeyedUser, "u1").name == "Ada"
        assert store.get_record("users", KeyedUser, "u2") == KeyedUser("u2", "Ada")
        binding = record_binding(user)
        assert binding is not None and binding.key == "u2"
        odd = store.get_record("users", KeyedUser, "u1")
        store.reload_record("users", odd, record_key="u2")  # an explicit key wins for a reload
        assert odd == KeyedUser("u2", "Ada")

    def test_a_record_stored_under_another_key_saves_back_there(self, store: KeyValueStore) -> None:
        # A record whose key field holds another value than the key it was stored under (an imported
        # document {"id": 7} under "r7") belongs under that key: save() and reload() go there, never to
        # the record its key field names; only a changed key field moves it.
        store.insert_record("users", "u1", KeyedUser("u1", "Ada"))
        store.insert_record("users", "odd", KeyedUser("u1", "stored under another key"))
        odd = store.get_record("users", KeyedUser, "odd")
        odd.name = "still odd"
        store.save(odd, "users")
        assert store.get_record("users", KeyedUser, "u1") == KeyedUser("u1", "Ada"), "u1 was not written over"
        assert store.get_record("users", KeyedUser, "odd").name == "still odd"
        store.reload_record("users", odd)
        assert odd.name == "still odd"
        written = KeyedUser("u1", "upserted under u9")
        store.upsert_record("users", "u9", written)
        store.save(written, "users")
        assert store.count("users") == 3 and store.get_record("users", KeyedUser, "u1").name == "Ada"
        odd.id = "u3"  # a changed key field moves the record, as documented
        store.save(odd, "users")
        assert store.get_record("users", KeyedUser, "u3").name == "still odd" and store.exists("users", "odd")

    @pytest.mark.parametrize("kind", NARROW, ids=[k.__name__ for k in NARROW])
    def test_fields_a_narrower_class_does_not_declare_survive_its_writes(self, store: KeyValueStore, kind: Any) -> None:
        # A record read through a class with fewer fields keeps the others beside it: saving, updating or
        # upserting it writes them back instead of dropping them.
        store.insert_record("users", "u1", WideUser("u1", "Ada", "ada@example.org", 3))
        store.insert_record("users", "u2", WideUser("u2", "Bob", "bob@example.org", 5))
        narrow = store.get_record("users", kind, "u1")
        assert unknown_fields(narrow) == {"email": "ada@example.org", "visits": 3}
        store.save(narrow, "users")
        if kind is not FrozenNarrowUser:
            narrow.name = "Ada L."
            store.update_record("users", "u1", narrow)
        assert store.get_record("users", WideUser, "u1").email == "ada@example.org"
        (bob,) = store.filter_record("users", kind, name="Bob")
        store.upsert_record("users", "u2", bob)
        _, listed = next(iter(store.iter_records("users", kind)))
        store.save(listed)
        assert {key: user.visits for key, user in store.iter_records("users", WideUser)} == {"u1": 3, "u2": 5}
        store.update_record("users", "u1", WideUser("u1", "Ada", "new@example.org", 4))
        store.reload_record("users", narrow)  # a reload replaces what was kept
        assert unknown_fields(narrow) == {"email": "new@example.org", "visits": 4}
        store.upsert_record("users", "u1", {"id": "u1", "name": "Ada"})
        store.reload_record("users", narrow)
        assert unknown_fields(narrow) == {}

    def test_a_narrower_class_that_cannot_carry_the_other_fields_is_refused(self, store: KeyValueStore) -> None:
        store.insert_record("users", "u1", WideUser("u1", "Ada", "ada@example.org", 3))
        with pytest.raises(RecordError, match=r"does not declare \(email, visits\).*__weakref__") as caught:
            store.get_record("users", SlottedNarrowNoWeakref, "u1")
        assert (caught.value.schema, caught.value.key) == ("users", "u1")
        with pytest.raises(RecordError, match="does not declare"):
            store.filter_record("users", SlottedNarrowNoWeakref, name="Ada")
        store.insert_record("users", "u2", SlottedNarrowNoWeakref("u2", "Bob"))  # no other fields: fine
        assert store.get_record("users", SlottedNarrowNoWeakref, "u2") == SlottedNarrowNoWeakref("u2", "Bob")
        assert store.get_record("users", WideUser, "u1").visits == 3

    def test_explicit_record_key_for_reload(self, store: KeyValueStore) -> None:
        store.insert_record("docs", "d1", {"body": "x"})
        fresh: dict[str, Any] = {}
        store.reload_record("docs", fresh, record_key="d1")
        assert fresh == {"body": "x"}

    def test_records_that_cannot_remember_raise_a_clear_error(self, store: KeyValueStore) -> None:
        store.insert_record("docs", "d1", {"body": "x"})
        plain = store.get_record("docs", dict, "d1")
        with pytest.raises(RecordError, match=r"plain dict.*record_key="):
            store.reload_record("docs", plain)
        with pytest.raises(RecordError, match="plain dict"):
            store.save(plain, "docs")
        store.insert_record("slots", "s1", SlottedNoWeakref("x"))
        slotted = store.get_record("slots", SlottedNoWeakref, "s1")
        with pytest.raises(RecordError, match="__weakref__"):
            store.reload_record("slots", slotted)
        with pytest.raises(RecordError, match="never loaded"):
            store.reload_record("docs", Keyless("never stored"))
        assert store.get_record("docs", dict, "d1") == {"body": "x"}, "nothing was written"

    def test_binding_leaves_the_record_itself_alone(self, store: KeyValueStore) -> None:
        store.insert_record("users", "u1", StateKeyless("Ada"))
        loaded = store.get_record("users", StateKeyless, "u1")
        assert vars(loaded) == {"name": "Ada"}
        assert pickle.loads(pickle.dumps(loaded)) == loaded  # noqa: S301  # our own bytes
        duplicate = copy.deepcopy(loaded)
        assert duplicate == loaded and record_binding(duplicate) is None
        store.save(loaded)  # its __getstate__ returns vars(): no binding in the stored state
        assert store.get_record("users", dict, "u1") == {"name": "Ada"}

    def test_binding_is_dropped_with_the_record(self, store: KeyValueStore) -> None:
        store.insert_record("users", "u1", Keyless("Ada"))
        record = store.get_record("users", Keyless, "u1")
        ident = id(record)
        assert ident in _bindings
        del record
        gc.collect()
        assert ident not in _bindings, "a binding must not outlive its record (its id may be reused)"
