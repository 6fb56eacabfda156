"""EncryptedStore: the conformance suite over memory and sqlite, key rotation, tampering, no key in any output."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import polykv
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.errors import InvalidArgumentError, InvalidURLError, NotSupportedError, SerializationError
from polykv.store import KeyValueStore
from polykv.testing import StoreSuite
from polykv.wrappers import CompressedStore, EncryptedStore, ReadOnlyStore, generate_key
from polykv.wrappers.compressed import MAGIC

KEY_A = generate_key()
KEY_B = generate_key()


class TestEncryptedOverMemoryConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return EncryptedStore(MemoryStore(), [KEY_A, KEY_B])


class TestEncryptedOverSQLiteConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return EncryptedStore(SQLiteStore(tmp_path / "e.db"), KEY_A, owns=True)


class TestEncryptedCompressedOverSQLiteConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        inner = CompressedStore(SQLiteStore(tmp_path / "ec.db"), min_size=0, owns=True)
        return EncryptedStore(inner, KEY_A, owns=True)


def test_values_and_records_are_stored_encrypted(inner: KeyValueStore) -> None:
    store = EncryptedStore(inner, KEY_A)
    store.set("card", {"number": "4111-1111"})
    store.insert_record("users", "u1", {"id": "u1", "ssn": "123-45"})
    for ns, key in (("", "card"), ("users", "u1")):
        raw = inner._get(ns, key)
        assert raw is not None and raw.startswith(b"gAAAAA")
        assert b"4111" not in raw and b"123-45" not in raw
    assert store["card"] == {"number": "4111-1111"}
    assert store.get_record("users", dict, "u1")["ssn"] == "123-45"
    assert store.filter_record("users", dict, ssn="123-45") == [{"id": "u1", "ssn": "123-45"}]


def test_rotation_new_writes_under_the_first_key_reads_under_any(inner: KeyValueStore) -> None:
    old = EncryptedStore(inner, KEY_A)
    old.set_many({"a": 1, "b": [2]})
    old.insert_record("users", "u1", {"id": "u1"})
    inner.codec = polykv.get_codec("json")  # a new process: the store with its own codec, then wrapped anew
    rotated = EncryptedStore(inner, [KEY_B, KEY_A])
    assert rotated.get_many(["a", "b"]) == {"a": 1, "b": [2]}
    rotated.set("c", 3)
    inner.codec = polykv.get_codec("json")
    with pytest.raises(SerializationError):  # "c" is under KEY_B only
        EncryptedStore(inner, KEY_A).get("c")
    inner.codec = polykv.get_codec("json")
    rotated = EncryptedStore(inner, [KEY_B, KEY_A])
    assert rotated.rotate() == 3
    assert rotated.rotate("users") == 1
    inner.codec = polykv.get_codec("json")
    only_new = EncryptedStore(inner, KEY_B)  # the old key dropped: everything still reads
    assert dict(only_new.fetch_by_prefix("")) == {"a": 1, "b": [2], "c": 3}
    assert only_new.get_record("users", dict, "u1") == {"id": "u1"}


def test_rotate_needs_compare_and_set() -> None:
    store = EncryptedStore(ReadOnlyStore(MemoryStore()), KEY_A)
    with pytest.raises(NotSupportedError) as info:
        store.rotate()
    assert info.value.capability == "compare_and_set"


@pytest.mark.parametrize("how", ["wrong-key", "tampered", "plain", "truncated"])
def test_a_value_that_does_not_decrypt_raises_naming_the_key(inner: KeyValueStore, how: str) -> None:
    store = EncryptedStore(inner, KEY_A)
    store.set("secret", "value")
    store.insert_record("users", "u1", {"id": "u1"})
    token = inner._get("", "secret")
    assert token is not None
    if how == "wrong-key":
        bad = EncryptedStore(MemoryStore(), KEY_B).codec.encode("value")
    elif how == "tampered":
        bad = token[:-6] + (b"AAAAAA" if token[-6:] != b"AAAAAA" else b"BBBBBB")
    elif how == "plain":
        bad = b'"value"'
    else:
        bad = token[:20]
    inner._set("", "secret", bad, None)
    inner._set("users", "u1", bad, None)
    for call in (
        lambda: store.get("secret"),
        lambda: store["secret"],
        lambda: store.get_many(["secret"]),
        lambda: dict(store.fetch_by_prefix("")),
        lambda: store.compare_and_set("secret", "value", "new"),
        lambda: store.incr("secret"),
        lambda: store.pop("secret"),
    ):
        with pytest.raises(SerializationError) as info:
            call()
        assert info.value.key == "secret"
        assert "does not decrypt" in str(info.value)
    with pytest.raises(SerializationError) as info:
        store.get_record("users", dict, "u1")
    assert (info.value.schema, info.value.key) == ("users", "u1")
    assert inner._get("", "secret") == bad  # nothing was overwritten


def test_incr_cas_add_on_encrypted_values(inner: KeyValueStore) -> None:
    store = EncryptedStore(inner, [KEY_A, KEY_B])
    assert store.incr("n", 5) == 5 and store.incr("n", -2) == 3
    assert inner._get("", "n") != b"3"
    assert store.add("x", {"v": 1}) and not store.add("x", 2)
    assert store.compare_and_set("x", {"v": 1}, {"v": 2}) and store["x"] == {"v": 2}
    assert not store.compare_and_set("x", {"v": 1}, {"v": 3})


def test_key_material_appears_in_no_repr_error_or_log(
    inner: KeyValueStore, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    store = EncryptedStore(inner, [KEY_A, KEY_B])
    store.set("k", 1)
    inner._set("", "k", b"garbage", None)
    texts = [repr(store), str(store), repr(store.codec), repr(inner), store.backend_name]
    with pytest.raises(SerializationError) as info:
        store.get("k")
    texts += [str(info.value), repr(info.value)]
    for bad_key in ("not-a-key", KEY_A[:-4], KEY_A[:-8] + "!!!!!!!=", b"\x00" * 32):
        with pytest.raises(InvalidArgumentError) as bad:
            EncryptedStore(MemoryStore(), [KEY_B, bad_key])
        assert "key #1" in str(bad.value) and bad.value.__cause__ is None
        texts += [str(bad.value), repr(bad.value)]
    with pytest.raises(TypeError):
        pickle.dumps(store)
    with pytest.raises(TypeError):
        pickle.dumps(store.codec)
    texts += [record.getMessage() for record in caplog.records]
    joined = "\n".join(texts)
    for key in (KEY_A, KEY_B):
        assert key not in joined and key[:12] not in joined
    assert "keys=2" in repr(store)


def test_keys_never_come_from_a_url() -> None:
    with pytest.raises(InvalidURLError, match="never come from a URL") as info:
        polykv.connect(f"encrypted:{KEY_A}+memory://")
    assert KEY_A not in str(info.value)


@pytest.mark.parametrize("keys", [[], [1], None])
def test_bad_keys_are_refused(keys: object) -> None:
    with pytest.raises(InvalidArgumentError):
        EncryptedStore(MemoryStore(), keys)  # type: ignore[arg-type]


def test_wrapping_twice_is_refused_and_order_matters() -> None:
    inner = MemoryStore()
    store = EncryptedStore(CompressedStore(inner, min_size=0), KEY_A)
    with pytest.raises(InvalidArgumentError, match="EncryptedCodec"):
        EncryptedStore(store, KEY_B)
    assert inner.codec.name == "fernet+zlib+json"  # compressed first, then encrypted
    store.set("big", "x" * 5000)
    assert len(inner._get("", "big") or b"") < 500
    assert not (inner._get("", "big") or b"").startswith(MAGIC)


def test_without_cryptography_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['cryptography'] = None; sys.modules['cryptography.fernet'] = None\n"
        "from polykv.errors import MissingDependencyError\n"
        "from polykv.wrappers import EncryptedStore\n"
        "from polykv.backends.memory import MemoryStore\n"
        "try:\n    EncryptedStore(MemoryStore(), 'k')\n"
        "except MissingDependencyError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "polykv-core[encryption]" in done.stdout
