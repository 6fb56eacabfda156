"""``PydanticRecordSuite``: pydantic v2 models work everywhere a record class does.

Subclass it beside ``StoreSuite`` with the same ``store`` fixture (a fresh, empty store). It imports
pydantic, so import it only where pydantic is installed (``pytest.importorskip("pydantic")`` first); the
rest of ``polykv.testing`` never imports it.

Covered: insert/update/upsert take model instances, stored as ``model_dump(mode="json")`` keyed by field
names (datetimes, UUIDs, enums, decimals, nested models); get/filter/iter return validated instances; a
stored document that no longer validates raises ``RecordError`` naming backend, schema and key; filter
terms name fields (not aliases) and take Python operands (a UUID, an enum member, a datetime);
``__schema_name__``, ``__record_key__`` and ``__indexes__`` work as on dataclasses; ``polykv.Record``
mixes in.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, computed_field, field_serializer

from ..errors import FilterError, RecordError, RecordExistsError, RecordNotFoundError, SerializationError
from ..records import Record, record_key_of
from ..store import KeyValueStore

__all__ = ["PydanticRecordSuite"]

UTC = dt.timezone.utc


class Plan(enum.Enum):
    FREE = "free"
    PRO = "pro"


class Address(BaseModel):
    city: str
    zip_code: str = Field(alias="zipCode")


class Account(BaseModel):
    """A model with a UUID key field, an alias, a datetime, an enum, a decimal, a nested model and an index."""

    __schema_name__: ClassVar[str] = "accounts"
    __record_key__: ClassVar[str] = "account_id"
    __indexes__: ClassVar[tuple[str, ...]] = ("email",)

    account_id: uuid.UUID
    email: str = Field(alias="eMail")
    created: dt.datetime
    plan: Plan = Plan.FREE
    balance: Decimal = Decimal("0")
    address: Address
    tags: set[str] = Field(default_factory=set)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]


class AccountView(BaseModel):
    """Two fields of ``Account`` (one by its alias): the others are kept beside it and written back."""

    account_id: uuid.UUID
    email: str = Field(alias="eMail")


class Strict(BaseModel):
    """Frozen, no extra fields, no key field: reload relies on the remembered key."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    count: int


class Member(Record, BaseModel):
    """A model that is also a ``polykv.Record``: save/reload/delete once bound."""

    __schema_name__: ClassVar[str] = "members"
    id: str
    name: str


def account(n: int, email: str, plan: Plan = Plan.FREE, city: str = "Paris") -> Account:
    return Account(
        account_id=uuid.UUID(int=n),
        eMail=email,
        created=dt.datetime(2024, 1, n, 12, 30, 15, 250000, tzinfo=UTC),
        plan=plan,
        balance=Decimal("10.25") * n,
        address=Address(city=city, zipCode=f"7500{n}"),
        tags={"a", "b"} if n % 2 else set(),
    )


class Credentials(BaseModel):
    """A secret, which JSON mode would write as '**********'."""

    __schema_name__: ClassVar[str] = "credentials"
    __record_key__: ClassVar[str] = "id"
    id: str
    password: SecretStr


class Vault(BaseModel):
    """A secret the model itself says how to store (a field_serializer)."""

    __schema_name__: ClassVar[str] = "vaults"
    __record_key__: ClassVar[str] = "id"
    id: str
    password: SecretStr

    @field_serializer("password")
    def _reveal(self, value: SecretStr) -> str:
        return value.get_secret_value()


class Blob(BaseModel):
    __schema_name__: ClassVar[str] = "blobs"
    __record_key__: ClassVar[str] = "id"
    id: str
    data: bytes


