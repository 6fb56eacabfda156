"""Errors, codecs, keys, records and URLs: the small pieces under the store contract."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

import polykv
from polykv.codecs import JSONCodec, get_codec, register_codec
from polykv.errors import (
    BackendNotFoundError,
    FilterError,
    InvalidArgumentError,
    InvalidKeyError,
    KeyNotFoundError,
    PolyKVError,
    RecordExistsError,
    SerializationError,
    a_type_name,
)
from polykv.keys import MAX_KEY_LENGTH, validate_key, validate_schema_name
from polykv.records import build_record, compile_filter, record_state
from polykv.urls import redact_url


def test_errors_carry_context_and_pickle() -> None:
    err = RecordExistsError("exists", backend="memory", schema="users", key="1")
    assert str(err) == "exists [backend='memory', schema='users', key='1']"
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is RecordExistsError and (copy.backend, copy.schema, copy.key) == ("memory", "users", "1")
    assert issubclass(KeyNotFoundError, KeyError) and issubclass(BackendNotFoundError, KeyError)
    assert str(KeyNotFoundError("no such key", key="k")) == "no such key [key='k']"  # no KeyError quoting
    for cls in (KeyNotFoundError, BackendNotFoundError, RecordExistsError, SerializationError):
        assert issubclass(cls, PolyKVError)


@pytest.mark.parametrize("key", ["a", "ż", "k" * MAX_KEY_LENGTH, "with\x00nul"])
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize("key", ["", None, 3, b"x", "k" * (MAX_KEY_LENGTH + 1), "\ud800"])
def test_invalid_keys(key: Any) -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(key)


@pytest.mark.parametrize("name", ["users", "a", "A.b-c_9", "x" * 128])
def test_schema_names(name: str) -> None:
    assert validate_schema_name(name) == name


def test_json_codec_is_canonical_and_strict() -> None:
    codec = JSONCodec()
    assert codec.encode({"a": [1, "ż"]}) == '{"a":[1,"ż"]}'.encode()
    for bad in (float("nan"), {1: "int key"}, object(), {"s": {1, 2}}):
        with pytest.raises((TypeError, ValueError)):
            codec.encode(bad)


def test_pickle_is_never_the_default_and_unknown_codec_is_clear() -> None:
    from polykv.backends.memory import MemoryStore

    assert MemoryStore().codec.name == "json"
    with pytest.raises(InvalidArgumentError, match="unknown codec 'yaml'"):
        get_codec("yaml")


def test_register_codec() -> None:
    class Upper(JSONCodec):
        name = "upper-json"

    register_codec("upper-json", Upper)
    assert get_codec("upper-json").name == "upper-json"
    with pytest.raises(ValueError, match="already registered"):
        register_codec("json", Upper)


def test_redact_url() -> None:
    assert redact_url("redis://user:secret@host:6379/0") == "redis://user:***@host:6379/0"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"


@dataclasses.dataclass(frozen=True)
class Frozen:
    id: str
    n: int = 0
    computed: int = dataclasses.field(init=False, default=5)


def test_dataclass_records_keep_non_init_fields() -> None:
    state = record_state(Frozen("1", 2))
    assert state == {"id": "1", "n": 2, "computed": 5}
    state["computed"] = 9
    assert build_record(Frozen, state).computed == 9


def test_filter_terms_with_double_underscore_field_names() -> None:
    @dataclasses.dataclass
    class Odd:
        id: str
        a__b: int

    (cond,) = compile_filter(Odd, {"a__b": 1})
    assert (cond.field, cond.lookup) == ("a__b", "exact")
    with pytest.raises(FilterError, match="cannot compare with None"):
        compile_filter(Odd, {"a__b__gt": None})


def test_root_exports_are_complete_and_resolve() -> None:
    import polykv

    assert set(polykv.__all__) == set(polykv._EXPORTS) | {"default_registry", "open_store", "registry"}
    for name in polykv.__all__:
        assert getattr(polykv, name) is not None


def test_json_decode_many_matches_decode_one_by_one() -> None:
    """JSONCodec.decode_many reads a batch in C-level passes; whatever the neighbours, it gives what decoding
    each value alone gives, and raises where that would."""
    from hypothesis import given
    from hypothesis import strategies as st

    from polykv.codecs import JSONCodec

    codec = JSONCodec()
    fragments = st.sampled_from(
        [b"1", b"2", b".5", b"e5", b"[1", b"2]", b'"a', b'b"', b" 1", b"null", b"{}", b"\xc3\xa9"]
    )
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(), lambda inner: st.lists(inner, max_size=3)
    )

    def one_by_one(datas: list[bytes]) -> object:
        try:
            return [codec.decode(d) for d in datas]
        except Exception as exc:
            return type(exc)

    def batched(datas: list[bytes]) -> object:
        try:
            return codec.decode_many(datas)
        except Exception as exc:
            return type(exc)

    @given(st.lists(fragments | values.map(codec.encode), max_size=8))
    def check(datas: list[bytes]) -> None:
        assert batched(datas) == one_by_one(datas)

    check()


def test_messages_name_a_type_with_its_article() -> None:
    assert [a_type_name(v) for v in (1, "s", object(), [], {})] == ["an int", "a str", "an object", "a list", "a dict"]
    assert a_type_name(type("", (), {})()) == "a "  # no letter, no "an"
    store = polykv.connect("memory://")
    with pytest.raises(polykv.SerializationError, match="cannot encode an object"):
        store.set("k", object())


def test_the_bytes_codec_decodes_only_bytes_like_values() -> None:
    codec = get_codec("bytes")
    assert codec.decode(memoryview(b"ab")) == b"ab"
    for foreign in ("text", 42):
        with pytest.raises(TypeError, match="not bytes"):
            codec.decode(foreign)  # type: ignore[arg-type]
