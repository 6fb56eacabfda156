"""Key to file-name encoding: injective, case-safe, no escape from the folder, prefix-preserving."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polykv_fsspec import FsspecStore
from polykv_fsspec.naming import (
    MAX_PLAIN_NAME,
    decode_name,
    encode_key,
    file_name,
    is_hashed,
    may_match,
    pack_long,
    unpack_long,
)

from polykv.keys import MAX_KEY_LENGTH

# valid keys: non-empty, no lone surrogates, at most MAX_KEY_LENGTH characters
keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=MAX_KEY_LENGTH)
short_keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)

TRAVERSAL = [
    "..",
    ".",
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "a/../../b",
    "..\\..\\windows",
    "\\",
    "/",
    "//",
    "a\x00b",
    "\x00",
    "~",
    "~root",
    "CON",
    "nul",
    "a:b",
    ".hidden",
    "%2e%2e",
    "%2F",
    "a/",
    " ",
    "\n",
    "é" * 300,
    "x" * MAX_KEY_LENGTH,
    "\U0001f600" * MAX_KEY_LENGTH,
]


def _check_name(name: str) -> None:
    assert 0 < len(name.encode()) <= 255
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in (".", "..") and not name.startswith(".")
    assert name == name.lower()  # case-insensitive file systems cannot fold two names together


@given(keys)
@settings(max_examples=300)
def test_names_are_safe_and_decode(key: str) -> None:
    name = file_name(key)
    _check_name(name)
    if not is_hashed(name):
        assert decode_name(name) == key
    else:
        assert len(encode_key(key)) > MAX_PLAIN_NAME
        assert unpack_long(pack_long(key, b"v")) == (key, b"v")


@given(keys, keys)
@settings(max_examples=300)
def test_names_are_injective(a: str, b: str) -> None:
    if a != b:
        assert file_name(a) != file_name(b)
        assert file_name(a).lower() != file_name(b).lower()


@given(short_keys)
def test_case_variants_never_collide(key: str) -> None:
    variants = {key, key.lower(), key.upper(), key.swapcase()}
    names = {file_name(v) for v in variants}
    assert len(names) == len(variants)


@given(short_keys, short_keys)
def test_prefix_preserved(key: str, prefix: str) -> None:
    assert encode_key(key).startswith(encode_key(prefix)) == key.startswith(prefix)
    assert may_match(file_name(key), encode_key(prefix)) or not key.startswith(prefix)


@pytest.mark.parametrize("key", TRAVERSAL, ids=range(len(TRAVERSAL)))
def test_traversal_keys_stay_inside(tmp_path: Path, key: str) -> None:
    _check_name(file_name(key))
    base = tmp_path / "base"
    with FsspecStore(f"file://{base}") as store:
        store[key] = {"k": key}
        store.upsert_record("users", key, {"k": key})
        assert store[key] == {"k": key}
        assert list(store.keys()) == [key]
        assert list(store.record_keys("users")) == [key]
    assert os.listdir(tmp_path) == ["base"]
    for root, _dirs, files in os.walk(base):
        for name in files:
            assert (Path(root) / name).resolve().is_relative_to(base.resolve())
    assert sorted(os.listdir(base)) == ["_kv", "users"]
    assert len(os.listdir(base / "_kv")) == 1


def test_long_keys_share_prefix_scan(tmp_path: Path) -> None:
    long_a, long_b = "p/" + "a" * 1000, "p/" + "a" * 999 + "b"
    with FsspecStore(f"file://{tmp_path}") as store:
        store.set_many({long_a: 1, long_b: 2, "p/short": 3, "q": 4})
        assert sorted(store.keys_by_prefix("p/")) == sorted([long_a, long_b, "p/short"])
        assert sorted(store.keys_by_prefix("p/" + "a" * 999)) == sorted([long_a, long_b])
        assert list(store.keys_by_prefix("p/" + "a" * 1000)) == [long_a]
        assert store.get_many([long_a, long_b, "missing"]) == {long_a: 1, long_b: 2}
        assert store.delete(long_a) and not store.delete(long_a)


def test_layout_is_documented_form(tmp_path: Path) -> None:
    with FsspecStore(f"file://{tmp_path}") as store:
        store["user:1"] = {"a": 1}
        store.upsert_record("users", "Alice", {"name": "Alice"})
    assert (tmp_path / "_kv" / "user_3a1").read_bytes() == b'{"a":1}'
    assert (tmp_path / "users" / "_41lice").read_bytes() == b'{"name":"Alice"}'