class PydanticRecordSuite:
    """Record-surface tests with pydantic models; subclass and provide a ``store`` fixture."""

    def test_insert_and_get_round_trip(self, store: KeyValueStore) -> None:
        acc = account(1, "ada@example.org", Plan.PRO)
        store.insert_record("accounts", str(acc.account_id), acc)
        loaded = store.get_record("accounts", Account, str(acc.account_id))
        assert isinstance(loaded, Account) and loaded == acc
        assert loaded.created == acc.created and loaded.created.tzinfo is not None
        assert isinstance(loaded.account_id, uuid.UUID) and loaded.plan is Plan.PRO
        assert isinstance(loaded.address, Address) and loaded.balance == Decimal("10.25")

    def test_document_is_json_mode_with_field_names(self, store: KeyValueStore) -> None:
        acc = account(3, "eve@example.org")
        store.insert_record("accounts", str(acc.account_id), acc)
        doc = store.get_record("accounts", dict, str(acc.account_id))
        assert doc["account_id"] == str(uuid.UUID(int=3))
        assert doc["email"] == "eve@example.org" and "eMail" not in doc
        assert doc["created"] == acc.created.isoformat().replace("+00:00", "Z")
        assert doc["plan"] == "free" and doc["balance"] == "30.75" and sorted(doc["tags"]) == ["a", "b"]
        assert doc["address"] == {"city": "Paris", "zip_code": "75003"}
        assert doc["domain"] == "example.org"  # computed fields are stored (and can be filtered on)

    def test_documents_keyed_by_alias_load(self, store: KeyValueStore) -> None:
        doc = account(1, "ada@example.org").model_dump(mode="json", by_alias=True)
        assert "eMail" in doc
        store.insert_record("accounts", "1", doc)
        assert store.get_record("accounts", Account, "1") == account(1, "ada@example.org")

    def test_update_and_upsert_take_models(self, store: KeyValueStore) -> None:
        acc = account(1, "ada@example.org")
        one, two = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
        store.upsert_record("accounts", one, acc)
        with pytest.raises(RecordExistsError):
            store.insert_record("accounts", one, acc)
        changed = acc.model_copy(update={"plan": Plan.PRO})
        store.update_record("accounts", one, changed)
        assert store.get_record("accounts", Account, one).plan is Plan.PRO
        store.upsert_record("accounts", one, acc)
        assert store.get_record("accounts", Account, one).plan is Plan.FREE
        with pytest.raises(RecordNotFoundError):
            store.update_record("accounts", two, account(2, "bob@example.org"))

    def test_schema_name_and_record_key(self, store: KeyValueStore) -> None:
        acc = account(5, "ada@example.org")
        assert record_key_of(acc) == str(uuid.UUID(int=5))
        store.save(acc)  # schema from __schema_name__, key from __record_key__ (a UUID field)
        assert list(store.record_keys("accounts")) == [str(uuid.UUID(int=5))]
        assert store.get_record("accounts", Account, str(uuid.UUID(int=5))) == acc

    def test_filter_on_indexed_and_typed_fields(self, store: KeyValueStore) -> None:
        for n, email, plan, city in [
            (1, "ada@example.org", Plan.PRO, "Paris"),
            (2, "bob@example.com", Plan.FREE, "Oslo"),
            (3, "eve@example.org", Plan.PRO, "Oslo"),
        ]:
            store.save(account(n, email, plan, city))

        def ids(found: list[Account]) -> list[int]:
            return sorted(a.account_id.int for a in found)

        assert ids(store.filter_record("accounts", Account, email="bob@example.com")) == [2]  # __indexes__
        assert ids(store.filter_record("accounts", Account, email__in=["ada@example.org", "x"])) == [1]
        assert ids(store.filter_record("accounts", Account, plan=Plan.PRO)) == [1, 3]
        assert ids(store.filter_record("accounts", Account, account_id=uuid.UUID(int=2))) == [2]
        assert ids(store.filter_record("accounts", Account, account_id__in={uuid.UUID(int=1), uuid.UUID(int=3)})) == [
            1,
            3,
        ]
        assert ids(
            store.filter_record("accounts", Account, created=dt.datetime(2024, 1, 2, 12, 30, 15, 250000, UTC))
        ) == [2]
        assert ids(store.filter_record("accounts", Account, domain="example.org", plan__ne=Plan.FREE)) == [1, 3]
        assert all(isinstance(a, Account) for a in store.filter_record("accounts", Account))

    def test_filter_terms_name_fields_not_aliases(self, store: KeyValueStore) -> None:
        store.save(account(1, "ada@example.org"))
        with pytest.raises(FilterError, match="eMail"):
            store.filter_record("accounts", Account, eMail="ada@example.org")
        assert len(store.filter_record("accounts", Account, email__startswith="ada")) == 1

    def test_invalid_document_raises_record_error(self, store: KeyValueStore) -> None:
        store.save(account(1, "ada@example.org"))
        store.upsert_record("accounts", "broken", {"account_id": "not-a-uuid", "email": "x@y"})
        with pytest.raises(RecordError) as info:
            store.get_record("accounts", Account, "broken")
        err = info.value
        assert err.schema == "accounts" and err.key == "broken" and err.backend == store.backend_name
        assert "Account" in str(err) and "account_id" in str(err) and "not-a-uuid" not in str(err)
        with pytest.raises(RecordError, match="broken"):
            store.filter_record("accounts", Account)
        with pytest.raises(RecordError, match="broken"):
            list(store.iter_records("accounts", Account))

    def test_reload_in_place_and_invalid_reload(self, store: KeyValueStore) -> None:
        strict = Strict(name="a", count=1)
        store.insert_record("strict", "s", strict)
        store.upsert_record("strict", "s", Strict(name="a", count=2))
        store.reload_record("strict", strict)  # frozen, keyless: the remembered key
        assert strict.count == 2
        store.upsert_record("strict", "s", {"name": "a", "count": "many"})
        with pytest.raises(RecordError) as info:
            store.reload_record("strict", strict)
        assert info.value.key == "s" and info.value.schema == "strict"
        assert strict == Strict(name="a", count=2)  # unchanged when the document does not validate

    def test_extra_forbid_model_with_computed_field_loads(self, store: KeyValueStore) -> None:
        class Box(BaseModel):
            model_config = ConfigDict(extra="forbid")
            w: int
            h: int

            @computed_field  # type: ignore[prop-decorator]
            @property
            def area(self) -> int:
                return self.w * self.h

        store.insert_record("boxes", "b", Box(w=2, h=3))
        assert store.get_record("boxes", dict, "b")["area"] == 6
        assert store.get_record("boxes", Box, "b") == Box(w=2, h=3)
        assert [b.w for b in store.filter_record("boxes", Box, area__gt=5)] == [2]

    def test_unserialisable_model_is_refused_before_writing(self, store: KeyValueStore) -> None:
        class Opaque:
            pass

        class Holder(BaseModel):
            model_config = ConfigDict(arbitrary_types_allowed=True)
            thing: Opaque

        with pytest.raises(SerializationError) as info:
            store.insert_record("holders", "h", Holder(thing=Opaque()))
        assert info.value.schema == "holders" and info.value.key == "h" and "Holder" in str(info.value)
        assert not store.exists("holders", "h")

    def test_record_mixin_save_reload_delete(self, store: KeyValueStore) -> None:
        member = Member(id="m1", name="Ada")
        store.save(member)
        loaded = store.get_record("members", Member, "m1")
        loaded.name = "Ada L."
        loaded.save()
        member.reload()
        assert member.name == "Ada L."
        member.delete()
        assert not store.exists("members", "m1")

    def test_secret_fields_are_refused_not_masked(self, store: KeyValueStore) -> None:
        """JSON mode writes a SecretStr as '**********': storing that would lose the value silently."""
        with pytest.raises(SerializationError, match="password") as info:
            store.insert_record("credentials", "c1", Credentials(id="c1", password=SecretStr("hunter2")))
        assert "hunter2" not in str(info.value)
        assert not store.exists("credentials", "c1")
        store.insert_record("vaults", "v1", Vault(id="v1", password=SecretStr("hunter2")))
        assert store.get_record("vaults", Vault, "v1").password.get_secret_value() == "hunter2"

    def test_bytes_that_json_mode_cannot_write_are_refused(self, store: KeyValueStore) -> None:
        with pytest.raises(SerializationError) as info:
            store.insert_record("blobs", "b1", Blob(id="b1", data=b"\xff\x00"))
        assert info.value.key == "b1"
        assert not store.exists("blobs", "b1")

    def test_fields_a_narrower_model_does_not_declare_survive_a_save(self, store: KeyValueStore) -> None:
        full = account(4, "dan@example.org", Plan.PRO)
        key = str(full.account_id)
        store.save(full)
        view = store.get_record("accounts", AccountView, key)
        view.email = "daniel@example.org"
        store.save(view, "accounts")
        assert store.get_record("accounts", Account, key) == full.model_copy(update={"email": "daniel@example.org"})
        doc = store.get_record("accounts", dict, key)
        assert "eMail" not in doc and doc["domain"] == "example.org"  # the new computed value, not the kept one
